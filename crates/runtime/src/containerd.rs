//! containerd's CRI image service over the registry client and the content store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{Client, ClientOptions, NoProgress, Progress, PullOutcome, Pulled};
use pullsim_store::{ImageRecord, Origin, Store, StoreError, StoreOptions};

use crate::config::{RuntimeConfig, RuntimeKind};
use crate::content::StoreSink;
use crate::cri::{
    AuthTrace, Image, ImageFsInfo, ImageSpec, PodSandboxConfig, PullImageResponse, ResolveAttempt,
};
use crate::error::{Code, RuntimeError};
use crate::remote::Remote;
use crate::routing::Routing;
use crate::service::ImageService;
use crate::unpack::{UnpackCounts, UnpackError, UnpackStats, Wording};

/// What [`ContainerdImageService::prune_content`] deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneOutcome {
    /// Blobs deleted (no image uses them).
    pub blobs_deleted: Vec<Digest>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Unused blobs kept because they are younger than the grace period (a pull in progress
    /// commits its blobs before it records the image).
    pub kept_young: usize,
}

/// containerd's image service: lookups in the content store, pulls through the registry client.
pub struct ContainerdImageService {
    store: Arc<Store>,
    remote: Remote,
    offline: bool,
    progress: Arc<dyn Progress + Send + Sync>,
    needed_network: Mutex<BTreeSet<String>>,
    /// Unpack on: the check after each pull, worded as this containerd words it, and the OS
    /// 2.x's transfer service unpacks for (`None` for 1.7: every image is checked).
    unpack: Option<(Wording, Option<String>, Arc<UnpackStats>)>,
}

impl std::fmt::Debug for ContainerdImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerdImageService")
            .field("root", &self.store.root())
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

fn store_error(desc: String, e: StoreError) -> RuntimeError {
    RuntimeError::Store {
        code: Code::Unknown,
        desc: format!("{desc}: {e}"),
        source: e,
    }
}

impl ContainerdImageService {
    /// Open the content store and build the registry client.
    pub fn new(cfg: RuntimeConfig) -> Result<Self, RuntimeError> {
        let opts = StoreOptions {
            on_wait: cfg.on_store_wait.clone(),
            ..StoreOptions::default()
        };
        let store = Store::open_with(&cfg.root, opts).map_err(|e| RuntimeError::Config {
            message: format!("opening the store at {}: {e}", cfg.root.display()),
        })?;
        Self::with_store(Arc::new(store), &cfg)
    }

    /// Over an already open store.
    pub fn with_store(store: Arc<Store>, cfg: &RuntimeConfig) -> Result<Self, RuntimeError> {
        let mut o = ClientOptions::default();
        o.insecure_registries = cfg.insecure_registries.clone();
        o.ca_files = cfg.ca_files.clone();
        o.platform = cfg.platform.clone();
        o.offline = cfg.offline;
        o.max_concurrent_layers = cfg.max_concurrent_downloads.max(1);
        o.image_pull_progress_timeout = cfg.image_pull_progress_timeout;
        // containerd 2.x: one download limiter for the node; 1.7: one per pull.
        o.shared_download_limit = cfg.kind == RuntimeKind::Containerd;
        if let Some(conf) = &cfg.registries_conf {
            o.insecure_registries
                .extend(crate::crio::insecure_hosts(conf));
        }
        let client = Client::new(o).map_err(|e| RuntimeError::Config {
            message: format!("creating the registry client: {e}"),
        })?;
        let remote = Remote::new(client, Routing::new(cfg), cfg.image_pull_progress_timeout);
        Ok(ContainerdImageService {
            store,
            remote,
            offline: cfg.offline,
            progress: Arc::new(NoProgress),
            needed_network: Mutex::new(BTreeSet::new()),
            unpack: cfg.unpack.then(|| {
                let os = cfg
                    .platform
                    .clone()
                    .unwrap_or_else(pullsim_registry::Platform::host)
                    .normalize()
                    .os;
                let (wording, os) = match cfg.kind {
                    RuntimeKind::Containerd17 => (Wording::V1_7, None),
                    _ => (Wording::V2, Some(os)),
                };
                (wording, os, Arc::new(UnpackStats::default()))
            }),
        })
    }

