//! The layout as the source of truth: the records that `ROOT/index.json` and the blobs hold
//! (what read-only operations use while the index is unusable), and the rebuild of the index
//! from them (`verify --repair`).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use pullsim_reference::{Digest, Reference};

use crate::index::{self, BLOB_REFS, IMAGES, Snapshot, encode};
use crate::layout::{ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, ann};
use crate::walk::{IndexDoc, Walker, parse_digest};
use crate::{ImageRecord, Origin, Store, StoreError};

/// Largest `index.json` read (about 300,000 images).
const INDEX_JSON_LIMIT: u64 = 256 << 20;

/// One entry of the root's `index.json`.
pub(crate) struct LayoutEntry {
    /// The name (index key) it carries, or its digest when it has none.
    pub(crate) key: String,
    /// The record: complete when `problem` is `None`; else, when the annotations allow, a
    /// partial one (blobs: the manifest only) for read-only use.
    pub(crate) record: Option<ImageRecord>,
    /// Why the record cannot be rebuilt (a blob missing or of the wrong size, ...).
    pub(crate) problem: Option<StoreError>,
}

fn ann_u64(a: &BTreeMap<String, String>, k: &str) -> Option<u64> {
    a.get(k).and_then(|v| v.parse().ok())
}

impl Store {
    /// Read `ROOT/index.json` (size-capped).
    fn read_index_json(&self) -> Result<IndexDoc, StoreError> {
        let path = self.root().join("index.json");
        let f = std::fs::File::open(&path).map_err(|e| StoreError::io("open", &path, e))?;
        let mut bytes = Vec::new();
        f.take(INDEX_JSON_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| StoreError::io("read", &path, e))?;
        if bytes.len() as u64 > INDEX_JSON_LIMIT {
            return Err(StoreError::TooLarge {
                what: "index.json".into(),
                path: path.display().to_string(),
                limit: INDEX_JSON_LIMIT,
                detail: "it is longer".into(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Invalid {
            what: "index.json".into(),
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Every entry of `ROOT/index.json`, each walked through the store's blobs.
    pub(crate) fn layout_entries(&self) -> Result<Vec<LayoutEntry>, StoreError> {
        let doc = self.read_index_json()?;
        let index_file = self.root().join("index.json").display().to_string();
        let mtime_ms = std::fs::metadata(self.root().join("index.json"))
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut check = |d: &Digest, size: u64, declared_in: &str| {
            let have = self.blob_size(d).map_err(|e| match e {
                StoreError::BlobNotFound { digest, .. } => StoreError::BlobNotFound {
                    digest,
                    context: format!(" (listed in {declared_in})"),
                },
                other => other,
            })?;
            if have != size {
                return Err(StoreError::SizeMismatch {
                    what: format!("descriptor in {declared_in}"),
                    digest: d.to_string(),
                    expected: size,
                    actual: have,
                });
            }
            Ok(())
        };
        let describe = |d: &Digest| self.blob_path(d).display().to_string();
        let mut walker = Walker::new(self, &mut check, &describe);
        let mut out = Vec::with_capacity(doc.manifests.len());
        for (i, desc) in doc.manifests.iter().enumerate() {
            let a = &desc.annotations;
            let Some(key) = a
                .get(ANNOTATION_REF_NAME)
                .or_else(|| a.get(ANNOTATION_CONTAINERD_NAME))
            else {
                out.push(LayoutEntry {
                    key: desc.digest.clone(),
                    record: None,
                    problem: Some(StoreError::Invalid {
                        what: "index.json entry".into(),
                        path: format!("{index_file} manifests[{i}]"),
                        message: format!("{} has no {ANNOTATION_REF_NAME}", desc.digest),
                    }),
                });
                continue;
            };
            let where_ = format!("{index_file} manifests[{i}]");
            let parsed = Reference::parse_normalized(key)
                .map_err(|e| StoreError::InvalidReference {
                    reference: key.clone(),
                    context: where_.clone(),
                    message: e.to_string(),
                })
                .and_then(|r| Ok((r, parse_digest(&desc.digest, &where_)?)));
            let (reference, manifest) = match parsed {
                Ok(v) => v,
                Err(e) => {
                    out.push(LayoutEntry {
                        key: key.clone(),
                        record: None,
                        problem: Some(e),
                    });
                    continue;
                }
            };
            let walked = walker.walk(desc, &index_file);
            let config_ann = a.get(ann::CONFIG).and_then(|c| Digest::parse(c).ok());
            let (config, platform, size, blobs, problem) = match walked {
                Ok(t) => (
                    t.config.clone(),
                    a.get(ann::PLATFORM).cloned().or(t.platform.clone()),
                    t.size(),
                    t.digests(),
                    None,
                ),
                Err(e) => {
                    let Some(config) = config_ann else {
                        out.push(LayoutEntry {
                            key: key.clone(),
                            record: None,
                            problem: Some(e),
                        });
                        continue;
                    };
                    (
                        config,
                        a.get(ann::PLATFORM).cloned(),
                        ann_u64(a, ann::SIZE).unwrap_or(desc.size),
                        vec![manifest.clone()],
                        Some(e),
                    )
                }
            };
            let written_as = a
                .get(ann::WRITTEN_AS)
                .cloned()
                .unwrap_or_else(|| key.clone());
            let rec = ImageRecord {
                name: String::new(),
                tag: None,
                digest: None,
                written_as: String::new(),
                manifest_digest: manifest,
                media_type: desc.media_type.clone(),
                config_digest: config,
                platform,
                size,
                blobs,
                first_seen_ms: ann_u64(a, ann::FIRST_SEEN).unwrap_or(mtime_ms),
                last_used_ms: ann_u64(a, ann::LAST_USED).unwrap_or(mtime_ms),
                pinned: a.get(ann::PINNED).is_some_and(|v| v == "true"),
                labels: a
                    .get(ann::LABELS)
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or_default(),
                origin: match a.get(ann::ORIGIN).map(String::as_str) {
                    Some("preloaded") => Origin::Preloaded,
                    _ => Origin::Pulled,
                },
            };
            let rec = crate::import::named(rec, &reference, &written_as);
            out.push(LayoutEntry {
                key: rec.key(),
                record: Some(rec),
                problem,
            });
        }
        Ok(out)
    }

    /// The records of `index.json` for read-only use while the index is unusable (cached
    /// until `index.json` changes); `unusable` is returned when `index.json` cannot be read
    /// either.
    pub(crate) fn layout_snapshot_or(
        &self,
        unusable: StoreError,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let stamp = index::stamp(&self.root().join("index.json"));
        if let Some(s) = self.layout_snapshot.read().ok().and_then(|s| s.clone())
            && s.stamp == stamp
            && !stamp.is_recent()
        {
            return Ok(s);
        }
        let entries = match self.layout_entries() {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "index.json cannot stand in for the unusable index");
                return Err(unusable);
            }
        };
        tracing::warn!(error = %unusable, "reading the image list from index.json");
        let mut by_key: BTreeMap<String, ImageRecord> = BTreeMap::new();
        for e in entries {
            if let Some(r) = e.record {
                by_key.insert(r.key(), r);
            }
        }
        let snap = Arc::new(Snapshot::build(by_key.into_values().collect(), stamp, 0));
        if let Ok(mut s) = self.layout_snapshot.write() {
            *s = Some(snap.clone());
        }
        Ok(snap)
    }

    /// Rebuild the index from `index.json` and the blobs: the unusable index is kept aside as
    /// `pullsim.redb.damaged`, a new one records every image whose blobs are all present
    /// (names, pins, times, labels as `index.json` has them). Returns what was done.
    pub(crate) fn rebuild_index(&self, reason: &str) -> Result<Vec<String>, StoreError> {
        let mut notes = Vec::new();
        let entries = match self.layout_entries() {
            Ok(e) => e,
            Err(e) => {
                // Kept for whoever can read more of it than we can.
                let from = self.root().join("index.json");
                let to = self.root().join("index.json.damaged");
                if std::fs::copy(&from, &to).is_ok() {
                    notes.push(format!(
                        "kept the unreadable index.json as {}",
                        to.display()
                    ));
                }
                notes.push(format!("no image names to recover: {e}"));
                Vec::new()
            }
        };
        let mut keep: BTreeMap<String, ImageRecord> = BTreeMap::new();
        for e in entries {
            match (e.record, e.problem) {
                (Some(r), None) => {
                    keep.insert(r.key(), r);
                }
                (_, Some(p)) => notes.push(format!("dropped image {} ({p})", e.key)),
                (None, None) => {}
            }
        }
        let path = self.index.path.clone();
        if path.exists() {
            notes.push(format!(
                "moved the unusable index ({reason}) to {}",
                path.with_file_name("pullsim.redb.damaged").display()
            ));
        }
        let records: Vec<ImageRecord> = keep.into_values().collect();
        self.index.write_inner(
            true,
            |txn| {
                let mut images = txn
                    .open_table(IMAGES)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                let counts = index::blob_ref_counts(&records, |b| self.blob_size(b))?;
                for r in &records {
                    let bytes = encode("image record", r)?;
                    images
                        .insert(r.key().as_str(), bytes.as_slice())
                        .map_err(|e| StoreError::index(&path, e))?;
                }
                for (k, v) in counts {
                    refs.insert(k.as_str(), v)
                        .map_err(|e| StoreError::index(&path, e))?;
                }
                Ok(())
            },
            |db, _| crate::layout::write_index_json(self.root(), db, &path),
        )?;
        notes.push(format!(
            "rebuilt the index from index.json: {} images",
            records.len()
        ));
        self.invalidate();
        self.forget_layout_snapshot();
        Ok(notes)
    }
}
