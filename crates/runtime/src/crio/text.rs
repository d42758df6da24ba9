//! containers/image's words for a failed source (`docker/docker_client.go`, `docker/errors.go`,
//! `docker/distribution_error.go` at v5.36.1, the same files CRI-O v1.36.3 vendors as
//! `go.podman.io/image/v5` v5.38.0).
//!
//! containers/image talks to a source in three steps, and each has its own wording:
//! 1. `GET /v2/` (the ping, `detectPropertiesHelper`): a transport failure reads
//!    `pinging container registry H: Get "https://H/v2/": <net error>` (`http://` when the
//!    endpoint is `insecure`, whose HTTPS ping failed first).
//! 2. the bearer token, when the ping answered a Bearer challenge (`getBearerToken`):
//!    `unable to retrieve auth token: invalid username/password: <registry error>` on 401.
//! 3. `GET /v2/NAME/manifests/TAG|DIGEST` (`fetchManifest`):
//!    `reading manifest TAG in HOST/NAME: <registry error>`.
//!
//! pullsim's client does not ping (containerd's resolver does not): its first request is the
//! manifest `HEAD`, so a transport failure surfaces there. It is worded here as the ping would
//! have failed, since the same connection failure stops containers/image at its ping.
//!
//! The registry error (`registryHTTPResponseToError`): the first error of the JSON envelope,
//! printed as its message alone when the message is the code's default (`manifest unknown`),
//! `received unexpected HTTP status: 500 Internal Server Error` outside 400–499.
//! [`RegistryError`] keeps the envelope's code but not its message, so the default message of
//! the code (distribution's `errcode/register.go` and `api/v2/errors.go` descriptors, which
//! containers/image registers) is printed; distribution itself sends those defaults.

use pullsim_reference::Reference;
use pullsim_registry::transport::registry_host;
use pullsim_registry::{NotFoundKind, Refuser, RegistryError};

use crate::registries_conf::PullSource;

/// The default message of a registry error code, as distribution registers it
/// (`registry/api/errcode/register.go` and `registry/api/v2/errors.go`, vendored by CRI-O
/// v1.36.3); `None` for a code it does not register.
pub fn default_registry_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "UNKNOWN" => "unknown error",
        "UNSUPPORTED" => "The operation is unsupported.",
        "UNAUTHORIZED" => "authentication required",
        "DENIED" => "requested access to the resource is denied",
        "UNAVAILABLE" => "service unavailable",
        "TOOMANYREQUESTS" => "too many requests",
        "DIGEST_INVALID" => "provided digest did not match uploaded content",
        "SIZE_INVALID" => "provided length did not match content length",
        "NAME_INVALID" => "invalid repository name",
        "TAG_INVALID" => "manifest tag did not match URI",
        "NAME_UNKNOWN" => "repository name not known to registry",
        "MANIFEST_UNKNOWN" => "manifest unknown",
        "MANIFEST_INVALID" => "manifest invalid",
        "MANIFEST_UNVERIFIED" => "manifest failed signature verification",
        "MANIFEST_BLOB_UNKNOWN" | "BLOB_UNKNOWN" => "blob unknown to registry",
        "BLOB_UPLOAD_UNKNOWN" => "blob upload unknown to registry",
        "BLOB_UPLOAD_INVALID" => "blob upload invalid",
        "PAGINATION_NUMBER_INVALID" => "invalid number of results requested",
        _ => return None,
    })
}

/// Go's `http.StatusText` for the statuses a registry answers with.
fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// `UnexpectedHTTPStatusError.Error()`: `received unexpected HTTP status: 500 Internal Server
/// Error` (Go's `resp.Status` is the code and its text).
pub fn unexpected_status_text(status: u16) -> String {
    let text = status_text(status);
    if text.is_empty() {
        format!("received unexpected HTTP status: {status}")
    } else {
        format!("received unexpected HTTP status: {status} {text}")
    }
}

