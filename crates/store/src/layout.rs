//! The OCI image-layout files of the root (`oci-layout`, `index.json`), written from the index.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pullsim_reference::Digest;
use redb::{Database, ReadableDatabase};
use serde_json::json;

use crate::index::{BLOB_REFS, IMAGES, all_records};
use crate::{ImageRecord, StoreError};

/// Annotation naming a manifest in an OCI layout's index.json.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation carrying the full image name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// pullsim's annotations on each manifest descriptor of the root's `index.json`: with them the
/// layout alone holds everything the index records about an image (the index can be rebuilt
/// from `index.json` and the blobs).
pub(crate) mod ann {
    /// Image ID (config digest).
    pub(crate) const CONFIG: &str = "io.pullsim.image.config";
    /// Platform `os/arch[/variant]`.
    pub(crate) const PLATFORM: &str = "io.pullsim.image.platform";
    /// Total size of the image's blobs, decimal.
    pub(crate) const SIZE: &str = "io.pullsim.image.size";
    /// First seen, Unix ms, decimal.
    pub(crate) const FIRST_SEEN: &str = "io.pullsim.image.first-seen-ms";
    /// Last used, Unix ms, decimal.
    pub(crate) const LAST_USED: &str = "io.pullsim.image.last-used-ms";
    /// `"true"` when pinned.
    pub(crate) const PINNED: &str = "io.pullsim.image.pinned";
    /// `preloaded` or `pulled`.
    pub(crate) const ORIGIN: &str = "io.pullsim.image.origin";
    /// The name as the user wrote it.
    pub(crate) const WRITTEN_AS: &str = "io.pullsim.image.written-as";
    /// Labels, a JSON object.
    pub(crate) const LABELS: &str = "io.pullsim.image.labels";
}

pub(crate) const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

static TMP: AtomicU64 = AtomicU64::new(0);

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
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
        write_atomic(&index, &index_json(&[], |_| 0, false))?;
    }
    Ok(())
}

/// An OCI image index listing `records`, each annotated with its full name, and with `state`
/// also with pullsim's record fields (the store's own `index.json`; not in saved archives).
pub(crate) fn index_json(
    records: &[ImageRecord],
    size_of: impl Fn(&Digest) -> u64,
    state: bool,
) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut a = serde_json::Map::new();
            a.insert(ANNOTATION_CONTAINERD_NAME.into(), r.key().into());
            a.insert(ANNOTATION_REF_NAME.into(), r.key().into());
            if state {
                a.insert(ann::CONFIG.into(), r.config_digest.to_string().into());
                if let Some(p) = &r.platform {
                    a.insert(ann::PLATFORM.into(), p.clone().into());
                }
                a.insert(ann::SIZE.into(), r.size.to_string().into());
                a.insert(ann::FIRST_SEEN.into(), r.first_seen_ms.to_string().into());
                a.insert(ann::LAST_USED.into(), r.last_used_ms.to_string().into());
                a.insert(ann::PINNED.into(), r.pinned.to_string().into());
                a.insert(ann::ORIGIN.into(), r.origin.as_str().into());
                a.insert(ann::WRITTEN_AS.into(), r.written_as.clone().into());
                if !r.labels.is_empty() {
                    let labels = serde_json::to_string(&r.labels).unwrap_or_default();
                    a.insert(ann::LABELS.into(), labels.into());
                }
            }
            json!({
                "mediaType": r.media_type,
                "digest": r.manifest_digest.to_string(),
                "size": size_of(&r.manifest_digest),
                "annotations": a,
            })
        })
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": crate::media::OCI_INDEX,
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
    let bytes = index_json(
        &records,
        |d| {
            refs.get(d.to_string().as_str())
                .ok()
                .flatten()
                .map(|v| v.value().1)
                .unwrap_or(0)
        },
        true,
    );
    write_atomic(&root.join("index.json"), &bytes)
}
