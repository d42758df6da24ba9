//! Authentication: challenges, credentials, tokens, and the authorized request loop.

pub mod challenge;
pub(crate) mod cred;
pub(crate) mod token;

use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use self::challenge::{Challenge, Scheme, parse_challenges};
pub(crate) use self::cred::Cred;
use self::token::{Token, TokenKey, bearer_header, fetch_token};
use crate::bounded::Deadline;
use crate::error::{Refuser, RegistryError};
use crate::hosts::{RegistryHost, Resolver};
use crate::transport::{Call, Profile, Request};

/// What happened during the auth flow of one request sequence (for `creds check`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthTrace {
    /// The scheme the registry asked for (`basic`, `bearer`), `None` when it asked for none.
    pub scheme: Option<String>,
    /// Whether a bearer token was obtained.
    pub token_obtained: bool,
    /// Status of the last registry answer.
    pub status: Option<u16>,
}

/// An authorized conversation with one repository of one registry, for one credential.
///
/// As containerd's resolver, no `GET /v2/` ping: the first request goes straight to the
/// registry without credentials (detecting the scheme of a loopback host on the way); a 401
/// answer's `WWW-Authenticate` challenge is learned, credentials or a token are obtained, and
/// the request is sent again. The scheme and challenge are kept per host in the client, so
/// later sessions send credentials up front.
pub(crate) struct Session<'a> {
    pub(crate) inner: &'a crate::shared::Inner,
    pub(crate) host: String,
    /// The host's settings (scheme, API root, headers, TLS).
    pub(crate) rhost: RegistryHost,
    /// `?ns=` value: the reference's registry when this host is a proxy for it.
    ns: Option<String>,
    /// The host's extra headers, on every request and token request.
    extra: HeaderMap,
    /// Its HTTP client settings.
    profile: Profile,
    /// Whose retry rules.
    pub(crate) resolver: Resolver,
    /// The last host of the plan: 5xx are retried there (containerd 2.x).
    /// The last host asked (containerd's `lastHost`: of the capable hosts while resolving, of
    /// all hosts while fetching): 5xx and transient errors are retried there (2.x).
    pub(crate) last_host: std::sync::atomic::AtomicBool,
    /// `scheme://host/` once the scheme is known.
    base: std::sync::Mutex<Option<url::Url>>,
    pub(crate) repository: String,
    /// The credential for this host, asked of the plan on first need (a challenge).
    cred: std::sync::OnceLock<Option<Cred>>,
    /// Where the credential comes from.
    credentials: crate::hosts::HostCredentials,
    pub(crate) reference: String,
    /// The challenge learned for this host (from this client's earlier 401 answers).
    challenge: std::sync::Mutex<Option<Challenge>>,
    pub(crate) trace: std::sync::Mutex<AuthTrace>,
    /// The no-progress deadline of this pull or resolve (all its requests, tokens included,
    /// on every host).
    pub(crate) deadline: std::sync::Arc<Deadline>,
}

