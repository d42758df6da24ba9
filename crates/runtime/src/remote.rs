//! The runtime's side of a pull that reaches registries: containerd's (hosts through
//! [`crate::routing::Routing`], its resolver generation, its CRI wording) or CRI-O's (sources
//! from `registries.conf`, containers/image's wording), over one registry client. Also what the
//! runtime logs and the hints pullsim draws from its configuration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{BlobSink, Client, Progress, PullOutcome, RegistryError, RegistryHost};

use crate::cri::{
    AuthTrace, OfferedCredential, PullRoute, ResolveAttempt, Resolved, RouteHost, RuntimeHint,
};
use crate::crio::{self, SourceFailure};
use crate::error::{Code, RuntimeError};
use crate::registries_conf::{RegistriesConf, sends_request_credentials};
use crate::routing::Routing;

/// A pull that reached a registry: the outcome and the host that served it.
pub(crate) struct Served {
    pub outcome: PullOutcome,
    pub host: String,
}

/// The runtime's registry side.
pub(crate) struct Remote {
    pub(crate) client: Client,
    routing: Routing,
    timeout: Duration,
    /// Hints met so far (`image`, hint), each once.
    hints: Mutex<Vec<(String, RuntimeHint)>>,
    /// The runtime's log lines so far (logrus text, as containerd logs).
    log: Mutex<Vec<String>>,
}

/// The gRPC code containerd's CRI plugin attaches (`errdefs.ToGRPC`): not found, canceled (a
/// pull cancelled for no progress), else unknown.
fn grpc_code(e: &RegistryError) -> Code {
    match e {
        RegistryError::NotFound { .. } | RegistryError::NoMatchingPlatform { .. } => Code::NotFound,
        _ if is_stall(e) => Code::Canceled,
        _ => Code::Unknown,
    }
}

/// A wait for the network that outlived `image_pull_progress_timeout`.
fn is_stall(e: &RegistryError) -> bool {
    match e {
        RegistryError::Stalled { .. } => true,
        RegistryError::Unavailable { message, .. } => message.contains("(no response within "),
        _ => false,
    }
}

/// What containerd says when its progress reporter cancelled the pull's context
/// (`pullProgressReporter` / `transferProgressReporter`): the request that was waiting fails
/// with `context canceled` (a waiting request: `failed to do request: Head "URL": context
/// canceled`; a body being copied: `failed to copy: context canceled`).
fn canceled_text(e: &RegistryError) -> String {
    match e {
        RegistryError::Unavailable { message, .. } => match message.find(": i/o timeout (") {
            Some(i) => format!("{}: context canceled", &message[..i]),
            None => message.clone(),
        },
        RegistryError::Stalled { what, .. } => {
            match what.strip_suffix(": reading the token response") {
                // The token answer's body: `failed to fetch oauth token: …: context canceled`.
                Some(fetching) => format!("{fetching}: context canceled"),
                None => "failed to copy: context canceled".to_string(),
            }
        }
        _ => e.to_string(),
    }
}

/// containerd's `SanitizeError` (`internal/cri/util/sanitize.go@v2.3.4`, also in v1.7.34): the
/// URL of the first `*url.Error` in the chain (`failed to do request: Head "URL": …`) has
/// every query value replaced by `[REDACTED]` (query-encoded, keys sorted as Go's
/// `url.Values.Encode`), wherever that URL appears in the text. Status errors are not
/// `*url.Error`s and keep their query (`…?ns=docker.io: 403 Forbidden`).
fn sanitize_url_error(text: &str, e: &RegistryError) -> String {
    let transport = matches!(
        e,
        RegistryError::Unavailable { status: None, .. } | RegistryError::Tls { .. }
    ) || is_stall(e);
    let Some(start) = text.find("failed to do request: ") else {
        return text.to_string();
    };
    if !transport {
        return text.to_string();
    }
    let rest = &text[start..];
    let Some(open) = rest.find(" \"") else {
        return text.to_string();
    };
    let url_start = start + open + 2;
    let Some(len) = text[url_start..].find('"') else {
        return text.to_string();
    };
    let url = &text[url_start..url_start + len];
    text.replace(url, &pullsim_registry::redact::redact_query_values(url))
}

