//! KEP-2535 "ensure secret pulled images": the kubelet's pull manager
//! (pkg/kubelet/images/pullmanager/image_pull_manager.go and image_pull_policies.go) over a
//! [`PullRecordsAccessor`].

use std::collections::HashMap;
use std::sync::Mutex;

use pullsim_policy::verification::{
    self, PodCredentials as PolicyPodCredentials, PullRecords as PolicyRecords,
};
use pullsim_policy::{Allowlist, Time, VerificationPolicy};

use crate::error::NodeError;
use crate::records::{
    ImagePullCredentials, ImagePullSecret, ImagePulledRecord, PullRecordsAccessor, RecordsError,
};
use crate::services::{PodCredentials, TrackedCredential};
use crate::shared::{apply_default_image_tag, wall_clock_secs};

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
#[derive(Debug)]
pub struct PullManager<R> {
    records: R,
    cfg: VerificationConfig,
    intents: Mutex<HashMap<String, u32>>,
}

/// trimImageTagDigest: the normalized name without tag or digest.
pub fn trim_image_tag_digest(image: &str) -> Result<String, NodeError> {
    pullsim_reference::Reference::parse_normalized(image)
        .map(|r| r.name())
        .map_err(|e| NodeError::invalid_image(image, &e))
}

impl<R: PullRecordsAccessor> PullManager<R> {
    /// A pull manager over a record accessor.
    pub fn new(records: R, cfg: VerificationConfig) -> Self {
        PullManager {
            records,
            cfg,
            intents: Mutex::new(HashMap::new()),
        }
    }

    /// The record accessor.
    pub fn records(&self) -> &R {
        &self.records
    }

    /// The verification settings.
    pub fn config(&self) -> &VerificationConfig {
        &self.cfg
    }

    /// MustAttemptImagePull: true when the pod may not use the present image without pulling.
    pub fn must_attempt_image_pull(
        &self,
        image: &str,
        image_ref: &str,
        creds: &dyn PodCredentials,
        now: Time,
    ) -> Result<bool, NodeError> {
        self.verify(image, image_ref, creds, now)
            .map(|v| v.must_pull())
    }

    /// The verification with its reason (MustAttemptImagePull, step by step), using
    /// `pullsim_policy::verification::verify` over the accessor's record. The pod's credentials
    /// are looked up only when the verdict depends on them, as the kubelet does.
    pub fn verify(
        &self,
        image: &str,
        image_ref: &str,
        creds: &dyn PodCredentials,
        _now: Time,
    ) -> Result<Verification, NodeError> {
        if image_ref.is_empty() {
            return Ok(Verification::NoRecord);
        }
        let record = match self.records.get_image_pulled_record(image_ref) {
            // Unable to access the records: the kubelet logs it and requires a pull.
            Err(_) => return Ok(Verification::NoRecord),
            Ok(r) => r,
        };
        let mapping = record.as_ref().map(|r| &r.credential_mapping);
        let needs_intent = mapping.is_none_or(|m| m.is_empty());
        let intent_exists = needs_intent
            && (self
                .intents
                .lock()
                .map(|g| g.get(image).copied().unwrap_or(0) > 0)
                .unwrap_or(false)
                || self.records.image_pull_intent_exists(image).unwrap_or(true));
        let recs = PolicyRecords {
            pulled: mapping,
            intent_exists,
        };
        let first = verification::verify(
            self.cfg.policy,
            &self.cfg.allowlist,
            image,
            &recs,
            &PolicyPodCredentials::default(),
        );
        if first != Verification::NotMatched {
            return Ok(first);
        }
        let tagged =
            apply_default_image_tag(image).map_err(|e| NodeError::invalid_image(image, &e))?;
        let found = creds.lookup(&tagged)?;
        let pod_secrets: Vec<ImagePullSecret> = found
            .iter()
            .filter_map(TrackedCredential::secret_coordinates)
            .collect();
        // image_manager.go: the first credential whose source is a ServiceAccount.
        let pod_account = found
            .iter()
            .find_map(TrackedCredential::service_account_coordinates);
        let pod = PolicyPodCredentials {
            secrets: &pod_secrets,
            service_account: pod_account.as_ref(),
        };
        let v = verification::verify(self.cfg.policy, &self.cfg.allowlist, image, &recs, &pod);
        if let Verification::SecretMatched {
            pod_secret,
            record_update: true,
            ..
        } = &v
            && let Some(s) = pod_secrets.get(*pod_secret)
        {
            // Remember this secret as valid for the image (image_pull_manager.go); a failure
            // to write is logged by the kubelet and does not change the verdict.
            let _ = self.write_pulled_record_if_changed(
                image,
                image_ref,
                ImagePullCredentials {
                    kubernetes_secrets: vec![s.clone()],
                    ..Default::default()
                },
            );
        }
        Ok(v)
    }

