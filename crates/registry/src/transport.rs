//! HTTP transport with a node's rules: each host's scheme (HTTPS first with containerd's HTTP
//! fallback where the host asks for it, as containerd's default for loopback registries:
//! `core/remotes/docker/config/hosts.go@v2.3.4`); hosts named in `insecure_registries` HTTPS
//! then HTTP, certificates not verified (docker's `insecure-registries`); extra CA files join
//! the root store; a host's own TLS settings and dial timeout get their own client; redirects
//! are followed by hand and the `Authorization` header is never sent to another host; an
//! offline client never opens a connection.

use std::collections::HashMap;
use std::error::Error as _;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, Response, StatusCode};

use crate::bounded::Deadline;
use crate::error::{RegistryError, TlsProblem};
use crate::hosts::HostTls;

/// Requests sent for one call before a redirect answer is an error, as Go's `net/http`
/// client's default `CheckRedirect` (`stopped after 10 redirects`).
const MAX_REDIRECTS: usize = 10;

/// The host that serves a reference's domain: `docker.io` is served by
/// `registry-1.docker.io` (docker's `registry.DefaultV2Registry`, containerd's
/// `config.HostDefault`).
pub fn registry_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// Whether `host[:port]` names a loopback address (127.0.0.0/8, ::1, localhost):
/// [`crate::hosts::is_localhost`].
pub fn is_loopback(host_port: &str) -> bool {
    crate::hosts::is_localhost(host_port)
}

/// The host part of `host[:port]`, without brackets for IPv6.
fn split_host(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    }
}

/// Whether `host[:port]` carries a port.
fn has_port(s: &str) -> bool {
    if s.starts_with('[') {
        return s.contains("]:");
    }
    s.rsplit_once(':').is_some_and(|(h, p)| {
        !h.contains(':') && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())
    })
}

/// Does `entry` (from `insecure_registries`, `HOST` or `HOST:PORT`) name `host_port`?
/// A bare host matches any port.
fn insecure_matches(entry: &str, host_port: &str) -> bool {
    let entry = entry
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    if entry.eq_ignore_ascii_case(host_port) {
        return true;
    }
    !has_port(entry) && split_host(entry).eq_ignore_ascii_case(split_host(host_port))
}

/// Whom a request serves: the reference (for error texts) and its pull's no-progress deadline.
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub reference: &'a str,
    pub deadline: &'a Deadline,
}

/// A request to a registry (or its token endpoint).
pub(crate) struct Request {
    pub method: Method,
    /// Absolute URL.
    pub url: url::Url,
    pub headers: HeaderMap,
    /// `Authorization` for the first host only.
    pub authorization: Option<HeaderValue>,
    /// Form body for POST (token endpoint).
    pub form: Option<Vec<(String, String)>>,
    /// Which HTTP client: the host's TLS and dial settings.
    pub profile: Profile,
}

/// A host's HTTP client settings: its own TLS configuration and connect timeout. The default
/// is the client's (system roots plus [`crate::ClientOptions::ca_files`], `insecure_registries`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Profile {
    /// `None`: the client's TLS.
    pub tls: Option<HostTls>,
    /// `None`: the client's connect timeout.
    pub dial_timeout: Option<Duration>,
}

/// The shared transport of a [`crate::Client`].
///
/// Three HTTP clients: `plain` serves `http://` URLs (its TLS configuration is an empty root
/// store, so building it costs nothing); `verified` (system roots plus the CA files) and
/// `insecure` (no certificate verification, for `insecure_registries`) are built on first use,
/// so a command that only talks plain HTTP to a loopback registry never loads the system roots.
pub(crate) struct Transport {
    plain: reqwest::Client,
    verified: OnceLock<Result<reqwest::Client, String>>,
    insecure: OnceLock<Result<reqwest::Client, String>>,
    ca_certs: Vec<reqwest::Certificate>,
    insecure_hosts: Vec<String>,
    offline: bool,
    connect_timeout: Duration,
    user_agent: String,
    /// Learned scheme per registry host.
    schemes: Mutex<HashMap<String, &'static str>>,
    /// Clients of hosts with their own TLS or dial settings, built on first use, by scheme
    /// kind (plain HTTP or not) and settings.
    per_host: Mutex<HashMap<(bool, Profile), reqwest::Client>>,
}

