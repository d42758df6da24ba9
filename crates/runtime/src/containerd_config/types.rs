//! The parts of a containerd config.toml that decide how images are pulled.

use std::collections::BTreeMap;
use std::time::Duration;

use pullsim_credentials::AuthConfig;

/// Which containerd reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerdGeneration {
    /// containerd 1.x (config `version = 2`, or 1 / absent): CRI pulls locally, no default
    /// `config_path`.
    V1,
    /// containerd 2.x (config `version = 3` or 4; older files are migrated): CRI pulls through
    /// the transfer service unless a local-pull-only setting is present.
    V2,
}

/// `registry.configs."<host>".tls` (containerd 1.x only; 2.x's `RegistryConfig` has no `tls`
/// and ignores it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryTls {
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: bool,
    /// `ca_file`.
    pub ca_file: String,
    /// `cert_file`.
    pub cert_file: String,
    /// `key_file`.
    pub key_file: String,
}

/// `registry.configs."<host>"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryHostConfig {
    /// `auth` {username, password, auth, identitytoken} (also filled from the deprecated
    /// `registry.auths`). Secrets are redacted when formatted (`Secret`).
    pub auth: Option<AuthConfig>,
    /// `tls`, when present.
    pub tls: Option<RegistryTls>,
}

/// A node's containerd config.toml, as far as image pulls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdConfig {
    /// `version` as written (0 when absent, which containerd treats as 1).
    pub version: u32,
    /// Which containerd the file is for (from `version`; set it to model an old file read by
    /// containerd 2.x, which migrates it).
    pub generation: ContainerdGeneration,
    /// `registry.config_path`, `None` when unset or empty.
    pub config_path: Option<String>,
    /// `registry.configs` (with `registry.auths` merged in, keys without scheme).
    pub registry_configs: BTreeMap<String, RegistryHostConfig>,
    /// `registry.mirrors."<host>".endpoint` (deprecated).
    pub registry_mirrors: BTreeMap<String, Vec<String>>,
    /// `registry.headers`: sent to every registry.
    pub registry_headers: BTreeMap<String, Vec<String>>,
    /// The CRI image plugin's `max_concurrent_downloads` (`None` = default 3).
    pub max_concurrent_downloads: Option<usize>,
    /// `[plugins."io.containerd.transfer.v1.local"] max_concurrent_downloads` (`None` =
    /// default 3): the limit of transfer-service pulls.
    pub transfer_max_concurrent_downloads: Option<usize>,
    /// `image_pull_progress_timeout` (`None` = default 5m; zero disables it).
    pub image_pull_progress_timeout: Option<Duration>,
    /// `use_local_image_pull` (2.x).
    pub use_local_image_pull: bool,
    /// `disable_snapshot_annotations` (`None` = default, true in 2.x).
    pub disable_snapshot_annotations: Option<bool>,
    /// `discard_unpacked_layers`.
    pub discard_unpacked_layers: bool,
    /// `image_pull_with_sync_fs`.
    pub image_pull_with_sync_fs: bool,
    /// What containerd logs while loading the file (migration and deprecation warnings),
    /// logrus text without the time.
    pub warnings: Vec<String>,
}
