//! KEP-2535 pull records kept as the kubelet keeps them: the record types of
//! `kubelet.config.k8s.io` (pkg/kubelet/apis/config/types.go), the `PullRecordsAccessor`
//! interface (pkg/kubelet/images/pullmanager/interfaces.go) and its implementations:
//!
//! - [`FsPullRecords`]: files under `<kubeletDir>/image_manager/{pulling,pulled}` in the
//!   kubelet's own format (fs_pullrecords.go), so a real node's records can be read as they are;
//! - [`MemPullRecords`]: plain maps in memory, with an optional call log (tests, the fleet
//!   simulator);
//! - [`CachedPullRecords`]: the kubelet's write-through cache over another accessor
//!   (mem_pullrecords.go `cachedPullRecordsAccessor`): listed once, authoritative afterwards;
//! - [`DryRunRecords`]: reads through, discards writes (`pod explain`).
//!
//! [`migrate_legacy`] moves the records older pullsim stores kept in their index into an
//! accessor.

mod accessor;
mod cached;
mod fs;
mod mem;
mod migrate;
mod wire;

pub use accessor::{
    ImagePullCredentials, ImagePullIntent, ImagePullSecret, ImagePullServiceAccount,
    ImagePulledRecord, Listed, PullRecordsAccessor, RecordsError,
};
pub use cached::{CachedPullRecords, INTENTS_CACHE_SIZE, PULLED_RECORDS_CACHE_SIZE};
pub use fs::{FsPullRecords, cache_filename};
pub use mem::{DryRunRecords, MemPullRecords};
pub use migrate::migrate_legacy;
pub use wire::{
    API_VERSION, API_VERSION_V1BETA1, decode_pull_intent, decode_pulled_record, encode_pull_intent,
    encode_pulled_record, format_rfc3339, parse_rfc3339,
};
