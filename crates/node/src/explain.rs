//! `pod explain`: for each image of each pod, the image manager's decision path in words — a
//! dry run of the same engine: [`crate::decision::decide_image`] over the runtime's read-only
//! calls and a [`DryRunRecords`] accessor (no network, no writes).

use pullsim_policy::{Decision, PullPolicy, Reason, Verification, VerificationPolicy};
use pullsim_reference::Reference;
use pullsim_runtime::{ImageService, ImageSpec, PullRoute};

use crate::decision::decide_image;
use crate::image_manager::ManagerConfig;
use crate::pull_manager::PullManager;
use crate::records::{DryRunRecords, PullRecordsAccessor};
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
    /// What EnsureImageExists would do, in words.
    pub decision: String,
    /// When the image would be pulled: the registry endpoints the runtime would try, in order,
    /// with the credential each would be offered (for the first credential the kubelet tries).
    pub route: Option<PullRoute>,
    /// Why the route could not be worked out (a runtime configuration that does not load).
    pub route_error: Option<String>,
    /// What EnsureImageExists would do: `pull`, `use-local` or `error`
    /// (`pullsim_policy::Decision::as_str`; `error` also for a failure before the decision).
    pub action: &'static str,
    /// The waiting reason the decision gives by itself (`ErrImageNeverPull`,
    /// `InvalidImageName`, `ImageInspectError`, `ErrImagePull`); `None` for `use-local`, and
    /// for `pull`, whose reason depends on the registry.
    pub reason: Option<Reason>,
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

/// A verification verdict in words (`policy`: the configured one; `creds`: the pod's credential
/// labels in keyring order).
pub fn verification_words(
    v: &Verification,
    policy: VerificationPolicy,
    creds: &[String],
) -> String {
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

/// Explain every image of every pod: the decision step of EnsureImageExists run over `service`
/// (ImageStatus and ListImages only) and `records` (read through a [`DryRunRecords`]), so what
/// it predicts is what `ensure_image_exists` then does. Back-off is in memory per run, so a
/// fresh node has none.
pub fn explain<S: ImageService, R: PullRecordsAccessor>(
    service: &S,
    records: &R,
    pods: &[PodRun],
    cfg: &ManagerConfig,
) -> Vec<Explanation> {
    let pulls = PullManager::new(DryRunRecords(records), cfg.verification.clone());
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
                route: None,
                route_error: None,
                action: "error",
                reason: None,
            };
            let d = match decide_image(
                service,
                &pulls,
                cfg.ensure_secret_pulled_images,
                &img.image,
                policy,
                pod.credentials.as_ref(),
                pullsim_policy::Time::ZERO,
            ) {
                Ok(d) => d,
                Err(f) => {
                    e.presence = match f.reason {
                        Reason::ImageInspectError => format!("lookup failed: {}", f.message),
                        _ => "not looked up".into(),
                    };
                    e.decision = format!("{}: {}", f.reason.as_str(), f.message);
                    e.reason = Some(f.reason);
                    out.push(e);
                    continue;
                }
            };
            let creds = match d.decision {
                Decision::Pull => d.credentials.clone(),
                _ => pod.credentials.lookup(&d.image).unwrap_or_default(),
            };
            e.credentials = creds
                .iter()
                .map(|c| format!("{} (key {}): {}", c.label(), c.key, c.why))
                .collect();
            if e.credentials.is_empty() {
                e.credentials
                    .push("none: the pull is anonymous".to_string());
            }
            e.not_matching = pod.credentials.misses(&d.image);
            // Presence in words. Always skips the lookup; explain still shows what is there.
            let status = if d.looked_up {
                None
            } else {
                service
                    .image_status(&ImageSpec::new(d.image.as_ref()))
                    .ok()
                    .flatten()
            };
            let shown_ref = d
                .image_ref
                .clone()
                .or_else(|| status.as_ref().map(|s| s.id.clone()));
            match &shown_ref {
                Some(id) => {
                    e.presence = format!("present as image {id}");
                    let found = status.or_else(|| {
                        service
                            .image_status(&ImageSpec::new(id.as_str()))
                            .ok()
                            .flatten()
                    });
                    if let Some(p) = found.and_then(|i| i.platform)
                        && p != host_platform()
                    {
                        e.near_matches.push(format!(
                            "stored for platform {p}, this node is {}",
                            host_platform()
                        ));
                    }
                }
                None => {
                    e.presence = "absent".into();
                    if let (Ok(r), Ok(all)) = (
                        Reference::parse_normalized(&d.image),
                        service.list_images(None),
                    ) {
                        e.near_matches = crate::near::near_matches(&all, &r)
                            .iter()
                            .map(ToString::to_string)
                            .collect();
                    }
                }
            }
            if !d.looked_up {
                e.presence = format!(
                    "{} (not looked up: Always skips the local lookup)",
                    e.presence
                );
            }
            e.verification = match (&d.verification, policy, &d.image_ref) {
                (_, PullPolicy::Always, _) => "not needed: the image is pulled anyway".into(),
                (_, _, None) => "not applicable: the image is absent".into(),
                (None, _, Some(_)) => {
                    "off (feature gate KubeletEnsureSecretPulledImages=false)".into()
                }
                (Some(v), _, Some(_)) => {
                    let labels: Vec<String> = pod
                        .credentials
                        .lookup(&d.image)
                        .unwrap_or_default()
                        .iter()
                        .filter(|c| c.secret_coordinates().is_some())
                        .map(|c| c.label())
                        .collect();
                    verification_words(v, cfg.verification.policy, &labels)
                }
            };
            e.action = d.decision.as_str();
            e.reason = d.decision.reason();
            if d.decision == Decision::Pull {
                match service.pull_route(
                    &ImageSpec::new(d.image.as_ref()),
                    creds.first().map(|c| &c.auth),
                ) {
                    Ok(route) if !route.hosts.is_empty() => e.route = Some(route),
                    Ok(_) => {}
                    Err(err) => e.route_error = Some(err.to_string()),
                }
            }
            e.decision = match (d.decision, &d.image_ref) {
                (Decision::UseLocal, _) => "use the local image (Normal Pulled: already present on machine)".into(),
                (Decision::NeverPull, None) => "ErrImageNeverPull: absent and the policy is Never".into(),
                (Decision::NeverPull, Some(_)) => "ErrImageNeverPull: present, but this pod may not use it and the policy is Never".into(),
                (Decision::Pull, _) => format!(
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
