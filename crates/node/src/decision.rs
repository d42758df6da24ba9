//! The decision step of EnsureImageExists (pkg/kubelet/images/image_manager.go): default tag,
//! `ImageStatus` (imagePullPrecheck), KEP-2535 verification (MustAttemptImagePull),
//! `pullsim_policy::decide`, and the credentials to try. One function, used by the image manager
//! before it acts and by `pod explain` as a dry run, so that what explain predicts is what a run
//! does.

use std::borrow::Cow;

use pullsim_policy::{
    Decision, Event, EventReason, Presence, PullPolicy, Reason, Time, Verification, decide,
    messages,
};
use pullsim_runtime::{ImageService, ImageSpec};

use crate::pull_manager::PullManager;
use crate::records::PullRecordsAccessor;
use crate::services::{PodCredentials, TrackedCredential};
use crate::shared::apply_default_image_tag;

/// What the decision step found and decided for one image of one pod.
#[derive(Clone, Debug)]
pub struct ImageDecision<'a> {
    /// The image with the default tag applied: what the runtime is asked for.
    pub image: Cow<'a, str>,
    /// The local image ID; `None` when absent or not looked up (`Always`).
    pub image_ref: Option<String>,
    /// Whether the local lookup ran (`Always` skips it).
    pub looked_up: bool,
    /// The pull manager's verdict, when it was consulted (present image, gate on).
    pub verification: Option<Verification>,
    /// Presence as `decide` saw it.
    pub presence: Presence,
    /// What the image manager does next.
    pub decision: Decision,
    /// The credentials to try, in keyring order (looked up only for [`Decision::Pull`]).
    pub credentials: Vec<TrackedCredential>,
}

/// The decision step ended EnsureImageExists before a decision: the waiting reason, the
/// message, and the event the kubelet records (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionFailure {
    /// `InvalidImageName`, `ImageInspectError` or `ErrImagePull`.
    pub reason: Reason,
    /// The waiting message.
    pub message: String,
    /// The event (`InspectFailed`), when the kubelet records one.
    pub event: Option<Event>,
}

/// The decision step for `image` (as written in the pod spec) under `policy`, with the
/// KEP-2535 gate `ensure_secret_pulled_images`. Reads only: the runtime's `ImageStatus`, the
/// records, the keyring (the pull manager may write a record update when a pod secret matches
/// under new coordinates, as the kubelet does; give it a dry-run accessor to prevent that).
pub fn decide_image<'a, S: ImageService, R: PullRecordsAccessor>(
    service: &S,
    pulls: &PullManager<R>,
    ensure_secret_pulled_images: bool,
    image: &'a str,
    policy: PullPolicy,
    creds: &dyn PodCredentials,
    now: Time,
) -> Result<ImageDecision<'a>, DecisionFailure> {
    decide_image_by(
        &|tagged: &str| {
            service
                .image_ref(&ImageSpec::new(tagged))
                .map_err(|e| e.to_string())
        },
        pulls,
        ensure_secret_pulled_images,
        image,
        policy,
        creds,
        now,
    )
}

/// [`decide_image`] with the runtime's `ImageStatus(image).id` given as a function (the image
/// with the default tag applied → its image ID, or `None` when absent): a real node's runtime
/// answers it over its CRI socket.
pub fn decide_image_by<'a, R: PullRecordsAccessor>(
    image_ref_of: &dyn Fn(&str) -> Result<Option<String>, String>,
    pulls: &PullManager<R>,
    ensure_secret_pulled_images: bool,
    image: &'a str,
    policy: PullPolicy,
    creds: &dyn PodCredentials,
    now: Time,
) -> Result<ImageDecision<'a>, DecisionFailure> {
    // applyDefaultImageTag: no tag and no digest gives ":latest" appended to the string as
    // written (not normalized); an unparsable name is InvalidImageName.
    let tagged = apply_default_image_tag(image).map_err(|e| {
        let message = messages::failed_default_tag(image, &e.upstream());
        DecisionFailure {
            reason: Reason::InvalidImageName,
            event: Some(Event::warning(EventReason::InspectFailed, message.clone())),
            message,
        }
    })?;

    // imagePullPrecheck: Always skips the local lookup; GetImageRef is ImageStatus(image).id.
    let looked_up = policy != PullPolicy::Always;
    let mut image_ref = None;
    if looked_up {
        match image_ref_of(tagged.as_ref()) {
            Ok(found) => image_ref = found,
            Err(err) => {
                // Upstream quotes the (empty) imageRef here, not the image.
                let message = messages::failed_to_inspect("", &err);
                return Err(DecisionFailure {
                    reason: Reason::ImageInspectError,
                    event: Some(Event::warning(EventReason::InspectFailed, message.clone())),
                    message,
                });
            }
        }
    }

    let mut verification = None;
    let presence = match &image_ref {
        None => Presence::Absent,
        Some(_) if !ensure_secret_pulled_images => Presence::Present { accessible: true },
        Some(iref) => {
            let v = pulls
                .verify(image, iref, creds, now)
                .map_err(|e| DecisionFailure {
                    reason: Reason::ErrImagePull,
                    message: e.to_string(),
                    event: None,
                })?;
            let accessible = !v.must_pull();
            verification = Some(v);
            Presence::Present { accessible }
        }
    };
    let decision = decide(policy, presence);
    let credentials = match decision {
        Decision::Pull => creds.lookup(&tagged).map_err(|e| DecisionFailure {
            reason: Reason::ErrImagePull,
            message: e.to_string(),
            event: None,
        })?,
        Decision::UseLocal | Decision::NeverPull => Vec::new(),
    };
    Ok(ImageDecision {
        image: tagged,
        image_ref,
        looked_up,
        verification,
        presence,
        decision,
        credentials,
    })
}
