//! The types manifests are read into (a leaf module: the readers in `manifest` and
//! `manifest_objects` both use it).

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// Where an object came from: file, document number and the object's kind and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as given (or found in a directory).
    pub file: PathBuf,
    /// 1-based index of the document in the file (empty documents are not counted).
    pub document: usize,
    /// `Deployment "web"`, `Pod "api"`, `List item 3 (Pod "x")`.
    pub object: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} ({})",
            self.file.display(),
            self.document,
            self.object
        )
    }
}

/// Errors reading manifests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file or directory could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error (in the message, not chained: the message is printed once).
        error: std::io::Error,
    },
    /// The file is not valid YAML or JSON.
    #[error("{}: not valid {format}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// "YAML" or "JSON".
        format: &'static str,
        /// The parser's message (with its line and column).
        message: String,
    },
    /// A field pullsim uses has a wrong value.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// Where the object is.
        origin: Origin,
        /// The field path, e.g. `spec.containers[1].image`.
        field: String,
        /// What is wrong, with the actual value when it helps.
        message: String,
    },
    /// Secret documents that the credentials crate rejected.
    #[error("{origin}: {message}")]
    Secret {
        /// Where the Secret is.
        origin: Origin,
        /// The credentials crate's error.
        message: String,
    },
    /// An object in another namespace than `-n` names (kubectl's refusal).
    #[error("{}: document {document}: {mismatch}", path.display())]
    Namespace {
        /// The file.
        path: PathBuf,
        /// The document (1-based).
        document: usize,
        /// kubectl's message (in the text, not chained: printed once).
        mismatch: pullsim_credentials::namespace::NamespaceMismatch,
    },
    /// Nothing to run.
    #[error("no pods found in {what}")]
    NoPods {
        /// The inputs, listed.
        what: String,
    },
}

/// Which list of the pod spec an image comes from, in the kubelet's vocabulary.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageSource {
    /// `spec.initContainers[]`.
    InitContainer,
    /// `spec.containers[]`.
    Container,
    /// `spec.ephemeralContainers[]`.
    EphemeralContainer,
    /// `spec.volumes[].image` (image volumes, KEP-4639).
    ImageVolume,
}

impl ImageSource {
    /// The field name used in the kubelet's event field paths (`spec.containers{name}`).
    pub fn field(&self) -> &'static str {
        match self {
            ImageSource::InitContainer => "spec.initContainers",
            ImageSource::Container => "spec.containers",
            ImageSource::EphemeralContainer => "spec.ephemeralContainers",
            ImageSource::ImageVolume => "spec.volumes",
        }
    }

    /// Short word for reports: init, container, ephemeral, volume.
    pub fn word(&self) -> &'static str {
        match self {
            ImageSource::InitContainer => "init container",
            ImageSource::Container => "container",
            ImageSource::EphemeralContainer => "ephemeral container",
            ImageSource::ImageVolume => "image volume",
        }
    }
}

/// One image a pod needs: a container's image or an image volume's reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodImage {
    /// Where in the pod spec it is.
    pub source: ImageSource,
    /// Container name or volume name.
    pub name: String,
    /// The image string exactly as written.
    pub image: String,
    /// `imagePullPolicy` (or the volume's `pullPolicy`) as written; `None` when empty or absent
    /// (then the API server's defaulting applies).
    pub pull_policy: Option<pullsim_policy::PullPolicy>,
}

impl PodImage {
    /// The kubelet's field path for events: `spec.containers{app}`; image volumes have none.
    pub fn field_path(&self) -> Option<String> {
        match self.source {
            ImageSource::ImageVolume => None,
            s => Some(format!("{}{{{}}}", s.field(), self.name)),
        }
    }
}

/// A pod to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSpec {
    /// Namespace ("default" when not set).
    pub namespace: String,
    /// Pod name (the owner's name for a template).
    pub name: String,
    /// metadata.uid, or a deterministic UUID derived from namespace/name.
    pub uid: String,
    /// `spec.serviceAccountName` ("default" when empty).
    pub service_account: String,
    /// `spec.imagePullSecrets[].name`, in order (empty names kept; they are skipped when the
    /// secrets are resolved, as the kubelet does).
    pub image_pull_secrets: Vec<String>,
    /// Images: init containers, containers, ephemeral containers, image volumes, in spec order.
    pub images: Vec<PodImage>,
    /// Where the pod (or its template) was found.
    pub origin: Origin,
}

/// A ServiceAccount found in the inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `imagePullSecrets[].name`.
    pub image_pull_secrets: Vec<String>,
    /// `metadata.uid` (`None` when the manifest has none).
    pub uid: Option<String>,
    /// `metadata.annotations` (credential provider plugins read some, KEP-4412).
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A Secret document found in the inputs, kept as JSON text for the credentials crate.
#[derive(Clone, Debug)]
pub struct SecretDocument {
    /// Namespace ("default" when not set).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `type` (empty when absent).
    pub secret_type: String,
    /// The whole document as JSON (valid YAML) for `pullsim_credentials::parse_pull_secrets`.
    pub text: String,
    /// Where it was found.
    pub origin: Origin,
}

/// "a string", "a number", ... for error messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
