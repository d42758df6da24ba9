//! The kubelet's vocabulary: pull policies, waiting reasons, event types and event reasons.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// A container's `imagePullPolicy`, spelled as the Kubernetes API spells it.
///
/// Upstream: staging/src/k8s.io/api/core/v1/types.go (PullAlways, PullNever, PullIfNotPresent).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PullPolicy {
    /// `Always`: resolve and pull on every container start (the runtime skips layers it has).
    Always,
    /// `IfNotPresent`: use the local image when present (and, under KEP-2535, accessible).
    IfNotPresent,
    /// `Never`: never pull; the image must be present.
    Never,
}

impl PullPolicy {
    /// Every policy, in the API's documentation order.
    pub const ALL: [PullPolicy; 3] = [
        PullPolicy::Always,
        PullPolicy::IfNotPresent,
        PullPolicy::Never,
    ];

    /// The API spelling: `Always`, `IfNotPresent`, `Never`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }

    /// Whether the image manager looks the image up locally before deciding.
    /// `Always` skips the lookup (imagePullPrecheck in pkg/kubelet/images/image_manager.go).
    pub const fn looks_up_locally(self) -> bool {
        !matches!(self, PullPolicy::Always)
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PullPolicy {
    type Err = PolicyError;

    /// Exact, case-sensitive API spelling, as the API server validates it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Always" => Ok(PullPolicy::Always),
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Never" => Ok(PullPolicy::Never),
            other => Err(PolicyError::UnsupportedPullPolicy {
                value: other.to_string(),
            }),
        }
    }
}

/// The reason a container waits, as the kubelet reports it in
/// `status.containerStatuses[].state.waiting.reason`.
///
/// Upstream: pkg/kubelet/images/types.go (ErrImagePullBackOff … ErrInvalidImageName) and
/// staging/src/k8s.io/cri-api/pkg/errors/errors.go (ErrRegistryUnavailable,
/// ErrSignatureValidationFailed).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// General image pull error.
    ErrImagePull,
    /// The pull failed before and the kubelet is backing off.
    ImagePullBackOff,
    /// The image is absent (or not accessible to the pod) and the policy is `Never`.
    ErrImageNeverPull,
    /// The image name cannot be parsed.
    InvalidImageName,
    /// The local image lookup failed.
    ImageInspectError,
    /// The runtime reported the registry as unavailable.
    RegistryUnavailable,
    /// The runtime reported a failed signature validation.
    SignatureValidationFailed,
}

impl Reason {
    /// The kubelet's exact string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::ErrImagePull => "ErrImagePull",
            Reason::ImagePullBackOff => "ImagePullBackOff",
            Reason::ErrImageNeverPull => "ErrImageNeverPull",
            Reason::InvalidImageName => "InvalidImageName",
            Reason::ImageInspectError => "ImageInspectError",
            Reason::RegistryUnavailable => "RegistryUnavailable",
            Reason::SignatureValidationFailed => "SignatureValidationFailed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Reason::ErrImagePull,
            Reason::ImagePullBackOff,
            Reason::ErrImageNeverPull,
            Reason::InvalidImageName,
            Reason::ImageInspectError,
            Reason::RegistryUnavailable,
            Reason::SignatureValidationFailed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| PolicyError::UnknownReason {
            value: s.to_string(),
        })
    }
}

/// An event's type (`v1.EventTypeNormal`, `v1.EventTypeWarning`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    /// `Normal` or `Warning`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event's reason, as the kubelet's image manager and image GC emit them.
///
/// Upstream: pkg/kubelet/events/event.go (PullingImage, PulledImage, FailedToPullImage,
/// FailedToInspectImage, BackOffPullImage, ErrImageNeverPullPolicy, InvalidDiskCapacity,
/// FreeDiskSpaceFailed).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventReason {
    /// `Pulling`: a pull starts.
    Pulling,
    /// `Pulled`: pulled, or already present.
    Pulled,
    /// `Failed`: the pull failed.
    Failed,
    /// `InspectFailed`: the name could not be defaulted or the local lookup failed.
    InspectFailed,
    /// `BackOff`: in image pull back-off.
    BackOff,
    /// `ErrImageNeverPull`: `Never` and the image is not (usable) on the node.
    ErrImageNeverPull,
    /// `InvalidDiskCapacity`: image GC found a zero-capacity image filesystem.
    InvalidDiskCapacity,
    /// `FreeDiskSpaceFailed`: image GC could not free enough.
    FreeDiskSpaceFailed,
}

impl EventReason {
    /// The kubelet's exact string.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventReason::Pulling => "Pulling",
            EventReason::Pulled => "Pulled",
            EventReason::Failed => "Failed",
            EventReason::InspectFailed => "InspectFailed",
            EventReason::BackOff => "BackOff",
            EventReason::ErrImageNeverPull => "ErrImageNeverPull",
            EventReason::InvalidDiskCapacity => "InvalidDiskCapacity",
            EventReason::FreeDiskSpaceFailed => "FreeDiskSpaceFailed",
        }
    }
}

impl fmt::Display for EventReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event as the kubelet records it (type, reason, message; the source is always `kubelet`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// `Normal` or `Warning`.
    pub event_type: EventType,
    /// The event reason.
    pub reason: EventReason,
    /// The exact message.
    pub message: String,
}

impl Event {
    /// A `Normal` event.
    pub fn normal(reason: EventReason, message: String) -> Event {
        Event {
            event_type: EventType::Normal,
            reason,
            message,
        }
    }

    /// A `Warning` event.
    pub fn warning(reason: EventReason, message: String) -> Event {
        Event {
            event_type: EventType::Warning,
            reason,
            message,
        }
    }
}

/// Virtual time: a duration since an arbitrary epoch chosen by the caller.
pub type Time = std::time::Duration;
