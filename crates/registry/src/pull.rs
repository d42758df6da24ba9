//! The pull: resolve, pick the platform, fetch config and layers in parallel (bounded), store
//! the manifests last and record the image.

use futures_util::StreamExt as _;
use oci_spec::image::{ImageIndex, ImageManifest};

use pullsim_reference::{Digest, Reference};
use pullsim_store::{ImageRecord, Origin, Store};

use crate::auth::Session;
use crate::error::RegistryError;
use crate::fetch::{BlobSpec, fetch_blob};
use crate::platform::{Platform, choose};
use crate::progress::Progress;
use crate::resolve::{Resolved, get_manifest, is_index_type, resolve, sniff_media_type};

/// The result of a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pulled {
    /// Digest of the top-level manifest (the index when pulled through one).
    pub manifest_digest: Digest,
    /// Media type of the top-level manifest.
    pub media_type: String,
    /// Digest of the platform manifest (equal to `manifest_digest` without an index).
    pub platform_manifest: Digest,
    /// The image config digest: the image ID.
    pub config_digest: Digest,
    /// The platform pulled (`os/arch[/variant]`), when known.
    pub platform: Option<String>,
    /// Total size of the image's blobs (manifests, config, layers).
    pub size: u64,
    /// Bytes received from the network for blobs.
    pub bytes_downloaded: u64,
    /// Blobs found already in the store.
    pub blobs_skipped: usize,
    /// Number of layers.
    pub layers: usize,
}

fn parse_err(
    reference: &str,
    what: &str,
    digest: &Digest,
    e: impl std::fmt::Display,
) -> RegistryError {
    RegistryError::Protocol {
        reference: reference.to_string(),
        status: None,
        message: format!("invalid {what} {digest} for {reference}: {e}"),
    }
}

/// A manifest's bytes: from the store when present, else fetched by digest and verified.
async fn manifest_bytes(
    session: &Session<'_>,
    reference: &Reference,
    store: &Store,
    digest: &Digest,
) -> Result<(Vec<u8>, bool), RegistryError> {
    if store.has_blob(digest)
        && let Ok(b) = store.read_blob(digest)
    {
        return Ok((b, true));
    }
    let path = format!("/v2/{}/manifests/{}", reference.path(), digest);
    let (_, body) = get_manifest(session, reference, &path, Some(digest)).await?;
    Ok((body, false))
}

fn platform_of(p: &oci_spec::image::Platform) -> Platform {
    Platform::new(
        &p.os().to_string(),
        &p.architecture().to_string(),
        p.variant().as_deref(),
    )
}

/// Platform named by an image config (`os`, `architecture`, `variant`).
fn config_platform(config: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct C {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        variant: Option<String>,
    }
    let c: C = serde_json::from_slice(config).ok()?;
    if c.os.is_empty() || c.architecture.is_empty() {
        return None;
    }
    Some(Platform::new(&c.os, &c.architecture, c.variant.as_deref()).to_string())
}

