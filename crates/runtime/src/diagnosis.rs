//! Hints drawn from a registry's refusal of a pull (pullsim extension): the typed cause the
//! registry client kept beside the runtime's words, turned into one sentence of why and the
//! fix, in the runtime's own configuration terms. Never from message text, except where the
//! registry's answer is the only place a cause is written (an expired token's 403 body).

use pullsim_registry::{NotFoundKind, RegistryError, TlsProblem};

use crate::config::RuntimeKind;
use crate::cri::RuntimeHint;

/// What a pull attempt knew besides the cause.
pub(crate) struct Context<'a> {
    /// The runtime.
    pub kind: RuntimeKind,
    /// The kubelet sent a credential with the pull.
    pub credentials_sent: bool,
    /// The host whose answer the error reports (`https://127.0.0.1:5000/v2`).
    pub host: Option<&'a str>,
}

impl Context<'_> {
    /// `127.0.0.1:5000` of `https://127.0.0.1:5000/v2` (the host as configuration names it).
    fn host_port(&self) -> String {
        let h = self.host.unwrap_or("");
        let h = h.split_once("://").map_or(h, |(_, rest)| rest);
        let h = h.split('/').next().unwrap_or(h);
        if h.is_empty() {
            "REGISTRY".to_string()
        } else {
            h.to_string()
        }
    }

    fn crio(&self) -> bool {
        self.kind == RuntimeKind::CriO
    }
}

/// The hint for a registry's refusal, when pullsim recognises it.
pub(crate) fn registry_hint(cause: &RegistryError, cx: &Context<'_>) -> Option<RuntimeHint> {
    let host = cx.host_port();
    let hint = |code: &'static str, why: String, fix: String| Some(RuntimeHint { code, why, fix });
    match cause {
        RegistryError::Tls {
            problem: TlsProblem::UnknownAuthority,
            ..
        } => hint(
            "tls-unknown-authority",
            format!(
                "{host} presented a certificate signed by an authority the node does not trust (x509: certificate signed by unknown authority)"
            ),
            if cx.crio() {
                format!(
                    "put the registry's CA certificate in /etc/containers/certs.d/{host}/ca.crt on the node (pullsim: --ca-file FILE); for a throwaway test registry only, insecure = true in its [[registry]] of registries.conf"
                )
            } else {
                format!(
                    "give containerd the registry's CA: ca = \"/etc/containerd/certs.d/{host}/ca.crt\" in /etc/containerd/certs.d/{host}/hosts.toml (pullsim: --ca-file FILE or --registry-config-path DIR); for a throwaway test registry only, skip_verify = true"
                )
            },
        ),
        RegistryError::Tls {
            problem: TlsProblem::PlainHttpServer,
            ..
        } => hint(
            "http-vs-https",
            format!(
                "the node spoke HTTPS to {host}, which answered in plain HTTP (http: server gave HTTP response to HTTPS client)"
            ),
            if cx.crio() {
                format!(
                    "mark the registry insecure in registries.conf: [[registry]] location = \"{host}\", insecure = true (pullsim: --insecure-registry {host}); better, serve it over TLS"
                )
            } else {
                format!(
                    "tell containerd the registry is plain HTTP: server = \"http://{host}\" in /etc/containerd/certs.d/{host}/hosts.toml (pullsim: --insecure-registry {host} or --registry-config-path DIR); better, serve it over TLS"
                )
            },
        ),
        RegistryError::Unauthorized { message, .. } | RegistryError::Denied { message, .. }
            if token_expired(message) =>
        {
            hint(
                "registry-token-expired",
                format!(
                    "{host} refused the credential because its token has expired (ECR's tokens last 12 hours, GAR's and ACR's access tokens about an hour)"
                ),
                "refresh the pull secret with a new token (ECR: aws ecr get-login-password | kubectl create secret docker-registry … --docker-username AWS --docker-password-stdin), or let a kubelet credential provider plugin fetch tokens as they expire".to_string(),
            )
        }
        // Docker Hub and the distribution token server: a token without the pull scope, the
        // same answer for a private repository and one that does not exist.
        RegistryError::Unauthorized {
            code: Some(code), ..
        } if code == "insufficient_scope" => hint(
            "repository-not-found-or-private",
            format!(
                "{host} refused the pull (insufficient_scope): the repository does not exist, or it is private and {} may not pull it (registries give one answer for both)",
                if cx.credentials_sent {
                    "the account of the credential sent"
                } else {
                    "an anonymous client"
                }
            ),
            format!(
                "check the image's repository name; if it is private, give the pod a pull secret whose auths key matches {host} for an account with pull access (`pullsim creds match IMAGE --secret FILE` shows why each key missed)"
            ),
        ),
        RegistryError::Unauthorized { status, .. } if cx.credentials_sent => hint(
            "wrong-credentials",
            format!("{host} answered {status} to the credential the node sent with the pull"),
            "check the secret's username and password (or token) for this registry: `pullsim creds check IMAGE --secret FILE` tries each one and shows what the registry said".to_string(),
        ),
        RegistryError::Unauthorized { status, .. } => hint(
            "no-credentials-matched",
            format!(
                "{host} answered {status} to an anonymous pull: no credential of the pod's secrets or of the node matched this image, so the kubelet sent none"
            ),
            "give the pod a pull secret whose auths key matches the image's registry (`pullsim creds match IMAGE --secret FILE` shows why each key missed)".to_string(),
        ),
        RegistryError::Denied { .. } => hint(
            "repository-not-found-or-private",
            format!(
                "{host} refused the pull: the repository does not exist or {} may not pull it (registries give one answer for both, so as not to reveal private repositories)",
                if cx.credentials_sent {
                    "the account of the credential sent"
                } else {
                    "an anonymous client"
                }
            ),
            "check the image's repository name (registry host, namespace, repository), and that the pull secret's account has pull access to it".to_string(),
        ),
        RegistryError::NotFound {
            what: NotFoundKind::Repository | NotFoundKind::Manifest,
            ..
        } => hint(
            "repository-not-found-or-private",
            format!(
                "{host} has no manifest for this reference: the repository or the tag does not exist, or the repository is private and the registry hides it{} (GHCR, for one, answers not found to a pull of a private package)",
                if cx.credentials_sent { "" } else { " from an anonymous client" }
            ),
            format!(
                "check the repository and tag (skopeo list-tags docker://{host}/REPOSITORY lists the tags), and that the pull secret's account has pull access to it"
            ),
        ),
        RegistryError::RateLimited {
            limit, remaining, ..
        } => hint("rate-limited", rate_limited_why(&host, limit.as_deref(), remaining.as_deref()), if cx.credentials_sent {
            "wait for the window to reset, spread pulls over time (IfNotPresent, fewer restarts with Always), or pull through a mirror or pull-through cache".to_string()
        } else {
            "authenticate the pull (a pull secret raises the quota: Docker Hub counts authenticated pulls per account, anonymous ones per IP address), pull through a mirror or pull-through cache, or wait for the window to reset".to_string()
        }),
        _ => None,
    }
}

