//! `pod explain`: for each image of each pod, the image manager's decision path in words,
//! without pulling and without writing anything.

use std::sync::Arc;

use pullsim_policy::{PullPolicy, Verification, VerificationPolicy};
use pullsim_reference::Reference;
use pullsim_store::Store;

use crate::image_manager::{ManagerConfig, apply_default_image_tag};
use crate::records::PullManager;
use crate::runtime::StoreRecords;
use crate::sync::PodRun;

/// The explanation of one image of one pod.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: String,
    /// Container or volume name.
    pub container: String,
    /// init container, container, ephemeral container, image volume.
    pub kind: &'static str,
    /// The image as written.
    pub image: String,
    /// The pull policy after defaulting.
    pub policy: String,
    /// Why this policy.
    pub policy_why: String,
    /// Whether the image is present, in words (with its ID).
    pub presence: String,
    /// Near matches in the store when the image is absent (or other notes).
    pub near_matches: Vec<String>,
    /// KEP-2535 verification, in words.
    pub verification: String,
    /// Credentials in try order: `source key: why`.
    pub credentials: Vec<String>,
    /// Keys that did not match, with why.
    pub not_matching: Vec<String>,
    /// Back-off state.
    pub backoff: String,
    /// What EnsureImageExists would do.
    pub decision: String,
}

fn policy_why(written: Option<PullPolicy>, image: &str) -> String {
    if written.is_some() {
        return "set in the pod spec".to_string();
    }
    match pullsim_reference::parse_image_name(image) {
        Err(_) => "defaulted: the image name does not parse, so there is no tag (IfNotPresent)"
            .to_string(),
        Ok(n) if n.tag == "latest" && !image.contains(":latest") => {
            "defaulted: no tag and no digest means tag \"latest\", and \"latest\" means Always"
                .to_string()
        }
        Ok(n) if n.tag == "latest" => "defaulted: the tag is \"latest\" (Always)".to_string(),
        Ok(n) if n.tag.is_empty() => {
            "defaulted: pinned by digest without a tag (IfNotPresent)".to_string()
        }
        Ok(n) => format!(
            "defaulted: the tag {:?} is not \"latest\" (IfNotPresent)",
            n.tag
        ),
    }
}

fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

fn near_matches(store: &Store, r: &Reference) -> Vec<String> {
    let Ok(all) = store.list() else {
        return Vec::new();
    };
    let last = r.path().rsplit('/').next().unwrap_or("").to_string();
    let mut out = Vec::new();
    for rec in &all {
        let shown = match (&rec.tag, &rec.digest) {
            (_, Some(d)) => format!("{}@{d}", rec.name),
            (Some(t), None) => format!("{}:{t}", rec.name),
            (None, None) => rec.name.clone(),
        };
        if rec.name == r.name() {
            out.push(format!(
                "another tag of the same repository: {shown} (image {})",
                rec.id()
            ));
        } else if rec.name.rsplit('/').next() == Some(last.as_str()) {
            let hint = if r.domain() == "docker.io" && !r.to_string().contains(&rec.name) {
                " — a name without a registry means docker.io/library/ (or docker.io/)"
            } else {
                ""
            };
            out.push(format!(
                "the same name in another repository: {shown} (image {}){hint}",
                rec.id()
            ));
        }
    }
    out
}

fn verification_words(v: &Verification, policy: VerificationPolicy, creds: &[String]) -> String {
    match v {
        Verification::Exempt { .. } => format!(
            "not required: {policy} does not verify this image (preloaded, allowlisted or never verified)"
        ),
        Verification::NoRecord => "required, and there is no record of how the kubelet pulled it: the pod must pull it to show it has access".to_string(),
        Verification::UnparsableImage => "required, but the image name does not parse: the pod must pull".to_string(),
        Verification::NoEntryForImage => "required, and the record has no entry for this image name: the pod must pull".to_string(),
        Verification::NoCredentialsRecorded => "required, and the record lists no credentials: the pod must pull".to_string(),
        Verification::NodePodsAccessible => "passed: the image was pulled without pod credentials, every pod on the node may use it".to_string(),
        Verification::SecretMatched { pod_secret, by_hash, .. } => format!(
            "passed: the pod's credential {} matches the record ({})",
            creds.get(*pod_secret).map(String::as_str).unwrap_or("?"),
            if *by_hash { "same credential hash" } else { "same secret coordinates" }
        ),
        Verification::ServiceAccountMatched => "passed: the pod's service account is in the record".to_string(),
        Verification::NotMatched => "failed: the image was pulled with credentials this pod does not have; it must pull with its own".to_string(),
    }
}

