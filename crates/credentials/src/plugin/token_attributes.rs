//! `tokenAttributes` of a provider (KEP-4412, kubelet.config.k8s.io/v1 only): decoded strictly
//! and validated as pkg/credentialprovider/plugin/config.go `validateCredentialProviderConfig`
//! and `validateServiceAccountAnnotationKeys` do, with apimachinery's `IsQualifiedName` (now
//! `content.IsLabelKey`) on each annotation key, lowercased first.

use serde_json::Value;

/// `cacheType` values, sorted as the kubelet lists them (`sets.List(validCacheTypes)`).
pub const CACHE_TYPES: [&str; 2] = ["ServiceAccount", "Token"];

/// The one plugin API version that carries service-account tokens.
pub const TOKEN_API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// The feature gate (beta and on by default since Kubernetes 1.34).
pub const GATE: &str = "KubeletServiceAccountTokenForCredentialProviders";

/// `providers[].tokenAttributes` (kubelet config v1 `ServiceAccountTokenAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenAttributes {
    /// `serviceAccountTokenAudience`: the audience of the token the plugin gets.
    pub audience: String,
    /// `cacheType`: `Token` (the token's hash is part of the cache key) or `ServiceAccount`.
    pub cache_type: String,
    /// `requireServiceAccount` (`None` when absent: a validation error).
    pub require_service_account: Option<bool>,
    /// `requiredServiceAccountAnnotationKeys`: without each, the plugin is not called.
    pub required_annotation_keys: Vec<String>,
    /// `optionalServiceAccountAnnotationKeys`: passed to the plugin when present.
    pub optional_annotation_keys: Vec<String>,
}

impl TokenAttributes {
    /// `cacheType: Token`.
    pub fn caches_by_token(&self) -> bool {
        self.cache_type == "Token"
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(v: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field ServiceAccountTokenAttributes.{field} of type {go_type}",
        kind(v)
    )
}

fn string(v: &Value, field: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(type_error(v, field, "string")),
    }
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(type_error(i, field, "string")),
            })
            .collect(),
        _ => Err(type_error(v, field, "[]string")),
    }
}

/// Decode `providers[index].tokenAttributes` (`None` for `null`), strictly.
pub fn decode(v: &Value, index: usize) -> Result<Option<TokenAttributes>, String> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field CredentialProvider.providers.tokenAttributes of type v1.ServiceAccountTokenAttributes",
                kind(v)
            ));
        }
    };
    let mut t = TokenAttributes::default();
    for (k, v) in obj {
        match k.as_str() {
            "serviceAccountTokenAudience" => t.audience = string(v, k)?,
            "cacheType" => t.cache_type = string(v, k)?,
            "requireServiceAccount" => {
                t.require_service_account = match v {
                    Value::Null => None,
                    Value::Bool(b) => Some(*b),
                    _ => return Err(type_error(v, k, "bool")),
                }
            }
            "requiredServiceAccountAnnotationKeys" => t.required_annotation_keys = strings(v, k)?,
            "optionalServiceAccountAnnotationKeys" => t.optional_annotation_keys = strings(v, k)?,
            other => {
                return Err(format!(
                    "strict decoding error: unknown field \"providers[{index}].tokenAttributes.{other}\""
                ));
            }
        }
    }
    Ok(Some(t))
}

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// apimachinery `RegexError`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn valid_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match b {
        [] => false,
        [c] => is_alnum(*c),
        [first, middle @ .., last] => {
            is_alnum(*first)
                && is_alnum(*last)
                && middle
                    .iter()
                    .all(|c| is_alnum(*c) || matches!(c, b'-' | b'_' | b'.'))
        }
    }
}

fn valid_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match b {
        [] => false,
        [c] => ok(c),
        [first, middle @ .., last] => {
            ok(first) && ok(last) && middle.iter().all(|c| ok(c) || *c == b'-')
        }
    }
}

/// apimachinery `IsDNS1123Subdomain`.
fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !value.split('.').all(valid_dns1123_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// apimachinery `IsQualifiedName` = `content.IsLabelKey`
/// (staging/src/k8s.io/apimachinery/pkg/api/validate/content).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match value.split_once('/') {
        None => value,
        Some((_, suffix)) if suffix.contains('/') => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    LABEL_KEY_MSG,
                    LABEL_KEY_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
        Some((prefix, suffix)) => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            suffix
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !valid_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// A `[]string` bad value as apimachinery's `field.Error` prints it now: as JSON
/// (config_test.go expects `Invalid value: ["now-with-dashes/simple-2"]`).
fn json_string_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

fn annotation_key_errors(field: &str, keys: &[String], errs: &mut Vec<String>) {
    let mut seen: Vec<&str> = Vec::new();
    for k in keys {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(format!(
                "{field}: Invalid value: {}: {msg}",
                crate::gourl::go_quote(k)
            ));
        }
        if seen.contains(&k.as_str()) {
            errs.push(format!(
                "{field}: Duplicate value: {}",
                crate::gourl::go_quote(k)
            ));
        }
        seen.push(k);
    }
}

/// The `tokenAttributes` part of config.go `validateCredentialProviderConfig`, appended to
/// `errs` as apimachinery `field.Error` strings.
pub fn validate(
    t: &TokenAttributes,
    api_version: &str,
    gate_enabled: bool,
    errs: &mut Vec<String>,
) {
    let path = "providers.tokenAttributes";
    if !gate_enabled {
        errs.push(format!(
            "{path}: Forbidden: tokenAttributes is not supported when {GATE} feature gate is disabled"
        ));
    }
    if t.audience.is_empty() {
        errs.push(format!(
            "{path}.serviceAccountTokenAudience: Required value"
        ));
    }
    if t.require_service_account.is_none() {
        errs.push(format!("{path}.requireServiceAccount: Required value"));
    }
    if api_version != TOKEN_API_VERSION {
        errs.push(format!(
            "{path}: Forbidden: tokenAttributes is only supported for {TOKEN_API_VERSION} API version"
        ));
    }
    if t.require_service_account == Some(false) && !t.required_annotation_keys.is_empty() {
        errs.push(format!(
            "{path}.requiredServiceAccountAnnotationKeys: Forbidden: requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"
        ));
    }
    annotation_key_errors(
        &format!("{path}.requiredServiceAccountAnnotationKeys"),
        &t.required_annotation_keys,
        errs,
    );
    annotation_key_errors(
        &format!("{path}.optionalServiceAccountAnnotationKeys"),
        &t.optional_annotation_keys,
        errs,
    );
    let mut both: Vec<String> = t
        .required_annotation_keys
        .iter()
        .filter(|k| t.optional_annotation_keys.contains(k))
        .cloned()
        .collect();
    both.sort();
    both.dedup();
    if !both.is_empty() {
        errs.push(format!(
            "{path}: Invalid value: {}: annotation keys cannot be both required and optional",
            json_string_list(&both)
        ));
    }
    let supported: Vec<String> = CACHE_TYPES
        .iter()
        .map(|v| crate::gourl::go_quote(v))
        .collect();
    if t.cache_type.is_empty() {
        errs.push(format!(
            "{path}.cacheType: Required value: cacheType is required to be set when tokenAttributes is specified. Supported values are: {}",
            CACHE_TYPES.join(", ")
        ));
    } else if !CACHE_TYPES.contains(&t.cache_type.as_str()) {
        errs.push(format!(
            "{path}.cacheType: Unsupported value: {}: supported values: {}",
            crate::gourl::go_quote(&t.cache_type),
            supported.join(", ")
        ));
    }
}
