//! [`pull_through_sources`] wired to pullsim's registry client: per source, the reference is
//! resolved (a failure is a manifest-stage failure: the next source is tried), then the image
//! is pulled from that source (a failure ends the pull).

use std::sync::Arc;

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::resolve::{DOCKER_LIST, OCI_INDEX};
use pullsim_registry::{
    BlobSink, Capabilities, Client, HostPlan, HostTls, Progress, PullOutcome, RegistryHost,
    Resolver,
};

use super::error::{CrioPullError, SourceFailure};
use super::pull::pull_through_sources;
use super::wording::CrioVersion;
use crate::registries_conf::{PullSource, RegistriesConf};

/// A CRI-O source as one registry host: HTTPS, and for an `insecure` endpoint certificates not
/// verified and plain HTTP after a TLS failure (containers/image `docker/docker_client.go`: no
/// exception for loopback hosts, unlike containerd).
pub fn source_host(source: &PullSource) -> RegistryHost {
    let mut h = RegistryHost::default_for(source.reference.domain());
    h.scheme = "https".to_string();
    h.capabilities = Capabilities::ALL;
    if source.endpoint.insecure {
        h.tls = Some(HostTls {
            skip_verify: true,
            ..HostTls::default()
        });
        h.http_fallback = true;
    } else {
        h.tls = None;
        h.http_fallback = false;
    }
    h
}

/// The one-host plan of a source, with the credential CRI-O sends it.
pub fn source_plan(source: &PullSource, cred: Option<&AuthConfig>) -> HostPlan {
    let cred = cred.cloned();
    HostPlan {
        hosts: vec![source_host(source)],
        resolver: Resolver::Containerd2Local,
        credentials: Arc::new(move |_| cred.clone()),
    }
}

/// CRI-O's pull of `reference` through the sources of `conf` with `client`: each source is
/// resolved until one answers (a failure is a manifest-stage failure: the next source is
/// tried), then pulled into `sink` (`current` as [`Client::pull_on`]); a failure there ends
/// the pull. Returns the outcome and the source that served it.
///
/// Requests: per source tried, a manifest `HEAD`, and on a refusal or absence one `GET` for the
/// registry's error (containers/image reads manifests with `GET` only, after a `GET /v2/`
/// ping); then the pull's own resolution and content from the chosen source.
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
        let plan = source_plan(source, cred);
        let physical = source.reference.clone();
        let sink = sink.clone();
        async move {
            let resolved = client.resolve_diagnosed(&physical, &plan).await;
            let top = resolved.result.map_err(SourceFailure::Manifest)?;
            let through_index = top.media_type == OCI_INDEX || top.media_type == DOCKER_LIST;
            client
                .pull_on(&physical, &plan, sink, progress, current)
                .await
                .result
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
