//! Typed registry errors.
//!
//! Every error carries the reference it concerns and a message built the way containerd's
//! `remotes/docker` code words it (`core/remotes/docker/resolver.go`, `authorizer.go`,
//! `auth/fetch.go`, `core/remotes/errors/errors.go`). The container runtime wraps them in its
//! own words (CRI's `rpc error: code = … desc = failed to pull and unpack image …`); this crate
//! speaks neither CRI's nor the kubelet's.
//! No message ever contains a password, a token or an `Authorization` value: token URLs carry
//! only `scope` and `service`, and credentials travel in headers that are never formatted.

use std::time::Duration;

use pullsim_reference::Digest;
use serde::Deserialize;

use crate::sink::SinkError;

/// Who refused the credentials of an [`RegistryError::Unauthorized`] error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refuser {
    /// The registry answered 401 to the request itself.
    Registry,
    /// The token endpoint (the challenge's `realm`) refused to issue a token.
    TokenEndpoint,
}

impl Refuser {
    /// `registry` or `token-endpoint`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refuser::Registry => "registry",
            Refuser::TokenEndpoint => "token-endpoint",
        }
    }
}

/// What was not found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotFoundKind {
    /// The manifest (tag or digest). Distribution answers `MANIFEST_UNKNOWN` both for a
    /// missing tag and for a missing repository on manifest requests.
    Manifest,
    /// The repository (`NAME_UNKNOWN`).
    Repository,
    /// A blob (`BLOB_UNKNOWN`).
    Blob,
}

/// One entry of the registry's JSON error envelope `{"errors":[{"code","message","detail"}]}`
/// (distribution-spec "Error Codes").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RegistryErrorBody {
    /// `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`, ...
    #[serde(default)]
    pub code: String,
    /// The registry's human message.
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<RegistryErrorBody>,
}

/// Parse a registry error envelope; an empty list when the body is not one.
pub fn parse_error_envelope(body: &[u8]) -> Vec<RegistryErrorBody> {
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.errors)
        .unwrap_or_default()
}

/// containerd's text for a parsed envelope (`errcode.go` `Errors.Error`): `code: message`, the
/// code lower-cased with `_` turned into spaces; several errors are listed after `errors:`.
pub fn envelope_text(errors: &[RegistryErrorBody]) -> String {
    fn one(e: &RegistryErrorBody) -> String {
        let code = e.code.to_lowercase().replace('_', " ");
        if e.message.is_empty() {
            code
        } else {
            format!("{code}: {}", e.message)
        }
    }
    match errors {
        [] => String::new(),
        [e] => one(e),
        many => {
            let mut s = String::from("errors:\n");
            for e in many {
                s.push_str(&one(e));
                s.push('\n');
            }
            s
        }
    }
}

/// Where in a resolve or pull a host was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Resolving the reference (`failed to resolve reference "REF": ...`).
    Resolve,
    /// Fetching content by digest (`failed to copy: httpReadSeeker: failed open: ...`).
    Fetch,
}

/// Why a TLS connection failed (Go's `x509.UnknownAuthorityError`, `x509.HostnameError`,
/// `x509.CertificateInvalidError{Expired}`, net/http's "server gave HTTP response to HTTPS
/// client").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// `x509: certificate signed by unknown authority`.
    UnknownAuthority,
    /// `x509: certificate is not valid for HOST`.
    WrongName,
    /// `x509: certificate has expired or is not yet valid`.
    Expired,
    /// An HTTPS request met a plain-HTTP server.
    PlainHttpServer,
    /// Another handshake failure.
    Other,
}

