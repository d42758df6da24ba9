//! The kubelet's image manager: `EnsureImageExists` as in pkg/kubelet/images/image_manager.go
//! (kubernetes master, the version with the KEP-2535 pull manager): default tag, precheck by
//! policy, presence, credential verification, back-off, admission through the puller, a pull
//! trying each credential in keyring order, pull records, and the events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pullsim_policy::{
    Backoff, Decision, EventReason, EventType, PullPolicy, Reason, Time, messages,
};
use pullsim_runtime::{ImageService, PodSandboxConfig};

use crate::decision::{ImageDecision, decide_image};
use crate::pull_manager::{PullManager, VerificationConfig};
use crate::puller::{PullError, Puller};
use crate::records::PullRecordsAccessor;
use crate::services::{Clock, PodCredentials, TrackedCredential};
use crate::shared::PullDone;

/// One event as the kubelet records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// When (virtual or real, since the run's epoch).
    pub time: Time,
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The container (or image volume) name; `None` for pod-level events.
    pub container: Option<String>,
    /// The involved object's field path (`spec.containers{app}`), when the kubelet sets one.
    pub field_path: Option<String>,
    /// Normal or Warning.
    pub event_type: EventType,
    /// Reason (`Pulling`, `Pulled`, `Failed`, `BackOff`, ...).
    pub reason: String,
    /// Message, byte-identical to the kubelet's.
    pub message: String,
    /// pullsim's addition, kept out of the message: the registry host that served the pull
    /// (`Pulled`) or whose error the message reports (`Failed`), as the runtime tried it.
    pub host: Option<String>,
}

/// The result of EnsureImageExists: (imageRef, message, err) in the kubelet's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsureOutcome {
    /// The image ID when the image is ready.
    pub image_ref: Option<String>,
    /// The waiting reason when it is not.
    pub reason: Option<Reason>,
    /// The status message (empty on success unless the kubelet returns one).
    pub message: String,
    /// True when a pull reached the registry (or tried to).
    pub pulled: bool,
}

/// Who asks: the pod and the container (or image volume).
#[derive(Clone, Debug)]
pub struct EnsureRequest<'a> {
    /// `namespace/name`.
    pub pod: &'a str,
    /// Pod UID (back-off key).
    pub pod_uid: &'a str,
    /// Container or volume name.
    pub container: &'a str,
    /// Event field path, `None` for image volumes (the event is on the pod).
    pub field_path: Option<&'a str>,
    /// The image as written in the spec.
    pub image: &'a str,
    /// The pull policy after defaulting.
    pub policy: PullPolicy,
}

/// Settings of the image manager (kubelet configuration).
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// Feature gate KubeletEnsureSecretPulledImages (default true, beta in 1.35).
    pub ensure_secret_pulled_images: bool,
    /// imagePullCredentialsVerificationPolicy and its allowlist.
    pub verification: VerificationConfig,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            ensure_secret_pulled_images: true,
            verification: VerificationConfig::default(),
        }
    }
}

/// The image manager: one per simulated node.
pub struct ImageManager<S, R> {
    service: S,
    pulls: PullManager<R>,
    cfg: ManagerConfig,
    clock: Arc<dyn Clock>,
    backoff: Mutex<Backoff>,
    prev_pull_err: Mutex<HashMap<String, String>>,
    puller: Puller,
    events: Mutex<Vec<RecordedEvent>>,
}

impl<S: ImageService, R: PullRecordsAccessor> ImageManager<S, R> {
    /// A manager over an image service and a record store.
    pub fn new(
        service: S,
        records: R,
        cfg: ManagerConfig,
        puller: Puller,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ImageManager {
            service,
            pulls: PullManager::new(records, cfg.verification.clone()),
            cfg,
            clock,
            backoff: Mutex::new(Backoff::kubelet()),
            prev_pull_err: Mutex::new(HashMap::new()),
            puller,
            events: Mutex::new(Vec::new()),
        }
    }