fn builder(connect_timeout: Duration, user_agent: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(user_agent)
        .no_proxy()
}

/// A rustls configuration that trusts nothing: for the plain-HTTP client, which never
/// negotiates TLS (it only avoids loading the system roots).
fn trust_nothing() -> Result<rustls::ClientConfig, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

impl Transport {
    pub(crate) fn new(
        insecure_registries: &[String],
        ca_files: &[PathBuf],
        offline: bool,
        connect_timeout: Duration,
        user_agent: &str,
    ) -> Result<Transport, RegistryError> {
        let mut certs = Vec::new();
        for path in ca_files {
            certs.extend(read_ca_file(path, "--ca-file")?);
        }
        for entry in insecure_registries {
            if entry.trim().is_empty() || entry.contains('/') && !entry.contains("://") {
                return Err(RegistryError::Config {
                    message: format!("--insecure-registry {entry:?}: expected HOST or HOST:PORT"),
                });
            }
        }
        let config_err = |e: String| RegistryError::Config {
            message: format!("cannot build the HTTP client: {e}"),
        };
        let plain = builder(connect_timeout, user_agent)
            .tls_backend_preconfigured(trust_nothing().map_err(config_err)?)
            .build()
            .map_err(|e| config_err(chain_text(&e)))?;
        Ok(Transport {
            plain,
            verified: OnceLock::new(),
            insecure: OnceLock::new(),
            ca_certs: certs,
            insecure_hosts: insecure_registries.to_vec(),
            offline,
            connect_timeout,
            user_agent: user_agent.to_string(),
            schemes: Mutex::new(HashMap::new()),
            per_host: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the client refuses all network access.
    pub(crate) fn offline(&self) -> bool {
        self.offline
    }

    pub(crate) fn is_insecure(&self, host: &str) -> bool {
        self.insecure_hosts
            .iter()
            .any(|e| insecure_matches(e, host))
    }

    /// Schemes to try for a registry host, in order: the scheme learned for it, else
    /// `candidates`; a host named in `insecure_registries` without its own TLS settings gets
    /// HTTPS then plain HTTP (docker's order).
    fn schemes_for(
        &self,
        host: &str,
        candidates: &[&'static str],
        profile: &Profile,
    ) -> Vec<&'static str> {
        let candidates = if profile.tls.is_none() && self.is_insecure(host) {
            vec!["https", "http"]
        } else {
            candidates.to_vec()
        };
        // A scheme learned by an earlier fallback, when this host entry allows it (another
        // entry for the same host may name one scheme only).
        if let Ok(m) = self.schemes.lock()
            && let Some(s) = m.get(host)
            && candidates.contains(s)
        {
            return vec![s];
        }
        candidates
    }

    /// Send the first request to a registry host (`path` relative to its root), trying the
    /// schemes of [`Self::schemes_for`] in order; the scheme that answers is remembered. This
    /// is the scheme detection containerd's resolver does on its first real request (no
    /// `GET /v2/` ping). Returns the base URL (`scheme://host/`) and the response.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_detect(
        &self,
        host: &str,
        candidates: &[&'static str],
        profile: &Profile,
        path: &str,
        method: &Method,
        headers: &HeaderMap,
        authorization: Option<&HeaderValue>,
        call: Call<'_>,
    ) -> Result<(url::Url, Response), SendError> {
        let reference = call.reference;
        let schemes = self.schemes_for(host, candidates, profile);
        // The first attempt's error when it only said "this peer speaks the other protocol".
        let mut mismatch: Option<RegistryError> = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let more = i + 1 < schemes.len();
            let base = url::Url::parse(&format!("{scheme}://{host}/")).map_err(|e| {
                SendError::Other(RegistryError::Config {
                    message: format!("registry host {host:?}: not a valid host: {e}"),
                })
            })?;
            let url = base.join(path).map_err(|e| {
                SendError::Other(RegistryError::Protocol {
                    reference: reference.to_string(),
                    status: None,
                    message: format!("invalid request path {path:?}: {e}"),
                })
            })?;
            let req = Request {
                method: method.clone(),
                url: url.clone(),
                headers: headers.clone(),
                authorization: authorization.cloned(),
                form: None,
                profile: profile.clone(),
            };
            match self.send(req, call).await {
                Ok(resp) => {
                    if let Ok(mut m) = self.schemes.lock() {
                        m.insert(host.to_string(), scheme);
                    }
                    return Ok((base, resp));
                }
                Err(e) => {
                    let wrong_protocol = e.is_wrong_protocol(scheme, host);
                    if wrong_protocol && more {
                        // containerd's HTTPFallback: a TLS error on HTTPS (or, plain HTTP
                        // first on loopback, a peer that does not answer HTTP) moves on to
                        // the other scheme.
                        mismatch.get_or_insert(e.into_registry());
                        continue;
                    }
                    // The fallback failed too. When this attempt only says "the peer speaks
                    // the other protocol", the first attempt's error is the real one (a
                    // redirect loop over plain HTTP is not "server gave HTTP response to
                    // HTTPS client").
                    return Err(match mismatch {
                        Some(first) if wrong_protocol => SendError::Other(first),
                        _ => e,
                    });
                }
            }
        }
        Err(SendError::Other(mismatch.unwrap_or(
            RegistryError::Config {
                message: format!("no scheme available for {host}"),
            },
        )))
    }

    fn lazy<'a>(
        &self,
        cell: &'a OnceLock<Result<reqwest::Client, String>>,
        insecure: bool,
    ) -> Result<&'a reqwest::Client, RegistryError> {
        let built = cell.get_or_init(|| {
            let b = builder(self.connect_timeout, &self.user_agent);
            let b = if insecure {
                b.tls_danger_accept_invalid_certs(true)
            } else {
                b.tls_certs_merge(self.ca_certs.iter().cloned())
            };
            b.build().map_err(|e| chain_text(&e))
        });
        built.as_ref().map_err(|e| RegistryError::Config {
            message: format!("cannot build the HTTPS client: {e}"),
        })
    }

