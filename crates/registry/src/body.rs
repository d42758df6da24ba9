//! Reading answers: manifests with the no-progress deadline and containerd's size cap, and
//! error statuses turned into typed errors worded as containerd's
//! `core/remotes/docker/resolver.go` and `fetcher.go` (their bodies read up to
//! [`crate::bounded::MAX_ERROR_BODY_SIZE`]). Used by the resolver and the fetcher alike.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, Response, StatusCode};

use crate::bounded::{BodyEnd, Deadline, read_capped, read_error_body};
use crate::error::{NotFoundKind, Refuser, RegistryError, envelope_text, parse_error_envelope};
use crate::hosts::Resolver;

/// containerd's `MaxManifestSize` (4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

pub(crate) use crate::error::Stage;

pub(crate) fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Turn an error status into a typed error (reads a bounded prefix of the body, within the
/// deadline, for the registry's envelope).
pub(crate) async fn status_error(
    resp: Response,
    deadline: &Deadline,
    method: &Method,
    url: &url::Url,
    reference: &str,
    (stage, resolver): (Stage, Resolver),
) -> RegistryError {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = read_error_body(resp, deadline).await;
    status_error_parts(
        status,
        &headers,
        &body,
        method,
        url,
        reference,
        (stage, resolver),
    )
}

/// The typed error of an error status, worded as `resolver`'s containerd:
/// - 2.x (`unexpectedResponseErr`, `core/remotes/docker/errcode.go@v2.3.4`): `unexpected status
///   from METHOD request to URL: STATUS`, joined (`errors.Join`: a newline) with the registry's
///   decoded errors when the body has some;
/// - 1.7 fetch (`v1.7.34:remotes/docker/fetcher.go` `open`): `unexpected status code URL:
///   STATUS`, with ` - Server message: ERRORS` when the body has some;
/// - 1.7 resolve (`remoteerrors.NewUnexpectedStatusErr`): the 2.x line without the errors.
pub(crate) fn status_error_parts(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    method: &Method,
    url: &url::Url,
    reference: &str,
    (stage, resolver): (Stage, Resolver),
) -> RegistryError {
    let errors = parse_error_envelope(body);
    let code = errors.first().map(|e| e.code.clone());
    let prefix = match stage {
        Stage::Resolve => format!("failed to resolve reference {reference:?}: "),
        Stage::Fetch => "failed to copy: httpReadSeeker: failed open: ".to_string(),
    };
    let mut unexpected = if !resolver.is_v2() && stage == Stage::Fetch {
        format!("{prefix}unexpected status code {url}: {status}")
    } else {
        format!(
            "{prefix}unexpected status from {} request to {url}: {status}",
            method.as_str()
        )
    };
    if !errors.is_empty() {
        if resolver.is_v2() {
            unexpected.push('\n');
            unexpected.push_str(&envelope_text(&errors));
        } else if stage == Stage::Fetch {
            unexpected.push_str(" - Server message: ");
            unexpected.push_str(&envelope_text(&errors));
        }
    }
    let reference = reference.to_string();
    match status {
        StatusCode::NOT_FOUND => {
            let what = match code.as_deref() {
                Some("NAME_UNKNOWN") => NotFoundKind::Repository,
                Some("BLOB_UNKNOWN") => NotFoundKind::Blob,
                Some("MANIFEST_UNKNOWN") => NotFoundKind::Manifest,
                _ if stage == Stage::Fetch => NotFoundKind::Blob,
                _ => NotFoundKind::Manifest,
            };
            let message = match stage {
                Stage::Resolve => format!("{prefix}{reference}: not found"),
                Stage::Fetch => format!("{prefix}content at {url} not found: not found"),
            };
            RegistryError::NotFound {
                reference,
                what,
                code,
                message,
            }
        }
        StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
            reference,
            by: Refuser::Registry,
            status: 401,
            code,
            message: unexpected,
        },
        StatusCode::FORBIDDEN => RegistryError::Denied {
            reference,
            status: 403,
            code,
            message: unexpected,
        },
        StatusCode::TOO_MANY_REQUESTS => {
            // containerd prints no Retry-After: it is kept as a field only.
            let retry_after = header_str(headers, "retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            RegistryError::RateLimited {
                reference,
                retry_after,
                limit: header_str(headers, "ratelimit-limit"),
                remaining: header_str(headers, "ratelimit-remaining"),
                message: unexpected,
            }
        }
        s if s.is_server_error() => RegistryError::Unavailable {
            reference,
            status: Some(s.as_u16()),
            message: unexpected,
        },
        s => RegistryError::Protocol {
            reference,
            status: Some(s.as_u16()),
            message: unexpected,
        },
    }
}

/// The typed error of an HTTP error status answered to `method` on `url`, worded as
/// `resolver`'s containerd (see [`status_error_parts`]); `body` is the answer's body (the
/// registry's error envelope, if any). For callers without an HTTP response at hand (the fleet
/// simulator's modelled registries).
pub fn status_error_for(
    status: u16,
    method: &str,
    url: &str,
    body: &[u8],
    reference: &str,
    (stage, resolver): (Stage, Resolver),
) -> RegistryError {
    let url = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return RegistryError::Protocol {
                reference: reference.to_string(),
                status: Some(status),
                message: format!("invalid registry URL {url:?}: {e}"),
            };
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    status_error_parts(
        status,
        &HeaderMap::new(),
        body,
        &method,
        &url,
        reference,
        (stage, resolver),
    )
}

/// Read a manifest whole, within the no-progress deadline, up to containerd's
/// [`MAX_MANIFEST_SIZE`].
pub(crate) async fn read_small_body(
    resp: Response,
    deadline: &Deadline,
    reference: &str,
) -> Result<Vec<u8>, RegistryError> {
    let url = resp.url().to_string();
    let c = read_capped(resp, MAX_MANIFEST_SIZE, deadline).await;
    match c.end {
        BodyEnd::Complete => Ok(c.bytes),
        BodyEnd::Capped => Err(RegistryError::Protocol {
            reference: reference.to_string(),
            status: None,
            message: format!(
                "rejecting manifest larger than {MAX_MANIFEST_SIZE} bytes for {reference}: not found"
            ),
        }),
        BodyEnd::Stalled { timeout } => Err(RegistryError::Stalled {
            what: format!("{reference}: reading {url}"),
            timeout,
            received: c.bytes.len() as u64,
        }),
        BodyEnd::Failed(e) => Err(RegistryError::Unavailable {
            reference: reference.to_string(),
            status: None,
            message: format!("failed to read {url}: {}", crate::transport::chain_text(&e)),
        }),
    }
}
