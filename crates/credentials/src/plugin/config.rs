//! `CredentialProviderConfig` reading and validation, as pkg/credentialprovider/plugin/config.go
//! (`readCredentialProviderConfig`, `decode`, `validateCredentialProviderConfig`) does it.
//!
//! The file is YAML or JSON, `kind: CredentialProviderConfig`, `apiVersion`
//! `kubelet.config.k8s.io/v1` (`v1beta1` and `v1alpha1` are accepted, as the kubelet's scheme
//! registers them), decoded strictly (unknown fields are errors). A directory is read as all its
//! `*.json`, `*.yaml`, `*.yml` files in lexicographic order, merged, with duplicate names an
//! error. Validation messages and their aggregation follow apimachinery's `field.Error`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::duration::{format_go_duration, parse_go_duration};
use super::token_attributes::{self, TokenAttributes};
use crate::error::CredentialsError;
use crate::manifest::{json_error_text, yaml_error_text};
use crate::urlmatch::parse_schemeless_url;

/// Config API versions the kubelet decodes.
pub const CONFIG_API_VERSIONS: [&str; 3] = [
    "kubelet.config.k8s.io/v1",
    "kubelet.config.k8s.io/v1beta1",
    "kubelet.config.k8s.io/v1alpha1",
];

/// Plugin protocol versions (`credentialprovider.kubelet.k8s.io/...`), sorted as the kubelet
/// lists them in errors.
pub const PLUGIN_API_VERSIONS: [&str; 3] = [
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
];

/// One `providers[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// `name`: the executable's name in the plugin bin dir.
    pub name: String,
    /// `matchImages`.
    pub match_images: Vec<String>,
    /// `defaultCacheDuration` in nanoseconds (`None` when absent).
    pub default_cache_duration: Option<i128>,
    /// `apiVersion`: the request/response version.
    pub api_version: String,
    /// `args`.
    pub args: Vec<String>,
    /// `env` (name, value).
    pub env: Vec<(String, String)>,
    /// `tokenAttributes` (service-account tokens for the plugin, KEP-4412; v1 only).
    pub token_attributes: Option<TokenAttributes>,
}

fn decode_err(path: &Path, msg: String) -> CredentialsError {
    CredentialsError::PluginConfig {
        path: path.to_path_buf(),
        message: format!(
            "error decoding config {}: {msg}",
            crate::gourl::go_quote(&path.display().to_string())
        ),
    }
}

fn strict_unknown(field: &str) -> String {
    format!(
        "strict decoding error: unknown field {}",
        crate::gourl::go_quote(field)
    )
}

fn str_field(v: &Value, field: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!(
            "json: cannot unmarshal non-string into Go struct field {field} of type string"
        )),
    }
}

fn str_list(v: &Value, field: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(|i| str_field(i, field)).collect(),
        _ => Err(format!(
            "json: cannot unmarshal non-array into Go struct field {field} of type []string"
        )),
    }
}