/// A registry failure as containerd's CRI `PullImage` returns it
/// (`internal/cri/server/images/image_pull.go`): `failed to pull and unpack image "REF": ERR`.
pub(crate) fn pull_error(
    image: &str,
    reference: &str,
    e: RegistryError,
    host: Option<String>,
) -> RuntimeError {
    let text = if is_stall(&e) {
        canceled_text(&e)
    } else {
        e.to_string()
    };
    let text = sanitize_url_error(&text, &e);
    RuntimeError::Pull {
        code: grpc_code(&e),
        image: image.to_string(),
        desc: format!("failed to pull and unpack image {reference:?}: {text}"),
        cause: Some(Box::new(e)),
        host,
    }
}

impl Remote {
    pub(crate) fn new(client: Client, routing: Routing, timeout: Duration) -> Remote {
        let log = Mutex::new(routing.start_log.clone());
        Remote {
            client,
            routing,
            timeout,
            hints: Mutex::new(Vec::new()),
            log,
        }
    }

    /// The hints met so far, each once, with the image that met it.
    pub(crate) fn hints(&self) -> Vec<(String, RuntimeHint)> {
        self.hints.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The runtime's log lines so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn note(&self, image: &str, route: &PullRoute) {
        for hint in &route.hints {
            self.note_hint(image, hint.clone());
        }
        self.log_lines(&route.log);
    }

    fn log_lines(&self, lines: &[String]) {
        if let Ok(mut l) = self.log.lock() {
            for line in lines {
                if !l.contains(line) {
                    l.push(line.clone());
                }
            }
        }
    }

    /// containerd's log line when it cancels a pull for no progress.
    fn note_stall(&self, cri_ref: &str, e: &RegistryError) {
        if is_stall(e) {
            let line = crate::hosts_dir::logrus_line(
                "error",
                &format!(
                    "cancel pulling image {cri_ref} because of no progress in {}",
                    pullsim_credentials::plugin::duration::format_go_duration(
                        i128::try_from(self.timeout.as_nanos()).unwrap_or(i128::MAX)
                    )
                ),
                &[],
            );
            self.log_lines(&[line]);
        }
    }

    fn conf(&self) -> Arc<RegistriesConf> {
        self.routing
            .crio
            .clone()
            .unwrap_or_else(|| Arc::new(RegistriesConf::default()))
    }

    /// Where a pull of `r` would go and what each host would be offered.
    pub(crate) fn route(
        &self,
        r: &Reference,
        auth: Option<&AuthConfig>,
    ) -> Result<PullRoute, RuntimeError> {
        if !self.routing.is_crio() {
            return Ok(self.routing.containerd_plan(r, auth)?.route);
        }
        let conf = self.conf();
        let logical = r.with_default_tag();
        let sources = conf
            .pull_sources(&logical)
            .map_err(|e| RuntimeError::Invalid {
                code: Code::Unknown,
                desc: e.to_string(),
            })?;
        let creds = crio::request_credentials(auth).ok().flatten();
        let n = sources.len();
        let hosts = sources
            .iter()
            .enumerate()
            .map(|(i, s)| RouteHost {
                endpoint: s.reference.to_string(),
                role: if i + 1 == n { "primary" } else { "mirror" },
                capabilities: Vec::new(),
                credential: if creds.is_some() && sends_request_credentials(&logical, &s.reference)
                {
                    OfferedCredential::Kubelet
                } else {
                    OfferedCredential::Anonymous
                },
                skipped: conf
                    .check_not_blocked(&s.reference)
                    .err()
                    .map(|e| e.to_string()),
            })
            .collect();
        Ok(PullRoute {
            hosts,
            source: Some(conf.config_path.display().to_string()).filter(|s| !s.is_empty()),
            log: Vec::new(),
            hints: Vec::new(),
        })
    }

    /// The hint for a registry's refusal of a pull or resolve of `image`, noted once.
    fn diagnose(&self, image: &str, auth: Option<&AuthConfig>, e: &RuntimeError) {
        let Some(cause) = e.registry_cause() else {
            return;
        };
        let cx = crate::diagnosis::Context {
            kind: self.routing.kind(),
            credentials_sent: auth.is_some(),
            host: e.host(),
        };
        if let Some(hint) = crate::diagnosis::registry_hint(cause, &cx) {
            self.note_hint(image, hint);
        }
    }

    fn note_hint(&self, image: &str, hint: RuntimeHint) {
        if let Ok(mut h) = self.hints.lock()
            && !h.iter().any(|(i, x)| i == image && x.code == hint.code)
        {
            h.push((image.to_string(), hint));
        }
    }

