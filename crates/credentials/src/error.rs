//! [`CredentialsError`]: every failure of this crate, naming the file, document and field, and
//! [`PluginError`], a failed credential-provider plugin run (a leaf: this module uses no other).
//! No variant ever carries a credential value.

use std::path::PathBuf;

/// Errors from reading secrets, docker configs, plugin configs and plugins.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (shown in the message, so it is not also a `source()`: error chains
        /// printed with `{:#}` would say it twice).
        error: std::io::Error,
    },
    /// The text is not valid YAML / JSON.
    #[error("{}{}: {message}", path.display(), doc_suffix(*document))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based YAML document index, when the file has several.
        document: Option<usize>,
        /// Parser message (line/column included; never the input text).
        message: String,
    },
    /// A field has the wrong shape or an invalid value.
    #[error("{}{}: field {field}: {message}", path.display(), doc_suffix(*document))]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based document index.
        document: Option<usize>,
        /// The field, as a path (`data[".dockerconfigjson"]`, `auths["r.io"].auth`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A Secret whose type the kubelet does not use for image pulls.
    #[error(
        "{}{}: field type: secret {name:?} has type {actual:?}; pull secrets must be \
         \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"",
        path.display(), doc_suffix(*document)
    )]
    UnsupportedSecretType {
        /// The file.
        path: PathBuf,
        /// 1-based document index.
        document: Option<usize>,
        /// Secret name.
        name: String,
        /// The type as written.
        actual: String,
    },
    /// The file holds nothing this crate can read as credentials.
    #[error("{}: {message}", path.display())]
    NotCredentials {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        message: String,
    },
    /// A credential provider config is invalid (upstream's text).
    #[error("{}: {message}", path.display())]
    PluginConfig {
        /// The config file.
        path: PathBuf,
        /// The kubelet's message, e.g. `failed to validate credential provider config: ...`.
        message: String,
    },
    /// Running a credential provider plugin failed (upstream's text).
    #[error("{0}")]
    Plugin(#[from] PluginError),
}

/// A plugin run failed; `message` is the kubelet's text (never contains the response body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// Provider name.
    pub provider: String,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "credential provider {}: {}", self.provider, self.message)
    }
}

impl std::error::Error for PluginError {}

fn doc_suffix(document: Option<usize>) -> String {
    match document {
        Some(n) => format!(" (document {n})"),
        None => String::new(),
    }
}
