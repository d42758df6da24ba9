//! Reading pull secrets: Secret manifests (YAML or JSON, multi-document, `List`), and bare
//! `config.json` / `.dockercfg` files.
//!
//! What the kubelet does with a Secret (pkg/credentialprovider/secrets/secrets.go
//! `secretsToTrackedDockerConfigs`): type `kubernetes.io/dockerconfigjson` → the
//! `.dockerconfigjson` key parsed as `{"auths":{...}}`; type `kubernetes.io/dockercfg` → the
//! `.dockercfg` key parsed as a bare map; a missing or empty key contributes nothing; a JSON
//! error fails the lookup. `stringData` is merged over `data` as the API server does.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::auth::{self, DockerConfig, go_field};
use crate::error::CredentialsError;
use crate::gourl::go_quote;

/// `kubernetes.io/dockerconfigjson`.
pub const TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// `kubernetes.io/dockercfg`.
pub const TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
/// `.dockerconfigjson`.
pub const KEY_DOCKER_CONFIG_JSON: &str = ".dockerconfigjson";
/// `.dockercfg`.
pub const KEY_DOCKERCFG: &str = ".dockercfg";

/// What a set of credentials was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum SecretFormat {
    /// A Secret of type `kubernetes.io/dockerconfigjson`.
    DockerConfigJson,
    /// A Secret of type `kubernetes.io/dockercfg`.
    Dockercfg,
    /// A bare docker `config.json` (`{"auths":{...}}`).
    BareConfigJson,
    /// A bare legacy `.dockercfg` map.
    BareDockercfg,
}

/// A pull secret: a Secret (or a bare docker config file treated as one) and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSecret {
    /// Namespace (`default` when the manifest has none, and for bare files).
    pub namespace: String,
    /// Name (the file name for bare files).
    pub name: String,
    /// `metadata.uid`, when present.
    pub uid: Option<String>,
    /// Where the entries came from.
    pub format: SecretFormat,
    /// The registry entries, in file order. Empty when the kubelet would use nothing from it.
    pub entries: DockerConfig,
    /// The file it was read from.
    pub source_file: PathBuf,
    /// 1-based index among the non-empty YAML documents, when the file has several.
    pub document: Option<usize>,
    /// Credential helpers the docker config names (`"credsStore": "desktop"`, `"credHelpers"
    /// (gcr.io)`): the kubelet cannot run them, so what they keep never reaches the node.
    pub credential_helpers: Vec<String>,
}

/// A Secret whose type the kubelet does not read for image pulls (`Opaque`, TLS, …): present
/// in the namespace, contributing no credentials (secrets.go `MakeDockerKeyring` skips it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSecret {
    /// Namespace (`default` when the manifest has none).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The type as written (`Opaque` when absent).
    pub secret_type: String,
    /// The file it was read from.
    pub source_file: PathBuf,
    /// 1-based document index, when the file has several.
    pub document: Option<usize>,
}

/// Everything a secrets file holds: pull secrets, and Secrets of other types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretsRead {
    /// dockerconfigjson / dockercfg Secrets and bare docker config files, in file order.
    pub pull: Vec<PullSecret>,
    /// Secrets of other types, in file order.
    pub other: Vec<OtherSecret>,
}

/// One parsed YAML/JSON document (crate-internal: the value holds credentials).
pub(crate) struct Document {
    pub index: Option<usize>,
    pub value: Value,
}

/// Split text into documents: JSON when it starts with `{` or `[`, else YAML (multi-document).
/// Null (empty) documents are dropped.
pub(crate) fn parse_documents(
    text: &str,
    origin: &Path,
) -> Result<Vec<Document>, CredentialsError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(trimmed).map_err(|e| CredentialsError::Syntax {
            path: origin.to_path_buf(),
            document: None,
            message: format!("invalid JSON: {}", json_error_text(&e)),
        })?;
        return Ok(vec![Document { index: None, value }]);
    }
    let values: Vec<Value> =
        serde_saphyr::from_multiple(trimmed).map_err(|e| CredentialsError::Syntax {
            path: origin.to_path_buf(),
            document: None,
            message: format!("invalid YAML: {}", yaml_error_text(&e)),
        })?;
    let many = values.len() > 1;
    Ok(values
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .map(|(i, value)| Document {
            index: many.then_some(i + 1),
            value,
        })
        .collect())
}