/// Decode one config document (config.go `decode`).
fn decode(value: &Value) -> Result<Vec<ProviderConfig>, String> {
    let Value::Object(obj) = value else {
        return Err("Object 'Kind' is missing in config".into());
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err("Object 'Kind' is missing in config".into());
    }
    // The scheme knows CredentialProviderConfig in the three kubelet.config.k8s.io versions
    // only; anything else fails in the UniversalDecoder before config.go's own checks.
    if !CONFIG_API_VERSIONS.contains(&api_version) || kind != "CredentialProviderConfig" {
        return Err(format!(
            "no kind {kind:?} is registered for version {api_version:?} in scheme \"pkg/credentialprovider/plugin/plugin.go\""
        ));
    }
    let v1 = api_version == "kubelet.config.k8s.io/v1";
    for k in obj.keys() {
        if !matches!(k.as_str(), "kind" | "apiVersion" | "providers") {
            return Err(strict_unknown(k));
        }
    }
    let providers = match obj.get("providers") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(p)) => p,
        Some(_) => return Err("json: cannot unmarshal non-array into Go struct field CredentialProviderConfig.providers".into()),
    };
    let mut out = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let Value::Object(p) = p else {
            return Err(format!(
                "json: cannot unmarshal non-object into Go struct field providers[{i}]"
            ));
        };
        let mut cfg = ProviderConfig {
            name: String::new(),
            match_images: Vec::new(),
            default_cache_duration: None,
            api_version: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            token_attributes: None,
        };
        for (k, v) in p {
            match k.as_str() {
                "name" => cfg.name = str_field(v, "CredentialProvider.name")?,
                "matchImages" => cfg.match_images = str_list(v, "CredentialProvider.matchImages")?,
                "apiVersion" => cfg.api_version = str_field(v, "CredentialProvider.apiVersion")?,
                "args" => cfg.args = str_list(v, "CredentialProvider.args")?,
                "defaultCacheDuration" => match v {
                    Value::Null => {}
                    Value::String(s) => cfg.default_cache_duration = Some(i128::from(parse_go_duration(s).map_err(|e| e.to_string())?)),
                    _ => return Err("json: cannot unmarshal non-string into Go struct field CredentialProvider.defaultCacheDuration of type string".into()),
                },
                "env" => match v {
                    Value::Null => {}
                    Value::Array(items) => {
                        for (j, item) in items.iter().enumerate() {
                            let Value::Object(e) = item else {
                                return Err(format!("json: cannot unmarshal non-object into Go struct field providers[{i}].env[{j}]"));
                            };
                            for ek in e.keys() {
                                if ek != "name" && ek != "value" {
                                    return Err(strict_unknown(&format!("providers[{i}].env[{j}].{ek}")));
                                }
                            }
                            cfg.env.push((
                                str_field(e.get("name").unwrap_or(&Value::Null), "ExecEnvVar.name")?,
                                str_field(e.get("value").unwrap_or(&Value::Null), "ExecEnvVar.value")?,
                            ));
                        }
                    }
                    _ => return Err("json: cannot unmarshal non-array into Go struct field CredentialProvider.env".into()),
                },
                // tokenAttributes exists only in the v1 config API.
                "tokenAttributes" if v1 => cfg.token_attributes = token_attributes::decode(v, i)?,
                other => return Err(strict_unknown(&format!("providers[{i}].{other}"))),
            }
        }
        out.push(cfg);
    }
    Ok(out)
}

/// One apimachinery `field.Error`, formatted as its `Error()` string.
fn required(field: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{field}: Required value")
    } else {
        format!("{field}: Required value: {detail}")
    }
}

fn invalid(field: &str, value: &str, detail: &str) -> String {
    format!("{field}: Invalid value: {value}: {detail}")
}

/// config.go `validateCredentialProviderConfig` with the service-account token feature gate
/// on (its default since 1.34); returns the aggregated message, or `None`.
pub fn validate(providers: &[ProviderConfig]) -> Option<String> {
    validate_gated(providers, true)
}

/// config.go `validateCredentialProviderConfig(config, saTokenForCredentialProviders)`: the
/// errors aggregated as `field.ErrorList.ToAggregate` does (identical messages once, `[a, b]`
/// for several), or `None`.
pub fn validate_gated(providers: &[ProviderConfig], sa_token_gate: bool) -> Option<String> {
    let mut errs: Vec<String> = Vec::new();
    if providers.is_empty() {
        errs.push(required(
            "providers",
            "at least 1 item in plugins is required",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for p in providers {
        let q = crate::gourl::go_quote(&p.name);
        if p.name.contains('/') {
            errs.push(invalid(
                "providers.name",
                &q,
                "provider name cannot contain '/'",
            ));
        }
        if p.name.contains(' ') {
            errs.push(invalid(
                "providers.name",
                &q,
                "provider name cannot contain spaces",
            ));
        }
        if p.name == "." {
            errs.push(invalid("providers.name", &q, "provider name cannot be '.'"));
        }
        if p.name == ".." {
            errs.push(invalid(
                "providers.name",
                &q,
                "provider name cannot be '..'",
            ));
        }
        if seen.contains(&p.name.as_str()) {
            errs.push(format!("providers.name: Duplicate value: {q}"));
        }
        seen.push(&p.name);
        if p.api_version.is_empty() {
            errs.push(required("providers.apiVersion", ""));
        } else if !PLUGIN_API_VERSIONS.contains(&p.api_version.as_str()) {
            let supported: Vec<String> = PLUGIN_API_VERSIONS
                .iter()
                .map(|v| crate::gourl::go_quote(v))
                .collect();
            errs.push(format!(
                "providers.apiVersion: Unsupported value: {}: supported values: {}",
                crate::gourl::go_quote(&p.api_version),
                supported.join(", ")
            ));
        }
        if p.match_images.is_empty() {
            errs.push(required(
                "providers.matchImages",
                "at least 1 item in matchImages is required",
            ));
        }
        for m in &p.match_images {
            if let Err(e) = parse_schemeless_url(m) {
                errs.push(invalid(
                    "providers.matchImages",
                    &crate::gourl::go_quote(m),
                    &format!("match image is invalid: {e}"),
                ));
            }
        }
        match p.default_cache_duration {
            None => errs.push(required("providers.defaultCacheDuration", "")),
            Some(d) if d < 0 => errs.push(invalid(
                "providers.defaultCacheDuration",
                &crate::gourl::go_quote(&format_go_duration(d)),
                "must be greater than or equal to 0",
            )),
            Some(_) => {}
        }
        if let Some(t) = &p.token_attributes {
            token_attributes::validate(t, &p.api_version, sa_token_gate, &mut errs);
        }
    }
    // ToAggregate: a message already listed is not repeated.
    let mut unique: Vec<String> = Vec::new();
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let mut errs = unique;
    match errs.len() {
        0 => None,
        1 => Some(errs.remove(0)),
        _ => Some(format!("[{}]", errs.join(", "))),
    }
}

fn parse_doc(text: &str, path: &Path) -> Result<Value, CredentialsError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed)
            .map_err(|e| decode_err(path, format!("invalid JSON: {}", json_error_text(&e))))
    } else {
        serde_saphyr::from_str(trimmed)
            .map_err(|e| decode_err(path, format!("invalid YAML: {}", yaml_error_text(&e))))
    }
}

