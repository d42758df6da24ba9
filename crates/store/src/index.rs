//! The redb index: tables, opening under the store lock, the checks that keep a damaged,
//! empty or missing index from passing for an empty one, and the in-memory read snapshot that
//! makes lookups cheap.
//!
//! redb locks the whole database file while it is open, so several pullsim processes cannot
//! keep it open together. The store therefore opens it for each operation only, under the
//! store lock ([`crate::lock::StoreLock`]): shared for reads, exclusive for writes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{
    Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, WriteTransaction,
};

use crate::lock::{StoreLock, catch, wait_loop};
use crate::{ImageRecord, StoreError};

/// Images: `name:tag` or `name@digest` → JSON [`ImageRecord`].
pub(crate) const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
/// Blob references: `sha256:<hex>` → (number of image records using it, size in bytes).
pub(crate) const BLOB_REFS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("blob_refs");

/// Metadata: `generation` → incremented by every write transaction.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(crate) struct Index {
    pub(crate) path: PathBuf,
    /// The store root (its `index.json` tells a new store from a lost index).
    pub(crate) root: PathBuf,
    pub(crate) lock: Arc<StoreLock>,
    /// The file version whose header last passed [`crate::redb_header::check`].
    pub(crate) header_ok: std::sync::Mutex<Option<Stamp>>,
    /// Read transactions begun (see [`crate::Store::index_counters`]).
    pub(crate) reads: AtomicU64,
    /// Write transactions begun.
    pub(crate) writes: AtomicU64,
}

/// A committed write transaction: the generation it replaced, and the index file's stamp
/// after it (the database closed, the store lock still held).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Commit {
    pub(crate) generation_before: u64,
    pub(crate) stamp: Stamp,
}

fn cache_size() -> usize {
    4 << 20
}

/// What the index file looks like before redb opens it.
enum FileState {
    /// Present and not empty: redb decides.
    Present,
    /// Missing, or empty (0 bytes), in a store whose `index.json` lists no image: a new store
    /// (or one whose creation was interrupted); creating the index loses nothing.
    Creatable,
    /// Missing or empty while `index.json` lists images.
    Lost(String),
}

/// Whether `ROOT/index.json` lists at least one image (an unreadable one counts as listing:
/// we cannot tell, so nothing is created over it).
pub(crate) fn layout_lists_images(root: &Path) -> bool {
    let path = root.join("index.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("manifests")
                    .and_then(|m| m.as_array())
                    .map(|m| !m.is_empty())
            })
            .unwrap_or(true),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

impl Index {
    fn file_state(&self) -> Result<FileState, StoreError> {
        let why = match std::fs::metadata(&self.path) {
            Ok(m) if m.len() > 0 => {
                self.check_header(stamp_of(&m))?;
                return Ok(FileState::Present);
            }
            Ok(_) => "it is empty (0 bytes)",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "it is missing",
            Err(e) => return Err(StoreError::io("stat", &self.path, e)),
        };
        Ok(if layout_lists_images(&self.root) {
            FileState::Lost(why.to_string())
        } else {
            FileState::Creatable
        })
    }

