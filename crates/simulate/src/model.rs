//! The container runtime of a simulated node: containerd's CRI image service as a model behind
//! `pullsim_runtime::ImageService`. A pull makes containerd's request sequence
//! (`core/remotes/docker/resolver.go@v2.3.4` Resolve, `fetcher.go` Fetch, the `images.Handlers`
//! walk of index → manifest → config + layers):
//!
//! - resolve: `HEAD /v2/<repo>/manifests/<tag>` on each host in order (mirrors first), stopping
//!   at the first 2xx; a registry with token auth answers 401 first, then the token request,
//!   then the HEAD again (a new authorizer per pull, so on every pull); 429 retried at once up
//!   to 5 requests in all; 500/503/504 retried once, on the last host only; the first of the
//!   errors is returned (all are priority 3 in the resolver's ranking);
//! - fetch: the index (multi-arch), the platform manifest, then the config and layers, each
//!   only when the node's content store lacks it, each trying every host in order and
//!   returning the first error; blobs go through one download limiter per node
//!   (`max_concurrent_downloads`, containerd 2.x) and the bandwidth model; a blob another pull
//!   on the node is fetching is waited for, not fetched twice;
//! - errors: the runtime's own text (`pullsim_runtime::modelled::status_pull_error`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use pullsim_credentials::AuthConfig;
use pullsim_runtime::modelled::{StatusAnswer, status_pull_error};
use pullsim_runtime::{
    AuthTrace, Image, ImageFsInfo, ImageService, ImageSpec, PodSandboxConfig, PullImageResponse,
    ResolveAttempt, Resolved, RuntimeError,
};

use crate::exec::{SignalRef, Wait, fire};
use crate::plan::ReqKind;
use crate::world::{Answer, NodeImage, WorldRef, sleep, transfer};

/// The runtime of one simulated node.
#[derive(Clone)]
pub(crate) struct ModelRuntime {
    pub world: WorldRef,
    pub node: usize,
}

struct PullCtx {
    image: usize,
    platform: usize,
    hosts: Vec<usize>,
    user: Option<String>,
    authorized: RefCell<HashSet<usize>>,
    spec_image: String,
}

struct Failure {
    host: usize,
    status: u16,
    limit: Option<usize>,
    method: &'static str,
    url: String,
    fetch: bool,
}

const MAX_ATTEMPTS: u32 = 5;

impl ModelRuntime {
    fn plan(&self) -> Rc<crate::plan::Plan> {
        self.world.borrow().plan.clone()
    }

    /// The catalogue image an `ImageSpec` names on this node (reference or image ID).
    fn lookup(&self, spec: &ImageSpec) -> Option<usize> {
        let mut w = self.world.borrow();
        let idx = if spec.image.starts_with("sha256:") {
            w.image_by_id.get(&spec.image).copied()
        } else {
            drop(w);
            let i = self.world.borrow_mut().catalogue_index(&spec.image);
            w = self.world.borrow();
            i
        }?;
        w.nodes[self.node].images.contains_key(&idx).then_some(idx)
    }

    fn platform_of(&self, image: usize) -> Option<usize> {
        let w = self.world.borrow();
        let arch = &w.plan.pools[w.nodes[self.node].pool].arch;
        w.plan.images[image]
            .platforms
            .iter()
            .position(|p| &p.arch == arch)
    }

    fn image_of(&self, image: usize) -> Option<Image> {
        let platform = self.platform_of(image)?;
        let w = self.world.borrow();
        let plan = &w.plan;
        let im = &plan.images[image];
        let p = &im.platforms[platform];
        let rec = w.nodes[self.node].images.get(&image)?;
        let top = im.index.unwrap_or(p.manifest);
        let name = im
            .reference
            .rsplit_once(':')
            .map_or(im.reference.as_str(), |(n, _)| n);
        Some(Image {
            id: plan.blobs[p.config].digest.clone(),
            repo_tags: vec![im.reference.clone()],
            repo_digests: vec![format!("{name}@{}", plan.blobs[top].digest)],
            size: p.size,
            pinned: false,
            platform: Some(format!("linux/{}", p.arch)),
            first_seen_unix_ms: rec.first_seen_ms,
            last_used_unix_ms: rec.last_used_ms,
            preloaded: false,
        })
    }

    fn url(&self, cx: &PullCtx, host: usize, what: &str) -> String {
        let plan = self.plan();
        let im = &plan.images[cx.image];
        let ns = if host == im.registry {
            String::new()
        } else {
            format!("?ns={}", plan.registries[im.registry].host)
        };
        format!("{}/{}/{what}{ns}", plan.registries[host].endpoint, im.repo)
    }

