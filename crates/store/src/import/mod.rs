//! `images load`: import an OCI image layout (directory or tar) or a docker-archive tar.
//!
//! Every blob is verified (digest and size) on its way into the store, and every manifest's
//! references are checked, before any image is recorded; the images of one load are recorded
//! in one index transaction. When a load fails, the blobs it newly stored and that no image
//! uses are deleted again (with the index locked), so a failed load leaves nothing behind.

mod docker;
mod oci;
mod source;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use pullsim_reference::{Digest, Reference};
use redb::ReadableTable;

use crate::index::BLOB_REFS;
use crate::lease::Lease;
use crate::{CommitOutcome, ImageRecord, Store, StoreError};
use source::Source;

/// A gzip-compressed archive may expand to this many times its compressed size...
pub(crate) const GZIP_MAX_RATIO: u64 = 100;
/// ...or to this many bytes, whichever is more.
pub(crate) const GZIP_MIN_ALLOWANCE: u64 = 64 << 20;

/// The most a gzip stream of `compressed` bytes may expand to.
pub(crate) fn gzip_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(GZIP_MAX_RATIO)
        .max(GZIP_MIN_ALLOWANCE)
}

/// A reader that fails once more than `limit` bytes came through (decompression bombs).
pub(crate) struct Capped<R> {
    pub(crate) inner: R,
    pub(crate) limit: u64,
    pub(crate) seen: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "decompressed size limit exceeded",
            ));
        }
        Ok(n)
    }
}

/// The error for a gzip stream that expanded past [`gzip_limit`].
pub(crate) fn gzip_bomb(what: &str, path: String, compressed: u64) -> StoreError {
    let limit = gzip_limit(compressed);
    StoreError::TooLarge {
        what: what.into(),
        path,
        limit,
        detail: format!(
            "it decompresses to more than that ({GZIP_MAX_RATIO} times its {compressed} \
             compressed bytes, at least {GZIP_MIN_ALLOWANCE}); refused as a decompression bomb"
        ),
    }
}

/// Options of [`Store::load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Repository for entries named by a tag only (`oci:DIR:TAG` layouts) or not at all.
    pub name: Option<String>,
    /// The time to record as first seen / last used (Unix ms); 0 means now.
    pub now_ms: u64,
}

/// One image name recorded by a load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// The index key (`name:tag` or `name@digest`).
    pub key: String,
    /// Top-level manifest digest.
    pub manifest_digest: Digest,
    /// Image ID.
    pub config_digest: Digest,
    /// Total size.
    pub size: u64,
}

/// Blobs a load wrote, to undo them when it fails, and the lease that holds what it uses.
pub(crate) struct Ingested {
    pub(crate) stored: BTreeSet<Digest>,
    pub(crate) lease: Arc<Lease>,
}

impl Ingested {
    pub(crate) fn note(&mut self, d: &Digest, outcome: CommitOutcome) {
        if outcome == CommitOutcome::Stored {
            self.stored.insert(d.clone());
        }
    }
}

pub(crate) fn parse_ref(text: &str, context: &str) -> Result<Reference, StoreError> {
    Reference::parse_normalized(text).map_err(|e| StoreError::InvalidReference {
        reference: text.to_string(),
        context: context.to_string(),
        message: e.to_string(),
    })
}

/// Fill name, tag and digest of a record from a reference.
pub(crate) fn named(mut rec: ImageRecord, r: &Reference, written_as: &str) -> ImageRecord {
    let r = if r.digest().is_none() {
        r.with_default_tag()
    } else {
        r.clone()
    };
    rec.name = r.name();
    rec.digest = r.digest().cloned();
    rec.tag = if rec.digest.is_some() {
        None
    } else {
        r.tag().map(str::to_string)
    };
    rec.written_as = written_as.to_string();
    rec
}