    /// Refuse a header redb would misread (see [`crate::redb_header`]); skipped for a file
    /// version already checked.
    fn check_header(&self, st: Stamp) -> Result<(), StoreError> {
        let mut ok = self.header_ok.lock().unwrap_or_else(|p| p.into_inner());
        if *ok == Some(st) && !st.is_recent() {
            return Ok(());
        }
        match crate::redb_header::check(&self.path) {
            Ok(Ok(())) => {
                *ok = Some(st);
                Ok(())
            }
            Ok(Err(reason)) => Err(StoreError::IndexUnusable {
                path: self.path.clone(),
                reason,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(StoreError::IndexUnusable {
                    path: self.path.clone(),
                    reason: "it is shorter than its header".into(),
                })
            }
            Err(e) => Err(StoreError::io("read", &self.path, e)),
        }
    }

    /// Create the database file with its tables if it does not exist (a new store).
    pub(crate) fn create_if_missing(&self) -> Result<(), StoreError> {
        if self.path.exists() {
            return Ok(());
        }
        self.write(|_| Ok(()))
    }

    fn open_rw(&self) -> Result<Database, StoreError> {
        wait_loop(
            &self.path,
            self.lock.timeout,
            self.lock.reporter.as_ref(),
            || match Database::builder()
                .set_cache_size(cache_size())
                .create(&self.path)
            {
                Ok(db) => Ok(Some(db)),
                // Held by a process that does not take the store lock (an older pullsim).
                Err(DatabaseError::DatabaseAlreadyOpen) => Ok(None),
                Err(e) => Err(StoreError::index(&self.path, e)),
            },
        )
    }

    /// `Ok(None)`: the file was not shut down cleanly and needs a read-write open to repair.
    fn open_ro(&self) -> Result<Option<ReadOnlyDatabase>, StoreError> {
        wait_loop(
            &self.path,
            self.lock.timeout,
            self.lock.reporter.as_ref(),
            || match Database::builder()
                .set_cache_size(cache_size())
                .open_read_only(&self.path)
            {
                Ok(db) => Ok(Some(Some(db))),
                Err(DatabaseError::DatabaseAlreadyOpen) => Ok(None),
                Err(DatabaseError::RepairAborted) => Ok(Some(None)),
                Err(e) => Err(StoreError::index(&self.path, e)),
            },
        )
    }

    /// Run `f` in one write transaction, then `after` with the database still open and the
    /// store lock still held, then close.
    pub(crate) fn write_then<T, U>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
        after: impl FnOnce(&Database, &T) -> Result<U, StoreError>,
    ) -> Result<(T, U), StoreError> {
        self.write_inner(false, f, after)
    }

    /// [`Index::write_then`]; with `replace_lost`, the index file (if any) is moved aside to
    /// `pullsim.redb.damaged` and a new one created (the rebuild from the layout).
    pub(crate) fn write_inner<T, U>(
        &self,
        replace_lost: bool,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
        after: impl FnOnce(&Database, &T) -> Result<U, StoreError>,
    ) -> Result<(T, U), StoreError> {
        self.write_commit(replace_lost, f, after)
            .map(|(t, u, _)| (t, u))
    }

    /// [`Index::write_inner`], also saying which generation the transaction replaced and the
    /// file's stamp once closed (taken under the store lock, so no other writer is in it):
    /// what a snapshot of the generation before needs to become the one after.
    pub(crate) fn write_commit<T, U>(
        &self,
        replace_lost: bool,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
        after: impl FnOnce(&Database, &T) -> Result<U, StoreError>,
    ) -> Result<(T, U, Commit), StoreError> {
        let _g = self.lock.acquire(true)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        catch(&self.path, || {
            let state = if replace_lost {
                // The rebuild: whatever is there goes aside, under the same lock.
                let aside = self.path.with_file_name("pullsim.redb.damaged");
                match std::fs::rename(&self.path, &aside) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("rename", &self.path, e)),
                }
                FileState::Creatable
            } else {
                self.file_state()?
            };
            match state {
                FileState::Present => {}
                FileState::Lost(reason) => {
                    return Err(StoreError::IndexUnusable {
                        path: self.path.clone(),
                        reason,
                    });
                }
                FileState::Creatable => {
                    // redb would not initialize a 0-byte file as a new database.
                    match std::fs::remove_file(&self.path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::io("remove", &self.path, e)),
                    }
                }
            }
            let db = self.open_rw()?;
            let txn = db
                .begin_write()
                .map_err(|e| StoreError::index(&self.path, e))?;
            {
                // Make sure every table exists.
                txn.open_table(IMAGES)
                    .map_err(|e| StoreError::index(&self.path, e))?;
                txn.open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&self.path, e))?;
            }
            let t = f(&txn)?;
            let generation_before = {
                let mut meta = txn
                    .open_table(META)
                    .map_err(|e| StoreError::index(&self.path, e))?;
                let g = meta
                    .get("generation")
                    .map_err(|e| StoreError::index(&self.path, e))?
                    .map(|v| v.value())
                    .unwrap_or(0);
                meta.insert("generation", g + 1)
                    .map_err(|e| StoreError::index(&self.path, e))?;
                g
            };
            txn.commit().map_err(|e| StoreError::index(&self.path, e))?;
            let u = after(&db, &t)?;
            drop(db);
            let commit = Commit {
                generation_before,
                stamp: stamp(&self.path),
            };
            Ok((t, u, commit))
        })
    }

    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        Ok(self.write_then(f, |_, _| Ok(()))?.0)
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut f = Some(f);
        let mut repaired = false;
        loop {
            let g = self.lock.acquire(false)?;
            match self.file_state()? {
                FileState::Present => {}
                FileState::Creatable => {
                    drop(g);
                    self.write(|_| Ok(()))?;
                    continue;
                }
                FileState::Lost(reason) => {
                    return Err(StoreError::IndexUnusable {
                        path: self.path.clone(),
                        reason,
                    });
                }
            }
            let done = catch(&self.path, || {
                let Some(db) = self.open_ro()? else {
                    return Ok(None);
                };
                let txn = db
                    .begin_read()
                    .map_err(|e| StoreError::index(&self.path, e))?;
                match f.take() {
                    Some(f) => f(&txn).map(Some),
                    None => Err(StoreError::index(
                        &self.path,
                        redb::Error::Io(std::io::Error::other("read retried after use")),
                    )),
                }
            })?;
            if let Some(v) = done {
                return Ok(v);
            }
            // Not shut down cleanly (a writer was killed): a read-write open repairs it.
            drop(g);
            if repaired {
                return Err(StoreError::IndexUnusable {
                    path: self.path.clone(),
                    reason: "it still needs a repair after redb repaired it".into(),
                });
            }
            repaired = true;
            let _w = self.lock.acquire(true)?;
            catch(&self.path, || {
                drop(self.open_rw()?);
                Ok(())
            })?;
        }
    }
}

