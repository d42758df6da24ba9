//! `secret lint`: the faults that make a pull secret useless or surprising, each with where it
//! is (file, document, secret, data key, registry) and whether it is an error (the kubelet will
//! not use the credentials as intended) or a warning (it will, but probably not as meant).
//!
//! Rules follow what the kubelet does (pkg/credentialprovider/secrets/secrets.go, config.go,
//! keyring.go): only types `kubernetes.io/dockerconfigjson` (key `.dockerconfigjson`, content
//! `{"auths":{...}}`) and `kubernetes.io/dockercfg` (key `.dockercfg`, a bare map) are read;
//! a non-empty `auth` replaces username/password; Docker Hub images are looked up as
//! `docker.io/...`, which only `docker.io` keys (or the `index.docker.io` fallback) match.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::auth::{self, go_field};
use crate::error::CredentialsError;
use crate::manifest::{
    self, KEY_DOCKER_CONFIG_JSON, KEY_DOCKERCFG, TYPE_DOCKER_CONFIG_JSON, TYPE_DOCKERCFG,
    meta_string,
};
use crate::urlmatch::{DEFAULT_REGISTRY_HOST, normalize_key, parse_schemeless_url, urls_match_str};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The credentials will be used, but probably not as meant.
    Warning,
    /// The kubelet will not use the credentials as intended (or fails the pull).
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One fault, with its location. Never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Stable identifier (`wrong-key-for-type`, `auth-no-colon`, ...).
    pub code: &'static str,
    /// The file.
    pub file: PathBuf,
    /// 1-based YAML document index, when the file has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// `namespace/name` of the Secret (absent for bare config files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The data key (`.dockerconfigjson`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The registry entry, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// What is wrong and what the kubelet does about it.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(d) = self.document {
            write!(f, " document {d}")?;
        }
        if let Some(s) = &self.secret {
            write!(f, " secret {s}")?;
        }
        if let Some(k) = &self.key {
            write!(f, " key {k}")?;
        }
        if let Some(r) = &self.registry {
            write!(f, " registry {r:?}")?;
        }
        write!(f, ": {}[{}]: {}", self.severity, self.code, self.message)
    }
}

#[derive(Clone)]
struct Loc {
    file: PathBuf,
    document: Option<usize>,
    secret: Option<String>,
    key: Option<String>,
}

struct Linter {
    findings: Vec<Finding>,
}

impl Linter {
    fn push(
        &mut self,
        loc: &Loc,
        registry: Option<&str>,
        severity: Severity,
        code: &'static str,
        message: String,
    ) {
        self.findings.push(Finding {
            severity,
            code,
            file: loc.file.clone(),
            document: loc.document,
            secret: loc.secret.clone(),
            key: loc.key.clone(),
            registry: registry.map(str::to_string),
            message,
        });
    }
}

/// Lint a file. `Err` only when the file cannot be read or parsed at all (exit 2).
pub fn lint_file(path: &Path) -> Result<Vec<Finding>, CredentialsError> {
    lint_text(&crate::manifest::read_text(path)?, path)
}

/// Lint text already read; `origin` names it.
pub fn lint_text(text: &str, origin: &Path) -> Result<Vec<Finding>, CredentialsError> {
    let docs = manifest::parse_documents(text, origin)?;
    let mut l = Linter {
        findings: Vec::new(),
    };
    let mut seen = 0usize;
    for doc in &docs {
        let loc = Loc {
            file: origin.to_path_buf(),
            document: doc.index,
            secret: None,
            key: None,
        };
        seen += lint_value(&mut l, &doc.value, &loc);
    }
    if seen == 0 {
        let loc = Loc {
            file: origin.to_path_buf(),
            document: None,
            secret: None,
            key: None,
        };
        l.push(
            &loc,
            None,
            Severity::Error,
            "empty-secret",
            "no pull secret or docker config found in the file".into(),
        );
    }
    Ok(l.findings)
}

/// Returns how many secrets/configs were looked at.
fn lint_value(l: &mut Linter, value: &Value, loc: &Loc) -> usize {
    let Value::Object(obj) = value else {
        l.push(
            loc,
            None,
            Severity::Error,
            "not-a-secret",
            "expected a Secret, a List or a docker config object".into(),
        );
        return 1;
    };
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k == "List" || k.ends_with("List") => obj
            .get("items")
            .and_then(Value::as_array)
            .map_or(0, |items| items.iter().map(|i| lint_value(l, i, loc)).sum()),
        Some("Secret") => {
            lint_secret(l, obj, loc);
            1
        }
        Some(_) => 0,
        None => {
            if go_field(obj, "auths").is_some() {
                lint_config_json(l, value, loc);
            } else {
                lint_dockercfg(l, value, loc);
            }
            1
        }
    }
}

