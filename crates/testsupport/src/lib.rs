//! pullsim-testsupport: a real local registry (Debian's `docker-registry`, distribution 2.8) and
//! generated OCI test images, for pullsim's tests, benches and scripts. Never used by the product.
//!
//! - [`image`]: generate OCI image layouts (random or compressible layers, gzip or plain tar,
//!   single manifest or multi-arch index).
//! - [`RegistryHandle`]: start a registry on `127.0.0.1:<free port>` in a [`Mode`] (anonymous,
//!   htpasswd, token with the [`token`] server, TLS), push layouts with skopeo, stop it on drop.
//!   [`shared`] gives one registry per mode per test binary.
//! - [`fake_apiserver`]: a fake Kubernetes API server (fixtures, DaemonSet pods and logs, 403 on
//!   secrets, a request log) and the kubeconfig that points kubectl and pullsim at it.
//! - [`containerd`]: a real containerd (`ctr`) as an oracle of registry host configuration.
#![deny(missing_docs)]

mod background;
pub mod certs;
pub mod containerd;
mod containerd_files;
mod content;
mod error;
pub mod fake_apiserver;
pub mod image;
pub mod layout_setup;
mod process;
mod push;
mod registry;
pub mod token;

pub use error::RegistryError;
pub use process::free_loopback_port;
pub use push::{PushTarget, push_layout, read_env_file};
pub use registry::{
    HTPASSWD_REALM, Mode, RegistryConfig, RegistryHandle, TOKEN_ISSUER, TOKEN_SERVICE, shared,
};
