//! pullsim-node: the node simulator.
//!
//! For the pods a cluster would run (read from manifests), it does what the kubelet's image
//! manager does for each container image: defaults the pull policy, looks the image up in the
//! store, checks KEP-2535 pull records, applies the image back-off, admits the pull through the
//! serial or parallel puller with the QPS throttle, tries each credential of the pod's keyring,
//! records what it pulled with which credentials, and emits the kubelet's events, in real or
//! virtual time.
//!
//! The image manager is written over small traits ([`services::ImageService`],
//! [`services::PullRecords`], [`services::PodCredentials`], [`services::Clock`]) so that table
//! tests can drive it with fakes; [`runtime`] has the real implementations over
//! `pullsim-store`, `pullsim-registry` and `pullsim-credentials`.

#![deny(missing_docs)]

pub mod describe;
pub mod explain;
pub mod image_manager;
pub mod kubelet_config;
pub mod manifest;
mod manifest_objects;
pub mod pods;
pub mod puller;
pub mod records;
pub mod runtime;
pub mod services;
pub mod simulate;
pub mod sync;

pub use image_manager::{EnsureOutcome, EnsureRequest, ImageManager, ManagerConfig, RecordedEvent};
pub use manifest::{ImageSource, ManifestError, Manifests, Origin, PodImage, PodSpec};
pub use manifest_objects::derived_uid;
pub use puller::Puller;
pub use records::{PullManager, Verification, VerificationConfig};
pub use services::{Clock, FakeClock, RealClock};
pub use sync::{ImageState, PodRun, SyncOptions, run_pods};
