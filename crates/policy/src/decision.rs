//! The pull decision, as the kubelet's image manager makes it (EnsureImageExists with
//! imagePullPrecheck and the KEP-2535 pull manager), as a pure function.

use serde::{Deserialize, Serialize};

use crate::messages;
use crate::vocab::{Event, EventReason, PullPolicy, Reason};

/// Whether the image is on the node, and whether this pod may use it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Presence {
    /// The local lookup found nothing (or was skipped, for `Always`).
    Absent,
    /// The local lookup found the image.
    Present {
        /// The pod may use the local copy: KEP-2535 verification passed or was not required
        /// (MustAttemptImagePull returned false), or the feature gate is off.
        accessible: bool,
    },
}

/// What the image manager does next.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Go to the pull path (back-off check, then pull with the pod's credentials).
    Pull,
    /// Use the local image; no registry contact.
    UseLocal,
    /// Fail with ErrImageNeverPull (policy `Never`, image absent or not accessible).
    NeverPull,
}

impl Decision {
    /// The CLI spelling: `pull`, `use-local`, `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Pull => "pull",
            Decision::UseLocal => "use-local",
            Decision::NeverPull => "error",
        }
    }

    /// The waiting reason this decision gives by itself (`ErrImageNeverPull` for
    /// [`Decision::NeverPull`]); the pull path's reasons depend on the pull.
    pub const fn reason(self) -> Option<Reason> {
        match self {
            Decision::NeverPull => Some(Reason::ErrImageNeverPull),
            Decision::Pull | Decision::UseLocal => None,
        }
    }
}

/// The pull decision.
///
/// - `Always`: pull (no local lookup; the runtime skips layers it has).
/// - `IfNotPresent`: absent → pull; present and accessible → use it; present but not accessible
///   to this pod (KEP-2535) → pull, with the pod's own credentials.
/// - `Never`: present and accessible → use it; otherwise ErrImageNeverPull (the same message
///   whether absent or not accessible, so presence is not revealed).
///
/// Upstream: pkg/kubelet/images/image_manager.go (imagePullPrecheck, EnsureImageExists).
#[inline]
pub fn decide(policy: PullPolicy, presence: Presence) -> Decision {
    match (policy, presence) {
        (PullPolicy::Always, _) => Decision::Pull,
        (_, Presence::Present { accessible: true }) => Decision::UseLocal,
        (PullPolicy::IfNotPresent, _) => Decision::Pull,
        (PullPolicy::Never, _) => Decision::NeverPull,
    }
}

/// The event the kubelet records for a decision, before any pull:
/// `Pulling` for [`Decision::Pull`] (when not in back-off), `Pulled … already present on
/// machine` for [`Decision::UseLocal`] (with the KEP-2535 suffix when `ensure_secret_pulled_images`
/// is on), `ErrImageNeverPull` for [`Decision::NeverPull`].
pub fn decision_event(decision: Decision, image: &str, ensure_secret_pulled_images: bool) -> Event {
    match decision {
        Decision::Pull => Event::normal(EventReason::Pulling, messages::pulling(image)),
        Decision::UseLocal => Event::normal(
            EventReason::Pulled,
            messages::already_present(image, ensure_secret_pulled_images),
        ),
        Decision::NeverPull => {
            Event::warning(EventReason::ErrImageNeverPull, messages::never_pull(image))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every policy × presence × verification combination, per imagePullPrecheck and
    /// EnsureImageExists in pkg/kubelet/images/image_manager.go (the shouldPullImage cases of
    /// image_manager_test.go, extended by the KEP-2535 "present but not accessible" rows).
    #[test]
    fn decision_table() {
        use Decision::*;
        use PullPolicy::*;
        let absent = Presence::Absent;
        let ok = Presence::Present { accessible: true };
        let denied = Presence::Present { accessible: false };
        let table = [
            (Always, absent, Pull),
            (Always, ok, Pull),
            (Always, denied, Pull),
            (IfNotPresent, absent, Pull),
            (IfNotPresent, ok, UseLocal),
            (IfNotPresent, denied, Pull),
            (Never, absent, NeverPull),
            (Never, ok, UseLocal),
            (Never, denied, NeverPull),
        ];
        for (policy, presence, want) in table {
            assert_eq!(decide(policy, presence), want, "{policy} {presence:?}");
        }
    }

    #[test]
    fn events_for_decisions() {
        let e = decision_event(Decision::Pull, "nginx", true);
        assert_eq!(e.reason, EventReason::Pulling);
        assert_eq!(e.message, r#"Pulling image "nginx""#);
        let e = decision_event(Decision::UseLocal, "nginx:1.25", false);
        assert_eq!(e.event_type.as_str(), "Normal");
        assert_eq!(
            e.message,
            r#"Container image "nginx:1.25" already present on machine"#
        );
        let e = decision_event(Decision::NeverPull, "x", true);
        assert_eq!(e.event_type.as_str(), "Warning");
        assert_eq!(e.reason.as_str(), "ErrImageNeverPull");
        assert_eq!(
            Decision::NeverPull.reason(),
            Some(Reason::ErrImageNeverPull)
        );
        assert_eq!(Decision::NeverPull.as_str(), "error");
    }
}
