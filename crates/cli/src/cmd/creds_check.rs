//! `pullsim creds check IMAGE`: would the node be able to pull this image with these
//! credentials — and if not, exactly why? Tries each credential the keyring yields in the
//! kubelet's order (one anonymous attempt when none match; no anonymous retry after credentials
//! fail, as kuberuntime_image.go PullImage), through the auth flow and one manifest HEAD only.
//! Never downloads layers.

use pullsim_reference::terminal_safe as safe;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use pullsim_node::NodeError;
use pullsim_node::creds_check::{CredentialAttempt, check_credentials};
use serde::Serialize;

use crate::flags::{CredentialFlags, Format, KubeletFlags, RegistryFlags, runtime};
use crate::node::{open_runtime, root_dir, runtime_config};
use crate::output::{self, Kind, outln};

/// `pullsim creds check`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Each credential in the kubelet's order: auth scheme, token, status, the host that answered
  pullsim creds check 127.0.0.1:5000/team/app:v1 --secret wrong.yaml --secret regcred.yaml
  # Which credential would be used, without connecting
  pullsim creds check nginx --secret hub.yaml --offline -o json
  # A secret straight from kubectl
  kubectl get secret regcred -o yaml | pullsim creds check registry.example.com/app:1 --secret -")]
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

/// The verdict: the `result` JSON line (after the attempts).
#[derive(Debug, Serialize)]
struct Report {
    image: String,
    reference: Option<String>,
    #[serde(skip)]
    attempts: Vec<CredentialAttempt>,
    pullable: bool,
    reason: Option<String>,
    message: String,
}

/// Run `pullsim creds check`: the image as a one-container pod with every `--secret`, the
/// pod's keyring in the kubelet's order, and for each credential the runtime's resolve stage of
/// a pull (`ImageService::resolve_image`) — the path `pod run` takes, stopped after the
/// manifest.
pub fn run(args: CheckArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Bad input (configuration, secrets) is trouble before any answer.
    let kubelet = args.kubelet.node_config()?;
    let (pod, secrets, node) = args.creds.single_pod(&args.image, None, &kubelet)?;
    let root = root_dir(root);
    let service = open_runtime(runtime_config(&root, &args.registry, |_| {})?)?;
    let checked = runtime()?.block_on(check_credentials(
        service.as_ref(),
        &args.image,
        pod.credentials.as_ref(),
    ));
    let report = match checked {
        Ok(c) => Report {
            image: c.image,
            reference: Some(c.reference),
            attempts: c.attempts,
            pullable: c.pullable,
            reason: c.reason.map(|r| r.to_string()),
            message: c.message,
        },
        // The kubelet's answer for such a name: InvalidImageName, not pullable.
        Err(NodeError::InvalidImage { image, message }) => Report {
            image,
            reference: None,
            attempts: Vec::new(),
            pullable: false,
            reason: Some(pullsim_policy::Reason::InvalidImageName.to_string()),
            message,
        },
        Err(e) => return Err(e.into()),
    };
    print(&report, args.output)?;
    let inputs = pullsim_node::hints::HintInputs {
        secrets: &secrets,
        manifests: None,
    };
    let hints = crate::cmd::runtime_notes::pod_hints(
        std::slice::from_ref(&pod),
        &inputs,
        &node,
        service.as_ref(),
    );
    crate::cmd::runtime_notes::print(
        &service,
        args.output,
        args.registry.runtime.runtime.kind().log_name(),
        &hints,
    )?;
    Ok(crate::exit::answer(report.pullable))
}

/// One `attempt` JSON line: the attempt's fields, with `token` (obtained or not).
#[derive(Serialize)]
struct AttemptLine<'a> {
    key: Option<&'a str>,
    source: &'a str,
    username: Option<&'a str>,
    outcome: &'a str,
    status: Option<u16>,
    registry_error: Option<&'a str>,
    digest: Option<&'a str>,
    scheme: Option<&'a str>,
    token: bool,
    error: Option<&'a str>,
    host: Option<&'a str>,
}

fn print(r: &Report, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            for a in &r.attempts {
                output::json(
                    Kind::Attempt,
                    &AttemptLine {
                        key: a.key.as_deref(),
                        source: &a.source,
                        username: a.username.as_deref(),
                        outcome: &a.outcome,
                        status: a.status,
                        registry_error: a.registry_error.as_deref(),
                        digest: a.digest.as_deref(),
                        scheme: a.scheme.as_deref(),
                        token: a.token_obtained,
                        error: a.error.as_deref(),
                        host: a.host.as_deref(),
                    },
                )?;
            }
            output::json(Kind::Result, r)
        }
        Format::Text => print_text(r),
    }
}

fn print_text(r: &Report) -> anyhow::Result<()> {
    outln!("image:     {}", safe(&r.image));
    outln!("reference: {}", r.reference.as_deref().unwrap_or("-"));
    let n = r.attempts.len();
    for (i, a) in r.attempts.iter().enumerate() {
        outln!(
            "attempt {}/{n}: source {} key {} username {}",
            i + 1,
            a.source,
            safe(a.key.as_deref().unwrap_or("-")),
            safe(
                a.username
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .unwrap_or("-")
            ),
        );
        outln!(
            "  auth scheme: {}; token: {}; HTTP status: {}; registry error: {}; digest: {}",
            a.scheme.as_deref().unwrap_or("none"),
            if a.token_obtained {
                "obtained"
            } else {
                "not obtained"
            },
            a.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            safe(a.registry_error.as_deref().unwrap_or("-")),
            a.digest.as_deref().unwrap_or("-"),
        );
        if let Some(h) = &a.host {
            outln!("  host: {}", safe(h));
        }
        match &a.error {
            None => outln!("  outcome: ok"),
            Some(e) => outln!("  outcome: {}: {}", a.outcome, safe(e)),
        }
    }
    if r.pullable {
        outln!("verdict: pullable — {}", safe(&r.message));
    } else {
        outln!(
            "verdict: not pullable ({}) — {}",
            r.reason.as_deref().unwrap_or("ErrImagePull"),
            safe(&r.message)
        );
    }
    Ok(())
}
