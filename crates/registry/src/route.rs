//! A resolve or pull through a [`HostPlan`]'s hosts, as containerd's `dockerResolver.Resolve`
//! and `dockerFetcher.Fetch` (`core/remotes/docker/resolver.go@v2.3.4`, `fetcher.go@v2.3.4`,
//! `v1.7.34:remotes/docker/`): the tag resolved by the first host with `pull` and `resolve`
//! that answers, each manifest and blob fetched from the first host (of all, in order) that
//! serves it.

use std::sync::{Arc, Mutex};

use pullsim_reference::{Digest, Reference};

use crate::auth::{AuthTrace, Session};
use crate::bounded::Deadline;
use crate::error::{NotFoundKind, RegistryError};
use crate::fetch::{BlobOutcome, BlobSpec, fetch_blob};
use crate::hosts::{Capabilities, HostAttempt, HostPlan, Resolver, Stage};
use crate::progress::Progress;
use crate::resolve::{HostFailure, Resolved, error_code_by_get, get_manifest, resolve_at};
use crate::shared::Inner;
use crate::sink::BlobSink;

/// One pull's (or resolve's) sessions, one per host of the plan, sharing the no-progress
/// deadline, and the record of what each host did.
pub(crate) struct Route<'a> {
    pub(crate) sessions: Vec<Session<'a>>,
    pub(crate) resolver: Resolver,
    /// The reference, as errors name it.
    pub(crate) reference: String,
    attempts: Mutex<Vec<HostAttempt>>,
}

