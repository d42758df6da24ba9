//! The runtime's errors: gRPC statuses as the kubelet receives them over CRI.

use pullsim_registry::RegistryError;
use pullsim_store::StoreError;

/// A gRPC status code (`google.golang.org/grpc/codes`), printed as Go prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `Unknown`: containerd's `errdefs.ToGRPC` for errors without a class.
    Unknown,
    /// `InvalidArgument`.
    InvalidArgument,
    /// `DeadlineExceeded`.
    DeadlineExceeded,
    /// `NotFound`.
    NotFound,
    /// `AlreadyExists`.
    AlreadyExists,
    /// `ResourceExhausted`.
    ResourceExhausted,
    /// `FailedPrecondition`.
    FailedPrecondition,
    /// `Canceled`.
    Canceled,
    /// `Unavailable`.
    Unavailable,
    /// `Internal`.
    Internal,
}

impl Code {
    /// The code's name as `codes.Code.String()` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unknown => "Unknown",
            Code::InvalidArgument => "InvalidArgument",
            Code::DeadlineExceeded => "DeadlineExceeded",
            Code::NotFound => "NotFound",
            Code::AlreadyExists => "AlreadyExists",
            Code::ResourceExhausted => "ResourceExhausted",
            Code::FailedPrecondition => "FailedPrecondition",
            Code::Canceled => "Canceled",
            Code::Unavailable => "Unavailable",
            Code::Internal => "Internal",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed CRI call. `Display` is the text the kubelet sees (`rpc error: code = … desc = …`);
/// the typed cause, when there is one, is kept beside it for reports (`creds check`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// `PullImage` (or the resolve stage of it) failed.
    #[error("rpc error: code = {code} desc = {desc}")]
    Pull {
        /// The gRPC code.
        code: Code,
        /// The image as the kubelet asked for it.
        image: String,
        /// The runtime's description (`failed to pull and unpack image "REF": …`).
        desc: String,
        /// The registry failure behind it, when the registry was reached (or refused).
        cause: Option<Box<RegistryError>>,
        /// The registry host whose answer (or silence) the error reports, as the runtime tried
        /// it (`https://mirror.example.com/v2`): reported beside the kubelet's words, never in
        /// them.
        host: Option<String>,
    },
    /// `ImageStatus`, `ListImages`, `RemoveImage` or `ImageFsInfo` failed in the content store.
    #[error("rpc error: code = {code} desc = {desc}")]
    Store {
        /// The gRPC code.
        code: Code,
        /// The runtime's description.
        desc: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A request the runtime refuses before doing anything (an unparsable image reference).
    #[error("rpc error: code = {code} desc = {desc}")]
    Invalid {
        /// The gRPC code (`InvalidArgument` or `Unknown`, as the runtime answers).
        code: Code,
        /// The runtime's description.
        desc: String,
    },
    /// The runtime could not be set up (unreadable CA file, bad option, store that cannot be
    /// opened). Not a CRI answer: the node cannot start.
    #[error("{message}")]
    Config {
        /// What is wrong and where.
        message: String,
    },
}

impl RuntimeError {
    /// A pull failure with a given description and no typed cause (scripted runtimes).
    pub fn pull(code: Code, image: impl Into<String>, desc: impl Into<String>) -> Self {
        RuntimeError::Pull {
            code,
            image: image.into(),
            desc: desc.into(),
            cause: None,
            host: None,
        }
    }

    /// The registry host a pull error comes from, when the runtime reached one.
    pub fn host(&self) -> Option<&str> {
        match self {
            RuntimeError::Pull { host, .. } => host.as_deref(),
            _ => None,
        }
    }

    /// The gRPC code (`Unknown` for [`RuntimeError::Config`]).
    pub fn code(&self) -> Code {
        match self {
            RuntimeError::Pull { code, .. }
            | RuntimeError::Store { code, .. }
            | RuntimeError::Invalid { code, .. } => *code,
            RuntimeError::Config { .. } => Code::Unknown,
        }
    }

    /// The registry failure behind a pull error, when there is one.
    pub fn registry_cause(&self) -> Option<&RegistryError> {
        match self {
            RuntimeError::Pull { cause, .. } => cause.as_deref(),
            _ => None,
        }
    }

    /// The outcome word of `pullsim creds check` (`unauthorized`, `denied`, `not-found`,
    /// `rate-limited`, `unavailable`, `tls-error`; `error` without a registry cause).
    pub fn outcome(&self) -> &'static str {
        match self.registry_cause() {
            Some(c) => c.outcome(),
            None if self.code() == Code::NotFound => "not-found",
            None => "error",
        }
    }

    /// HTTP status of the refusing registry answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.registry_cause().and_then(RegistryError::status)
    }

    /// Registry error code (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`, …), when there was one.
    pub fn registry_code(&self) -> Option<&str> {
        self.registry_cause().and_then(RegistryError::registry_code)
    }

    /// The cause's own text (without the gRPC and containerd wrapping), for reports.
    pub fn cause_text(&self) -> String {
        match self {
            RuntimeError::Pull { cause: Some(c), .. } => c.to_string(),
            RuntimeError::Pull { desc, .. }
            | RuntimeError::Store { desc, .. }
            | RuntimeError::Invalid { desc, .. } => desc.clone(),
            RuntimeError::Config { message } => message.clone(),
        }
    }
}
