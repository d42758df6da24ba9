//! `images verify`: re-hash every blob and check the index against the blobs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::PathBuf;

use pullsim_reference::Digest;
use sha2::{Digest as _, Sha256};

use crate::index::{BLOB_REFS, IMAGES};
use crate::{Store, StoreError};

/// One problem found by [`Store::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyProblem {
    /// A blob's content does not hash to its name.
    CorruptBlob {
        /// The blob file.
        path: PathBuf,
        /// The digest its name claims.
        expected: String,
        /// The digest of its content.
        actual: String,
    },
    /// A file in `blobs/sha256` whose name is not a sha256 hex digest.
    StrayFile {
        /// The file.
        path: PathBuf,
    },
    /// An image record lists a blob that is not in the store.
    MissingBlob {
        /// The image's index key.
        image: String,
        /// The missing blob.
        digest: String,
    },
    /// The index is damaged, empty or missing (the message says which, and what to do).
    IndexUnusable {
        /// The index file.
        path: PathBuf,
        /// The error reading it gave.
        message: String,
    },
    /// The blob reference counts disagree with the image records.
    RefCount {
        /// The blob.
        digest: String,
        /// Count in the index.
        recorded: u64,
        /// Count computed from the image records.
        actual: u64,
    },
}

impl std::fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyProblem::CorruptBlob {
                path,
                expected,
                actual,
            } => write!(
                f,
                "corrupt blob {}: content is {actual} but expected {expected}",
                path.display()
            ),
            VerifyProblem::StrayFile { path } => {
                write!(f, "stray file {} (not a sha256 blob name)", path.display())
            }
            VerifyProblem::MissingBlob { image, digest } => {
                write!(f, "image {image} lists blob {digest}, which is missing")
            }
            VerifyProblem::IndexUnusable { message, .. } => f.write_str(message),
            VerifyProblem::RefCount {
                digest,
                recorded,
                actual,
            } => write!(
                f,
                "blob {digest} has reference count {recorded} in the index but {actual} images use it"
            ),
        }
    }
}

/// What [`Store::verify`] found (and repaired).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blobs re-hashed.
    pub blobs_checked: u64,
    /// Their bytes.
    pub bytes_checked: u64,
    /// Image records checked.
    pub images_checked: u64,
    /// Blobs no image uses (not a problem: `images gc` deletes them).
    pub unreferenced_blobs: u64,
    /// Ingests not held by any writer (interrupted writes; resumable, or deleted by repair).
    pub stale_ingests: Vec<PathBuf>,
    /// `index.json` does not list exactly the recorded images (what differs). Not a problem:
    /// it is derived from the index and rewritten by the next write (a process killed between
    /// its index commit and the rewrite leaves it stale); `repair` rewrites it.
    pub index_json_stale: Option<String>,
    /// Problems that remain.
    pub problems: Vec<VerifyProblem>,
    /// What `repair` did.
    pub repaired: Vec<String>,
}

impl VerifyReport {
    /// True when no problem remains.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn hash_file(path: &std::path::Path) -> Result<(String, u64), StoreError> {
    let mut f = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| StoreError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((hex::encode(h.finalize()), n_total))
}

