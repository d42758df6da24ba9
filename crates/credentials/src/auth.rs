//! Docker config entries and the credentials they yield, as pkg/credentialprovider/config.go
//! reads them.
//!
//! An entry is `{"username","password","email","auth"}` (Go decodes JSON object keys
//! case-insensitively, unknown keys are ignored). A non-empty `auth` — base64 of
//! `username:password`, padded or not — replaces `username` and `password`
//! (`DockerConfigEntry.UnmarshalJSON`, `decodeDockerConfigFieldAuth`).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::secret::Secret;

/// The credentials handed to a registry: docker's / the CRI's `AuthConfig`.
///
/// The keyring fills `username`, `password` and `email` (as pkg/credentialprovider/keyring.go
/// `Add` does); the token fields exist for callers that build one by hand.
#[derive(Clone, Default, PartialEq, Eq, Debug, Serialize)]
pub struct AuthConfig {
    /// Registry user name.
    pub username: String,
    /// Registry password (redacted when formatted).
    pub password: Secret,
    /// A ready `auth` value (base64 `user:password`), when given instead of the two fields.
    pub auth: Option<Secret>,
    /// `serveraddress`.
    pub server_address: Option<String>,
    /// `identitytoken`: exchanged for an access token.
    pub identity_token: Option<Secret>,
    /// `registrytoken`: a bearer token sent as is.
    pub registry_token: Option<Secret>,
    /// The (deprecated) e-mail field.
    pub email: Option<String>,
}

impl AuthConfig {
    /// Username + password credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        AuthConfig {
            username: username.into(),
            password: Secret::new(password),
            ..AuthConfig::default()
        }
    }

    /// Whether the config carries no credential at all (the registry is then used anonymously).
    pub fn is_anonymous(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.auth.as_ref().is_none_or(Secret::is_empty)
            && self.identity_token.as_ref().is_none_or(Secret::is_empty)
            && self.registry_token.as_ref().is_none_or(Secret::is_empty)
    }

    /// The kubelet's credential hash (pkg/credentialprovider/keyring.go `hashAuthConfig`): hex
    /// SHA-256 of the Go JSON encoding of the AuthConfig (`username`, `password`, `auth`,
    /// `email`, `serveraddress`, `identitytoken`, `registrytoken`, each omitted when empty).
    pub fn credential_hash(&self) -> String {
        let mut json = String::from("{");
        let mut first = true;
        let mut field = |name: &str, value: &str| {
            if value.is_empty() {
                return;
            }
            if !first {
                json.push(',');
            }
            first = false;
            json.push_str(&go_json_string(name));
            json.push(':');
            json.push_str(&go_json_string(value));
        };
        field("username", &self.username);
        field("password", self.password.expose());
        field("auth", self.auth.as_ref().map_or("", Secret::expose));
        field("email", self.email.as_deref().unwrap_or(""));
        field(
            "serveraddress",
            self.server_address.as_deref().unwrap_or(""),
        );
        field(
            "identitytoken",
            self.identity_token.as_ref().map_or("", Secret::expose),
        );
        field(
            "registrytoken",
            self.registry_token.as_ref().map_or("", Secret::expose),
        );
        json.push('}');
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}

/// One registry entry of a docker config, with the effective credentials and the raw fields.
#[derive(Clone, Default, PartialEq, Eq, Debug, Serialize)]
pub struct DockerConfigEntry {
    /// Effective user name (from `auth` when it is non-empty, else `username`).
    pub username: String,
    /// Effective password (from `auth` when it is non-empty, else `password`).
    pub password: Secret,
    /// `email`.
    pub email: String,
    /// The fields as written, for diagnostics.
    pub raw: RawEntry,
}

/// The fields of an entry exactly as written (absent = `None`).
#[derive(Clone, Default, PartialEq, Eq, Debug, Serialize)]
pub struct RawEntry {
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Option<Secret>,
    /// `email`.
    pub email: Option<String>,
    /// `auth`.
    pub auth: Option<Secret>,
    /// `identitytoken` (the kubelet ignores it).
    pub identity_token: Option<Secret>,
    /// `registrytoken` (the kubelet ignores it).
    pub registry_token: Option<Secret>,
}

