//! Finding the host directory and reading it (`core/remotes/docker/config/hosts.go@v2.3.4`
//! `HostDirFromRoot`, `hostDirectory`, `loadHostDir`, `loadCertFiles`; `config_unix.go`
//! `hostPaths`; `internal/cri/server/images/image_pull.go@v2.3.4` `hostDirFromRoots`).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::HostsDirError;
use super::parse::{HostConfig, parse_hosts_file};
use super::types::{Capability, ConfigPathMode};

/// `hostDirectory`: the last `:` becomes `_` and a `_` is appended (`host:5000` →
/// `host_5000_`); unchanged without a `:` past the first byte.
pub fn host_directory(host: &str) -> String {
    match host.rfind(':') {
        Some(idx) if idx > 0 => format!("{}_{}_", &host[..idx], &host[idx + 1..]),
        _ => host.to_string(),
    }
}

/// The roots of a `config_path` value: `filepath.SplitList` (`""` → none) or the whole string.
pub fn config_roots(config_path: &str, mode: ConfigPathMode) -> Vec<String> {
    if config_path.is_empty() {
        return Vec::new();
    }
    match mode {
        ConfigPathMode::SplitRoots => config_path.split(':').map(str::to_string).collect(),
        ConfigPathMode::WholeString => vec![config_path.to_string()],
    }
}

/// `hostPaths`: the directories tried under one root, in order.
pub fn host_paths(root: &str, host: &str) -> Vec<PathBuf> {
    let mut paths = Vec::with_capacity(3);
    let ch = host_directory(host);
    if ch != host {
        paths.push(Path::new(root).join(ch));
    }
    paths.push(Path::new(root).join(host));
    paths.push(Path::new(root).join("_default"));
    paths
}

/// `hostDirFromRoots` / `HostDirFromRoot`: the first path that exists, root by root; a `stat`
/// error other than "does not exist" stops the search and fails the resolve.
pub fn try_find_host_dir(
    config_path: &str,
    mode: ConfigPathMode,
    registry_host: &str,
) -> Result<Option<PathBuf>, HostsDirError> {
    for root in config_roots(config_path, mode) {
        for path in host_paths(&root, registry_host) {
            match std::fs::metadata(&path) {
                Ok(_) => return Ok(Some(path)),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(HostsDirError::Io {
                        what: "stat",
                        path,
                        source,
                    });
                }
            }
        }
    }
    Ok(None)
}

/// The contents of the host directory, before defaults: the hosts.toml entries, or the
/// certificate-file entry; a hosts.toml that did not decode is the log line containerd writes.
pub(crate) struct DirHosts {
    pub(crate) hosts: Vec<HostConfig>,
    pub(crate) decode_warning: Option<String>,
}

/// `loadHostDir`: hosts.toml when present and non-empty and decodable, else the
/// Docker-style certificate files.
pub(crate) fn load_host_dir(
    dir: &Path,
    host_root: Option<&Path>,
) -> Result<DirHosts, HostsDirError> {
    let file = dir.join("hosts.toml");
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(HostsDirError::Io {
                what: "open",
                path: file,
                source,
            });
        }
    };
    if bytes.is_empty() {
        return Ok(DirHosts {
            hosts: load_cert_files(dir)?,
            decode_warning: None,
        });
    }
    let parsed = match String::from_utf8(bytes) {
        Ok(text) => parse_hosts_file(dir, &text, host_root).map_err(|e| e.to_string()),
        Err(e) => Err(format!(
            "invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        )),
    };
    match parsed {
        Ok(hosts) => Ok(DirHosts {
            hosts,
            decode_warning: None,
        }),
        Err(error) => Ok(DirHosts {
            hosts: load_cert_files(dir)?,
            decode_warning: Some(super::log::logrus_line(
                "error",
                &format!("failed to decode {}", file.display()),
                &[("error", &error)],
            )),
        }),
    }
}

/// `loadCertFiles`: one entry (the root one, no host) with `*.crt` as CAs and `*.cert` (+ the
/// same-name `*.key` when it exists) as client pairs, in directory (name) order.
fn load_cert_files(dir: &Path) -> Result<Vec<HostConfig>, HostsDirError> {
    let mut entry = HostConfig {
        capabilities: Capability::ALL.to_vec(),
        ..HostConfig::default()
    };
    let read = match std::fs::read_dir(dir) {
        Ok(r) => Some(r),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(source) => {
            return Err(HostsDirError::Io {
                what: "readdir",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut names = Vec::new();
    for item in read.into_iter().flatten() {
        let item = item.map_err(|source| HostsDirError::Io {
            what: "readdir",
            path: dir.to_path_buf(),
            source,
        })?;
        let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir {
            names.push(item.file_name().to_string_lossy().into_owned());
        }
    }
    // os.ReadDir returns entries sorted by file name.
    names.sort();
    for name in names {
        if name.ends_with(".crt") {
            entry.ca.get_or_insert_with(Vec::new).push(dir.join(&name));
        }
        if let Some(stem) = name.strip_suffix(".cert") {
            let key = dir.join(format!("{stem}.key"));
            let key = match std::fs::metadata(&key) {
                Ok(_) => Some(key),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(HostsDirError::Io {
                        what: "stat",
                        path: key,
                        source,
                    });
                }
            };
            entry
                .client
                .get_or_insert_with(Vec::new)
                .push((dir.join(&name), key));
        }
    }
    Ok(vec![entry])
}
