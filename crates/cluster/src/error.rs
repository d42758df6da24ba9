//! The errors of reading a cluster: each names what was asked (the API path, the context, the
//! TYPE/NAME) and what was wrong.

/// An error talking to the Kubernetes API or preparing what is sent to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A TYPE/NAME argument that pullsim cannot read.
    #[error("{given:?}: {why}")]
    Target {
        /// The argument as given.
        given: String,
        /// What is wrong with it.
        why: String,
    },
    /// The kubeconfig (or the in-cluster configuration) could not be loaded.
    #[error("loading the cluster configuration{}: {message}", context_words(.context))]
    Config {
        /// `--context`, when given.
        context: Option<String>,
        /// The loader's message (it names the file or the missing variable).
        message: String,
    },
    /// The API server answered with a Status other than success. Shown as kubectl shows it
    /// (k8s.io/kubectl/pkg/cmd/util/helpers.go@v0.34.0 StandardErrorMessage).
    #[error("{}", kubectl_status_message(.reason, .message))]
    Api {
        /// HTTP method.
        method: &'static str,
        /// The API path asked.
        path: String,
        /// HTTP status code.
        code: u16,
        /// The Status reason (`NotFound`, `Forbidden`, ...), possibly empty.
        reason: String,
        /// The Status message.
        message: String,
    },
    /// The request did not get an answer (connection refused, TLS, exec credential plugin...).
    #[error("{method} {server}{path}: {message}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// The API server's URL.
        server: String,
        /// The API path asked.
        path: String,
        /// What failed.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("{method} {path}: the API server's answer is not {expected}: {message}")]
    Decode {
        /// HTTP method.
        method: &'static str,
        /// The API path asked.
        path: String,
        /// What was expected.
        expected: &'static str,
        /// The parser's message.
        message: String,
    },
    /// An object read from the cluster that the manifest reader refused.
    #[error(transparent)]
    Manifest(#[from] pullsim_node::ManifestError),
    /// The DaemonSet manifest (deploy/daemonset.yaml) does not have the expected shape.
    #[error("deploy/daemonset.yaml: {field}: {message}")]
    DaemonSet {
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `nodes check` was interrupted (Ctrl-C) after cleaning up.
    #[error("interrupted: deleted what was created ({deleted})")]
    Interrupted {
        /// What was deleted, e.g. `daemonset pullsim-system/pullsim-node-check`.
        deleted: String,
    },
}

impl ClusterError {
    /// The HTTP status of an API error (404, 403, 409...), if this is one.
    pub fn api_code(&self) -> Option<u16> {
        match self {
            ClusterError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn context_words(context: &Option<String>) -> String {
    match context {
        Some(c) => format!(" (context {c:?})"),
        None => String::new(),
    }
}

/// kubectl's rendering of an API Status error (StandardErrorMessage, helpers.go@v0.34.0):
/// `error: You must be logged in to the server (MSG)` for Unauthorized, `Error from server
/// (REASON): MSG` when there is a reason, `Error from server: MSG` otherwise.
pub fn kubectl_status_message(reason: &str, message: &str) -> String {
    if reason == "Unauthorized" {
        format!("error: You must be logged in to the server ({message})")
    } else if !reason.is_empty() {
        format!("Error from server ({reason}): {message}")
    } else {
        format!("Error from server: {message}")
    }
}
