//! Reading Kubernetes manifests: files or directories of YAML or JSON, multi-document, with Pods,
//! pod templates (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob), `List`s,
//! Secrets and ServiceAccounts.
//!
//! Only the fields pullsim uses are read; everything else is ignored. What is read is validated,
//! and every error names the file, the document (1-based, counting non-empty documents) with its
//! kind and name, and the field path, e.g.
//! `pods.yaml: document 2 (Deployment "web"): spec.template.spec.containers[1].image: must be a non-empty string`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::manifest_objects::{pods_from_object, service_account_from_object};

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

/// Everything read from the inputs.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// Pods, in input order.
    pub pods: Vec<PodSpec>,
    /// Secret documents.
    pub secrets: Vec<SecretDocument>,
    /// ServiceAccounts.
    pub service_accounts: Vec<ServiceAccount>,
}

impl Manifests {
    /// Read every path (file or directory; a directory's `*.yaml`, `*.yml`, `*.json` files in
    /// name order, not recursive).
    pub fn load(paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
        let mut out = Manifests::default();
        for p in paths {
            for file in expand(p)? {
                let text = std::fs::read_to_string(&file).map_err(|error| ManifestError::Io {
                    path: file.clone(),
                    error,
                })?;
                out.add_text(&file, &text)?;
            }
        }
        Ok(out)
    }

    /// Parse one file's text (YAML, or JSON when it starts with `{` or `[`).
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), ManifestError> {
        let docs = parse_documents(file, text)?;
        for (i, doc) in docs.into_iter().enumerate() {
            self.add_object(file, i + 1, &doc, None)?;
        }
        Ok(())
    }

    fn add_object(
        &mut self,
        file: &Path,
        document: usize,
        doc: &Value,
        list_item: Option<usize>,
    ) -> Result<(), ManifestError> {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let shown_kind = if kind.is_empty() { "object" } else { kind };
        let described = if name.is_empty() {
            shown_kind.to_string()
        } else {
            format!("{shown_kind} {}", pullsim_policy::messages::go_quote(name))
        };
        let object = match list_item {
            Some(i) => format!("List item {i}: {described}"),
            None => described,
        };
        let origin = Origin {
            file: file.to_path_buf(),
            document,
            object,
        };
        if !doc.is_object() {
            return Err(ManifestError::Invalid {
                origin,
                field: "(document)".into(),
                message: format!("must be a mapping (an object), got {}", json_kind(doc)),
            });
        }
        match kind {
            "List" => {
                let items = match doc.get("items") {
                    None | Some(Value::Null) => return Ok(()),
                    Some(Value::Array(items)) => items,
                    Some(other) => {
                        return Err(ManifestError::Invalid {
                            origin,
                            field: "items".into(),
                            message: format!("must be a list, got {}", json_kind(other)),
                        });
                    }
                };
                for (i, item) in items.iter().enumerate() {
                    self.add_object(file, document, item, Some(i))?;
                }
                Ok(())
            }
            "Secret" => {
                let namespace = doc
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("default")
                    .to_string();
                if name.is_empty() {
                    return Err(ManifestError::Invalid {
                        origin,
                        field: "metadata.name".into(),
                        message: "must be a non-empty string".into(),
                    });
                }
                let secret_type = doc
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                self.secrets.push(SecretDocument {
                    namespace,
                    name: name.to_string(),
                    secret_type,
                    text: doc.to_string(),
                    origin,
                });
                Ok(())
            }
            "ServiceAccount" => {
                let sa = service_account_from_object(doc, &origin)?;
                self.service_accounts.push(sa);
                Ok(())
            }
            "" => Err(ManifestError::Invalid {
                origin,
                field: "kind".into(),
                message: "must be a non-empty string".into(),
            }),
            _ => {
                let pods = pods_from_object(kind, doc, &origin)?;
                self.pods.extend(pods);
                Ok(())
            }
        }
    }

    /// The ServiceAccount `namespace/name`, when present in the inputs.
    pub fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        self.service_accounts
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }
}

/// Files named by a path: the file itself, or a directory's manifest files in name order.
fn expand(path: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let meta = std::fs::metadata(path).map_err(|error| ManifestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|error| ManifestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|error| ManifestError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if p.is_file() && matches!(ext, "yaml" | "yml" | "json") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Split a file into its documents. JSON (first non-space character `{` or `[`) is read with
/// serde_json (one or more concatenated values); anything else as multi-document YAML.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Value>, ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut docs = Vec::new();
        for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            let v = v.map_err(|e| ManifestError::Syntax {
                path: file.to_path_buf(),
                format: "JSON",
                message: e.to_string(),
            })?;
            match v {
                // A bare JSON array of objects is treated like a List.
                Value::Array(items) => docs.extend(items),
                other => docs.push(other),
            }
        }
        return Ok(docs);
    }
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, yaml_options()).map_err(|e| {
            ManifestError::Syntax {
                path: file.to_path_buf(),
                format: "YAML",
                message: yaml_message(file, text, &e),
            }
        })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// serde-saphyr's limits, raised for real manifests: a `kubectl get -o yaml` dump of a large
/// cluster has thousands of documents (the default allows 1,024). The byte, depth, alias and
/// anchor limits stay at the library's defaults, so a billion-laughs file is still refused.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1_000_000,
            max_nodes: 20_000_000,
            max_events: 40_000_000,
        },
        with_snippet: false,
    }
}

/// The parser's message with an excerpt of the source around the error in which every line
/// that may hold a credential is redacted (line and column kept).
fn yaml_message(file: &Path, text: &str, e: &serde_saphyr::Error) -> String {
    let bare = e.without_snippet().to_string();
    match e.location() {
        Some(loc) => format!(
            "{bare}\n{}",
            crate::excerpt::excerpt(
                text,
                &file.display().to_string(),
                loc.line() as usize,
                loc.column() as usize,
                bare.rfind(" at line ")
                    .map_or(bare.as_str(), |i| &bare[..i]),
            )
        ),
        None => bare,
    }
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