    /// One host's answer to a request, with the auth round trip and containerd's retries.
    async fn attempt(
        &self,
        cx: &PullCtx,
        host: usize,
        kind: ReqKind,
        bytes: u64,
        last_host: bool,
    ) -> Result<(), (u16, Option<usize>)> {
        let latency = self.plan().registries[host].latency;
        let mut tries = 0;
        let mut prev = None;
        loop {
            sleep(&self.world, latency).await;
            let authorized = cx.authorized.borrow().contains(&host);
            let ans = self.world.borrow_mut().answer(
                self.node,
                host,
                kind,
                cx.user.as_deref(),
                authorized,
                bytes,
            );
            tries += 1;
            match ans {
                Answer::Ok => return Ok(()),
                Answer::Unauthorized => {
                    // authorizer.go: the 401's challenge → token request → the same request again.
                    sleep(&self.world, latency).await;
                    let t = self.world.borrow_mut().answer(
                        self.node,
                        host,
                        ReqKind::Token,
                        cx.user.as_deref(),
                        true,
                        0,
                    );
                    match t {
                        Answer::Ok | Answer::Unauthorized => {
                            cx.authorized.borrow_mut().insert(host);
                        }
                        Answer::TooMany(l) => return Err((429, Some(l))),
                        Answer::Status(s) => return Err((s, None)),
                    }
                }
                Answer::TooMany(l) => {
                    if tries >= MAX_ATTEMPTS {
                        return Err((429, Some(l)));
                    }
                }
                Answer::Status(s) => {
                    // resolver.go retryRequest (v2.1+): 500/503/504 once, on the last host.
                    let retry = last_host && prev != Some(s) && matches!(s, 500 | 503 | 504);
                    if !retry {
                        return Err((s, None));
                    }
                    prev = Some(s);
                }
            }
        }
    }

    fn error(&self, cx: &PullCtx, f: Failure) -> RuntimeError {
        let plan = self.plan();
        let reg = &plan.registries[f.host];
        let body = f
            .limit
            .and_then(|l| reg.limits.get(l))
            .map_or(&b""[..], |l| l.body.as_bytes());
        status_pull_error(
            &cx.spec_image,
            &plan.images[cx.image].reference,
            StatusAnswer {
                status: f.status,
                method: f.method,
                url: &f.url,
                body,
                fetch: f.fetch,
            },
            Some(reg.endpoint.clone()),
        )
    }

    async fn resolve(&self, cx: &PullCtx) -> Result<usize, RuntimeError> {
        let tag = self.plan().images[cx.image].tag.clone();
        let mut first: Option<Failure> = None;
        let n = cx.hosts.len();
        for (i, &h) in cx.hosts.iter().enumerate() {
            match self
                .attempt(cx, h, ReqKind::ManifestHead, 0, i + 1 == n)
                .await
            {
                Ok(()) => return Ok(h),
                Err((status, limit)) => {
                    if first.is_none() {
                        first = Some(Failure {
                            host: h,
                            status,
                            limit,
                            method: "HEAD",
                            url: self.url(cx, h, &format!("manifests/{tag}")),
                            fetch: false,
                        });
                    }
                }
            }
        }
        Err(match first {
            Some(f) => self.error(cx, f),
            None => RuntimeError::pull(
                pullsim_runtime::Code::NotFound,
                cx.spec_image.clone(),
                "no resolve hosts: not found",
            ),
        })
    }

    async fn acquire_slot(&self) {
        let wait = {
            let mut w = self.world.borrow_mut();
            let n = &mut w.nodes[self.node];
            if n.dl_free > 0 {
                n.dl_free -= 1;
                None
            } else {
                let s: SignalRef = Rc::default();
                n.dl_waiters.push_back(s.clone());
                Some(s)
            }
        };
        if let Some(s) = wait {
            // The slot is handed over by release_slot.
            Wait(s).await;
        }
    }

    fn release_slot(&self) {
        let mut w = self.world.borrow_mut();
        let n = &mut w.nodes[self.node];
        match n.dl_waiters.pop_front() {
            Some(s) => fire(&s),
            None => n.dl_free += 1,
        }
    }

