//! KEP-2535 bookkeeping in the index: the kubelet's pulled records and pull intents, each a JSON
//! value under a string key in its own table.

use redb::{ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::index::{INTENTS, PULLED, encode};
use crate::store::table_or_empty;
use crate::{PullIntent, PulledRecord, Store, StoreError};

/// A table of JSON values by string key.
type JsonTable = TableDefinition<'static, &'static str, &'static [u8]>;

fn decode<T: DeserializeOwned>(what: &str, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Invalid {
        what: what.into(),
        path: format!("index key {key}"),
        message: e.to_string(),
    })
}

impl Store {
    /// The pulled record for an image ID.
    pub fn pulled_record(&self, image_ref: &str) -> Result<Option<PulledRecord>, StoreError> {
        self.json_get(PULLED, "pulled record", image_ref)
    }

    /// Write (replace) the pulled record for `rec.image_ref`.
    pub fn put_pulled_record(&self, rec: &PulledRecord) -> Result<(), StoreError> {
        self.json_put(PULLED, "pulled record", &rec.image_ref, rec)
    }

    /// Remove the pulled record for an image ID. Returns whether there was one.
    pub fn remove_pulled_record(&self, image_ref: &str) -> Result<bool, StoreError> {
        self.json_remove(PULLED, image_ref)
    }

    /// Every pulled record.
    pub fn pulled_records(&self) -> Result<Vec<PulledRecord>, StoreError> {
        self.json_all(PULLED, "pulled record")
    }

    /// Record that a pull of `image` started (the kubelet's `ImagePullIntent`).
    pub fn put_pull_intent(&self, image: &str, now_unix_ms: u64) -> Result<(), StoreError> {
        let intent = PullIntent {
            image: image.to_string(),
            created_ms: now_unix_ms,
        };
        self.json_put(INTENTS, "pull intent", image, &intent)
    }

    /// Remove the pull intent for `image`. Returns whether there was one.
    pub fn remove_pull_intent(&self, image: &str) -> Result<bool, StoreError> {
        self.json_remove(INTENTS, image)
    }

    /// Every pull intent.
    pub fn pull_intents(&self) -> Result<Vec<PullIntent>, StoreError> {
        self.json_all(INTENTS, "pull intent")
    }

    fn json_get<T: DeserializeOwned>(
        &self,
        table: JsonTable,
        what: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            let Some(t) = table_or_empty(txn.open_table(table), &path)? else {
                return Ok(None);
            };
            let v = t.get(key).map_err(|e| StoreError::index(&path, e))?;
            v.map(|v| decode(what, key, v.value())).transpose()
        })
    }

    fn json_put<T: Serialize>(
        &self,
        table: JsonTable,
        what: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let path = self.index.path.clone();
        let bytes = encode(what, value)?;
        self.index.write(|txn| {
            let mut t = txn
                .open_table(table)
                .map_err(|e| StoreError::index(&path, e))?;
            t.insert(key, bytes.as_slice())
                .map_err(|e| StoreError::index(&path, e))?;
            Ok(())
        })
    }

    fn json_remove(&self, table: JsonTable, key: &str) -> Result<bool, StoreError> {
        let path = self.index.path.clone();
        self.index.write(|txn| {
            let mut t = txn
                .open_table(table)
                .map_err(|e| StoreError::index(&path, e))?;
            let removed = t
                .remove(key)
                .map_err(|e| StoreError::index(&path, e))?
                .is_some();
            Ok(removed)
        })
    }

    fn json_all<T: DeserializeOwned>(
        &self,
        table: JsonTable,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            let mut out = Vec::new();
            if let Some(t) = table_or_empty(txn.open_table(table), &path)? {
                for item in t.iter().map_err(|e| StoreError::index(&path, e))? {
                    let (k, v) = item.map_err(|e| StoreError::index(&path, e))?;
                    out.push(decode(what, k.value(), v.value())?);
                }
            }
            Ok(out)
        })
    }
}
