//! KEP-2535 "ensure secret pulled images": the kubelet's pull manager
//! (pkg/kubelet/images/pullmanager/image_pull_manager.go and image_pull_policies.go) over
//! pull records kept in the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use pullsim_policy::verification::{
    self, PodCredentials as PolicyPodCredentials, PullRecords as PolicyRecords,
    RecordedCredentials, SecretCoordinates as PolicySecret,
    ServiceAccountCoordinates as PolicyServiceAccount,
};
use pullsim_policy::{Allowlist, Time, VerificationPolicy};
use pullsim_store::{PulledCredentials, PulledRecord, SecretCoordinates};

use crate::services::{PodCredentials, PullRecords, TrackedCredential};

/// imagePullCredentialsVerificationPolicy and preloadedImagesVerificationAllowlist.
#[derive(Clone, Debug)]
pub struct VerificationConfig {
    /// The policy (default NeverVerifyPreloadedImages).
    pub policy: VerificationPolicy,
    /// The allowlist (used by NeverVerifyAllowlistedImages).
    pub allowlist: Allowlist,
}

impl Default for VerificationConfig {
    fn default() -> Self {
        VerificationConfig {
            policy: VerificationPolicy::NeverVerifyPreloadedImages,
            allowlist: Allowlist::default(),
        }
    }
}

impl VerificationConfig {
    /// RequireCredentialVerificationForImage (image_pull_policies.go).
    pub fn require_verification(&self, image: &str, pulled_by_kubelet: bool) -> bool {
        self.policy
            .requires_verification(&self.allowlist, image, pulled_by_kubelet)
    }
}

pub use pullsim_policy::Verification;

/// The pull manager: decides whether a present image must be pulled again for a pod, and
/// keeps intents and records.
pub struct PullManager<R> {
    records: R,
    cfg: VerificationConfig,
    intents: Mutex<HashMap<String, u32>>,
    read_only: bool,
}

/// trimImageTagDigest: the normalized name without tag or digest.
pub fn trim_image_tag_digest(image: &str) -> Result<String, String> {
    pullsim_reference::Reference::parse_normalized(image)
        .map(|r| r.name())
        .map_err(|e| e.to_string())
}

impl<R: PullRecords> PullManager<R> {
    /// A pull manager over a record store.
    pub fn new(records: R, cfg: VerificationConfig) -> Self {
        PullManager {
            records,
            cfg,
            intents: Mutex::new(HashMap::new()),
            read_only: false,
        }
    }

    /// A pull manager that never writes (for `pod explain`).
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The record store.
    pub fn records(&self) -> &R {
        &self.records
    }

    /// MustAttemptImagePull: true when the pod may not use the present image without pulling.
    pub fn must_attempt_image_pull(
        &self,
        image: &str,
        image_ref: &str,
        creds: &dyn PodCredentials,
        now: Time,
    ) -> Result<bool, String> {
        self.verify(image, image_ref, creds, now)
            .map(|v| v.must_pull())
    }

    /// The verification with its reason (MustAttemptImagePull, step by step), using
    /// `pullsim_policy::verification::verify` over the store's records. The pod's credentials
    /// are looked up only when the verdict depends on them, as the kubelet does.
    pub fn verify(
        &self,
        image: &str,
        image_ref: &str,
        creds: &dyn PodCredentials,
        now: Time,
    ) -> Result<Verification, String> {
        if image_ref.is_empty() {
            return Ok(Verification::NoRecord);
        }
        let record = match self.records.get_pulled_record(image_ref) {
            // Unable to access the records: the kubelet logs it and requires a pull.
            Err(_) => return Ok(Verification::NoRecord),
            Ok(r) => r,
        };
        let mapping: Option<BTreeMap<String, RecordedCredentials>> = record.as_ref().map(|r| {
            r.credential_mapping
                .iter()
                .map(|(k, v)| (k.clone(), to_policy(v)))
                .collect()
        });
        let needs_intent = mapping.as_ref().is_none_or(|m| m.is_empty());
        let intent_exists = needs_intent
            && (self
                .intents
                .lock()
                .map(|g| g.get(image).copied().unwrap_or(0) > 0)
                .unwrap_or(false)
                || self.records.pull_intent_exists(image).unwrap_or(true));
        let recs = PolicyRecords {
            pulled: mapping.as_ref(),
            intent_exists,
        };
        let no_creds = PolicyPodCredentials {
            secrets: &[],
            service_account: None,
        };
        let first = verification::verify(
            self.cfg.policy,
            &self.cfg.allowlist,
            image,
            &recs,
            &no_creds,
        );
        if first != Verification::NotMatched {
            return Ok(first);
        }
        let pod_secrets: Vec<PolicySecret> = creds
            .lookup(&add_default_tag(image))?
            .iter()
            .filter_map(TrackedCredential::secret_coordinates)
            .map(|s| PolicySecret {
                uid: s.uid,
                namespace: s.namespace,
                name: s.name,
                credential_hash: s.credential_hash,
            })
            .collect();
        let pod = PolicyPodCredentials {
            secrets: &pod_secrets,
            service_account: None,
        };
        let v = verification::verify(self.cfg.policy, &self.cfg.allowlist, image, &recs, &pod);
        if let Verification::SecretMatched {
            pod_secret,
            record_update: true,
            ..
        } = &v
            && let Some(s) = pod_secrets.get(*pod_secret)
        {
            // Remember this secret as valid for the image (image_pull_manager.go).
            let _ = self.write_pulled_record_if_changed(
                image,
                image_ref,
                Some(PulledCredentials {
                    kubernetes_secrets: vec![SecretCoordinates {
                        uid: s.uid.clone(),
                        namespace: s.namespace.clone(),
                        name: s.name.clone(),
                        credential_hash: s.credential_hash.clone(),
                    }],
                    ..Default::default()
                }),
                now,
            );
        }
        Ok(v)
    }