    /// Fetch one blob unless present; `Ok(true)` when downloaded.
    async fn fetch(&self, cx: &PullCtx, blob: usize, kind: ReqKind) -> Result<bool, RuntimeError> {
        let mine: SignalRef = loop {
            let other = {
                let mut w = self.world.borrow_mut();
                let n = &mut w.nodes[self.node];
                if n.content.contains(&blob) {
                    return Ok(false);
                }
                match n.inflight.get(&blob) {
                    Some(s) => s.clone(),
                    None => {
                        let s: SignalRef = Rc::default();
                        n.inflight.insert(blob, s.clone());
                        break s;
                    }
                }
            };
            Wait(other).await;
        };
        let res = self.fetch_from_hosts(cx, blob, kind).await;
        {
            let mut w = self.world.borrow_mut();
            let size = w.plan.blobs[blob].size;
            let n = &mut w.nodes[self.node];
            n.inflight.remove(&blob);
            if res.is_ok() && n.content.insert(blob) {
                n.used += size;
            }
        }
        fire(&mine);
        res.map(|()| true)
    }

    async fn fetch_from_hosts(
        &self,
        cx: &PullCtx,
        blob: usize,
        kind: ReqKind,
    ) -> Result<(), RuntimeError> {
        let plan = self.plan();
        let b = &plan.blobs[blob];
        let what = match kind {
            ReqKind::BlobGet => format!("blobs/{}", b.digest),
            _ => format!("manifests/{}", b.digest),
        };
        let is_blob = kind == ReqKind::BlobGet;
        if is_blob {
            self.acquire_slot().await;
        }
        let mut first: Option<Failure> = None;
        let n = cx.hosts.len();
        let mut ok = false;
        for (i, &h) in cx.hosts.iter().enumerate() {
            match self.attempt(cx, h, kind, b.size, i + 1 == n).await {
                Ok(()) => {
                    if is_blob {
                        transfer(&self.world, self.node, h, b.size).await;
                    }
                    ok = true;
                    break;
                }
                Err((status, limit)) => {
                    if first.is_none() {
                        first = Some(Failure {
                            host: h,
                            status,
                            limit,
                            method: "GET",
                            url: self.url(cx, h, &what),
                            fetch: true,
                        });
                    }
                }
            }
        }
        if is_blob {
            self.release_slot();
        }
        match (ok, first) {
            (true, _) | (false, None) => Ok(()),
            (false, Some(f)) => Err(self.error(cx, f)),
        }
    }

    fn context(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> Result<PullCtx, RuntimeError> {
        let plan = self.plan();
        let not_found = |why: &str| {
            RuntimeError::pull(
                pullsim_runtime::Code::NotFound,
                image.image.clone(),
                format!("failed to pull and unpack image {:?}: {why}", image.image),
            )
        };
        let idx = self
            .world
            .borrow_mut()
            .catalogue_index(&image.image)
            .ok_or_else(|| not_found("not in the scenario's images"))?;
        let platform = self
            .platform_of(idx)
            .ok_or_else(|| not_found("no match for platform"))?;
        let registry = plan.images[idx].registry;
        let pool = self.world.borrow().nodes[self.node].pool;
        let hosts = plan.pools[pool]
            .mirrors
            .get(&registry)
            .cloned()
            .unwrap_or_else(|| vec![registry]);
        let user = auth.map(|a| a.username.clone()).filter(|u| !u.is_empty());
        Ok(PullCtx {
            image: idx,
            platform,
            hosts,
            user,
            authorized: RefCell::new(HashSet::new()),
            spec_image: image.image.clone(),
        })
    }

    async fn pull(&self, cx: &PullCtx) -> Result<PullImageResponse, RuntimeError> {
        let host = self.resolve(cx).await?;
        let plan = self.plan();
        let im = &plan.images[cx.image];
        let p = &im.platforms[cx.platform];
        let mut downloaded = 0u64;
        let mut skipped = 0usize;
        if let Some(index) = im.index {
            match self.fetch(cx, index, ReqKind::IndexGet).await? {
                true => downloaded += plan.blobs[index].size,
                false => skipped += 1,
            }
        }
        match self.fetch(cx, p.manifest, ReqKind::ManifestGet).await? {
            true => downloaded += plan.blobs[p.manifest].size,
            false => skipped += 1,
        }
        let children: Vec<usize> = std::iter::once(p.config)
            .chain(p.layers.iter().copied())
            .collect();
        let results = join_all(
            children
                .iter()
                .map(|&b| self.fetch(cx, b, ReqKind::BlobGet)),
        )
        .await;
        for (b, r) in children.iter().zip(results) {
            match r? {
                true => downloaded += plan.blobs[*b].size,
                false => skipped += 1,
            }
        }
        let mut w = self.world.borrow_mut();
        let now = w.now_ms();
        w.nodes[self.node]
            .images
            .entry(cx.image)
            .or_insert(NodeImage {
                first_seen_ms: now,
                last_used_ms: 0,
            });
        Ok(PullImageResponse {
            image_ref: plan.blobs[p.config].digest.clone(),
            bytes_downloaded: downloaded,
            blobs_skipped: skipped,
            host: Some(plan.registries[host].endpoint.clone()),
        })
    }

    /// Put an image on the node without a pull (preloaded).
    pub(crate) fn preload(&self, image: usize) {
        let Some(platform) = self.platform_of(image) else {
            return;
        };
        let mut w = self.world.borrow_mut();
        let plan = w.plan.clone();
        let im = &plan.images[image];
        let p = &im.platforms[platform];
        let n = &mut w.nodes[self.node];
        for b in im
            .index
            .iter()
            .chain([&p.manifest, &p.config])
            .chain(p.layers.iter())
        {
            if n.content.insert(*b) {
                n.used += plan.blobs[*b].size;
            }
        }
        n.images.insert(
            image,
            NodeImage {
                first_seen_ms: 0,
                last_used_ms: 0,
            },
        );
    }
}

/// Poll futures together until all are done (no spawning: they share the pull's borrows).
async fn join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

impl ImageService for ModelRuntime {
    async fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        _sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullImageResponse, RuntimeError> {
        let cx = self.context(image, auth)?;
        let r = self.pull(&cx).await;
        self.world.borrow_mut().node_changed(self.node);
        r
    }

    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        Ok(self.lookup(image).and_then(|i| self.image_of(i)))
    }

