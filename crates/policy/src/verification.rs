//! KEP-2535 "ensure secret pulled images": the credential verification policy, the preloaded
//! images allowlist, and the pull manager's decision whether a present image must be pulled
//! again (verified) for a pod.
//!
//! Upstream: pkg/kubelet/images/pullmanager/image_pull_policies.go (policies, allowlist patterns)
//! and pkg/kubelet/images/pullmanager/image_pull_manager.go (MustAttemptImagePull,
//! isExemptedByPolicy).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use pullsim_reference::{Reference, parse_image_name};
use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// The kubelet's `imagePullCredentialsVerificationPolicy`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VerificationPolicy {
    /// Anyone on the node can use any image present on the node.
    NeverVerify,
    /// Images that were not pulled by the kubelet can be used without verification (default).
    #[default]
    NeverVerifyPreloadedImages,
    /// Only images matching the allowlist are exempt; every other image is verified.
    NeverVerifyAllowlistedImages,
    /// Every image is verified.
    AlwaysVerify,
}

impl VerificationPolicy {
    /// The kubelet configuration spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            VerificationPolicy::NeverVerify => "NeverVerify",
            VerificationPolicy::NeverVerifyPreloadedImages => "NeverVerifyPreloadedImages",
            VerificationPolicy::NeverVerifyAllowlistedImages => "NeverVerifyAllowlistedImages",
            VerificationPolicy::AlwaysVerify => "AlwaysVerify",
        }
    }

    /// `RequireCredentialVerificationForImage(image, imagePulledByKubelet)`:
    /// NeverVerify → never; NeverVerifyPreloadedImages → only images the kubelet pulled;
    /// NeverVerifyAllowlistedImages → every image the allowlist does not match (whether or not
    /// the kubelet pulled it); AlwaysVerify → always.
    pub fn requires_verification(
        self,
        allowlist: &Allowlist,
        image: &str,
        pulled_by_kubelet: bool,
    ) -> bool {
        match self {
            VerificationPolicy::NeverVerify => false,
            VerificationPolicy::NeverVerifyPreloadedImages => pulled_by_kubelet,
            VerificationPolicy::NeverVerifyAllowlistedImages => !allowlist.allows_image(image),
            VerificationPolicy::AlwaysVerify => true,
        }
    }
}

impl fmt::Display for VerificationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VerificationPolicy {
    type Err = PolicyError;

    /// Exact spellings; anything else is the pull manager's
    /// `unknown image pull credential verification policy: X`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "NeverVerify" => Ok(VerificationPolicy::NeverVerify),
            "NeverVerifyPreloadedImages" => Ok(VerificationPolicy::NeverVerifyPreloadedImages),
            "NeverVerifyAllowlistedImages" => Ok(VerificationPolicy::NeverVerifyAllowlistedImages),
            "AlwaysVerify" => Ok(VerificationPolicy::AlwaysVerify),
            other => Err(PolicyError::UnknownVerificationPolicy {
                value: other.to_string(),
            }),
        }
    }
}

/// The `preloadedImagesVerificationAllowlist`: normalized repository names without tag or digest
/// (`docker.io/library/nginx`), or prefixes ending in `/*` (`registry.example/team/*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    absolute: HashSet<String>,
    /// Wildcard patterns with the `*` removed (they keep the trailing `/`).
    prefixes: Vec<String>,
}

impl Allowlist {
    /// Validates and loads the patterns, as getAllowlistImagePattern does (the first invalid
    /// pattern fails the whole list, with the kubelet's message).
    pub fn parse(entries: &[String]) -> Result<Allowlist, PolicyError> {
        let mut list = Allowlist::default();
        for (index, entry) in entries.iter().enumerate() {
            let (pattern, wildcard) = allowlist_pattern(entry).map_err(|message| {
                PolicyError::InvalidAllowlistPattern {
                    index,
                    pattern: entry.clone(),
                    message,
                }
            })?;
            if wildcard {
                list.prefixes.push(pattern);
            } else {
                list.absolute.insert(pattern);
            }
        }
        Ok(list)
    }

    /// Number of exact names (duplicates counted once).
    pub fn exact_count(&self) -> usize {
        self.absolute.len()
    }

    /// Number of `/*` prefixes.
    pub fn wildcard_count(&self) -> usize {
        self.prefixes.len()
    }