/// Explain every image of every pod.
pub fn explain(store: Arc<Store>, pods: &[PodRun], cfg: &ManagerConfig) -> Vec<Explanation> {
    let pulls =
        PullManager::new(StoreRecords::new(store.clone()), cfg.verification.clone()).read_only();
    let mut out = Vec::new();
    for pod in pods {
        for (i, img) in pod.spec.images.iter().enumerate() {
            let policy = pod.policies[i];
            let mut e = Explanation {
                pod: pod.key(),
                container: img.name.clone(),
                kind: img.source.word(),
                image: img.image.clone(),
                policy: policy.to_string(),
                policy_why: policy_why(img.pull_policy, &img.image),
                presence: String::new(),
                near_matches: Vec::new(),
                verification: String::new(),
                credentials: Vec::new(),
                not_matching: Vec::new(),
                backoff: "none: the kubelet keeps back-off in memory per <podUID>_<image>; after failed pulls it waits 10s, 20s, 40s, 80s, 160s, then 300s".to_string(),
                decision: String::new(),
            };
            let tagged = match apply_default_image_tag(&img.image) {
                Ok(t) => t,
                Err(err) => {
                    e.presence = "not looked up".into();
                    e.decision = format!(
                        "InvalidImageName: {}",
                        pullsim_policy::messages::failed_default_tag(&img.image, &err)
                    );
                    out.push(e);
                    continue;
                }
            };
            let creds = pod.credentials.lookup(&tagged).unwrap_or_default();
            e.credentials = creds
                .iter()
                .map(|c| format!("{} (key {}): {}", c.label(), c.key, c.why))
                .collect();
            if e.credentials.is_empty() {
                e.credentials
                    .push("none: the pull is anonymous".to_string());
            }
            e.not_matching = pod.credentials.misses(&tagged);
            let r = Reference::parse_normalized(&tagged).ok();
            let rec = r.as_ref().map(|r| store.lookup(r));
            let present = match rec {
                Some(Ok(Some(rec))) => {
                    e.presence = format!("present as image {}", rec.id());
                    if let Some(p) = &rec.platform
                        && *p != host_platform()
                    {
                        e.near_matches.push(format!(
                            "stored for platform {p}, this node is {}",
                            host_platform()
                        ));
                    }
                    Some(rec.id())
                }
                Some(Ok(None)) => {
                    e.presence = "absent".into();
                    if let Some(r) = &r {
                        e.near_matches = near_matches(&store, r);
                    }
                    None
                }
                Some(Err(err)) => {
                    e.presence = format!("lookup failed: {err}");
                    e.decision = "ImageInspectError".into();
                    out.push(e);
                    continue;
                }
                None => {
                    e.presence = "absent".into();
                    None
                }
            };
            if policy == PullPolicy::Always {
                e.presence = format!(
                    "{} (not looked up: Always skips the local lookup)",
                    e.presence
                );
            }
            let must_pull = match (&present, policy) {
                (_, PullPolicy::Always) => {
                    e.verification = "not needed: the image is pulled anyway".into();
                    true
                }
                (None, _) => {
                    e.verification = "not applicable: the image is absent".into();
                    true
                }
                (Some(_), _) if !cfg.ensure_secret_pulled_images => {
                    e.verification =
                        "off (feature gate KubeletEnsureSecretPulledImages=false)".into();
                    false
                }
                (Some(id), _) => {
                    match pulls.verify(
                        &img.image,
                        id,
                        pod.credentials.as_ref(),
                        pullsim_policy::Time::ZERO,
                    ) {
                        Ok(v) => {
                            let labels: Vec<String> = creds
                                .iter()
                                .filter(|c| c.secret_coordinates().is_some())
                                .map(|c| c.label())
                                .collect();
                            e.verification =
                                verification_words(&v, cfg.verification.policy, &labels);
                            v.must_pull()
                        }
                        Err(err) => {
                            e.verification = format!("error: {err}");
                            true
                        }
                    }
                }
            };
            e.decision = match (must_pull, policy, &present) {
                (false, _, _) => "use the local image (Normal Pulled: already present on machine)".into(),
                (true, PullPolicy::Never, None) => "ErrImageNeverPull: absent and the policy is Never".into(),
                (true, PullPolicy::Never, Some(_)) => "ErrImageNeverPull: present, but this pod may not use it and the policy is Never".into(),
                (true, _, _) => format!(
                    "pull ({})",
                    if creds.is_empty() {
                        "anonymously".to_string()
                    } else {
                        format!("trying {} credential(s) in order, no anonymous retry", creds.len())
                    }
                ),
            };
            out.push(e);
        }
    }
    out
}