/// A registry's refusal whose text says the token expired (ECR: `denied: Your authorization
/// token has expired. Reauthenticate and try again.`; Docker's JWT checks: `token is
/// expired`).
fn token_expired(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("token has expired") || lower.contains("token is expired")
}

/// Docker Hub's `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 0;w=21600`
/// (`../shared/notes/runtime-rules.md` §3): a count and a window in seconds.
fn parse_quota(v: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = v.split(';');
    let n = parts.next()?.trim().parse().ok()?;
    let w = parts.find_map(|p| p.trim().strip_prefix("w=").and_then(|w| w.parse().ok()));
    Some((n, w))
}

fn window_text(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn rate_limited_why(host: &str, limit: Option<&str>, remaining: Option<&str>) -> String {
    let base = format!("{host} answered 429 Too Many Requests: the pull quota is used up");
    match (limit.and_then(parse_quota), remaining.and_then(parse_quota)) {
        (Some((l, w)), Some((r, _))) => format!(
            "{base} ({r} of {l} pulls left{}; ratelimit-limit {}, ratelimit-remaining {})",
            w.map(|w| format!(" in the {} window", window_text(w)))
                .unwrap_or_default(),
            limit.unwrap_or(""),
            remaining.unwrap_or("")
        ),
        (None, Some((r, _))) => format!("{base} ({r} pulls left)"),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pullsim_registry::Refuser;

    fn cx(credentials_sent: bool) -> Context<'static> {
        Context {
            kind: RuntimeKind::Containerd,
            credentials_sent,
            host: Some("https://127.0.0.1:5000/v2"),
        }
    }

    fn unauthorized(message: &str) -> RegistryError {
        RegistryError::Unauthorized {
            reference: "r/x:1".into(),
            by: Refuser::Registry,
            status: 401,
            code: None,
            message: message.into(),
        }
    }

    #[test]
    fn unauthorized_is_wrong_credentials_with_a_credential_else_no_match() {
        let e = unauthorized("401 Unauthorized");
        assert_eq!(
            registry_hint(&e, &cx(true)).unwrap().code,
            "wrong-credentials"
        );
        let h = registry_hint(&e, &cx(false)).unwrap();
        assert_eq!(h.code, "no-credentials-matched");
        assert!(
            h.why.starts_with("127.0.0.1:5000 answered 401"),
            "{}",
            h.why
        );
    }

    #[test]
    fn ecr_expired_token_is_its_own_hint() {
        // ECR's answer to an expired token (aws/aws-cli#6580; runtime-rules.md §5).
        let e = RegistryError::Denied {
            reference: "r".into(),
            status: 403,
            code: Some("DENIED".into()),
            message: "unexpected status from HEAD request: 403 Forbidden: denied: Your authorization token has expired. Reauthenticate and try again.".into(),
        };
        assert_eq!(
            registry_hint(&e, &cx(true)).unwrap().code,
            "registry-token-expired"
        );
    }

    #[test]
    fn docker_hub_quota_is_read_from_its_headers() {
        let e = RegistryError::RateLimited {
            reference: "r/x:1".into(),
            retry_after: None,
            limit: Some("100;w=21600".into()),
            remaining: Some("0;w=21600".into()),
            message: "429".into(),
        };
        let h = registry_hint(&e, &cx(false)).unwrap();
        assert_eq!(h.code, "rate-limited");
        assert!(
            h.why.contains("(0 of 100 pulls left in the 6 h window;"),
            "{}",
            h.why
        );
        assert!(h.fix.starts_with("authenticate"), "{}", h.fix);
    }

    #[test]
    fn other_failures_have_no_registry_hint() {
        let e = RegistryError::NotFound {
            reference: "r".into(),
            what: NotFoundKind::Blob,
            code: None,
            message: "not found".into(),
        };
        assert!(registry_hint(&e, &cx(false)).is_none());
    }
}
