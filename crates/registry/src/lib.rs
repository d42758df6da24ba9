//! pullsim-registry: an OCI distribution client for pulling, with a node's rules.
//!
//! - Auth: no `GET /v2/` ping (as containerd's resolver): the first request goes out without
//!   credentials and a 401's `WWW-Authenticate` challenge (Basic or Bearer) is answered by
//!   a retry; challenges are learned per host; token fetch
//!   (anonymous, Basic credentials, identity token) and a token cache per registry +
//!   repository + credential, refreshed on expiry and on a 401.
//! - Resolve: `HEAD` of the manifest with every manifest type in `Accept`, `GET` fallback
//!   with the body checked against `Docker-Content-Digest`; platform choice from an index as
//!   containerd's platform matcher.
//! - Fetch: config and layers streamed into a [`BlobSink`] writer (containerd's content
//!   `Ingester` shape: hashed once as the bytes arrive, verified at commit), several at a
//!   time, skipping present blobs, resuming partial ingests, one download per blob per
//!   process. Manifests are put last. The client records no image: [`Client::pull`] returns
//!   what it pulled ([`Pulled`]) and the caller (the container runtime) records it.
//! - Bounded reads: every wait for the network has the no-progress deadline
//!   ([`ClientOptions::image_pull_progress_timeout`], containerd's knob) and every body a cap
//!   (manifests 4 MiB, error answers [`MAX_ERROR_BODY_SIZE`], token answers
//!   [`MAX_TOKEN_RESPONSE_SIZE`], blobs their descriptor's size).
//! - Hosts: a resolve or pull goes through a [`HostPlan`] (mirrors, then the upstream) as
//!   containerd's resolver and fetcher: capabilities, fallback to the next host, retries and
//!   the error returned per [`Resolver`] (containerd 1.7, 2.x local pull, 2.x transfer).
//! - Transport: each host's scheme (HTTPS first with the HTTP fallback for loopback hosts, as
//!   containerd), `insecure_registries`, extra CA files, per-host TLS, redirects followed
//!   without forwarding `Authorization` to another host, and an offline mode that never
//!   connects.
//! - Errors: [`RegistryError`], typed protocol errors worded as containerd's `remotes/docker`
//!   resolver and fetcher; no CRI or kubelet wording (the runtime wraps them).
//!   Credentials, tokens and `Authorization` values never appear in errors or logs.
#![deny(missing_docs)]

pub mod auth;
mod body;
mod bounded;
pub mod error;
mod fetch;
pub mod hosts;
mod inflight;
mod options;
pub mod platform;
pub mod progress;
mod pull;
pub mod redact;
pub mod resolve;
mod route;
mod shared;
pub mod sink;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};

use crate::inflight::{ChunkBudget, InFlight};
use crate::shared::Inner;

pub use auth::AuthTrace;
pub use auth::challenge::{Challenge, Scheme};
pub use body::status_error_for;
pub use bounded::{MAX_ERROR_BODY_SIZE, MAX_TOKEN_RESPONSE_SIZE};
pub use error::{NotFoundKind, Refuser, RegistryError, TlsProblem};
pub use hosts::{
    Capabilities, HostAttempt, HostCredentials, HostPlan, HostTls, RegistryHost, Resolver, Stage,
};
pub use inflight::NETWORK_CHUNK_MAX;
pub use options::{
    ClientOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOWNLOAD_BUFFER_BUDGET,
    DEFAULT_IMAGE_PULL_PROGRESS_TIMEOUT, DEFAULT_MAX_CONCURRENT_LAYERS,
};
pub use platform::{Platform, PlatformError};
pub use progress::{NoProgress, Progress};
pub use pull::{PullOutcome, Pulled, PulledBlob};
pub use resolve::Resolved;
pub use sink::{BlobSink, BlobWrite, Committed, SinkError};

/// A registry client. Cheap to clone: clones share one HTTP client, the token cache, the
/// learned schemes and challenges, and the in-flight blob map.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`Client::resolve_traced`]: the result and what the auth flow met.
#[derive(Debug)]
pub struct ResolveReport {
    /// The resolved descriptor, or the error.
    pub result: Result<Resolved, RegistryError>,
    /// Scheme met, token obtained, last status.
    pub trace: AuthTrace,
}