fn lint_secret(l: &mut Linter, obj: &serde_json::Map<String, Value>, loc: &Loc) {
    let name = meta_string(obj, "name").unwrap_or_default();
    let ns = meta_string(obj, "namespace").unwrap_or_else(|| "default".into());
    let loc = Loc {
        secret: Some(format!("{ns}/{name}")),
        ..loc.clone()
    };
    if name.is_empty() {
        l.push(
            &loc,
            None,
            Severity::Error,
            "missing-name",
            "metadata.name is missing".into(),
        );
    }
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Opaque")
        .to_string();
    let expected_key = match ty.as_str() {
        TYPE_DOCKER_CONFIG_JSON => KEY_DOCKER_CONFIG_JSON,
        TYPE_DOCKERCFG => KEY_DOCKERCFG,
        other => {
            let hint = if has_data_key(obj, KEY_DOCKER_CONFIG_JSON) {
                format!(
                    "; with key {KEY_DOCKER_CONFIG_JSON} it must be type {TYPE_DOCKER_CONFIG_JSON}"
                )
            } else if has_data_key(obj, KEY_DOCKERCFG) {
                format!("; with key {KEY_DOCKERCFG} it must be type {TYPE_DOCKERCFG}")
            } else {
                String::new()
            };
            l.push(
                &loc,
                None,
                Severity::Error,
                "wrong-secret-type",
                format!(
                    "type {other:?} is not a pull secret type; the kubelet ignores it for image pulls (use {TYPE_DOCKER_CONFIG_JSON} or {TYPE_DOCKERCFG}){hint}"
                ),
            );
            return;
        }
    };
    // Raw data values: base64 problems are found here, before decoding.
    let mut payload: Option<Vec<u8>> = None;
    let mut other_key_present: Option<&str> = None;
    let mut bad_expected = false;
    for (section, map) in [
        ("data", obj.get("data")),
        ("stringData", obj.get("stringData")),
    ] {
        let Some(Value::Object(map)) = map else {
            continue;
        };
        for (k, v) in map {
            let kloc = Loc {
                key: Some(k.clone()),
                ..loc.clone()
            };
            let Some(s) = v.as_str() else {
                l.push(
                    &kloc,
                    None,
                    Severity::Error,
                    "data-not-string",
                    format!("{section}[{k:?}] must be a string"),
                );
                continue;
            };
            let bytes = if section == "data" {
                match auth::go_base64_decode(s, true) {
                    Ok(b) => b,
                    Err(e) => {
                        if k == expected_key {
                            bad_expected = true;
                        }
                        let hint = if s.trim_start().starts_with('{') {
                            " (it looks like plain JSON: put it under stringData, or base64-encode it)"
                        } else {
                            ""
                        };
                        l.push(
                            &kloc,
                            None,
                            Severity::Error,
                            "data-not-base64",
                            format!("data[{k:?}] is not valid base64: {e}{hint}"),
                        );
                        continue;
                    }
                }
            } else {
                s.as_bytes().to_vec()
            };
            if k == expected_key {
                payload = Some(bytes);
            } else if k == KEY_DOCKER_CONFIG_JSON || k == KEY_DOCKERCFG {
                other_key_present = Some(if k == KEY_DOCKERCFG {
                    KEY_DOCKERCFG
                } else {
                    KEY_DOCKER_CONFIG_JSON
                });
            }
        }
    }
    let kloc = Loc {
        key: Some(expected_key.to_string()),
        ..loc.clone()
    };
    let Some(payload) = payload else {
        if bad_expected {
            return;
        }
        if let Some(other) = other_key_present {
            let right_type = if other == KEY_DOCKERCFG {
                TYPE_DOCKERCFG
            } else {
                TYPE_DOCKER_CONFIG_JSON
            };
            l.push(
                &Loc { key: Some(other.to_string()), ..loc.clone() },
                None,
                Severity::Error,
                "wrong-key-for-type",
                format!(
                    "type {ty} reads key {expected_key}, but the secret has {other}; the kubelet ignores this secret (use type {right_type}, or rename the key)"
                ),
            );
        } else {
            l.push(
                &kloc,
                None,
                Severity::Error,
                "empty-secret",
                format!("no {expected_key} key: the secret has no credentials and the kubelet ignores it"),
            );
        }
        return;
    };
    lint_payload(l, &payload, &ty, &kloc);
}

