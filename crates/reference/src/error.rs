//! Errors for references and digests.
//!
//! Every variant's Display starts with the exact upstream error text (distribution/reference
//! reference.go and normalize.go, go-digest v1.0.0 digest.go, kubernetes
//! pkg/util/parsers/parsers.go) and then says what is wrong and where. [`ParseError::upstream`]
//! returns the upstream text alone, byte for byte, for kubelet-identical messages.

use crate::algorithm::Algorithm;
use crate::go::go_quote;

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