/// Whether distribution attaches a `detail` to an error with this code: the API's own codes
/// (`registry/api/v2/errors.go`: the manifest, blob and name errors carry the tag, digest or
/// name) and `UNAUTHORIZED` (the auth challenge's access records); the generic `DENIED`,
/// `UNSUPPORTED`, `UNAVAILABLE`, `TOOMANYREQUESTS` and `UNKNOWN` come without one.
fn carries_detail(code: &str) -> bool {
    !matches!(
        code,
        "DENIED" | "UNSUPPORTED" | "UNAVAILABLE" | "TOOMANYREQUESTS" | "UNKNOWN"
    )
}

/// The words of one envelope error whose message is its code's default, as containers/image
/// ends up printing it: `errcode.Errors.UnmarshalJSON` turns an error without `detail` into
/// the bare code (printed as the code's words: `denied`); one with a detail stays an
/// `errcode.Error`, printed as its message alone since v5.24 (`registryHTTPResponseToError`).
fn default_error_words(code: &str) -> Option<String> {
    let message = default_registry_message(code)?;
    Some(if carries_detail(code) {
        message.to_string()
    } else {
        code.to_ascii_lowercase().replace('_', " ")
    })
}

/// `registryHTTPResponseToError` for an answer with `status` whose envelope's first code was
/// `code`, assuming the registry sent the code's default message and attached a detail where
/// distribution does ([`carries_detail`]); [`RegistryError`] keeps neither message nor detail.
/// Outside 400–499 the unexpected-status text. A 401 without a usable envelope is
/// `UNAUTHORIZED` with the body as detail (`handleErrorResponse`). `None` when the text
/// depends on what [`RegistryError`] does not keep (an unregistered code's message, a non-JSON
/// body).
fn registry_error_text(status: u16, code: Option<&str>) -> Option<String> {
    if !(400..500).contains(&status) {
        return Some(unexpected_status_text(status));
    }
    let code = match (code, status) {
        (Some(c), _) => c,
        (None, 401) => return Some("authentication required".to_string()),
        (None, _) => return None,
    };
    match code {
        // A Bearer challenge with error="insufficient_scope" (or "invalid_token") is an
        // errcode.Error of DENIED (UNAUTHORIZED) with the default message unless the challenge
        // carries error_description (`handleErrorResponse`).
        "insufficient_scope" => Some("requested access to the resource is denied".to_string()),
        "invalid_token" => Some("authentication required".to_string()),
        _ => default_error_words(code),
    }
}

/// The first error of an envelope as containers/image ≥ v5.24 prints it
/// (`registryHTTPResponseToError`): with the code's default message as
/// [`default_error_words`], else `code: message` (the code lower-cased, `_` as spaces); a code
/// distribution does not register decodes as `UNKNOWN`. `first` is the first error as pullsim prints an envelope
/// (`envelope_text`: `code: message`, several after `errors:\n`).
fn cimage_errcode_text(first: &str) -> String {
    let (code_words, message) = first.split_once(": ").unwrap_or((first, ""));
    let code = code_words.to_ascii_uppercase().replace(' ', "_");
    match default_registry_message(&code) {
        Some(default) if default == message || message.is_empty() => {
            default_error_words(&code).unwrap_or_else(|| message.to_string())
        }
        Some(_) => format!("{code_words}: {message}"),
        None => format!("unknown: {message}"),
    }
}

/// The token endpoint's error envelope, which pullsim's client appends to its message in
/// parentheses (`… unexpected status from GET request to URL: 401 Unauthorized (unauthorized:
/// incorrect username or password)`), in containers/image's words.
fn token_envelope_text(message: &str) -> Option<String> {
    let from = message.find("unexpected status from ")?;
    let rest = &message[from..];
    let open = rest.find(" (")?;
    let inner = rest[open + 2..].strip_suffix(')')?;
    let first = match inner.strip_prefix("errors:\n") {
        Some(list) => list.lines().next()?,
        None => inner,
    };
    Some(cimage_errcode_text(first))
}

/// The tag or digest containers/image asks for (`tagOrDigest`): the digest of a digested
/// reference, else its tag (`latest` when it has none).
fn tag_or_digest(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    }
}