    fn client_for(
        &self,
        url: &url::Url,
        profile: &Profile,
    ) -> Result<reqwest::Client, RegistryError> {
        let plain = url.scheme() == "http";
        if *profile == Profile::default() {
            if plain {
                return Ok(self.plain.clone());
            }
            return if self.is_insecure(&host_port(url)) {
                self.lazy(&self.insecure, true).cloned()
            } else {
                self.lazy(&self.verified, false).cloned()
            };
        }
        let key = (plain, profile.clone());
        if let Ok(m) = self.per_host.lock()
            && let Some(c) = m.get(&key)
        {
            return Ok(c.clone());
        }
        let built = self.build_host_client(plain, profile)?;
        if let Ok(mut m) = self.per_host.lock() {
            m.insert(key, built.clone());
        }
        Ok(built)
    }

    /// A host's own client (containerd's `hosts.go` `updateTLSConfigFromHost` and
    /// `dial_timeout`): its CA files added to the system roots and the client's CA files, its
    /// client certificates, `skip_verify`.
    fn build_host_client(
        &self,
        plain: bool,
        profile: &Profile,
    ) -> Result<reqwest::Client, RegistryError> {
        let config_err = |e: String| RegistryError::Config {
            message: format!("cannot build the HTTP client: {e}"),
        };
        let b = builder(
            profile.dial_timeout.unwrap_or(self.connect_timeout),
            &self.user_agent,
        );
        if plain {
            return b
                .tls_backend_preconfigured(trust_nothing().map_err(config_err)?)
                .build()
                .map_err(|e| config_err(chain_text(&e)));
        }
        let mut b = b.tls_certs_merge(self.ca_certs.iter().cloned());
        if let Some(tls) = &profile.tls {
            for path in &tls.ca_files {
                b = b.tls_certs_merge(read_ca_file(path, "ca")?);
            }
            for (cert, key) in &tls.client_pairs {
                let mut pem = std::fs::read(cert).map_err(|e| RegistryError::Config {
                    message: format!("client certificate {}: {e}", cert.display()),
                })?;
                if let Some(key) = key {
                    pem.push(b'\n');
                    pem.extend(std::fs::read(key).map_err(|e| RegistryError::Config {
                        message: format!("client key {}: {e}", key.display()),
                    })?);
                }
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| RegistryError::Config {
                    message: format!(
                        "client certificate {}: not a PEM certificate and key: {e}",
                        cert.display()
                    ),
                })?;
                b = b.identity(id);
            }
            if tls.skip_verify {
                b = b.tls_danger_accept_invalid_certs(true);
            }
        }
        b.build().map_err(|e| config_err(chain_text(&e)))
    }

    /// Send a request, following redirects by hand (never forwarding `Authorization` to another
    /// host), with the no-progress deadline on the response headers.
    pub(crate) async fn send(&self, req: Request, call: Call<'_>) -> Result<Response, SendError> {
        let Call {
            reference,
            deadline,
        } = call;
        if self.offline {
            return Err(SendError::Other(RegistryError::Offline {
                reference: reference.to_string(),
            }));
        }
        let origin = host_port(&req.url);
        let origin_scheme = req.url.scheme().to_string();
        let mut url = req.url.clone();
        let mut method = req.method.clone();
        let mut sent = 0;
        loop {
            let same_host = host_port(&url) == origin && url.scheme() == origin_scheme;
            let client = self
                .client_for(&url, &req.profile)
                .map_err(SendError::Other)?;
            let mut rb = client
                .request(method.clone(), url.clone())
                .headers(req.headers.clone());
            if same_host && let Some(a) = &req.authorization {
                rb = rb.header(AUTHORIZATION, a.clone());
            }
            if let Some(form) = &req.form {
                rb = rb
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )
                    .body(
                        url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(form.iter())
                            .finish(),
                    );
            }
            sent += 1;
            let started = std::time::Instant::now();
            let outcome = deadline.run(rb.send()).await;
            if crate::redact::logging_exchanges() {
                let ended = match &outcome {
                    Ok(Ok(r)) => crate::redact::Exchange::Answered(r),
                    Ok(Err(e)) => crate::redact::Exchange::Failed(chain_text(e)),
                    Err(t) => crate::redact::Exchange::NoResponse(*t),
                };
                crate::redact::log_exchange(
                    &method,
                    &crate::redact::redact_query_values(url.as_str()),
                    ended,
                    started.elapsed(),
                    &req.headers,
                    same_host && req.authorization.is_some(),
                );
            }
            let resp = match outcome {
                Err(timeout) => {
                    return Err(SendError::Other(RegistryError::Unavailable {
                        reference: reference.to_string(),
                        status: None,
                        message: format!(
                            "failed to do request: {} {:?}: i/o timeout (no response within {}s)",
                            go_method(&method),
                            url.as_str(),
                            timeout.as_secs_f64()
                        ),
                    }));
                }
                Ok(Err(e)) => return Err(classify(&e, &method, &url, reference)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
                return Ok(resp);
            };
            // Go's net/http client.go: the error names the first request's method and the
            // URL of the request that was answered with the redirect it refuses.
            let op = format!(
                "failed to do request: {} {:?}",
                go_method(&req.method),
                url.as_str()
            );
            if sent >= MAX_REDIRECTS {
                return Err(SendError::Other(RegistryError::Protocol {
                    reference: reference.to_string(),
                    status: Some(status.as_u16()),
                    message: format!("{op}: stopped after {MAX_REDIRECTS} redirects"),
                }));
            }
            let next = url.join(loc).map_err(|e| {
                SendError::Other(RegistryError::Protocol {
                    reference: reference.to_string(),
                    status: Some(status.as_u16()),
                    message: format!("{op}: failed to parse Location header {loc:?}: {e}"),
                })
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                // Go's http.Transport: `unsupported protocol scheme "file"`, for the URL it
                // refuses to request.
                return Err(SendError::Other(RegistryError::Protocol {
                    reference: reference.to_string(),
                    status: Some(status.as_u16()),
                    message: format!(
                        "failed to do request: {} {:?}: unsupported protocol scheme {:?}",
                        go_method(&req.method),
                        next.as_str(),
                        next.scheme()
                    ),
                }));
            }
            if status == StatusCode::SEE_OTHER && method != Method::HEAD {
                method = Method::GET;
            }
            // Log hosts only: redirect URLs may carry signed query parameters.
            tracing::debug!(from = %host_port(&url), to = %host_port(&next), "following redirect");
            url = next;
        }
    }
}

