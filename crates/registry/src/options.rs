//! The client's options and their defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::platform::Platform;

/// Default number of blobs fetched at the same time: containerd's CRI default
/// (`max_concurrent_downloads = 3`), which a kubelet's pulls go through. 2, 3, 4 and 8
/// measured alike on the 256 MiB bench image.
pub const DEFAULT_MAX_CONCURRENT_LAYERS: usize = 3;
/// Default of [`ClientOptions::image_pull_progress_timeout`]: containerd's CRI default
/// (`image_pull_progress_timeout = "5m"`, `internal/cri/config/config.go`).
pub const DEFAULT_IMAGE_PULL_PROGRESS_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default of [`ClientOptions::download_buffer_budget`]: four network chunks (1.6 MiB), one
/// per download at containerd's default concurrency and one for a fourth download (of another
/// pull of the node).
pub const DEFAULT_DOWNLOAD_BUFFER_BUDGET: usize = 4 * crate::inflight::NETWORK_CHUNK_MAX;
/// Default TCP connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of a [`crate::Client`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Hosts (`HOST` or `HOST:PORT`) reached over plain HTTP or HTTPS without certificate
    /// verification, as docker's `insecure-registries`.
    pub insecure_registries: Vec<String>,
    /// PEM files whose certificates are trusted in addition to the system roots.
    pub ca_files: Vec<PathBuf>,
    /// The platform to pull from an index; `None` = the host platform.
    pub platform: Option<Platform>,
    /// Refuse every network access (an air-gapped node).
    pub offline: bool,
    /// Blobs fetched at the same time.
    pub max_concurrent_layers: usize,
    /// Whether [`ClientOptions::max_concurrent_layers`] is one limit shared by every pull of
    /// the client (containerd 2.x: the CRI `downloadLimiter` of `internal/cri/server/images/
    /// service.go@v2.3.4` and the transfer service's `limiterD`, one per node) rather than a
    /// limit per pull (containerd 1.7: a new semaphore in `client.Pull`, `v1.7.34:pull.go`).
    /// Default: per pull.
    pub shared_download_limit: bool,
    /// Bytes of network buffers received but not yet written to the sink, across every
    /// download of the client (all its pulls): the memory bound of the download path. Each
    /// chunk is charged [`crate::NETWORK_CHUNK_MAX`] (what it can keep allocated), at least
    /// one chunk is let through; a download waits for room before it reads its socket again.
    /// A download has one chunk at a time with its writer, so a budget of at least
    /// [`ClientOptions::max_concurrent_layers`] chunks lets every download proceed at once.
    pub download_buffer_budget: usize,
    /// containerd's `image_pull_progress_timeout`: how long a pull (or resolve) may wait for
    /// the network without receiving anything on any of its open requests — response headers,
    /// chunks of any body (blobs, manifests, tokens, error answers) — before the waiting read
    /// fails ([`crate::RegistryError::Stalled`] for a body the pull needs, an `i/o timeout` for
    /// headers, the status's own error for an error answer's body). As containerd's
    /// `pullProgressReporter`, progress on any request of the pull keeps the others waiting,
    /// and the clock stops while the pull has no open request. Real time. `Duration::ZERO`
    /// disables it, as `0` does in containerd. Body sizes are capped whatever the deadline.
    pub image_pull_progress_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent` sent to registries.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            ca_files: Vec::new(),
            platform: None,
            offline: false,
            max_concurrent_layers: DEFAULT_MAX_CONCURRENT_LAYERS,
            shared_download_limit: false,
            download_buffer_budget: DEFAULT_DOWNLOAD_BUFFER_BUDGET,
            image_pull_progress_timeout: DEFAULT_IMAGE_PULL_PROGRESS_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: format!("pullsim/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}