impl DockerConfigEntry {
    /// The credentials the keyring hands out for this entry (keyring.go `Add`: username,
    /// password, email).
    pub fn to_auth_config(&self) -> AuthConfig {
        AuthConfig {
            username: self.username.clone(),
            password: self.password.clone(),
            email: (!self.email.is_empty()).then(|| self.email.clone()),
            ..AuthConfig::default()
        }
    }
}

/// A docker config: registry key (as written) → entry, in file order.
pub type DockerConfig = Vec<(String, DockerConfigEntry)>;

/// Why an entry or a config could not be read. `field` is a JSON path such as
/// `auths["r.io"].auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// Where in the document.
    pub field: String,
    /// What is wrong (never contains a credential).
    pub message: String,
}

/// The `auth` error text of pkg/credentialprovider/config.go.
pub const AUTH_FORMAT_ERROR: &str =
    "unable to parse auth field, must be formatted as base64(username:password)";

fn engine(pad: bool) -> GeneralPurpose {
    let cfg = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(if pad {
            DecodePaddingMode::RequireCanonical
        } else {
            DecodePaddingMode::RequireNone
        });
    GeneralPurpose::new(&base64::alphabet::STANDARD, cfg)
}

/// Go's `base64.StdEncoding.DecodeString` (padding required; `\r` and `\n` ignored) or, with
/// `pad == false`, `RawStdEncoding`. Errors read like Go's `illegal base64 data at input byte N`.
pub fn go_base64_decode(s: &str, pad: bool) -> Result<Vec<u8>, String> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    engine(pad).decode(cleaned.as_bytes()).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(i, _) => i,
            base64::DecodeError::InvalidLength(n) => n,
            base64::DecodeError::InvalidLastSymbol(i, _) => i,
            base64::DecodeError::InvalidPadding => cleaned.find('=').unwrap_or(cleaned.len()),
        };
        format!("illegal base64 data at input byte {at}")
    })
}

/// `decodeDockerConfigFieldAuth`: base64 (padded when the trimmed value ends in `=`, else
/// unpadded), then split at the first `:`.
pub fn decode_auth_field(field: &str) -> Result<(String, Secret), String> {
    let padded = field.trim().ends_with('=');
    let decoded = go_base64_decode(field, padded)?;
    let text = String::from_utf8_lossy(&decoded);
    match text.split_once(':') {
        Some((user, pass)) => Ok((user.to_string(), Secret::new(pass))),
        None => Err(AUTH_FORMAT_ERROR.to_string()),
    }
}

/// Go's case-insensitive field lookup for `encoding/json` (exact match preferred).
/// The credential helpers a docker config names, as written (`"credsStore": "desktop"`,
/// `"credHelpers" (gcr.io, ecr)`): docker's CLI runs them, the kubelet never does
/// (pkg/credentialprovider/config.go reads only `auths`).
pub fn credential_helpers(value: &Value) -> Vec<String> {
    let Value::Object(obj) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for helper in ["credsStore", "credHelpers"] {
        match go_field(obj, helper) {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) => out.push(format!("\"{helper}\": {name:?}")),
            Some(Value::Object(map)) => {
                let hosts: Vec<&str> = map.keys().map(String::as_str).collect();
                out.push(format!("\"{helper}\" ({})", hosts.join(", ")));
            }
            Some(_) => out.push(format!("\"{helper}\"")),
        }
    }
    out
}

pub(crate) fn go_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn string_field(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, EntryError> {
    match go_field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(EntryError {
            field: format!("{path}.{name}"),
            message: format!(
                "json: cannot unmarshal {} into Go struct field dockerConfigEntryWithAuth.{name} of type string",
                type_name(other)
            ),
        }),
    }
}