/// The certificates of a PEM bundle (`what` names the option in errors).
fn read_ca_file(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let pem = std::fs::read(path).map_err(|e| RegistryError::Config {
        message: format!("{what} {}: {e}", path.display()),
    })?;
    let found = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| RegistryError::Config {
        message: format!(
            "{what} {}: not a PEM certificate bundle: {e}",
            path.display()
        ),
    })?;
    if found.is_empty() {
        return Err(RegistryError::Config {
            message: format!("{what} {}: no PEM certificate found", path.display()),
        });
    }
    Ok(found)
}

/// A send failure: the peer does not speak TLS (the caller may fall back to plain HTTP), a
/// transient transport failure (a network timeout, a connection closed before the answer:
/// containerd 2.3.2+ retries them on the last host), or a final error.
#[derive(Debug)]
pub(crate) enum SendError {
    /// An HTTPS request met a plain-HTTP server ("server gave HTTP response to HTTPS client").
    NotTls(RegistryError),
    /// containerd's `isTransientTransportErr` (`core/remotes/docker/resolver.go@v2.3.4`): a
    /// `net.Error` timeout, `io.EOF` or `io.ErrUnexpectedEOF`.
    Transient {
        /// The error.
        error: RegistryError,
        /// A timeout (not an EOF): with a refused connection, containerd's `isPortError`.
        timeout: bool,
    },
    /// The connection was refused (`ECONNREFUSED`).
    Refused(RegistryError),
    /// Anything else: final.
    Other(RegistryError),
}

