//! Resolving a reference to a manifest descriptor (HEAD, GET fallback) and fetching manifests
//! by digest, verified (status answers become typed errors in `body.rs`).

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use pullsim_reference::{Digest, Reference};

use crate::auth::Session;
use crate::body::{Stage, header_str, read_small_body, status_error, status_error_parts};
use crate::bounded::read_error_body;
use crate::error::RegistryError;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub use crate::body::MAX_MANIFEST_SIZE;

/// The Accept header of manifest requests, in containerd's order (`resolver.go`); distribution
/// 2.8 hides OCI manifests from clients that do not name the OCI type.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*";

/// Whether a media type is an index (OCI index or Docker manifest list).
pub fn is_index_type(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_LIST
}

/// A resolved reference: the top-level manifest (or index) descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Digest of the manifest or index.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

fn manifest_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
    h
}

fn media_type_of(headers: &HeaderMap) -> String {
    header_str(headers, CONTENT_TYPE.as_str())
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default()
}

/// `sha256:<hex>` of bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> Result<Digest, RegistryError> {
    let hex = hex::encode(Sha256::digest(bytes));
    Digest::from_sha256_hex(&hex).map_err(|e| RegistryError::Config {
        message: format!("computed digest sha256:{hex} rejected: {e}"),
    })
}

/// Why a host did not resolve, as containerd's resolver loop treats it
/// (`core/remotes/docker/resolver.go@v2.3.4` `Resolve`).
#[derive(Debug)]
pub(crate) enum HostFailure {
    /// Try the next host. `priority` ranks how far through resolution the error came (2.x):
    /// 1 request failed (transport, auth), 2 not found, 3 other error status, 4 oversize.
    Next {
        /// 1..=4.
        priority: u8,
        /// The error.
        error: RegistryError,
        /// The host's last status, when it answered.
        status: Option<u16>,
    },
    /// Return this error at once (an unfollowed 3xx, a failed manifest GET, a bad digest).
    Stop(RegistryError),
}

/// Whether an error is the oversize-manifest rejection (`rejecting N byte manifest`).
fn is_oversize(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Protocol { message, .. } if message.contains("rejecting "))
}

/// Resolve `reference` at the host of `session`: `HEAD` of `kind` (`manifests`, or `blobs` for
/// the second pass of a digest reference) with the digest or tag, a `GET` when the answer
/// names no digest or size.
pub(crate) async fn resolve_at(
    session: &Session<'_>,
    reference: &Reference,
    kind: &str,
) -> Result<Resolved, HostFailure> {
    let object = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    };
    let path = session.object_path(kind, &object);
    let resp = match session
        .request(Method::HEAD, &path, manifest_headers())
        .await
    {
        Ok(r) => r,
        Err(error) => {
            let status = error.status();
            return Err(HostFailure::Next {
                priority: 1,
                error,
                status,
            });
        }
    };
    let url = resp.url().clone();
    let status = resp.status();
    let code = Some(status.as_u16());
    if status.as_u16() > 299 {
        let fail = |error| {
            if status == StatusCode::NOT_FOUND {
                HostFailure::Next {
                    priority: 2,
                    error,
                    status: code,
                }
            } else if status.as_u16() > 399 {
                HostFailure::Next {
                    priority: 3,
                    error,
                    status: code,
                }
            } else {
                HostFailure::Stop(error)
            }
        };
        // A HEAD 403 carries no body: containerd 2.3.3+ asks again with GET and, when that is
        // answered 403 too, takes its body (`withGETErrorBody`, `pusher.go@v2.3.4`).
        let (headers, body) = if status == StatusCode::FORBIDDEN && session.resolver.is_v2() {
            match session
                .request(Method::GET, &path, manifest_headers())
                .await
            {
                Ok(r) if r.status() == status => {
                    let h = r.headers().clone();
                    (h, read_error_body(r, &session.deadline).await)
                }
                _ => (resp.headers().clone(), Vec::new()),
            }
        } else {
            (resp.headers().clone(), Vec::new())
        };
        return Err(fail(status_error_parts(
            status,
            &headers,
            &body,
            &Method::HEAD,
            &url,
            &session.reference,
            (Stage::Resolve, session.resolver),
        )));
    }
    let headers = resp.headers();
    let size = header_str(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    let header_digest = header_str(headers, "docker-content-digest");
    let media_type = media_type_of(headers);
    let resolved = match (reference.digest(), header_digest, size) {
        (Some(d), _, Some(size)) => Resolved {
            digest: d.clone(),
            media_type,
            size,
        },
        (None, Some(hd), Some(size)) => {
            let digest = Digest::parse(&hd).map_err(|e| {
                HostFailure::Stop(RegistryError::Protocol {
                    reference: session.reference.clone(),
                    status: Some(status.as_u16()),
                    message: format!(
                        "failed to resolve reference {:?}: {hd:?} in header not a valid digest: {e}",
                        session.reference
                    ),
                })
            })?;
            Resolved {
                digest,
                media_type,
                size,
            }
        }
        _ => match get_manifest(session, reference, &path, None).await {
            Ok((r, _)) => r,
            Err(e) if is_oversize(&e) => {
                return Err(HostFailure::Next {
                    priority: 4,
                    error: e,
                    status: Some(200),
                });
            }
            Err(e) => return Err(HostFailure::Stop(e)),
        },
    };
    if resolved.size > MAX_MANIFEST_SIZE {
        // "Prevent resolving to excessively large manifests".
        return Err(HostFailure::Next {
            priority: 4,
            error: RegistryError::Protocol {
                reference: session.reference.clone(),
                status: Some(status.as_u16()),
                message: format!(
                    "failed to resolve reference {:?}: rejecting {} byte manifest for {}: not found",
                    session.reference, resolved.size, session.reference
                ),
            },
            status: Some(status.as_u16()),
        });
    }
    Ok(resolved)
}

