//! The records' JSON, byte for byte as the kubelet's encoder writes it and as strictly as its
//! decoder reads it (fs_pullrecords.go createKubeletConfigSchemeEncoderDecoder: the JSON
//! serializer of k8s.io/apimachinery with `serializer.EnableStrict`, encoding to
//! `kubelet.config.k8s.io/v1alpha1`).
//!
//! Encoding (apimachinery runtime/serializer/json/json.go doEncode → Go's `json.Encoder`):
//! fields in struct order (`kind`, `apiVersion`, then the type's fields), `omitempty` fields
//! left out when empty, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`
//! …, a trailing newline; `metav1.Time` as RFC 3339 seconds in UTC (`null` for the zero time).
//! Decoding: unknown or duplicate fields are errors; `kind` and `apiVersion` must name the
//! expected type in a registered version (v1alpha1, or v1beta1 written by newer kubelets).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::accessor::{
    ImagePullCredentials, ImagePullIntent, ImagePullSecret, ImagePullServiceAccount,
    ImagePulledRecord, RecordsError,
};

/// The version the kubelet writes records in (`kubeletconfigv1alpha1.SchemeGroupVersion`).
pub const API_VERSION: &str = "kubelet.config.k8s.io/v1alpha1";
/// The version newer kubelets write; read as well.
pub const API_VERSION_V1BETA1: &str = "kubelet.config.k8s.io/v1beta1";

