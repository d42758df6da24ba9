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
//! - Transport: HTTPS by default, plain HTTP for loopback and `insecure_registries` hosts,
//!   extra CA files, redirects followed without forwarding `Authorization` to another host,
//!   and an offline mode that never connects.
//! - Errors: [`RegistryError`], typed protocol errors worded as containerd's `remotes/docker`
//!   resolver and fetcher; no CRI or kubelet wording (the runtime wraps them).
//!   Credentials, tokens and `Authorization` values never appear in errors or logs.
#![deny(missing_docs)]

pub mod auth;
mod body;
mod bounded;
pub mod error;
mod fetch;
mod inflight;
mod options;
pub mod platform;
pub mod progress;
mod pull;
pub mod resolve;
mod shared;
pub mod sink;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};

use crate::inflight::InFlight;
use crate::shared::Inner;

pub use auth::AuthTrace;
pub use auth::challenge::{Challenge, Scheme};
pub use bounded::{MAX_ERROR_BODY_SIZE, MAX_TOKEN_RESPONSE_SIZE};
pub use error::{NotFoundKind, Refuser, RegistryError};
pub use options::{
    ClientOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IMAGE_PULL_PROGRESS_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_LAYERS,
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
                opts,
                transport,
                tokens: auth::token::TokenCache::default(),
                hosts: Mutex::new(HashMap::new()),
                inflight: InFlight::default(),
            }),
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    async fn session(
        &self,
        r: &Reference,
        cred: Option<&AuthConfig>,
    ) -> Result<auth::Session<'_>, RegistryError> {
        auth::Session::open(
            &self.inner,
            r.domain(),
            r.path(),
            cred.map(auth::Cred::from_auth),
            &r.to_string(),
        )
        .await
    }

    /// Resolve a reference to its top-level manifest (or index) descriptor: the auth flow and
    /// one `HEAD` (a `GET` when the registry gives no digest). Never downloads layers.
    /// A reference without tag or digest resolves `latest`.
    pub async fn resolve(
        &self,
        r: &Reference,
        cred: Option<&AuthConfig>,
    ) -> Result<Resolved, RegistryError> {
        self.resolve_traced(r, cred).await.result
    }

    /// [`Client::resolve`], also reporting the auth scheme met, whether a token was obtained
    /// and the last HTTP status (for `pullsim creds check`).
    pub async fn resolve_traced(&self, r: &Reference, cred: Option<&AuthConfig>) -> ResolveReport {
        let r = r.with_default_tag();
        let session = match self.session(&r, cred).await {
            Ok(s) => s,
            Err(e) => {
                return ResolveReport {
                    result: Err(e),
                    trace: AuthTrace::default(),
                };
            }
        };
        let result = resolve::resolve(&session, &r).await;
        let trace = session.trace.lock().map(|t| t.clone()).unwrap_or_default();
        ResolveReport { result, trace }
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
        let session = self.session(&r, cred).await?;
        match pull::pull(&session, &r, &sink, progress, None).await? {
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
        let r = r.with_default_tag();
        let session = self.session(&r, cred).await?;
        pull::pull(&session, &r, &sink, progress, current).await
    }
}
