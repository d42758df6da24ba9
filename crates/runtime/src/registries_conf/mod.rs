//! CRI-O's registry configuration: `containers-registries.conf` v2 and the
//! `registries.conf.d` drop-in directory beside it, read exactly as containers/image reads it
//! (`pkg/sysregistriesv2/system_registries_v2.go`, documented in
//! `docs/containers-registries.conf.5.md`).
//!
//! This module is pure: it reads files and computes; it never touches the network.
//!
//! - [`RegistriesConf::load`]: the main file plus the drop-in directory, merged in file-name
//!   order (later files replace earlier `[[registry]]` entries by `prefix`), validated with
//!   containers/image's rules and messages ([`RegistriesConfError`], [`ConfigError`]).
//! - [`RegistriesConf::find_registry`]: the `[[registry]]` whose `prefix` is the longest match
//!   of a reference (`FindRegistry`), wildcard subdomain prefixes (`*.example.com`) included.
//! - [`Registry::pull_sources`] / [`RegistriesConf::pull_sources`]: the ordered list of
//!   sources a pull tries (`PullSourcesFromReference`): mirrors in order, filtered by
//!   `mirror-by-digest-only` / `pull-from-mirror`, then the primary `location`.
//! - [`RegistriesConf::check_not_blocked`]: the refusal of a source in a `blocked` registry,
//!   with containers/image's text.
//! - [`sends_request_credentials`]: whether the credentials of the pull request go to a source
//!   (never to a mirror on another domain, `docker/docker_image_src.go`).
//!
//! Not read (pullsim has no use for them yet, and they are ignored rather than rejected, as
//! containers/image ignores keys it does not know): `[aliases]`, `credential-helpers`,
//! `additional-layer-store-auth-helper`. The v1 format (`[registries.search]` …) is refused
//! with [`ConfigError::V1Format`] in a drop-in (as containers/image does) and with
//! [`ConfigError::V1NotSupported`] in the main file (containers/image converts it; pullsim does
//! not).

mod error;
mod load;
mod matching;
mod types;

pub use error::{ConfigError, FileKind, PullSourceError, RegistriesConfError};
pub use load::MainFile;
pub use matching::{ref_matching_prefix, sends_request_credentials};
pub use types::{Endpoint, PullFromMirror, PullSource, RegistriesConf, Registry, ShortNameMode};