impl SendError {
    pub(crate) fn into_registry(self) -> RegistryError {
        match self {
            SendError::NotTls(e)
            | SendError::Transient { error: e, .. }
            | SendError::Refused(e)
            | SendError::Other(e) => e,
        }
    }

    /// Whether this failure of an attempt over `scheme` only says that the peer speaks the
    /// other protocol (the signal to try the other scheme, never the error to report when the
    /// other scheme has a real one).
    /// containerd's `httpFallback.RoundTrip` (`core/remotes/docker/resolver.go@v2.3.4`): a TLS
    /// error (`isTLSError`), or, to a host without a port, a refused connection or a timeout
    /// (`isPortError`: "Port is specified, will not retry on different port with scheme
    /// change").
    pub(crate) fn is_wrong_protocol(&self, scheme: &str, host: &str) -> bool {
        if scheme != "https" {
            return false;
        }
        match self {
            SendError::NotTls(_) => true,
            SendError::Refused(_) | SendError::Transient { timeout: true, .. } => !has_port(host),
            _ => false,
        }
    }
}

/// `host:port` of a URL, with the scheme's default port made explicit.
pub(crate) fn host_port(url: &url::Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Go's `url.Error` operation name: `Get`, `Head`, `Post`.
pub(crate) fn go_method(m: &Method) -> String {
    let s = m.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every message in an error's source chain, joined with `: `.
pub(crate) fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn find_io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Map a reqwest error to a typed error, walking the source chain for certificate, TLS
/// protocol, refused-connection and DNS failures. Messages follow Go's `net/http` wording as
/// containerd prints it (`failed to do request: Head "URL": dial tcp HOST: connect: connection
/// refused`).
fn classify(e: &reqwest::Error, method: &Method, url: &url::Url, reference: &str) -> SendError {
    let chain = chain_text(e);
    let lower = chain.to_ascii_lowercase();
    let prefix = format!(
        "failed to do request: {} {:?}",
        go_method(method),
        url.as_str()
    );
    let hp = host_port(url);
    if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        // A TLS client met a plain-HTTP server: containerd's HTTPFallback retries over HTTP.
        return SendError::NotTls(RegistryError::Tls {
            reference: reference.to_string(),
            problem: TlsProblem::PlainHttpServer,
            message: format!("{prefix}: http: server gave HTTP response to HTTPS client"),
        });
    }
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("invalid peer")
        || lower.contains("tls handshake")
        || lower.contains("handshake")
    {
        let (problem, detail) = if lower.contains("unknownissuer")
            || lower.contains("unknown issuer")
        {
            (
                TlsProblem::UnknownAuthority,
                "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                    .to_string(),
            )
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            (
                TlsProblem::WrongName,
                format!(
                    "tls: failed to verify certificate: x509: certificate is not valid for {}",
                    split_host(&hp)
                ),
            )
        } else if lower.contains("expired") {
            (
                TlsProblem::Expired,
                "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
                    .to_string(),
            )
        } else {
            (TlsProblem::Other, format!("tls: {chain}"))
        };
        return SendError::Other(RegistryError::Tls {
            reference: reference.to_string(),
            problem,
            message: format!("{prefix}: {detail}"),
        });
    }
    let io_kind = find_io_kind(e);
    let transient = e.is_timeout()
        || matches!(
            io_kind,
            Some(std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::TimedOut)
        )
        || lower.contains("connection closed before message completed");
    let detail = match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            format!("dial tcp {hp}: connect: connection refused")
        }
        Some(std::io::ErrorKind::ConnectionReset) => "read: connection reset by peer".to_string(),
        Some(std::io::ErrorKind::TimedOut) => format!("dial tcp {hp}: i/o timeout"),
        _ if e.is_timeout() => format!("dial tcp {hp}: i/o timeout"),
        _ if lower.contains("dns error") || lower.contains("failed to lookup") => {
            format!("dial tcp: lookup {}: no such host", split_host(&hp))
        }
        _ => chain,
    };
    let err = RegistryError::Unavailable {
        reference: reference.to_string(),
        status: None,
        message: format!("{prefix}: {detail}"),
    };
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        SendError::Refused(err)
    } else if transient {
        SendError::Transient {
            error: err,
            timeout: e.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut),
        }
    } else {
        SendError::Other(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_table() {
        // containerd core/remotes/docker/config/hosts.go isLocalHost: localhost and loopback IPs.
        for (h, want) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("::1", true),
            ("10.0.0.1:5000", false),
            ("registry.example.com", false),
            ("localhost.example.com:5000", false),
        ] {
            assert_eq!(is_loopback(h), want, "{h}");
        }
    }

    #[test]
    fn docker_hub_host() {
        assert_eq!(registry_host("docker.io"), "registry-1.docker.io");
        assert_eq!(registry_host("quay.io"), "quay.io");
    }

    #[test]
    fn insecure_entries() {
        for (entry, host, want) in [
            ("reg.local:5000", "reg.local:5000", true),
            ("reg.local:5000", "reg.local:5001", false),
            ("reg.local", "reg.local:5000", true),
            ("reg.local", "other.local:5000", false),
            ("http://reg.local:5000/", "reg.local:5000", true),
        ] {
            assert_eq!(insecure_matches(entry, host), want, "{entry} {host}");
        }
    }

    #[test]
    fn http_fallback_triggers() {
        // core/remotes/docker/resolver.go@v2.3.4 httpFallback: isTLSError always, isPortError
        // (refused, timeout) only for a host without a port; never over plain HTTP.
        let e = || RegistryError::Config {
            message: String::new(),
        };
        let not_tls = SendError::NotTls(e());
        let refused = SendError::Refused(e());
        let timeout = SendError::Transient {
            error: e(),
            timeout: true,
        };
        let eof = SendError::Transient {
            error: e(),
            timeout: false,
        };
        assert!(not_tls.is_wrong_protocol("https", "reg:5000"));
        assert!(!not_tls.is_wrong_protocol("http", "reg"));
        assert!(refused.is_wrong_protocol("https", "reg"));
        assert!(!refused.is_wrong_protocol("https", "reg:443"));
        assert!(timeout.is_wrong_protocol("https", "[::1]"));
        assert!(!timeout.is_wrong_protocol("https", "[::1]:5000"));
        assert!(!eof.is_wrong_protocol("https", "reg"));
        assert!(!SendError::Other(e()).is_wrong_protocol("https", "reg"));
    }

    #[test]
    fn go_method_names() {
        assert_eq!(go_method(&Method::HEAD), "Head");
        assert_eq!(go_method(&Method::GET), "Get");
    }
}
