//! pullsim-node: the kubelet's image side.
//!
//! For the pods a cluster would run (read from manifests), it does what the kubelet does for
//! each container image: defaults the pull policy, asks the container runtime for the image
//! (`ImageStatus`), checks KEP-2535 pull records, decides with `pullsim_policy::decide`, applies
//! the image back-off, admits the pull through the serial or parallel puller with the QPS
//! throttle, tries each credential of the pod's keyring (`PullImage`), records what it pulled
//! with which credentials, emits the kubelet's events, and runs image GC — in real or virtual
//! time.
//!
//! The container runtime is reached only through [`pullsim_runtime::ImageService`] (CRI); the
//! KEP-2535 records through [`records::PullRecordsAccessor`] (files in the kubelet's format,
//! or memory). Entry points: [`simulate::simulate`] (`pod run`, `pull`),
//! [`explain::explain`] (`pod explain`, a dry run of the same decision step),
//! [`creds_check::check_credentials`] (`creds check`), [`gc::collect`] (`images gc`, and GC
//! after a run).

#![deny(missing_docs)]

pub mod accounts;
pub mod creds_check;
pub mod decision;
pub mod describe;
pub mod error;
mod excerpt;
pub mod explain;
pub mod gc;
pub mod hints;
pub mod image_manager;
pub mod keyring;
pub mod kubelet_config;
pub mod manifest;
mod manifest_objects;
mod manifest_types;
pub mod near;
pub mod on_host;
pub mod pods;
pub mod pull_manager;
pub mod puller;
pub mod records;
pub mod services;
pub mod shared;
pub mod simulate;
pub mod sync;

pub use error::{NodeError, RecordsError};
pub use image_manager::{EnsureOutcome, EnsureRequest, ImageManager, ManagerConfig, RecordedEvent};
pub use manifest::{ImageSource, ManifestError, Manifests, Origin, PodImage, PodSpec};
pub use manifest_objects::derived_uid;
pub use pull_manager::{PullManager, Verification, VerificationConfig};
pub use puller::Puller;
pub use records::{
    CachedPullRecords, DryRunRecords, FsPullRecords, MemPullRecords, PullRecordsAccessor,
    migrate_legacy,
};
pub use services::{Clock, FakeClock, RealClock};
pub use sync::{ImageState, PodRun, SyncOptions, run_pods};
