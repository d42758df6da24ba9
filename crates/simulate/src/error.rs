//! What can go wrong before a simulation runs: the scenario file and what it refers to.

use std::path::PathBuf;

/// A scenario that cannot be simulated. Every variant names the file and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not decode into a scenario (the decoder's message carries the line).
    #[error("{}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A field has a value the simulator cannot use.
    #[error("{}: {field}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field path (`pools.workers.downlink`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A manifest or secret file a workload names could not be read.
    #[error("{}: {field}: {message}", path.display())]
    Manifest {
        /// The scenario file.
        path: PathBuf,
        /// The field that names the manifest.
        field: String,
        /// The manifest reader's message (names the manifest file and document).
        message: String,
    },
}
