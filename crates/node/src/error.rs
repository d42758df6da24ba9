//! The node's errors: typed, each naming what was found and what was expected.

use std::path::PathBuf;

use pullsim_runtime::RuntimeError;

use crate::shared::go_aggregate;

/// A failure of the KEP-2535 pull-record storage (pkg/kubelet/images/pullmanager).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// A file or directory could not be read, written, renamed or removed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done (`failed to read`, `failed to create temporary file`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A record file is not a valid record of the expected kind, in the kubelet's wording
    /// (fs_pullrecords.go: `failed to deserialize content of file %q into ImagePulledRecord: %w`).
    #[error("failed to deserialize content of file {path:?} into {kind}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The expected kind (`ImagePullIntent` or `ImagePulledRecord`).
        kind: &'static str,
        /// What is wrong (the strict decoder's complaint, or the kind/version found).
        message: String,
    },
    /// A record could not be encoded.
    #[error("failed to serialize {kind}: {message}")]
    Encode {
        /// `ImagePullIntent` or `ImagePulledRecord`.
        kind: &'static str,
        /// The encoder's complaint.
        message: String,
    },
    /// An in-memory accessor's lock was poisoned by a panicking thread.
    #[error("pull records unavailable: a thread panicked while holding the {what} lock")]
    Poisoned {
        /// Which lock.
        what: &'static str,
    },
    /// Several failures while listing a directory (partial success), joined as Go's
    /// `utilerrors.NewAggregate` prints them.
    #[error("{}", go_aggregate(.0.iter().map(ToString::to_string)))]
    Aggregate(Vec<RecordsError>),
}

/// Every failure of the node's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The pull records could not be read or written.
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// A CRI call failed (the runtime's own text).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// An image name that does not parse: the kubelet's `couldn't parse image name %q: %v`
    /// (pkg/util/parsers/parsers.go) around distribution/reference's text.
    #[error("{message}")]
    InvalidImage {
        /// The image as written.
        image: String,
        /// The kubelet's text.
        message: String,
    },
    /// A record from an older pullsim store could not be read during the migration.
    #[error("legacy {kind} #{index}: {message}")]
    Legacy {
        /// `pulled record` or `pull intent`.
        kind: &'static str,
        /// 0-based position in the list handed over.
        index: usize,
        /// The JSON decoder's complaint (never the record's content).
        message: String,
    },
    /// The secrets of a one-container pod must share one namespace (a pod only references
    /// secrets of its own namespace).
    #[error(
        "pull secrets from different namespaces: {name:?} is in {found:?}, expected {expected:?} (the namespace of the first secret)"
    )]
    SecretNamespace {
        /// The secret in another namespace.
        name: String,
        /// Its namespace.
        found: String,
        /// The first secret's namespace.
        expected: String,
    },
    /// Image GC could not plan (`invalid capacity 0 on image filesystem`, invalid thresholds).
    #[error(transparent)]
    Policy(#[from] pullsim_policy::PolicyError),
}

impl NodeError {
    /// The kubelet's InvalidImageName text for an image the parser refuses.
    pub(crate) fn invalid_image(image: &str, e: &pullsim_reference::ParseError) -> NodeError {
        NodeError::InvalidImage {
            image: image.to_string(),
            message: e.upstream(),
        }
    }
}
