//! Where a pull puts what it fetches: a narrow blob sink in the shape of containerd's content
//! store (`core/content/content.go`: `Provider` to read, `Ingester` to write).
//!
//! The registry client only needs four things from a store: whether a blob is present (skip
//! it), a small blob's bytes (manifests and configs already stored), a resumable writer per
//! blob (containerd's `Writer`: `Status().Offset`, `Write`, `Truncate`, `Commit` with the
//! expected size and digest), and a whole-blob put for manifests. The container runtime
//! implements it over its content store; the client never records images.
//!
//! Contracts of an implementation:
//! - [`BlobSink::has`] is true only for committed (verified) content.
//! - A [`BlobWrite`] hashes the bytes as they arrive, and its [`BlobWrite::commit`] checks the
//!   size and the digest before the blob becomes visible; a mismatch is a
//!   [`SinkError::DigestMismatch`] or [`SinkError::SizeMismatch`] and nothing is stored.
//! - A writer dropped without commit keeps its partial data for a later resume (its
//!   [`BlobWrite::offset`] then says where to continue); [`BlobWrite::abort`] discards it.
//! - The client holds the sink as an `Arc<dyn BlobSink>` and calls [`BlobSink::writer`],
//!   [`BlobSink::put`] and [`BlobSink::read_small`] on blocking threads (they may wait for a
//!   lock, read files, fsync); only [`BlobSink::has`] runs on the async threads, so it must not
//!   block (a `stat`). Writers are used from a blocking thread too: `write_bytes`, `truncate`
//!   and `commit` may block.

use bytes::Bytes;
use pullsim_reference::Digest;

/// What a successful commit or put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Committed {
    /// The blob was written and is now visible.
    Stored,
    /// The blob was already present (written by someone else); nothing changed.
    AlreadyExists,
}

/// A failure of the blob sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The bytes written do not hash to the expected digest (nothing was stored).
    #[error("digest mismatch for {what}: got {actual} but expected {expected}")]
    DigestMismatch {
        /// What was written (the ingest ref).
        what: String,
        /// The digest expected.
        expected: Digest,
        /// The digest of the bytes written.
        actual: Digest,
    },
    /// The number of bytes written is not the expected size (nothing was stored).
    #[error("size mismatch for {what} ({digest}): got {actual} bytes but expected {expected}")]
    SizeMismatch {
        /// What was written (the ingest ref).
        what: String,
        /// The blob's expected digest.
        digest: Digest,
        /// The expected size in bytes.
        expected: u64,
        /// The number of bytes written.
        actual: u64,
    },
    /// Writing bytes into an open writer failed.
    #[error("writing {what}: {source}")]
    Write {
        /// What was being written (the ingest ref).
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store behind the sink failed (its own error, worded by the store).
    #[error("{source}")]
    Store {
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One blob being written (containerd's `content.Writer`). Moved to a blocking thread by the
/// fetcher; dropping it without [`BlobWrite::commit`] keeps the partial data for a resume.
pub trait BlobWrite: Send {
    /// Bytes already written (found when resuming): the fetch continues its source from here.
    fn offset(&self) -> u64;
    /// True when the blob was already present when the writer opened (written meanwhile by
    /// another writer of the same ref): nothing needs to be fetched.
    fn already_exists(&self) -> bool;
    /// Write a chunk the caller owns (a network buffer), hashing it on the way.
    fn write_bytes(&mut self, chunk: Bytes) -> Result<(), SinkError>;
    /// Discard what was written and start again at offset 0 (the server ignored a `Range`).
    fn truncate(&mut self) -> Result<(), SinkError>;
    /// Verify size and digest and make the blob visible.
    fn commit(self: Box<Self>) -> Result<Committed, SinkError>;
    /// Discard the partial data.
    fn abort(self: Box<Self>);
}

/// Where a pull stores blobs and manifests (containerd's `content.Provider` + `Ingester`,
/// reduced to what a pull uses). Shared with blocking threads as an `Arc<dyn BlobSink>`.
pub trait BlobSink: Send + Sync {
    /// Whether the blob is present (committed, hence verified). Called on an async thread:
    /// must not block.
    fn has(&self, digest: &Digest) -> bool;
    /// A present small blob's bytes (manifests, configs); `Ok(None)` when absent.
    fn read_small(&self, digest: &Digest) -> Result<Option<Vec<u8>>, SinkError>;
    /// A writer for one blob under `ingest_ref` (`REPOSITORY@DIGEST`), resuming an interrupted
    /// write of the same ref; waits while another writer holds the same ref.
    fn writer(
        &self,
        ingest_ref: &str,
        expected: &Digest,
        size: u64,
    ) -> Result<Box<dyn BlobWrite>, SinkError>;
    /// Store whole bytes that must hash to `digest` (manifests).
    fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<Committed, SinkError>;
}
