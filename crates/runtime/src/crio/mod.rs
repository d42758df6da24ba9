//! CRI-O's pull through `registries.conf` sources, with containers/image's wording.
//!
//! CRI-O pulls with containers/image: for the requested image it computes the pull sources
//! from `registries.conf` (mirrors in order, then the primary location; see
//! [`crate::registries_conf`]), tries them in order until one serves the manifest, then pulls
//! everything from that source (`docker/docker_image_src.go` `newImageSource`). When every
//! source fails, the error names each one:
//! `(Mirrors also failed: [MIRROR: ERR]\n[MIRROR: ERR]): PRIMARY: ERR`.
//!
//! - [`pull_through_sources`]: that loop, generic over the per-source attempt (the caller
//!   wires it to the registry client): blocked sources refused, the request's credentials never
//!   sent to a mirror on another domain, the combined error.
//! - [`pull_with_client`]: that loop wired to pullsim's registry client (resolve, then pull from
//!   the source that resolved).
//! - [`source_error_text`]: containers/image's text for a registry failure at one source
//!   (`reading manifest TAG in HOST/REPO: manifest unknown`, `pinging container registry H:
//!   …`).
//! - [`CrioVersion`], [`manifest_stage_desc`]: how CRI-O releases wrap that error into the
//!   `PullImage` answer; [`CrioPullError`] is that answer (`code = Unknown`).
//!
//! Requests differ from containers/image's: containers/image pings `GET /v2/` first (then
//! fetches a token when challenged) and reads the manifest with `GET`; pullsim's client sends
//! the manifest `HEAD` first (containerd's resolver) and answers a challenge on the 401. The
//! source chosen and the texts are the same; the request log is not. containers/image also
//! retries a 429 up to 5 times with back-off before giving up on a source; pullsim's client
//! follows containerd's retry rules.
//!
//! Limits of the texts, from what [`pullsim_registry::RegistryError`] keeps: a registry error
//! is printed from its code as distribution sends it (the code's default message, a detail on
//! the API's own codes); a registry that sends its own message (Docker Hub's
//! `toomanyrequests: You have reached your pull rate limit…`, ECR's `denied: Your
//! authorization token has expired…`) is printed with the default instead, except at the token
//! endpoint, whose envelope the client keeps. A transport error names the host as pullsim's
//! client does (`dial tcp localhost:5000`, where Go names the address it dialled). And
//! pullsim's client reaches a loopback registry over plain HTTP even without `insecure = true`,
//! where containers/image fails its HTTPS ping (`pinging container registry H: Get
//! "https://H/v2/": http: server gave HTTP response to HTTPS client`).

mod client;
mod error;
mod pull;
mod text;
mod wording;

pub use client::{pull_with_client, source_host, source_plan};
pub use error::{CrioPullError, FailedSource, SourceFailure};
pub use pull::{combined_error_text, pull_through_sources, request_credentials};
pub use text::{
    content_error_text, default_registry_message, is_connection_refused, is_transport_failure,
    source_error_text, unexpected_status_text,
};
pub use wording::{CrioVersion, FailureKind, content_stage_desc, manifest_stage_desc};

use crate::registries_conf::RegistriesConf;

/// The registry hosts (`HOST[:PORT]`) of every `insecure` endpoint of `conf`, primary or
/// mirror, for the client's `insecure_registries` (plain HTTP or unverified TLS allowed).
/// containers/image decides per endpoint; a host insecure for one prefix is insecure for all
/// in this list.
pub fn insecure_hosts(conf: &RegistriesConf) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for r in &conf.registries {
        for ep in r.mirrors.iter().chain(std::iter::once(&r.endpoint)) {
            if !ep.insecure || ep.location.is_empty() {
                continue;
            }
            let host = ep.location.split('/').next().unwrap_or(&ep.location);
            if !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
            }
        }
    }
    hosts
}
