//! pullsim-runtime: the container runtime as the kubelet sees it through CRI's ImageService.
//!
//! A node is two programs: the kubelet and, behind CRI, the container runtime. This crate is the
//! second one, as far as images go: `PullImage`, `ImageStatus`, `ListImages`, `RemoveImage` and
//! `ImageFsInfo` (`staging/src/k8s.io/cri-api/pkg/apis/services.go`), with containerd's
//! behaviour and wording. The kubelet half (`pullsim-node`) reaches the registry and the content
//! store only through the [`ImageService`] trait defined here.
//!
//! - [`ImageService`]: the CRI image service, plus one pullsim extension
//!   ([`ImageService::resolve_image`]: the auth flow and manifest resolution of a pull, no
//!   layers) for `pullsim creds check`.
//! - [`ContainerdImageService`]: the one real implementation, containerd's CRI image service over
//!   `pullsim-registry` (protocol) and `pullsim-store` (content + images).
//! - [`fake::ScriptedImageService`]: a scripted runtime for table tests (and a model for the
//!   fleet simulator): answers what it is told and records every call.
//! - [`RuntimeError`]: a gRPC status as the kubelet receives it (`rpc error: code = … desc = …`),
//!   with the typed cause kept beside the text.
#![deny(missing_docs)]

pub mod config;
mod containerd;
pub mod containerd_config;
pub mod content;
pub mod cri;
pub mod cri_socket;
pub mod crio;
mod diagnosis;
pub mod error;
pub mod fake;
mod host_path;
pub mod hosts_dir;
pub mod modelled;
pub mod registries_conf;
mod remote;
mod routing;
mod service;
pub mod unpack;

pub use config::{RuntimeConfig, RuntimeKind};
pub use containerd::{ContainerdImageService, PruneOutcome};
pub use content::StoreSink;
pub use cri::{
    AuthTrace, Image, ImageFsInfo, ImageSpec, OfferedCredential, PodSandboxConfig,
    PullImageResponse, PullRoute, ResolveAttempt, Resolved, RouteHost, RuntimeHint,
};
pub use error::{Code, RuntimeError};
pub use host_path::on_host;
pub use pullsim_credentials::AuthConfig;
pub use pullsim_registry::{NoProgress, Platform, Progress as PullProgress};
pub use routing::load_registries_conf;
pub use service::ImageService;