/// A failure talking to a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// 401: credentials missing or refused, by the registry or by its token endpoint.
    #[error("{message}")]
    Unauthorized {
        /// The reference being resolved or pulled.
        reference: String,
        /// Who refused.
        by: Refuser,
        /// HTTP status (401, or what the token endpoint answered).
        status: u16,
        /// First registry error code, when the body or challenge carried one.
        code: Option<String>,
        /// containerd-like message.
        message: String,
    },
    /// 403, or a token without the needed scope (`insufficient_scope`).
    #[error("{message}")]
    Denied {
        /// The reference.
        reference: String,
        /// HTTP status (403, or 401 with `insufficient_scope`).
        status: u16,
        /// Registry error code (`DENIED`, `insufficient_scope`).
        code: Option<String>,
        /// containerd-like message.
        message: String,
    },
    /// 404: manifest, repository or blob unknown.
    #[error("{message}")]
    NotFound {
        /// The reference.
        reference: String,
        /// What is missing.
        what: NotFoundKind,
        /// Registry error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `BLOB_UNKNOWN`).
        code: Option<String>,
        /// containerd-like message.
        message: String,
    },
    /// 429 Too Many Requests.
    #[error("{message}")]
    RateLimited {
        /// The reference.
        reference: String,
        /// `Retry-After`, when given in seconds.
        retry_after: Option<Duration>,
        /// Docker Hub's `ratelimit-limit` header.
        limit: Option<String>,
        /// Docker Hub's `ratelimit-remaining` header.
        remaining: Option<String>,
        /// containerd-like message.
        message: String,
    },
    /// Connection refused, DNS failure, timeout, 5xx.
    #[error("{message}")]
    Unavailable {
        /// The reference.
        reference: String,
        /// HTTP status for 5xx answers.
        status: Option<u16>,
        /// containerd-like message.
        message: String,
    },
    /// TLS handshake or certificate verification failed.
    #[error("{message}")]
    Tls {
        /// The reference.
        reference: String,
        /// What went wrong, as Go's crypto/tls and net/http name it.
        problem: TlsProblem,
        /// containerd-like message.
        message: String,
    },
    /// Content did not hash to the digest it was fetched by.
    #[error("{what}: digest mismatch: got {actual} but expected {expected}")]
    DigestMismatch {
        /// What was fetched (`manifest HOST/REPO@DIGEST`, `blob sha256:..`).
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// An index had no manifest for the wanted platform.
    #[error(
        "failed to resolve reference {reference:?}: no match for platform {wanted} in manifest {index}: not found (available: {})",
        available.join(", ")
    )]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// The index digest.
        index: Digest,
        /// The platform looked for (`linux/amd64`).
        wanted: String,
        /// Platforms the index offers.
        available: Vec<String>,
    },
    /// No byte arrived within the no-progress deadline.
    #[error(
        "{what}: no progress for {}s after {received} bytes (deadline {}s)",
        timeout.as_secs_f64(),
        timeout.as_secs_f64()
    )]
    Stalled {
        /// What was being fetched.
        what: String,
        /// The deadline.
        timeout: Duration,
        /// Bytes received before the stall.
        received: u64,
    },
    /// An answer larger than pullsim reads (a token response over
    /// [`crate::MAX_TOKEN_RESPONSE_SIZE`]); nothing past the limit was read.
    #[error("{what} larger than {limit} bytes")]
    TooLarge {
        /// The reference.
        reference: String,
        /// What was being read.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The client is offline: no network attempt was made.
    #[error("failed to resolve reference {reference:?}: offline: no network access allowed")]
    Offline {
        /// The reference.
        reference: String,
    },
    /// The registry answered something pullsim cannot use (bad JSON, unexpected status, ...).
    #[error("{message}")]
    Protocol {
        /// The reference.
        reference: String,
        /// HTTP status, when a response was received.
        status: Option<u16>,
        /// What is wrong.
        message: String,
    },
    /// A client option is invalid (unreadable CA file, bad insecure registry entry, ...).
    #[error("{message}")]
    Config {
        /// What is wrong and where.
        message: String,
    },
    /// The blob sink (the runtime's content store) failed.
    #[error("store: {source}")]
    Sink {
        /// The sink's error.
        #[from]
        source: SinkError,
    },
}