    /// Replace the back-off (the kubelet's is 10 s doubling to 300 s; upstream tests use 1 s to
    /// 60 s).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Mutex::new(backoff);
        self
    }

    /// The image service (for adapters that collect statistics).
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The KEP-2535 pull manager (for `pod explain`).
    pub fn pull_manager(&self) -> &PullManager<R> {
        &self.pulls
    }

    /// The order in which pulls started and finished in the runtime.
    pub fn puller_log(&self) -> Vec<crate::puller::PullerLogEntry> {
        self.puller.log()
    }

    /// The configuration.
    pub fn config(&self) -> &ManagerConfig {
        &self.cfg
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Take the events recorded so far.
    pub fn take_events(&self) -> Vec<RecordedEvent> {
        self.events
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }

    /// Whether `<podUID>_<image>` is in back-off now, and the current delay.
    pub fn backoff_state(&self, pod_uid: &str, image: &str) -> (bool, Option<std::time::Duration>) {
        let key = pullsim_policy::backoff_key(pod_uid, image);
        let now = self.clock.now();
        match self.backoff.lock() {
            Ok(b) => (b.is_in_backoff(&key, now), b.get(&key)),
            Err(_) => (false, None),
        }
    }

    /// How long `<podUID>_<image>` stays in back-off from now (`None`: not in back-off); for
    /// drivers that skip the syncs a back-off makes identical (the fleet simulator).
    pub fn backoff_remaining(&self, pod_uid: &str, image: &str) -> Option<std::time::Duration> {
        let key = pullsim_policy::backoff_key(pod_uid, image);
        let now = self.clock.now();
        self.backoff.lock().ok()?.remaining(&key, now)
    }

    /// Record an event (also used by the sync loop for container-level `Failed` events).
    pub fn record(
        &self,
        req: &EnsureRequest<'_>,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        self.record_from(req, event_type, reason, message, None);
    }

    /// Record an event about a pull, with the registry host it came from.
    fn record_from(
        &self,
        req: &EnsureRequest<'_>,
        event_type: EventType,
        reason: &str,
        message: String,
        host: Option<String>,
    ) {
        let ev = RecordedEvent {
            time: self.clock.now(),
            pod: req.pod.to_string(),
            container: Some(req.container.to_string()),
            field_path: req.field_path.map(str::to_string),
            event_type,
            reason: reason.to_string(),
            message,
            host,
        };
        if let Ok(mut g) = self.events.lock() {
            g.push(ev);
        }
    }

    /// Record a pod-level event.
    pub fn record_pod_event(
        &self,
        pod: &str,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let ev = RecordedEvent {
            time: self.clock.now(),
            pod: pod.to_string(),
            container: None,
            field_path: None,
            event_type,
            reason: reason.to_string(),
            message,
            host: None,
        };
        if let Ok(mut g) = self.events.lock() {
            g.push(ev);
        }
    }

    fn fail(&self, message: String, reason: Reason) -> EnsureOutcome {
        EnsureOutcome {
            image_ref: None,
            reason: Some(reason),
            message,
            pulled: false,
        }
    }

    /// The decision step alone (default tag, ImageStatus, KEP-2535 verification, decision,
    /// credentials), exactly as [`ImageManager::ensure_image_exists`] takes it; records no
    /// event.
    pub fn decide<'a>(
        &self,
        image: &'a str,
        policy: PullPolicy,
        creds: &dyn PodCredentials,
    ) -> Result<ImageDecision<'a>, crate::decision::DecisionFailure> {
        decide_image(
            &self.service,
            &self.pulls,
            self.cfg.ensure_secret_pulled_images,
            image,
            policy,
            creds,
            self.clock.now(),
        )
    }

    /// EnsureImageExists (pkg/kubelet/images/image_manager.go).
    pub async fn ensure_image_exists(
        &self,
        req: &EnsureRequest<'_>,
        creds: &dyn PodCredentials,
    ) -> EnsureOutcome {
        let d = match self.decide(req.image, req.policy, creds) {
            Ok(d) => d,
            Err(f) => {
                if let Some(ev) = f.event {
                    self.record(req, ev.event_type, ev.reason.as_str(), ev.message);
                }
                return self.fail(f.message, f.reason);
            }
        };
        match (d.decision, d.image_ref) {
            (Decision::UseLocal, Some(iref)) => {
                self.already_present(req, req.image, iref, self.cfg.ensure_secret_pulled_images)
            }
            (Decision::Pull, _) => self.pull_image(req, &d.image, d.credentials).await,
            // NeverPull, or (unreachable) UseLocal without an image: the same answer as absent.
            _ => self.never_pull(req),
        }
    }

    /// The image is present and this pod may use it: Normal Pulled "already present on machine"
    /// (with the KEP-2535 suffix when the pull manager verified it).
    fn already_present(
        &self,
        req: &EnsureRequest<'_>,
        requested: &str,
        image_ref: String,
        verified: bool,
    ) -> EnsureOutcome {
        let msg = messages::already_present(requested, verified);
        self.record(
            req,
            EventType::Normal,
            EventReason::Pulled.as_str(),
            msg.clone(),
        );
        EnsureOutcome {
            image_ref: Some(image_ref),
            reason: None,
            message: msg,
            pulled: false,
        }
    }

    fn never_pull(&self, req: &EnsureRequest<'_>) -> EnsureOutcome {
        let msg = messages::never_pull(req.image);
        self.record(
            req,
            EventType::Warning,
            EventReason::ErrImageNeverPull.as_str(),
            msg.clone(),
        );
        self.fail(msg, Reason::ErrImageNeverPull)
    }

    async fn pull_image(
        &self,
        req: &EnsureRequest<'_>,
        spec_image: &str,
        credentials: Vec<TrackedCredential>,
    ) -> EnsureOutcome {
        let image = req.image;
        let gate = self.cfg.ensure_secret_pulled_images;
        // The kubelet writes the pull intent before its back-off check and removes it again
        // right after; checking the back-off first gives the same records without two
        // synchronous index writes on every sync in back-off.
        if let Some(backed_off) = self.backoff_outcome(req) {
            return backed_off;
        }
        if gate && let Err(err) = self.pulls.record_pull_intent(image) {
            // RecordPullIntent wraps the accessor's error (image_pull_manager.go).
            let msg = messages::failed_to_record_intent(
                image,
                &format!("failed to record image pull intent: {err}"),
            );
            return self.fail(msg, Reason::ErrImagePull);
        }
        let outcome = self.pull_image_inner(req, spec_image, &credentials).await;
        if gate {
            match &outcome {
                Ok(done) => self.pulls.record_image_pulled(
                    image,
                    &done.response.image_ref,
                    done.credential.and_then(|i| credentials.get(i)),
                ),
                Err(_) => self.pulls.record_image_pull_failed(image),
            }
        }
        match outcome {
            Ok(done) => EnsureOutcome {
                image_ref: Some(done.response.image_ref),
                reason: None,
                message: String::new(),
                pulled: true,
            },
            Err(o) => o,
        }
    }

    /// The back-off check of pullImage: `Some` (ImagePullBackOff, with the last pull error)
    /// when `<podUID>_<image>` is in back-off.
    fn backoff_outcome(&self, req: &EnsureRequest<'_>) -> Option<EnsureOutcome> {
        let image = req.image;
        let key = pullsim_policy::backoff_key(req.pod_uid, image);
        let in_backoff = self
            .backoff
            .lock()
            .map(|b| b.is_in_backoff(&key, self.clock.now()))
            .unwrap_or(false);
        if !in_backoff {
            return None;
        }
        let mut msg = messages::back_off(image);
        self.record(
            req,
            EventType::Normal,
            EventReason::BackOff.as_str(),
            msg.clone(),
        );
        if let Ok(prev) = self.prev_pull_err.lock()
            && let Some(p) = prev.get(&key)
        {
            msg = format!("{msg}: {p}");
        }
        Some(self.fail(msg, Reason::ImagePullBackOff))
    }

    async fn pull_image_inner(
        &self,
        req: &EnsureRequest<'_>,
        spec_image: &str,
        credentials: &[TrackedCredential],
    ) -> Result<PullDone, EnsureOutcome> {
        let image = req.image;
        let key = pullsim_policy::backoff_key(req.pod_uid, image);
        if let Ok(mut prev) = self.prev_pull_err.lock() {
            prev.remove(&key);
        }

        self.record(
            req,
            EventType::Normal,
            EventReason::Pulling.as_str(),
            messages::pulling(image),
        );
        let start = Instant::now();
        let (namespace, name) = req.pod.split_once('/').unwrap_or(("", req.pod));
        let sandbox = PodSandboxConfig {
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid: req.pod_uid.to_string(),
        };
        let result: Result<PullDone, PullError> = self
            .puller
            .pull(&self.service, spec_image, credentials, Some(&sandbox))
            .await;
        match result {
            Err(failure) => {
                let text = failure.to_string();
                self.record_from(
                    req,
                    EventType::Warning,
                    EventReason::Failed.as_str(),
                    messages::failed_to_pull(image, &text),
                    failure.host().map(str::to_string),
                );
                if let Ok(mut b) = self.backoff.lock() {
                    b.next(&key, self.clock.now());
                }
                let (reason, msg) = messages::eval_pull_error(image, &text);
                if let Ok(mut prev) = self.prev_pull_err.lock() {
                    prev.insert(key, format!("{}: {msg}", reason.as_str()));
                }
                Err(self.fail(msg, reason))
            }
            Ok(done) => {
                let total = start.elapsed();
                let msg =
                    messages::successfully_pulled(image, done.pull_duration, total, done.size);
                self.record_from(
                    req,
                    EventType::Normal,
                    EventReason::Pulled.as_str(),
                    msg,
                    done.response.host.clone(),
                );
                if let Ok(mut b) = self.backoff.lock() {
                    b.gc(self.clock.now());
                }
                Ok(done)
            }
        }
    }
}
