//! The OCI image-layout files of the root (`oci-layout`, `index.json`) and `images save`.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pullsim_reference::Digest;
use redb::{Database, ReadableDatabase};
use serde_json::json;

use crate::index::{BLOB_REFS, IMAGES, all_records};
use crate::{ImageRecord, Store, StoreError};

/// Annotation naming a manifest in an OCI layout's index.json.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation carrying the full image name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

static TMP: AtomicU64 = AtomicU64::new(0);

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let n = TMP.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let mut f = File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::io("write", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", path, e))?;
    Ok(())
}

/// Create `oci-layout` and an empty `index.json` when missing.
pub(crate) fn ensure_layout_files(root: &Path) -> Result<(), StoreError> {
    let layout = root.join("oci-layout");
    if !layout.exists() {
        write_atomic(&layout, OCI_LAYOUT.as_bytes())?;
    }
    let index = root.join("index.json");
    if !index.exists() {
        write_atomic(&index, &index_json(&[], |_| 0))?;
    }
    Ok(())
}

/// An OCI image index listing `records`, each annotated with its full name.
fn index_json(records: &[ImageRecord], size_of: impl Fn(&Digest) -> u64) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            json!({
                "mediaType": r.media_type,
                "digest": r.manifest_digest.to_string(),
                "size": size_of(&r.manifest_digest),
                "annotations": {
                    ANNOTATION_CONTAINERD_NAME: r.key(),
                    ANNOTATION_REF_NAME: r.key(),
                },
            })
        })
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": crate::OCI_INDEX,
        "manifests": manifests,
    });
    let mut v = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Rewrite `ROOT/index.json` from the index. Called with the database open (locked).
pub(crate) fn write_index_json(root: &Path, db: &Database, path: &Path) -> Result<(), StoreError> {
    let txn = db.begin_read().map_err(|e| StoreError::index(path, e))?;
    let images = txn
        .open_table(IMAGES)
        .map_err(|e| StoreError::index(path, e))?;
    let refs = txn
        .open_table(BLOB_REFS)
        .map_err(|e| StoreError::index(path, e))?;
    let records = all_records(&images, path)?;
    let bytes = index_json(&records, |d| {
        refs.get(d.to_string().as_str())
            .ok()
            .flatten()
            .map(|v| v.value().1)
            .unwrap_or(0)
    });
    write_atomic(&root.join("index.json"), &bytes)
}

impl Store {
    /// Rewrite `ROOT/index.json` from the index (normally kept in sync by every write).
    pub fn sync_index_json(&self) -> Result<(), StoreError> {
        let path = self.index.path.clone();
        self.index
            .write_then(|_| Ok(()), |db, _| write_index_json(self.root(), db, &path))?;
        Ok(())
    }

    /// Write `records` as an OCI image layout tar (`oci-archive`) at `out`: `oci-layout`,
    /// `index.json` (each manifest annotated with the full name), and every blob, unchanged.
    /// The file appears atomically (written beside `out`, then renamed).
    pub fn save(&self, records: &[ImageRecord], out: &Path) -> Result<u64, StoreError> {
        let tmp = out.with_file_name(format!(
            ".{}.tmp-{}",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let result = self.save_to(records, &tmp);
        match result {
            Ok(n) => {
                fs::rename(&tmp, out).map_err(|e| StoreError::io("rename", out, e))?;
                Ok(n)
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn save_to(&self, records: &[ImageRecord], tmp: &Path) -> Result<u64, StoreError> {
        let file = File::create(tmp).map_err(|e| StoreError::io("create", tmp, e))?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
        let io = |e| StoreError::io("write", tmp, e);
        let add_bytes = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, name, bytes)
        };
        let add_dir = |tar: &mut tar::Builder<_>, name: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o755);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, name, std::io::empty())
        };
        add_bytes(&mut tar, "oci-layout", OCI_LAYOUT.as_bytes()).map_err(io)?;
        let mut sizes = std::collections::HashMap::new();
        let mut blobs = BTreeSet::new();
        for r in records {
            for b in &r.blobs {
                blobs.insert(b.clone());
            }
        }
        for b in &blobs {
            sizes.insert(b.clone(), self.blob_size(b)?);
        }
        let index = index_json(records, |d| sizes.get(d).copied().unwrap_or(0));
        add_bytes(&mut tar, "index.json", &index).map_err(io)?;
        add_dir(&mut tar, "blobs/").map_err(io)?;
        add_dir(&mut tar, "blobs/sha256/").map_err(io)?;
        let mut total = 0;
        for b in &blobs {
            let p = self.blob_path(b);
            let f = File::open(&p).map_err(|e| StoreError::io("open", &p, e))?;
            let size = f
                .metadata()
                .map_err(|e| StoreError::io("stat", &p, e))?
                .len();
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, format!("blobs/sha256/{}", b.encoded()), f)
                .map_err(io)?;
            total += size;
        }
        let inner = tar.into_inner().map_err(io)?;
        let f = inner.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        Ok(total)
    }
}
