//! [`Store`]: opening the root, blobs, and the image index.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pullsim_reference::{Algorithm, Digest, Reference};
use redb::{ReadableTable, TableError};

use crate::index::{self, BLOB_REFS, Commit, IMAGES, Index, META, Snapshot, decode_record, encode};
use crate::ingest::{BlobWriter, CommitOutcome, ref_dir_name, tmp_ref_name};
use crate::lease::Lease;
use crate::lock::{StoreLock, WaitReporter};
use crate::{ImageRecord, StoreError};

/// How long a snapshot is trusted before the index file is checked for changes.
const RECHECK_MS: u64 = 50;

/// Options for [`Store::open_with`].
#[derive(Clone)]
pub struct StoreOptions {
    /// How long an operation waits for another process's lock on the index (default 30 s).
    pub lock_timeout: Duration,
    /// Called once per operation that has to wait for that lock.
    pub on_wait: Option<WaitReporter>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            lock_timeout: Duration::from_secs(30),
            on_wait: None,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("lock_timeout", &self.lock_timeout)
            .field("on_wait", &self.on_wait.is_some())
            .finish()
    }
}

/// What a [`Store`] has asked of its index since it was opened ([`Store::index_counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexCounters {
    /// Read transactions.
    pub reads: u64,
    /// Write transactions.
    pub writes: u64,
    /// Reads of the whole images table into the in-memory lookup snapshot (each one a read
    /// transaction too): the only index work that grows with the number of images.
    pub snapshot_loads: u64,
}

/// The image store under one root directory. `Send + Sync`; share it behind an `Arc`.
pub struct Store {
    root: PathBuf,
    blobs_dir: PathBuf,
    ingest_dir: PathBuf,
    leases_dir: PathBuf,
    pub(crate) lock: Arc<StoreLock>,
    pub(crate) index: Index,
    /// The lease of blobs written or held through the public API, until they are recorded.
    own_lease: Mutex<Option<Arc<Lease>>>,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Records read from `index.json` while the index is unusable, with that file's stamp.
    pub(crate) layout_snapshot: RwLock<Option<Arc<Snapshot>>>,
    opened: Instant,
    last_check_ms: AtomicU64,
    cold_lookups: AtomicU64,
    /// Full reads of the images table into `snapshot`.
    snapshot_loads: AtomicU64,
    /// When the layout snapshot was last (re)validated (ms since `opened`; 0: never).
    layout_checked_ms: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

pub(crate) fn table_or_empty<T>(
    r: Result<T, TableError>,
    path: &Path,
) -> Result<Option<T>, StoreError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(StoreError::index(path, e)),
    }
}

