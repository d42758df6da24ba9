//! Paths of a node whose filesystem is mounted elsewhere (`pullsim node check --host-root`).

use std::path::PathBuf;

/// `path` as the node names it, read under `host_root` (`/etc/containerd/certs.d` →
/// `/host/etc/containerd/certs.d`); relative paths and `None` unchanged.
pub fn on_host(host_root: Option<&std::path::Path>, path: &std::path::Path) -> PathBuf {
    match host_root {
        Some(root) if path.is_absolute() => root.join(path.strip_prefix("/").unwrap_or(path)),
        _ => path.to_path_buf(),
    }
}
