//! Errors for references and digests.
//!
//! Every variant's Display starts with the exact upstream error text (distribution/reference
//! reference.go and normalize.go, go-digest v1.0.0 digest.go, kubernetes
//! pkg/util/parsers/parsers.go) and then says what is wrong and where. [`ParseError::upstream`]
//! returns the upstream text alone, byte for byte, for kubelet-identical messages.

use crate::digest::Algorithm;

/// Why a reference, digest, tag or image name was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `ErrNameEmpty`: `Parse("")`.
    #[error("repository name must have at least one component (the reference is empty)")]
    NameEmpty,

    /// `ErrReferenceInvalidFormat`: the input does not match the reference grammar.
    #[error("invalid reference format: {reason} at offset {offset} in {input:?}")]
    InvalidFormat {
        /// The text that was parsed.
        input: String,
        /// Byte offset of the problem in `input`.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },

    /// `ErrNameContainsUppercase` from `Parse`: the input would be valid if lowercased.
    #[error("repository name must be lowercase: uppercase {ch:?} at offset {offset} in {input:?}")]
    NameContainsUppercase {
        /// The text that was parsed.
        input: String,
        /// Byte offset of the first uppercase character.
        offset: usize,
        /// The first uppercase character.
        ch: char,
    },

    /// `ParseNormalizedNamed`'s own lowercase check on the repository path (after the domain
    /// is split off and `library/` added).
    #[error("invalid reference format: repository name ({remote}) must be lowercase")]
    RemoteNameNotLowercase {
        /// The text that was parsed.
        input: String,
        /// The repository path that contains uppercase characters.
        remote: String,
    },

    /// `ErrNameTooLong`: the repository path is longer than 255 characters.
    #[error(
        "repository name must not be more than 255 characters: the path has {length} characters in {input:?}"
    )]
    NameTooLong {
        /// The text that was parsed.
        input: String,
        /// Length of the repository path (without the domain).
        length: usize,
    },

    /// `ParseNormalizedNamed` of a 64-character hex string (an image ID, not a name).
    #[error(
        "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings (a 64-character hex string alone is an image ID, not a name; with a registry or namespace in front, e.g. docker.io/<hex>, it is a name)"
    )]
    HexIdentifier {
        /// The text that was parsed.
        input: String,
    },

    /// go-digest `ErrDigestInvalidFormat`.
    #[error("invalid checksum digest format: {reason} in {digest:?}")]
    DigestInvalidFormat {
        /// The digest text.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },

    /// go-digest `ErrDigestInvalidLength`.
    #[error(
        "invalid checksum digest length: {algorithm} needs {expected} hex characters, got {actual} in {digest:?}"
    )]
    DigestInvalidLength {
        /// The digest text.
        digest: String,
        /// The digest's algorithm.
        algorithm: Algorithm,
        /// Required number of hex characters.
        expected: usize,
        /// Number of characters found.
        actual: usize,
    },

    /// go-digest `ErrDigestUnsupported`.
    #[error(
        "unsupported digest algorithm: {algorithm:?} in {digest:?} (supported: sha256, sha384, sha512)"
    )]
    DigestUnsupported {
        /// The digest text.
        digest: String,
        /// The algorithm named in it.
        algorithm: String,
    },

    /// `ErrTagInvalidFormat` from `WithTag`.
    #[error("invalid tag format: {reason} in tag {tag:?}")]
    TagInvalidFormat {
        /// The tag text.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `ErrNameNotCanonical` from `ParseNamed`: the input is not in its normalized form.
    #[error("repository name must be canonical: {input:?} normalizes to {canonical:?}")]
    NameNotCanonical {
        /// The text that was parsed.
        input: String,
        /// Its normalized form.
        canonical: String,
    },

    /// kubernetes `parsers.ParseImageName` wrapping: `couldn't parse image name %q: %v`.
    #[error("couldn't parse image name {}: {cause}", go_quote(image))]
    ImageName {
        /// The image string given to the kubelet.
        image: String,
        /// Why the reference parser rejected it.
        cause: Box<ParseError>,
    },
}

impl ParseError {
    /// The error text exactly as the Go code produces it (no added detail), e.g.
    /// `invalid reference format` or
    /// `couldn't parse image name "ROOT": invalid reference format: repository name (library/ROOT) must be lowercase`.
    pub fn upstream(&self) -> String {
        match self {
            ParseError::NameEmpty => "repository name must have at least one component".into(),
            ParseError::InvalidFormat { .. } => "invalid reference format".into(),
            ParseError::NameContainsUppercase { .. } => "repository name must be lowercase".into(),
            ParseError::RemoteNameNotLowercase { remote, .. } => {
                format!("invalid reference format: repository name ({remote}) must be lowercase")
            }
            ParseError::NameTooLong { .. } => {
                "repository name must not be more than 255 characters".into()
            }
            ParseError::HexIdentifier { input } => format!(
                "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
            ),
            ParseError::DigestInvalidFormat { .. } => "invalid checksum digest format".into(),
            ParseError::DigestInvalidLength { .. } => "invalid checksum digest length".into(),
            ParseError::DigestUnsupported { .. } => "unsupported digest algorithm".into(),
            ParseError::TagInvalidFormat { .. } => "invalid tag format".into(),
            ParseError::NameNotCanonical { .. } => "repository name must be canonical".into(),
            ParseError::ImageName { image, cause } => format!(
                "couldn't parse image name {}: {}",
                go_quote(image),
                cause.upstream()
            ),
        }
    }
}

/// Go's `%q` (strconv.Quote) for the characters that occur in image names and error text.
pub fn go_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the
/// ASCII space; not controls, other spaces, format characters or private-use characters.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    let noncharacter = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format_or_private || noncharacter)
}
