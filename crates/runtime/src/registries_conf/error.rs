//! Errors, with containers/image's wording (`pkg/sysregistriesv2/system_registries_v2.go`,
//! `docker/docker_client.go`).

use std::path::PathBuf;

use pullsim_reference::ParseError;

/// Which file of the configuration an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The main `registries.conf`.
    Main,
    /// A file of the `registries.conf.d` directory.
    DropIn,
}

/// Invalid content of one file (containers/image `InvalidRegistries` and the other
/// `loadConfigFile` errors). Each variant names the key and the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML did not decode into the expected shape.
    #[error("{message}")]
    Toml {
        /// The decoder's message (line, column, expected type).
        message: String,
    },
    /// A `location` or `prefix` with a URI scheme (`parseLocation`).
    #[error("invalid location '{value}': URI schemes are not supported")]
    UriScheme {
        /// The key: `location`, `prefix`, `mirror.location` or `unqualified-search-registries`.
        key: &'static str,
        /// The value as written.
        value: String,
    },
    /// A `[[registry]]` with neither `location` nor `prefix`.
    #[error("invalid condition: both location and prefix are unset")]
    LocationAndPrefixUnset,
    /// No `location` and a prefix that is not a wildcard.
    #[error("invalid condition: location is unset and prefix is not in the format: *.example.com")]
    LocationUnsetPrefixNotWildcard {
        /// The prefix (expected `*.example.com` form).
        prefix: String,
    },
    /// `pull-from-mirror` on a `[[registry]]` itself.
    #[error("pull-from-mirror must not be set for a non-mirror registry \"{prefix}\"")]
    PullFromMirrorOnRegistry {
        /// The registry's prefix.
        prefix: String,
    },
    /// A `[[registry.mirror]]` without `location`.
    #[error("invalid condition: mirror location is unset")]
    MirrorLocationUnset {
        /// The registry's prefix.
        prefix: String,
    },
    /// `mirror-by-digest-only` and a per-mirror `pull-from-mirror` together.
    #[error(
        "cannot set mirror usage mirror-by-digest-only for the registry (\"{prefix}\") and pull-from-mirror for per-mirror (\"{mirror}\") at the same time"
    )]
    MirrorByDigestOnlyConflict {
        /// The registry's prefix.
        prefix: String,
        /// The mirror's location.
        mirror: String,
    },
    /// A `pull-from-mirror` value other than `all`, `digest-only`, `tag-only`.
    #[error("unsupported pull-from-mirror value \"{value}\" for mirror \"{mirror}\"")]
    UnsupportedPullFromMirror {
        /// The value as written.
        value: String,
        /// The mirror's location.
        mirror: String,
    },
    /// One location defined twice in a file with different `insecure` or `blocked`.
    #[error("registry '{location}' is defined multiple times with conflicting '{key}' setting")]
    ConflictingSetting {
        /// The location (containers/image prints the location, empty for wildcard entries).
        location: String,
        /// `insecure` or `blocked`.
        key: &'static str,
    },
    /// An `unqualified-search-registries` entry that is not a bare domain.
    #[error("Invalid unqualified-search-registries entry \"{value}\"")]
    InvalidSearchRegistry {
        /// The entry (trailing `/` removed).
        value: String,
    },
    /// A `short-name-mode` value other than `disabled`, `enforcing`, `permissive`.
    #[error("invalid short-name mode: \"{value}\"")]
    InvalidShortNameMode {
        /// The value as written.
        value: String,
    },
    /// A wildcard prefix with more than a domain (`*.example.com/foo`).
    #[error(
        "Wildcarded prefix should be in the format: *.example.com. Current prefix \"{prefix}\" is incorrectly formatted"
    )]
    InvalidWildcardPrefix {
        /// The prefix.
        prefix: String,
    },
    /// A drop-in file in the v1 format.
    #[error("registry must be in v2 format but is in v1")]
    V1Format,
    /// A main file in the v1 format: containers/image converts it, pullsim does not.
    #[error("registries.conf v1 format ([registries.search] etc.) is not supported by pullsim")]
    V1NotSupported,
}

/// Loading the configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistriesConfError {
    /// A file could not be read (`tryUpdatingCache`; the io error names the cause, e.g. "No such
    /// file or directory").
    #[error("{} \"{}\": {source}", kind_prefix(*.kind), .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Main file or drop-in.
        kind: FileKind,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is invalid.
    #[error("{} \"{}\": {source}", kind_prefix(*.kind), .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Main file or drop-in.
        kind: FileKind,
        /// What is wrong, naming the key.
        #[source]
        source: ConfigError,
    },
    /// The drop-in directory could not be listed (`dropInConfigs`).
    #[error("reading registries.conf.d: {source}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn kind_prefix(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Main => "loading registries configuration",
        FileKind::DropIn => "loading drop-in registries configuration",
    }
}

/// Computing or using a pull source failed (`rewriteReference`, `newDockerClient`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullSourceError {
    /// The registry's prefix does not match the reference.
    #[error("invalid prefix '{prefix}' for reference '{reference}'")]
    PrefixMismatch {
        /// The prefix.
        prefix: String,
        /// The reference.
        reference: String,
    },
    /// An empty location with a prefix that is not a wildcard.
    #[error("invalid prefix '{prefix}' for empty location, should be in the format: *.example.com")]
    EmptyLocation {
        /// The prefix.
        prefix: String,
    },
    /// The rewritten reference is not a valid normalized reference.
    #[error("rewriting reference: {source}")]
    Rewrite {
        /// The rewritten string.
        rewritten: String,
        /// The parse failure.
        #[source]
        source: ParseError,
    },
    /// The source lies in a `blocked` registry (`docker/docker_client.go` `newDockerClient`).
    #[error("registry {prefix} is blocked in {} or {}", .config_path.display(), .config_dir_path.display())]
    Blocked {
        /// The blocked registry's prefix.
        prefix: String,
        /// The main configuration file.
        config_path: PathBuf,
        /// The drop-in directory.
        config_dir_path: PathBuf,
    },
}