    /// RecordPullIntent.
    pub fn record_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        self.records.write_image_pull_intent(image)?;
        if let Ok(mut g) = self.intents.lock() {
            *g.entry(image.to_string()).or_insert(0) += 1;
        }
        Ok(())
    }

    /// RecordImagePulled: merge the credentials that worked into the record, then drop the
    /// intent. A pod secret's credential records the secret, a plugin's credential got with a
    /// service-account token records the ServiceAccount; `None` (anonymous) or a node
    /// credential makes the image accessible to every pod (trackedToImagePullCreds).
    pub fn record_image_pulled(
        &self,
        image: &str,
        image_ref: &str,
        credential: Option<&TrackedCredential>,
    ) {
        // image_pull_manager.go trackedToImagePullCreds.
        let creds = match credential {
            Some(c) => match (c.secret_coordinates(), c.service_account_coordinates()) {
                (Some(s), _) => ImagePullCredentials {
                    kubernetes_secrets: vec![s],
                    ..Default::default()
                },
                (None, Some(sa)) => ImagePullCredentials {
                    kubernetes_service_accounts: vec![sa],
                    ..Default::default()
                },
                (None, None) => ImagePullCredentials {
                    node_pods_accessible: true,
                    ..Default::default()
                },
            },
            None => ImagePullCredentials {
                node_pods_accessible: true,
                ..Default::default()
            },
        };
        if self
            .write_pulled_record_if_changed(image, image_ref, creds)
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
            if self.records.delete_image_pull_intent(image).is_ok() {
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
        creds: ImagePullCredentials,
    ) -> Result<(), NodeError> {
        let name = trim_image_tag_digest(image)?;
        let now = wall_clock_secs();
        let existing = self
            .records
            .get_image_pulled_record(image_ref)
            .unwrap_or(None);
        let record = match existing {
            None => {
                let mut r = ImagePulledRecord {
                    last_updated_time: Some(now),
                    image_ref: image_ref.to_string(),
                    credential_mapping: Default::default(),
                };
                r.credential_mapping.insert(name, creds);
                r
            }
            Some(orig) => match merge_new_creds(&orig, &name, creds, now) {
                Some(r) => r,
                None => return Ok(()),
            },
        };
        Ok(self.records.write_image_pulled_record(&record)?)
    }
}

fn secret_order(a: &ImagePullSecret, b: &ImagePullSecret) -> std::cmp::Ordering {
    (&a.uid, &a.namespace, &a.name, &a.credential_hash).cmp(&(
        &b.uid,
        &b.namespace,
        &b.name,
        &b.credential_hash,
    ))
}

/// pulledRecordMergeNewCreds: the record with `new` merged in for `name`, or `None` when
/// nothing changes.
pub fn merge_new_creds(
    orig: &ImagePulledRecord,
    name: &str,
    new: ImagePullCredentials,
    now: i64,
) -> Option<ImagePulledRecord> {
    if !new.node_pods_accessible
        && new.kubernetes_secrets.is_empty()
        && new.kubernetes_service_accounts.is_empty()
    {
        return None;
    }
    let mut rec = orig.clone();
    let Some(selected) = rec.credential_mapping.get_mut(name) else {
        rec.credential_mapping.insert(name.to_string(), new);
        rec.last_updated_time = Some(now);
        return Some(rec);
    };
    if selected.node_pods_accessible {
        return None;
    }
    if new.node_pods_accessible {
        *selected = ImagePullCredentials {
            node_pods_accessible: true,
            ..Default::default()
        };
        rec.last_updated_time = Some(now);
        return Some(rec);
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
    if !changed {
        return None;
    }
    selected.kubernetes_secrets.sort_by(secret_order);
    selected
        .kubernetes_service_accounts
        .sort_by(|a, b| (&a.uid, &a.namespace, &a.name).cmp(&(&b.uid, &b.namespace, &b.name)));
    rec.last_updated_time = Some(now);
    Some(rec)
}
