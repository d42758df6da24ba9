//! The runtime's configuration: where its content store is and how it reaches registries.

use std::path::PathBuf;
use std::time::Duration;

use pullsim_registry::Platform;

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
    /// Called once when the store lock is held by another process and the runtime waits.
    pub on_store_wait: Option<pullsim_store::WaitReporter>,
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("root", &self.root)
            .field("insecure_registries", &self.insecure_registries)
            .field("ca_files", &self.ca_files)
            .field("platform", &self.platform)
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
    /// 5 min `image_pull_progress_timeout`), the host platform, online.
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
        }
    }
}
