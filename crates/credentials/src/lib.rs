//! pullsim-credentials: pull secrets, docker configs, exec credential plugins and the kubelet's
//! keyring.
//!
//! - [`load_pull_secrets`] / [`parse_pull_secrets`]: Secret manifests (YAML/JSON,
//!   multi-document, `List`, `data`/`stringData`) and bare `config.json` / `.dockercfg`.
//! - [`Keyring`]: pod secrets, then node docker config, then plugins, matched exactly as
//!   pkg/credentialprovider/keyring.go; [`Keyring::lookup`] returns [`Match`]es in try order.
//! - [`plugin`]: `CredentialProviderConfig` and exec plugins with caching.
//! - [`lint`]: the faults that make a pull secret useless, with their locations.
//! - [`kubectl`]: `kubectl create secret docker-registry --dry-run=client` output, byte for byte.
//!
//! Every credential value is a [`Secret`], which never formats its text.

#![deny(missing_docs)]

pub mod account;
pub mod auth;
mod basic_keyring;
mod error;
pub mod glob;
pub mod gourl;
pub mod goyaml;
pub mod keyring;
pub mod kubectl;
pub mod lint;
pub mod manifest;
pub mod namespace;
pub mod nodeconfig;
pub mod plugin;
pub mod secret;
pub mod urlmatch;

pub use auth::{AuthConfig, DockerConfig, DockerConfigEntry};
pub use error::CredentialsError;
pub use keyring::{Keyring, Lookup, Match, Miss, Source};
pub use manifest::{
    OtherSecret, PullSecret, SecretFormat, SecretsRead, load_pull_secrets, parse_pull_secrets,
};
pub use secret::Secret;