    /// RecordPullIntent.
    pub fn record_pull_intent(&self, image: &str) -> Result<(), String> {
        self.records
            .write_pull_intent(image)
            .map_err(|e| format!("failed to record image pull intent: {e}"))?;
        if let Ok(mut g) = self.intents.lock() {
            *g.entry(image.to_string()).or_insert(0) += 1;
        }
        Ok(())
    }

    /// RecordImagePulled: merge the credentials that worked into the record, then drop the
    /// intent. `credential` `None` (anonymous) or a node credential makes the image
    /// accessible to every pod (trackedToImagePullCreds).
    pub fn record_image_pulled(
        &self,
        image: &str,
        image_ref: &str,
        credential: Option<&TrackedCredential>,
        now: Time,
    ) {
        let creds = match credential.and_then(TrackedCredential::secret_coordinates) {
            Some(s) => PulledCredentials {
                kubernetes_secrets: vec![s],
                ..Default::default()
            },
            None => PulledCredentials {
                node_pods_accessible: true,
                ..Default::default()
            },
        };
        if self
            .write_pulled_record_if_changed(image, image_ref, Some(creds), now)
            .is_err()
        {
            // The kubelet keeps the intent when the record could not be written.
            return;
        }
        self.decrement_intent(image);
    }

    /// RecordImagePullFailed.
    pub fn record_image_pull_failed(&self, image: &str) {
        self.decrement_intent(image);
    }

    fn decrement_intent(&self, image: &str) {
        let Ok(mut g) = self.intents.lock() else {
            return;
        };
        let n = g.get(image).copied().unwrap_or(0);
        if n <= 1 {
            if self.records.delete_pull_intent(image).is_ok() {
                g.remove(image);
            }
        } else {
            g.insert(image.to_string(), n - 1);
        }
    }

    fn write_pulled_record_if_changed(
        &self,
        image: &str,
        image_ref: &str,
        creds: Option<PulledCredentials>,
        now: Time,
    ) -> Result<(), String> {
        let name = trim_image_tag_digest(image)
            .map_err(|e| format!("invalid image name {:?}: {e}", image))?;
        let _ = now;
        let now_ms = wall_clock_ms();
        let existing = self.records.get_pulled_record(image_ref).unwrap_or(None);
        let (record, changed) = match existing {
            None => {
                let mut r = PulledRecord {
                    image_ref: image_ref.to_string(),
                    last_updated_ms: now_ms,
                    credential_mapping: Default::default(),
                };
                if let Some(c) = creds {
                    r.credential_mapping.insert(name, c);
                }
                (r, true)
            }
            Some(orig) => merge_new_creds(orig, &name, creds, now_ms),
        };
        if !changed || self.read_only {
            return Ok(());
        }
        self.records.write_pulled_record(&record)
    }
}

/// The image with `:latest` when it has neither tag nor digest (what the keyring is asked).
fn add_default_tag(image: &str) -> String {
    crate::image_manager::apply_default_image_tag(image).unwrap_or_else(|_| image.to_string())
}

/// pulledRecordMergeNewCreds: merge new credentials for `name` into a record.
pub fn merge_new_creds(
    mut orig: PulledRecord,
    name: &str,
    new: Option<PulledCredentials>,
    now_ms: u64,
) -> (PulledRecord, bool) {
    let Some(new) = new else {
        return (orig, false);
    };
    if !new.node_pods_accessible
        && new.kubernetes_secrets.is_empty()
        && new.kubernetes_service_accounts.is_empty()
    {
        return (orig, false);
    }
    let Some(selected) = orig.credential_mapping.get_mut(name) else {
        orig.credential_mapping.insert(name.to_string(), new);
        orig.last_updated_ms = now_ms;
        return (orig, true);
    };
    if selected.node_pods_accessible {
        return (orig, false);
    }
    if new.node_pods_accessible {
        *selected = PulledCredentials {
            node_pods_accessible: true,
            ..Default::default()
        };
        orig.last_updated_ms = now_ms;
        return (orig, true);
    }
    let mut changed = false;
    for s in new.kubernetes_secrets {
        match selected
            .kubernetes_secrets
            .iter_mut()
            .find(|c| c.uid == s.uid && c.namespace == s.namespace && c.name == s.name)
        {
            Some(c) if c.credential_hash == s.credential_hash => {}
            Some(c) => {
                c.credential_hash = s.credential_hash;
                changed = true;
            }
            None => {
                selected.kubernetes_secrets.push(s);
                changed = true;
            }
        }
    }
    for sa in new.kubernetes_service_accounts {
        if !selected.kubernetes_service_accounts.contains(&sa) {
            selected.kubernetes_service_accounts.push(sa);
            changed = true;
        }
    }
    if changed {
        selected.kubernetes_secrets.sort();
        selected.kubernetes_service_accounts.sort();
        orig.last_updated_ms = now_ms;
    }
    (orig, changed)
}

/// Wall-clock Unix milliseconds: records persist across runs, so they carry real time.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn to_policy(c: &PulledCredentials) -> RecordedCredentials {
    RecordedCredentials {
        preloaded: false,
        node_pods_accessible: c.node_pods_accessible,
        kubernetes_secrets: c
            .kubernetes_secrets
            .iter()
            .map(|s| PolicySecret {
                uid: s.uid.clone(),
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                credential_hash: s.credential_hash.clone(),
            })
            .collect(),
        kubernetes_service_accounts: c
            .kubernetes_service_accounts
            .iter()
            .map(|s| PolicyServiceAccount {
                uid: s.uid.clone(),
                namespace: s.namespace.clone(),
                name: s.name.clone(),
            })
            .collect(),
    }
}
