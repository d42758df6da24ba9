//! The kubelet's records that older pullsim versions kept in this index (KEP-2535 pulled
//! records and pull intents), read once so that the node can migrate them into its own files
//! (`ROOT/kubelet/`), then dropped.

use redb::{ReadableTable, TableDefinition};

use crate::store::table_or_empty;
use crate::{Store, StoreError};

/// Older pullsim: image ID → JSON of the kubelet's `ImagePulledRecord`.
const PULLED: TableDefinition<&str, &[u8]> = TableDefinition::new("pulled_records");
/// Older pullsim: image → JSON of the kubelet's `ImagePullIntent`.
const INTENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("pull_intents");

/// What an older pullsim kept in this index for the kubelet (KEP-2535 pull records and
/// intents), as the raw JSON values, for the node to migrate once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyNodeRecords {
    /// The values of the old `pulled_records` table (JSON `ImagePulledRecord`s), in key order.
    pub pulled: Vec<Vec<u8>>,
    /// The values of the old `pull_intents` table (JSON `ImagePullIntent`s), in key order.
    pub intents: Vec<Vec<u8>>,
}

impl LegacyNodeRecords {
    /// True when there is nothing to migrate.
    pub fn is_empty(&self) -> bool {
        self.pulled.is_empty() && self.intents.is_empty()
    }
}

type JsonTable = TableDefinition<'static, &'static str, &'static [u8]>;

impl Store {
    /// The kubelet records an older pullsim kept in this index; empty when there are none (or
    /// the tables were never created or already dropped).
    pub fn legacy_node_records(&self) -> Result<LegacyNodeRecords, StoreError> {
        let path = self.index.path.clone();
        self.index.read(|txn| {
            let all = |table: JsonTable| -> Result<Vec<Vec<u8>>, StoreError> {
                let mut out = Vec::new();
                if let Some(t) = table_or_empty(txn.open_table(table), &path)? {
                    for item in t.iter().map_err(|e| StoreError::index(&path, e))? {
                        let (_, v) = item.map_err(|e| StoreError::index(&path, e))?;
                        out.push(v.value().to_vec());
                    }
                }
                Ok(out)
            };
            Ok(LegacyNodeRecords {
                pulled: all(PULLED)?,
                intents: all(INTENTS)?,
            })
        })
    }

    /// Delete both legacy tables (after the node migrated them). Harmless when absent.
    pub fn drop_legacy_node_records(&self) -> Result<(), StoreError> {
        let path = self.index.path.clone();
        self.index.write(|txn| {
            for table in [PULLED, INTENTS] {
                txn.delete_table(table)
                    .map_err(|e| StoreError::index(&path, e))?;
            }
            Ok(())
        })
    }
}
