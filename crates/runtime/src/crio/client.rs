//! [`pull_through_sources`] wired to pullsim's registry client: per source, the reference is
//! resolved (a failure is a manifest-stage failure: the next source is tried), then the image
//! is pulled from that source (a failure ends the pull).

use std::sync::Arc;

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::resolve::{DOCKER_LIST, OCI_INDEX};
use pullsim_registry::{BlobSink, Client, Progress, PullOutcome};

use super::error::{CrioPullError, SourceFailure};
use super::pull::pull_through_sources;
use super::wording::CrioVersion;
use crate::registries_conf::{PullSource, RegistriesConf};

/// CRI-O's pull of `reference` through the sources of `conf` with `client`: each source is
/// resolved (`Client::resolve`) until one answers, then pulled into `sink`
/// (`Client::pull_unless_current`, `current` as there). Returns the outcome and the source
/// that served it.
///
/// Requests: one manifest `HEAD` per source tried, then the pull's own resolution and content
/// from the chosen source (containers/image instead pings `GET /v2/` and reads the manifest
/// once with `GET`). The client must allow plain HTTP or unverified TLS for the `insecure`
/// endpoints ([`super::insecure_hosts`]).
#[allow(clippy::too_many_arguments)]
pub async fn pull_with_client(
    conf: &RegistriesConf,
    client: &Client,
    reference: &Reference,
    auth: Option<&AuthConfig>,
    version: CrioVersion,
    sink: Arc<dyn BlobSink>,
    progress: &dyn Progress,
    current: Option<&Digest>,
) -> Result<(PullOutcome, PullSource), CrioPullError> {
    pull_through_sources(conf, reference, auth, version, |source, cred| {
        let physical = source.reference.clone();
        let cred = cred.cloned();
        let sink = sink.clone();
        async move {
            let resolved = client
                .resolve(&physical, cred.as_ref())
                .await
                .map_err(SourceFailure::Manifest)?;
            let through_index =
                resolved.media_type == OCI_INDEX || resolved.media_type == DOCKER_LIST;
            client
                .pull_unless_current(&physical, cred.as_ref(), sink, progress, current)
                .await
                .map_err(|e| {
                    if through_index {
                        SourceFailure::ContentThroughIndex(e)
                    } else {
                        SourceFailure::Content(e)
                    }
                })
        }
    })
    .await
}