fn has_data_key(obj: &serde_json::Map<String, Value>, key: &str) -> bool {
    ["data", "stringData"].iter().any(|s| {
        obj.get(*s)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(key))
    })
}

fn lint_payload(l: &mut Linter, payload: &[u8], ty: &str, loc: &Loc) {
    let key = loc.key.clone().unwrap_or_default();
    if payload.iter().all(u8::is_ascii_whitespace) {
        l.push(
            loc,
            None,
            Severity::Error,
            "empty-secret",
            format!("{key} is empty: the kubelet ignores this secret"),
        );
        return;
    }
    let text = String::from_utf8_lossy(payload);
    let trimmed = text.trim();
    let inner_is_json = !trimmed.starts_with('{')
        && auth::go_base64_decode(trimmed, true)
            .or_else(|_| auth::go_base64_decode(trimmed, false))
            .is_ok_and(|inner| {
                String::from_utf8_lossy(&inner)
                    .trim_start()
                    .starts_with('{')
            });
    if inner_is_json {
        l.push(
            loc,
            None,
            Severity::Error,
            "double-base64",
            format!("{key} is base64-encoded twice: after decoding data it is still base64 of JSON; the kubelet fails the pull with a JSON error"),
        );
        return;
    }
    // A trailing newline after the JSON (a `--from-file` config.json, `echo … | base64`) is
    // whitespace to the kubelet's JSON decoder: nothing to report.
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            l.push(
                loc,
                None,
                Severity::Error,
                "invalid-json",
                format!(
                    "{key} is not valid JSON ({}): the kubelet fails every pull of the pod",
                    manifest::json_error_text(&e)
                ),
            );
            return;
        }
    };
    if ty == TYPE_DOCKER_CONFIG_JSON {
        lint_config_json(l, &value, loc);
    } else {
        lint_dockercfg(l, &value, loc);
    }
}

fn looks_like_entry(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        ["auth", "username", "password", "email", "identitytoken"]
            .iter()
            .any(|f| go_field(o, f).is_some())
    })
}

fn lint_config_json(l: &mut Linter, value: &Value, loc: &Loc) {
    let Value::Object(obj) = value else {
        l.push(
            loc,
            None,
            Severity::Error,
            "invalid-json",
            "the docker config must be a JSON object".into(),
        );
        return;
    };
    let helpers = crate::auth::credential_helpers(value);
    let helper_found = !helpers.is_empty();
    for what in helpers {
        l.push(
            loc,
            None,
            Severity::Error,
            "credential-helper-in-config",
            format!("{what}: the kubelet reads only \"auths\" from a pull secret and cannot run credential helpers (docker-credential-*), so the credentials kept in the helper never reach the node; create the secret with the credentials themselves (kubectl create secret docker-registry --docker-username … --docker-password …)"),
        );
    }
    let Some(auths) = go_field(obj, "auths") else {
        if !obj.is_empty() && obj.values().all(looks_like_entry) {
            l.push(
                loc,
                None,
                Severity::Error,
                "dockercfg-under-dockerconfigjson",
                format!(
                    "legacy .dockercfg content (a bare registry map) under .dockerconfigjson: missing the \"auths\" wrapper, so the kubelet finds no credentials (wrap it as {{\"auths\":{{...}}}} or use type {TYPE_DOCKERCFG} with key {KEY_DOCKERCFG})"
                ),
            );
        } else if !helper_found {
            l.push(
                loc,
                None,
                Severity::Error,
                "missing-auths",
                "no \"auths\" object: the kubelet finds no credentials".into(),
            );
        }
        return;
    };
    match auths {
        Value::Object(map) if map.is_empty() => {
            l.push(
                loc,
                None,
                Severity::Error,
                "empty-secret",
                "\"auths\" is empty: no credentials".into(),
            );
        }
        Value::Object(map) => lint_entries(l, map, loc),
        _ => l.push(
            loc,
            None,
            Severity::Error,
            "invalid-json",
            "\"auths\" must be an object".into(),
        ),
    }
}

