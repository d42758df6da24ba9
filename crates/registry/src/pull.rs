//! The pull: resolve, pick the platform, fetch config and layers in parallel (bounded), put
//! the manifests last, and say what was pulled (the caller records the image).

use std::sync::Arc;

use futures_util::StreamExt as _;
use oci_spec::image::{ImageIndex, ImageManifest};

use pullsim_reference::{Digest, Reference};

use crate::auth::Session;
use crate::error::RegistryError;
use crate::fetch::{BlobOutcome, BlobSpec, fetch_blob, on_blocking_thread};
use crate::platform::{Platform, choose};
use crate::progress::Progress;
use crate::resolve::{Resolved, get_manifest, is_index_type, resolve, sniff_media_type};
use crate::sink::BlobSink;

/// One blob of a pulled image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PulledBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

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
    /// Every blob of the image, each once: the top manifest, the platform manifest (through
    /// an index), the config, then the layers in manifest order. All are in the sink.
    pub blobs: Vec<PulledBlob>,
    /// Total size of the image's blobs (the sum over [`Pulled::blobs`]: each blob once).
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

/// A present small blob's bytes, read on a blocking thread; `None` when absent or unreadable.
async fn read_small(sink: &Arc<dyn BlobSink>, reference: &str, digest: &Digest) -> Option<Vec<u8>> {
    if !sink.has(digest) {
        return None;
    }
    let (sink, d) = (sink.clone(), digest.clone());
    on_blocking_thread(reference, "reading a stored blob", move || {
        sink.read_small(&d)
    })
    .await
    .ok()?
    .ok()?
}

