//! The pod workers' sync loop, reduced to what touches images.
//!
//! Each sync of a pod follows kuberuntime_manager.go SyncPod: image volumes first (the first
//! failure ends the sync), then ephemeral containers, then init containers one after another
//! (a failure ends the sync: later init containers and the regular containers wait), then every
//! regular container (a failure does not stop the others). A container whose image fails gets
//! the kubelet's `Failed` event `Error: <reason>` (kuberuntime_container.go startContainer).
//!
//! A pod that is not ready is synced again after the pod worker's back-off period, 10 s
//! (kubelet.go backOffPeriod; the kubelet adds up to 50 % jitter, omitted here so that runs are
//! reproducible). With the image back-off of 10 s doubling to 300 s, pulls then happen at
//! 0 s, 10 s, 30 s, 70 s, 150 s ... with `Back-off pulling image` on the syncs between.

use std::sync::Arc;
use std::time::Duration;

use pullsim_policy::{EventType, PullPolicy, Reason, Time};

use crate::image_manager::{EnsureOutcome, EnsureRequest, ImageManager};
use crate::manifest::{ImageSource, PodSpec};
use pullsim_runtime::ImageService;

use crate::records::PullRecordsAccessor;
use crate::services::{Clock, FakeClock, PodCredentials};

/// The pod worker's retry period after a failed sync (kubelet.go backOffPeriod).
pub const POD_WORKER_BACKOFF: Duration = Duration::from_secs(10);

/// The state of one image of a pod after the last sync that reached it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageState {
    /// Never reached (an earlier init container or image volume is not ready).
    Pending,
    /// The image is present and the pod may use it.
    Ready {
        /// The image ID.
        image_id: String,
    },
    /// Waiting, with the kubelet's reason and message.
    Waiting {
        /// Reason.
        reason: Reason,
        /// Message.
        message: String,
    },
}

/// A pod being simulated: its spec, its credentials, the defaulted policies and the states.
pub struct PodRun {
    /// The pod.
    pub spec: PodSpec,
    /// The pod's keyring.
    pub credentials: Box<dyn PodCredentials>,
    /// Pull policy of each image (after defaulting), parallel to `spec.images`.
    pub policies: Vec<PullPolicy>,
    /// State of each image, parallel to `spec.images`.
    pub states: Vec<ImageState>,
    /// Images for which a pull was attempted (reached the puller), by index.
    pub pull_attempted: Vec<bool>,
    /// Number of syncs.
    pub syncs: u32,
    /// Referenced pull secrets that are not in the inputs.
    pub missing_secrets: Vec<String>,
}

impl PodRun {
    /// A pod with its policies defaulted (SetDefaults_Container / SetDefaults_Volume).
    pub fn new(spec: PodSpec, credentials: Box<dyn PodCredentials>) -> PodRun {
        let policies = spec
            .images
            .iter()
            .map(|i| {
                i.pull_policy
                    .unwrap_or_else(|| pullsim_policy::default_pull_policy(&i.image))
            })
            .collect();
        let n = spec.images.len();
        PodRun {
            spec,
            credentials,
            policies,
            states: vec![ImageState::Pending; n],
            pull_attempted: vec![false; n],
            syncs: 0,
            missing_secrets: Vec::new(),
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.spec.namespace, self.spec.name)
    }

    /// Every image ready.
    pub fn ready(&self) -> bool {
        self.states
            .iter()
            .all(|s| matches!(s, ImageState::Ready { .. }))
    }
}

/// How the loop runs.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Run on this virtual clock (no sleeping); `None`: real time.
    pub virtual_clock: Option<Arc<FakeClock>>,
    /// Keep re-syncing pods that are not ready until this much time has passed; `None`: one
    /// sync per pod.
    pub until: Option<Duration>,
}

