//! Node-level docker credentials, as pkg/credentialprovider/config.go finds them.
//!
//! `ReadDockerConfigFile`: first `config.json` (`{"auths":{...}}`) in the preferred path (the
//! kubelet's root directory), the working directory, `$HOME/.docker`, `/.docker`; only when
//! none is found and valid, the legacy `.dockercfg` (bare map) in the preferred path, the
//! working directory, `$HOME`, `/`. A file that is missing or does not parse is skipped (the
//! kubelet logs it at V(4)) and the search goes on.

use std::path::{Path, PathBuf};

use crate::auth::{self, DockerConfig};
use crate::error::CredentialsError;
use crate::manifest::json_error_text;

/// The directories searched (config.go `DefaultDockerConfigJSONPaths` / `DefaultDockercfgPaths`).
#[derive(Debug, Clone)]
pub struct SearchDirs {
    /// The preferred path (the kubelet root dir); `None` = Go's "" (the working directory).
    pub preferred: Option<PathBuf>,
    /// The working directory.
    pub working_dir: PathBuf,
    /// `$HOME` (`os.UserHomeDir`); `None` when unset.
    pub home: Option<PathBuf>,
    /// The filesystem root (`/`; settable for tests).
    pub root: PathBuf,
}

impl SearchDirs {
    /// The process's own directories, with `preferred` as the kubelet root dir.
    pub fn from_env(preferred: Option<&Path>) -> Self {
        SearchDirs {
            preferred: preferred.map(Path::to_path_buf),
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            root: PathBuf::from("/"),
        }
    }

    fn abs(&self, dir: Option<&Path>, file: &str) -> PathBuf {
        match dir {
            Some(d) if d.is_absolute() => d.join(file),
            Some(d) => self.working_dir.join(d).join(file),
            None => self.working_dir.join(file),
        }
    }

    /// The `config.json` candidates, in order.
    pub fn config_json_paths(&self) -> Vec<PathBuf> {
        vec![
            self.abs(self.preferred.as_deref(), "config.json"),
            self.abs(None, "config.json"),
            self.abs(
                Some(&self.home.clone().unwrap_or_default().join(".docker")),
                "config.json",
            ),
            self.abs(Some(&self.root.join(".docker")), "config.json"),
        ]
    }

    /// The `.dockercfg` candidates, in order.
    pub fn dockercfg_paths(&self) -> Vec<PathBuf> {
        vec![
            self.abs(self.preferred.as_deref(), ".dockercfg"),
            self.abs(None, ".dockercfg"),
            self.abs(self.home.as_deref(), ".dockercfg"),
            self.abs(Some(&self.root), ".dockercfg"),
        ]
    }
}

/// What happened at one candidate path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum Checked {
    /// No such file.
    Missing,
    /// Present but unreadable or invalid (skipped, as the kubelet does).
    Invalid(String),
    /// Used.
    Found,
}

/// The result of a node search.
#[derive(Debug, Clone, Default)]
pub struct NodeSearch {
    /// The file used and its entries.
    pub found: Option<(PathBuf, DockerConfig)>,
    /// Every candidate looked at, in order.
    pub checked: Vec<(PathBuf, Checked)>,
}

/// Parse `config.json` bytes (`readDockerConfigJSONFileFromBytes`).
pub fn parse_config_json_bytes(
    bytes: &[u8],
    path: &Path,
) -> Result<DockerConfig, CredentialsError> {
    parse_config_json_with_helpers(bytes, path).map(|(cfg, _)| cfg)
}

/// [`parse_config_json_bytes`], and the credential helpers the file names (which the kubelet
/// ignores: [`auth::credential_helpers`]).
fn parse_config_json_with_helpers(
    bytes: &[u8],
    path: &Path,
) -> Result<(DockerConfig, Vec<String>), CredentialsError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| CredentialsError::Syntax {
            path: path.to_path_buf(),
            document: None,
            message: format!("invalid JSON: {}", json_error_text(&e)),
        })?;
    let cfg = auth::parse_config_json_value(&value).map_err(|e| CredentialsError::Field {
        path: path.to_path_buf(),
        document: None,
        field: e.field,
        message: e.message,
    })?;
    Ok((cfg, auth::credential_helpers(&value)))
}

/// Parse `.dockercfg` bytes (`ReadDockerConfigFileFromBytes`).
pub fn parse_dockercfg_bytes(bytes: &[u8], path: &Path) -> Result<DockerConfig, CredentialsError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| CredentialsError::Syntax {
            path: path.to_path_buf(),
            document: None,
            message: format!("invalid JSON: {}", json_error_text(&e)),
        })?;
    auth::parse_dockercfg_value(&value, "").map_err(|e| CredentialsError::Field {
        path: path.to_path_buf(),
        document: None,
        field: e.field,
        message: e.message,
    })
}