impl<'a> Session<'a> {
    /// A session for `repository` of the registry `registry` at `rhost` (a mirror or the
    /// upstream); `(resolver, last_host)` give the retry rules. Takes what the client already
    /// learned about the host (scheme, challenge). Sends nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn at(
        inner: &'a crate::shared::Inner,
        rhost: &RegistryHost,
        registry: &str,
        repository: &str,
        credentials: crate::hosts::HostCredentials,
        reference: &str,
        (resolver, last_host): (Resolver, bool),
        deadline: std::sync::Arc<Deadline>,
    ) -> Result<Session<'a>, RegistryError> {
        if inner.transport.offline() {
            return Err(RegistryError::Offline {
                reference: reference.to_string(),
            });
        }
        let host = rhost.host.clone();
        let cached = inner.hosts.lock().ok().and_then(|m| m.get(&host).cloned());
        let (base, challenge) = match cached {
            // The base URL learned by another entry for this host only when its scheme is
            // one this entry may use (the scheme is detected again otherwise).
            Some((base, challenge)) => {
                let usable = base.scheme() == rhost.scheme
                    || rhost.http_fallback
                    || inner.transport.is_insecure(&host);
                (usable.then_some(base), challenge)
            }
            None => (None, None),
        };
        let trace = AuthTrace {
            scheme: challenge.as_ref().map(|c| c.scheme.as_str().to_string()),
            ..AuthTrace::default()
        };
        let mut extra = HeaderMap::new();
        for (k, v) in &rhost.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|e| {
                RegistryError::Config {
                    message: format!("host {}: header name {k:?}: {e}", rhost.url()),
                }
            })?;
            let value = HeaderValue::from_str(v).map_err(|e| RegistryError::Config {
                message: format!("host {}: header {k:?}: value not allowed: {e}", rhost.url()),
            })?;
            extra.append(name, value);
        }
        Ok(Session {
            inner,
            host,
            rhost: rhost.clone(),
            ns: rhost.is_proxy(registry).then(|| registry.to_string()),
            extra,
            profile: Profile {
                tls: rhost.tls.clone(),
                dial_timeout: rhost.dial_timeout,
            },
            resolver,
            last_host: std::sync::atomic::AtomicBool::new(last_host),
            base: std::sync::Mutex::new(base),
            repository: repository.to_string(),
            cred: std::sync::OnceLock::new(),
            credentials,
            reference: reference.to_string(),
            challenge: std::sync::Mutex::new(challenge),
            trace: std::sync::Mutex::new(trace),
            deadline,
        })
    }

    /// The request path of `kind` (`manifests`, `blobs`) `object` in this session's
    /// repository: the host's API root, and `?ns=` when the host is a proxy (containerd's
    /// `dockerBase.request` and `request.addNamespace`).
    pub(crate) fn object_path(&self, kind: &str, object: &str) -> String {
        let root = self.rhost.path.trim_end_matches('/');
        let mut p = format!("{root}/{}/{kind}/{object}", self.repository);
        if let Some(ns) = &self.ns {
            p.push_str("?ns=");
            p.push_str(&url::form_urlencoded::byte_serialize(ns.as_bytes()).collect::<String>());
        }
        p
    }

    /// Schemes to try on this host: HTTPS then plain HTTP with the HTTP fallback, else its
    /// scheme.
    fn candidate_schemes(&self) -> &'static [&'static str] {
        if self.rhost.http_fallback {
            &["https", "http"]
        } else if self.rhost.scheme == "http" {
            &["http"]
        } else {
            &["https"]
        }
    }

    /// The credential for this host: asked of the plan's function (with the host's
    /// `host[:port]`) the first time a challenge needs it, as containerd's authorizer asks
    /// `credentials(host)` when the host challenges.
    pub(crate) fn cred(&self) -> Option<&Cred> {
        self.cred
            .get_or_init(|| (self.credentials)(&self.host).map(|a| Cred::from_auth(&a)))
            .as_ref()
    }

    /// Whether this host is the last one asked now.
    pub(crate) fn is_last_host(&self) -> bool {
        self.last_host.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Set whether this host is the last one asked (resolution asks only the capable hosts).
    pub(crate) fn set_last_host(&self, last: bool) {
        self.last_host
            .store(last, std::sync::atomic::Ordering::Relaxed);
    }

    /// What the transport needs to know of this session for a request.
    fn call(&self) -> Call<'_> {
        Call {
            reference: &self.reference,
            deadline: &self.deadline,
        }
    }

    fn current_challenge(&self) -> Option<Challenge> {
        self.challenge.lock().ok().and_then(|c| c.clone())
    }

    fn current_base(&self) -> Option<url::Url> {
        self.base.lock().ok().and_then(|b| b.clone())
    }

    /// Remember the base URL of the host (after the first answer).
    fn learn_base(&self, base: &url::Url) {
        if let Ok(mut b) = self.base.lock() {
            *b = Some(base.clone());
        }
        if let Ok(mut m) = self.inner.hosts.lock() {
            m.entry(self.host.clone())
                .or_insert_with(|| (base.clone(), None));
        }
    }

    /// Remember the challenge of a 401 answer, for this session and the client's later ones.
    fn learn_challenge(&self, base: &url::Url, ch: Challenge) {
        if let Ok(mut t) = self.trace.lock() {
            t.scheme = Some(ch.scheme.as_str().to_string());
        }
        if let Ok(mut m) = self.inner.hosts.lock() {
            m.insert(self.host.clone(), (base.clone(), Some(ch.clone())));
        }
        if let Ok(mut c) = self.challenge.lock() {
            *c = Some(ch);
        }
    }

    fn key(&self) -> TokenKey {
        TokenKey {
            host: self.host.clone(),
            repository: self.repository.clone(),
            cred_id: self
                .cred()
                .map(Cred::id)
                .unwrap_or_else(|| "anonymous".to_string()),
        }
    }

    /// `repository:NAME:pull` (Docker Hub official images already carry `library/`).
    fn scope(&self) -> String {
        format!("repository:{}:pull", self.repository)
    }

    /// The `Authorization` value for the next request; `fresh` forces a new token.
    /// Returns whether a token fetched now (not from the cache) is used.
    async fn authorization(
        &self,
        fresh: bool,
    ) -> Result<(Option<HeaderValue>, bool), RegistryError> {
        let Some(ch) = self.current_challenge() else {
            return Ok((None, false));
        };
        match ch.scheme {
            Scheme::Basic => match self.cred() {
                Some(c) if !c.username.is_empty() || !c.password.is_empty() => {
                    Ok((Some(c.basic_header()?), false))
                }
                _ => Ok((None, false)),
            },
            Scheme::Bearer => {
                if let Some(rt) = self.cred().and_then(|c| c.registry_token.as_ref()) {
                    if let Ok(mut t) = self.trace.lock() {
                        t.token_obtained = true;
                    }
                    return Ok((Some(bearer_header(&Token(rt.clone()))?), false));
                }
                let key = self.key();
                if !fresh {
                    if let Some(t) = self.inner.tokens.get(&key, Instant::now()) {
                        if let Ok(mut tr) = self.trace.lock() {
                            tr.token_obtained = true;
                        }
                        return Ok((Some(bearer_header(&t)?), false));
                    }
                } else {
                    self.inner.tokens.invalidate(&key);
                }
                let fetched = fetch_token(
                    &self.inner.transport,
                    (&self.extra, &self.profile),
                    &self.deadline,
                    &ch,
                    &self.scope(),
                    self.cred(),
                    &self.reference,
                )
                .await?;
                if let Ok(mut tr) = self.trace.lock() {
                    tr.token_obtained = true;
                }
                if let Some(life) = fetched.lifetime {
                    self.inner
                        .tokens
                        .put(key, fetched.token.clone(), Instant::now() + life);
                }
                Ok((Some(bearer_header(&fetched.token)?), true))
            }
            Scheme::Other(_) => Ok((None, false)),
        }
    }

    /// Send a request (the host's scheme detected on the first one) to `path` (relative to
    /// the host root, from [`Session::object_path`]), with containerd's retries
    /// (`core/remotes/docker/resolver.go@v2.3.4` `doWithRetries` / `retryRequest`,
    /// `v1.7.34:remotes/docker/resolver.go`): a 401 to a request sent without credentials
    /// teaches the challenge and the request is sent again with credentials or a token (a
    /// refused cached token is refreshed once); a `HEAD` of a manifest answered 405 is sent
    /// again as `GET`; 408 and 429 are sent again at once; 500, 503 and 504 once more on the
    /// last host in 2.x, when the answer before was not the same status. At most 5 requests
    /// in all (2.x `maxAttempts`), 6 in 1.7 (`len(responses) > 5` stops). A final 401 becomes
    /// a typed error; other statuses are returned for the caller to interpret.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
    ) -> Result<Response, RegistryError> {
        let mut headers = headers;
        for (k, v) in &self.extra {
            headers.append(k.clone(), v.clone());
        }
        let max_requests = if self.resolver.is_v2() { 5 } else { 6 };
        let mut method = method;
        let mut sent = 0usize;
        let mut previous: Option<StatusCode> = None;
        let (mut auth, mut fresh) = self.authorization(false).await?;
        let mut retried = false;
        let mut learned = false;
        loop {
            sent += 1;
            let (base, resp) = match self.current_base() {
                Some(base) => {
                    let url = base.join(path).map_err(|e| RegistryError::Protocol {
                        reference: self.reference.clone(),
                        status: None,
                        message: format!("invalid request path {path:?}: {e}"),
                    })?;
                    let req = Request {
                        method: method.clone(),
                        url,
                        headers: headers.clone(),
                        authorization: auth.clone(),
                        form: None,
                        profile: self.profile.clone(),
                    };
                    match self.inner.transport.send(req, self.call()).await {
                        Ok(resp) => (base, resp),
                        Err(e) => {
                            self.transient_pause(e, sent < max_requests).await?;
                            continue;
                        }
                    }
                }
                None => {
                    let sent_detect = self
                        .inner
                        .transport
                        .send_detect(
                            &self.host,
                            self.candidate_schemes(),
                            &self.profile,
                            path,
                            &method,
                            &headers,
                            auth.as_ref(),
                            self.call(),
                        )
                        .await;
                    match sent_detect {
                        Ok((base, resp)) => {
                            self.learn_base(&base);
                            (base, resp)
                        }
                        Err(e) => {
                            self.transient_pause(e, sent < max_requests).await?;
                            continue;
                        }
                    }
                }
            };
            let url = resp.url().clone();
            let status = resp.status();
            if let Ok(mut t) = self.trace.lock() {
                t.status = Some(status.as_u16());
            }
            let more = sent < max_requests;
            let before = previous.replace(status);
            match status {
                StatusCode::UNAUTHORIZED => {}
                StatusCode::METHOD_NOT_ALLOWED
                    if method == Method::HEAD && path.contains("/manifests/") && more =>
                {
                    // "Support registries which have not properly implemented the HEAD
                    // method for manifests endpoint".
                    method = Method::GET;
                    continue;
                }
                StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS if more => continue,
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if more
                        && self.resolver.is_v2()
                        && self.is_last_host()
                        && before != Some(status) =>
                {
                    continue;
                }
                _ => return Ok(resp),
            }
            let challenges = challenges_of(resp.headers());
            if auth.is_none() && !learned && more {
                // containerd's resolver: the first 401 carries the challenge to answer.
                learned = true;
                if let Some(ch) = pick_challenge(&challenges) {
                    self.learn_challenge(&base, ch);
                    (auth, fresh) = self.authorization(false).await?;
                    if auth.is_some() {
                        continue;
                    }
                }
            }
            let bearer = challenges.iter().find(|c| c.scheme == Scheme::Bearer);
            let using_bearer = matches!(
                self.current_challenge().map(|c| c.scheme),
                Some(Scheme::Bearer)
            );
            if using_bearer && !fresh && !retried && auth.is_some() && more {
                // A cached token was refused (expired or revoked): fetch a new one, once.
                retried = true;
                (auth, fresh) = self.authorization(true).await?;
                continue;
            }
            let bearer = bearer.cloned();
            // The registry's own error code, when the answer has a body (not for HEAD).
            let body = crate::bounded::read_error_body(resp, &self.deadline).await;
            let body_code = crate::error::parse_error_envelope(&body)
                .first()
                .map(|e| e.code.clone());
            return Err(self.unauthorized(
                &method,
                &url,
                bearer.as_ref(),
                auth.is_some(),
                body_code,
            ));
        }
    }

    /// After a failed send: `Ok` (after 50 ms) when containerd 2.3.2+ sends again — a
    /// transient transport error (`isTransientTransportErr`) on the last host with requests
    /// left (`doWithTransportRetries`, `core/remotes/docker/resolver.go@v2.3.4`) — else the
    /// error.
    async fn transient_pause(
        &self,
        e: crate::transport::SendError,
        more: bool,
    ) -> Result<(), RegistryError> {
        let retry = matches!(&e, crate::transport::SendError::Transient { .. })
            && more
            && self.is_last_host()
            && self.resolver.is_v2();
        if !retry {
            return Err(e.into_registry());
        }
        tracing::debug!(host = %self.host, "transient transport error, retrying");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(())
    }

    /// The error for a final 401, worded as containerd.
    fn unauthorized(
        &self,
        method: &Method,
        url: &url::Url,
        bearer: Option<&Challenge>,
        sent_auth: bool,
        body_code: Option<String>,
    ) -> RegistryError {
        let reference = self.reference.clone();
        let prefix = format!("failed to resolve reference {reference:?}: ");
        let denied = "pull access denied, repository does not exist or may require authorization";
        if let Some(err) = bearer.and_then(|c| c.param("error")) {
            // core/remotes/docker/authorizer.go invalidAuthorization
            let message = format!("{prefix}{denied}: server message: {err}: authorization failed");
            if err == "insufficient_scope" && self.cred().is_some() {
                return RegistryError::Denied {
                    reference,
                    status: 401,
                    code: Some(err.to_string()),
                    message,
                };
            }
            return RegistryError::Unauthorized {
                reference,
                by: Refuser::Registry,
                status: 401,
                code: Some(err.to_string()),
                message,
            };
        }
        let basic = matches!(
            self.current_challenge().map(|c| c.scheme),
            Some(Scheme::Basic)
        );
        let message = if basic && !sent_auth {
            format!("{prefix}{denied}: authorization failed: no basic auth credentials")
        } else {
            format!(
                "{prefix}unexpected status from {} request to {url}: 401 Unauthorized",
                method.as_str()
            )
        };
        RegistryError::Unauthorized {
            reference,
            by: Refuser::Registry,
            status: 401,
            code: body_code,
            message,
        }
    }
}

