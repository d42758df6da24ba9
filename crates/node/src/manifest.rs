//! Reading Kubernetes manifests: files or directories of YAML or JSON, multi-document, with Pods,
//! pod templates (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob), `List`s,
//! Secrets and ServiceAccounts.
//!
//! Only the fields pullsim uses are read; everything else is ignored. What is read is validated,
//! and every error names the file, the document (1-based, counting non-empty documents) with its
//! kind and name, and the field path, e.g.
//! `pods.yaml: document 2 (Deployment "web"): spec.template.spec.containers[1].image: must be a non-empty string`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::manifest_objects::{pods_from_object, service_account_from_object};
use crate::manifest_types::json_kind;
pub use crate::manifest_types::{
    ImageSource, ManifestError, Origin, PodImage, PodSpec, SecretDocument, ServiceAccount,
};

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
        Self::load_in(paths, None)
    }

    /// [`Manifests::load`] with kubectl's `-n NAMESPACE`: objects without a namespace take it,
    /// an object in another namespace is refused with kubectl's message.
    pub fn load_in(paths: &[PathBuf], namespace: Option<&str>) -> Result<Manifests, ManifestError> {
        let mut out = Manifests::default();
        for p in paths {
            for file in expand(p)? {
                let text = std::fs::read_to_string(&file).map_err(|error| ManifestError::Io {
                    path: file.clone(),
                    error,
                })?;
                out.add_text_in(&file, &text, namespace)?;
            }
        }
        Ok(out)
    }

    /// Parse one file's text (YAML, or JSON when it starts with `{` or `[`).
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), ManifestError> {
        self.add_text_in(file, text, None)
    }

    /// [`Manifests::add_text`] with kubectl's `-n NAMESPACE` (see [`Manifests::load_in`]).
    pub fn add_text_in(
        &mut self,
        file: &Path,
        text: &str,
        namespace: Option<&str>,
    ) -> Result<(), ManifestError> {
        let docs = parse_documents(file, text)?;
        for (i, mut doc) in docs.into_iter().enumerate() {
            if let Some(ns) = namespace {
                pullsim_credentials::namespace::require_namespace(&mut doc, ns).map_err(
                    |mismatch| ManifestError::Namespace {
                        path: file.to_path_buf(),
                        document: i + 1,
                        mismatch,
                    },
                )?;
            }
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
    let bare = crate::excerpt::parser_message(
        text,
        e.location().map(|loc| loc.line() as usize),
        &e.without_snippet().to_string(),
    );
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
