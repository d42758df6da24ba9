//! pullsim-testsupport: a real local registry (Debian's `docker-registry`, distribution 2.8) and
//! generated OCI test images, for pullsim's tests, benches and scripts. Never used by the product.
//!
//! - [`image`]: generate OCI image layouts (random or compressible layers, gzip or plain tar,
//!   single manifest or multi-arch index).
#![deny(missing_docs)]

pub mod image;