/// Read and validate a config file or directory (config.go `readCredentialProviderConfig` +
/// `validateCredentialProviderConfig`); `sa_token_gate`: the kubelet's
/// `KubeletServiceAccountTokenForCredentialProviders` feature gate.
pub fn read_config(
    path: &Path,
    sa_token_gate: bool,
) -> Result<Vec<ProviderConfig>, CredentialsError> {
    let meta = std::fs::metadata(path).map_err(|e| CredentialsError::PluginConfig {
        path: path.to_path_buf(),
        message: format!(
            "unable to access path {}: {e}",
            crate::gourl::go_quote(&path.display().to_string())
        ),
    })?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|error| CredentialsError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("json" | "yaml" | "yml")
                )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(CredentialsError::PluginConfig {
                path: path.to_path_buf(),
                message: format!(
                    "no configuration files found in directory {}",
                    crate::gourl::go_quote(&path.display().to_string())
                ),
            });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| CredentialsError::PluginConfig {
            path: file.clone(),
            message: format!(
                "unable to read file {}: {e}",
                crate::gourl::go_quote(&file.display().to_string())
            ),
        })?;
        docs.push((file, text));
    }
    parse_configs(&docs, path, sa_token_gate)
}

/// Decode and validate config documents already read (`(file, text)` in order; `path`: what
/// the user named, for the validation error).
pub fn parse_configs(
    docs: &[(PathBuf, String)],
    path: &Path,
    sa_token_gate: bool,
) -> Result<Vec<ProviderConfig>, CredentialsError> {
    let mut providers: Vec<ProviderConfig> = Vec::new();
    for (file, text) in docs {
        let value = parse_doc(text, file)?;
        let decoded = decode(&value).map_err(|m| decode_err(file, m))?;
        for p in decoded {
            if providers.iter().any(|q| q.name == p.name) {
                return Err(CredentialsError::PluginConfig {
                    path: file.clone(),
                    message: format!(
                        "duplicate provider name {} found in configuration file(s)",
                        crate::gourl::go_quote(&p.name)
                    ),
                });
            }
            providers.push(p);
        }
    }
    if let Some(msg) = validate_gated(&providers, sa_token_gate) {
        return Err(CredentialsError::PluginConfig {
            path: path.to_path_buf(),
            message: format!("failed to validate credential provider config: {msg}"),
        });
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> ProviderConfig {
        ProviderConfig {
            name: name.into(),
            match_images: vec!["*.r.io".into()],
            default_cache_duration: Some(60_000_000_000),
            api_version: "credentialprovider.kubelet.k8s.io/v1".into(),
            args: vec![],
            env: vec![],
            token_attributes: None,
        }
    }

    // pkg/credentialprovider/plugin/config_test.go Test_validateCredentialProviderConfig
    // (cases without tokenAttributes; the newest texts: empty Required details, the duration
    // quoted), with apimachinery field.Error formatting.
    #[test]
    fn validation_table() {
        assert_eq!(
            validate(&[]).unwrap(),
            "providers: Required value: at least 1 item in plugins is required"
        );
        assert_eq!(validate(&[p("ok")]), None);
        let cases: Vec<(ProviderConfig, &str)> = vec![
            (
                ProviderConfig {
                    name: "foo/bar".into(),
                    ..p("x")
                },
                "providers.name: Invalid value: \"foo/bar\": provider name cannot contain '/'",
            ),
            (
                ProviderConfig {
                    name: "foo bar".into(),
                    ..p("x")
                },
                "providers.name: Invalid value: \"foo bar\": provider name cannot contain spaces",
            ),
            (
                ProviderConfig {
                    name: ".".into(),
                    ..p("x")
                },
                "providers.name: Invalid value: \".\": provider name cannot be '.'",
            ),
            (
                ProviderConfig {
                    name: "..".into(),
                    ..p("x")
                },
                "providers.name: Invalid value: \"..\": provider name cannot be '..'",
            ),
            (
                ProviderConfig {
                    api_version: String::new(),
                    ..p("x")
                },
                "providers.apiVersion: Required value",
            ),
            (
                ProviderConfig {
                    api_version: "foobar".into(),
                    ..p("x")
                },
                "providers.apiVersion: Unsupported value: \"foobar\": supported values: \"credentialprovider.kubelet.k8s.io/v1\", \"credentialprovider.kubelet.k8s.io/v1alpha1\", \"credentialprovider.kubelet.k8s.io/v1beta1\"",
            ),
            (
                ProviderConfig {
                    match_images: vec![],
                    ..p("x")
                },
                "providers.matchImages: Required value: at least 1 item in matchImages is required",
            ),
            (
                ProviderConfig {
                    match_images: vec!["%invalid%".into()],
                    ..p("x")
                },
                "providers.matchImages: Invalid value: \"%invalid%\": match image is invalid: parse \"https://%invalid%\": invalid URL escape \"%in\"",
            ),
            (
                ProviderConfig {
                    default_cache_duration: None,
                    ..p("x")
                },
                "providers.defaultCacheDuration: Required value",
            ),
            (
                ProviderConfig {
                    default_cache_duration: Some(-60_000_000_000),
                    ..p("x")
                },
                "providers.defaultCacheDuration: Invalid value: \"-1m0s\": must be greater than or equal to 0",
            ),
        ];
        for (cfg, want) in cases {
            assert_eq!(validate(&[cfg]).as_deref(), Some(want));
        }
        let two = validate(&[p("a"), p("a")]).unwrap();
        assert_eq!(two, "providers.name: Duplicate value: \"a\"");
        let many = validate(&[ProviderConfig {
            name: "a/b c".into(),
            ..p("x")
        }])
        .unwrap();
        assert!(many.starts_with('[') && many.contains(", "), "{many}");
    }

    #[test]
    fn decode_is_strict_and_checks_kind() {
        let v: Value = serde_json::json!({"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"a","bogus":1}]});
        assert_eq!(
            decode(&v).unwrap_err(),
            "strict decoding error: unknown field \"providers[0].bogus\""
        );
        // plugin/config_test.go Test_readCredentialProviderConfigFile error cases.
        let v: Value =
            serde_json::json!({"apiVersion":"kubelet.config.k8s.io/v1alpha1","kind":"WrongKind"});
        assert!(decode(&v).unwrap_err().contains(
            "no kind \"WrongKind\" is registered for version \"kubelet.config.k8s.io/v1alpha1\""
        ));
        let v: Value =
            serde_json::json!({"apiVersion":"foobar/v1alpha1","kind":"CredentialProviderConfig"});
        assert!(decode(&v).unwrap_err().contains(
            "no kind \"CredentialProviderConfig\" is registered for version \"foobar/v1alpha1"
        ));
        for version in ["v1alpha1", "v1beta1"] {
            let v: Value = serde_json::json!({"apiVersion": format!("kubelet.config.k8s.io/{version}"), "kind":"CredentialProviderConfig",
                "providers":[{"name":"test","tokenAttributes":{"serviceAccountTokenAudience":"audience"}}]});
            assert_eq!(
                decode(&v).unwrap_err(),
                "strict decoding error: unknown field \"providers[0].tokenAttributes\""
            );
        }
        for version in CONFIG_API_VERSIONS {
            let v: Value = serde_json::json!({"apiVersion":version,"kind":"CredentialProviderConfig","providers":[]});
            assert_eq!(decode(&v).unwrap(), vec![]);
        }
    }
}
