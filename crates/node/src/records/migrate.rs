//! The one-time move of KEP-2535 records out of older pullsim stores, which kept them as JSON
//! in their index (`pullsim_store::PulledRecord` / `PullIntent` up to the CRI split): camelCase
//! fields, `lastUpdatedTime` and `createdMs` in Unix milliseconds.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::accessor::{
    ImagePullCredentials, ImagePullSecret, ImagePullServiceAccount, ImagePulledRecord,
    PullRecordsAccessor,
};
use crate::error::NodeError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyPulled {
    image_ref: String,
    #[serde(rename = "lastUpdatedTime")]
    last_updated_ms: u64,
    #[serde(default)]
    credential_mapping: BTreeMap<String, LegacyCredentials>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyCredentials {
    #[serde(default)]
    node_pods_accessible: bool,
    #[serde(default)]
    kubernetes_secrets: Vec<LegacySecret>,
    #[serde(default)]
    kubernetes_service_accounts: Vec<LegacyServiceAccount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacySecret {
    uid: String,
    namespace: String,
    name: String,
    credential_hash: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyServiceAccount {
    uid: String,
    namespace: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyIntent {
    image: String,
    #[allow(dead_code)]
    created_ms: u64,
}

fn legacy_record(l: LegacyPulled) -> ImagePulledRecord {
    ImagePulledRecord {
        last_updated_time: Some(i64::try_from(l.last_updated_ms / 1000).unwrap_or(i64::MAX)),
        image_ref: l.image_ref,
        credential_mapping: l
            .credential_mapping
            .into_iter()
            .map(|(name, c)| {
                (
                    name,
                    ImagePullCredentials {
                        preloaded: false,
                        node_pods_accessible: c.node_pods_accessible,
                        kubernetes_secrets: c
                            .kubernetes_secrets
                            .into_iter()
                            .map(|s| ImagePullSecret {
                                uid: s.uid,
                                namespace: s.namespace,
                                name: s.name,
                                credential_hash: s.credential_hash,
                            })
                            .collect(),
                        kubernetes_service_accounts: c
                            .kubernetes_service_accounts
                            .into_iter()
                            .map(|s| ImagePullServiceAccount {
                                uid: s.uid,
                                namespace: s.namespace,
                                name: s.name,
                            })
                            .collect(),
                    },
                )
            })
            .collect(),
    }
}

/// Write the records an older store kept (`pulled`: one JSON `PulledRecord` each; `intents`:
/// one JSON `PullIntent` each) into `to` as the kubelet's records, and return how many were
/// written. Everything is parsed before anything is written, so a bad entry writes nothing; a
/// record or intent the kubelet already has (same image ID, same image) is left as it is.
pub fn migrate_legacy(
    pulled: &[Vec<u8>],
    intents: &[Vec<u8>],
    to: &dyn PullRecordsAccessor,
) -> Result<usize, NodeError> {
    let records = pulled
        .iter()
        .enumerate()
        .map(|(index, b)| {
            serde_json::from_slice::<LegacyPulled>(b)
                .map(legacy_record)
                .map_err(|e| NodeError::Legacy {
                    kind: "pulled record",
                    index,
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let images = intents
        .iter()
        .enumerate()
        .map(|(index, b)| {
            serde_json::from_slice::<LegacyIntent>(b)
                .map(|i| i.image)
                .map_err(|e| NodeError::Legacy {
                    kind: "pull intent",
                    index,
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // What the kubelet already keeps for an image wins over an old store's copy.
    let mut written = 0;
    for r in &records {
        if to.get_image_pulled_record(&r.image_ref)?.is_none() {
            to.write_image_pulled_record(r)?;
            written += 1;
        }
    }
    for i in &images {
        if !to.image_pull_intent_exists(i)? {
            to.write_image_pull_intent(i)?;
            written += 1;
        }
    }
    Ok(written)
}