fn challenges_of(headers: &HeaderMap) -> Vec<Challenge> {
    parse_challenges(
        headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Bearer when offered (containerd prefers it), else Basic.
fn pick_challenge(all: &[Challenge]) -> Option<Challenge> {
    all.iter()
        .find(|c| c.scheme == Scheme::Bearer)
        .or_else(|| all.iter().find(|c| c.scheme == Scheme::Basic))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_id_never_show_secrets() {
        let c = Cred {
            username: "alice".into(),
            password: "PW-MARK".into(),
            identity_token: Some("ID-MARK".into()),
            registry_token: Some("RT-MARK".into()),
        };
        let dbg = format!("{c:?}");
        assert!(dbg.contains("alice"));
        for m in ["PW-MARK", "ID-MARK", "RT-MARK"] {
            assert!(!dbg.contains(m) && !c.id().contains(m));
        }
        assert!(format!("{:?}", c.basic_header().unwrap()).contains("Sensitive"));
        // Different secrets, different identities.
        let other = Cred {
            password: "other".into(),
            ..c.clone()
        };
        assert_ne!(c.id(), other.id());
    }

    #[test]
    fn auth_field_fills_username_and_password() {
        // docker/cli config/configfile: `auth` = base64("user:pass") when the fields are empty.
        let a = pullsim_credentials::AuthConfig {
            auth: Some(pullsim_credentials::Secret::new(
                "YWxpY2U6cHc6d2l0aDpjb2xvbnM=",
            )),
            ..Default::default()
        };
        let c = Cred::from_auth(&a);
        assert_eq!(c.username, "alice");
        assert_eq!(c.password, "pw:with:colons");
    }
}