    fn image_ref(&self, image: &ImageSpec) -> Result<Option<String>, RuntimeError> {
        let Some(idx) = self.lookup(image) else {
            return Ok(None);
        };
        let Some(p) = self.platform_of(idx) else {
            return Ok(None);
        };
        let w = self.world.borrow();
        let config = w.plan.images[idx].platforms[p].config;
        Ok(Some(w.plan.blobs[config].digest.clone()))
    }

    fn list_images(&self, filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError> {
        let ids: Vec<usize> = match filter {
            Some(f) => self.lookup(f).into_iter().collect(),
            None => self.world.borrow().nodes[self.node]
                .images
                .keys()
                .copied()
                .collect(),
        };
        Ok(ids.into_iter().filter_map(|i| self.image_of(i)).collect())
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<(), RuntimeError> {
        let Some(idx) = self.lookup(image) else {
            return Ok(());
        };
        let mut w = self.world.borrow_mut();
        let plan = w.plan.clone();
        let arch = plan.pools[w.nodes[self.node].pool].arch.clone();
        let blobs_of = |i: usize| -> Vec<usize> {
            let im = &plan.images[i];
            im.platforms
                .iter()
                .filter(|p| p.arch == arch)
                .flat_map(|p| {
                    im.index
                        .into_iter()
                        .chain([p.manifest, p.config])
                        .chain(p.layers.iter().copied())
                })
                .collect()
        };
        w.node_changed(self.node);
        let n = &mut w.nodes[self.node];
        n.images.remove(&idx);
        let keep: HashSet<usize> = n.images.keys().flat_map(|i| blobs_of(*i)).collect();
        for b in blobs_of(idx) {
            if !keep.contains(&b) && !n.inflight.contains_key(&b) && n.content.remove(&b) {
                n.used -= plan.blobs[b].size;
            }
        }
        Ok(())
    }

    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError> {
        let w = self.world.borrow();
        let n = &w.nodes[self.node];
        Ok(ImageFsInfo {
            used_bytes: n.used,
            inodes_used: n.content.len() as u64,
        })
    }

    async fn mark_used(&self, image_id: &str, at_unix_ms: u64) -> Result<(), RuntimeError> {
        let mut w = self.world.borrow_mut();
        if let Some(idx) = w.image_by_id.get(image_id).copied()
            && let Some(rec) = w.nodes[self.node].images.get_mut(&idx)
        {
            rec.last_used_ms = at_unix_ms;
        }
        Ok(())
    }

    async fn resolve_image(&self, image: &ImageSpec, auth: Option<&AuthConfig>) -> ResolveAttempt {
        let result = match self.context(image, auth) {
            Err(e) => Err(e),
            Ok(cx) => match self.resolve(&cx).await {
                Err(e) => Err(e),
                Ok(_) => {
                    let plan = self.plan();
                    let im = &plan.images[cx.image];
                    let (top, media_type) = match im.index {
                        Some(i) => (i, "application/vnd.oci.image.index.v1+json"),
                        None => (
                            im.platforms[cx.platform].manifest,
                            "application/vnd.oci.image.manifest.v1+json",
                        ),
                    };
                    Ok(Resolved {
                        digest: plan.blobs[top].digest.clone(),
                        media_type: media_type.to_string(),
                        size: plan.blobs[top].size,
                    })
                }
            },
        };
        ResolveAttempt {
            result,
            trace: AuthTrace::default(),
        }
    }
}
