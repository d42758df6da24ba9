//! `creds check`: would this pod's keyring get an image past authentication and manifest
//! resolution? The credentials in the kubelet's order (kuberuntime_image.go PullImage: each in
//! keyring order, first success wins, one anonymous attempt only when none matched, no
//! anonymous retry after credentials fail), each through one `ImageService::resolve_image` —
//! the pull's first stage, no layers.

use pullsim_policy::{Reason, messages};
use pullsim_reference::Reference;
use pullsim_runtime::{ImageService, ImageSpec};
use serde::Serialize;

use crate::error::NodeError;
use crate::services::PodCredentials;
use crate::shared::{apply_default_image_tag, go_aggregate, pull_error_text};

/// One credential tried. Never holds the credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialAttempt {
    /// `secret:<namespace>/<name>`, `node:<path>`, `plugin:<name>`, or `anonymous`.
    pub source: String,
    /// The keyring key that matched (`None`: anonymous).
    pub key: Option<String>,
    /// The username offered (`None`: anonymous).
    pub username: Option<String>,
    /// `ok`, or the failure's outcome word (`unauthorized`, `denied`, `not-found`,
    /// `rate-limited`, `unavailable`, `tls-error`, `error`).
    pub outcome: String,
    /// HTTP status of the last registry answer (or of the refusal).
    pub status: Option<u16>,
    /// Registry error code (`UNAUTHORIZED`, `MANIFEST_UNKNOWN`, …).
    pub registry_error: Option<String>,
    /// The auth scheme the registry asked for (`basic`, `bearer`).
    pub scheme: Option<String>,
    /// Whether a bearer token was obtained.
    pub token_obtained: bool,
    /// The failure's own text (without the CRI wrapping).
    pub error: Option<String>,
    /// The manifest digest the reference resolved to.
    pub digest: Option<String>,
    /// The registry endpoint that resolved the reference, or whose error is reported.
    pub host: Option<String>,
}

/// The verdict of `creds check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialCheck {
    /// The image with the default tag applied.
    pub image: String,
    /// The normalized reference the runtime resolves (`docker.io/library/nginx:latest`).
    pub reference: String,
    /// The attempts, in order.
    pub attempts: Vec<CredentialAttempt>,
    /// An attempt got past authentication and resolution.
    pub pullable: bool,
    /// When not pullable: the kubelet's reason for the aggregated errors (evalCRIPullErr).
    pub reason: Option<Reason>,
    /// `REF resolves to DIGEST with SOURCE`, or the kubelet's `Failed to pull image …`.
    pub message: String,
}

/// Check `image` (as a pod spec writes it) with the pod's credentials through `service`.
/// An unparsable image is [`NodeError::InvalidImage`] (the kubelet's InvalidImageName text).
pub async fn check_credentials<S: ImageService>(
    service: &S,
    image: &str,
    creds: &dyn PodCredentials,
) -> Result<CredentialCheck, NodeError> {
    let tagged = apply_default_image_tag(image)
        .map_err(|e| NodeError::InvalidImage {
            image: image.to_string(),
            message: messages::failed_default_tag(image, &e.upstream()),
        })?
        .into_owned();
    let reference = Reference::parse_normalized(&tagged)
        .map_err(|e| NodeError::invalid_image(&tagged, &e))?
        .with_default_tag()
        .to_string();
    let credentials = creds.lookup(&tagged)?;
    let spec = ImageSpec::new(tagged.as_str());
    let tries: Vec<Option<&crate::services::TrackedCredential>> = if credentials.is_empty() {
        vec![None]
    } else {
        credentials.iter().map(Some).collect()
    };
    let mut attempts = Vec::with_capacity(tries.len());
    let mut errors = Vec::new();
    let mut pullable = false;
    for c in tries {
        let rep = service.resolve_image(&spec, c.map(|c| &c.auth)).await;
        let mut a = CredentialAttempt {
            source: c.map_or_else(|| "anonymous".to_string(), |c| c.label()),
            key: c.map(|c| c.key.clone()),
            username: c.map(|c| c.auth.username.clone()),
            outcome: "ok".into(),
            status: rep.trace.status,
            registry_error: None,
            scheme: rep.trace.scheme.clone(),
            token_obtained: rep.trace.token_obtained,
            error: None,
            digest: None,
            host: rep.trace.host.clone(),
        };
        match rep.result {
            Ok(r) => {
                a.digest = Some(r.digest);
                attempts.push(a);
                pullable = true;
                break;
            }
            Err(e) => {
                a.outcome = e.outcome().to_string();
                a.status = e.status().or(a.status);
                a.registry_error = e.registry_code().map(str::to_string);
                a.error = Some(e.cause_text());
                a.host = e.host().map(str::to_string).or(a.host);
                errors.push(pull_error_text(&e));
                attempts.push(a);
            }
        }
    }
    let (reason, message) = if pullable {
        let last = attempts.last();
        (
            None,
            format!(
                "{reference} resolves to {} with {}",
                last.and_then(|a| a.digest.as_deref()).unwrap_or_default(),
                last.map(|a| a.source.as_str()).unwrap_or_default()
            ),
        )
    } else {
        let msg = go_aggregate(&errors);
        let (reason, _) = messages::eval_pull_error(&tagged, &msg);
        (Some(reason), messages::failed_to_pull(&tagged, &msg))
    };
    Ok(CredentialCheck {
        image: tagged,
        reference,
        attempts,
        pullable,
        reason,
        message,
    })
}
