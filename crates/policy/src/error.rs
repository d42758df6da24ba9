//! The crate's error type.

/// Why a policy input was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// An `imagePullPolicy` that is not `Always`, `IfNotPresent` or `Never` (case-sensitive).
    #[error(
        "unsupported pull policy {value:?}: supported values: \"Always\", \"IfNotPresent\", \"Never\""
    )]
    UnsupportedPullPolicy {
        /// The value given.
        value: String,
    },
    /// A reason string that is not one of the kubelet's.
    #[error("unknown waiting reason {value:?}")]
    UnknownReason {
        /// The value given.
        value: String,
    },
    /// An `imagePullCredentialsVerificationPolicy` the kubelet does not know
    /// (pullmanager NewImagePullCredentialVerificationPolicy's text).
    #[error(
        "unknown image pull credential verification policy: {value} (supported: NeverVerify, NeverVerifyPreloadedImages, NeverVerifyAllowlistedImages, AlwaysVerify)"
    )]
    UnknownVerificationPolicy {
        /// The value given.
        value: String,
    },
    /// A `preloadedImagesVerificationAllowlist` entry the kubelet rejects; `message` is the
    /// kubelet's text (getAllowlistImagePattern).
    #[error("preloadedImagesVerificationAllowlist[{index}]: {message}")]
    InvalidAllowlistPattern {
        /// Position of the entry in the list.
        index: usize,
        /// The entry.
        pattern: String,
        /// The kubelet's error text.
        message: String,
    },
    /// Kubelet configuration validation failures, each with the kubelet's text.
    #[error("{}", errors.join(", "))]
    InvalidConfiguration {
        /// One kubelet message per failed rule, in the kubelet's order.
        errors: Vec<String>,
    },
    /// Image GC on a filesystem with zero capacity (the kubelet's InvalidDiskCapacity text).
    #[error("invalid capacity 0 on image filesystem")]
    InvalidCapacity,
}

impl PolicyError {
    /// The kubelet's own text for errors that mirror a kubelet message (for an allowlist entry:
    /// without the list position), otherwise the Display text.
    pub fn upstream(&self) -> String {
        match self {
            PolicyError::InvalidAllowlistPattern { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
