//! Hints: what a person can act on when a pod's image is not ready — a stable `code`, one
//! sentence of why, and the fix — drawn from the run's own typed state (the pod's spec, its
//! defaulted policies, its images' states, the secrets given, the node's store), never from
//! message text. The container runtime adds its own (`pullsim_runtime::RuntimeHint`: the
//! registry's refusals and the runtime's configuration).

use pullsim_credentials::Keyring;
use pullsim_policy::{PullPolicy, Reason};
use pullsim_reference::Reference;
use pullsim_runtime::{ImageService, ImageSpec};

use crate::manifest::Manifests;
use crate::near::{NearKind, near_matches};
use crate::pods::SecretSet;
use crate::sync::{ImageState, PodRun};

/// One hint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Hint {
    /// Stable code (README lists them).
    pub code: &'static str,
    /// `namespace/name` of the pod, when the hint is about one.
    pub pod: Option<String>,
    /// The container (or image volume), when the hint is about one.
    pub container: Option<String>,
    /// The image, when the hint is about one.
    pub image: Option<String>,
    /// Why, in one sentence.
    pub why: String,
    /// What to change.
    pub fix: String,
}

/// What the node knows besides the pod: the secrets given, the manifests (for service
/// accounts; `None` for `pull` and `creds check`, whose pod is made from flags).
pub struct HintInputs<'a> {
    /// Every Secret given.
    pub secrets: &'a SecretSet,
    /// The manifests the pods came from.
    pub manifests: Option<&'a Manifests>,
}

/// The node's own hints, not about one pod: credential helpers named in the node's docker
/// config (`credential-helper-in-config`).
pub fn node_hints(node: &Keyring) -> Vec<Hint> {
    node.node_credential_helpers()
        .iter()
        .map(|h| Hint {
            code: "credential-helper-in-config",
            pod: None,
            container: None,
            image: None,
            why: format!(
                "the node's docker config names a credential helper ({h}), and the kubelet reads only \"auths\": it never runs docker-credential-* helpers, so what they keep never reaches a pull"
            ),
            fix: "write the credentials into \"auths\" of the node's config.json, or configure a kubelet image credential provider plugin (--image-credential-provider-config)".to_string(),
        })
        .collect()
}

