//! The configuration as containers/image holds it after loading (`Registry`, `Endpoint`,
//! `PullSource`, `V2RegistriesConf` in `pkg/sysregistriesv2/system_registries_v2.go`).

use std::path::PathBuf;

use pullsim_reference::Reference;

/// When a mirror is used (`pull-from-mirror`; containers/image `MirrorAll`,
/// `MirrorByDigestOnly`, `MirrorByTagOnly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullFromMirror {
    /// `"all"`, or the key absent: tag and digest pulls.
    #[default]
    All,
    /// `"digest-only"`: digest pulls only.
    DigestOnly,
    /// `"tag-only"`: tag pulls only.
    TagOnly,
}

impl PullFromMirror {
    /// The value as written in the file (`all`, `digest-only`, `tag-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            PullFromMirror::All => "all",
            PullFromMirror::DigestOnly => "digest-only",
            PullFromMirror::TagOnly => "tag-only",
        }
    }

    /// Parse the file value; `None` for anything containers/image does not accept.
    pub fn from_name(s: &str) -> Option<PullFromMirror> {
        match s {
            "all" => Some(PullFromMirror::All),
            "digest-only" => Some(PullFromMirror::DigestOnly),
            "tag-only" => Some(PullFromMirror::TagOnly),
            _ => None,
        }
    }
}

/// `short-name-mode` (containers/image `types.ShortNameMode`). Parsed and kept; pullsim does not
/// resolve short names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortNameMode {
    /// `"disabled"`.
    Disabled,
    /// `"enforcing"`.
    Enforcing,
    /// `"permissive"`: containers/image's default (`defaultShortNameMode`, `shortnames.go`).
    #[default]
    Permissive,
}

impl ShortNameMode {
    /// Parse the file value (`parseShortNameMode`); `None` for anything else.
    pub fn from_name(s: &str) -> Option<ShortNameMode> {
        match s {
            "disabled" => Some(ShortNameMode::Disabled),
            "enforcing" => Some(ShortNameMode::Enforcing),
            "permissive" => Some(ShortNameMode::Permissive),
            _ => None,
        }
    }
}

/// A place to pull from: a registry's primary location or one of its mirrors (`Endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `location`, trailing `/` removed; empty only for a wildcard-prefix registry without
    /// rewrite.
    pub location: String,
    /// `insecure`: HTTP or an unverified TLS certificate allowed.
    pub insecure: bool,
    /// `pull-from-mirror` (mirrors only; a registry's own endpoint always has `All`).
    pub pull_from_mirror: PullFromMirror,
}

/// One `[[registry]]` table after validation (`Registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// `prefix`, defaulting to `location`; may be a wildcard `*.example.com`.
    pub prefix: String,
    /// The primary endpoint (`location`, `insecure`).
    pub endpoint: Endpoint,
    /// `[[registry.mirror]]` entries, in file order.
    pub mirrors: Vec<Endpoint>,
    /// `blocked`: pulls from this registry are refused.
    pub blocked: bool,
    /// `mirror-by-digest-only`: mirrors are used for digest references only.
    pub mirror_by_digest_only: bool,
}

/// One source to try for a pull (`PullSource`): the endpoint and the reference rewritten for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// The endpoint (mirror or primary).
    pub endpoint: Endpoint,
    /// The reference with the matched prefix replaced by the endpoint's location.
    pub reference: Reference,
}

/// The merged configuration (`V2RegistriesConf` plus the parts of `parsedConfig` pullsim keeps).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistriesConf {
    /// The `[[registry]]` entries, one per prefix, sorted by prefix (byte order).
    pub registries: Vec<Registry>,
    /// `unqualified-search-registries`, from the last file that set it.
    pub unqualified_search_registries: Vec<String>,
    /// The file `unqualified_search_registries` came from (`UnqualifiedSearchRegistriesWithOrigin`);
    /// `None` when no file set it.
    pub unqualified_search_registries_origin: Option<PathBuf>,
    /// `short-name-mode`, from the last file that set it; `Permissive` when none did.
    pub short_name_mode: ShortNameMode,
    /// The main file path, as named in the "blocked" error.
    pub config_path: PathBuf,
    /// The drop-in directory path, as named in the "blocked" error (empty when none).
    pub config_dir_path: PathBuf,
}