/// Parse one entry (`path` names it in errors, e.g. `auths["r.io"]`).
pub fn parse_entry(value: &Value, path: &str) -> Result<DockerConfigEntry, EntryError> {
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(DockerConfigEntry::default()),
        other => {
            return Err(EntryError {
                field: path.to_string(),
                message: format!(
                    "json: cannot unmarshal {} into Go value of type credentialprovider.dockerConfigEntryWithAuth",
                    type_name(other)
                ),
            });
        }
    };
    let raw = RawEntry {
        username: string_field(obj, "username", path)?,
        password: string_field(obj, "password", path)?.map(Secret::new),
        email: string_field(obj, "email", path)?,
        auth: string_field(obj, "auth", path)?.map(Secret::new),
        identity_token: string_field(obj, "identitytoken", path)?.map(Secret::new),
        registry_token: string_field(obj, "registrytoken", path)?.map(Secret::new),
    };
    let mut entry = DockerConfigEntry {
        username: raw.username.clone().unwrap_or_default(),
        password: raw.password.clone().unwrap_or_default(),
        email: raw.email.clone().unwrap_or_default(),
        raw,
    };
    if let Some(auth) = entry.raw.auth.as_ref().filter(|a| !a.is_empty()) {
        let (user, pass) = decode_auth_field(auth.expose()).map_err(|message| EntryError {
            field: format!("{path}.auth"),
            message,
        })?;
        entry.username = user;
        entry.password = pass;
    }
    Ok(entry)
}

/// A bare `.dockercfg` map (`DockerConfig`): `{"REGISTRY": ENTRY, ...}`. `prefix` is prepended
/// to field paths in errors.
pub fn parse_dockercfg_value(value: &Value, prefix: &str) -> Result<DockerConfig, EntryError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let path = format!("{prefix}[{}]", crate::gourl::go_quote(k));
                parse_entry(v, &path).map(|e| (k.clone(), e))
            })
            .collect(),
        other => Err(EntryError {
            field: if prefix.is_empty() {
                "(top level)".into()
            } else {
                prefix.to_string()
            },
            message: format!(
                "json: cannot unmarshal {} into Go value of type credentialprovider.DockerConfig",
                type_name(other)
            ),
        }),
    }
}

/// A `config.json` / `.dockerconfigjson` (`DockerConfigJSON`): its `auths` map. A missing
/// `auths` yields an empty config, as in Go.
pub fn parse_config_json_value(value: &Value) -> Result<DockerConfig, EntryError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(obj) => match go_field(obj, "auths") {
            None => Ok(Vec::new()),
            Some(auths) => parse_dockercfg_value(auths, "auths"),
        },
        other => Err(EntryError {
            field: "(top level)".into(),
            message: format!(
                "json: cannot unmarshal {} into Go value of type credentialprovider.DockerConfigJSON",
                type_name(other)
            ),
        }),
    }
}

