//! Container image references and digests, parsed and normalized exactly as
//! [distribution/reference](https://github.com/distribution/reference) does it (the grammar the
//! kubelet uses through `ParseNormalizedNamed`), with digests validated as
//! opencontainers/go-digest v1.0.0 does.
//!
//! ```
//! use pullsim_reference::Reference;
//! let r = Reference::parse_normalized("nginx:1.25").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/nginx:1.25");
//! assert_eq!(r.domain(), "docker.io");
//! assert_eq!(r.path(), "library/nginx");
//! assert_eq!(r.familiar(), "nginx:1.25");
//! ```
//!
//! Every error's Display starts with the upstream Go error text and then says what is wrong and
//! where; [`ParseError::upstream`] gives the upstream text alone.
#![deny(missing_docs)]

mod algorithm;
mod digest;
mod error;
mod go;
pub mod go_duration;
mod grammar;
mod image_name;
mod reference;
pub mod rfc3339;

pub use algorithm::Algorithm;
pub use digest::Digest;
pub use error::ParseError;
pub use go::{go_quote, terminal_safe};
pub use image_name::{ImageName, parse_image_name};
pub use reference::{
    AnyReference, DEFAULT_DOMAIN, DEFAULT_TAG, LEGACY_DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX,
    REPOSITORY_NAME_TOTAL_LENGTH_MAX, Reference,
};

/// True if `s` is a registry domain with optional port, as distribution's anchored
/// `DomainRegexp` accepts it (`example.com`, `localhost:5000`, `[::1]:5000`, `Asdf.com`).
pub fn is_valid_domain(s: &str) -> bool {
    grammar::check_domain(s, 0, s.len()).is_ok()
}

/// True if `s` is a valid tag (`[\w][\w.-]{0,127}`, distribution's anchored `TagRegexp`).
pub fn is_valid_tag(s: &str) -> bool {
    grammar::check_tag(s, 0, s.len()).is_ok()
}

/// True if `s` is a 64-character lowercase hex identifier (an image ID without `sha256:`),
/// distribution's anchored `IdentifierRegexp`.
pub fn is_identifier(s: &str) -> bool {
    grammar::is_identifier(s)
}
