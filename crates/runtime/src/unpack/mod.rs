//! The unpack check of a CRI pull: containerd's CRI plugin always pulls with unpack, so every
//! layer is decompressed and its digest checked against the config's `rootfs.diff_ids` before
//! the image is recorded (`core/unpack/unpacker.go@v2.3.4`). pullsim does not extract layers
//! to disk; it decodes and hashes them, which is where a bad image fails on a node.
//!
//! - [`media`]: which layers containerd decompresses (media types) and how it tells gzip from
//!   zstd from plain bytes (magic sniffing, `compression.DecompressStream`).
//! - [`DiffHasher`]: the diff ID of a stream fed in chunks, decoded as it arrives (the content
//!   sink tees downloads into it; bounded memory per layer).
//! - [`verify_image`]: the check after a pull, from the uncompressed digests the store keeps
//!   per blob (containerd's `containerd.io/uncompressed` label) or, without one, from the
//!   layer's bytes in the store.
//! - [`UnpackError`], [`DecompressError`]: containerd's texts, per version ([`Wording`]).

mod error;
mod gzip;
mod hasher;
pub mod media;
mod sink;
mod verify;

pub use error::{DecompressError, LayerAt, UnpackError, Wording, chain_ids};
pub use hasher::DiffHasher;
pub use media::Compression;
pub(crate) use verify::record;
pub use verify::{UnpackCounts, UnpackStats, Verified, verify_image};