impl<'a> Route<'a> {
    /// Sessions for every host of `plan` (nothing is sent).
    pub(crate) fn open(
        inner: &'a Inner,
        r: &Reference,
        plan: &HostPlan,
    ) -> Result<Route<'a>, RegistryError> {
        let reference = r.to_string();
        let deadline = Arc::new(Deadline::new(inner.opts.image_pull_progress_timeout));
        let n = plan.hosts.len();
        let mut sessions = Vec::with_capacity(n);
        for (i, h) in plan.hosts.iter().enumerate() {
            sessions.push(Session::at(
                inner,
                h,
                r.domain(),
                r.path(),
                plan.credentials.clone(),
                &reference,
                (plan.resolver, i + 1 == n),
                deadline.clone(),
            )?);
        }
        Ok(Route {
            sessions,
            resolver: plan.resolver,
            reference,
            attempts: Mutex::new(Vec::new()),
        })
    }

    /// What every host did so far, in order.
    pub(crate) fn attempts(&self) -> Vec<HostAttempt> {
        self.attempts.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The auth trace of the host asked last during resolution.
    pub(crate) fn trace_of(&self, i: usize) -> AuthTrace {
        self.sessions
            .get(i)
            .and_then(|s| s.trace.lock().ok().map(|t| t.clone()))
            .unwrap_or_default()
    }

    fn record(&self, i: usize, stage: Stage, status: Option<u16>, error: Option<String>) {
        let host = self.sessions[i].rhost.url();
        if let Ok(mut a) = self.attempts.lock() {
            a.push(HostAttempt {
                host,
                stage,
                status,
                error,
            });
        }
    }

    /// The resolve-stage prefix of this resolver (`failed to resolve reference "REF": ` or,
    /// transfer service, `failed to resolve image: `).
    fn stage_prefix(&self) -> String {
        match self.resolver {
            Resolver::Containerd2Transfer => "failed to resolve image: ".to_string(),
            _ => format!("failed to resolve reference {:?}: ", self.reference),
        }
    }

    fn not_found(&self, what: &str) -> RegistryError {
        RegistryError::NotFound {
            reference: self.reference.clone(),
            what: NotFoundKind::Manifest,
            code: None,
            message: format!("{}{what}: not found", self.stage_prefix()),
        }
    }

    /// Resolve `r` (with a tag or a digest) across the hosts. Returns the descriptor and the
    /// index of the host that resolved it, or the error containerd returns: 2.x the error
    /// furthest through resolution, 1.7 the first that is not a 404; all 404 (or no host)
    /// `REF: not found`; no host with the capabilities `no resolve hosts: not found`.
    pub(crate) async fn resolve(
        &self,
        r: &Reference,
    ) -> (Result<(Resolved, usize), RegistryError>, usize) {
        let (caps, kinds): (Capabilities, &[&str]) = if r.digest().is_some() {
            (Capabilities::PULL, &["manifests", "blobs"])
        } else {
            (
                Capabilities::PULL.union(Capabilities::RESOLVE),
                &["manifests"],
            )
        };
        let hosts: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].rhost.capabilities.contains(caps))
            .collect();
        if hosts.is_empty() {
            return (Err(self.not_found("no resolve hosts")), 0);
        }
        // containerd passes `i == len(hosts)-1` over the capable hosts while resolving.
        for (k, &i) in hosts.iter().enumerate() {
            self.sessions[i].set_last_host(k + 1 == hosts.len());
        }
        let outcome = self.resolve_among(r, &hosts, kinds).await;
        // Fetching asks every host: the last of the plan is the last.
        let n = self.sessions.len();
        for (i, s) in self.sessions.iter().enumerate() {
            s.set_last_host(i + 1 == n);
        }
        outcome
    }

    /// [`Route::resolve`] over the capable `hosts` (indices), for each of `kinds` in turn.
    async fn resolve_among(
        &self,
        r: &Reference,
        hosts: &[usize],
        kinds: &[&str],
    ) -> (Result<(Resolved, usize), RegistryError>, usize) {
        let mut first: Option<(u8, RegistryError)> = None;
        let mut last_asked = hosts[0];
        for kind in kinds {
            // 2.3: "falling back to /blobs endpoint should happen in extreme cases", only
            // after 404s (commit 9b7fa613).
            if self.resolver.is_v2() && first.as_ref().is_some_and(|(p, _)| *p > 2) {
                break;
            }
            for &i in hosts {
                last_asked = i;
                match resolve_at(&self.sessions[i], r, kind).await {
                    Ok(resolved) => {
                        self.record(i, Stage::Resolve, Some(200), None);
                        return (Ok((resolved, i)), i);
                    }
                    Err(HostFailure::Stop(e)) => {
                        self.record(i, Stage::Resolve, e.status(), Some(e.to_string()));
                        return (Err(self.restage(e)), i);
                    }
                    Err(HostFailure::Next {
                        priority,
                        error,
                        status,
                    }) => {
                        self.record(i, Stage::Resolve, status, Some(error.to_string()));
                        let keep = if self.resolver.is_v2() {
                            first.as_ref().is_none_or(|(p, _)| *p < priority)
                        } else {
                            // 1.7: 404s never set firstErr.
                            priority != 2 && first.is_none()
                        };
                        if keep {
                            first = Some((priority, error));
                        }
                    }
                }
            }
        }
        let err = match first {
            Some((_, e)) => self.restage(e),
            None => self.not_found(&self.reference),
        };
        (Err(err), last_asked)
    }

    /// `e` with the registry's error code learned by a diagnostic `GET` at host `i` when a
    /// `HEAD` 401 or 404 left it unknown (for `pullsim creds check`; not containerd's).
    pub(crate) async fn with_diagnosed_code(
        &self,
        r: &Reference,
        i: usize,
        e: RegistryError,
    ) -> RegistryError {
        let unknown = e.registry_code().is_none() && matches!(e.status(), Some(401 | 404));
        let Some(session) = self.sessions.get(i).filter(|_| unknown) else {
            return e;
        };
        match error_code_by_get(session, r).await {
            Some(code) => e.with_code(code),
            None => e,
        }
    }

    /// The resolve stage's wording on an error of the resolver: every error the resolver
    /// returns is wrapped by the pull (`client/pull.go@v2.3.4` and `v1.7.34:pull.go`:
    /// `failed to resolve reference %q: %w`; the transfer service's
    /// `core/transfer/local/pull.go@v2.3.4`: `failed to resolve image: %w`), transport failures
    /// (`failed to do request: …`) included.
    pub(crate) fn restage(&self, e: RegistryError) -> RegistryError {
        let local = format!("failed to resolve reference {:?}: ", self.reference);
        let e = if e.to_string().starts_with(&local) {
            e
        } else {
            e.replace_message_prefix("", &local)
        };
        if self.resolver != Resolver::Containerd2Transfer {
            return e;
        }
        e.replace_message_prefix(&local, "failed to resolve image: ")
    }

    /// containerd's fetcher first checks that some host has `pull` (`no pull hosts: not
    /// found`).
    fn require_pull(&self) -> Result<(), RegistryError> {
        if self
            .sessions
            .iter()
            .any(|s| s.rhost.capabilities.contains(Capabilities::PULL))
        {
            return Ok(());
        }
        Err(RegistryError::NotFound {
            reference: self.reference.clone(),
            what: NotFoundKind::Manifest,
            code: None,
            message: "no pull hosts: not found".to_string(),
        })
    }

    /// A manifest by digest, verified, from the first host that serves it: every host in
    /// order (containerd's fetcher loops over all of `r.hosts`, not only the pull-capable
    /// ones); the first error when none does.
    pub(crate) async fn manifest(
        &self,
        r: &Reference,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        self.require_pull()?;
        let mut first: Option<RegistryError> = None;
        for (i, s) in self.sessions.iter().enumerate() {
            let path = s.object_path("manifests", digest.as_ref());
            match get_manifest(s, r, &path, Some(digest)).await {
                Ok((_, body)) => {
                    self.record(i, Stage::Fetch, Some(200), None);
                    return Ok(body);
                }
                Err(e) => {
                    self.record(i, Stage::Fetch, e.status(), Some(e.to_string()));
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| self.no_content(digest, "")))
    }

    /// A blob into the sink, from the first host that serves it (all hosts in order); the
    /// first error when none does, a 404 worded `could not fetch content descriptor D (TYPE)
    /// from remote: not found` (`fetcher.go@v2.3.4`).
    pub(crate) async fn blob(
        &self,
        sink: &Arc<dyn BlobSink>,
        b: &BlobSpec,
        progress: &dyn Progress,
    ) -> Result<BlobOutcome, RegistryError> {
        self.require_pull()?;
        let mut first: Option<RegistryError> = None;
        for (i, s) in self.sessions.iter().enumerate() {
            match fetch_blob(s, sink, b, progress).await {
                Ok(o) => {
                    if !o.skipped {
                        self.record(i, Stage::Fetch, Some(200), None);
                    }
                    return Ok(o);
                }
                Err(e) => {
                    self.record(i, Stage::Fetch, e.status(), Some(e.to_string()));
                    first.get_or_insert(e);
                }
            }
        }
        Err(match first {
            Some(RegistryError::NotFound { .. }) | None => {
                self.no_content(&b.digest, &b.media_type)
            }
            Some(e) => e,
        })
    }

    fn no_content(&self, digest: &Digest, media_type: &str) -> RegistryError {
        RegistryError::NotFound {
            reference: self.reference.clone(),
            what: NotFoundKind::Blob,
            code: None,
            message: format!(
                "failed to copy: httpReadSeeker: failed open: could not fetch content descriptor {digest} ({media_type}) from remote: not found"
            ),
        }
    }
}