/// The Go `net/http` error after `METHOD "URL": ` in a pullsim transport message
/// (`failed to do request: Head "URL": dial tcp …: connect: connection refused`).
fn go_transport_detail(message: &str) -> Option<&str> {
    let rest = &message[message.find("failed to do request: ")? + "failed to do request: ".len()..];
    let open = rest.find('"')?;
    let after_open = &rest[open + 1..];
    let close = after_open.find('"')?;
    after_open[close + 1..].strip_prefix(": ")
}

/// Whether a failure stopped at the transport (no HTTP answer): containers/image's error then
/// wraps Go's `*url.Error`, a `net.Error`.
pub fn is_transport_failure(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::Unavailable { status: None, .. } | RegistryError::Tls { .. }
    )
}

/// Whether the transport failure is a refused connection (`syscall.ECONNREFUSED`).
pub fn is_connection_refused(e: &RegistryError) -> bool {
    is_transport_failure(e) && e.to_string().ends_with("connect: connection refused")
}

/// containers/image's text for `e`, met while opening `source` (see the module docs), e.g.
/// `reading manifest latest in 127.0.0.1:5000/team/app: manifest unknown`. Errors with no
/// containers/image counterpart (digest mismatch, platform, stall, local store) keep
/// pullsim's own text.
pub fn source_error_text(source: &PullSource, e: &RegistryError) -> String {
    let physical = &source.reference;
    let host = registry_host(physical.domain());
    let reading = |text: String| {
        format!(
            "reading manifest {} in {}: {text}",
            tag_or_digest(physical),
            physical.name_str()
        )
    };
    let text = match e {
        RegistryError::Unavailable { status: None, .. } | RegistryError::Tls { .. } => {
            let scheme = if source.endpoint.insecure {
                "http"
            } else {
                "https"
            };
            let message = e.to_string();
            let detail = go_transport_detail(&message).unwrap_or(&message);
            Some(format!(
                "pinging container registry {host}: Get \"{scheme}://{host}/v2/\": {detail}"
            ))
        }
        RegistryError::Unavailable {
            status: Some(s), ..
        } => Some(reading(unexpected_status_text(*s))),
        RegistryError::NotFound {
            what: NotFoundKind::Blob,
            code,
            ..
        } => registry_error_text(404, code.as_deref().or(Some("BLOB_UNKNOWN")))
            .map(|t| format!("fetching blob: {t}")),
        RegistryError::NotFound { code, .. } => {
            registry_error_text(404, code.as_deref()).map(reading)
        }
        RegistryError::Unauthorized {
            by: Refuser::TokenEndpoint,
            status,
            code,
            ..
        } => match status {
            // httpResponseToError(res, "Requesting bearer token")
            401 => token_envelope_text(&e.to_string())
                .or_else(|| registry_error_text(401, code.as_deref()))
                .map(|t| format!("unable to retrieve auth token: invalid username/password: {t}")),
            429 => Some("too many requests to registry".to_string()),
            s => Some(format!(
                "Requesting bearer token: {}",
                unexpected_status_text(*s)
            )),
        },
        RegistryError::Unauthorized { status, code, .. }
        | RegistryError::Denied { status, code, .. } => {
            registry_error_text(*status, code.as_deref()).map(reading)
        }
        RegistryError::RateLimited { .. } => {
            registry_error_text(429, Some("TOOMANYREQUESTS")).map(reading)
        }
        RegistryError::Protocol {
            status: Some(s), ..
        } => registry_error_text(*s, None).map(reading),
        _ => None,
    };
    text.unwrap_or_else(|| e.to_string())
}

/// The blob digest named in a pullsim fetch error (its URL's `/blobs/DIGEST`).
fn blob_digest(message: &str) -> Option<&str> {
    // A blob URL (`…/blobs/sha256:…`), or the fetcher's `could not fetch content descriptor
    // sha256:… (TYPE) from remote` when every host answered 404.
    let start = match message.find("/blobs/") {
        Some(i) => i + "/blobs/".len(),
        None => message.find("content descriptor ")? + "content descriptor ".len(),
    };
    let rest = &message[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|d| d.contains(':'))
}

