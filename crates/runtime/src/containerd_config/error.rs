//! Errors reading a containerd config.toml. Where containerd refuses the file (or the CRI
//! image plugin refuses its section), the text is containerd's
//! (`cmd/containerd/server/config/config.go@v2.3.4`, `internal/cri/config/config.go@v2.3.4`
//! `ValidateImageConfig`).

use std::path::PathBuf;

use crate::hosts_dir::DurationError;

/// Why a config.toml cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerdConfigError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML.
    #[error("failed to load TOML from {}: {message}", .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key with a value of the wrong type.
    #[error("failed to load TOML from {}: {key}: expected {expected}, found {found}", .path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The dotted key (`plugins."io.containerd.cri.v1.images".registry.config_path`).
        key: String,
        /// The expected TOML type.
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// containerd 1.x: a `version` above 2 (`v1.7.34:services/server/config/config.go`
    /// `ValidateV2`).
    #[error("failed to load TOML from {}: unsupported config version `{version}`", .path.display())]
    UnsupportedVersion1x {
        /// The file.
        path: PathBuf,
        /// The version written.
        version: i64,
    },
    /// A `version` newer than containerd 2.3 knows (`ValidateVersion`).
    #[error("failed to load TOML from {}: expected containerd config version equal to or less than `{max}`, got `{version}`", .path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version written.
        version: i64,
        /// The highest version containerd 2.3 reads (4).
        max: i64,
    },
    /// `mirrors` together with `config_path` (the CRI plugin fails to load).
    #[error("invalid cri image config: `mirrors` cannot be set when `config_path` is provided")]
    MirrorsWithConfigPath {
        /// The file.
        path: PathBuf,
    },
    /// containerd 1.x: `configs.<host>.tls` together with `config_path`.
    #[error("invalid plugin config: `configs.tls` cannot be set when `config_path` is provided")]
    TlsWithConfigPath {
        /// The file.
        path: PathBuf,
    },
    /// An `auths` key that is not a URL (`ValidateImageConfig`).
    #[error("invalid cri image config: failed to parse registry url {} from `registry.auths`: {reason}", pullsim_reference::go_quote(.endpoint))]
    AuthsUrl {
        /// The file.
        path: PathBuf,
        /// The `auths` key.
        endpoint: String,
        /// Go's `url.Parse` error.
        reason: String,
    },
    /// `image_pull_progress_timeout` is not a Go duration.
    #[error("invalid cri image config: invalid image pull progress timeout: {source}")]
    ProgressTimeout {
        /// The file.
        path: PathBuf,
        /// Go's `time.ParseDuration` error.
        #[source]
        source: DurationError,
    },
    /// A negative count or duration where pullsim needs a non-negative one.
    #[error("{}: {key} = {value} is negative", .path.display())]
    Negative {
        /// The file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// The value as written.
        value: String,
    },
}

/// Why `registry.configs.<host>.auth` gives no credentials (`ParseAuth`,
/// `internal/cri/server/images/image_pull.go@v2.3.4`). The decoded value is never shown
/// (containerd prints it with `%q`; pullsim does not print credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseAuthError {
    /// `auth` is not standard padded base64 (Go's `illegal base64 data at input byte N`).
    #[error("{message}")]
    Base64 {
        /// Go's message.
        message: String,
    },
    /// The decoded `auth` has no `:` (containerd: `invalid decoded auth: "<value>"`).
    #[error("invalid decoded auth: <redacted>")]
    NoColon,
    /// `serveraddress` is not a URL (`parse server address: …`).
    #[error("parse server address: {reason}")]
    ServerAddress {
        /// Go's `url.Parse` error.
        reason: String,
    },
}
