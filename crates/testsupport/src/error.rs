//! The error type of the registry harness.

use std::path::PathBuf;
use std::time::Duration;

/// Errors of starting, using and stopping a test registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A file or directory could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started (not installed?).
    #[error(
        "cannot run {program}: {source} (scripts/setup installs docker-registry, skopeo and apache2-utils)"
    )]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper program ran but failed.
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        /// The program and what it was doing.
        program: String,
        /// Its exit status.
        status: String,
        /// Its standard error, with credentials redacted.
        stderr: String,
    },
    /// The registry did not answer `GET /v2/` in time.
    #[error("registry on {host} did not answer GET /v2/ within {waited:?}; log {log_file}:\n{log}")]
    NotReady {
        /// The address it was told to listen on.
        host: String,
        /// How long we waited.
        waited: Duration,
        /// The registry's log file.
        log_file: PathBuf,
        /// The end of the log.
        log: String,
    },
    /// The registry process exited during start-up.
    #[error("registry for {host} exited during start-up; log {log_file}:\n{log}")]
    Exited {
        /// The address it was told to listen on.
        host: String,
        /// The registry's log file.
        log_file: PathBuf,
        /// The end of the log.
        log: String,
    },
    /// Making a key or certificate failed.
    #[error("generating the {what}: {reason}")]
    Certificate {
        /// Which key or certificate.
        what: &'static str,
        /// What failed.
        reason: String,
    },
    /// The token server could not be started.
    #[error("token server: {reason}")]
    TokenServer {
        /// What failed.
        reason: String,
    },
    /// A configuration value is not usable.
    #[error("registry config: field {field}: {reason}")]
    Config {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Generating a test image failed.
    #[error("generating a test image: {source}")]
    Image {
        /// The underlying error.
        #[source]
        source: crate::image::ImageError,
    },
    /// An environment file written by `pullsim-testreg serve` could not be used.
    #[error("environment file {path}: {reason}")]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