fn lint_dockercfg(l: &mut Linter, value: &Value, loc: &Loc) {
    let Value::Object(obj) = value else {
        l.push(
            loc,
            None,
            Severity::Error,
            "invalid-json",
            "the docker config must be a JSON object".into(),
        );
        return;
    };
    if go_field(obj, "auths").is_some() {
        l.push(
            loc,
            None,
            Severity::Error,
            "dockerconfigjson-under-dockercfg",
            format!(
                "config.json content (with an \"auths\" wrapper) under .dockercfg: the kubelet reads \"auths\" as a registry name and finds no usable credentials (use type {TYPE_DOCKER_CONFIG_JSON} with key {KEY_DOCKER_CONFIG_JSON}, or drop the wrapper)"
            ),
        );
        return;
    }
    if obj.is_empty() {
        l.push(
            loc,
            None,
            Severity::Error,
            "empty-secret",
            "the docker config has no registries".into(),
        );
        return;
    }
    lint_entries(l, obj, loc);
}

/// The Docker Hub problem of a key, if any: it is meant for Docker Hub but no Docker Hub image
/// (looked up as `docker.io/...`) can ever match it.
pub fn docker_hub_key_problem(location: &str) -> Option<String> {
    let key = normalize_key(location).ok()?;
    let parsed = parse_schemeless_url(&key).ok()?;
    // Host labels are matched case-sensitively (filepath.Match in URLsMatch), so a key such as
    // `DOCKER.IO` is meant for Docker Hub but never matches `docker.io/...`.
    let host = parsed
        .host
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let hubish =
        host == "docker.io" || host.ends_with(".docker.io") || host.ends_with("docker.com");
    if !hubish || key == DEFAULT_REGISTRY_HOST {
        return None;
    }
    let probe = format!("docker.io{}/x", parsed.path.trim_end_matches('/'));
    if urls_match_str(&key, &probe) == Ok(true) {
        return None;
    }
    Some(format!(
        "key {location:?} (normalized {key:?}) never matches a Docker Hub image: the kubelet looks them up as docker.io/<name> (e.g. docker.io/library/nginx); use \"https://index.docker.io/v1/\" (kubectl's default, used as the Docker Hub fallback) or \"docker.io\""
    ))
}