/// A manifest's bytes: from the sink when present, else fetched by digest and verified.
async fn manifest_bytes(
    session: &Session<'_>,
    reference: &Reference,
    sink: &Arc<dyn BlobSink>,
    digest: &Digest,
) -> Result<(Vec<u8>, bool), RegistryError> {
    if let Some(b) = read_small(sink, &session.reference, digest).await {
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

/// Every blob of the image, each once (manifests first, then config and layers in manifest
/// order), and their total size. Linear in the number of entries (a manifest may list the same
/// layer thousands of times), and the total saturates: the sizes are the manifest's claims, and
/// blobs already in the store are not fetched, so nothing checked them against the bytes.
fn image_blobs(manifests: &[(Digest, Vec<u8>)], blobs: &[BlobSpec]) -> (Vec<PulledBlob>, u64) {
    let mut seen = std::collections::HashSet::new();
    let mut all = Vec::new();
    let entries = manifests
        .iter()
        .map(|(d, b)| (d, b.len() as u64))
        .chain(blobs.iter().map(|b| (&b.digest, b.size)));
    for (digest, size) in entries {
        if seen.insert(digest) {
            all.push(PulledBlob {
                digest: digest.clone(),
                size,
            });
        }
    }
    let size = all.iter().fold(0u64, |t, b| t.saturating_add(b.size));
    (all, size)
}

/// Fetch a blob unless another pull of this client is fetching it: then wait for that one and
/// find it in the sink.
async fn fetch_once(
    session: &Session<'_>,
    sink: &Arc<dyn BlobSink>,
    b: &BlobSpec,
    progress: &dyn Progress,
) -> Result<BlobOutcome, RegistryError> {
    let inner = session.inner;
    let lock = inner.inflight.lock_for(&b.digest);
    let guard = lock.lock().await;
    let r = fetch_blob(session, sink, b, progress).await;
    drop(guard);
    drop(lock);
    inner.inflight.release(&b.digest);
    r
}

pub(crate) async fn pull(
    session: &Session<'_>,
    reference: &Reference,
    sink: &Arc<dyn BlobSink>,
    progress: &dyn Progress,
) -> Result<Pulled, RegistryError> {
    let inner = session.inner;
    let rs = session.reference.clone();
    let top: Resolved = resolve(session, reference).await?;
    let (top_bytes, _) = manifest_bytes(session, reference, sink, &top.digest).await?;
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
        let (bytes, _) = manifest_bytes(session, reference, sink, &child).await?;
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
    // The futures are made first: a stream over a mapping closure would not be `Send` for every
    // lifetime (rustc's higher-ranked closure limitation) and the pull could not be spawned.
    let fetches: Vec<_> = blobs
        .iter()
        .map(|b| fetch_once(session, sink, b, progress))
        .collect();
    let results: Vec<Result<BlobOutcome, RegistryError>> = futures_util::stream::iter(fetches)
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
    // All blobs are committed: now the manifests, child first, on a blocking thread (a put
    // fsyncs); the bytes move there and back, uncopied.
    let putter = sink.clone();
    let manifests = on_blocking_thread(&rs, "storing the manifests", move || {
        for (d, bytes) in manifests.iter().rev() {
            putter.put(d, bytes)?;
        }
        Ok(manifests)
    })
    .await?
    .map_err(|e| RegistryError::from_sink(e, &rs))?;
    if platform.is_none()
        && let Some(cfg) = read_small(sink, &rs, &config_digest).await
    {
        platform = config_platform(&cfg);
    }
    let (all, size) = image_blobs(&manifests, &blobs);
    Ok(Pulled {
        manifest_digest: top.digest,
        media_type: top_type,
        platform_manifest: manifest_digest,
        config_digest,
        platform,
        blobs: all,
        size,
        bytes_downloaded: downloaded,
        blobs_skipped: skipped,
        layers: manifest.layers().len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(i: u8) -> Digest {
        Digest::parse(&format!("sha256:{}", hex::encode([i; 32]))).unwrap()
    }

    /// Found reviewing the pull path for issue 11, pinned by `image_blobs_each_once_and_bounded`:
    /// the total size summed the
    /// manifest's claimed sizes with `+` (a panic in debug when they overflow: sizes of blobs
    /// already in the store are never checked against bytes), and deduplicating was quadratic
    /// (a 4 MiB manifest lists ~40,000 layers).
    #[test]
    fn claimed_sizes_that_overflow_saturate() {
        let blobs = [
            BlobSpec {
                digest: d(1),
                size: u64::MAX,
            },
            BlobSpec {
                digest: d(2),
                size: u64::MAX,
            },
        ];
        let (all, size) = image_blobs(&[(d(0), b"{}".to_vec())], &blobs);
        assert_eq!(all.len(), 3);
        assert_eq!(size, u64::MAX);
    }

    #[test]
    fn the_same_layer_forty_thousand_times_is_linear() {
        let blobs: Vec<BlobSpec> = (0..40_000)
            .map(|i| BlobSpec {
                digest: d((i % 3) as u8 + 1),
                size: 7,
            })
            .collect();
        let start = std::time::Instant::now();
        let (all, size) = image_blobs(&[(d(0), vec![0; 10])], &blobs);
        assert_eq!(
            all.iter().map(|b| b.digest.clone()).collect::<Vec<_>>(),
            [d(0), d(1), d(2), d(3)]
        );
        assert_eq!(size, 10 + 3 * 7);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn image_blobs_each_once_and_bounded(
            manifests in proptest::collection::vec((0u8..6, 0usize..64), 1..3),
            blobs in proptest::collection::vec((0u8..8, prop_oneof![any::<u64>(), 0u64..1000, Just(u64::MAX)]), 0..50),
        ) {
            let manifests: Vec<(Digest, Vec<u8>)> = manifests.iter().map(|(i, n)| (d(*i), vec![0; *n])).collect();
            let blobs: Vec<BlobSpec> = blobs.iter().map(|(i, s)| BlobSpec { digest: d(*i), size: *s }).collect();
            let (all, size) = image_blobs(&manifests, &blobs);
            // Each digest once, in first-seen order, with its first size.
            let mut seen = std::collections::HashSet::new();
            let firsts: Vec<(Digest, u64)> = manifests
                .iter()
                .map(|(d, b)| (d.clone(), b.len() as u64))
                .chain(blobs.iter().map(|b| (b.digest.clone(), b.size)))
                .filter(|(d, _)| seen.insert(d.clone()))
                .collect();
            let got: Vec<(Digest, u64)> = all.iter().map(|b| (b.digest.clone(), b.size)).collect();
            prop_assert_eq!(&got, &firsts);
            let exact: u128 = firsts.iter().map(|(_, s)| u128::from(*s)).sum();
            prop_assert_eq!(u128::from(size), exact.min(u128::from(u64::MAX)));
        }
    }
}
