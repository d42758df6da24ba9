//! `pullsim creds check IMAGE`: would the node be able to pull this image with these
//! credentials — and if not, exactly why? Tries each credential the keyring yields in the
//! kubelet's order (one anonymous attempt when none match; no anonymous retry after credentials
//! fail, as kuberuntime_image.go PullImage), through the auth flow and one manifest HEAD only.
//! Never downloads layers.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pullsim_policy::{apply_default_image_tag, messages};
use pullsim_reference::Reference;
use serde::Serialize;

use super::pull::aggregate;
use crate::flags::{CredentialFlags, Format, KubeletFlags, RegistryFlags, runtime};
use crate::output::{self, Kind, outln};

/// `pullsim creds check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The image as a pod spec writes it.
    pub image: String,
    #[command(flatten)]
    pub creds: CredentialFlags,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub kubelet: KubeletFlags,
    /// Output: text, or JSON lines (one `attempt` per credential tried, then one `result`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// One attempt: one `attempt` JSON line.
#[derive(Debug, Serialize)]
struct Attempt {
    key: Option<String>,
    source: String,
    username: Option<String>,
    outcome: String,
    status: Option<u16>,
    registry_error: Option<String>,
    digest: Option<String>,
    /// The auth scheme the registry asked for (`basic`, `bearer`), if any.
    scheme: Option<String>,
    /// Whether a bearer token was obtained (never the token itself).
    token: bool,
    error: Option<String>,
}

/// The verdict: the `result` JSON line (after the attempts).
#[derive(Debug, Serialize)]
struct Report {
    image: String,
    reference: Option<String>,
    #[serde(skip)]
    attempts: Vec<Attempt>,
    pullable: bool,
    reason: Option<String>,
    message: String,
}

/// Run `pullsim creds check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    // Bad input (configuration, secrets) is trouble before any answer.
    let _node = args.kubelet.node_config()?;
    let keyring = args.creds.keyring()?;
    let image = match apply_default_image_tag(&args.image) {
        Ok(i) => i.into_owned(),
        // The kubelet's answer for such a name: InvalidImageName, not pullable.
        Err(e) => {
            let report = Report {
                image: args.image.clone(),
                reference: None,
                attempts: Vec::new(),
                pullable: false,
                reason: Some(pullsim_policy::Reason::InvalidImageName.to_string()),
                message: messages::failed_default_tag(&args.image, &e.upstream()),
            };
            print(&report, args.output)?;
            return Ok(crate::exit::answer(false));
        }
    };
    let reference = Reference::parse_normalized(&image)
        .with_context(|| format!("parsing image {image:?}"))?
        .with_default_tag();
    let matches = keyring.lookup(&reference);
    let client = args.registry.client(None, |_| {})?;
    let rt = runtime()?;
    let cri_ref = reference.to_string();
    let mut attempts = Vec::new();
    let mut errors = Vec::new();
    let mut pullable = false;
    rt.block_on(async {
        let tries: Vec<Option<&pullsim_credentials::Match>> = if matches.is_empty() {
            vec![None]
        } else {
            matches.iter().map(Some).collect()
        };
        for m in tries {
            let rep = client.resolve_traced(&reference, m.map(|m| &m.auth)).await;
            let (outcome, status, registry_error, digest, error) = match &rep.result {
                Ok(r) => (
                    "ok".to_string(),
                    rep.trace.status,
                    None,
                    Some(r.digest.to_string()),
                    None,
                ),
                Err(e) => {
                    errors.push(e.cri_message(&cri_ref));
                    (
                        e.outcome().to_string(),
                        e.status().or(rep.trace.status),
                        e.registry_code().map(str::to_string),
                        None,
                        Some(e.to_string()),
                    )
                }
            };
            let ok = rep.result.is_ok();
            attempts.push(Attempt {
                key: m.map(|m| m.key.clone()),
                source: m
                    .map(|m| m.source.to_string())
                    .unwrap_or_else(|| "anonymous".to_string()),
                username: m.map(|m| m.auth.username.clone()),
                outcome,
                status,
                registry_error,
                digest,
                scheme: rep.trace.scheme.clone(),
                token: rep.trace.token_obtained,
                error,
            });
            if ok {
                pullable = true;
                break;
            }
        }
    });
    let (reason, message) = if pullable {
        let last = attempts.last();
        (
            None,
            format!(
                "{} resolves to {} with {}",
                cri_ref,
                last.and_then(|a| a.digest.clone()).unwrap_or_default(),
                last.map(|a| a.source.clone()).unwrap_or_default()
            ),
        )
    } else {
        let msg = aggregate(&errors);
        let (reason, _) = messages::eval_pull_error(&image, &msg);
        (
            Some(reason.to_string()),
            messages::failed_to_pull(&image, &msg),
        )
    };
    let report = Report {
        image: image.clone(),
        reference: Some(cri_ref),
        attempts,
        pullable,
        reason,
        message,
    };
    print(&report, args.output)?;
    Ok(crate::exit::answer(report.pullable))
}

fn print(r: &Report, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            for a in &r.attempts {
                output::json(Kind::Attempt, a)?;
            }
            output::json(Kind::Result, r)
        }
        Format::Text => print_text(r),
    }
}

fn print_text(r: &Report) -> anyhow::Result<()> {
    outln!("image:     {}", r.image);
    outln!("reference: {}", r.reference.as_deref().unwrap_or("-"));
    let n = r.attempts.len();
    for (i, a) in r.attempts.iter().enumerate() {
        outln!(
            "attempt {}/{n}: source {} key {} username {}",
            i + 1,
            a.source,
            a.key.as_deref().unwrap_or("-"),
            a.username
                .as_deref()
                .filter(|u| !u.is_empty())
                .unwrap_or("-"),
        );
        outln!(
            "  auth scheme: {}; token: {}; HTTP status: {}; registry error: {}; digest: {}",
            a.scheme.as_deref().unwrap_or("none"),
            if a.token { "obtained" } else { "not obtained" },
            a.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            a.registry_error.as_deref().unwrap_or("-"),
            a.digest.as_deref().unwrap_or("-"),
        );
        match &a.error {
            None => outln!("  outcome: ok"),
            Some(e) => outln!("  outcome: {}: {e}", a.outcome),
        }
    }
    if r.pullable {
        outln!("verdict: pullable — {}", r.message);
    } else {
        outln!(
            "verdict: not pullable ({}) — {}",
            r.reason.as_deref().unwrap_or("ErrImagePull"),
            r.message
        );
    }
    Ok(())
}
