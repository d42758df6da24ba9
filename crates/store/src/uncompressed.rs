//! The uncompressed digest of a blob, remembered: containerd's `containerd.io/uncompressed`
//! content label (`core/unpack/unpacker.go@v2.3.4` sets it on a layer once its diff ID was
//! verified through apply), kept here as one small file per blob:
//!
//! ```text
//! ROOT/uncompressed/<hex of the blob>   {"blob":"sha256:…","uncompressed":"sha256:…","size":N,"check":"…"}
//! ```
//!
//! - Written after the digest was computed from the bytes (while they streamed in, or read
//!   back from `blobs/`), by a rename of a complete temporary file: a reader sees the old
//!   record, the new one, or none.
//! - Never trusted blindly: a record that does not parse, names another blob, or whose `check`
//!   (a hash over its fields) does not match is damaged (a torn write after a crash, an edit)
//!   and reads as absent, so the caller decompresses again and rewrites it.
//! - Bounded: one record per blob, deleted with its blob by garbage collection, and records
//!   whose blob is gone are swept then too.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use pullsim_reference::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{Store, StoreError};

/// The directory of the records, under the store's root.
const DIR: &str = "uncompressed";

/// A record is a few hundred bytes; anything larger is not one.
const MAX_RECORD: u64 = 4096;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A blob's content once decompressed as containerd's `compression.DecompressStream` does
/// (gzip or zstd when the bytes start with their magic, else the bytes themselves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncompressed {
    /// The digest of the decompressed bytes (a layer's diff ID).
    pub digest: Digest,
    /// Their size in bytes.
    pub size: u64,
}

#[derive(Serialize, Deserialize)]
struct RecordFile {
    blob: String,
    uncompressed: String,
    size: u64,
    check: String,
}

/// The record's self-check: the first 16 bytes of a SHA-256 over its fields, hex.
fn check_of(blob: &str, uncompressed: &str, size: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"pullsim uncompressed record v1\n");
    h.update(blob.as_bytes());
    h.update(b"\n");
    h.update(uncompressed.as_bytes());
    h.update(b"\n");
    h.update(size.to_string().as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl Store {
    fn uncompressed_dir(&self) -> PathBuf {
        self.root().join(DIR)
    }

    fn uncompressed_path(&self, blob: &Digest) -> PathBuf {
        self.uncompressed_dir().join(blob.encoded())
    }

    /// The remembered uncompressed digest of `blob`; `None` when there is no record or the
    /// record is damaged (then it is deleted: the caller computes the digest again and
    /// records it with [`Store::record_uncompressed`]).
    pub fn uncompressed(&self, blob: &Digest) -> Option<Uncompressed> {
        let path = self.uncompressed_path(blob);
        let md = fs::metadata(&path).ok()?;
        let parsed = if md.is_file() && md.len() <= MAX_RECORD {
            fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<RecordFile>(&b).ok())
                .filter(|r| {
                    r.blob == blob.to_string()
                        && r.check == check_of(&r.blob, &r.uncompressed, r.size)
                })
                .and_then(|r| {
                    Some(Uncompressed {
                        digest: Digest::parse(&r.uncompressed).ok()?,
                        size: r.size,
                    })
                })
        } else {
            None
        };
        if parsed.is_none() {
            tracing::debug!(path = %path.display(), "damaged uncompressed-digest record: ignored");
            let _ = fs::remove_file(&path);
        }
        parsed
    }

    /// Remember that `blob` decompresses to `u` (computed from its bytes).
    pub fn record_uncompressed(&self, blob: &Digest, u: &Uncompressed) -> Result<(), StoreError> {
        let dir = self.uncompressed_dir();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create", &dir, e))?;
        let blob_s = blob.to_string();
        let unc_s = u.digest.to_string();
        let rec = RecordFile {
            check: check_of(&blob_s, &unc_s, u.size),
            blob: blob_s,
            uncompressed: unc_s,
            size: u.size,
        };
        let text = serde_json::to_vec(&rec).map_err(|e| StoreError::Invalid {
            what: "uncompressed-digest record".into(),
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{n}",
            blob.encoded(),
            std::process::id()
        ));
        fs::write(&tmp, text).map_err(|e| StoreError::io("write", &tmp, e))?;
        let path = self.uncompressed_path(blob);
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StoreError::io("rename", &path, e)
        })
    }

    /// Forget the record of a deleted blob.
    pub(crate) fn forget_uncompressed(&self, blob: &Digest) {
        let _ = fs::remove_file(self.uncompressed_path(blob));
    }

    /// Delete the records (and leftover temporary files) whose blob is gone. Returns how
    /// many were deleted.
    pub(crate) fn sweep_uncompressed(&self) -> usize {
        let Ok(rd) = fs::read_dir(self.uncompressed_dir()) else {
            return 0;
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let keep = Digest::from_sha256_hex(&name).is_ok_and(|d| self.has_blob(&d));
            if !keep && fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn round_trip_and_damage_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let u = Uncompressed {
            digest: d('b'),
            size: 42,
        };
        assert_eq!(store.uncompressed(&d('a')), None);
        store.record_uncompressed(&d('a'), &u).unwrap();
        assert_eq!(store.uncompressed(&d('a')), Some(u.clone()));
        let path = dir.path().join(DIR).join(d('a').encoded());
        // A torn write, a changed digest (check no longer matches), a record of another blob.
        let good = fs::read_to_string(&path).unwrap();
        for bad in [
            good[..good.len() / 2].to_string(),
            good.replace(&"b".repeat(64), &"c".repeat(64)),
            good.replace(&"a".repeat(64), &"e".repeat(64)),
            String::new(),
        ] {
            fs::write(&path, &bad).unwrap();
            assert_eq!(store.uncompressed(&d('a')), None, "{bad}");
            assert!(!path.exists(), "a damaged record is deleted");
        }
        // A record copied under another blob's name names its own blob: refused.
        store.record_uncompressed(&d('a'), &u).unwrap();
        fs::copy(&path, dir.path().join(DIR).join(d('f').encoded())).unwrap();
        assert_eq!(store.uncompressed(&d('f')), None);
        assert_eq!(store.uncompressed(&d('a')), Some(u));
    }

    #[test]
    fn sweep_deletes_records_without_their_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let present = store.put_bytes(b"layer bytes").unwrap();
        let u = Uncompressed {
            digest: d('b'),
            size: 1,
        };
        store.record_uncompressed(&present, &u).unwrap();
        store.record_uncompressed(&d('a'), &u).unwrap();
        fs::write(dir.path().join(DIR).join(".x.tmp-1-1"), b"junk").unwrap();
        assert_eq!(store.sweep_uncompressed(), 2);
        assert_eq!(store.uncompressed(&present), Some(u));
        assert_eq!(store.uncompressed(&d('a')), None);
    }
}