    /// Whether a normalized repository name (no tag, no digest) matches: equal to an exact entry,
    /// or starting with a wildcard entry's prefix (which ends in `/`).
    pub fn allows(&self, normalized_name: &str) -> bool {
        self.absolute.contains(normalized_name)
            || self
                .prefixes
                .iter()
                .any(|p| normalized_name.starts_with(p.as_str()))
    }

    /// Whether an image as written in a pod (`nginx:1.25`, familiar names included) matches:
    /// it is normalized first; an unparsable image never matches (imageMatches).
    pub fn allows_image(&self, image: &str) -> bool {
        match Reference::parse_normalized(image) {
            Ok(r) => self.allows(&r.name()),
            Err(_) => false,
        }
    }
}

/// getAllowlistImagePattern: returns the stored pattern and whether it is a wildcard, or the
/// kubelet's error text.
fn allowlist_pattern(pattern: &str) -> Result<(String, bool), String> {
    if pattern != pattern.trim() {
        return Err(format!(
            "leading/trailing spaces are not allowed: {pattern}"
        ));
    }
    let wildcard = pattern.ends_with("/*");
    let trimmed = if wildcard {
        &pattern[..pattern.len() - 1]
    } else {
        pattern
    };
    if trimmed.is_empty() {
        return Err(format!("the supplied pattern is too short: {pattern}"));
    }
    if trimmed.contains('*') {
        return Err(format!(
            "not a valid wildcard pattern, only patterns ending with '/*' are allowed: {pattern}"
        ));
    }
    if wildcard {
        if trimmed.len() == 1 {
            return Err("at least registry hostname is required".to_string());
        }
        return Ok((trimmed.to_string(), true));
    }
    let named = Reference::parse_normalized(trimmed)
        .map_err(|e| format!("failed to parse as an image name: {}", e.upstream()))?;
    if named.name() != trimmed {
        return Err(format!(
            "neither tag nor digest is accepted in an image reference: {pattern}"
        ));
    }
    Ok((trimmed.to_string(), false))
}

/// A Kubernetes Secret that provided pull credentials (kubelet `ImagePullSecret`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretCoordinates {
    /// The Secret's UID.
    pub uid: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Hash of the credential it provided (empty if hashing failed).
    pub credential_hash: String,
}

/// A ServiceAccount that provided pull credentials (kubelet `ImagePullServiceAccount`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceAccountCoordinates {
    /// The ServiceAccount's UID.
    pub uid: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// The credentials recorded for one image name in an `ImagePulledRecord`
/// (kubelet `ImagePullCredentials`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCredentials {
    /// The image was found on the node without the kubelet pulling it.
    pub preloaded: bool,
    /// Pulled without pod credentials: every pod on the node may use it.
    pub node_pods_accessible: bool,
    /// Secrets whose credentials pulled it.
    pub kubernetes_secrets: Vec<SecretCoordinates>,
    /// Service accounts whose credentials pulled it.
    pub kubernetes_service_accounts: Vec<ServiceAccountCoordinates>,
}

/// What the node knows about earlier pulls of one image ID, as the pull manager reads it.
#[derive(Copy, Clone, Debug, Default)]
pub struct PullRecords<'a> {
    /// The `ImagePulledRecord` for the image ID: its credential mapping, keyed by normalized
    /// image name without tag or digest. `None` when there is no record.
    pub pulled: Option<&'a BTreeMap<String, RecordedCredentials>>,
    /// An `ImagePullIntent` exists for the image as written (a pull started and did not finish).
    pub intent_exists: bool,
}

/// The pod's credentials for the image that are not node-wide (secrets and at most one
/// service account), in keyring order.
#[derive(Copy, Clone, Debug, Default)]
pub struct PodCredentials<'a> {
    /// The pod's pull secrets that match the image.
    pub secrets: &'a [SecretCoordinates],
    /// The pod's service account, when it provided credentials.
    pub service_account: Option<&'a ServiceAccountCoordinates>,
}

/// The pull manager's verdict for a present image (MustAttemptImagePull).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verification {
    /// The policy exempts the image; `record_preloaded` says the kubelet would now write a
    /// `preloaded` record for it (no pull intent and no non-preloaded credentials recorded).
    Exempt {
        /// Whether a `preloaded: true` record should be written.
        record_preloaded: bool,
    },
    /// No pulled record exists for the image ID.
    NoRecord,
    /// The image as written cannot be parsed, so its record cannot be checked.
    UnparsableImage,
    /// The record has no entry for this image name.
    NoEntryForImage,
    /// The record says any pod on the node may use the image.
    NodePodsAccessible,
    /// The entry lists no secrets and no service accounts.
    NoCredentialsRecorded,
    /// One of the pod's secrets matches a recorded one.
    SecretMatched {
        /// Index of the matching pod secret.
        pod_secret: usize,
        /// Matched by credential hash (otherwise by UID/namespace/name).
        by_hash: bool,
        /// The kubelet would add this pod secret to the record (hash matched under other
        /// coordinates, or coordinates matched with a new hash).
        record_update: bool,
    },
    /// The pod's service account is recorded.
    ServiceAccountMatched,
    /// None of the pod's credentials match the record.
    NotMatched,
}

