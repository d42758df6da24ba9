//! Leases, as containerd's: blobs that a load or a pull has committed (or found present) and is
//! about to record are held by its lease, and removal and GC leave leased blobs alone.
//!
//! A lease is a directory `ROOT/leases/<pid>-<time>-<n>/` holding an empty file per leased blob
//! (named by its hex digest) and a `.lock` file that the owner keeps locked (`flock`) for the
//! lease's life. A lease whose lock is free belongs to a process that is gone: it is expired
//! and deleted by the next removal or GC. Entries older than [`LEASE_EXPIRY`] are ignored, as
//! containerd expires a pull's lease after 24 hours.
//!
//! Adding a blob to a lease, and deleting blobs, both happen under the exclusive store lock, so
//! a blob checked for presence after it was leased cannot be deleted before it is recorded.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pullsim_reference::Digest;

use crate::StoreError;
use crate::lock::StoreLock;

/// Leased entries older than this are not honoured.
pub(crate) const LEASE_EXPIRY: Duration = Duration::from_secs(24 * 3600);

const LOCK_FILE: &str = ".lock";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One lease, held until dropped.
pub(crate) struct Lease {
    dir: PathBuf,
    store_lock: Arc<StoreLock>,
    added: Mutex<HashSet<String>>,
    // Locked for the lease's life; closed (released) after the directory is removed.
    _lock: File,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("dir", &self.dir).finish()
    }
}

impl Lease {
    /// Create a lease under `leases_dir`.
    pub(crate) fn new(leases_dir: &Path, store_lock: Arc<StoreLock>) -> Result<Lease, StoreError> {
        let _g = store_lock.acquire(true)?;
        fs::create_dir_all(leases_dir).map_err(|e| StoreError::io("create", leases_dir, e))?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = leases_dir.join(format!("{}-{nanos}-{n}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| StoreError::io("create", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io("create", &lock_path, e))?;
        lock.try_lock().map_err(|e| {
            let e = match e {
                TryLockError::Error(e) => e,
                TryLockError::WouldBlock => std::io::Error::other("held by another process"),
            };
            StoreError::io("lock", &lock_path, e)
        })?;
        drop(_g);
        Ok(Lease {
            dir,
            store_lock,
            added: Mutex::new(HashSet::new()),
            _lock: lock,
        })
    }

    /// The lease's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hold blob `d`. Takes the exclusive store lock: no removal or GC runs between this and
    /// the caller's check that the blob is present. Must not be called with the lock held.
    pub(crate) fn add(&self, d: &Digest) -> Result<(), StoreError> {
        let hex = d.encoded().to_string();
        let mut added = self.added.lock().unwrap_or_else(|p| p.into_inner());
        if added.contains(&hex) {
            return Ok(());
        }
        let _g = self.store_lock.acquire(true)?;
        let p = self.dir.join(&hex);
        File::create(&p).map_err(|e| StoreError::io("create", &p, e))?;
        added.insert(hex);
        Ok(())
    }

    /// Stop holding these blobs (they are recorded, so their reference counts protect them).
    pub(crate) fn release<'a>(&self, digests: impl IntoIterator<Item = &'a Digest>) {
        let mut added = self.added.lock().unwrap_or_else(|p| p.into_inner());
        for d in digests {
            if added.remove(d.encoded()) {
                let _ = fs::remove_file(self.dir.join(d.encoded()));
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The lock file goes with the directory; the lock is released when `_lock` closes.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The blobs (`sha256:<hex>`) held by live leases other than `except`. Leases whose owner is
/// gone are deleted. Call with the exclusive store lock held.
pub(crate) fn leased(
    leases_dir: &Path,
    except: Option<&Path>,
) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    let rd = match fs::read_dir(leases_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io("read dir", leases_dir, e)),
    };
    let now = SystemTime::now();
    for ent in rd.flatten() {
        let dir = ent.path();
        if except == Some(dir.as_path()) {
            continue;
        }
        let live = match File::open(dir.join(LOCK_FILE)) {
            Ok(f) => matches!(f.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        };
        if !live {
            let _ = fs::remove_dir_all(&dir);
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name == LOCK_FILE {
                continue;
            }
            let fresh = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|m| now.duration_since(m).ok())
                .is_none_or(|age| age < LEASE_EXPIRY);
            if fresh {
                out.insert(format!("sha256:{name}"));
            }
        }
    }
    Ok(out)
}