/// Go's `encoding/json` string encoding (HTML-safe: `<`, `>`, `&`, U+2028, U+2029 escaped).
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22+ encoding/json writes \b and \f (kubectl 1.32 is built with Go 1.23).
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // pkg/credentialprovider/config_test.go TestDecodeDockerConfigFieldAuth.
    #[test]
    fn decode_docker_config_field_auth() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("Zm9vOmJhcg==", Some(("foo", "bar"))), // auth field decodes to username & password
            ("cGFudHM=", None),                     // good base64 data, but no colon
            ("pants", None),                        // bad base64 data
        ];
        for (field, want) in cases {
            let got = decode_auth_field(field);
            match want {
                Some((u, p)) => {
                    let (gu, gp) = got.unwrap_or_else(|e| panic!("{field}: {e}"));
                    assert_eq!((gu.as_str(), gp.expose()), (*u, *p), "{field}");
                }
                None => assert!(got.is_err(), "{field} should fail"),
            }
        }
        assert_eq!(
            decode_auth_field("cGFudHM=").unwrap_err(),
            AUTH_FORMAT_ERROR
        );
    }

    // config.go decodeDockerConfigFieldAuth: padded when the trimmed value ends in '=', else
    // unpadded; Go's decoder skips '\r' and '\n'; only the first ':' splits.
    #[test]
    fn decode_auth_field_padding_and_colons() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("Zm9vOmJhcg", Some(("foo", "bar"))),
            ("Zm9vOmJhcjo=", Some(("foo", "bar:"))),
            ("Zm9vOmJhOnI=", Some(("foo", "ba:r"))),
            ("YWJjOmRlZg==\n", Some(("abc", "def"))),
            ("Zm9vOmJhcg===", None),
            ("Zm9v!mJhcg==", None),
        ];
        for (field, want) in cases {
            match (decode_auth_field(field), want) {
                (Ok((u, p)), Some((wu, wp))) => {
                    assert_eq!((u.as_str(), p.expose()), (*wu, *wp), "{field}")
                }
                (Err(_), None) => {}
                (got, _) => panic!("{field}: unexpected {:?}", got.map(|(u, _)| u)),
            }
        }
    }

    // pkg/credentialprovider/config_test.go TestDockerConfigEntryJSONDecode.
    #[test]
    fn docker_config_entry_json_decode() {
        // (input, (username, password, email), fail)
        let cases: &[(serde_json::Value, (&str, &str, &str), bool)] = &[
            (
                json!({"username": "foo", "password": "bar", "email": "foo@example.com"}),
                ("foo", "bar", "foo@example.com"),
                false,
            ),
            (
                json!({"auth": "Zm9vOmJhcg==", "email": "foo@example.com"}),
                ("foo", "bar", "foo@example.com"),
                false,
            ),
            (
                json!({"username": "foo", "password": "bar", "auth": "cGluZzpwb25n", "email": "foo@example.com"}),
                ("ping", "pong", "foo@example.com"),
                false,
            ),
            (
                json!({"auth": "pants", "email": "foo@example.com"}),
                ("", "", "foo@example.com"),
                true,
            ),
            (json!({"email": false}), ("", "", ""), true),
        ];
        for (input, (u, p, e), fail) in cases {
            match parse_entry(input, "x") {
                Ok(entry) => {
                    assert!(!fail, "{input} should fail");
                    assert_eq!(
                        (
                            entry.username.as_str(),
                            entry.password.expose(),
                            entry.email.as_str()
                        ),
                        (*u, *p, *e)
                    );
                }
                Err(_) => assert!(fail, "{input} should decode"),
            }
        }
        // pullsim: Go's encoding/json matches keys case-insensitively; errors name the field.
        let e = parse_entry(&json!({"Username":"u","PASSWORD":"p"}), "x").unwrap();
        assert_eq!((e.username.as_str(), e.password.expose()), ("u", "p"));
        let err = parse_entry(&json!({"auth":"cGFudHM="}), "auths[\"r\"]").unwrap_err();
        assert_eq!(err.field, "auths[\"r\"].auth");
        assert_eq!(err.message, AUTH_FORMAT_ERROR);
        // An empty auth does not override.
        let e = parse_entry(&json!({"auth":"","username":"a","password":"b"}), "x").unwrap();
        assert_eq!((e.username.as_str(), e.password.expose()), ("a", "b"));
    }

    // pkg/credentialprovider/config_test.go TestDockerConfigJsonJSONDecode / TestDockerConfigJSONDecode.
    #[test]
    fn docker_config_json_and_dockercfg_decode() {
        let auths = json!({"http://foo.example.com": {"username": "foo", "password": "bar", "email": "foo@example.com"},
                           "http://bar.example.com": {"username": "bar", "password": "baz", "email": "bar@example.com"}});
        let want = [
            ("http://foo.example.com", "foo", "bar", "foo@example.com"),
            ("http://bar.example.com", "bar", "baz", "bar@example.com"),
        ];
        let check = |cfg: DockerConfig| {
            assert_eq!(cfg.len(), 2);
            for (k, u, p, e) in want {
                let entry = &cfg.iter().find(|(key, _)| key == k).unwrap().1;
                assert_eq!(
                    (
                        entry.username.as_str(),
                        entry.password.expose(),
                        entry.email.as_str()
                    ),
                    (u, p, e)
                );
            }
        };
        check(parse_config_json_value(&json!({"auths": auths.clone()})).unwrap());
        check(parse_dockercfg_value(&auths, "").unwrap());
    }

    #[test]
    fn go_json_escapes_html() {
        assert_eq!(
            go_json_string("a<b>&\"\\\n\u{1}"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\""
        );
    }

    #[test]
    fn credential_hash_is_hex_sha256() {
        let a = AuthConfig::basic("u", "p");
        let h = a.credential_hash();
        assert_eq!(h.len(), 64);
        // sha256 of {"username":"u","password":"p"}
        assert_eq!(
            h,
            hex::encode(Sha256::digest(br#"{"username":"u","password":"p"}"#))
        );
    }
}
