//! Removing images and deleting unreferenced blobs (the store side of image GC).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use pullsim_reference::Digest;

use redb::ReadableTable;

use crate::index::{self, BLOB_REFS, IMAGES, decode_record};
use crate::{Store, StoreError};

/// What [`Store::remove_images`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoveOutcome {
    /// Index keys removed.
    pub removed: Vec<String>,
    /// Blobs deleted because no remaining image uses them.
    pub blobs_deleted: Vec<Digest>,
    /// Bytes of those blobs.
    pub bytes_freed: u64,
}

/// What [`Store::delete_unreferenced_blobs`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcOutcome {
    /// Blobs deleted.
    pub blobs_deleted: Vec<Digest>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub kept_young: usize,
}

/// Disk usage of a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Number of blobs in `blobs/sha256`.
    pub blobs: u64,
    /// Their total size.
    pub blob_bytes: u64,
    /// Blobs used by at least one image, and their size.
    pub referenced: u64,
    /// Size of the referenced blobs.
    pub referenced_bytes: u64,
    /// Bytes in `ingest/` (writes in progress or interrupted).
    pub ingest_bytes: u64,
    /// Number of image records.
    pub images: u64,
}

pub(crate) fn blob_files(dir: &Path) -> Result<Vec<(String, fs::Metadata)>, StoreError> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io("read dir", dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io("read dir", dir, e))?;
        let Ok(name) = ent.file_name().into_string() else {
            continue;
        };
        let md = match ent.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("stat", ent.path(), e)),
        };
        out.push((name, md));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Store {
    /// Remove image records by index key, then delete the blobs no remaining image uses (while
    /// the index is still locked, so no other process can start using them meanwhile), except
    /// blobs a load or pull in progress holds (leases): GC deletes those later.
    /// Unknown keys are ignored.
    pub fn remove_images(&self, keys: &[String]) -> Result<RemoveOutcome, StoreError> {
        let path = self.index.path.clone();
        let result = self.index.write_then(
            |txn| {
                let mut images = txn
                    .open_table(IMAGES)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut out = RemoveOutcome::default();
                let mut zeroed: BTreeMap<Digest, u64> = BTreeMap::new();
                for key in keys {
                    let old = images
                        .remove(key.as_str())
                        .map_err(|e| StoreError::index(&path, e))?
                        .map(|v| decode_record(&path, key, v.value()))
                        .transpose()?;
                    let Some(old) = old else { continue };
                    out.removed.push(key.clone());
                    index::release_blob_refs(&mut refs, &old.blobs, &path, |b, size| {
                        zeroed.insert(b.clone(), size);
                    })?;
                }
                Ok((out, zeroed))
            },
            |db, (_, zeroed)| {
                let mut deleted = Vec::new();
                let mut freed = 0;
                let held = if zeroed.is_empty() {
                    Default::default()
                } else {
                    crate::lease::leased(self.leases_dir(), None)?
                };
                for d in zeroed.keys() {
                    if held.contains(&d.to_string()) {
                        continue;
                    }
                    let p = self.blob_path(d);
                    if let Ok(m) = fs::metadata(&p)
                        && m.is_file()
                    {
                        fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
                        self.forget_uncompressed(d);
                        freed += m.len();
                        deleted.push(d.clone());
                    }
                }
                crate::layout::write_index_json(self.root(), db, &path)?;
                Ok((deleted, freed))
            },
        );
        self.invalidate();
        let ((mut out, _), (deleted, freed)) = result?;
        out.blobs_deleted = deleted;
        out.bytes_freed = freed;
        Ok(out)
    }

    /// Delete every blob no image record uses, except those modified less than `grace` ago
    /// and those held by a load or pull in progress (leases). Runs with the index locked.
    /// Anything that is not a regular file is left to `verify --repair`.
    pub fn delete_unreferenced_blobs(&self, grace: Duration) -> Result<GcOutcome, StoreError> {
        let path = self.index.path.clone();
        let now = SystemTime::now();
        let (_, out) = self.index.write_then(
            |txn| {
                let refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut set = BTreeSet::new();
                for item in refs.iter().map_err(|e| StoreError::index(&path, e))? {
                    let (k, _) = item.map_err(|e| StoreError::index(&path, e))?;
                    set.insert(k.value().to_string());
                }
                Ok(set)
            },
            |_, set| {
                let mut out = GcOutcome::default();
                let held = crate::lease::leased(self.leases_dir(), None)?;
                for (name, md) in blob_files(self.blobs_dir())? {
                    let key = format!("sha256:{name}");
                    if set.contains(&key) || held.contains(&key) || !md.is_file() {
                        continue;
                    }
                    let age = md
                        .modified()
                        .ok()
                        .and_then(|m| now.duration_since(m).ok())
                        .unwrap_or_default();
                    if age < grace {
                        out.kept_young += 1;
                        continue;
                    }
                    let p = self.blobs_dir().join(&name);
                    fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
                    out.bytes_freed += md.len();
                    if let Ok(d) = Digest::from_sha256_hex(&name) {
                        self.forget_uncompressed(&d);
                        out.blobs_deleted.push(d);
                    }
                }
                // The uncompressed-digest records of blobs deleted by other means.
                self.sweep_uncompressed();
                Ok(out)
            },
        )?;
        Ok(out)
    }

    /// Sizes of blobs (all, referenced) and of `ingest/`. Walks `blobs/` (not a lookup path).
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let records = self.list()?;
        let referenced: BTreeSet<String> = match self.blob_refs() {
            Ok(refs) => refs.into_iter().map(|(k, _, _)| k).collect(),
            // Unusable index: the blobs of the images listed in index.json.
            Err(e) if e.is_index_unusable() => records
                .iter()
                .flat_map(|r| r.blobs.iter().map(|d| d.to_string()))
                .collect(),
            Err(e) => return Err(e),
        };
        let mut du = DiskUsage {
            images: records.len() as u64,
            ..Default::default()
        };
        for (name, md) in blob_files(self.blobs_dir())? {
            if !md.is_file() {
                continue;
            }
            du.blobs += 1;
            du.blob_bytes += md.len();
            if referenced.contains(&format!("sha256:{name}")) {
                du.referenced += 1;
                du.referenced_bytes += md.len();
            }
        }
        du.ingest_bytes = dir_bytes(self.ingest_dir());
        Ok(du)
    }
}