/// The hints of one simulated pod, over the node's store as `service` answers.
pub fn pod_hints<S: ImageService>(pod: &PodRun, inputs: &HintInputs<'_>, service: &S) -> Vec<Hint> {
    let secrets = inputs.secrets;
    let mut out = Vec::new();
    let key = pod.key();
    let ns = &pod.spec.namespace;
    secret_hints(pod, inputs, &mut out);
    let present = |image: &str| {
        service
            .image_status(&ImageSpec::new(image))
            .ok()
            .flatten()
            .is_some()
    };
    for name in &pod.missing_secrets {
        let mut elsewhere: Vec<&str> = secrets
            .present
            .iter()
            .filter(|(n, s)| s == name && n != ns)
            .map(|(n, _)| n.as_str())
            .collect();
        elsewhere.sort_unstable();
        let h = if elsewhere.is_empty() {
            Hint {
                code: "secret-not-found",
                pod: Some(key.clone()),
                container: None,
                image: None,
                why: format!(
                    "the pod's imagePullSecrets name {name:?}, which is not among the secrets given in namespace {ns:?}: the kubelet pulls without it (FailedToRetrieveImagePullSecret)"
                ),
                fix: format!(
                    "give the secret (--secret FILE, or in the manifests) in namespace {ns:?}, or correct the name in imagePullSecrets"
                ),
            }
        } else {
            Hint {
                code: "secret-in-other-namespace",
                pod: Some(key.clone()),
                container: None,
                image: None,
                why: format!(
                    "the pod's imagePullSecret {name:?} exists in namespace {} but not in the pod's namespace {ns:?}, and a pod can only use secrets of its own namespace (a secret made with `kubectl create secret … --dry-run=client -o yaml` has no namespace and lands in \"default\")",
                    elsewhere.join(", ")
                ),
                fix: format!(
                    "create the secret in {ns:?} (kubectl create secret docker-registry {name} -n {ns} …, or pass -n {ns} to pullsim for a secret file without a namespace)"
                ),
            }
        };
        out.push(h);
    }
    // The store's images, listed once for the pod's near-match hints.
    let mut listed: Option<Vec<pullsim_runtime::Image>> = None;
    for (i, img) in pod.spec.images.iter().enumerate() {
        let ImageState::Waiting { reason, .. } = &pod.states[i] else {
            continue;
        };
        let at = |code: &'static str, why: String, fix: String| Hint {
            code,
            pod: Some(key.clone()),
            container: Some(img.name.clone()),
            image: Some(img.image.clone()),
            why,
            fix,
        };
        let failed_pull = matches!(
            reason,
            Reason::ErrImagePull | Reason::ImagePullBackOff | Reason::RegistryUnavailable
        );
        let is_present = present(&img.image);
        if failed_pull && pod.policies[i] == PullPolicy::IfNotPresent && is_present {
            out.push(at(
                "kep2535-credentials-not-verified",
                "the image is in the node's store and the policy is IfNotPresent, but the kubelet (KubeletEnsureSecretPulledImages, KEP-2535) has no record that this pod's credentials may pull it, so it pulled to check them, and that pull failed".to_string(),
                "give the pod a pull secret that can pull the image, or list the image in preloadedImagesVerificationAllowlist / use imagePullCredentialsVerificationPolicy NeverVerifyPreloadedImages (or NeverVerify) in the kubelet configuration".to_string(),
            ));
        }
        if !is_present
            && matches!(
                reason,
                Reason::ErrImagePull
                    | Reason::ImagePullBackOff
                    | Reason::RegistryUnavailable
                    | Reason::ErrImageNeverPull
            )
        {
            let all = listed.get_or_insert_with(|| service.list_images(None).unwrap_or_default());
            out.extend(
                near_hints(&img.image, all)
                    .into_iter()
                    .map(|(code, why, fix)| at(code, why, fix)),
            );
        }
        if failed_pull && pod.policies[i] == PullPolicy::Always {
            if img.pull_policy.is_none() {
                out.push(at(
                    "latest-defaults-to-always",
                    format!(
                        "{:?} has no tag or the tag \"latest\", so imagePullPolicy defaulted to Always: the node pulls it every time a container starts, and this pull failed",
                        img.image
                    ),
                    "pin a tag (app:1.4.2) or set imagePullPolicy: IfNotPresent".to_string(),
                ));
            }
            if is_present {
                out.push(at(
                    "present-but-policy-always",
                    "the image is in the node's store, but the policy is Always, so the kubelet asked the registry anyway and that failed".to_string(),
                    "set imagePullPolicy: IfNotPresent (or Never on an air-gapped node) to use the image the node has".to_string(),
                ));
            }
        }
        if *reason == Reason::ImagePullBackOff {
            out.push(at(
                "in-backoff",
                "the kubelet is waiting before it pulls again: after each failed pull the back-off of <podUID>_<image> doubles from 10s up to 5m, and the next attempt waits for it".to_string(),
                "fix the cause in the last Failed event; `pullsim pod run --virtual-time --until 5m` shows the retry schedule".to_string(),
            ));
        }
    }
    out
}