impl Store {
    /// Re-hash every blob, check that every image's blobs are present, the reference counts,
    /// and `index.json`; list stale ingests. With `repair`: delete corrupt blobs, drop image
    /// records whose blobs are missing, rebuild the reference counts and `index.json`, delete
    /// stale ingests; then check again and report what remains.
    ///
    /// A damaged, empty or missing index is a problem ([`VerifyProblem::IndexUnusable`]);
    /// `repair` rebuilds it from `index.json` and the blobs first (see the README), keeping
    /// every name whose blobs are intact.
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut repaired = Vec::new();
        if repair {
            match self.check_index() {
                Ok(()) => {}
                Err(StoreError::IndexUnusable { reason, .. }) => {
                    repaired.extend(self.rebuild_index(&reason)?);
                }
                Err(e) => return Err(e),
            }
        }
        let first = self.check()?;
        if !repair {
            return Ok(first);
        }
        let mut drop_keys = BTreeSet::new();
        let mut rebuild = false;
        for p in &first.problems {
            match p {
                VerifyProblem::CorruptBlob { path, .. } | VerifyProblem::StrayFile { path } => {
                    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
                    let r = if is_dir {
                        fs::remove_dir_all(path)
                    } else {
                        fs::remove_file(path)
                    };
                    match r {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::io("remove", path, e)),
                    }
                    repaired.push(format!("deleted {}", path.display()));
                }
                // Rebuilt above; still unusable means it could not be (reported again).
                VerifyProblem::IndexUnusable { .. } => {}
                VerifyProblem::MissingBlob { image, .. } => {
                    drop_keys.insert(image.clone());
                }
                VerifyProblem::RefCount { .. } => rebuild = true,
            }
        }
        if first.index_json_stale.is_some() {
            rebuild = true;
        }
        // Records that used a blob just deleted as corrupt are now missing blobs too.
        let mid = self.check_records()?;
        for p in &mid.0 {
            if let VerifyProblem::MissingBlob { image, .. } = p {
                drop_keys.insert(image.clone());
            }
        }
        if !drop_keys.is_empty() {
            let keys: Vec<String> = drop_keys.into_iter().collect();
            self.remove_images(&keys)?;
            for k in keys {
                repaired.push(format!("dropped image {k} (blobs missing)"));
            }
            rebuild = true;
        }
        if rebuild {
            self.rebuild_refs()?;
            repaired.push("rebuilt blob reference counts and index.json".into());
        }
        for dir in &first.stale_ingests {
            // Only when still not held by a writer.
            if let Ok(f) = File::open(dir.join("lock"))
                && f.try_lock().is_err()
            {
                continue;
            }
            fs::remove_dir_all(dir).map_err(|e| StoreError::io("remove", dir, e))?;
            repaired.push(format!("deleted stale ingest {}", dir.display()));
        }
        {
            // Leases of processes that are gone.
            let _g = self.lock.acquire(true)?;
            crate::lease::leased(self.leases_dir(), None)?;
        }
        let mut second = self.check()?;
        second.repaired = repaired;
        Ok(second)
    }

    fn check(&self) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let mut present = BTreeSet::new();
        for (name, md) in crate::gc::blob_files(self.blobs_dir())? {
            let path = self.blobs_dir().join(&name);
            if !md.is_file() || Digest::from_sha256_hex(&name).is_err() {
                report.problems.push(VerifyProblem::StrayFile { path });
                continue;
            }
            let (actual, n) = match hash_file(&path) {
                Ok(v) => v,
                // Deleted by a concurrent GC since the listing.
                Err(StoreError::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.blobs_checked += 1;
            report.bytes_checked += n;
            if actual != name {
                report.problems.push(VerifyProblem::CorruptBlob {
                    path,
                    expected: format!("sha256:{name}"),
                    actual: format!("sha256:{actual}"),
                });
            } else {
                present.insert(format!("sha256:{name}"));
            }
        }
        let (problems, images, referenced, stale) = self.check_records()?;
        report.images_checked = images;
        report.index_json_stale = stale;
        report.problems.extend(problems);
        report.unreferenced_blobs = present.difference(&referenced).count() as u64;
        if let Ok(rd) = fs::read_dir(self.ingest_dir()) {
            for ent in rd.flatten() {
                let dir = ent.path();
                let held = File::open(dir.join("lock")).is_ok_and(|f| f.try_lock().is_err());
                if !held {
                    report.stale_ingests.push(dir);
                }
            }
        }
        report.stale_ingests.sort();
        Ok(report)
    }

    /// Problems of the index (missing blobs, reference counts), the number of records, the set
    /// of referenced blobs, and how index.json differs from the records.
    #[allow(clippy::type_complexity)]
    fn check_records(
        &self,
    ) -> Result<(Vec<VerifyProblem>, u64, BTreeSet<String>, Option<String>), StoreError> {
        let mut problems = Vec::new();
        let (records, refs) = match self.list_index().and_then(|r| Ok((r, self.blob_refs()?))) {
            Ok(v) => v,
            Err(e) if e.is_index_unusable() => {
                let path = self.index.path.clone();
                problems.push(VerifyProblem::IndexUnusable {
                    path,
                    message: e.to_string(),
                });
                // What the layout lists: its blobs still count as referenced.
                let records: Vec<_> = self
                    .layout_entries()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| e.record)
                    .collect();
                let referenced = records
                    .iter()
                    .flat_map(|r| r.blobs.iter().map(|d| d.to_string()))
                    .collect();
                return Ok((problems, records.len() as u64, referenced, None));
            }
            Err(e) => return Err(e),
        };
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for r in &records {
            let blobs: BTreeSet<&Digest> = r.blobs.iter().collect();
            for b in blobs {
                *counts.entry(b.to_string()).or_default() += 1;
                if !self.has_blob(b) {
                    problems.push(VerifyProblem::MissingBlob {
                        image: r.key(),
                        digest: b.to_string(),
                    });
                }
            }
        }
        let recorded: BTreeMap<String, u64> = refs.into_iter().map(|(k, c, _)| (k, c)).collect();
        let all: BTreeSet<&String> = counts.keys().chain(recorded.keys()).collect();
        for k in all {
            let (a, r) = (
                counts.get(k).copied().unwrap_or(0),
                recorded.get(k).copied().unwrap_or(0),
            );
            if a != r {
                problems.push(VerifyProblem::RefCount {
                    digest: k.clone(),
                    recorded: r,
                    actual: a,
                });
            }
        }
        // index.json lists exactly the records' (name, manifest digest) pairs.
        let path = self.root().join("index.json");
        let listed: BTreeSet<(String, String)> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                let name = m
                    .pointer("/annotations/org.opencontainers.image.ref.name")?
                    .as_str()?;
                let d = m.get("digest")?.as_str()?;
                Some((name.to_string(), d.to_string()))
            })
            .collect();
        let expected: BTreeSet<(String, String)> = records
            .iter()
            .map(|r| (r.key(), r.manifest_digest.to_string()))
            .collect();
        let stale = (listed != expected).then(|| {
            let missing = expected.difference(&listed).count();
            let extra = listed.difference(&expected).count();
            format!("{missing} recorded images not listed, {extra} listed entries not recorded")
        });
        Ok((
            problems,
            records.len() as u64,
            counts.into_keys().collect(),
            stale,
        ))
    }

    /// Recompute the blob reference table from the image records, and rewrite index.json.
    fn rebuild_refs(&self) -> Result<(), StoreError> {
        let path = self.index.path.clone();
        self.index.write_then(
            |txn| {
                let images = txn
                    .open_table(IMAGES)
                    .map_err(|e| StoreError::index(&path, e))?;
                let records = crate::index::all_records(&images, &path)?;
                let mut refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                refs.retain(|_, _| false)
                    .map_err(|e| StoreError::index(&path, e))?;
                let counts = crate::index::blob_ref_counts(&records, |b| {
                    Ok(self.blob_size(b).unwrap_or(0))
                })?;
                for (k, v) in counts {
                    refs.insert(k.as_str(), v)
                        .map_err(|e| StoreError::index(&path, e))?;
                }
                Ok(())
            },
            |db, _| crate::layout::write_index_json(self.root(), db, &path),
        )?;
        self.invalidate();
        Ok(())
    }
}