/// Decode one record of the images table. A value that is not a record means the index is
/// damaged (only the store writes it).
pub(crate) fn decode_record(
    path: &Path,
    key: &str,
    bytes: &[u8],
) -> Result<ImageRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::IndexUnusable {
        path: path.to_path_buf(),
        reason: format!("the record at key {key:?} is not a valid image record ({e})"),
    })
}

/// Drop one reference from each distinct blob in `blobs` (an image that no longer lists them).
/// `on_zero(blob, size)` is called for each blob whose count reaches zero (its entry removed) and,
/// with size 0, for each blob that had no entry at all.
pub(crate) fn release_blob_refs<'a>(
    refs: &mut redb::Table<'_, &'static str, (u64, u64)>,
    blobs: impl IntoIterator<Item = &'a pullsim_reference::Digest>,
    path: &Path,
    mut on_zero: impl FnMut(&'a pullsim_reference::Digest, u64),
) -> Result<(), StoreError> {
    let distinct: std::collections::BTreeSet<&pullsim_reference::Digest> =
        blobs.into_iter().collect();
    for b in distinct {
        let k = b.to_string();
        let cur = refs
            .get(k.as_str())
            .map_err(|e| StoreError::index(path, e))?
            .map(|v| v.value());
        match cur {
            Some((c, s)) if c > 1 => {
                refs.insert(k.as_str(), (c - 1, s))
                    .map_err(|e| StoreError::index(path, e))?;
            }
            Some((_, s)) => {
                refs.remove(k.as_str())
                    .map_err(|e| StoreError::index(path, e))?;
                on_zero(b, s);
            }
            None => on_zero(b, 0),
        }
    }
    Ok(())
}

/// The blob reference table of `records`: per blob (each counted once per record), the number
/// of records using it and its size (`size` is asked once per blob).
pub(crate) fn blob_ref_counts(
    records: &[ImageRecord],
    mut size: impl FnMut(&pullsim_reference::Digest) -> Result<u64, StoreError>,
) -> Result<std::collections::BTreeMap<String, (u64, u64)>, StoreError> {
    let mut counts = std::collections::BTreeMap::new();
    for r in records {
        let blobs: std::collections::BTreeSet<&pullsim_reference::Digest> =
            r.blobs.iter().collect();
        for b in blobs {
            match counts.entry(b.to_string()) {
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    let v: &mut (u64, u64) = e.get_mut();
                    v.0 += 1;
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert((1, size(b)?));
                }
            }
        }
    }
    Ok(counts)
}