impl Store {
    /// Import `path`: an OCI image layout directory, an OCI layout tar (`oci-archive`) or a
    /// docker-archive tar (`docker save`). Records the images as preloaded.
    ///
    /// A gzip-compressed tar (`docker save | gzip`) is decompressed into `ingest/` first.
    pub fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Vec<LoadedImage>, StoreError> {
        // Nothing is ingested into a store whose index cannot record it.
        self.check_index()?;
        let lease = Arc::new(Lease::new(self.leases_dir(), self.lock.clone())?);
        match self.gunzip_if_needed(path)? {
            Some((tmp, lock)) => {
                let display = format!("{} (gzip)", path.display());
                let r = Source::open_named(&tmp, display)
                    .and_then(|src| self.load_from(&src, opts, &lease));
                let _ = std::fs::remove_dir_all(tmp.parent().unwrap_or(&tmp));
                drop(lock);
                r
            }
            None => {
                let src = Source::open(path)?;
                self.load_from(&src, opts, &lease)
            }
        }
    }

    /// When `path` is a gzip file, decompress it into a fresh directory under `ingest/` and
    /// return the tar's path, with the directory's `lock` held (so that `verify --repair`
    /// does not take it for a stale ingest while the load reads it).
    fn gunzip_if_needed(
        &self,
        path: &Path,
    ) -> Result<Option<(std::path::PathBuf, std::fs::File)>, StoreError> {
        if path.is_dir() {
            return Ok(None);
        }
        let mut f = std::fs::File::open(path).map_err(|e| StoreError::io("open", path, e))?;
        let mut magic = [0u8; 2];
        if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
            return Ok(None);
        }
        let dir = self.ingest_dir().join(crate::ingest::tmp_ref_name());
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create", &dir, e))?;
        let lock_path = dir.join("lock");
        let lock = std::fs::File::create(&lock_path)
            .and_then(|l| l.lock().map(|()| l))
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                StoreError::io("lock", &lock_path, e)
            })?;
        let tar = dir.join("archive.tar");
        let result = (|| {
            let f = std::fs::File::open(path).map_err(|e| StoreError::io("open", path, e))?;
            let compressed = f
                .metadata()
                .map_err(|e| StoreError::io("stat", path, e))?
                .len();
            let mut gz = Capped {
                inner: flate2::read::GzDecoder::new(std::io::BufReader::new(f)),
                limit: gzip_limit(compressed),
                seen: 0,
            };
            let mut out =
                std::fs::File::create(&tar).map_err(|e| StoreError::io("create", &tar, e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = match gz.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                        return Err(gzip_bomb(
                            "gzip archive",
                            path.display().to_string(),
                            compressed,
                        ));
                    }
                    Err(e) => {
                        return Err(StoreError::Invalid {
                            what: "gzip archive".into(),
                            path: path.display().to_string(),
                            message: e.to_string(),
                        });
                    }
                };
                out.write_all(&buf[..n])
                    .map_err(|e| StoreError::io("write", &tar, e))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(Some((tar, lock))),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn load_from(
        &self,
        src: &Source,
        opts: &LoadOptions,
        lease: &Arc<Lease>,
    ) -> Result<Vec<LoadedImage>, StoreError> {
        let now = if opts.now_ms == 0 {
            crate::record::now_ms()
        } else {
            opts.now_ms
        };
        let mut ingested = Ingested {
            stored: BTreeSet::new(),
            lease: lease.clone(),
        };
        let result = if src.exists("oci-layout")? || src.exists("index.json")? {
            oci::load(self, src, opts, now, &mut ingested)
        } else if src.exists("manifest.json")? {
            docker::load(self, src, opts, now, &mut ingested)
        } else {
            Err(StoreError::Invalid {
                what: "image archive".into(),
                path: src.origin(),
                message: "neither an OCI image layout (oci-layout, index.json) nor a docker-archive (manifest.json)".into(),
            })
        };
        let recs = match result {
            Ok(r) => r,
            Err(e) => {
                self.undo(&ingested, lease);
                return Err(e);
            }
        };
        if let Err(e) = self.record_images(&recs) {
            self.undo(&ingested, lease);
            return Err(e);
        }
        Ok(recs
            .iter()
            .map(|r| LoadedImage {
                key: r.key(),
                manifest_digest: r.manifest_digest.clone(),
                config_digest: r.config_digest.clone(),
                size: r.size,
            })
            .collect())
    }

    /// Delete blobs a failed load stored, unless an image uses them or another lease holds
    /// them (index locked meanwhile).
    fn undo(&self, ingested: &Ingested, lease: &Lease) {
        if ingested.stored.is_empty() {
            return;
        }
        let path = self.index.path.clone();
        let r = self.index.write_then(
            |txn| {
                let refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut unused = Vec::new();
                for d in &ingested.stored {
                    let used = refs
                        .get(d.to_string().as_str())
                        .map_err(|e| StoreError::index(&path, e))?
                        .is_some();
                    if !used {
                        unused.push(d.clone());
                    }
                }
                Ok(unused)
            },
            |_, unused| {
                let held = crate::lease::leased(self.leases_dir(), Some(lease.dir()))?;
                for d in unused {
                    if !held.contains(&d.to_string()) {
                        let _ = std::fs::remove_file(self.blob_path(d));
                    }
                }
                Ok(())
            },
        );
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not remove the blobs of a failed load; `pullsim images gc` will");
        }
    }

    /// Copy `rel` of `src` into the store as blob `expected` (size `size`), verifying both.
    /// A blob already in the store is not copied again (its size is still checked).
    pub(crate) fn ingest_from(
        &self,
        src: &Source,
        rel: &str,
        expected: &Digest,
        size: u64,
        referenced_by: &str,
        ingested: &mut Ingested,
    ) -> Result<(), StoreError> {
        // Leased first: a removal or GC running now cannot delete it once it is found.
        ingested.lease.add(expected)?;
        if self.has_blob(expected) {
            let have = self.blob_size(expected)?;
            if have != size {
                return Err(StoreError::SizeMismatch {
                    what: format!("descriptor in {referenced_by}"),
                    digest: expected.to_string(),
                    expected: size,
                    actual: have,
                });
            }
            return Ok(());
        }
        if !src.exists(rel)? {
            return Err(StoreError::BlobNotFound {
                digest: expected.to_string(),
                context: format!(
                    " (referenced by {referenced_by}; expected at {})",
                    src.describe(rel)
                ),
            });
        }
        let (mut reader, _) = src.reader(rel)?;
        let what = src.describe(rel);
        let mut w = self.writer_in(None, &format!("load@{expected}"), expected, Some(size))?;
        tracing::debug!(blob = %expected, file = what, "importing");
        if !w.already_exists() {
            w.truncate()?;
            if let Err(e) = copy(&mut reader, &mut w, &what) {
                // A failed ingest leaves nothing under ingest/ (a full disk gets its space back).
                w.abort();
                return Err(e);
            }
        }
        let outcome = w.commit().map_err(|e| match e {
            StoreError::DigestMismatch {
                expected, actual, ..
            } => StoreError::DigestMismatch {
                what: format!("{what} (referenced by {referenced_by})"),
                expected,
                actual,
            },
            StoreError::SizeMismatch {
                digest,
                expected,
                actual,
                ..
            } => StoreError::SizeMismatch {
                what: format!("{what} (referenced by {referenced_by})"),
                digest,
                expected,
                actual,
            },
            other => other,
        })?;
        ingested.note(expected, outcome);
        Ok(())
    }

    /// Copy `rel` into the store under the digest of its content.
    pub(crate) fn ingest_unknown_from(
        &self,
        src: &Source,
        rel: &str,
        ingested: &mut Ingested,
    ) -> Result<(Digest, u64), StoreError> {
        let what = src.describe(rel);
        let (mut reader, _) = src.reader(rel)?;
        let mut w = self.writer_unknown(&what, ingested.lease.clone())?;
        if let Err(e) = copy(&mut reader, &mut w, &what) {
            w.abort();
            return Err(e);
        }
        let (d, size, outcome) = w.commit_unknown()?;
        ingested.note(&d, outcome);
        Ok((d, size))
    }
}

fn copy(r: &mut dyn Read, w: &mut crate::BlobWriter, what: &str) -> Result<(), StoreError> {
    const CHUNK: usize = 1 << 20;
    let map_write = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::InvalidData => StoreError::Invalid {
            what: "blob".into(),
            path: what.to_string(),
            message: e.to_string(),
        },
        _ => StoreError::io("write", what.to_string(), e),
    };
    // One read buffer: the writer copies each chunk into its own aligned buffers.
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut filled = 0;
        while filled < CHUNK {
            let n = r
                .read(&mut buf[filled..])
                .map_err(|e| StoreError::io("read", what.to_string(), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(());
        }
        w.write_all(&buf[..filled]).map_err(map_write)?;
        if filled < CHUNK {
            return Ok(());
        }
    }
}
