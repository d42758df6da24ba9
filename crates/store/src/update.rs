//! Updates of existing records in place (last-used time, pin, labels): one write transaction
//! for any number of names, and the lookup snapshot patched rather than reloaded, so that
//! marking an image used costs a B-tree update whatever the size of the store.

use pullsim_reference::Reference;
use redb::ReadableTable;

use crate::index::{IMAGES, decode_record, encode};
use crate::{ImageRecord, Store, StoreError};

impl Store {
    /// Apply `f` to each record of `keys` that exists (in one write transaction, none when
    /// `keys` is empty) and write them back; the number found. With `rewrite_layout`,
    /// `index.json` is rewritten too (it carries pins, labels and times).
    pub(crate) fn update_records(
        &self,
        keys: &[String],
        rewrite_layout: bool,
        mut f: impl FnMut(&mut ImageRecord),
    ) -> Result<usize, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let path = self.index.path.clone();
        let (updated, _, commit) = self.index.write_commit(
            false,
            |txn| {
                let mut images = txn
                    .open_table(IMAGES)
                    .map_err(|e| StoreError::index(&path, e))?;
                let mut updated = Vec::with_capacity(keys.len());
                for key in keys {
                    let old = images
                        .get(key.as_str())
                        .map_err(|e| StoreError::index(&path, e))?
                        .map(|v| decode_record(&path, key, v.value()))
                        .transpose()?;
                    let Some(mut rec) = old else {
                        continue;
                    };
                    f(&mut rec);
                    let bytes = encode("image record", &rec)?;
                    images
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(|e| StoreError::index(&path, e))?;
                    updated.push(rec);
                }
                Ok(updated)
            },
            |db, updated: &Vec<ImageRecord>| {
                if !updated.is_empty() && rewrite_layout {
                    crate::layout::write_index_json(self.root(), db, &path)?;
                }
                Ok(())
            },
        )?;
        let found = updated.len();
        self.patch_snapshot(commit, updated);
        Ok(found)
    }

    /// [`Store::update_records`] for one key: whether it was found.
    pub(crate) fn update_record(
        &self,
        key: &str,
        rewrite_layout: bool,
        f: impl FnOnce(&mut ImageRecord),
    ) -> Result<bool, StoreError> {
        let mut f = Some(f);
        let n = self.update_records(&[key.to_string()], rewrite_layout, |rec| {
            if let Some(f) = f.take() {
                f(rec)
            }
        })?;
        Ok(n > 0)
    }

    /// The index key of the record a reference finds, if any.
    pub fn resolve_key(&self, r: &Reference) -> Result<Option<String>, StoreError> {
        Ok(self.lookup(r)?.map(|rec| rec.key()))
    }

    /// Mark the image found by `r` as used now (`now_unix_ms`). Returns whether it was found.
    pub fn touch(&self, r: &Reference, now_unix_ms: u64) -> Result<bool, StoreError> {
        match self.resolve_key(r)? {
            // Only the index: rewriting index.json (the whole store, two fsyncs) on every use
            // would put a cost that grows with the store on the cache-hit path. The layout
            // keeps the last-used time of its last rewrite; a rebuild from it may make an image
            // look less recently used, never lose it.
            Some(key) => self.update_record(&key, false, |rec| {
                rec.last_used_ms = rec.last_used_ms.max(now_unix_ms)
            }),
            None => Ok(false),
        }
    }

    /// Mark every name of the image `image_id` (an ID or unique ID prefix, as
    /// [`Store::records_by_id`] takes) used at `now_unix_ms`, in one write transaction; names
    /// already marked at or after that time are left alone (no write at all when none is
    /// older). Returns the number of names updated. Like [`Store::touch`], only the index is
    /// written.
    pub fn touch_id(&self, image_id: &str, now_unix_ms: u64) -> Result<usize, StoreError> {
        let keys = self.map_by_id(image_id, |r| {
            (r.last_used_ms < now_unix_ms).then(|| r.key())
        })?;
        self.update_records(&keys, false, |rec| {
            rec.last_used_ms = rec.last_used_ms.max(now_unix_ms)
        })
    }

    /// Pin or unpin the record with index key `key`. Returns whether it was found.
    pub fn set_pinned(&self, key: &str, pinned: bool) -> Result<bool, StoreError> {
        self.update_record(key, true, |rec| rec.pinned = pinned)
    }

    /// Set (or with `None` remove) a label on the record with index key `key`.
    pub fn set_label(
        &self,
        key: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.update_record(key, true, |rec| match value {
            Some(v) => {
                rec.labels.insert(name.to_string(), v.to_string());
            }
            None => {
                rec.labels.remove(name);
            }
        })
    }
}