    /// Report download progress to `p` (progress bars).
    pub fn with_progress(mut self, p: Arc<dyn Progress + Send + Sync>) -> Self {
        self.progress = p;
        self
    }

    /// The content store (for `pullsim images`, which is the runtime's own CLI, as `ctr`).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Hints drawn from the runtime's configuration on the pulls so far (`image`, hint), each
    /// once (`containerd-config-path-ignored`, …).
    pub fn hints(&self) -> Vec<(String, crate::cri::RuntimeHint)> {
        self.remote.hints()
    }

    /// What the runtime logged so far, in its own log format (containerd's logrus text: the
    /// transfer-service fallback at start, `failed to decode hosts.toml`, `cancel pulling image
    /// … because of no progress in …`).
    pub fn runtime_log(&self) -> Vec<String> {
        self.remote.log()
    }

    /// How many layers the unpack check decompressed (while downloading, or from the store)
    /// or found recorded; `None` with unpack off.
    pub fn unpack_counts(&self) -> Option<UnpackCounts> {
        self.unpack.as_ref().map(|(_, _, s)| s.counts())
    }

    /// Offline runs: the images whose pull or resolve needed the network.
    pub fn needed_network(&self) -> Vec<String> {
        self.needed_network
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// containerd's content garbage collection: delete every blob no image uses, except those
    /// younger than `grace`. Runs on the calling thread (it walks the blob directory).
    pub fn prune_content(&self, grace: Duration) -> Result<PruneOutcome, RuntimeError> {
        let gc = self
            .store
            .delete_unreferenced_blobs(grace)
            .map_err(|e| store_error("failed to garbage collect content".into(), e))?;
        Ok(PruneOutcome {
            blobs_deleted: gc.blobs_deleted,
            bytes_freed: gc.bytes_freed,
            kept_young: gc.kept_young,
        })
    }

    fn note_network(&self, image: &str) {
        if self.offline
            && let Ok(mut g) = self.needed_network.lock()
        {
            g.insert(image.to_string());
        }
    }

    fn parse(image: &str) -> Result<Reference, RuntimeError> {
        Reference::parse_normalized(image).map_err(|e| RuntimeError::Invalid {
            code: Code::Unknown,
            desc: format!(
                "failed to parse image reference {image:?}: {}",
                e.upstream()
            ),
        })
    }

    /// Every record (name) an image spec names: a reference, or an image ID (all its names).
    fn records_for(&self, spec: &ImageSpec) -> Result<Vec<ImageRecord>, RuntimeError> {
        if let Ok(r) = Reference::parse_normalized(&spec.image) {
            let rec = self
                .store
                .lookup(&r)
                .map_err(|e| store_error(format!("failed to get image {:?}", spec.image), e))?;
            if let Some(rec) = rec {
                return Ok(vec![rec]);
            }
        }
        if spec.image.starts_with("sha256:") {
            return self
                .store
                .records_by_id(&spec.image)
                .map_err(|e| store_error(format!("failed to get image {:?}", spec.image), e));
        }
        Ok(Vec::new())
    }
}

/// The image record of a pull of `reference` (with its default tag), named `written_as` (the
/// image as the pod spec wrote it): every blob once, manifests first.
fn image_record(reference: &Reference, written_as: &str, p: &Pulled, now_ms: u64) -> ImageRecord {
    ImageRecord {
        name: reference.name(),
        tag: if reference.digest().is_some() {
            None
        } else {
            reference.tag().map(str::to_string)
        },
        digest: reference.digest().cloned(),
        written_as: written_as.to_string(),
        manifest_digest: p.manifest_digest.clone(),
        media_type: p.media_type.clone(),
        config_digest: p.config_digest.clone(),
        platform: p.platform.clone(),
        size: p.size,
        blobs: p.blobs.iter().map(|b| b.digest.clone()).collect(),
        first_seen_ms: now_ms,
        last_used_ms: now_ms,
        pinned: false,
        labels: Default::default(),
        origin: Origin::Pulled,
    }
}

/// Record a pulled image. Re-pulling an unchanged image (policy Always, image present) writes
/// nothing. Blocking: run off the async threads.
fn record_pulled(
    store: &Store,
    reference: &Reference,
    rec: &ImageRecord,
) -> Result<(), StoreError> {
    let unchanged = store.lookup(reference)?.is_some_and(|old| {
        old.manifest_digest == rec.manifest_digest
            && old.config_digest == rec.config_digest
            && old.written_as == rec.written_as
            && old.blobs == rec.blobs
    });
    if !unchanged {
        store.record_image(rec)?;
    }
    Ok(())
}

impl ContainerdImageService {
    /// The unpack check of a pulled image (unpack on), off the async threads. On failure the
    /// image is not recorded; its blobs stay in the store.
    async fn check_unpack(
        &self,
        image: &str,
        cri_ref: &str,
        host: &str,
        manifest: &Digest,
        config: &Digest,
    ) -> Result<(), RuntimeError> {
        let Some((wording, os, stats)) = self.unpack.clone() else {
            return Ok(());
        };
        let store = self.store.clone();
        let (manifest, config) = (manifest.clone(), config.clone());
        tokio::task::spawn_blocking(move || {
            crate::unpack::verify_image(&store, &manifest, &config, wording, os.as_deref(), &stats)
        })
        .await
        .map_err(|e| RuntimeError::Invalid {
            code: Code::Internal,
            desc: format!("unpacking image {image:?}: {e}"),
        })?
        .map(|_| ())
        .map_err(|e| unpack_error(image, cri_ref, e, Some(host.to_string())))
    }
}

/// An unpack failure as containerd's CRI `PullImage` returns it: the unpacker's error, unwrapped
/// by the pull (`core/transfer/local/pull.go@v2.3.4`, `client/pull.go` return it as is), under
/// `failed to pull and unpack image "REF": ` (`internal/cri/server/images/image_pull.go`), with
/// `errdefs.ToGRPC`'s code for an error without a class: `Unknown`.
fn unpack_error(
    image: &str,
    reference: &str,
    e: UnpackError,
    host: Option<String>,
) -> RuntimeError {
    RuntimeError::Pull {
        code: Code::Unknown,
        image: image.to_string(),
        desc: format!("failed to pull and unpack image {reference:?}: {e}"),
        cause: None,
        host,
    }
}

/// The CRI image of one record (one name).
fn image_of(rec: ImageRecord) -> Image {
    let mut img = Image {
        id: rec.id(),
        size: rec.size,
        pinned: rec.pinned,
        first_seen_unix_ms: rec.first_seen_ms,
        last_used_unix_ms: rec.last_used_ms,
        preloaded: rec.origin == Origin::Preloaded,
        ..Image::default()
    };
    add_names(&mut img, &rec);
    img.platform = rec.platform;
    img
}

/// A record's names: `repo:tag` and `repo@manifest`, or `repo@digest` when named by digest.
fn add_names(img: &mut Image, rec: &ImageRecord) {
    match (&rec.digest, &rec.tag) {
        (Some(d), _) => img.repo_digests.push(format!("{}@{d}", rec.name)),
        (None, Some(t)) => {
            img.repo_tags.push(format!("{}:{t}", rec.name));
            img.repo_digests
                .push(format!("{}@{}", rec.name, rec.manifest_digest));
        }
        (None, None) => img
            .repo_digests
            .push(format!("{}@{}", rec.name, rec.manifest_digest)),
    }
}

/// Group records by image ID into CRI images.
fn to_images(records: Vec<ImageRecord>) -> Vec<Image> {
    let mut by_id: BTreeMap<String, Image> = BTreeMap::new();
    for rec in records {
        let img = by_id.entry(rec.id()).or_insert_with(|| Image {
            id: rec.id(),
            size: rec.size,
            platform: rec.platform.clone(),
            first_seen_unix_ms: rec.first_seen_ms,
            preloaded: rec.origin == Origin::Preloaded,
            ..Image::default()
        });
        add_names(img, &rec);
        img.pinned |= rec.pinned;
        img.size = img.size.max(rec.size);
        img.first_seen_unix_ms = img.first_seen_unix_ms.min(rec.first_seen_ms);
        img.last_used_unix_ms = img.last_used_unix_ms.max(rec.last_used_ms);
        img.preloaded &= rec.origin == Origin::Preloaded;
    }
    by_id
        .into_values()
        .map(|mut i| {
            i.repo_tags.sort();
            i.repo_tags.dedup();
            i.repo_digests.sort();
            i.repo_digests.dedup();
            i
        })
        .collect()
}

impl ImageService for ContainerdImageService {
    async fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        _sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullImageResponse, RuntimeError> {
        let r = Self::parse(&image.image)?.with_default_tag();
        self.note_network(&image.image);
        let cri_ref = r.to_string();
        // An image recorded under this name, as written, with all its content: when the
        // reference still resolves to its manifest, the pull is that one resolution.
        let current = self.store.lookup(&r).ok().flatten().filter(|rec| {
            rec.written_as == image.image && rec.blobs.iter().all(|b| self.store.has_blob(b))
        });
        let sink = Arc::new(match &self.unpack {
            Some((_, _, stats)) => StoreSink::unpacking(self.store.clone(), stats.clone()),
            None => StoreSink::new(self.store.clone()),
        });
        let served = self
            .remote
            .pull(
                &image.image,
                &r,
                auth,
                sink,
                self.progress.as_ref(),
                current.as_ref().map(|rec| &rec.manifest_digest),
            )
            .await?;
        let served_by = served.host;
        let outcome = served.outcome;
        let p = match (outcome, current) {
            (PullOutcome::Pulled(p), _) => p,
            (PullOutcome::Current(_), Some(rec)) => {
                // Present, maybe fetched without unpack: checked too (from the records, for an
                // image unpacked before), as containerd's unpacker runs on every CRI pull.
                let config_at = rec.blobs.iter().position(|b| *b == rec.config_digest);
                let manifest = config_at
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| rec.blobs.get(i))
                    .unwrap_or(&rec.manifest_digest);
                self.check_unpack(
                    &image.image,
                    &cri_ref,
                    &served_by,
                    manifest,
                    &rec.config_digest,
                )
                .await?;
                return Ok(PullImageResponse {
                    image_ref: rec.id(),
                    bytes_downloaded: 0,
                    // The config and layers (the blobs a pull fetches), manifests aside.
                    blobs_skipped: rec.blobs.len()
                        - rec
                            .blobs
                            .iter()
                            .position(|b| *b == rec.config_digest)
                            .unwrap_or(0),
                    host: Some(served_by),
                });
            }
            (PullOutcome::Current(top), None) => {
                return Err(RuntimeError::Pull {
                    code: Code::Internal,
                    image: image.image.clone(),
                    desc: format!("{cri_ref} resolved to {} without a pull", top.digest),
                    cause: None,
                    host: None,
                });
            }
            (other, _) => {
                return Err(RuntimeError::Pull {
                    code: Code::Internal,
                    image: image.image.clone(),
                    desc: format!("{cri_ref}: unexpected pull outcome {other:?}"),
                    cause: None,
                    host: None,
                });
            }
        };
        self.check_unpack(
            &image.image,
            &cri_ref,
            &served_by,
            &p.platform_manifest,
            &p.config_digest,
        )
        .await?;
        let rec = image_record(&r, &image.image, &p, pullsim_store::now_ms());
        let store = self.store.clone();
        let host = served_by;
        // The index write (and its fsyncs) off the async threads.
        tokio::task::spawn_blocking(move || record_pulled(&store, &r, &rec))
            .await
            .map_err(|e| RuntimeError::Invalid {
                code: Code::Internal,
                desc: format!("recording image {:?}: {e}", image.image),
            })?
            .map_err(|e| {
                store_error(
                    format!("failed to pull and unpack image {cri_ref:?}: store"),
                    e,
                )
            })?;
        Ok(PullImageResponse {
            image_ref: p.config_digest.to_string(),
            bytes_downloaded: p.bytes_downloaded,
            blobs_skipped: p.blobs_skipped,
            host: Some(host),
        })
    }

    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        // The kubelet's cache-hit path (GetImageRef): one name, one record, no grouping.
        let mut recs = self.records_for(image)?;
        if recs.len() == 1
            && let Some(rec) = recs.pop()
        {
            return Ok(Some(image_of(rec)));
        }
        Ok(to_images(recs).into_iter().next())
    }

    fn image_ref(&self, image: &ImageSpec) -> Result<Option<String>, RuntimeError> {
        if let Ok(r) = Reference::parse_normalized(&image.image)
            && let Some(rec) = self
                .store
                .lookup(&r)
                .map_err(|e| store_error(format!("failed to get image {:?}", image.image), e))?
        {
            return Ok(Some(rec.id()));
        }
        Ok(self.records_for(image)?.first().map(ImageRecord::id))
    }

    fn list_images(&self, filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError> {
        let recs = match filter {
            Some(f) => self.records_for(f)?,
            None => self
                .store
                .list()
                .map_err(|e| store_error("failed to list images".into(), e))?,
        };
        Ok(to_images(recs))
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<(), RuntimeError> {
        let store = self.store.clone();
        let spec = image.clone();
        // All names of the image go (CRI RemoveImage removes the image, not one tag).
        let id = match self.records_for(&spec)?.first() {
            Some(r) => r.id(),
            None => return Ok(()),
        };
        tokio::task::spawn_blocking(move || {
            let keys: Vec<String> = store
                .records_by_id(&id)?
                .iter()
                .map(ImageRecord::key)
                .collect();
            store.remove_images(&keys).map(|_| ())
        })
        .await
        .map_err(|e| RuntimeError::Invalid {
            code: Code::Internal,
            desc: format!("removing image {:?}: {e}", spec.image),
        })?
        .map_err(|e| store_error(format!("failed to remove image {:?}", spec.image), e))
    }

    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError> {
        let du = self
            .store
            .disk_usage()
            .map_err(|e| store_error("failed to get image filesystem info".into(), e))?;
        Ok(ImageFsInfo {
            used_bytes: du.blob_bytes + du.ingest_bytes,
            inodes_used: du.blobs,
        })
    }

    async fn mark_used(&self, image_id: &str, at_unix_ms: u64) -> Result<(), RuntimeError> {
        let store = self.store.clone();
        let id = image_id.to_string();
        // Every name of the image in one index transaction (a store may hold thousands).
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            store.touch_id(&id, at_unix_ms).map(|_| ())
        })
        .await
        .map_err(|e| RuntimeError::Invalid {
            code: Code::Internal,
            desc: format!("marking image {image_id} used: {e}"),
        })?
        .map_err(|e| store_error(format!("failed to update image {image_id}"), e))
    }

    async fn resolve_image(&self, image: &ImageSpec, auth: Option<&AuthConfig>) -> ResolveAttempt {
        let r = match Self::parse(&image.image) {
            Ok(r) => r,
            Err(e) => {
                return ResolveAttempt {
                    result: Err(e),
                    trace: AuthTrace::default(),
                };
            }
        };
        self.note_network(&image.image);
        self.remote.resolve(&image.image, &r, auth).await
    }

    fn pull_route(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> Result<crate::cri::PullRoute, RuntimeError> {
        let r = Self::parse(&image.image)?.with_default_tag();
        self.remote.route(&r, auth)
    }
}
