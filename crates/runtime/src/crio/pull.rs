//! The loop over pull sources: containers/image's `newImageSource` (`docker/docker_image_src.go`
//! at v5.36.1, vendored unchanged by CRI-O v1.36.3) as CRI-O's `PullImage` drives it.

use std::future::Future;

use pullsim_credentials::{AuthConfig, Secret};
use pullsim_reference::Reference;

use super::error::{CrioPullError, FailedSource, SourceFailure};
use super::text::{
    content_error_text, is_connection_refused, is_transport_failure, source_error_text,
};
use super::wording::{CrioVersion, FailureKind, content_stage_desc, manifest_stage_desc};
use crate::error::Code;
use crate::registries_conf::{PullSource, RegistriesConf, sends_request_credentials};

/// The credentials CRI-O takes from the CRI request (`server/image_pull.go@v1.36.3`
/// `PullImage`): the user name and password, or those decoded from `auth` when it is set
/// (`decodeDockerAuth`: standard padded base64, split at the first `:`, NULs trimmed from the
/// password; a value without `:` gives no user). "Specifying a username indicates the user
/// intends to send authentication to the registry": no user name, no credentials. An `auth`
/// that is not base64 fails the pull with Go's decoding error, before any request.
pub fn request_credentials(auth: Option<&AuthConfig>) -> Result<Option<AuthConfig>, String> {
    let Some(auth) = auth else {
        return Ok(None);
    };
    let (username, password) = match &auth.auth {
        Some(field) if !field.expose().is_empty() => {
            let decoded = pullsim_credentials::auth::go_base64_decode(field.expose(), true)?;
            let text = String::from_utf8_lossy(&decoded);
            match text.split_once(':') {
                Some((user, pass)) => (user.to_string(), Secret::new(pass.trim_matches('\0'))),
                None => (String::new(), Secret::new("")),
            }
        }
        _ => (auth.username.clone(), auth.password.clone()),
    };
    if username.is_empty() {
        return Ok(None);
    }
    Ok(Some(AuthConfig {
        username,
        password,
        ..AuthConfig::default()
    }))
}

/// `newImageSource`'s error over the failed sources: the single source's error unchanged, or
/// `(Mirrors also failed: [REF: ERR]\n[REF: ERR]): PRIMARY: ERR`.
pub fn combined_error_text(attempts: &[FailedSource]) -> String {
    match attempts {
        [] => "Internal error: newImageSource returned without trying any endpoint".to_string(),
        [only] => only.text.clone(),
        [mirrors @ .., primary] => {
            let extras: Vec<String> = mirrors
                .iter()
                .map(|a| format!("[{}: {}]", a.reference, a.text))
                .collect();
            format!(
                "(Mirrors also failed: {}): {}: {}",
                extras.join("\n"),
                primary.reference,
                primary.text
            )
        }
    }
}

/// The pull's error for a failure after `source` served the manifest: no other source is tried.
fn content_failure(
    version: CrioVersion,
    source: &PullSource,
    e: pullsim_registry::RegistryError,
    through_index: bool,
    image: String,
    attempts: Vec<FailedSource>,
) -> CrioPullError {
    let text = content_error_text(source, &e, through_index);
    CrioPullError {
        code: Code::Unknown,
        image,
        desc: content_stage_desc(version, &text, kind_of(Some(&e))),
        attempts,
        cause: Some(Box::new(e)),
    }
}

fn kind_of(e: Option<&pullsim_registry::RegistryError>) -> FailureKind {
    FailureKind {
        network: e.is_some_and(is_transport_failure),
        refused: e.is_some_and(is_connection_refused),
    }
}

/// The loop of containers/image's `newImageSource` + CRI-O's pull.
///
/// The sources are `conf.pull_sources(reference)` (a reference without tag or digest pulls
/// `latest`, as CRI-O normalizes it). Each source, in order: refused when its registry is
/// `blocked` (the refusal is that source's error and the next is tried, as
/// `newDockerClient` does per source); given the request's credentials only when
/// [`sends_request_credentials`] (never a mirror on another domain), see
/// [`request_credentials`]; then `attempt` is called. A [`SourceFailure::Manifest`] goes on
/// to the next source; a [`SourceFailure::Content`] ends the pull (the chosen source serves
/// every blob). The first success returns the attempt's value and its source. When every
/// source fails, the error is [`combined_error_text`] wrapped as `version` of CRI-O does
/// ([`manifest_stage_desc`]).
///
/// Generic over the attempt so it can be tested without a network and wired to any client.
pub async fn pull_through_sources<T, F, Fut>(
    conf: &RegistriesConf,
    reference: &Reference,
    auth: Option<&AuthConfig>,
    version: CrioVersion,
    mut attempt: F,
) -> Result<(T, PullSource), CrioPullError>
where
    F: FnMut(&PullSource, Option<&AuthConfig>) -> Fut,
    Fut: Future<Output = Result<T, SourceFailure>>,
{
    let logical = reference.with_default_tag();
    let familiar = logical.familiar();
    let image = reference.as_str().to_string();
    let sources = conf.pull_sources(&logical).map_err(|e| {
        let text = e.to_string();
        CrioPullError {
            code: Code::Unknown,
            image: image.clone(),
            desc: manifest_stage_desc(version, &familiar, &text, kind_of(None)),
            attempts: Vec::new(),
            cause: None,
        }
    })?;
    let creds = request_credentials(auth).map_err(|desc| CrioPullError {
        code: Code::Unknown,
        image: image.clone(),
        desc,
        attempts: Vec::new(),
        cause: None,
    })?;
    let mut attempts: Vec<FailedSource> = Vec::new();
    let mut last_cause = None;
    for source in sources {
        let source_ref = source.reference.to_string();
        tracing::info!("Trying to access {source_ref:?}");
        if let Err(e) = conf.check_not_blocked(&source.reference) {
            tracing::debug!("Accessing {source_ref:?} failed: {e}");
            attempts.push(FailedSource {
                reference: source_ref,
                text: e.to_string(),
            });
            last_cause = None;
            continue;
        }
        let cred = creds
            .as_ref()
            .filter(|_| sends_request_credentials(&logical, &source.reference));
        match attempt(&source, cred).await {
            Ok(v) => return Ok((v, source)),
            Err(SourceFailure::Manifest(e)) => {
                let text = source_error_text(&source, &e);
                tracing::debug!("Accessing {source_ref:?} failed: {text}");
                attempts.push(FailedSource {
                    reference: source_ref,
                    text,
                });
                last_cause = Some(Box::new(e));
            }
            Err(SourceFailure::Content(e)) => {
                return Err(content_failure(version, &source, e, false, image, attempts));
            }
            Err(SourceFailure::ContentThroughIndex(e)) => {
                return Err(content_failure(version, &source, e, true, image, attempts));
            }
        }
    }
    let text = combined_error_text(&attempts);
    let desc = manifest_stage_desc(version, &familiar, &text, kind_of(last_cause.as_deref()));
    Err(CrioPullError {
        code: Code::Unknown,
        image,
        desc,
        attempts,
        cause: last_cause,
    })
}
