//! Per-blob progress callbacks.

use pullsim_reference::Digest;

/// Receives progress of each blob of a pull. Called from the pulling task; implementations
/// must be cheap (update a counter or a progress bar).
pub trait Progress: Send + Sync {
    /// A blob starts (or is found in the store); `size` is its total size.
    fn layer_started(&self, digest: &Digest, size: u64);
    /// `bytes` of the blob are now in the store (cumulative, including resumed bytes).
    fn layer_progress(&self, digest: &Digest, bytes: u64);
    /// The blob is committed (or was already present).
    fn layer_done(&self, digest: &Digest);
}

/// Ignores all progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn layer_started(&self, _: &Digest, _: u64) {}
    fn layer_progress(&self, _: &Digest, _: u64) {}
    fn layer_done(&self, _: &Digest) {}
}