fn lint_entries(l: &mut Linter, map: &serde_json::Map<String, Value>, loc: &Loc) {
    for (registry, value) in map {
        let reg = Some(registry.as_str());
        if let Err(e) = normalize_key(registry) {
            l.push(
                loc,
                reg,
                Severity::Error,
                "bad-registry-key",
                format!("the kubelet ignores this entry: {e}"),
            );
            continue;
        }
        if let Some(problem) = docker_hub_key_problem(registry) {
            l.push(
                loc,
                reg,
                Severity::Error,
                "docker-hub-key-never-matches",
                problem,
            );
        }
        let Value::Object(obj) = value else {
            l.push(
                loc,
                reg,
                Severity::Error,
                "invalid-json",
                "the entry must be an object".into(),
            );
            continue;
        };
        let raw_auth = go_field(obj, "auth").and_then(Value::as_str).unwrap_or("");
        if !raw_auth.is_empty() {
            let padded = raw_auth.trim().ends_with('=');
            match auth::go_base64_decode(raw_auth, padded) {
                Err(e) => l.push(
                    loc,
                    reg,
                    Severity::Error,
                    "auth-not-base64",
                    format!(
                        "auth is not valid base64 ({e}): the kubelet fails every pull of the pod"
                    ),
                ),
                Ok(decoded) => {
                    let text = String::from_utf8_lossy(&decoded).into_owned();
                    if !text.contains(':') {
                        let double =
                            auth::go_base64_decode(text.trim(), text.trim().ends_with('='))
                                .ok()
                                .is_some_and(|d| d.contains(&b':'));
                        let hint = if double {
                            " (it is base64-encoded twice)"
                        } else {
                            ""
                        };
                        l.push(
                            loc,
                            reg,
                            Severity::Error,
                            "auth-no-colon",
                            format!(
                                "{}{hint}: the kubelet fails every pull of the pod",
                                auth::AUTH_FORMAT_ERROR
                            ),
                        );
                    } else {
                        if text.ends_with('\n') {
                            l.push(
                                loc,
                                reg,
                                Severity::Error,
                                "auth-trailing-newline",
                                "auth decodes to a value ending in a newline (`echo` without -n): the password sent includes it".into(),
                            );
                        }
                        let (user, _) = text.split_once(':').unwrap_or((&text, ""));
                        let raw_user = go_field(obj, "username").and_then(Value::as_str);
                        let raw_pass = go_field(obj, "password").and_then(Value::as_str);
                        let pass_differs = raw_pass.is_some_and(|p| {
                            !p.is_empty() && Some(p) != text.split_once(':').map(|x| x.1)
                        });
                        let user_differs = raw_user.is_some_and(|u| !u.is_empty() && u != user);
                        if user_differs || pass_differs {
                            let what = match (user_differs, pass_differs) {
                                (true, true) => "username and password disagree",
                                (true, false) => "username disagrees",
                                _ => "password disagrees",
                            };
                            l.push(
                                loc,
                                reg,
                                Severity::Warning,
                                "auth-mismatch",
                                format!("{what} with auth; the kubelet uses auth (user {user:?})"),
                            );
                        }
                    }
                }
            }
        }
        if raw_auth.is_empty() {
            // Without `auth`, username and password are sent exactly as written: a trailing
            // newline (a file read with its newline, a YAML `|` block) is part of them.
            for field in ["username", "password"] {
                let text = go_field(obj, field).and_then(Value::as_str).unwrap_or("");
                if text.ends_with(['\n', '\r']) {
                    l.push(
                        loc,
                        reg,
                        Severity::Error,
                        "credential-trailing-newline",
                        format!(
                            "{field} ends with a newline: the kubelet sends it as part of the {field}, and the registry refuses it"
                        ),
                    );
                }
            }
        }
        if let Err(e) = auth::parse_entry(value, "entry") {
            if !e.field.ends_with(".auth") {
                l.push(
                    loc,
                    reg,
                    Severity::Error,
                    "invalid-json",
                    format!("{}: {}", e.field, e.message),
                );
            }
        } else if let Ok(entry) = auth::parse_entry(value, "entry") {
            let has_token = entry
                .raw
                .identity_token
                .as_ref()
                .is_some_and(|t| !t.is_empty());
            if entry.username.is_empty() && entry.password.is_empty() {
                let msg = if has_token {
                    "only an identitytoken: the kubelet ignores identitytoken and pulls anonymously with this entry"
                } else {
                    "no username, password or auth: the entry provides no credentials"
                };
                l.push(loc, reg, Severity::Warning, "no-credentials", msg.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(&'static str, Severity)> {
        lint_text(text, Path::new("t.yaml"))
            .unwrap()
            .into_iter()
            .map(|f| (f.code, f.severity))
            .collect()
    }

    #[test]
    fn kubectl_output_is_clean() {
        let y = "apiVersion: v1\ndata:\n  .dockerconfigjson: eyJhdXRocyI6eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJ1IiwicGFzc3dvcmQiOiJwIiwiYXV0aCI6ImRUcHcifX19\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: s\ntype: kubernetes.io/dockerconfigjson\n";
        assert_eq!(codes(y), vec![]);
    }

    #[test]
    fn newline_in_username_or_password() {
        let cfg = |u: &str, p: &str| {
            format!(r#"{{"auths":{{"r.io":{{"username":"{u}","password":"{p}"}}}}}}"#)
        };
        assert_eq!(
            codes(&cfg("u", "pw\\n")),
            vec![("credential-trailing-newline", Severity::Error)]
        );
        assert_eq!(
            codes(&cfg("u\\r\\n", "pw")),
            vec![("credential-trailing-newline", Severity::Error)]
        );
        assert_eq!(codes(&cfg("u", "p\\nw")), vec![]);
    }

    #[test]
    fn docker_hub_keys() {
        assert!(docker_hub_key_problem("https://index.docker.io/v1/").is_none());
        assert!(docker_hub_key_problem("docker.io").is_none());
        assert!(docker_hub_key_problem("https://docker.io/v2/").is_none());
        assert!(docker_hub_key_problem("docker.io/myorg").is_none());
        assert!(docker_hub_key_problem("registry-1.docker.io").is_some());
        assert!(docker_hub_key_problem("index.docker.io/myorg").is_some());
        assert!(docker_hub_key_problem("hub.docker.com").is_some());
        assert!(docker_hub_key_problem("quay.io").is_none());
        // keyring.go URLsMatch compares host labels with filepath.Match: case matters.
        assert!(docker_hub_key_problem("DOCKER.IO").is_some());
        assert!(docker_hub_key_problem("https://Index.Docker.io/v1/").is_some());
    }
}
