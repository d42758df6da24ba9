//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store. Every variant names what is wrong and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation on a file of the store (or of an imported archive) failed.
    ///
    /// The OS reason is part of the message and deliberately not a `source()`, so that error
    /// reporters that print the whole chain say it once.
    #[error("{op} {path}: {error}")]
    Io {
        /// What was being done ("open", "rename", "read", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The redb index could not be opened or used.
    #[error("index {path}: {message}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What redb reported.
        message: String,
    },
    /// The index file is damaged, empty or missing while the layout lists images. Read-only
    /// operations still work from the layout (`index.json` and the blobs); writes refuse until
    /// `pullsim images verify --repair` has rebuilt the index from the layout.
    #[error(
        "the store index {path} is unusable: {reason}; the images are still listed in the store's \
         index.json: run `pullsim images verify --repair` to rebuild the index from it"
    )]
    IndexUnusable {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it (as found: redb's message, "empty (0 bytes)", "missing").
        reason: String,
    },
    /// Input larger than a fixed limit (a manifest, an index, a config, decompressed data).
    #[error("{what} {path} is larger than the limit of {limit} bytes: {detail}")]
    TooLarge {
        /// What was being read ("manifest", "gzip archive", ...).
        what: String,
        /// The file or archive entry.
        path: String,
        /// The limit in bytes.
        limit: u64,
        /// The actual or declared size, or how the limit was derived.
        detail: String,
    },
    /// A directory load met a symbolic link or a path that leaves the directory.
    #[error("{path}: {reason}; directory loads read only regular files inside the directory")]
    UnsafePath {
        /// The entry as named in the layout or archive (e.g. `../file`).
        path: String,
        /// "is a symbolic link", "leaves the directory", ...
        reason: String,
    },
    /// Another process held the index lock for longer than the bounded wait.
    #[error(
        "the store lock on {path} is held by another pullsim process; gave up after {waited_ms} ms"
    )]
    LockTimeout {
        /// The index file.
        path: PathBuf,
        /// How long this process waited.
        waited_ms: u64,
    },
    /// Committed content has a different digest than expected.
    #[error("digest mismatch for {what}: got {actual} but expected {expected}")]
    DigestMismatch {
        /// What was being written (ingest ref or archive file).
        what: String,
        /// The digest that was expected.
        expected: String,
        /// The digest of the bytes actually written.
        actual: String,
    },
    /// Committed content has a different size than expected.
    #[error("size mismatch for {what} ({digest}): got {actual} bytes but expected {expected}")]
    SizeMismatch {
        /// What was being written (ingest ref or archive file).
        what: String,
        /// The expected digest of the blob.
        digest: String,
        /// The expected size in bytes.
        expected: u64,
        /// The number of bytes actually written.
        actual: u64,
    },
    /// Only sha256 digests can be stored.
    #[error("unsupported digest algorithm in {digest}: the store keeps sha256 blobs only")]
    UnsupportedDigest {
        /// The digest.
        digest: String,
    },
    /// A blob is not in the store.
    #[error("blob {digest} not found{context}")]
    BlobNotFound {
        /// The missing blob.
        digest: String,
        /// Where it was needed (" (referenced by ...)"), possibly empty.
        context: String,
    },
    /// A record or document could not be (de)serialized.
    #[error("invalid {what} in {path}: {message}")]
    Invalid {
        /// What was being read ("manifest", "index.json", "image record", ...).
        what: String,
        /// The file (or index key) it came from.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A media type the store does not know.
    #[error("unknown media type {media_type:?} for blob {digest} in {path}")]
    UnknownMediaType {
        /// The media type as written.
        media_type: String,
        /// The blob that carries it.
        digest: String,
        /// The file that declares it.
        path: String,
    },
    /// An image reference could not be parsed.
    #[error("invalid image reference {reference:?} in {context}: {message}")]
    InvalidReference {
        /// The text.
        reference: String,
        /// Where it came from.
        context: String,
        /// The parser's message.
        message: String,
    },
    /// A short image ID matches more than one image.
    #[error("image ID prefix {prefix:?} is ambiguous: it matches {count} images")]
    AmbiguousId {
        /// The prefix given.
        prefix: String,
        /// How many distinct image IDs it matches.
        count: usize,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            error,
        }
    }

    /// A redb error: damage (corruption, an unknown format) makes the index unusable; anything
    /// else (I/O errors such as a full disk) is reported as it is.
    pub(crate) fn index(path: impl Into<PathBuf>, e: impl Into<redb::Error>) -> Self {
        let e: redb::Error = e.into();
        match e {
            redb::Error::Corrupted(_)
            | redb::Error::UpgradeRequired(_)
            | redb::Error::TableTypeMismatch { .. }
            | redb::Error::TypeDefinitionChanged { .. }
            | redb::Error::TableIsMultimap(_) => StoreError::IndexUnusable {
                path: path.into(),
                reason: e.to_string(),
            },
            // Not a redb file (bad magic number) or cut short.
            redb::Error::Io(ref io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                StoreError::IndexUnusable {
                    path: path.into(),
                    reason: e.to_string(),
                }
            }
            other => StoreError::Index {
                path: path.into(),
                message: other.to_string(),
            },
        }
    }

    /// Whether this is [`StoreError::IndexUnusable`].
    pub fn is_index_unusable(&self) -> bool {
        matches!(self, StoreError::IndexUnusable { .. })
    }
}
