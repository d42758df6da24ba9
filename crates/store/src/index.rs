//! The redb index: tables, opening with a bounded wait for the lock, and the in-memory read
//! snapshot that makes lookups cheap.
//!
//! redb locks the whole database file while it is open, so several pullsim processes cannot
//! keep it open together. The store therefore opens it for each operation only, and when
//! another process holds it, retries with a bounded wait (reported once).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redb::{
    Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, WriteTransaction,
};

use crate::{ImageRecord, StoreError};

/// Images: `name:tag` or `name@digest` → JSON [`ImageRecord`].
pub(crate) const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
/// Blob references: `sha256:<hex>` → (number of image records using it, size in bytes).
pub(crate) const BLOB_REFS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("blob_refs");
/// KEP-2535 pulled records: image ID → JSON `PulledRecord`.
pub(crate) const PULLED: TableDefinition<&str, &[u8]> = TableDefinition::new("pulled_records");
/// KEP-2535 pull intents: image → JSON `PullIntent`.
pub(crate) const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("pull_intents");

/// Metadata: `generation` → incremented by every write transaction.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Called once per operation when it has to wait for another process's lock.
pub type WaitReporter = Arc<dyn Fn(&Path) + Send + Sync>;

pub(crate) struct Index {
    pub(crate) path: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) reporter: Option<WaitReporter>,
    // Serializes this process's own operations (threads sharing one Store).
    pub(crate) local: Mutex<()>,
}

/// Opening retries for this long before the wait is reported.
const REPORT_AFTER: Duration = Duration::from_millis(200);

fn cache_size() -> usize {
    4 << 20
}

impl Index {
    /// Create the database file with its tables if it does not exist.
    pub(crate) fn create_if_missing(&self) -> Result<(), StoreError> {
        if self.path.exists() {
            return Ok(());
        }
        self.write(|_| Ok(()))
    }

    fn wait_loop<T>(
        &self,
        mut attempt: impl FnMut() -> Result<Option<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        let mut reported = false;
        loop {
            if let Some(v) = attempt()? {
                return Ok(v);
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(StoreError::LockTimeout {
                    path: self.path.clone(),
                    waited_ms: waited.as_millis() as u64,
                });
            }
            if !reported && waited >= REPORT_AFTER {
                reported = true;
                tracing::info!(path = %self.path.display(), "waiting for the store lock held by another pullsim process");
                if let Some(r) = &self.reporter {
                    r(&self.path);
                }
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }

    fn open_rw(&self) -> Result<Database, StoreError> {
        self.wait_loop(|| {
            match Database::builder()
                .set_cache_size(cache_size())
                .create(&self.path)
            {
                Ok(db) => Ok(Some(db)),
                Err(DatabaseError::DatabaseAlreadyOpen) => Ok(None),
                Err(e) => Err(StoreError::index(&self.path, e)),
            }
        })
    }

    fn open_ro(&self) -> Result<ReadOnlyDatabase, StoreError> {
        self.wait_loop(|| {
            match Database::builder()
                .set_cache_size(cache_size())
                .open_read_only(&self.path)
            {
                Ok(db) => Ok(Some(db)),
                Err(DatabaseError::DatabaseAlreadyOpen) => Ok(None),
                Err(DatabaseError::RepairAborted) => {
                    // Not shut down cleanly (a writer was killed): a read-write open repairs it.
                    drop(self.open_rw()?);
                    Ok(None)
                }
                Err(e) => Err(StoreError::index(&self.path, e)),
            }
        })
    }

    /// Run `f` in one write transaction, then `after` with the database still open (so still
    /// locked against other processes), then close.
    pub(crate) fn write_then<T, U>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
        after: impl FnOnce(&Database, &T) -> Result<U, StoreError>,
    ) -> Result<(T, U), StoreError> {
        let _g = self.local.lock().unwrap_or_else(|p| p.into_inner());
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
            txn.open_table(PULLED)
                .map_err(|e| StoreError::index(&self.path, e))?;
            txn.open_table(INTENTS)
                .map_err(|e| StoreError::index(&self.path, e))?;
        }
        let t = f(&txn)?;
        {
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
        }
        txn.commit().map_err(|e| StoreError::index(&self.path, e))?;
        let u = after(&db, &t)?;
        drop(db);
        Ok((t, u))
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
        let _g = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let db = self.open_ro()?;
        let txn = db
            .begin_read()
            .map_err(|e| StoreError::index(&self.path, e))?;
        f(&txn)
    }
}

pub(crate) fn decode_record(key: &str, bytes: &[u8]) -> Result<ImageRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Invalid {
        what: "image record".into(),
        path: format!("index key {key}"),
        message: e.to_string(),
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
        out.push(decode_record(k.value(), v.value())?);
    }
    Ok(out)
}

/// The in-memory copy of the images table that lookups read.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub(crate) records: Vec<ImageRecord>,
    /// `name:tag`, `name@digest` and `name@<manifest digest>` → index into `records`.
    pub(crate) by_key: HashMap<String, usize>,
    pub(crate) stamp: Stamp,
    pub(crate) generation: u64,
}

impl Snapshot {
    pub(crate) fn build(records: Vec<ImageRecord>, stamp: Stamp, generation: u64) -> Snapshot {
        let mut by_key = HashMap::with_capacity(records.len() * 2);
        for (i, r) in records.iter().enumerate() {
            by_key.insert(r.key(), i);
        }
        for (i, r) in records.iter().enumerate() {
            by_key
                .entry(format!("{}@{}", r.name, r.manifest_digest))
                .or_insert(i);
        }
        Snapshot {
            records,
            by_key,
            stamp,
            generation,
        }
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
    let Ok(m) = std::fs::metadata(path) else {
        return Stamp::default();
    };
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