/// serde_json's message: category + position only (never echoes input).
pub(crate) fn json_error_text(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// serde-saphyr's message without the source snippet, with the position when known.
pub(crate) fn yaml_error_text(e: &serde_saphyr::Error) -> String {
    let bare = e.without_snippet();
    match bare.location() {
        Some(loc) => format!(
            "syntax error at line {} column {}",
            loc.line(),
            loc.column()
        ),
        None => "syntax error".to_string(),
    }
}

/// Read pull secrets from a file: Secret manifests (YAML/JSON, multi-document, `List`) or a bare
/// `config.json` / `.dockercfg`. Non-Secret objects are skipped.
pub fn load_pull_secrets(path: &Path) -> Result<Vec<PullSecret>, CredentialsError> {
    parse_pull_secrets(&read_text(path)?, path)
}

/// Read a file as UTF-8 text; errors name the file (and the offset of a byte that is not UTF-8).
pub fn read_text(path: &Path) -> Result<String, CredentialsError> {
    let bytes = std::fs::read(path).map_err(|error| CredentialsError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|e| CredentialsError::Syntax {
        path: path.to_path_buf(),
        document: None,
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// [`load_pull_secrets`] on text already read; `origin` names it in errors.
pub fn parse_pull_secrets(text: &str, origin: &Path) -> Result<Vec<PullSecret>, CredentialsError> {
    parse_pull_secrets_in(text, origin, None)
}

/// [`parse_pull_secrets`] with kubectl's `-n NAMESPACE`: Secrets without a namespace take it, a
/// Secret in another namespace is refused ([`crate::namespace::require_namespace`]). A Secret of
/// a type the kubelet does not read for pulls is an error here ([`read_secrets_in`] keeps it).
pub fn parse_pull_secrets_in(
    text: &str,
    origin: &Path,
    namespace: Option<&str>,
) -> Result<Vec<PullSecret>, CredentialsError> {
    let read = read_secrets_in(text, origin, namespace)?;
    if let Some(o) = read.other.into_iter().next() {
        return Err(CredentialsError::UnsupportedSecretType {
            path: o.source_file,
            document: o.document,
            name: o.name,
            actual: o.secret_type,
        });
    }
    Ok(read.pull)
}

/// Every Secret of a file as the kubelet sees the namespace's secrets: pull secrets with their
/// entries, and Secrets of other types (present, no credentials). `-n` as
/// [`parse_pull_secrets_in`].
pub fn read_secrets_in(
    text: &str,
    origin: &Path,
    namespace: Option<&str>,
) -> Result<SecretsRead, CredentialsError> {
    let mut out = SecretsRead::default();
    for mut doc in parse_documents(text, origin)? {
        if let Some(ns) = namespace {
            crate::namespace::require_namespace(&mut doc.value, ns).map_err(|e| {
                CredentialsError::NotCredentials {
                    path: origin.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
        }
        let before = out.pull.len();
        collect(&doc.value, origin, doc.index, "", &mut out)?;
        // A bare config.json / .dockercfg has no metadata: it lands in the given namespace.
        if let Some(ns) = namespace
            && doc.value.get("kind").is_none()
        {
            for s in &mut out.pull[before..] {
                s.namespace = ns.to_string();
            }
        }
    }
    Ok(out)
}

fn field_err(
    origin: &Path,
    document: Option<usize>,
    field: String,
    message: String,
) -> CredentialsError {
    CredentialsError::Field {
        path: origin.to_path_buf(),
        document,
        field,
        message,
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn collect(
    value: &Value,
    origin: &Path,
    document: Option<usize>,
    prefix: &str,
    out: &mut SecretsRead,
) -> Result<(), CredentialsError> {
    let Value::Object(obj) = value else {
        return Err(CredentialsError::NotCredentials {
            path: origin.to_path_buf(),
            message: format!(
                "{}expected a Secret, a List or a docker config object",
                document
                    .map(|d| format!("document {d}: "))
                    .unwrap_or_default()
            ),
        });
    };
    match obj.get("kind") {
        Some(Value::String(kind)) if kind == "List" || kind.ends_with("List") => {
            let items = match obj.get("items") {
                None | Some(Value::Null) => return Ok(()),
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(field_err(
                        origin,
                        document,
                        join(prefix, "items"),
                        "must be a list".into(),
                    ));
                }
            };
            for (i, item) in items.iter().enumerate() {
                collect(
                    item,
                    origin,
                    document,
                    &join(prefix, &format!("items[{i}]")),
                    out,
                )?;
            }
            Ok(())
        }
        Some(Value::String(kind)) if kind == "Secret" => {
            match secret_from_object(obj, origin, document, prefix)? {
                Ok(s) => out.pull.push(s),
                Err(o) => out.other.push(o),
            }
            Ok(())
        }
        Some(Value::String(_)) => Ok(()), // another kind of object: not a pull secret
        Some(_) => Err(field_err(
            origin,
            document,
            join(prefix, "kind"),
            "must be a string".into(),
        )),
        None => {
            let name = origin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| origin.display().to_string());
            let helpers = auth::credential_helpers(value);
            let (format, entries) = if go_field(obj, "auths").is_some() || !helpers.is_empty() {
                let entries = auth::parse_config_json_value(value)
                    .map_err(|e| field_err(origin, document, join(prefix, &e.field), e.message))?;
                (SecretFormat::BareConfigJson, entries)
            } else {
                let entries = auth::parse_dockercfg_value(value, "")
                    .map_err(|e| field_err(origin, document, join(prefix, &e.field), e.message))?;
                (SecretFormat::BareDockercfg, entries)
            };
            out.pull.push(PullSecret {
                namespace: "default".into(),
                name,
                uid: None,
                format,
                entries,
                source_file: origin.to_path_buf(),
                document,
                credential_helpers: helpers,
            });
            Ok(())
        }
    }
}

/// The secret's data after merging `stringData` over base64-decoded `data`, as (key, bytes).
pub(crate) fn secret_data(
    obj: &serde_json::Map<String, Value>,
    origin: &Path,
    document: Option<usize>,
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>, CredentialsError> {
    let mut data: Vec<(String, Vec<u8>)> = Vec::new();
    let mut put = |k: &str, v: Vec<u8>| {
        if let Some(slot) = data.iter_mut().find(|(key, _)| key == k) {
            slot.1 = v;
        } else {
            data.push((k.to_string(), v));
        }
    };
    match obj.get("data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let field = join(prefix, &format!("data[{}]", go_quote(k)));
                match v {
                    Value::Null => put(k, Vec::new()),
                    Value::String(s) => {
                        let bytes = auth::go_base64_decode(s, true).map_err(|m| {
                            field_err(
                                origin,
                                document,
                                field.clone(),
                                format!("not valid base64: {m}"),
                            )
                        })?;
                        put(k, bytes);
                    }
                    _ => {
                        return Err(field_err(
                            origin,
                            document,
                            field,
                            "must be a base64 string".into(),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(field_err(
                origin,
                document,
                join(prefix, "data"),
                "must be a map".into(),
            ));
        }
    }
    match obj.get("stringData") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => put(k, s.clone().into_bytes()),
                    Value::Null => put(k, Vec::new()),
                    _ => {
                        let field = join(prefix, &format!("stringData[{}]", go_quote(k)));
                        return Err(field_err(
                            origin,
                            document,
                            field,
                            "must be a string".into(),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(field_err(
                origin,
                document,
                join(prefix, "stringData"),
                "must be a map".into(),
            ));
        }
    }
    Ok(data)
}

pub(crate) fn meta_string(obj: &serde_json::Map<String, Value>, field: &str) -> Option<String> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A Secret object: a pull secret (`Ok`), or one of another type (`Err`), or an error.
fn secret_from_object(
    obj: &serde_json::Map<String, Value>,
    origin: &Path,
    document: Option<usize>,
    prefix: &str,
) -> Result<Result<PullSecret, OtherSecret>, CredentialsError> {
    let name = meta_string(obj, "name").unwrap_or_default();
    let namespace = meta_string(obj, "namespace").unwrap_or_else(|| "default".into());
    let uid = meta_string(obj, "uid");
    let secret_type = match obj.get("type") {
        None | Some(Value::Null) => "Opaque".to_string(),
        Some(Value::String(t)) => t.clone(),
        Some(_) => {
            return Err(field_err(
                origin,
                document,
                join(prefix, "type"),
                "must be a string".into(),
            ));
        }
    };
    let data = secret_data(obj, origin, document, prefix)?;
    let get = |key: &str| {
        data.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    let (format, key) = match secret_type.as_str() {
        TYPE_DOCKER_CONFIG_JSON => (SecretFormat::DockerConfigJson, KEY_DOCKER_CONFIG_JSON),
        TYPE_DOCKERCFG => (SecretFormat::Dockercfg, KEY_DOCKERCFG),
        _ => {
            return Ok(Err(OtherSecret {
                namespace,
                name,
                secret_type,
                source_file: origin.to_path_buf(),
                document,
            }));
        }
    };
    let mut entries = Vec::new();
    let mut credential_helpers = Vec::new();
    if let Some(bytes) = get(key).filter(|b| !b.is_empty()) {
        let field = join(prefix, &format!("data[{}]", go_quote(key)));
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            field_err(
                origin,
                document,
                field.clone(),
                format!("invalid JSON: {}", json_error_text(&e)),
            )
        })?;
        if format == SecretFormat::DockerConfigJson {
            credential_helpers = auth::credential_helpers(&value);
        }
        let parsed = match format {
            SecretFormat::DockerConfigJson => auth::parse_config_json_value(&value),
            _ => auth::parse_dockercfg_value(&value, ""),
        };
        entries = parsed.map_err(|e| {
            let inner = if e.field.starts_with('[') {
                e.field.clone()
            } else {
                format!(".{}", e.field)
            };
            field_err(origin, document, format!("{field}{inner}"), e.message)
        })?;
    }
    Ok(Ok(PullSecret {
        namespace,
        name,
        uid,
        format,
        entries,
        source_file: origin.to_path_buf(),
        document,
        credential_helpers,
    }))
}