impl RegistryError {
    /// A sink failure met while pulling `reference`: a digest mismatch stays a
    /// [`RegistryError::DigestMismatch`] of the blob, a size mismatch is containerd's
    /// `failed to copy: …: failed precondition`, anything else a [`RegistryError::Sink`].
    pub fn from_sink(e: SinkError, reference: &str) -> RegistryError {
        match e {
            SinkError::DigestMismatch {
                what,
                expected,
                actual,
            } => RegistryError::DigestMismatch {
                what: format!("blob {what}"),
                expected,
                actual,
            },
            SinkError::SizeMismatch {
                what,
                digest,
                expected,
                actual,
            } => RegistryError::Protocol {
                reference: reference.to_string(),
                status: None,
                message: format!(
                    "failed to copy: {what} ({digest}): got {actual} bytes but expected {expected}: failed precondition"
                ),
            },
            other => RegistryError::Sink { source: other },
        }
    }

    /// The outcome word used by `pullsim creds check`:
    /// `unauthorized`, `denied`, `not-found`, `rate-limited`, `unavailable` or `tls-error`.
    /// Errors without a network meaning (digest mismatch, stall, protocol, sink) count as
    /// `unavailable`; a missing platform is `not-found` (containerd wraps it in ErrNotFound).
    pub fn outcome(&self) -> &'static str {
        match self {
            RegistryError::Unauthorized { .. } => "unauthorized",
            RegistryError::Denied { .. } => "denied",
            RegistryError::NotFound { .. } | RegistryError::NoMatchingPlatform { .. } => {
                "not-found"
            }
            RegistryError::RateLimited { .. } => "rate-limited",
            RegistryError::Tls { .. } => "tls-error",
            _ => "unavailable",
        }
    }

    /// The stage the error was met in, from containerd's wording: resolving (`failed to
    /// resolve reference "REF": ...`, `failed to resolve image: ...`, `no resolve hosts`) or
    /// fetching content by digest (`failed to copy: ...`, a digest mismatch); `None` for
    /// errors of neither (configuration, offline, store).
    pub fn stage(&self) -> Option<Stage> {
        if matches!(self, RegistryError::DigestMismatch { .. }) {
            return Some(Stage::Fetch);
        }
        let text = self.to_string();
        if text.starts_with("failed to resolve reference ")
            || text.starts_with("failed to resolve image: ")
        {
            Some(Stage::Resolve)
        } else if text.starts_with("failed to copy: ") || text.starts_with("no pull hosts") {
            Some(Stage::Fetch)
        } else {
            None
        }
    }

    /// The same error with the registry's error code set, when it has none (a diagnostic
    /// `GET` told what a `HEAD` answer could not).
    pub(crate) fn with_code(mut self, found: String) -> RegistryError {
        match &mut self {
            RegistryError::NotFound { code, what, .. } if code.is_none() => {
                if found == "NAME_UNKNOWN" {
                    *what = NotFoundKind::Repository;
                }
                *code = Some(found);
            }
            RegistryError::Unauthorized { code, .. } | RegistryError::Denied { code, .. }
                if code.is_none() =>
            {
                *code = Some(found);
            }
            _ => {}
        }
        self
    }

    /// The same error with its message's leading `from` replaced by `to` (the resolve stage's
    /// wording of another containerd code path).
    pub(crate) fn replace_message_prefix(mut self, from: &str, to: &str) -> RegistryError {
        match &mut self {
            RegistryError::Unauthorized { message, .. }
            | RegistryError::Denied { message, .. }
            | RegistryError::NotFound { message, .. }
            | RegistryError::RateLimited { message, .. }
            | RegistryError::Unavailable { message, .. }
            | RegistryError::Tls { message, .. }
            | RegistryError::Protocol { message, .. } => {
                if let Some(rest) = message.strip_prefix(from) {
                    *message = format!("{to}{rest}");
                }
            }
            _ => {}
        }
        self
    }

    /// HTTP status of the refusing answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Unauthorized { status, .. } | RegistryError::Denied { status, .. } => {
                Some(*status)
            }
            RegistryError::NotFound { .. } => Some(404),
            RegistryError::RateLimited { .. } => Some(429),
            RegistryError::Unavailable { status, .. } | RegistryError::Protocol { status, .. } => {
                *status
            }
            _ => None,
        }
    }

    /// Registry error code (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`, `insufficient_scope`, ...).
    pub fn registry_code(&self) -> Option<&str> {
        match self {
            RegistryError::Unauthorized { code, .. }
            | RegistryError::Denied { code, .. }
            | RegistryError::NotFound { code, .. } => code.as_deref(),
            RegistryError::RateLimited { .. } => Some("TOOMANYREQUESTS"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_parses_and_formats_like_containerd() {
        // core/remotes/docker/errcode.go: ErrorCode.Error() lower-cases and replaces '_'.
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let errs = parse_error_envelope(body);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "MANIFEST_UNKNOWN");
        assert_eq!(envelope_text(&errs), "manifest unknown: manifest unknown");
        assert!(parse_error_envelope(b"not json").is_empty());
        let two = br#"{"errors":[{"code":"DENIED","message":"a"},{"code":"UNAUTHORIZED","message":"b"}]}"#;
        assert_eq!(
            envelope_text(&parse_error_envelope(two)),
            "errors:\ndenied: a\nunauthorized: b\n"
        );
    }

    #[test]
    fn outcomes() {
        let table: Vec<(RegistryError, &str)> = vec![
            (
                RegistryError::Unauthorized {
                    reference: "r".into(),
                    by: Refuser::Registry,
                    status: 401,
                    code: None,
                    message: "m".into(),
                },
                "unauthorized",
            ),
            (
                RegistryError::Denied {
                    reference: "r".into(),
                    status: 403,
                    code: None,
                    message: "m".into(),
                },
                "denied",
            ),
            (
                RegistryError::NotFound {
                    reference: "r".into(),
                    what: NotFoundKind::Manifest,
                    code: None,
                    message: "m".into(),
                },
                "not-found",
            ),
            (
                RegistryError::RateLimited {
                    reference: "r".into(),
                    retry_after: None,
                    limit: None,
                    remaining: None,
                    message: "m".into(),
                },
                "rate-limited",
            ),
            (
                RegistryError::Unavailable {
                    reference: "r".into(),
                    status: None,
                    message: "m".into(),
                },
                "unavailable",
            ),
            (
                RegistryError::Tls {
                    reference: "r".into(),
                    problem: TlsProblem::Other,
                    message: "m".into(),
                },
                "tls-error",
            ),
            (
                RegistryError::Offline {
                    reference: "r".into(),
                },
                "unavailable",
            ),
        ];
        for (err, outcome) in table {
            assert_eq!(err.outcome(), outcome, "{err:?}");
        }
    }

    #[test]
    fn sink_errors_keep_their_type() {
        let d = |c: char| Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap();
        let e = RegistryError::from_sink(
            SinkError::DigestMismatch {
                what: "r/app@x".into(),
                expected: d('a'),
                actual: d('b'),
            },
            "r/app:1",
        );
        assert!(
            matches!(&e, RegistryError::DigestMismatch { expected, actual, .. } if *expected == d('a') && *actual == d('b')),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "blob r/app@x: digest mismatch: got {} but expected {}",
                d('b'),
                d('a')
            )
        );
        // containerd's content.Writer Commit: "unexpected commit size ...: failed precondition"
        // becomes, in copy, "failed to copy: ...": the text names both sizes.
        let e = RegistryError::from_sink(
            SinkError::SizeMismatch {
                what: "r/app@x".into(),
                digest: d('a'),
                expected: 10,
                actual: 4,
            },
            "r/app:1",
        );
        assert_eq!(
            e.to_string(),
            format!(
                "failed to copy: r/app@x ({}): got 4 bytes but expected 10: failed precondition",
                d('a')
            )
        );
        let e = RegistryError::from_sink(
            SinkError::Store {
                source: "disk full".into(),
            },
            "r/app:1",
        );
        assert!(matches!(e, RegistryError::Sink { .. }), "{e:?}");
        assert_eq!(e.to_string(), "store: disk full");
        assert_eq!(e.outcome(), "unavailable");
    }
}
