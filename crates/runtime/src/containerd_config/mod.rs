//! A node's containerd `config.toml`, as far as image pulls go: where the registry host
//! directory is (`config_path`), the deprecated `registry.mirrors` / `configs` / `auths`,
//! download concurrency, the pull progress timeout, and whether containerd 2.x's CRI pulls
//! through the transfer service or locally.
//!
//! Where each key lives (read from `internal/cri/config/config.go@v2.3.4`,
//! `plugins/cri/images/plugin.go@v2.3.4`, `plugins/transfer/plugin.go@v2.3.4`,
//! `v1.7.34:pkg/cri/config/config.go`):
//!
//! | config `version` | read by | CRI image keys |
//! |---|---|---|
//! | absent/1 | 1.x; 2.x migrates | `[plugins.cri]` (or its full name) |
//! | 2 | 1.x; 2.x migrates | `[plugins."io.containerd.grpc.v1.cri"]`: `registry`, `max_concurrent_downloads`, `image_pull_progress_timeout`; `.containerd`: `disable_snapshot_annotations`, `discard_unpacked_layers` |
//! | 3, 4 | 2.x | `[plugins."io.containerd.cri.v1.images"]`: the same keys at top level, plus `use_local_image_pull`; `[plugins."io.containerd.transfer.v1.local"] max_concurrent_downloads` |
//!
//! containerd 2.x reads a version 1–3 file by migrating it (`MigrateConfigTo`; the CRI
//! image plugin's `migrateConfig` copies the old `cri` keys over its own table) and logs
//! `Configuration migrated from version N, use `containerd config migrate` to avoid
//! migration`. [`ContainerdConfig::parse_str`] assumes the generation from `version` (1–2 →
//! 1.x, 3–4 → 2.x); [`ContainerdConfig::parse_str_as`] reads a file as the given
//! generation would. `imports` (drop-in files) are not followed.

mod auth;
mod error;
mod parse;
mod types;

use std::path::Path;

pub use auth::{offered_to, parse_auth};
pub use error::{ContainerdConfigError, ParseAuthError};
pub use parse::{
    CRI_IMAGES_PLUGIN, CRI_PLUGIN_V2, MAX_VERSION_1X, MAX_VERSION_2X, TRANSFER_PLUGIN,
};
pub use types::{ContainerdConfig, ContainerdGeneration, RegistryHostConfig, RegistryTls};

use crate::hosts_dir::{ConfigPathMode, logrus_line};
use pullsim_credentials::{AuthConfig, Secret};

/// containerd 2.x's `config_path` on Linux when neither it nor `mirrors` is set
/// (`plugins/cri/images/plugin.go@v2.3.4`).
pub const DEFAULT_CONFIG_PATH_2X: &str = "/etc/containerd/certs.d:/etc/docker/certs.d";

/// The default of `max_concurrent_downloads` (CRI and transfer service).
pub const DEFAULT_MAX_CONCURRENT_DOWNLOADS: usize = 3;

impl ContainerdConfig {
    /// Reads `path`; the generation follows `version`.
    pub fn load(path: &Path) -> Result<ContainerdConfig, ContainerdConfigError> {
        parse::load(path, None)
    }

    /// Parses `text` (the content of `file`, named in errors); the generation follows
    /// `version`.
    pub fn parse_str(text: &str, file: &Path) -> Result<ContainerdConfig, ContainerdConfigError> {
        parse::parse(text, file, None)
    }

    /// Parses `text` as containerd of `generation` reads it (2.x migrates version 1–3 files;
    /// 1.x refuses versions above 2).
    pub fn parse_str_as(
        text: &str,
        file: &Path,
        generation: ContainerdGeneration,
    ) -> Result<ContainerdConfig, ContainerdConfigError> {
        parse::parse(text, file, Some(generation))
    }

    /// `config_path` as containerd uses it: 2.x defaults an unset `config_path` to
    /// [`DEFAULT_CONFIG_PATH_2X`] when no `mirrors` are set; 1.x has no default (`None`: the
    /// legacy `mirrors`/`configs` path, or the registry itself).
    pub fn effective_config_path(&self) -> Option<String> {
        match (&self.config_path, self.generation) {
            (Some(p), _) => Some(p.clone()),
            (None, ContainerdGeneration::V2) if self.registry_mirrors.is_empty() => {
                Some(DEFAULT_CONFIG_PATH_2X.to_string())
            }
            (None, _) => None,
        }
    }