/// Read a node config by path: `.dockercfg` format when the file name ends in `.dockercfg`,
/// else `config.json` format.
pub fn read_node_config(path: &Path) -> Result<DockerConfig, CredentialsError> {
    read_node_config_with_helpers(path).map(|(cfg, _)| cfg)
}

/// [`read_node_config`], and the credential helpers a `config.json` names.
pub fn read_node_config_with_helpers(
    path: &Path,
) -> Result<(DockerConfig, Vec<String>), CredentialsError> {
    let bytes = std::fs::read(path).map_err(|error| CredentialsError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_node_config_with_helpers(&bytes, path)
}

/// A node config already read (`--node-config -`): `.dockercfg` format when `origin`'s file
/// name ends in `.dockercfg`, else `config.json` format; with the credential helpers it names.
pub fn parse_node_config_with_helpers(
    bytes: &[u8],
    origin: &Path,
) -> Result<(DockerConfig, Vec<String>), CredentialsError> {
    let is_dockercfg = origin
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".dockercfg"));
    if is_dockercfg {
        parse_dockercfg_bytes(bytes, origin).map(|cfg| (cfg, Vec::new()))
    } else {
        parse_config_json_with_helpers(bytes, origin)
    }
}

type ParseFn = fn(&[u8], &Path) -> Result<DockerConfig, CredentialsError>;

/// config.go `ReadDockerConfigFile`: the first valid `config.json`, else the first valid
/// `.dockercfg`.
pub fn search_node_config(dirs: &SearchDirs) -> NodeSearch {
    let mut search = NodeSearch::default();
    let phases: [(Vec<PathBuf>, ParseFn); 2] = [
        (dirs.config_json_paths(), parse_config_json_bytes),
        (dirs.dockercfg_paths(), parse_dockercfg_bytes),
    ];
    for (paths, parse) in phases {
        for path in paths {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    search.checked.push((path, Checked::Missing));
                    continue;
                }
                Err(e) => {
                    search.checked.push((path, Checked::Invalid(e.to_string())));
                    continue;
                }
            };
            match parse(&bytes, &path) {
                Ok(cfg) => {
                    search.checked.push((path.clone(), Checked::Found));
                    search.found = Some((path, cfg));
                    return search;
                }
                Err(e) => search.checked.push((path, Checked::Invalid(e.to_string()))),
            }
        }
    }
    search
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(base: &Path) -> SearchDirs {
        SearchDirs {
            preferred: Some(base.join("kubelet")),
            working_dir: base.join("cwd"),
            home: Some(base.join("home")),
            root: base.join("root"),
        }
    }

    // pkg/credentialprovider/config.go DefaultDockerConfigJSONPaths / DefaultDockercfgPaths.
    #[test]
    fn search_order() {
        let d = dirs(Path::new("/x"));
        let want: Vec<PathBuf> = [
            "/x/kubelet/config.json",
            "/x/cwd/config.json",
            "/x/home/.docker/config.json",
            "/x/root/.docker/config.json",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(d.config_json_paths(), want);
        let want: Vec<PathBuf> = [
            "/x/kubelet/.dockercfg",
            "/x/cwd/.dockercfg",
            "/x/home/.dockercfg",
            "/x/root/.dockercfg",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(d.dockercfg_paths(), want);
    }

    #[test]
    fn config_json_wins_over_dockercfg_and_invalid_files_are_skipped() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(t.path());
        for sub in ["kubelet", "cwd", "home/.docker", "root/.docker", "home"] {
            std::fs::create_dir_all(t.path().join(sub)).unwrap();
        }
        std::fs::write(t.path().join("kubelet/config.json"), "not json").unwrap();
        std::fs::write(
            t.path().join("home/.dockercfg"),
            r#"{"old.io":{"auth":"dTpw"}}"#,
        )
        .unwrap();
        std::fs::write(
            t.path().join("home/.docker/config.json"),
            r#"{"auths":{"new.io":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let s = search_node_config(&d);
        let (path, cfg) = s.found.unwrap();
        assert_eq!(path, t.path().join("home/.docker/config.json"));
        assert_eq!(cfg[0].0, "new.io");
        assert!(matches!(s.checked[0].1, Checked::Invalid(_)));
        assert_eq!(s.checked[1].1, Checked::Missing);

        std::fs::remove_file(t.path().join("home/.docker/config.json")).unwrap();
        let s = search_node_config(&d);
        let (path, cfg) = s.found.unwrap();
        assert_eq!(path, t.path().join("home/.dockercfg"));
        assert_eq!(cfg[0].0, "old.io");
    }
}