/// Run the sync loop over all pods. Pods due at the same moment are synced concurrently
/// (their pulls meet in the puller, as pod workers' pulls do).
pub async fn run_pods<S: ImageService, R: PullRecordsAccessor>(
    manager: &ImageManager<S, R>,
    pods: &mut [PodRun],
    opts: &SyncOptions,
) {
    let start = manager.clock().now();
    let end = opts.until.map(|u| start + u);
    let mut next: Vec<Option<Time>> = vec![Some(start); pods.len()];
    while let Some(t) = next.iter().flatten().min().copied() {
        if let Some(end) = end
            && t > end
        {
            break;
        }
        match &opts.virtual_clock {
            // Never backwards (a test's runtime may move the clock during a sync).
            Some(clock) => clock.set(t.max(Clock::now(clock.as_ref()))),
            None => {
                let now = manager.clock().now();
                if t > now {
                    tokio::time::sleep(t - now).await;
                }
            }
        }
        let now = manager.clock().now();
        let mut due = Vec::new();
        for (i, (pod, n)) in pods.iter_mut().zip(next.iter()).enumerate() {
            if n.is_some_and(|n| n <= now) {
                due.push((i, pod));
            }
        }
        let indices: Vec<usize> = due.iter().map(|(i, _)| *i).collect();
        // pod_workers.go completeWork: a failed sync is requeued backOffPeriod after the sync
        // *finished* (not after it started), so the next attempt never falls inside the 10 s
        // image back-off that a failure at the end of a slow pull started.
        let futs = due.into_iter().map(|(_, pod)| async {
            sync_pod(manager, pod).await;
            manager.clock().now()
        });
        let finished = futures_util::future::join_all(futs).await;
        for (i, done) in indices.into_iter().zip(finished) {
            next[i] = if pods[i].ready() || opts.until.is_none() {
                None
            } else {
                Some(done.max(now) + POD_WORKER_BACKOFF)
            };
        }
    }
}

/// One SyncPod, as far as images go.
pub async fn sync_pod<S: ImageService, R: PullRecordsAccessor>(
    manager: &ImageManager<S, R>,
    pod: &mut PodRun,
) {
    pod.syncs += 1;
    let key = pod.key();
    if !pod.missing_secrets.is_empty() {
        // kubelet_pods.go getPullSecretsForPod, on every sync.
        manager.record_pod_event(
            &key,
            EventType::Warning,
            "FailedToRetrieveImagePullSecret",
            format!(
                "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                pod.missing_secrets.join(", ")
            ),
        );
    }
    let order = [
        ImageSource::ImageVolume,
        ImageSource::EphemeralContainer,
        ImageSource::InitContainer,
        ImageSource::Container,
    ];
    for source in order {
        let indices: Vec<usize> = pod
            .spec
            .images
            .iter()
            .enumerate()
            .filter(|(_, i)| i.source == source)
            .map(|(i, _)| i)
            .collect();
        for i in indices {
            // Image volumes are ensured on every sync; containers only until they started.
            if source != ImageSource::ImageVolume
                && matches!(pod.states[i], ImageState::Ready { .. })
            {
                continue;
            }
            let img = &pod.spec.images[i];
            let field_path = img.field_path();
            let req = EnsureRequest {
                pod: &key,
                pod_uid: &pod.spec.uid,
                container: &img.name,
                field_path: field_path.as_deref(),
                image: &img.image,
                policy: pod.policies[i],
            };
            let out: EnsureOutcome = manager
                .ensure_image_exists(&req, pod.credentials.as_ref())
                .await;
            pod.pull_attempted[i] |= out.pulled;
            match (out.image_ref, out.reason) {
                (Some(id), _) => pod.states[i] = ImageState::Ready { image_id: id },
                (None, reason) => {
                    let reason = reason.unwrap_or(Reason::ErrImagePull);
                    if source != ImageSource::ImageVolume {
                        manager.record(
                            &req,
                            EventType::Warning,
                            "Failed",
                            format!("Error: {}", reason.as_str()),
                        );
                    }
                    pod.states[i] = ImageState::Waiting {
                        reason,
                        message: out.message,
                    };
                    match source {
                        ImageSource::ImageVolume | ImageSource::InitContainer => return,
                        _ => {}
                    }
                }
            }
        }
    }
}