/// secret-wrong-type, credential-helper-in-config (a pod's secret), service-account-not-found.
fn secret_hints(pod: &PodRun, inputs: &HintInputs<'_>, out: &mut Vec<Hint>) {
    let key = pod.key();
    let ns = &pod.spec.namespace;
    let own = &pod.spec.image_pull_secrets;
    let names: Vec<String> = match inputs.manifests {
        Some(m) => crate::pods::pull_secret_names(&pod.spec, m).0,
        None => own.clone(),
    };
    let hint = |code: &'static str, why: String, fix: String| Hint {
        code,
        pod: Some(key.clone()),
        container: None,
        image: None,
        why,
        fix,
    };
    let mut seen: Vec<&str> = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        if let Some(o) = inputs.secrets.other_type(ns, name) {
            out.push(hint(
                "secret-wrong-type",
                format!(
                    "the pod's imagePullSecret {name:?} has type {:?}, and the kubelet reads only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg secrets for pulls: it contributed no credentials",
                    o.secret_type
                ),
                format!(
                    "recreate it as a pull secret: kubectl create secret docker-registry {name} -n {ns} --docker-server=REGISTRY --docker-username=USER --docker-password=… (type kubernetes.io/dockerconfigjson, key .dockerconfigjson)"
                ),
            ));
        }
        if let Some(s) = inputs.secrets.pull_secret(ns, name)
            && !s.credential_helpers.is_empty()
        {
            out.push(hint(
                "credential-helper-in-config",
                format!(
                    "the pod's imagePullSecret {name:?} names a credential helper ({}), and the kubelet reads only \"auths\" from a pull secret: it never runs docker-credential-* helpers, so the credentials they keep never reach the node",
                    s.credential_helpers.join(", ")
                ),
                "create the secret with the credentials themselves (kubectl create secret docker-registry --docker-username … --docker-password …), not from a config.json that uses credsStore/credHelpers".to_string(),
            ));
        }
    }
    let Some(m) = inputs.manifests else {
        return;
    };
    let sa = &pod.spec.service_account;
    if !own.iter().any(|n| !n.is_empty()) && m.service_account(ns, sa).is_none() {
        let failed = pod.states.iter().any(|s| {
            matches!(
                s,
                ImageState::Waiting {
                    reason: Reason::ErrImagePull | Reason::ImagePullBackOff,
                    ..
                }
            )
        });
        // The "default" account is in every namespace and rarely exported: only when the
        // inputs carry service accounts (so this one was expected) and a pull failed.
        if sa != "default" || (failed && !m.service_accounts.is_empty()) {
            out.push(hint(
                "service-account-not-found",
                format!(
                    "the pod lists no imagePullSecrets, so it gets those of its ServiceAccount {ns}/{sa} (the ServiceAccount admission copies them), but that ServiceAccount is not among the inputs: the pod is simulated with none"
                ),
                format!(
                    "add it to the inputs (kubectl get serviceaccount {sa} -n {ns} -o yaml), or list imagePullSecrets on the pod"
                ),
            ));
        }
    }
}

/// near-match-name and digest-changed-by-import for an image the node does not have.
fn near_hints(image: &str, all: &[pullsim_runtime::Image]) -> Vec<(&'static str, String, String)> {
    let Ok(r) = Reference::parse_normalized(image) else {
        return Vec::new();
    };
    let near = near_matches(all, &r);
    let Some(first) = near.first() else {
        return Vec::new();
    };
    if r.digest().is_some()
        && let Some(same_repo) = near
            .iter()
            .find(|m| matches!(m.kind, NearKind::OtherTag | NearKind::OtherDigest))
    {
        return vec![(
            "digest-changed-by-import",
            format!(
                "the pod pins {image}, and the node has the same repository as {} (image {}) under another digest: an image loaded from an archive (docker save, docker-archive) gets a manifest written on load, whose digest is not the registry's, so a digest-pinned reference never matches it",
                same_repo.shown, same_repo.id
            ),
            format!(
                "load an archive that keeps the registry's manifest (skopeo copy docker://… oci-archive:…), pin the digest the node has, or refer to the image by tag ({})",
                same_repo.shown
            ),
        )];
    }
    let listed: Vec<String> = near.iter().take(3).map(|m| m.shown.clone()).collect();
    let why = match first.kind {
        NearKind::OtherRepository {
            docker_io_default: true,
        } => format!(
            "the node has no {image} (a name without a registry means {}), but it has {}",
            r,
            listed.join(", ")
        ),
        _ => format!(
            "the node has no {image} ({r}), but it has {}",
            listed.join(", ")
        ),
    };
    vec![(
        "near-match-name",
        why,
        format!(
            "use the name the node has in the pod spec ({}), or tag the image on the node with the name the pod uses",
            first.shown
        ),
    )]
}
