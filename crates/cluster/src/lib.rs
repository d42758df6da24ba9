//! pullsim-cluster: the Kubernetes API client side of pullsim.
//!
//! - [`Cluster`]: a client configured as kubectl is (kubeconfig, `--context`, exec credential
//!   plugins, in-cluster service account), through kube-rs.
//! - [`Cluster::read_workloads`]: `TYPE/NAME` objects, their ServiceAccounts and pull secrets,
//!   read into [`pullsim_node::Manifests`] through the same reader as exported files. Secrets
//!   stay in memory; a 403 on them becomes the `cannot-read-secrets` hint.
//! - [`nodes`]: `nodes check`, the DaemonSet of `deploy/daemonset.yaml` on every node, its pods'
//!   `node_check` lines gathered into one result per node and image, and the cleanup.
#![deny(missing_docs)]

mod client;
mod daemonset;
mod error;
mod lines;
pub mod nodes;
mod read;
mod target;
mod tokens;

pub use client::{Cluster, ConnectOptions};
pub use error::{ClusterError, kubectl_status_message};
pub use read::{ClusterRead, SecretsDenied, cannot_read_secrets};
pub use target::{Target, WorkloadKind};
pub use tokens::token_request_body;