impl Store {
    /// Open the store at `root`, creating the layout (and an empty index) if missing. Cheap for
    /// an existing store: a few `stat`s; the index is opened by the operations that need it.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, StoreOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(root: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let blobs_dir = root.join("blobs").join("sha256");
        let ingest_dir = root.join("ingest");
        let db_path = root.join("pullsim.redb");
        let lock = Arc::new(StoreLock::new(
            root.join("pullsim.lock"),
            opts.lock_timeout,
            opts.on_wait,
        ));
        let store = Store {
            root: root.to_path_buf(),
            blobs_dir,
            ingest_dir,
            leases_dir: root.join("leases"),
            index: Index {
                path: db_path,
                root: root.to_path_buf(),
                lock: lock.clone(),
                header_ok: Mutex::new(None),
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
            },
            lock,
            own_lease: Mutex::new(None),
            snapshot: RwLock::new(None),
            layout_snapshot: RwLock::new(None),
            opened: Instant::now(),
            last_check_ms: AtomicU64::new(0),
            cold_lookups: AtomicU64::new(0),
            snapshot_loads: AtomicU64::new(0),
            layout_checked_ms: AtomicU64::new(0),
        };
        if !store.index.path.exists() {
            for d in [&store.blobs_dir, &store.ingest_dir] {
                fs::create_dir_all(d).map_err(|e| StoreError::io("create", d, e))?;
            }
            crate::layout::ensure_layout_files(&store.root)?;
            // A store whose index.json lists images but whose index is gone is not new: the
            // index is left missing (reads work from the layout, writes ask for a repair).
            if !index::layout_lists_images(&store.root) {
                store.index.create_if_missing()?;
            }
        }
        Ok(store)
    }

    /// Open the index and read it once: `Ok` when it is usable, else the typed error
    /// ([`StoreError::IndexUnusable`] for a damaged, empty or lost index) without panicking.
    pub fn check_index(&self) -> Result<(), StoreError> {
        self.generation().map(|_| ())
    }

    /// Stop holding blobs that [`Store::hold_blob`], [`Store::writer`] or [`Store::put_blob`]
    /// held and that will not be recorded (a pull that failed or was cancelled), so that GC
    /// may delete them. Recording an image releases its blobs by itself.
    pub fn release_held(&self, blobs: &[Digest]) {
        if let Some(lease) = self
            .own_lease
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            lease.release(blobs.iter());
        }
    }

    /// `ROOT/leases`.
    pub(crate) fn leases_dir(&self) -> &Path {
        &self.leases_dir
    }

    /// This store's own lease (created on first use).
    fn own_lease(&self) -> Result<Arc<Lease>, StoreError> {
        let mut g = self.own_lease.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = g.as_ref() {
            return Ok(l.clone());
        }
        let l = Arc::new(Lease::new(&self.leases_dir, self.lock.clone())?);
        *g = Some(l.clone());
        Ok(l)
    }

    /// Whether the blob is present, holding it (a lease, as containerd's) until an image
    /// that lists it is recorded through this `Store`, or the `Store` is dropped: a
    /// concurrent `remove_images` or GC does not delete it meanwhile. Use this instead of
    /// [`Store::has_blob`] before relying on a present blob (e.g. a pull skipping it).
    pub fn hold_blob(&self, d: &Digest) -> Result<bool, StoreError> {
        Self::check_sha256(d)?;
        self.own_lease()?.add(d)?;
        Ok(self.has_blob(d))
    }

    /// `$PULLSIM_ROOT`, else `$XDG_DATA_HOME/pullsim`, else `~/.local/share/pullsim`.
    pub fn default_root() -> PathBuf {
        if let Some(r) = std::env::var_os("PULLSIM_ROOT").filter(|v| !v.is_empty()) {
            return PathBuf::from(r);
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("pullsim");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        PathBuf::from(home).join(".local/share/pullsim")
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index file (`ROOT/pullsim.redb`).
    pub fn index_path(&self) -> &Path {
        &self.index.path
    }

    /// `ROOT/blobs/sha256`.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs_dir
    }

    /// `ROOT/ingest`.
    pub fn ingest_dir(&self) -> &Path {
        &self.ingest_dir
    }

    /// Where the blob lives (whether or not it is present).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.encoded())
    }

    /// Whether the blob is in the store (committed, hence verified).
    pub fn has_blob(&self, d: &Digest) -> bool {
        d.algorithm() == Algorithm::Sha256 && self.blob_path(d).is_file()
    }

    /// Size of a present blob.
    pub fn blob_size(&self, d: &Digest) -> Result<u64, StoreError> {
        let p = self.blob_path(d);
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => Ok(m.len()),
            // Not a blob (e.g. a directory in its place): verify --repair deletes it.
            Ok(_) => Err(StoreError::BlobNotFound {
                digest: d.to_string(),
                context: format!(" ({} is not a regular file)", p.display()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::BlobNotFound {
                digest: d.to_string(),
                context: String::new(),
            }),
            Err(e) => Err(StoreError::io("stat", p, e)),
        }
    }

    /// Read a whole blob (for small blobs: manifests, configs).
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(d);
        match fs::read(&p) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::BlobNotFound {
                digest: d.to_string(),
                context: String::new(),
            }),
            Err(e) => Err(StoreError::io("read", p, e)),
        }
    }

    fn check_sha256(d: &Digest) -> Result<(), StoreError> {
        if d.algorithm() == Algorithm::Sha256 {
            Ok(())
        } else {
            Err(StoreError::UnsupportedDigest {
                digest: d.to_string(),
            })
        }
    }

    /// Open a writer for `ingest_ref` (any string naming the write, e.g. `repo@digest`),
    /// resuming an interrupted ingest of the same content. Waits while another writer holds
    /// the same ref; if that writer committed the blob, the returned writer reports
    /// [`BlobWriter::already_exists`] and its commit is [`CommitOutcome::AlreadyExists`].
    ///
    /// The blob is held (see [`Store::hold_blob`]) from now until an image listing it is
    /// recorded through this `Store`. A write that fails (e.g. a full disk) deletes the
    /// ingest's data when the writer is dropped.
    pub fn writer(
        &self,
        ingest_ref: &str,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter, StoreError> {
        Self::check_sha256(expected)?;
        let lease = self.own_lease()?;
        self.writer_in(Some(&lease), ingest_ref, expected, expected_size)
    }

    /// [`Store::writer`] under `lease` (`None`: the caller has already leased `expected`).
    pub(crate) fn writer_in(
        &self,
        lease: Option<&Lease>,
        ingest_ref: &str,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter, StoreError> {
        Self::check_sha256(expected)?;
        if let Some(l) = lease {
            l.add(expected)?;
        }
        BlobWriter::open(
            self.blobs_dir.clone(),
            self.ingest_dir.join(ref_dir_name(ingest_ref)),
            ingest_ref.to_string(),
            Some(expected.clone()),
            expected_size,
            None,
        )
    }

    /// A writer for content whose digest is learnt at the end (see `commit_unknown`), which
    /// `lease` holds from its commit.
    pub(crate) fn writer_unknown(
        &self,
        what: &str,
        lease: Arc<Lease>,
    ) -> Result<BlobWriter, StoreError> {
        BlobWriter::open(
            self.blobs_dir.clone(),
            self.ingest_dir.join(tmp_ref_name()),
            what.to_string(),
            None,
            None,
            Some(lease),
        )
    }

    /// Store `bytes` as a blob that must have digest `expected` (manifests, configs). Holds
    /// the blob as [`Store::writer`] does.
    pub fn put_blob(&self, expected: &Digest, bytes: &[u8]) -> Result<CommitOutcome, StoreError> {
        Self::check_sha256(expected)?;
        let lease = self.own_lease()?;
        self.put_blob_in(&lease, expected, bytes)
    }

    /// [`Store::put_blob`] under `lease`.
    pub(crate) fn put_blob_in(
        &self,
        lease: &Lease,
        expected: &Digest,
        bytes: &[u8],
    ) -> Result<CommitOutcome, StoreError> {
        Self::check_sha256(expected)?;
        lease.add(expected)?;
        if self.has_blob(expected) {
            return Ok(CommitOutcome::AlreadyExists);
        }
        let mut w = self.writer_in(None, expected.as_str(), expected, Some(bytes.len() as u64))?;
        if w.already_exists() {
            return w.commit();
        }
        w.truncate()?;
        w.write_all(bytes)
            .map_err(|e| StoreError::io("write", self.ingest_dir.clone(), e))?;
        w.commit()
    }

    /// Store `bytes` under the sha256 of their content and return that digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let mut w = self.writer_unknown("put_bytes", self.own_lease()?)?;
        w.write_all(bytes)
            .map_err(|e| StoreError::io("write", self.ingest_dir.clone(), e))?;
        let (d, _, _) = w.commit_unknown()?;
        Ok(d)
    }

    // ---------------------------------------------------------------- snapshot and lookups

    /// Drop the layout snapshot (the index is usable again).
    pub(crate) fn forget_layout_snapshot(&self) {
        if let Ok(mut s) = self.layout_snapshot.write() {
            *s = None;
        }
        self.layout_checked_ms.store(0, Ordering::Relaxed);
    }

    pub(crate) fn invalidate(&self) {
        if let Ok(mut s) = self.snapshot.write() {
            *s = None;
        }
    }

    /// After this process's own write `commit` that changed only `updated` records (same keys,
    /// manifests and image IDs): the snapshot of the generation before becomes the one after
    /// by replacing those records, instead of being reloaded whole on the next lookup. Any
    /// other snapshot (another process wrote in between) is dropped.
    pub(crate) fn patch_snapshot(&self, commit: Commit, updated: Vec<ImageRecord>) {
        let Ok(mut guard) = self.snapshot.write() else {
            return;
        };
        let patched = guard.as_mut().is_some_and(|arc| {
            if arc.generation != commit.generation_before {
                return false;
            }
            // Unshared unless a lookup on another thread holds it right now (then a copy).
            let snap = Arc::make_mut(arc);
            for rec in updated {
                if !snap.replace_in_place(rec) {
                    return false;
                }
            }
            snap.generation = commit.generation_before + 1;
            snap.stamp = commit.stamp;
            true
        });
        if patched {
            let now = self.opened.elapsed().as_millis() as u64 + 1;
            self.last_check_ms.store(now, Ordering::Relaxed);
        } else {
            *guard = None;
        }
    }

    /// What this `Store` has asked of its index since it was opened: read and write
    /// transactions and full loads of the lookup snapshot. For tests and benchmarks that bound
    /// the work of an operation (a lookup or a touch must not load every record).
    pub fn index_counters(&self) -> IndexCounters {
        IndexCounters {
            reads: self.index.reads.load(Ordering::Relaxed),
            writes: self.index.writes.load(Ordering::Relaxed),
            snapshot_loads: self.snapshot_loads.load(Ordering::Relaxed),
        }
    }

    /// The index snapshot, or while the index is unusable the records of `index.json`.
    fn snapshot(&self) -> Result<Arc<Snapshot>, StoreError> {
        // While the index is unusable, the layout's records are trusted for RECHECK_MS too.
        let now = self.opened.elapsed().as_millis() as u64 + 1;
        if now.saturating_sub(self.layout_checked_ms.load(Ordering::Relaxed)) < RECHECK_MS
            && let Some(s) = self.layout_snapshot.read().ok().and_then(|s| s.clone())
        {
            return Ok(s);
        }
        match self.index_snapshot() {
            Err(e) if e.is_index_unusable() => {
                let s = self.layout_snapshot_or(e)?;
                self.layout_checked_ms.store(now, Ordering::Relaxed);
                Ok(s)
            }
            other => other,
        }
    }

    fn index_snapshot(&self) -> Result<Arc<Snapshot>, StoreError> {
        let now = self.opened.elapsed().as_millis() as u64 + 1;
        let current = self.snapshot.read().ok().and_then(|s| s.clone());
        if let Some(s) = current {
            if now.saturating_sub(self.last_check_ms.load(Ordering::Relaxed)) < RECHECK_MS {
                return Ok(s);
            }
            let st = index::stamp(&self.index.path);
            if st == s.stamp && !st.is_recent() {
                self.last_check_ms.store(now, Ordering::Relaxed);
                return Ok(s);
            }
            if self.generation()? == s.generation {
                self.last_check_ms.store(now, Ordering::Relaxed);
                return Ok(s);
            }
        }
        let stamp = index::stamp(&self.index.path);
        self.snapshot_loads.fetch_add(1, Ordering::Relaxed);
        let (records, generation) = self.records_and_generation()?;
        let snap = Arc::new(Snapshot::build(records, stamp, generation));
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some(snap.clone());
        }
        self.last_check_ms.store(now, Ordering::Relaxed);
        Ok(snap)
    }

    fn generation(&self) -> Result<u64, StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            Ok(match table_or_empty(txn.open_table(META), &path)? {
                Some(t) => t
                    .get("generation")
                    .map_err(|e| StoreError::index(&path, e))?
                    .map(|v| v.value())
                    .unwrap_or(0),
                None => 0,
            })
        })
    }

    fn records_and_generation(&self) -> Result<(Vec<ImageRecord>, u64), StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            let records = match table_or_empty(txn.open_table(IMAGES), &path)? {
                Some(t) => index::all_records(&t, &path)?,
                None => Vec::new(),
            };
            let generation = match table_or_empty(txn.open_table(META), &path)? {
                Some(t) => t
                    .get("generation")
                    .map_err(|e| StoreError::index(&path, e))?
                    .map(|v| v.value())
                    .unwrap_or(0),
                None => 0,
            };
            Ok((records, generation))
        })
    }

    /// The index key a reference resolves to (`name:tag`, default tag `latest`, or
    /// `name@digest`; a digest wins over a tag as in containerd).
    pub fn key_for(r: &Reference) -> String {
        let r = r.with_default_tag();
        match (r.digest(), r.tag()) {
            (Some(d), _) => format!("{}@{}", r.name(), d),
            (None, Some(t)) => format!("{}:{}", r.name(), t),
            (None, None) => format!("{}:latest", r.name()),
        }
    }

    /// Find an image by reference (normalized: `nginx`, `library/nginx` and
    /// `docker.io/library/nginx:latest` are one image). A digest reference matches a record
    /// named by that digest or any record of the same repository with that manifest digest.
    ///
    /// The first lookup of a `Store` reads the one record from the index (what a CLI call
    /// pays); later ones load and use the in-memory snapshot.
    pub fn lookup(&self, r: &Reference) -> Result<Option<ImageRecord>, StoreError> {
        let key = Self::key_for(r);
        let have_snapshot = self.snapshot.read().map(|s| s.is_some()).unwrap_or(false);
        if !have_snapshot && self.cold_lookups.fetch_add(1, Ordering::Relaxed) == 0 {
            match self.lookup_direct(r, &key) {
                Err(e) if e.is_index_unusable() => {}
                other => return other,
            }
        }
        let snap = self.snapshot()?;
        Ok(snap.by_key.get(&key).map(|&i| snap.records[i].clone()))
    }

    /// One lookup straight from the index: the record at `key`, else (for a digest
    /// reference) the first record of the same repository with that manifest digest.
    fn lookup_direct(&self, r: &Reference, key: &str) -> Result<Option<ImageRecord>, StoreError> {
        let path = self.index.path.clone();
        let name = r.name();
        let digest = r.digest().cloned();
        self.index.read(|txn| {
            let Some(t) = table_or_empty(txn.open_table(IMAGES), &path)? else {
                return Ok(None);
            };
            if let Some(v) = t.get(key).map_err(|e| StoreError::index(&path, e))? {
                return Ok(Some(decode_record(&path, key, v.value())?));
            }
            let Some(d) = digest else {
                return Ok(None);
            };
            for item in t
                .range::<&str>(name.as_str()..)
                .map_err(|e| StoreError::index(&path, e))?
            {
                let (k, v) = item.map_err(|e| StoreError::index(&path, e))?;
                let k = k.value();
                let Some(rest) = k.strip_prefix(name.as_str()) else {
                    break;
                };
                if !(rest.starts_with(':') || rest.starts_with('@')) {
                    continue;
                }
                let rec = decode_record(&path, k, v.value())?;
                if rec.manifest_digest == d {
                    return Ok(Some(rec));
                }
            }
            Ok(None)
        })
    }

    /// Find an image by ID (config digest): `sha256:<hex>`, `<hex>`, or a unique hex prefix.
    pub fn lookup_id(&self, image_id: &str) -> Result<Option<ImageRecord>, StoreError> {
        Ok(self.records_by_id(image_id)?.into_iter().next())
    }

    /// Every record (name) of the image with this ID or unique ID prefix.
    pub fn records_by_id(&self, image_id: &str) -> Result<Vec<ImageRecord>, StoreError> {
        self.map_by_id(image_id, |r| Some(r.clone()))
    }

    /// [`Store::records_by_id`] through `f`, which sees each record in the snapshot (no copy
    /// of the records it does not keep).
    pub(crate) fn map_by_id<T>(
        &self,
        image_id: &str,
        f: impl Fn(&ImageRecord) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let hex_part = image_id.strip_prefix("sha256:").unwrap_or(image_id);
        if hex_part.is_empty() || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let hex_part = hex_part.to_ascii_lowercase();
        let snap = self.snapshot()?;
        match snap.by_id_prefix(&hex_part) {
            Ok(matches) => Ok(matches.into_iter().filter_map(f).collect()),
            Err(count) => Err(StoreError::AmbiguousId {
                prefix: image_id.to_string(),
                count,
            }),
        }
    }

    /// Every image record, in key order. Reads the index (not the snapshot); while the index
    /// is unusable, the records listed in `index.json`.
    pub fn list(&self) -> Result<Vec<ImageRecord>, StoreError> {
        match self.list_index() {
            Err(e) if e.is_index_unusable() => Ok(self.layout_snapshot_or(e)?.records.clone()),
            other => other,
        }
    }

    /// Every record of the index itself (no fallback).
    pub(crate) fn list_index(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let path = self.index.path.clone();
        self.index
            .read(|txn| match table_or_empty(txn.open_table(IMAGES), &path)? {
                Some(t) => index::all_records(&t, &path),
                None => Ok(Vec::new()),
            })
    }

    /// Blob → (number of image records using it, size), for every referenced blob.
    pub fn blob_refs(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            let mut out = Vec::new();
            if let Some(t) = table_or_empty(txn.open_table(BLOB_REFS), &path)? {
                for item in t.iter().map_err(|e| StoreError::index(&path, e))? {
                    let (k, v) = item.map_err(|e| StoreError::index(&path, e))?;
                    let (count, size) = v.value();
                    out.push((k.value().to_string(), count, size));
                }
            }
            Ok(out)
        })
    }

    // ---------------------------------------------------------------- writes to the index

    /// Record one image name (see [`Store::record_images`]).
    pub fn record_image(&self, rec: &ImageRecord) -> Result<(), StoreError> {
        self.record_images(std::slice::from_ref(rec))
    }

    /// Record image names in one transaction. Every listed blob must be present, or nothing is
    /// recorded. Re-recording a name keeps its first-seen time (same image ID) and its pin,
    /// and moves the blob references from the old content to the new.
    pub fn record_images(&self, recs: &[ImageRecord]) -> Result<(), StoreError> {
        let path = self.index.path.clone();
        let result = self.index.write_then(
            |txn| {
                let mut images = txn
                    .open_table(IMAGES)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut refs = txn
                    .open_table(BLOB_REFS)
                    .map_err(|e| StoreError::index(&path, e))?;
                for rec in recs {
                    let key = rec.key();
                    let mut rec = rec.clone();
                    let blobs: BTreeSet<&Digest> = rec.blobs.iter().collect();
                    let mut sizes = Vec::with_capacity(blobs.len());
                    for b in &blobs {
                        let size = self.blob_size(b).map_err(|e| match e {
                            StoreError::BlobNotFound { digest, .. } => StoreError::BlobNotFound {
                                digest,
                                context: format!(" (image {key} lists it)"),
                            },
                            other => other,
                        })?;
                        sizes.push(size);
                    }
                    if !blobs.contains(&rec.manifest_digest) {
                        return Err(StoreError::Invalid {
                            what: "image record".into(),
                            path: key,
                            message: format!(
                                "blobs do not include the manifest {}",
                                rec.manifest_digest
                            ),
                        });
                    }
                    let old = images
                        .get(key.as_str())
                        .map_err(|e| StoreError::index(&path, e))?
                        .map(|v| decode_record(&path, &key, v.value()))
                        .transpose()?;
                    if let Some(old) = old {
                        if old.config_digest == rec.config_digest {
                            rec.first_seen_ms = rec.first_seen_ms.min(old.first_seen_ms);
                            rec.last_used_ms = rec.last_used_ms.max(old.last_used_ms);
                        }
                        rec.pinned |= old.pinned;
                        index::release_blob_refs(&mut refs, &old.blobs, &path, |_, _| {})?;
                    }
                    for (b, size) in blobs.iter().zip(sizes) {
                        let k = b.to_string();
                        let c = refs
                            .get(k.as_str())
                            .map_err(|e| StoreError::index(&path, e))?
                            .map(|v| v.value().0)
                            .unwrap_or(0);
                        refs.insert(k.as_str(), (c + 1, size))
                            .map_err(|e| StoreError::index(&path, e))?;
                    }
                    let bytes = encode("image record", &rec)?;
                    images
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(|e| StoreError::index(&path, e))?;
                }
                Ok(())
            },
            |db, _| crate::layout::write_index_json(&self.root, db, &path),
        );
        self.invalidate();
        result?;
        // Recorded: the reference counts protect these blobs now.
        if let Some(lease) = self
            .own_lease
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            lease.release(recs.iter().flat_map(|r| r.blobs.iter()));
        }
        Ok(())
    }
}