pub(crate) async fn pull(
    session: &Session<'_>,
    reference: &Reference,
    written_as: &str,
    store: &Store,
    progress: &dyn Progress,
) -> Result<Pulled, RegistryError> {
    let inner = session.inner;
    let rs = session.reference.clone();
    let top: Resolved = resolve(session, reference).await?;
    let (top_bytes, _) = manifest_bytes(session, reference, store, &top.digest).await?;
    let top_type = if top.media_type.is_empty() || top.media_type == "application/json" {
        sniff_media_type(&top_bytes)
    } else {
        top.media_type.clone()
    };
    let mut manifests: Vec<(Digest, Vec<u8>)> = vec![(top.digest.clone(), top_bytes.clone())];
    let mut platform: Option<String> = None;
    let (manifest_digest, manifest_bytes_) = if is_index_type(&top_type) {
        let index: ImageIndex = serde_json::from_slice(&top_bytes)
            .map_err(|e| parse_err(&rs, "index", &top.digest, e))?;
        let wanted = inner.opts.platform.clone().unwrap_or_else(Platform::host);
        let candidates: Vec<Option<Platform>> = index
            .manifests()
            .iter()
            .map(|m| m.platform().as_ref().map(platform_of))
            .collect();
        let Some(i) = choose(&wanted, &candidates) else {
            return Err(RegistryError::NoMatchingPlatform {
                reference: rs,
                index: top.digest.clone(),
                wanted: wanted.to_string(),
                available: candidates.iter().flatten().map(|p| p.to_string()).collect(),
            });
        };
        let chosen = &index.manifests()[i];
        platform = candidates[i].as_ref().map(|p| p.normalize().to_string());
        let child = Digest::parse(chosen.digest().as_ref())
            .map_err(|e| parse_err(&rs, "index entry digest in", &top.digest, e))?;
        let (bytes, _) = manifest_bytes(session, reference, store, &child).await?;
        manifests.push((child.clone(), bytes.clone()));
        (child, bytes)
    } else {
        (top.digest.clone(), top_bytes.clone())
    };
    let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes_)
        .map_err(|e| parse_err(&rs, "manifest", &manifest_digest, e))?;
    let config_digest = Digest::parse(manifest.config().digest().as_ref())
        .map_err(|e| parse_err(&rs, "config digest in manifest", &manifest_digest, e))?;
    let mut blobs = vec![BlobSpec {
        digest: config_digest.clone(),
        size: manifest.config().size(),
    }];
    for l in manifest.layers() {
        let d = Digest::parse(l.digest().as_ref())
            .map_err(|e| parse_err(&rs, "layer digest in manifest", &manifest_digest, e))?;
        blobs.push(BlobSpec {
            digest: d,
            size: l.size(),
        });
    }
    let n = inner.opts.max_concurrent_layers.max(1);
    let results: Vec<Result<crate::fetch::BlobOutcome, RegistryError>> =
        futures_util::stream::iter(blobs.iter().map(|b| async move {
            let lock = inner.inflight.lock_for(&b.digest);
            let guard = lock.lock().await;
            let r = fetch_blob(session, store, b, progress).await;
            drop(guard);
            drop(lock);
            inner.inflight.release(&b.digest);
            r
        }))
        .buffer_unordered(n)
        .collect()
        .await;
    let mut downloaded = 0;
    let mut skipped = 0;
    for r in results {
        let o = r?;
        downloaded += o.downloaded;
        if o.skipped {
            skipped += 1;
        }
    }
    // All blobs are committed: now the manifests, child first.
    for (d, bytes) in manifests.iter().rev() {
        store.put_blob(d, bytes)?;
    }
    if platform.is_none()
        && let Ok(cfg) = store.read_blob(&config_digest)
    {
        platform = config_platform(&cfg);
    }
    let mut all: Vec<Digest> = manifests.iter().map(|(d, _)| d.clone()).collect();
    let mut size: u64 = manifests.iter().map(|(_, b)| b.len() as u64).sum();
    for b in &blobs {
        if !all.contains(&b.digest) {
            all.push(b.digest.clone());
            size += b.size;
        }
    }
    let now = pullsim_store::now_ms();
    let rec = ImageRecord {
        name: reference.name(),
        tag: if reference.digest().is_some() {
            None
        } else {
            reference.tag().map(str::to_string)
        },
        digest: reference.digest().cloned(),
        written_as: written_as.to_string(),
        manifest_digest: top.digest.clone(),
        media_type: top_type.clone(),
        config_digest: config_digest.clone(),
        platform: platform.clone(),
        size,
        blobs: all,
        first_seen_ms: now,
        last_used_ms: now,
        pinned: false,
        labels: Default::default(),
        origin: Origin::Pulled,
    };
    // Re-pulling an unchanged image (policy Always, image present) writes nothing.
    let unchanged = store.lookup(reference)?.is_some_and(|old| {
        old.manifest_digest == rec.manifest_digest
            && old.config_digest == rec.config_digest
            && old.written_as == rec.written_as
            && old.blobs == rec.blobs
    });
    if !unchanged {
        store.record_image(&rec)?;
    }
    Ok(Pulled {
        manifest_digest: top.digest,
        media_type: top_type,
        platform_manifest: manifest_digest,
        config_digest,
        platform,
        size,
        bytes_downloaded: downloaded,
        blobs_skipped: skipped,
        layers: manifest.layers().len(),
    })
}
