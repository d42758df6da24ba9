//! The runtime's configuration: where its content store is and how it reaches registries.

use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use pullsim_registry::Platform;

use crate::containerd_config::ContainerdConfig;
use crate::crio::CrioVersion;
use crate::registries_conf::RegistriesConf;

/// Which container runtime the node runs, with its own rules and wording (issue 12): how it
/// resolves through mirrors, which error wins, its retries and its messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeKind {
    /// containerd 2.x as of 2.3: CRI pulls through the transfer service unless its
    /// configuration asks for the local pull path.
    #[default]
    Containerd,
    /// containerd 1.7: CRI's local pull path (`client.Pull`), 1.7's resolver.
    Containerd17,
    /// CRI-O, pulling through containers/image with `registries.conf`.
    CriO,
}

impl RuntimeKind {
    /// The name the `--runtime` flag takes.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Containerd => "containerd",
            RuntimeKind::Containerd17 => "containerd-1.7",
            RuntimeKind::CriO => "cri-o",
        }
    }

    /// The program whose log lines the runtime writes (`containerd`, `crio`).
    pub fn log_name(self) -> &'static str {
        match self {
            RuntimeKind::Containerd | RuntimeKind::Containerd17 => "containerd",
            RuntimeKind::CriO => "crio",
        }
    }

    /// Whether this is a containerd (either version).
    pub fn is_containerd(self) -> bool {
        matches!(self, RuntimeKind::Containerd | RuntimeKind::Containerd17)
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How [`crate::ContainerdImageService`] is set up (the parts of containerd's `config.toml` and
/// of the node that pullsim models so far).
#[derive(Clone)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// The content store's root (an OCI image layout).
    pub root: PathBuf,
    /// Registries reached over plain HTTP or HTTPS without verification (`HOST[:PORT]`).
    pub insecure_registries: Vec<String>,
    /// Extra trusted CA certificates (PEM files).
    pub ca_files: Vec<PathBuf>,
    /// The platform pulled from multi-platform images; `None`: the host's.
    pub platform: Option<Platform>,
    /// An air-gapped node: no network connection at all.
    pub offline: bool,
    /// containerd's `max_concurrent_downloads`.
    pub max_concurrent_downloads: usize,
    /// containerd's CRI `image_pull_progress_timeout` (default 5 min): how long a pull may
    /// receive nothing from the registry on any of its open requests (headers or body bytes)
    /// before it fails. Real time. `Duration::ZERO` disables it, as `0` in containerd. Body
    /// sizes are capped whatever its value.
    pub image_pull_progress_timeout: Duration,
    /// The runtime the node runs (default: containerd 2.x).
    pub kind: RuntimeKind,
    /// containerd's registry `config_path` (hosts directories), overriding the config file's.
    pub registry_config_path: Option<String>,
    /// The node's containerd `config.toml`, when given.
    pub containerd: Option<Arc<ContainerdConfig>>,
    /// CRI-O's `registries.conf` (with its drop-in directory), when given.
    pub registries_conf: Option<Arc<RegistriesConf>>,
    /// The CRI-O release whose wording a CRI-O runtime uses.
    pub crio_version: CrioVersion,
    /// Unpack pulled images (default `true`, as every CRI pull): each layer is decompressed
    /// and its digest checked against the config's `rootfs.diff_ids`. `false` is a fetch-only
    /// pull (`ctr content fetch`, skopeo; `--no-unpack`): nothing is decompressed.
    pub unpack: bool,
    /// Called once when the store lock is held by another process and the runtime waits.
    pub on_store_wait: Option<pullsim_store::WaitReporter>,
    /// The node's filesystem mounted here (`pullsim node check --host-root /host`): absolute
    /// paths the runtime's configuration names (`config_path`, a hosts.toml's `ca` and
    /// `client`) are read under it, as the runtime on the node reads them.
    pub host_root: Option<PathBuf>,
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("root", &self.root)
            .field("insecure_registries", &self.insecure_registries)
            .field("ca_files", &self.ca_files)
            .field("platform", &self.platform)
            .field("kind", &self.kind)
            .field("registry_config_path", &self.registry_config_path)
            .field("containerd", &self.containerd.is_some())
            .field("registries_conf", &self.registries_conf.is_some())
            .field("unpack", &self.unpack)
            .field("offline", &self.offline)
            .field("max_concurrent_downloads", &self.max_concurrent_downloads)
            .field(
                "image_pull_progress_timeout",
                &self.image_pull_progress_timeout,
            )
            .finish_non_exhaustive()
    }
}

impl RuntimeConfig {
    /// Defaults for a store at `root`: containerd's CRI defaults (3 concurrent downloads, a
    /// 5 min `image_pull_progress_timeout`, unpack), the host platform, online.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            root: root.into(),
            insecure_registries: Vec::new(),
            ca_files: Vec::new(),
            platform: None,
            offline: false,
            max_concurrent_downloads: pullsim_registry::DEFAULT_MAX_CONCURRENT_LAYERS,
            image_pull_progress_timeout: pullsim_registry::DEFAULT_IMAGE_PULL_PROGRESS_TIMEOUT,
            on_store_wait: None,
            host_root: None,
            kind: RuntimeKind::default(),
            registry_config_path: None,
            containerd: None,
            registries_conf: None,
            crio_version: CrioVersion::default(),
            unpack: true,
        }
    }
}
