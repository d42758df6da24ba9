//! Pushing OCI layouts to a registry with skopeo.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::RegistryError;

/// Where and how to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Whether the registry serves HTTPS.
    pub tls: bool,
    /// With TLS: a directory with the CA as `ca.crt` (skopeo's `--dest-cert-dir`).
    pub cert_dir: Option<PathBuf>,
    /// Credentials (`--dest-creds`); `None` pushes anonymously.
    pub creds: Option<(String, String)>,
}

/// `skopeo copy --all --preserve-digests oci:LAYOUT:TAG docker://HOST/DEST` (DEST is `repo:tag`,
/// or `repo` to keep the layout's tag).
pub fn push_layout(
    target: &PushTarget,
    layout: &Path,
    tag_in_layout: &str,
    dest_repo_tag: &str,
) -> Result<(), RegistryError> {
    let dest = if dest_repo_tag
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        dest_repo_tag.to_string()
    } else {
        format!("{dest_repo_tag}:{tag_in_layout}")
    };
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--all",
        "--preserve-digests",
        "--retry-times",
        "2",
    ]);
    match (&target.tls, &target.cert_dir) {
        (true, Some(dir)) => {
            cmd.arg("--dest-cert-dir").arg(dir);
        }
        (true, None) => {
            cmd.arg("--dest-tls-verify=false");
        }
        (false, _) => {
            cmd.arg("--dest-tls-verify=false");
        }
    }
    let mut secrets: Vec<&str> = Vec::new();
    match &target.creds {
        Some((u, p)) => {
            cmd.arg("--dest-creds").arg(format!("{u}:{p}"));
            secrets.push(p);
        }
        None => {
            cmd.arg("--dest-no-creds");
        }
    }
    cmd.arg(format!("oci:{}:{tag_in_layout}", layout.display()));
    cmd.arg(format!("docker://{}/{dest}", target.host));
    let out = cmd.output().map_err(|e| RegistryError::Spawn {
        program: "skopeo".into(),
        source: e,
    })?;
    if !out.status.success() {
        return Err(RegistryError::Command {
            program: format!(
                "skopeo copy oci:{}:{tag_in_layout} docker://{}/{dest}",
                layout.display(),
                target.host
            ),
            status: out.status.to_string(),
            stderr: redact(String::from_utf8_lossy(&out.stderr).trim(), &secrets),
        });
    }
    Ok(())
}

/// Replaces every occurrence of each non-empty secret with `<redacted>`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s, "<redacted>"))
}

impl PushTarget {
    /// The target described by an env file written by `pullsim-testreg serve` (`REGISTRY`,
    /// `REGISTRY_URL`, `REGISTRY_CERT_DIR`, `REGISTRY_PUSH_USER`, `REGISTRY_PUSH_PASS`).
    pub fn from_env_file(path: &Path) -> Result<Self, RegistryError> {
        let vars = read_env_file(path)?;
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let host = get("REGISTRY").ok_or_else(|| RegistryError::EnvFile {
            path: path.to_path_buf(),
            reason: "no REGISTRY= line".into(),
        })?;
        let tls = get("REGISTRY_URL").is_some_and(|u| u.starts_with("https://"));
        let creds = match (get("REGISTRY_PUSH_USER"), get("REGISTRY_PUSH_PASS")) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        };
        Ok(PushTarget {
            host,
            tls,
            cert_dir: get("REGISTRY_CERT_DIR").map(PathBuf::from),
            creds,
        })
    }
}

/// Reads `KEY=VALUE` lines (values optionally single-quoted, as `pullsim-testreg serve` writes them).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|e| RegistryError::Io {
        what: "reading env file",
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(RegistryError::EnvFile {
                path: path.to_path_buf(),
                reason: format!("line {}: no '='", n + 1),
            });
        };
        let v = match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Some(inner) => inner.replace("'\\''", "'"),
            None => v.to_string(),
        };
        vars.push((k.to_string(), v));
    }
    Ok(vars)
}
