//! The unpack check of a pulled image (containerd's `Unpacker.unpack`,
//! `core/unpack/unpacker.go@v2.3.4`): the config's `rootfs.diff_ids` against the manifest's
//! layers, in number, then each layer's uncompressed digest against its diff ID, bottom first.
//! Nothing is extracted: the layer is decompressed and hashed as `fsApplier.Apply` does
//! (`core/diff/apply/apply.go@v2.3.4`: the stream processor for its media type, a digester
//! over everything it yields).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pullsim_reference::Digest;
use pullsim_store::{Store, StoreError, Uncompressed};

use super::error::{DecompressError, LayerAt, UnpackError, Wording, chain_ids};
use super::hasher::DiffHasher;
use super::media::{Compression, DiffCompression, SNIFF_LEN, diff_compression, is_layer_type};

/// Read size when decompressing a layer from the store.
const READ_BUF: usize = 1 << 20;

/// How often layers were decompressed, and how: a test hook and a report.
#[derive(Debug, Default)]
pub struct UnpackStats {
    streamed: AtomicU64,
    from_store: AtomicU64,
    from_record: AtomicU64,
    bytes: AtomicU64,
    busy_ns: AtomicU64,
}

/// A snapshot of [`UnpackStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnpackCounts {
    /// Compressed layers decompressed while they downloaded.
    pub streamed: u64,
    /// Compressed layers decompressed from the store after the pull (resumed downloads, layers
    /// already present without a record, records that disagreed with the config).
    pub from_store: u64,
    /// Layers whose uncompressed digest came from the store's record (no decompression).
    pub from_record: u64,
    /// Uncompressed bytes those decompressions produced (and hashed).
    pub uncompressed_bytes: u64,
    /// Time spent decompressing and hashing them, summed over layers (layers that download
    /// at once decode in parallel, so this can exceed the wall time of a pull).
    pub decode_time: Duration,
}

impl UnpackCounts {
    /// Decompress + hash throughput in MB/s (10^6 bytes of uncompressed data per second of
    /// [`UnpackCounts::decode_time`]); `None` before anything was decompressed.
    pub fn throughput_mb_s(&self) -> Option<f64> {
        let secs = self.decode_time.as_secs_f64();
        (self.uncompressed_bytes > 0 && secs > 0.0)
            .then(|| self.uncompressed_bytes as f64 / secs / 1e6)
    }
}

impl UnpackStats {
    /// The counts so far.
    pub fn counts(&self) -> UnpackCounts {
        UnpackCounts {
            streamed: self.streamed.load(Ordering::Relaxed),
            from_store: self.from_store.load(Ordering::Relaxed),
            from_record: self.from_record.load(Ordering::Relaxed),
            uncompressed_bytes: self.bytes.load(Ordering::Relaxed),
            decode_time: Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed)),
        }
    }

    /// A layer decompressed while it downloaded: `bytes` out, in `busy`.
    pub(crate) fn note_streamed(&self, bytes: u64, busy: Duration) {
        self.streamed.fetch_add(1, Ordering::Relaxed);
        self.note_work(bytes, busy);
    }

    fn note_work(&self, bytes: u64, busy: Duration) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let ns = u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX);
        self.busy_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// What the check did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// Every layer's uncompressed digest is its diff ID.
    Unpacked {
        /// The layers checked.
        layers: usize,
    },
    /// Nothing to unpack (no layers, a `rootfs.type` other than `layers`, or a config for
    /// another OS than the one unpacked for): containerd only fetches such an image.
    FetchOnly,
}