/// The outcome of [`crate::Client::resolve_on`].
#[derive(Debug)]
pub struct HostsResolveReport {
    /// The descriptor, or the error containerd would return.
    pub result: Result<Resolved, RegistryError>,
    /// [`RegistryHost::url`] of the host that resolved.
    pub served_by: Option<String>,
    /// The auth flow of the last host asked.
    pub trace: AuthTrace,
    /// Every host asked, in order.
    pub attempts: Vec<HostAttempt>,
}

/// The outcome of [`crate::Client::pull_on`].
#[derive(Debug)]
pub struct HostsPullReport {
    /// What was pulled, or the error.
    pub result: Result<PullOutcome, RegistryError>,
    /// [`RegistryHost::url`] of the host that resolved.
    pub resolved_by: Option<String>,
    /// Every host asked, in order (resolve, then fetches that met errors or served).
    pub attempts: Vec<HostAttempt>,
}

impl Client {
    /// A client with these options (reads the CA files).
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        let transport = transport::Transport::new(
            &opts.insecure_registries,
            &opts.ca_files,
            opts.offline,
            opts.connect_timeout,
            &opts.user_agent,
        )?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                tokens: auth::token::TokenCache::default(),
                hosts: Mutex::new(HashMap::new()),
                inflight: InFlight::default(),
                chunks: ChunkBudget::new(opts.download_buffer_budget),
                downloads: Arc::new(tokio::sync::Semaphore::new(
                    opts.max_concurrent_layers.max(1),
                )),
                opts,
            }),
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// The plan of the single-host methods: the reference's registry alone, with containerd
    /// 2.x's local-pull rules (its resolve-stage wording is `failed to resolve reference`).
    fn one_host(r: &Reference, cred: Option<&AuthConfig>) -> HostPlan {
        HostPlan::default_for(r, cred.cloned(), Resolver::Containerd2Local)
    }

    /// Resolve a reference to its top-level manifest (or index) descriptor: the auth flow and
    /// one `HEAD` (a `GET` when the registry gives no digest). Never downloads layers.
    /// A reference without tag or digest resolves `latest`.
    pub async fn resolve(
        &self,
        r: &Reference,
        cred: Option<&AuthConfig>,
    ) -> Result<Resolved, RegistryError> {
        self.resolve_on(r, &Self::one_host(r, cred)).await.result
    }

    /// [`Client::resolve`], also reporting the auth scheme met, whether a token was obtained
    /// and the last HTTP status (for `pullsim creds check`).
    /// When the registry refuses or lacks the reference, its error code is learned by one more
    /// `GET` (a `HEAD` answer has no body): a diagnostic containerd does not make, so only
    /// this method does it.
    pub async fn resolve_traced(&self, r: &Reference, cred: Option<&AuthConfig>) -> ResolveReport {
        let report = self.resolve_hosts(r, &Self::one_host(r, cred), true).await;
        ResolveReport {
            result: report.result,
            trace: report.trace,
        }
    }

    /// Resolve through the hosts of `plan`, as containerd's resolver: hosts with the needed
    /// capabilities in order, the next one after a failure, the error of `plan.resolver`'s
    /// rules when none resolves. Reports which host served and what each did.
    pub async fn resolve_on(&self, r: &Reference, plan: &HostPlan) -> HostsResolveReport {
        self.resolve_hosts(r, plan, false).await
    }

    /// [`Client::resolve_on`], and when the hosts refuse or lack the reference, its registry
    /// error code learned by one more `GET` at the host asked last (a `HEAD` answer has no
    /// body): a diagnostic containerd does not make (`pullsim creds check`), and the `GET`
    /// containers/image sends anyway (it reads manifests with `GET`).
    pub async fn resolve_diagnosed(&self, r: &Reference, plan: &HostPlan) -> HostsResolveReport {
        self.resolve_hosts(r, plan, true).await
    }

    /// [`Client::resolve_on`]; with `diagnose`, a refusal's or absence's registry code is
    /// learned by a `GET` at the host asked last.
    async fn resolve_hosts(
        &self,
        r: &Reference,
        plan: &HostPlan,
        diagnose: bool,
    ) -> HostsResolveReport {
        let r = r.with_default_tag();
        let route = match route::Route::open(&self.inner, &r, plan) {
            Ok(route) => route,
            Err(e) => {
                return HostsResolveReport {
                    result: Err(e),
                    served_by: None,
                    trace: AuthTrace::default(),
                    attempts: Vec::new(),
                };
            }
        };
        let (mut result, asked) = route.resolve(&r).await;
        if diagnose && let Err(e) = result {
            result = Err(route.with_diagnosed_code(&r, asked, e).await);
        }
        let served_by = result.as_ref().ok().map(|(_, i)| plan.hosts[*i].url());
        HostsResolveReport {
            result: result.map(|(resolved, _)| resolved),
            served_by,
            trace: route.trace_of(asked),
            attempts: route.attempts(),
        }
    }

    /// Pull through the hosts of `plan` into `sink`: resolved as [`Client::resolve_on`], then
    /// each manifest and blob fetched from the first host (of all, in order) that serves it.
    /// With `current` (the top-level digest the caller has in full) and a reference that still
    /// resolves to it, nothing else is asked ([`PullOutcome::Current`]).
    pub async fn pull_on(
        &self,
        r: &Reference,
        plan: &HostPlan,
        sink: Arc<dyn BlobSink>,
        progress: &dyn Progress,
        current: Option<&Digest>,
    ) -> HostsPullReport {
        let r = r.with_default_tag();
        let route = match route::Route::open(&self.inner, &r, plan) {
            Ok(route) => route,
            Err(e) => {
                return HostsPullReport {
                    result: Err(e),
                    resolved_by: None,
                    attempts: Vec::new(),
                };
            }
        };
        let (resolved, _) = route.resolve(&r).await;
        let (top, i) = match resolved {
            Ok(t) => t,
            Err(e) => {
                return HostsPullReport {
                    result: Err(e),
                    resolved_by: None,
                    attempts: route.attempts(),
                };
            }
        };
        let result = pull::pull(&self.inner, &route, &r, top, &sink, progress, current).await;
        HostsPullReport {
            result,
            resolved_by: Some(plan.hosts[i].url()),
            attempts: route.attempts(),
        }
    }

    /// Pull an image into `sink`: the manifest (and index) resolved, the platform chosen,
    /// config and layers fetched and verified, then the manifests put, child first. Returns
    /// what was pulled; records nothing (the caller records the image). A reference without
    /// tag or digest pulls `latest`. The sink is shared with blocking threads: its writers,
    /// puts and reads run there, never on the async threads.
    pub async fn pull(
        &self,
        r: &Reference,
        cred: Option<&AuthConfig>,
        sink: Arc<dyn BlobSink>,
        progress: &dyn Progress,
    ) -> Result<Pulled, RegistryError> {
        let r = r.with_default_tag();
        match self
            .pull_on(&r, &Self::one_host(&r, cred), sink, progress, None)
            .await
            .result?
        {
            PullOutcome::Pulled(p) => Ok(p),
            // Only returned when the caller names a current manifest, and this one names none.
            PullOutcome::Current(top) => Err(RegistryError::Protocol {
                reference: r.to_string(),
                status: None,
                message: format!("{r} resolved to {} without a pull", top.digest),
            }),
        }
    }

    /// [`Client::pull`], unless the reference still resolves to `current` (the top-level
    /// manifest digest the caller already has in full): then nothing but the resolution is
    /// asked of the registry and nothing is written — one `HEAD`, as containerd's pull of an
    /// image it has.
    pub async fn pull_unless_current(
        &self,
        r: &Reference,
        cred: Option<&AuthConfig>,
        sink: Arc<dyn BlobSink>,
        progress: &dyn Progress,
        current: Option<&Digest>,
    ) -> Result<PullOutcome, RegistryError> {
        self.pull_on(r, &Self::one_host(r, cred), sink, progress, current)
            .await
            .result
    }
}