pub(crate) fn encode<T: serde::Serialize>(what: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid {
        what: what.into(),
        path: "index".into(),
        message: e.to_string(),
    })
}

pub(crate) fn all_records(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    path: &Path,
) -> Result<Vec<ImageRecord>, StoreError> {
    let mut out = Vec::new();
    for item in table.iter().map_err(|e| StoreError::index(path, e))? {
        let (k, v) = item.map_err(|e| StoreError::index(path, e))?;
        out.push(decode_record(path, k.value(), v.value())?);
    }
    Ok(out)
}

/// The in-memory copy of the images table that lookups read.
#[derive(Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) records: Vec<ImageRecord>,
    /// `name:tag`, `name@digest` and `name@<manifest digest>` → index into `records`.
    pub(crate) by_key: HashMap<String, usize>,
    /// Image ID (the config digest's hex) → indices into `records`, in key order: a lookup by
    /// ID or ID prefix is a B-tree range, not a walk of every record.
    pub(crate) by_id: BTreeMap<String, Vec<usize>>,
    pub(crate) stamp: Stamp,
    pub(crate) generation: u64,
}

impl Snapshot {
    pub(crate) fn build(records: Vec<ImageRecord>, stamp: Stamp, generation: u64) -> Snapshot {
        let mut by_key = HashMap::with_capacity(records.len() * 2);
        let mut by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            by_key.insert(r.key(), i);
            match by_id.get_mut(r.config_digest.encoded()) {
                Some(v) => v.push(i),
                None => {
                    by_id.insert(r.config_digest.encoded().to_string(), vec![i]);
                }
            }
        }
        for (i, r) in records.iter().enumerate() {
            by_key
                .entry(format!("{}@{}", r.name, r.manifest_digest))
                .or_insert(i);
        }
        Snapshot {
            records,
            by_key,
            by_id,
            stamp,
            generation,
        }
    }

    /// The records whose image ID starts with `hex` (lowercase), in key order: `Ok` when
    /// they are all of one image (or none), else `Err` with the number of distinct IDs.
    pub(crate) fn by_id_prefix(&self, hex: &str) -> Result<Vec<&ImageRecord>, usize> {
        let mut ids = self
            .by_id
            .range::<str, _>((std::ops::Bound::Included(hex), std::ops::Bound::Unbounded))
            .take_while(|(id, _)| id.starts_with(hex));
        let Some((_, first)) = ids.next() else {
            return Ok(Vec::new());
        };
        let more = ids.count();
        if more > 0 {
            return Err(more + 1);
        }
        Ok(first.iter().map(|&i| &self.records[i]).collect())
    }

    /// Replace the record with `rec`'s key in place, when what the maps index (key, manifest
    /// and config digests) is unchanged; `false` (nothing changed) otherwise.
    pub(crate) fn replace_in_place(&mut self, rec: ImageRecord) -> bool {
        let Some(&i) = self.by_key.get(&rec.key()) else {
            return false;
        };
        let Some(old) = self.records.get_mut(i) else {
            return false;
        };
        if old.key() != rec.key()
            || old.manifest_digest != rec.manifest_digest
            || old.config_digest != rec.config_digest
        {
            return false;
        }
        *old = rec;
        true
    }
}

/// What identifies a version of the database file on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

impl Stamp {
    /// Modified less than a second ago: within the file system's timestamp granularity of a
    /// write we may not see, so the stamp alone cannot prove the snapshot current.
    pub(crate) fn is_recent(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        now - self.mtime_ns < 1_000_000_000
    }
}

pub(crate) fn stamp(path: &Path) -> Stamp {
    match std::fs::metadata(path) {
        Ok(m) => stamp_of(&m),
        Err(_) => Stamp::default(),
    }
}

fn stamp_of(m: &std::fs::Metadata) -> Stamp {
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    #[cfg(unix)]
    let ino = {
        use std::os::unix::fs::MetadataExt;
        m.ino()
    };
    #[cfg(not(unix))]
    let ino = 0;
    Stamp {
        len: m.len(),
        mtime_ns,
        ino,
    }
}
