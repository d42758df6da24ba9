//! `kubectl create secret docker-registry NAME --dry-run=client`, byte for byte.
//!
//! Ported from staging/src/k8s.io/kubectl/pkg/cmd/create/create_secret_docker.go (payload
//! `{"auths":{SERVER:{"username","password","email","auth"}}}`, empty fields omitted, Go's
//! HTML-safe JSON escaping), create_secret.go (`--from-file` sources, key validation, duplicate
//! keys), staging/src/k8s.io/kubectl/pkg/util/hash/hash.go (`--append-hash`), and kubectl's JSON
//! (4-space indent, `kind, apiVersion, metadata{name, namespace, creationTimestamp}, data, type`)
//! and YAML (sorted keys) printers. Checked against kubectl 1.32 by golden tests.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::auth::go_json_string;
use crate::goyaml;
use crate::secret::Secret;

/// kubectl's default `--docker-server`.
pub const DEFAULT_SERVER: &str = "https://index.docker.io/v1/";

/// The options of `create secret docker-registry`.
#[derive(Debug, Clone, Default)]
pub struct DockerRegistryOptions {
    /// NAME.
    pub name: String,
    /// `-n/--namespace` (`None`: no namespace in the output, as kubectl without `-n`).
    pub namespace: Option<String>,
    /// `--docker-server`.
    pub server: String,
    /// `--docker-username`.
    pub username: String,
    /// `--docker-password`.
    pub password: Secret,
    /// `--docker-email`.
    pub email: String,
    /// `--from-file` sources (`path` or `key=path`), in order.
    pub from_files: Vec<String>,
    /// `--append-hash`.
    pub append_hash: bool,
    /// `--save-config`: the `kubectl.kubernetes.io/last-applied-configuration` annotation.
    pub save_config: bool,
}

/// A failure, with kubectl's message (printed as `error: MESSAGE`, exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubectlError(pub String);

impl std::fmt::Display for KubectlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KubectlError {}

/// The Secret kubectl would create. Holds credentials: not `Debug`.
pub struct SecretObject {
    /// metadata.name (with the hash suffix when `--append-hash`).
    pub name: String,
    /// metadata.namespace.
    pub namespace: Option<String>,
    /// data, sorted by key (Go marshals maps with sorted keys).
    pub data: Vec<(String, Vec<u8>)>,
    /// The `kubectl.kubernetes.io/last-applied-configuration` annotation (`--save-config`).
    pub last_applied: Option<String>,
}

/// The annotation `--save-config` writes (apply.LastAppliedConfigAnnotation).
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// No `-o`: `secret/NAME created (dry run)`.
    Default,
    /// `-o json`.
    Json,
    /// `-o yaml`.
    Yaml,
    /// `-o name`: `secret/NAME`.
    Name,
}

/// kubectl `validation.IsConfigMapKey`: the messages for an invalid key.
pub fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        errs.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                .to_string(),
        );
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// kubectl `ParseFileSource`.
pub fn parse_file_source(source: &str) -> Result<(String, String), KubectlError> {
    let n = source.matches('=').count();
    if n == 0 {
        let base = Path::new(source)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| go_path_base(source));
        return Ok((base, source.to_string()));
    }
    if n == 1 && source.starts_with('=') {
        return Err(KubectlError(format!(
            "key name for file path {} missing",
            &source[1..]
        )));
    }
    if n == 1 && source.ends_with('=') {
        return Err(KubectlError(format!(
            "file path for key name {} missing",
            &source[..source.len() - 1]
        )));
    }
    if n > 1 {
        return Err(KubectlError(
            "key names or file paths cannot contain '='".into(),
        ));
    }
    let (k, p) = source.split_once('=').unwrap_or((source, ""));
    Ok((k.to_string(), p.to_string()))
}

/// Go's `path.Base` for the odd inputs `Path::file_name` has no answer for (`/`, `..`).
fn go_path_base(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// `handleDockerCfgJSONContent`: the `.dockerconfigjson` payload.
pub fn docker_config_json(server: &str, username: &str, password: &str, email: &str) -> Vec<u8> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut entry = Vec::new();
    for (k, v) in [
        ("username", username),
        ("password", password),
        ("email", email),
        ("auth", auth.as_str()),
    ] {
        if !v.is_empty() {
            entry.push(format!("{}:{}", go_json_string(k), go_json_string(v)));
        }
    }
    format!(
        "{{\"auths\":{{{}:{{{}}}}}}}",
        go_json_string(server),
        entry.join(",")
    )
    .into_bytes()
}