    /// Pull `r` (as the kubelet asked for `image`), unless it still resolves to `current`.
    pub(crate) async fn pull(
        &self,
        image: &str,
        r: &Reference,
        auth: Option<&AuthConfig>,
        sink: Arc<dyn BlobSink>,
        progress: &dyn Progress,
        current: Option<&Digest>,
    ) -> Result<Served, RuntimeError> {
        let result = self
            .pull_inner(image, r, auth, sink, progress, current)
            .await;
        if let Err(e) = &result {
            self.diagnose(image, auth, e);
        }
        result
    }

    async fn pull_inner(
        &self,
        image: &str,
        r: &Reference,
        auth: Option<&AuthConfig>,
        sink: Arc<dyn BlobSink>,
        progress: &dyn Progress,
        current: Option<&Digest>,
    ) -> Result<Served, RuntimeError> {
        let cri_ref = r.to_string();
        if self.routing.is_crio() {
            let conf = self.conf();
            let (outcome, source) = crio::pull_with_client(
                &conf,
                &self.client,
                r,
                auth,
                self.routing.crio_version,
                sink,
                progress,
                current,
            )
            .await
            .map_err(RuntimeError::from)?;
            return Ok(Served {
                outcome,
                host: source.reference.to_string(),
            });
        }
        let planned = self.routing.containerd_plan(r, auth)?;
        self.note(image, &planned.route);
        let rep = self
            .client
            .pull_on(r, &planned.plan, sink, progress, current)
            .await;
        match rep.result {
            Ok(outcome) => Ok(Served {
                outcome,
                host: rep.resolved_by.unwrap_or_else(|| {
                    planned
                        .plan
                        .hosts
                        .last()
                        .map(RegistryHost::url)
                        .unwrap_or_default()
                }),
            }),
            Err(e) => {
                self.note_stall(&cri_ref, &e);
                let host = rep
                    .attempts
                    .iter()
                    .rev()
                    .find(|a| a.error.is_some())
                    .map(|a| a.host.clone());
                Err(pull_error(image, &cri_ref, e, host))
            }
        }
    }

    /// The first stage of a pull alone (the auth flow and the resolution), as
    /// [`crate::ImageService::resolve_image`].
    pub(crate) async fn resolve(
        &self,
        image: &str,
        r: &Reference,
        auth: Option<&AuthConfig>,
    ) -> ResolveAttempt {
        let cri_ref = r.with_default_tag().to_string();
        let trace = Mutex::new(AuthTrace::default());
        let result = if self.routing.is_crio() {
            let conf = self.conf();
            crio::pull_through_sources(&conf, r, auth, self.routing.crio_version, |source, cred| {
                let plan = crio::source_plan(source, cred);
                let physical = source.reference.clone();
                let trace = &trace;
                async move {
                    let rep = self.client.resolve_diagnosed(&physical, &plan).await;
                    if let Ok(mut t) = trace.lock() {
                        *t = to_trace(&rep.trace, Some(physical.to_string()));
                    }
                    rep.result.map_err(SourceFailure::Manifest)
                }
            })
            .await
            .map(|(resolved, _)| resolved)
            .map_err(RuntimeError::from)
        } else {
            match self.routing.containerd_plan(r, auth) {
                Err(e) => Err(e),
                Ok(planned) => {
                    self.note(image, &planned.route);
                    // `creds check`: the registry's error code too (one more GET on a refusal).
                    let rep = self.client.resolve_diagnosed(r, &planned.plan).await;
                    let host = rep.served_by.clone().or_else(|| {
                        rep.attempts
                            .iter()
                            .rev()
                            .find(|a| a.error.is_some())
                            .map(|a| a.host.clone())
                    });
                    if let Ok(mut t) = trace.lock() {
                        *t = to_trace(&rep.trace, host.clone());
                    }
                    rep.result.map_err(|e| {
                        self.note_stall(&cri_ref, &e);
                        pull_error(image, &cri_ref, e, host)
                    })
                }
            }
        };
        if let Err(e) = &result {
            self.diagnose(image, auth, e);
        }
        ResolveAttempt {
            result: result.map(|res| Resolved {
                digest: res.digest.to_string(),
                media_type: res.media_type,
                size: res.size,
            }),
            trace: trace.into_inner().unwrap_or_default(),
        }
    }
}

