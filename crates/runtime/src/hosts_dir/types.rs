//! The host list containerd builds for a registry (`docker.RegistryHost` as
//! `core/remotes/docker/config/hosts.go@v2.3.4` `ConfigureHosts` fills it), as plain data.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What a host may be used for (`docker.HostCapabilities`). Omitted in hosts.toml = all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// `pull`: fetch manifests and blobs by digest.
    Pull,
    /// `resolve`: resolve a tag to a digest.
    Resolve,
    /// `push`.
    Push,
    /// `referrers` (added in containerd 2.0).
    Referrers,
}

impl Capability {
    /// All capabilities, in containerd's bit order (pull, resolve, push, referrers).
    pub const ALL: [Capability; 4] = [
        Capability::Pull,
        Capability::Resolve,
        Capability::Push,
        Capability::Referrers,
    ];

    /// containerd's name of the capability (`parseHostConfig` accepts it case-insensitively).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Pull => "pull",
            Capability::Resolve => "resolve",
            Capability::Push => "push",
            Capability::Referrers => "referrers",
        }
    }

    /// `parseHostConfig`'s case-insensitive match; `None` for anything else.
    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == name.to_lowercase())
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registry host containerd tries, in the order it tries them.
///
/// The values are the `docker.RegistryHost` fields after `ConfigureHosts`: in particular an
/// `http://` host with TLS settings and a port other than 80 has `scheme == "https"` and
/// [`HostEntry::http_fallback`] set (containerd tries HTTPS and retries as HTTP on a TLS error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// The API root: `/v2` appended unless `override_path`.
    pub path: String,
    /// Capabilities, in [`Capability::ALL`] order, no duplicates.
    pub capabilities: Vec<Capability>,
    /// CA files (absolute; relative paths are joined to the host directory).
    pub ca: Vec<PathBuf>,
    /// Client certificate and key files; `None` = the key is in the certificate file.
    pub client: Vec<(PathBuf, Option<PathBuf>)>,
    /// `skip_verify`, when set (also set to `true` for the default localhost entry).
    pub skip_verify: Option<bool>,
    /// Extra request headers (name as written, one pair per value).
    pub header: Vec<(String, String)>,
    /// `override_path`.
    pub override_path: bool,
    /// `dial_timeout` (containerd's default is 30 s when unset).
    pub dial_timeout: Option<Duration>,
    /// HTTPS first, then HTTP on a TLS error (`docker.NewHTTPFallback`).
    pub http_fallback: bool,
    /// The root/`server` entry, always last (also the default entry and the Docker-style cert
    /// directory entry).
    pub from_server: bool,
}

impl HostEntry {
    /// Whether the host has `capability`.
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// `scheme://host` followed by the path, e.g. `https://registry-1.docker.io/v2`.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path)
    }
}

/// How a `config_path` value is split into roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigPathMode {
    /// CRI's local pull (`internal/cri/server/images/image_pull.go@v2.3.4` `registryHosts`,
    /// and every 1.x pull): `filepath.SplitList`, roots tried in order.
    SplitRoots,
    /// containerd 2.x's transfer service (`core/transfer/registry/registry.go@v2.3.4`
    /// `NewOCIRegistry`): the whole string is one root, never split.
    WholeString,
}

/// What [`load_hosts`](super::load_hosts) found for a registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsResolution {
    /// The host directory used, if any.
    pub dir: Option<PathBuf>,
    /// The hosts, in the order containerd tries them (the server entry last).
    pub hosts: Vec<HostEntry>,
    /// What containerd logs while loading (logrus text: `level=… msg="…" key=value`).
    pub warnings: Vec<String>,
}