const INTENT: &str = "ImagePullIntent";
const PULLED: &str = "ImagePulledRecord";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireIntent {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    image: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WirePulled {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    last_updated_time: Option<String>,
    #[serde(default)]
    image_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credential_mapping: Option<BTreeMap<String, WireCredentials>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubernetes_secrets: Option<Vec<WireSecret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubernetes_service_accounts: Option<Vec<WireServiceAccount>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    node_pods_accessible: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireSecret {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    credential_hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireServiceAccount {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
}

/// Go's `json.Encoder` with HTML escaping on (the default): serde_json already escapes
/// control characters as Go does; these five are Go's extra escapes. They can only occur inside
/// strings, so a byte-level replacement is exact.
fn go_escape(json: Vec<u8>) -> Vec<u8> {
    if !json
        .iter()
        .any(|b| matches!(b, b'<' | b'>' | b'&') || *b == 0xE2)
    {
        return json;
    }
    let s = String::from_utf8_lossy(&json);
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

fn finish(kind: &'static str, v: &impl Serialize) -> Result<Vec<u8>, RecordsError> {
    let json = serde_json::to_vec(v).map_err(|e| RecordsError::Encode {
        kind,
        message: e.to_string(),
    })?;
    let mut out = go_escape(json);
    out.push(b'\n');
    Ok(out)
}

/// An `ImagePullIntent` file's bytes.
pub fn encode_pull_intent(intent: &ImagePullIntent) -> Result<Vec<u8>, RecordsError> {
    finish(
        INTENT,
        &WireIntent {
            kind: Some(INTENT.into()),
            api_version: Some(API_VERSION.into()),
            image: intent.image.clone(),
        },
    )
}

/// An `ImagePulledRecord` file's bytes. Fails for a credential entry marked `preloaded`, which
/// the v1alpha1 type cannot express.
pub fn encode_pulled_record(record: &ImagePulledRecord) -> Result<Vec<u8>, RecordsError> {
    let mut mapping = BTreeMap::new();
    for (name, c) in &record.credential_mapping {
        if c.preloaded {
            return Err(RecordsError::Encode {
                kind: PULLED,
                message: format!(
                    "credentialMapping[{name:?}] is marked preloaded, which {API_VERSION} ImagePullCredentials has no field for"
                ),
            });
        }
        mapping.insert(
            name.clone(),
            WireCredentials {
                kubernetes_secrets: (!c.kubernetes_secrets.is_empty()).then(|| {
                    c.kubernetes_secrets
                        .iter()
                        .map(|s| WireSecret {
                            uid: s.uid.clone(),
                            namespace: s.namespace.clone(),
                            name: s.name.clone(),
                            credential_hash: s.credential_hash.clone(),
                        })
                        .collect()
                }),
                kubernetes_service_accounts: (!c.kubernetes_service_accounts.is_empty()).then(
                    || {
                        c.kubernetes_service_accounts
                            .iter()
                            .map(|s| WireServiceAccount {
                                uid: s.uid.clone(),
                                namespace: s.namespace.clone(),
                                name: s.name.clone(),
                            })
                            .collect()
                    },
                ),
                node_pods_accessible: c.node_pods_accessible,
            },
        );
    }
    finish(
        PULLED,
        &WirePulled {
            kind: Some(PULLED.into()),
            api_version: Some(API_VERSION.into()),
            last_updated_time: record.last_updated_time.map(format_rfc3339),
            image_ref: record.image_ref.clone(),
            credential_mapping: (!mapping.is_empty()).then_some(mapping),
        },
    )
}

fn check_type(
    path: &Path,
    want: &'static str,
    kind: Option<&str>,
    api_version: Option<&str>,
) -> Result<(), RecordsError> {
    let err = |message: String| RecordsError::Decode {
        path: path.to_path_buf(),
        kind: want,
        message,
    };
    let (Some(kind), Some(version)) = (kind.filter(|k| !k.is_empty()), api_version) else {
        return Err(err(format!(
            "Object 'Kind' or 'apiVersion' is missing: expected kind {want:?} in {API_VERSION:?}"
        )));
    };
    if version != API_VERSION && version != API_VERSION_V1BETA1 {
        return Err(err(format!(
            "no kind {kind:?} is registered for version {version:?}: expected {API_VERSION:?} or {API_VERSION_V1BETA1:?}"
        )));
    }
    if kind != want {
        return Err(err(format!(
            "failed to convert object to *{want}: the file holds kind {kind:?}"
        )));
    }
    Ok(())
}

/// The type header, read first as the universal decoder does (it picks the type from `kind`
/// and `apiVersion`, then decodes strictly into it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
}

fn strict<'a, T: Deserialize<'a>>(
    path: &Path,
    kind: &'static str,
    bytes: &'a [u8],
) -> Result<T, RecordsError> {
    serde_json::from_slice(bytes).map_err(|e| RecordsError::Decode {
        path: path.to_path_buf(),
        kind,
        message: format!("strict decoding error: {e}"),
    })
}

/// Read an `ImagePullIntent` file (`path` names it in errors).
pub fn decode_pull_intent(path: &Path, bytes: &[u8]) -> Result<ImagePullIntent, RecordsError> {
    let meta: TypeMeta = strict(path, INTENT, bytes)?;
    check_type(
        path,
        INTENT,
        meta.kind.as_deref(),
        meta.api_version.as_deref(),
    )?;
    let w: WireIntent = strict(path, INTENT, bytes)?;
    Ok(ImagePullIntent { image: w.image })
}

/// Read an `ImagePulledRecord` file (`path` names it in errors).
pub fn decode_pulled_record(path: &Path, bytes: &[u8]) -> Result<ImagePulledRecord, RecordsError> {
    let meta: TypeMeta = strict(path, PULLED, bytes)?;
    check_type(
        path,
        PULLED,
        meta.kind.as_deref(),
        meta.api_version.as_deref(),
    )?;
    let w: WirePulled = strict(path, PULLED, bytes)?;
    let last_updated_time = match w.last_updated_time.as_deref() {
        None => None,
        Some(t) => Some(parse_rfc3339(t).ok_or_else(|| RecordsError::Decode {
            path: path.to_path_buf(),
            kind: PULLED,
            message: format!(
                "lastUpdatedTime {t:?} is not an RFC 3339 time (expected like \"2024-10-21T12:26:40Z\")"
            ),
        })?),
    };
    let credential_mapping = w
        .credential_mapping
        .unwrap_or_default()
        .into_iter()
        .map(|(name, c)| {
            (
                name,
                ImagePullCredentials {
                    preloaded: false,
                    node_pods_accessible: c.node_pods_accessible,
                    kubernetes_secrets: c
                        .kubernetes_secrets
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| ImagePullSecret {
                            uid: s.uid,
                            namespace: s.namespace,
                            name: s.name,
                            credential_hash: s.credential_hash,
                        })
                        .collect(),
                    kubernetes_service_accounts: c
                        .kubernetes_service_accounts
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| ImagePullServiceAccount {
                            uid: s.uid,
                            namespace: s.namespace,
                            name: s.name,
                        })
                        .collect(),
                },
            )
        })
        .collect();
    Ok(ImagePulledRecord {
        last_updated_time,
        image_ref: w.image_ref,
        credential_mapping,
    })
}

/// `metav1.Time` as JSON writes it: `t.UTC().Format(time.RFC3339)`, e.g.
/// `2024-10-21T12:26:40Z`.
pub fn format_rfc3339(unix_secs: i64) -> String {
    pullsim_reference::rfc3339::format_rfc3339(unix_secs)
}

/// Go's `time.Parse(time.RFC3339, s)` as `metav1.Time` reads it, to Unix seconds (the fraction
/// dropped: the record's precision is seconds).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    pullsim_reference::rfc3339::parse_rfc3339(s).map(|(secs, _)| secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        let i = ImagePullIntent {
            image: "a<b>&c\u{2028}".into(),
        };
        assert_eq!(
            String::from_utf8(encode_pull_intent(&i).unwrap()).unwrap(),
            "{\"kind\":\"ImagePullIntent\",\"apiVersion\":\"kubelet.config.k8s.io/v1alpha1\",\"image\":\"a\\u003cb\\u003e\\u0026c\\u2028\"}\n"
        );
        let back = decode_pull_intent(Path::new("f"), &encode_pull_intent(&i).unwrap()).unwrap();
        assert_eq!(back, i);
    }
}