impl Verification {
    /// Whether the image must be pulled (verified) for this pod, i.e. the pod may not use the
    /// local copy as it is.
    pub fn must_pull(&self) -> bool {
        !matches!(
            self,
            Verification::Exempt { .. }
                | Verification::NodePodsAccessible
                | Verification::SecretMatched { .. }
                | Verification::ServiceAccountMatched
        )
    }
}

/// The kubelet stops writing records found while matching once an entry has this many secrets
/// (`writeRecordWhileMatchingLimit`, image_pull_manager.go); coordinate-only matches then no
/// longer count.
pub const WRITE_RECORD_WHILE_MATCHING_LIMIT: usize = 100;

/// isExemptedByPolicy's "pulled by the kubelet" test: a record whose entry for this image (or,
/// without an entry, any entry) is not `preloaded`, or a pull intent, or an image name that
/// cannot be parsed while a record exists.
pub fn pulled_by_kubelet(records: &PullRecords<'_>, normalized_name: Option<&str>) -> bool {
    match records.pulled {
        None => records.intent_exists,
        Some(mapping) => {
            let Some(name) = normalized_name else {
                return true;
            };
            match mapping.get(name) {
                Some(c) if !c.preloaded => return true,
                Some(_) => {}
                None => {
                    if mapping.values().any(|c| !c.preloaded) {
                        return true;
                    }
                }
            }
            records.intent_exists
        }
    }
}

/// MustAttemptImagePull for a present image: whether `pod` may use the local copy of `image`
/// (as written in the pod spec) under `policy`, given the node's pull `records`.
pub fn verify(
    policy: VerificationPolicy,
    allowlist: &Allowlist,
    image: &str,
    records: &PullRecords<'_>,
    pod: &PodCredentials<'_>,
) -> Verification {
    let sanitized = parse_image_name(image).ok().map(|n| n.repository);
    let by_kubelet = pulled_by_kubelet(records, sanitized.as_deref());
    if !policy.requires_verification(allowlist, image, by_kubelet) {
        let record_preloaded = match records.pulled {
            Some(mapping) => mapping.values().all(|c| c.preloaded),
            None => !records.intent_exists,
        };
        return Verification::Exempt { record_preloaded };
    }
    let Some(mapping) = records.pulled else {
        return Verification::NoRecord;
    };
    let Some(name) = sanitized else {
        return Verification::UnparsableImage;
    };
    let Some(cached) = mapping.get(&name) else {
        return Verification::NoEntryForImage;
    };
    if cached.node_pods_accessible {
        return Verification::NodePodsAccessible;
    }
    if cached.kubernetes_secrets.is_empty() && cached.kubernetes_service_accounts.is_empty() {
        return Verification::NoCredentialsRecorded;
    }
    let below_limit = cached.kubernetes_secrets.len() < WRITE_RECORD_WHILE_MATCHING_LIMIT;
    for (i, pod_secret) in pod.secrets.iter().enumerate() {
        for cached_secret in &cached.kubernetes_secrets {
            let hashes_match = !cached_secret.credential_hash.is_empty()
                && pod_secret.credential_hash == cached_secret.credential_hash;
            let coordinates_match = pod_secret.uid == cached_secret.uid
                && pod_secret.namespace == cached_secret.namespace
                && pod_secret.name == cached_secret.name;
            if hashes_match {
                return Verification::SecretMatched {
                    pod_secret: i,
                    by_hash: true,
                    record_update: !coordinates_match && below_limit,
                };
            }
            if coordinates_match && below_limit {
                return Verification::SecretMatched {
                    pod_secret: i,
                    by_hash: false,
                    record_update: true,
                };
            }
        }
    }
    if let Some(sa) = pod.service_account
        && cached.kubernetes_service_accounts.contains(sa)
    {
        return Verification::ServiceAccountMatched;
    }
    Verification::NotMatched
}
