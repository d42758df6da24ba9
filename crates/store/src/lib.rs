//! pullsim-store: the node's image store.
//!
//! A content-addressed store under one root directory that is also a valid OCI image layout:
//!
//! ```text
//! ROOT/oci-layout            {"imageLayoutVersion":"1.0.0"}
//! ROOT/index.json            every recorded image, annotated with org.opencontainers.image.ref.name
//! ROOT/blobs/sha256/<hex>    verified content only
//! ROOT/ingest/<sha256(ref)>/ data + ingest.json + lock: writes in progress (resumable)
//! ROOT/leases/<id>/          blobs a load or pull holds until it records them
//! ROOT/pullsim.lock          the store lock (flock: dies with its holder)
//! ROOT/pullsim.redb          the index: images, blob references (rebuildable from the layout)
//! ROOT/uncompressed/<hex>    a layer's uncompressed digest, once computed (self-checked)
//! ```
//!
//! Contracts:
//! - Content is not visible in `blobs/` until its writer commits, and a commit verifies size
//!   and digest, fsyncs the file, renames it atomically and fsyncs the directory.
//! - An image record is written only when every blob it lists is present (checked while the
//!   index is locked), so the index never points at missing content.
//! - Lookups ([`Store::lookup`], [`Store::lookup_id`]) read an in-memory snapshot of the index
//!   (loaded on first use, reloaded when the index file changes); they never read blobs or walk
//!   directories.
//! - Several processes may use one root: the index is opened per operation under an OS lock,
//!   and a process that finds it locked waits (bounded, reported once) instead of failing.
//! - The index is never the only copy: `index.json` carries every record's fields, and a
//!   damaged, empty or missing index is reported ([`StoreError::IndexUnusable`]), read around
//!   (lookups and listings from the layout) and rebuilt by [`Store::verify`] with `repair`.
#![deny(missing_docs)]

mod error;
mod export;
mod gc;
mod import;
mod index;
mod ingest;
mod layout;
mod lease;
mod legacy;
mod lock;
mod media;
mod pipe;
mod record;
mod recover;
mod redb_header;
mod serde_digest;
mod store;
mod uncompressed;
mod update;
mod verify;
mod walk;

pub use error::StoreError;
pub use gc::{DiskUsage, GcOutcome, RemoveOutcome};
pub use import::{LoadOptions, LoadedImage};
pub use ingest::{BlobWriter, CommitOutcome};
pub use legacy::LegacyNodeRecords;
pub use lock::WaitReporter;
pub use media::*;
pub use record::now_ms;
pub use record::{ImageRecord, Origin};
pub use store::{IndexCounters, Store, StoreOptions};
pub use uncompressed::Uncompressed;
pub use verify::{VerifyProblem, VerifyReport};