/// The registry's error code for `reference` at the host of `session`, by a `GET` of the
/// manifest (a `HEAD` answer has no body). Not containerd's: only `pullsim creds check` asks,
/// to tell `MANIFEST_UNKNOWN` from `NAME_UNKNOWN` and `UNAUTHORIZED` from `DENIED`.
pub(crate) async fn error_code_by_get(
    session: &Session<'_>,
    reference: &Reference,
) -> Option<String> {
    let object = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    };
    let path = session.object_path("manifests", &object);
    match session
        .request(Method::GET, &path, manifest_headers())
        .await
    {
        Err(e) => e.registry_code().map(str::to_string),
        Ok(resp) if !resp.status().is_success() => {
            let body = read_error_body(resp, &session.deadline).await;
            crate::error::parse_error_envelope(&body)
                .first()
                .map(|e| e.code.clone())
        }
        Ok(_) => None,
    }
}

/// GET a manifest at `path`, check `Docker-Content-Digest` and `expected` against the sha256
/// of the body, and return its descriptor and bytes.
pub(crate) async fn get_manifest(
    session: &Session<'_>,
    reference: &Reference,
    path: &str,
    expected: Option<&Digest>,
) -> Result<(Resolved, Vec<u8>), RegistryError> {
    let resp = session
        .request(Method::GET, path, manifest_headers())
        .await?;
    let url = resp.url().clone();
    if !resp.status().is_success() {
        let stage = if expected.is_some() {
            Stage::Fetch
        } else {
            Stage::Resolve
        };
        let deadline = &session.deadline;
        return Err(status_error(
            resp,
            deadline,
            &Method::GET,
            &url,
            &session.reference,
            (stage, session.resolver),
        )
        .await);
    }
    let headers = resp.headers().clone();
    if let Some(len) = resp.content_length()
        && len > MAX_MANIFEST_SIZE
    {
        return Err(RegistryError::Protocol {
            reference: session.reference.clone(),
            status: Some(200),
            message: format!(
                "rejecting {len} byte manifest for {}: not found",
                session.reference
            ),
        });
    }
    let body = read_small_body(resp, &session.deadline, &session.reference).await?;
    let actual = sha256_digest(&body)?;
    let what = format!("manifest {}@{}", reference.name(), actual);
    if let Some(hd) = header_str(&headers, "docker-content-digest")
        && let Ok(hd) = Digest::parse(&hd)
        && hd != actual
    {
        return Err(RegistryError::DigestMismatch {
            what: format!("manifest {url} (Docker-Content-Digest)"),
            expected: hd,
            actual,
        });
    }
    let want = expected.or(reference.digest());
    if let Some(want) = want
        && *want != actual
    {
        return Err(RegistryError::DigestMismatch {
            what,
            expected: want.clone(),
            actual,
        });
    }
    let mut media_type = media_type_of(&headers);
    if media_type.is_empty() || media_type == "application/json" {
        media_type = sniff_media_type(&body);
    }
    Ok((
        Resolved {
            digest: actual,
            media_type,
            size: body.len() as u64,
        },
        body,
    ))
}

