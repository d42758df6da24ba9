//! `images save`: an OCI image layout tar of some images, and the root's `index.json` rewritten
//! on demand.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::Path;

use crate::layout::{OCI_LAYOUT, index_json, write_index_json};
use crate::{ImageRecord, Store, StoreError};

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
        let index = index_json(records, |d| sizes.get(d).copied().unwrap_or(0), false);
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