/// containers/image's text for `e`, met after `source` served the manifest (the copy of its
/// content, `copy/single.go` at v5.36.1): a blob is `reading blob DIGEST: fetching blob: ERR`
/// (`docker/docker_client.go` `getBlob`), or `reading blob DIGEST: Get "URL": …` for a
/// transport failure; an image chosen from an index adds `copying system image from manifest
/// list: ` (`copy/copy.go`). Other failures are worded as [`source_error_text`] words them.
pub fn content_error_text(source: &PullSource, e: &RegistryError, through_index: bool) -> String {
    let message = e.to_string();
    let text = match blob_digest(&message) {
        Some(digest) => {
            let inner = match e {
                RegistryError::Unavailable { status: None, .. } | RegistryError::Tls { .. } => {
                    message
                        .find("failed to do request: ")
                        .map(|i| message[i + "failed to do request: ".len()..].to_string())
                }
                RegistryError::NotFound { code, .. } => {
                    registry_error_text(404, code.as_deref().or(Some("BLOB_UNKNOWN")))
                        .map(|t| format!("fetching blob: {t}"))
                }
                RegistryError::Unauthorized { status, code, .. }
                | RegistryError::Denied { status, code, .. } => {
                    registry_error_text(*status, code.as_deref())
                        .map(|t| format!("fetching blob: {t}"))
                }
                RegistryError::RateLimited { .. } => {
                    registry_error_text(429, Some("TOOMANYREQUESTS"))
                        .map(|t| format!("fetching blob: {t}"))
                }
                RegistryError::Unavailable {
                    status: Some(s), ..
                }
                | RegistryError::Protocol {
                    status: Some(s), ..
                } => registry_error_text(*s, None).map(|t| format!("fetching blob: {t}")),
                _ => None,
            };
            match inner {
                Some(inner) => format!("reading blob {digest}: {inner}"),
                None => source_error_text(source, e),
            }
        }
        None => source_error_text(source, e),
    };
    if through_index {
        format!("copying system image from manifest list: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_detail_is_the_go_error() {
        assert_eq!(
            go_transport_detail(
                "failed to resolve reference \"127.0.0.1:1/a:b\": failed to do request: Head \"http://127.0.0.1:1/v2/a/manifests/b\": dial tcp 127.0.0.1:1: connect: connection refused"
            ),
            Some("dial tcp 127.0.0.1:1: connect: connection refused")
        );
        assert_eq!(go_transport_detail("something else"), None);
    }

    #[test]
    fn token_envelopes_as_containers_image() {
        let m = |tail: &str| {
            format!(
                "failed to resolve reference \"r\": failed to authorize: failed to fetch oauth token: unexpected status from GET request to http://127.0.0.1:1/token?scope=x: 401 Unauthorized{tail}"
            )
        };
        assert_eq!(
            token_envelope_text(&m(" (unauthorized: incorrect username or password)")).as_deref(),
            Some("unauthorized: incorrect username or password")
        );
        assert_eq!(
            token_envelope_text(&m(" (unauthorized: authentication required)")).as_deref(),
            Some("authentication required")
        );
        assert_eq!(
            token_envelope_text(&m(" (denied: requested access to the resource is denied)"))
                .as_deref(),
            Some("denied")
        );
        assert_eq!(
            token_envelope_text(&m(
                " (errors:\ndenied: requested access to the resource is denied\nunauthorized: x\n)"
            ))
            .as_deref(),
            Some("denied")
        );
        assert_eq!(
            token_envelope_text(&m(" (weird code: boom)")).as_deref(),
            Some("unknown: boom")
        );
        assert_eq!(token_envelope_text(&m("")), None);
    }

    #[test]
    fn status_texts_as_go() {
        assert_eq!(
            unexpected_status_text(500),
            "received unexpected HTTP status: 500 Internal Server Error"
        );
        assert_eq!(
            unexpected_status_text(599),
            "received unexpected HTTP status: 599"
        );
    }
}