/// The media type a manifest names itself, or guessed from its shape.
pub(crate) fn sniff_media_type(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(body) {
        Ok(Probe {
            media_type: Some(mt),
            ..
        }) if !mt.is_empty() => mt,
        Ok(Probe {
            manifests: Some(_), ..
        }) => OCI_INDEX.to_string(),
        _ => OCI_MANIFEST.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sniffing_table() {
        // containerd remotes/docker resolver: the manifest's own mediaType first; a body with
        // `manifests` is an index; anything else an image manifest.
        for (body, want) in [
            (
                r#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}"#,
                DOCKER_LIST,
            ),
            (r#"{"manifests":[]}"#, OCI_INDEX),
            (r#"{"mediaType":"","manifests":null}"#, OCI_MANIFEST),
            (r#"{"layers":[]}"#, OCI_MANIFEST),
            ("not json", OCI_MANIFEST),
        ] {
            assert_eq!(sniff_media_type(body.as_bytes()), want, "{body}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any body: no panic, and the type is bounded by the body (it is the body's own
        /// `mediaType` or one of ours).
        #[test]
        fn sniffing_never_panics(
            body in proptest::collection::vec(any::<u8>(), 0..200),
            media_type in prop_oneof![Just(serde_json::json!(OCI_INDEX)), Just(serde_json::json!(5)),
                Just(serde_json::json!(null)), Just(serde_json::json!("")), "\\PC{0,30}".prop_map(serde_json::Value::from)],
            manifests in prop_oneof![Just(serde_json::json!([])), Just(serde_json::json!(null)), Just(serde_json::json!("x"))],
            keep in any::<(bool, bool)>(),
        ) {
            let mt = sniff_media_type(&body);
            prop_assert!(mt.len() <= body.len() || [OCI_INDEX, OCI_MANIFEST].contains(&mt.as_str()));
            let mut doc = serde_json::Map::new();
            if keep.0 {
                doc.insert("mediaType".into(), media_type.clone());
            }
            if keep.1 {
                doc.insert("manifests".into(), manifests.clone());
            }
            let text = serde_json::Value::Object(doc).to_string();
            let mt = sniff_media_type(text.as_bytes());
            match (keep.0.then_some(&media_type), keep.1.then_some(&manifests)) {
                (Some(serde_json::Value::String(s)), _) if !s.is_empty() => prop_assert_eq!(&mt, s),
                // A mediaType of the wrong type makes the body unreadable: a manifest.
                (Some(v), _) if !v.is_string() && !v.is_null() => prop_assert_eq!(mt, OCI_MANIFEST),
                (_, Some(m)) if !m.is_null() => prop_assert_eq!(mt, OCI_INDEX),
                _ => prop_assert_eq!(mt, OCI_MANIFEST),
            }
        }
    }

    /// A 4 MiB manifest (the cap) with 40,000 layers: sniffed in bounded time.
    #[test]
    fn large_manifest_is_sniffed_in_bounded_time() {
        let layer = serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", "a".repeat(64)), "size": 1});
        let layers = vec![layer; 40_000];
        let body =
            serde_json::json!({"schemaVersion": 2, "layers": layers, "mediaType": OCI_MANIFEST})
                .to_string();
        assert!(body.len() as u64 <= 2 * MAX_MANIFEST_SIZE);
        let start = std::time::Instant::now();
        assert_eq!(sniff_media_type(body.as_bytes()), OCI_MANIFEST);
        let nested = "[".repeat(1 << 20);
        assert_eq!(sniff_media_type(nested.as_bytes()), OCI_MANIFEST);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }
}