    /// How CRI splits `config_path` into roots: the local pull path splits it
    /// (`filepath.SplitList`), 2.x's transfer service takes the whole string as one directory
    /// (`core/transfer/registry/registry.go@v2.3.4`), so a colon-separated list, containerd
    /// 2.x's own default included, then matches no directory.
    pub fn config_path_mode(&self) -> ConfigPathMode {
        if self.uses_local_image_pull() {
            ConfigPathMode::SplitRoots
        } else {
            ConfigPathMode::WholeString
        }
    }

    /// Whether CRI pulls without the transfer service: always on 1.x; on 2.x when
    /// `use_local_image_pull = true` or a setting in [`Self::local_pull_reasons`] is present.
    pub fn uses_local_image_pull(&self) -> bool {
        self.generation == ContainerdGeneration::V1
            || self.use_local_image_pull
            || !self.local_pull_reasons().is_empty()
    }

    /// containerd 2.x's `CheckLocalImagePullConfigs` (`internal/cri/config/config.go@v2.3.4`):
    /// the warning it logs for the first setting that makes CRI fall back to the local pull
    /// (it stops at the first). Empty on 1.x and when `use_local_image_pull = true` (no log).
    /// Linux rules (`DisableSnapshotAnnotations` is a reason when false).
    pub fn local_pull_reasons(&self) -> Vec<String> {
        if self.generation == ContainerdGeneration::V1 || self.use_local_image_pull {
            return Vec::new();
        }
        const DEPRECATED: &str = "not supported with transfer service (also deprecated)";
        let checks: [(&str, bool, &str); 6] = [
            (
                "DisableSnapshotAnnotations",
                self.disable_snapshot_annotations == Some(false),
                "moved to snapshotter plugin when using transfer service",
            ),
            (
                "DiscardUnpackedLayers",
                self.discard_unpacked_layers,
                "not supported with transfer service",
            ),
            (
                "Registry.Mirrors",
                !self.registry_mirrors.is_empty(),
                DEPRECATED,
            ),
            // `auths` are merged into `configs` before the check (ValidateImageConfig), so
            // containerd's later `Registry.Auths` entry can never be the first one found.
            (
                "Registry.Configs",
                !self.registry_configs.is_empty(),
                DEPRECATED,
            ),
            (
                "MaxConcurrentDownloads",
                self.max_concurrent_downloads
                    .is_some_and(|n| n != DEFAULT_MAX_CONCURRENT_DOWNLOADS),
                "must be configured in transfer service plugin: plugins.\"io.containerd.transfer.v1.local\"",
            ),
            (
                "ImagePullWithSyncFs",
                self.image_pull_with_sync_fs,
                "not supported with transfer service",
            ),
        ];
        checks
            .iter()
            .find(|(_, present, _)| *present)
            .map(|(name, _, reason)| {
                logrus_line(
                    "warning",
                    &format!(
                        "Found '{name}' in CRI config which is incompatible with transfer service ({reason}). Falling back to local image pull mode."
                    ),
                    &[],
                )
            })
            .into_iter()
            .collect()
    }

    /// The number of layers downloaded at once by a CRI pull: the transfer service's limit on
    /// 2.x transfer pulls, else the CRI plugin's (default 3 either way).
    pub fn effective_max_concurrent_downloads(&self) -> usize {
        let n = if self.uses_local_image_pull() {
            self.max_concurrent_downloads
        } else {
            self.transfer_max_concurrent_downloads
        };
        n.unwrap_or(DEFAULT_MAX_CONCURRENT_DOWNLOADS)
    }

    /// The credentials CRI offers to `host` (any host of the pull, mirrors included) when it
    /// challenges: the kubelet's `auth` when the kubelet sent one, else
    /// `registry.configs."<host>".auth`, decoded by [`parse_auth`]; `("", "")` is anonymous.
    /// The `credentials` closure of CRI `PullImage` (`internal/cri/server/images/image_pull.go`
    /// @v2.3.4, identical in `v1.7.34:pkg/cri/server/image_pull.go`).
    pub fn cri_credentials(
        &self,
        kubelet_auth: Option<&AuthConfig>,
        host: &str,
    ) -> Result<(String, Secret), ParseAuthError> {
        parse_auth(self.cri_auth(kubelet_auth, host), host)
    }

    /// The `AuthConfig` CRI hands to `ParseAuth` for `host`: the kubelet's when it sent one,
    /// else `registry.configs."<host>".auth`.
    pub fn cri_auth<'a>(
        &'a self,
        kubelet_auth: Option<&'a AuthConfig>,
        host: &str,
    ) -> Option<&'a AuthConfig> {
        kubelet_auth.or_else(|| self.registry_configs.get(host)?.auth.as_ref())
    }
}
