//! pullsim-policy: the kubelet's image-pull rules as pure functions, in virtual time.
//!
//! Nothing here does I/O or reads a clock: the caller passes `now` as a [`Time`] (a
//! [`std::time::Duration`] since an arbitrary epoch). Every rule, default and message follows the
//! kubernetes source file named in its documentation, and is pinned by a table test citing it.
//!
//! - [`default_pull_policy`]: `imagePullPolicy` defaulting (SetDefaults_Container).
//! - [`decide`]: the pull decision (image_manager.go), with [`Presence`] carrying the KEP-2535
//!   verification outcome; [`decision_event`] the event it records.
//! - [`Backoff`]: image pull back-off (client-go flowcontrol.Backoff, 10 s → 300 s).
//! - [`messages`]: the kubelet's exact event and status messages (Go `%q`, Go durations).
//! - [`verification`]: KEP-2535 verification policy, allowlist and MustAttemptImagePull.
//! - [`gc`]: image GC selection ([`plan_gc`]).
//! - [`pullers`]: serial/parallel pullers and the registry QPS [`TokenBucket`].
#![deny(missing_docs)]

pub mod backoff;
pub mod decision;
pub mod defaulting;
mod error;
pub mod gc;
mod go;
pub mod messages;
pub mod pullers;
pub mod verification;
mod vocab;

pub use backoff::{Backoff, backoff_key};
pub use decision::{Decision, Presence, decide, decision_event};
pub use defaulting::{apply_default_image_tag, default_pull_policy, invalid_image_event};
pub use error::PolicyError;
pub use gc::{GcCause, GcImage, GcPlan, GcPolicy, plan_gc, plan_gc_since};
pub use pullers::{PullerConfig, PullerMode, TokenBucket};
pub use verification::{Allowlist, Verification, VerificationPolicy};
pub use vocab::{Event, EventReason, EventType, PullPolicy, Reason, Time};
