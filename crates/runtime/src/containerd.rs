//! containerd's CRI image service over the registry client and the content store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use pullsim_credentials::AuthConfig;
use pullsim_reference::Reference;
use pullsim_registry::{Client, ClientOptions, NoProgress, Progress, RegistryError};
use pullsim_store::{ImageRecord, Origin, Store, StoreError, StoreOptions};

use crate::config::RuntimeConfig;
use crate::cri::{
    AuthTrace, Image, ImageFsInfo, ImageSpec, PodSandboxConfig, PullImageResponse, ResolveAttempt,
    Resolved,
};
use crate::error::{Code, RuntimeError};
use crate::service::ImageService;

/// containerd's image service: lookups in the content store, pulls through the registry client.
pub struct ContainerdImageService {
    store: Arc<Store>,
    client: Client,
    offline: bool,
    progress: Arc<dyn Progress + Send + Sync>,
    needed_network: Mutex<BTreeSet<String>>,
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
        o.progress_timeout = cfg.progress_timeout;
        let client = Client::new(o).map_err(|e| RuntimeError::Config {
            message: format!("creating the registry client: {e}"),
        })?;
        Ok(ContainerdImageService {
            store,
            client,
            offline: cfg.offline,
            progress: Arc::new(NoProgress),
            needed_network: Mutex::new(BTreeSet::new()),
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

    /// Offline runs: the images whose pull or resolve needed the network.
    pub fn needed_network(&self) -> Vec<String> {
        self.needed_network
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
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

/// The gRPC code containerd's CRI plugin attaches (`errdefs.ToGRPC`).
fn grpc_code(e: &RegistryError) -> Code {
    match e {
        RegistryError::NotFound { .. } | RegistryError::NoMatchingPlatform { .. } => Code::NotFound,
        _ => Code::Unknown,
    }
}

/// A registry failure as containerd's CRI `PullImage` returns it
/// (`internal/cri/server/images/image_pull.go`): `failed to pull and unpack image "REF": ERR`.
fn pull_error(image: &str, reference: &str, e: RegistryError) -> RuntimeError {
    RuntimeError::Pull {
        code: grpc_code(&e),
        image: image.to_string(),
        desc: format!("failed to pull and unpack image {reference:?}: {e}"),
        cause: Some(Box::new(e)),
    }
}

impl ImageService for ContainerdImageService {
    async fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        _sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullImageResponse, RuntimeError> {
        let r = Self::parse(&image.image)?;
        self.note_network(&image.image);
        let cri_ref = r.with_default_tag().to_string();
        match self
            .client
            .pull_as(&r, &image.image, auth, &self.store, self.progress.as_ref())
            .await
        {
            Ok(p) => Ok(PullImageResponse {
                image_ref: p.config_digest.to_string(),
                bytes_downloaded: p.bytes_downloaded,
                blobs_skipped: p.blobs_skipped,
                host: Some(r.domain().to_string()),
            }),
            Err(e) => Err(pull_error(&image.image, &cri_ref, e)),
        }
    }

    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        let recs = self.records_for(image)?;
        Ok(to_images(recs).into_iter().next())
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
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            for rec in store.records_by_id(&id)? {
                if let Ok(r) = Reference::parse_normalized(&rec.key()) {
                    store.touch(&r, at_unix_ms)?;
                }
            }
            Ok(())
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
        let cri_ref = r.with_default_tag().to_string();
        let rep = self.client.resolve_traced(&r, auth).await;
        let trace = AuthTrace {
            scheme: rep.trace.scheme.clone(),
            token_obtained: rep.trace.token_obtained,
            status: rep.trace.status,
        };
        ResolveAttempt {
            result: rep
                .result
                .map(|res| Resolved {
                    digest: res.digest.to_string(),
                    media_type: res.media_type,
                    size: res.size,
                })
                .map_err(|e| pull_error(&image.image, &cri_ref, e)),
            trace,
        }
    }
}