fn to_trace(t: &pullsim_registry::AuthTrace, host: Option<String>) -> AuthTrace {
    AuthTrace {
        scheme: t.scheme.clone(),
        token_obtained: t.token_obtained,
        status: t.status,
        host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_errors_lose_their_query_values_status_errors_keep_them() {
        // internal/cri/util/sanitize.go@v2.3.4 SanitizeError: a *url.Error's URL has every
        // query value set to "[REDACTED]" and re-encoded (url.Values.Encode).
        let refused = RegistryError::Unavailable {
            reference: "r".into(),
            status: None,
            message: "failed to resolve image: failed to do request: Head \"http://m:5000/v2/a/manifests/1?ns=docker.io\": dial tcp 127.0.0.1:5000: connect: connection refused".into(),
        };
        let err = pull_error("a:1", "docker.io/library/a:1", refused, None);
        assert!(
            err.to_string().ends_with("failed to do request: Head \"http://m:5000/v2/a/manifests/1?ns=%5BREDACTED%5D\": dial tcp 127.0.0.1:5000: connect: connection refused"),
            "{err}"
        );
        let denied = RegistryError::Denied {
            reference: "r".into(),
            status: 403,
            code: None,
            message: "failed to resolve image: unexpected status from HEAD request to http://m:5000/v2/a/manifests/1?ns=docker.io: 403 Forbidden".into(),
        };
        let err = pull_error("a:1", "docker.io/library/a:1", denied, None);
        assert!(
            err.to_string().contains("?ns=docker.io: 403 Forbidden"),
            "{err}"
        );
    }
    use pullsim_registry::{NotFoundKind, Refuser};

    #[test]
    fn pull_error_wraps_like_containerd_cri() {
        // internal/cri/server/images/image_pull.go: fmt.Errorf("failed to pull and unpack image
        // %q: %w", ref, err), returned through errdefs.ToGRPC.
        let e = RegistryError::NotFound {
            reference: "docker.io/library/x:1".into(),
            what: NotFoundKind::Manifest,
            code: Some("MANIFEST_UNKNOWN".into()),
            message: "failed to resolve reference \"docker.io/library/x:1\": docker.io/library/x:1: not found".into(),
        };
        let err = pull_error("x:1", "docker.io/library/x:1", e, None);
        assert_eq!(
            err.to_string(),
            "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/x:1\": failed to resolve reference \"docker.io/library/x:1\": docker.io/library/x:1: not found"
        );
        assert_eq!(err.outcome(), "not-found");
        assert_eq!(err.status(), Some(404));
        assert_eq!(err.registry_code(), Some("MANIFEST_UNKNOWN"));
    }

    #[test]
    fn grpc_codes_as_errdefs_to_grpc() {
        // errdefs.ToGRPC: ErrNotFound -> codes.NotFound (containerd wraps a missing platform in
        // ErrNotFound); errors without a class -> codes.Unknown. The kubelet's reason is
        // ErrImagePull for all of them (pkg/kubelet/images/image_manager.go evalCRIPullErr:
        // containerd's text never starts with "RegistryUnavailable"): that rule is the node's.
        let table: Vec<(RegistryError, Code)> = vec![
            (
                RegistryError::Unauthorized {
                    reference: "r".into(),
                    by: Refuser::Registry,
                    status: 401,
                    code: None,
                    message: "m".into(),
                },
                Code::Unknown,
            ),
            (
                RegistryError::Denied {
                    reference: "r".into(),
                    status: 403,
                    code: None,
                    message: "m".into(),
                },
                Code::Unknown,
            ),
            (
                RegistryError::NotFound {
                    reference: "r".into(),
                    what: NotFoundKind::Manifest,
                    code: None,
                    message: "m".into(),
                },
                Code::NotFound,
            ),
            (
                RegistryError::NoMatchingPlatform {
                    reference: "r".into(),
                    index: Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
                    wanted: "linux/s390x".into(),
                    available: vec!["linux/amd64".into()],
                },
                Code::NotFound,
            ),
            (
                RegistryError::RateLimited {
                    reference: "r".into(),
                    retry_after: None,
                    limit: None,
                    remaining: None,
                    message: "m".into(),
                },
                Code::Unknown,
            ),
            (
                RegistryError::Unavailable {
                    reference: "r".into(),
                    status: None,
                    message: "m".into(),
                },
                Code::Unknown,
            ),
            (
                RegistryError::Tls {
                    reference: "r".into(),
                    problem: pullsim_registry::TlsProblem::Other,
                    message: "m".into(),
                },
                Code::Unknown,
            ),
            (
                RegistryError::Offline {
                    reference: "r".into(),
                },
                Code::Unknown,
            ),
        ];
        for (e, code) in table {
            let outcome = e.outcome();
            let text = e.to_string();
            let err = pull_error("img", "r", e, None);
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(err.outcome(), outcome, "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "rpc error: code = {code} desc = failed to pull and unpack image \"r\": {text}"
                )
            );
            assert_eq!(err.cause_text(), text);
        }
    }
}
