//! Hints: what a person can act on when a pod's image is not ready — a stable `code`, one
//! sentence of why, and the fix — drawn from the run's own typed state (the pod's spec, its
//! defaulted policies, its images' states, the secrets given), never from message text.
//! The container runtime adds its own (`pullsim_runtime::RuntimeHint`).

use pullsim_policy::{PullPolicy, Reason};

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

/// The hints of one simulated pod. `present(image)`: whether the node's store has the image.
pub fn pod_hints(pod: &PodRun, secrets: &SecretSet, present: &dyn Fn(&str) -> bool) -> Vec<Hint> {
    let mut out = Vec::new();
    let key = pod.key();
    let ns = &pod.spec.namespace;
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
            if present(&img.image) {
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