#[derive(serde::Deserialize)]
struct ManifestLayers {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(serde::Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
}

#[derive(serde::Deserialize)]
struct UnpackConfig {
    #[serde(default)]
    os: String,
    #[serde(default)]
    rootfs: RootFs,
}

#[derive(serde::Deserialize, Default)]
struct RootFs {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    diff_ids: Option<Vec<String>>,
}

fn store_err(what: &str, d: &Digest, e: impl std::fmt::Display) -> UnpackError {
    UnpackError::Store {
        message: format!("reading {what} {d} from the content store: {e}"),
    }
}

/// Check a pulled image whose manifest (`manifest`, the platform's) and config are in `store`.
/// `unpack_os`: the OS containerd unpacks for, when it matches unpack platforms by OS (2.x's
/// transfer service: `platforms.OnlyOS` unless `check_platform_supported`,
/// `plugins/transfer/plugin.go@v2.3.4`); a config for another OS is then only fetched. `None`:
/// every image is checked (1.7, whose fallback `Image.Unpack` checks the diff IDs too).
/// Blocking (it may read and decompress layers): run it off the async threads.
pub fn verify_image(
    store: &Store,
    manifest: &Digest,
    config: &Digest,
    wording: Wording,
    unpack_os: Option<&str>,
    stats: &UnpackStats,
) -> Result<Verified, UnpackError> {
    let m = store
        .read_blob(manifest)
        .map_err(|e| store_err("manifest", manifest, e))?;
    let m: ManifestLayers =
        serde_json::from_slice(&m).map_err(|e| store_err("manifest", manifest, e))?;
    let layers: Vec<(String, Digest)> = m
        .layers
        .into_iter()
        .filter(|l| is_layer_type(&l.media_type))
        .map(|l| {
            Digest::parse(&l.digest)
                .map(|d| (l.media_type, d))
                .map_err(|e| store_err("manifest", manifest, e))
        })
        .collect::<Result<_, _>>()?;
    // The unpacker starts only for a manifest with layers.
    if layers.is_empty() {
        return Ok(Verified::FetchOnly);
    }
    let c = store
        .read_blob(config)
        .map_err(|e| store_err("config", config, e))?;
    let c: UnpackConfig = serde_json::from_slice(&c).map_err(|e| UnpackError::Config {
        config: config.clone(),
        message: e.to_string(),
    })?;
    let diff_ids = c.rootfs.diff_ids.unwrap_or_default();
    if layers.len() != diff_ids.len() {
        return Err(UnpackError::LayerCount {
            layers: layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    // "layers" is the only rootfs type an OCI image unpacks; others are only fetched.
    if !c.rootfs.kind.is_empty() && c.rootfs.kind != "layers" {
        return Ok(Verified::FetchOnly);
    }
    // platforms.Normalize lowercases the OS (and calls macOS darwin) before comparing.
    if let Some(os) = unpack_os {
        let normalized = pullsim_registry::Platform::new(&c.os, "", None)
            .normalize()
            .os;
        if normalized != os {
            return Ok(Verified::FetchOnly);
        }
    }
    let chains = chain_ids(&diff_ids);
    for (i, (media_type, layer)) in layers.iter().enumerate() {
        let at = LayerAt {
            index: i,
            media_type,
            layer,
            diff_id: &diff_ids[i],
            chain_id: &chains[i],
        };
        let actual = match diff_compression(media_type) {
            DiffCompression::None => layer.clone(),
            DiffCompression::Unsupported => return Err(UnpackError::no_processor(wording, &at)),
            DiffCompression::Decompress => {
                uncompressed_digest(store, layer, &diff_ids[i], stats)
                    .map_err(|cause| UnpackError::extract(wording, &at, cause))?
            }
        };
        if actual.to_string() != diff_ids[i] {
            return Err(UnpackError::wrong_diff_id(
                wording,
                i,
                layer,
                &diff_ids[i],
                &actual,
            ));
        }
    }
    Ok(Verified::Unpacked {
        layers: layers.len(),
    })
}

/// The digest of `layer` once through `DecompressStream`: from the store's record when it
/// agrees with `expected` (a record that disagrees is not believed: the layer is decompressed
/// again), else from the layer's bytes in the store (then recorded).
fn uncompressed_digest(
    store: &Store,
    layer: &Digest,
    expected: &str,
    stats: &UnpackStats,
) -> Result<Digest, Result<DecompressError, String>> {
    if let Some(u) = store.uncompressed(layer)
        && u.digest.to_string() == expected
    {
        stats.from_record.fetch_add(1, Ordering::Relaxed);
        return Ok(u.digest);
    }
    let reader_err =
        |e: &dyn std::fmt::Display| Err(format!("failed to get reader from content store: {e}"));
    let path = store.blob_path(layer);
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(reader_err(&format!("content digest {layer}: not found")));
        }
        Err(e) => {
            return Err(reader_err(&StoreError::Io {
                op: "open",
                path,
                error: e,
            }));
        }
    };
    let started = Instant::now();
    let mut h = DiffHasher::new();
    let mut buf = vec![0u8; READ_BUF];
    // The first read is just what sniffing needs: a plain layer is known after a few bytes.
    let mut want = SNIFF_LEN;
    loop {
        let n = match f.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Err(StoreError::Io {
                    op: "read",
                    path,
                    error: e,
                }
                .to_string()));
            }
        };
        h.update(&buf[..n]);
        want = READ_BUF;
        if h.compression().is_some() && !h.decodes() {
            // Not compressed (or failed already): no need to read further to know.
            if h.compression() == Some(Compression::Uncompressed) {
                return Ok(layer.clone());
            }
            break;
        }
    }
    let decoded = h.decodes();
    match h.finish().map_err(Ok)? {
        None => Ok(layer.clone()),
        Some(u) => {
            if decoded {
                stats.from_store.fetch_add(1, Ordering::Relaxed);
                stats.note_work(u.size, started.elapsed());
            }
            record(store, layer, &u);
            Ok(u.digest)
        }
    }
}

/// Remember a computed uncompressed digest; a failure only costs a decompression later.
pub(crate) fn record(store: &Store, layer: &Digest, u: &Uncompressed) {
    if let Err(e) = store.record_uncompressed(layer, u) {
        tracing::debug!(%layer, error = %e, "could not record the uncompressed digest");
    }
}