fn add_key(
    data: &mut Vec<(String, Vec<u8>)>,
    key: &str,
    value: Vec<u8>,
) -> Result<(), KubectlError> {
    let errs = config_map_key_errors(key);
    if !errs.is_empty() {
        return Err(KubectlError(format!(
            "{} is not valid key name for a Secret {}",
            crate::gourl::go_quote(key),
            errs.join(";")
        )));
    }
    if data.iter().any(|(k, _)| k == key) {
        return Err(KubectlError(format!(
            "cannot add key {key}, another key by that name already exists"
        )));
    }
    data.push((key.to_string(), value));
    Ok(())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

/// `createSecretDockerRegistry` (after `Validate`): build the Secret.
pub fn build(opts: &DockerRegistryOptions) -> Result<SecretObject, KubectlError> {
    let mut data: Vec<(String, Vec<u8>)> = Vec::new();
    if !opts.from_files.is_empty() {
        for source in &opts.from_files {
            // kubectl 1.32 gives a bare path the key .dockerconfigjson (checked against kubectl:
            // a directory then fails with "cannot give a key name for a directory path").
            let source = if source.contains('=') {
                source.clone()
            } else {
                format!(".dockerconfigjson={source}")
            };
            let (key, path) = parse_file_source(&source)?;
            let meta = std::fs::metadata(&path)
                .map_err(|e| KubectlError(format!("error reading {path}: {}", io_reason(&e))))?;
            if meta.is_dir() {
                return Err(KubectlError(
                    "cannot give a key name for a directory path".into(),
                ));
            }
            let bytes = std::fs::read(PathBuf::from(&path))
                .map_err(|e| KubectlError(format!("open {path}: {}", io_reason(&e))))?;
            add_key(&mut data, &key, bytes)?;
        }
    } else {
        let payload = docker_config_json(
            &opts.server,
            &opts.username,
            opts.password.expose(),
            &opts.email,
        );
        data.push((".dockerconfigjson".into(), payload));
    }
    data.sort_by(|a, b| a.0.cmp(&b.0));
    let mut obj = SecretObject {
        name: opts.name.clone(),
        namespace: opts.namespace.clone(),
        data,
        last_applied: None,
    };
    if opts.append_hash {
        obj.name = format!("{}-{}", obj.name, obj.hash());
    }
    if opts.save_config {
        // util.CreateOrUpdateAnnotation: the object (hashed name included) as compact JSON,
        // then a newline.
        obj.last_applied = Some(obj.compact_json() + "\n");
    }
    Ok(obj)
}

/// Validate as `CreateSecretDockerRegistryOptions.Validate`.
pub fn validate(opts: &DockerRegistryOptions) -> Result<(), KubectlError> {
    if opts.name.is_empty() {
        return Err(KubectlError("name must be specified".into()));
    }
    if opts.from_files.is_empty()
        && (opts.username.is_empty() || opts.password.is_empty() || opts.server.is_empty())
    {
        return Err(KubectlError(
            "either --from-file or the combination of --docker-username, --docker-password and --docker-server is required"
                .into(),
        ));
    }
    Ok(())
}

/// hash.go `encodeHash`: first 10 hex digits, vowel-like digits mapped to consonants.
pub fn encode_hash(hex: &str) -> String {
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

impl SecretObject {
    fn data_b64(&self) -> Vec<(String, String)> {
        self.data
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    base64::engine::general_purpose::STANDARD.encode(v),
                )
            })
            .collect()
    }

    /// hash.go `SecretHash`: sha256 of `{"data":{...},"kind":"Secret","name":NAME,"type":TYPE}`.
    pub fn hash(&self) -> String {
        let data: Vec<String> = self
            .data_b64()
            .iter()
            .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
            .collect();
        let encoded = format!(
            "{{\"data\":{{{}}},\"kind\":\"Secret\",\"name\":{},\"type\":\"kubernetes.io/dockerconfigjson\"}}",
            data.join(","),
            go_json_string(&self.name)
        );
        encode_hash(&hex::encode(Sha256::digest(encoded.as_bytes())))
    }

    /// The printed output for a format; `-o yaml` fails as kubectl's does on characters its
    /// JSON-to-YAML step refuses.
    pub fn render(&self, output: Output) -> Result<String, KubectlError> {
        Ok(match output {
            Output::Default => format!("secret/{} created (dry run)\n", self.name),
            Output::Name => format!("secret/{}\n", self.name),
            Output::Json => self.to_json(),
            Output::Yaml => self.to_yaml()?,
        })
    }

    /// `json.Marshal` of the object (no annotations): the last-applied configuration.
    fn compact_json(&self) -> String {
        let mut s = format!(
            "{{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{{\"name\":{}",
            go_json_string(&self.name)
        );
        if let Some(ns) = self.namespace.as_deref().filter(|n| !n.is_empty()) {
            s.push_str(&format!(",\"namespace\":{}", go_json_string(ns)));
        }
        s.push_str(",\"creationTimestamp\":null}");
        let data = self.data_b64();
        if !data.is_empty() {
            let entries: Vec<String> = data
                .iter()
                .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
                .collect();
            s.push_str(&format!(",\"data\":{{{}}}", entries.join(",")));
        }
        s.push_str(",\"type\":\"kubernetes.io/dockerconfigjson\"}");
        s
    }

    fn to_json(&self) -> String {
        let mut s = String::from(
            "{\n    \"kind\": \"Secret\",\n    \"apiVersion\": \"v1\",\n    \"metadata\": {\n",
        );
        s.push_str(&format!(
            "        \"name\": {},\n",
            go_json_string(&self.name)
        ));
        if let Some(ns) = self.namespace.as_deref().filter(|n| !n.is_empty()) {
            s.push_str(&format!("        \"namespace\": {},\n", go_json_string(ns)));
        }
        match &self.last_applied {
            None => s.push_str("        \"creationTimestamp\": null\n    },\n"),
            Some(a) => s.push_str(&format!(
                "        \"creationTimestamp\": null,\n        \"annotations\": {{\n            \"{LAST_APPLIED_ANNOTATION}\": {}\n        }}\n    }},\n",
                go_json_string(a)
            )),
        }
        let data = self.data_b64();
        if data.is_empty() {
            s.push_str("    \"data\": {},\n");
        } else {
            s.push_str("    \"data\": {\n");
            let lines: Vec<String> = data
                .iter()
                .map(|(k, v)| format!("        {}: {}", go_json_string(k), go_json_string(v)))
                .collect();
            s.push_str(&lines.join(",\n"));
            s.push_str("\n    },\n");
        }
        s.push_str("    \"type\": \"kubernetes.io/dockerconfigjson\"\n}\n");
        s
    }

    fn to_yaml(&self) -> Result<String, KubectlError> {
        let yaml = |v: &str| goyaml::json_round_trip(v).map_err(|e| KubectlError(e.into()));
        let name = yaml(&self.name)?;
        let namespace = match self.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) => Some(yaml(ns)?),
            None => None,
        };
        let mut s = String::from("apiVersion: v1\n");
        let data = self.data_b64();
        if data.is_empty() {
            s.push_str("data: {}\n");
        } else {
            s.push_str("data:\n");
            for (k, v) in &data {
                s.push_str(&goyaml::mapping_entry(2, k, v));
            }
        }
        s.push_str("kind: Secret\nmetadata:\n");
        if let Some(a) = &self.last_applied {
            s.push_str("  annotations:\n");
            s.push_str(&goyaml::mapping_entry(
                4,
                LAST_APPLIED_ANNOTATION,
                &yaml(a)?,
            ));
        }
        s.push_str("  creationTimestamp: null\n");
        s.push_str(&goyaml::mapping_entry(2, "name", &name));
        if let Some(ns) = &namespace {
            s.push_str(&goyaml::mapping_entry(2, "namespace", ns));
        }
        s.push_str("type: kubernetes.io/dockerconfigjson\n");
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // hash_test.go TestEncodeHash.
    #[test]
    fn encode_hash_table() {
        assert_eq!(encode_hash("0123456789abcdef"), "gh2k456789");
        assert_eq!(encode_hash("aaeebbcc11"), "mmttbbcchh");
    }

    // create_secret_docker.go handleDockerCfgJSONContent: order, omitempty, HTML escaping.
    #[test]
    fn payload_matches_kubectl() {
        let p = docker_config_json(DEFAULT_SERVER, "u", "p:a<>&", "e@x");
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p:a\u003c\u003e\u0026","email":"e@x","auth":"dTpwOmE8PiY="}}}"#
        );
        let p = docker_config_json("r.io", "u", "p", "");
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"auths":{"r.io":{"username":"u","password":"p","auth":"dTpw"}}}"#
        );
    }

    #[test]
    fn file_sources() {
        assert_eq!(
            parse_file_source("a/b/cfg.json").unwrap(),
            ("cfg.json".into(), "a/b/cfg.json".into())
        );
        assert_eq!(parse_file_source("k=p").unwrap(), ("k".into(), "p".into()));
        assert_eq!(
            parse_file_source("=p").unwrap_err().0,
            "key name for file path p missing"
        );
        assert_eq!(
            parse_file_source("k=").unwrap_err().0,
            "file path for key name k missing"
        );
        assert_eq!(
            parse_file_source("a=b=c").unwrap_err().0,
            "key names or file paths cannot contain '='"
        );
    }
}
