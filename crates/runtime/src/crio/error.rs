//! The outcome of one source's attempt and the error CRI-O answers `PullImage` with.

use pullsim_registry::RegistryError;

use crate::error::{Code, RuntimeError};

/// How one source's attempt ended: failed while getting its manifest (CRI-O then tries the next
/// source), or after the manifest (no fallback: the chosen source serves every blob).
#[derive(Debug)]
pub enum SourceFailure {
    /// Resolving or reading the manifest failed: the next source is tried
    /// (`newImageSourceAttempt` fails, `newImageSource` goes on).
    Manifest(RegistryError),
    /// The manifest was read, then the content failed: the pull fails with this source's error.
    Content(RegistryError),
    /// As [`SourceFailure::Content`], for an image chosen from an index (containers/image then
    /// says `copying system image from manifest list: …`).
    ContentThroughIndex(RegistryError),
}

/// One source tried and failed, as CRI-O's combined error lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSource {
    /// The source's reference (`pullSource.Reference.String()`).
    pub reference: String,
    /// containers/image's error text for it.
    pub text: String,
}

/// The error as the kubelet receives it from CRI-O: `rpc error: code = Unknown desc = …`.
#[derive(Debug, thiserror::Error)]
#[error("rpc error: code = {code} desc = {desc}")]
pub struct CrioPullError {
    /// The gRPC code (`Unknown`: CRI-O returns plain Go errors).
    pub code: Code,
    /// The image as the kubelet asked for it.
    pub image: String,
    /// CRI-O's description, e.g. `(Mirrors also failed: [..]): PRIMARY: ERR` wrapped as the
    /// chosen CRI-O version does.
    pub desc: String,
    /// The sources tried and failed, in order (the primary last when every source failed).
    pub attempts: Vec<FailedSource>,
    /// The registry failure of the last source tried, when the registry was reached or refused
    /// (`None` for a blocked source or a configuration error).
    pub cause: Option<Box<RegistryError>>,
}

impl From<CrioPullError> for RuntimeError {
    fn from(e: CrioPullError) -> RuntimeError {
        RuntimeError::Pull {
            code: e.code,
            image: e.image,
            desc: e.desc,
            cause: e.cause,
            // The source whose error ended the pull: the last one tried.
            host: e.attempts.last().map(|a| a.reference.clone()),
        }
    }
}
