//! `pullsim policy`: the kubelet's pull-policy rules on the command line — the decision for one
//! image (`decide`), the defaulted policy (`default`) and the back-off schedule (`backoff`).

use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand, ValueEnum};
use pullsim_policy::backoff::{IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, schedule};
use pullsim_policy::messages::go_duration;
use pullsim_policy::{
    Decision, Presence, PullPolicy, Reason, apply_default_image_tag, decide, decision_event,
    default_pull_policy, invalid_image_event,
};
use pullsim_reference::parse_image_name;
use serde::Serialize;

use crate::flags::Format;
use crate::output::{self, Kind, outln};

/// `pullsim policy …`
#[derive(Args, Debug)]
#[command(
    about = "The kubelet's pull-policy rules: decide, default, back-off",
    long_about = "The kubelet's pull-policy rules, without a node.\n\n\
  decide   what the kubelet does with one container image (pull, use the local copy, or fail)\n\
           and the event it records, byte for byte\n\
  default  the imagePullPolicy the API server gives a container that sets none\n\
  backoff  the image pull back-off schedule (10s doubling to 5m0s)"
)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Decide what the kubelet does with IMAGE: pull, use-local, or error
    #[command(
        long_about = "Decide what the kubelet's image manager does with IMAGE (as written \
in the pod spec), given its pull policy and whether the image is on the node, and print the \
reason and the event it records, with the kubelet's exact message.\n\n\
Rules (pkg/kubelet/images/image_manager.go):\n  \
Always        pull; the local copy is not even looked up\n  \
IfNotPresent  use the local copy when present and accessible, else pull\n  \
Never         use the local copy when present and accessible, else ErrImageNeverPull\n\n\
'Accessible' is KEP-2535 credential verification (on by default since Kubernetes 1.35): \
--verified no means this pod's credentials do not match the record of who pulled the image, \
so IfNotPresent pulls again and Never fails as if the image were absent.\n\n\
Without --policy, the policy the API server would default is used (Always for the tag \
'latest' or no tag, else IfNotPresent).\n\n\
Exit status: 0 when a decision was made (even ErrImageNeverPull), 1 for an image name the \
kubelet rejects (InvalidImageName), 2 for usage errors.\n\n\
Example:\n  pullsim policy decide --policy Never --absent nginx:1.25"
    )]
    Decide(DecideArgs),
    /// Print the imagePullPolicy the API server defaults for each IMAGE
    #[command(
        long_about = "Print the imagePullPolicy the API server gives a container that \
sets none (SetDefaults_Container): Always when the tag is exactly 'latest' or there is neither \
tag nor digest, IfNotPresent otherwise (another tag, a digest only, an unparsable name).\n\n\
Example:\n  pullsim policy default nginx nginx:1.25 nginx@sha256:…"
    )]
    Default(DefaultArgs),
    /// Print the image pull back-off schedule after N consecutive failures
    #[command(
        long_about = "Print the kubelet's image pull back-off after each of N \
consecutive failed pulls: 10s first, doubling, capped at 5m0s (client-go flowcontrol.Backoff \
with the kubelet's parameters, no jitter). An entry idle for more than 10m0s (twice the cap) \
starts over at 10s. The key is <podUID>_<image>, so each pod backs off separately.\n\n\
Example:\n  pullsim policy backoff --failures 8"
    )]
    Backoff(BackoffArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("presence").required(true).args(["present", "absent"]))]
struct DecideArgs {
    /// The image as written in the pod spec (e.g. nginx:1.25)
    #[arg(value_name = "IMAGE")]
    image: String,
    /// imagePullPolicy (default: what the API server defaults for IMAGE)
    #[arg(long, value_name = "POLICY", value_parser = PossibleValuesParser::new(["Always", "IfNotPresent", "Never"]))]
    policy: Option<String>,
    /// The image is on the node
    #[arg(long)]
    present: bool,
    /// The image is not on the node
    #[arg(long)]
    absent: bool,
    /// KEP-2535: whether this pod passed credential verification for the present image
    /// (default: yes)
    #[arg(long, value_enum, value_name = "yes|no")]
    verified: Option<YesNo>,
    /// The KubeletEnsureSecretPulledImages feature gate (on by default since 1.35); off: no
    /// verification and the short "already present" message
    #[arg(long, value_name = "true|false", default_value_t = true, action = clap::ArgAction::Set)]
    ensure_secret_pulled_images: bool,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Args, Debug)]
struct DefaultArgs {
    /// Images as written in pod specs
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Args, Debug)]
struct BackoffArgs {
    /// Number of consecutive failed pulls
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    failures: u32,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// Runs `pullsim policy …`.
pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Decide(a) => decide_cmd(a),
        PolicyCommand::Default(a) => default_cmd(a),
        PolicyCommand::Backoff(a) => backoff_cmd(a),
    }
}

/// The JSON object of `policy decide` (exactly these fields, in this order).
#[derive(Serialize)]
struct DecideJson<'a> {
    decision: &'a str,
    reason: Option<&'a str>,
    event_type: &'a str,
    event_reason: &'a str,
    message: &'a str,
}

/// Why the API server defaults IMAGE's policy the way it does.
fn default_why(image: &str) -> String {
    match parse_image_name(image) {
        Err(_) => "the name does not parse, so there is no tag".to_string(),
        Ok(n) if n.tag == "latest" => {
            if image.ends_with(":latest") || image.contains(":latest@") {
                "the tag is \"latest\"".to_string()
            } else {
                "no tag and no digest, so the tag is \"latest\"".to_string()
            }
        }
        Ok(n) if n.tag.is_empty() => "a digest and no tag".to_string(),
        Ok(n) => format!("the tag is {:?}, not \"latest\"", n.tag),
    }
}

fn decide_cmd(a: DecideArgs) -> anyhow::Result<ExitCode> {
    if !a.ensure_secret_pulled_images && a.verified == Some(YesNo::No) {
        eprintln!(
            "error: --verified no needs --ensure-secret-pulled-images true: with the gate off the kubelet does not verify credentials"
        );
        return Ok(crate::exit::trouble());
    }
    let image = a.image.as_str();

    // The kubelet applies the default tag before anything else; a name it cannot parse is
    // InvalidImageName whatever the policy.
    if let Err(err) = apply_default_image_tag(image) {
        let event = invalid_image_event(image, &err);
        let out = DecideJson {
            decision: "error",
            reason: Some(Reason::InvalidImageName.as_str()),
            event_type: event.event_type.as_str(),
            event_reason: event.reason.as_str(),
            message: &event.message,
        };
        match a.output {
            Format::Json => output::json(Kind::Decision, &out)?,
            Format::Text => {
                outln!("Image:     {image}");
                outln!("Decision:  error");
                outln!("Reason:    {}", Reason::InvalidImageName);
                outln!(
                    "Event:     {}  {}  {}",
                    out.event_type,
                    out.event_reason,
                    out.message
                );
            }
        }
        eprintln!("error: invalid image name {image:?}: {}", err);
        return Ok(ExitCode::from(1));
    }

    let (policy, defaulted) = match &a.policy {
        Some(p) => (p.parse::<PullPolicy>()?, false),
        None => (default_pull_policy(image), true),
    };
    let gate = a.ensure_secret_pulled_images;
    let verified = a.verified.unwrap_or(YesNo::Yes) == YesNo::Yes;
    let presence = if a.present {
        Presence::Present {
            accessible: !gate || verified,
        }
    } else {
        Presence::Absent
    };
    let decision = decide(policy, presence);
    let event = decision_event(decision, image, gate);
    let reason = decision.reason();
    let out = DecideJson {
        decision: decision.as_str(),
        reason: reason.map(Reason::as_str),
        event_type: event.event_type.as_str(),
        event_reason: event.reason.as_str(),
        message: &event.message,
    };
    match a.output {
        Format::Json => output::json(Kind::Decision, &out)?,
        Format::Text => {
            let policy_line = if defaulted {
                format!("{policy} (defaulted: {})", default_why(image))
            } else {
                policy.to_string()
            };
            let presence_line = match presence {
                Presence::Absent => "absent".to_string(),
                Presence::Present { .. } if !gate => {
                    "present (credential verification off)".to_string()
                }
                Presence::Present { accessible: true } => {
                    "present, this pod may use it (KEP-2535 verification passed)".to_string()
                }
                Presence::Present { accessible: false } => {
                    "present, but this pod's credentials are not verified for it (KEP-2535)"
                        .to_string()
                }
            };
            let why = match (policy, decision, presence) {
                (PullPolicy::Always, _, _) => {
                    "Always never uses the local copy; the runtime pulls and skips layers it has"
                }
                (_, Decision::UseLocal, _) => "the image is on the node and the pod may use it",
                (PullPolicy::IfNotPresent, Decision::Pull, Presence::Absent) => {
                    "IfNotPresent and the image is not on the node"
                }
                (PullPolicy::IfNotPresent, Decision::Pull, _) => {
                    "IfNotPresent, present but not verified: the pull checks this pod's credentials"
                }
                (_, Decision::NeverPull, Presence::Absent) => {
                    "Never and the image is not on the node"
                }
                (_, Decision::NeverPull, _) => {
                    "Never, present but not verified: reported as not present, so presence is not revealed"
                }
                _ => "",
            };
            outln!("Image:     {image}");
            outln!("Policy:    {policy_line}");
            outln!("On node:   {presence_line}");
            outln!("Decision:  {}", decision.as_str());
            outln!("Why:       {why}");
            outln!(
                "Reason:    {}",
                reason.map(Reason::as_str).unwrap_or("<none>")
            );
            outln!(
                "Event:     {}  {}  {}",
                out.event_type,
                out.event_reason,
                out.message
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct DefaultJson<'a> {
    image: &'a str,
    default_pull_policy: &'a str,
    why: &'a str,
}

fn default_cmd(a: DefaultArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<(String, PullPolicy, String)> = a
        .images
        .iter()
        .map(|i| (i.clone(), default_pull_policy(i), default_why(i)))
        .collect();
    match a.output {
        Format::Json => {
            for (image, policy, why) in &rows {
                output::json(
                    Kind::DefaultPolicy,
                    &DefaultJson {
                        image,
                        default_pull_policy: policy.as_str(),
                        why,
                    },
                )?;
            }
        }
        Format::Text => {
            let w = rows
                .iter()
                .map(|r| r.0.chars().count())
                .max()
                .unwrap_or(5)
                .max(5);
            outln!("{:<w$}   {:<12}   WHY", "IMAGE", "POLICY");
            for (image, policy, why) in &rows {
                outln!("{image:<w$}   {:<12}   {why}", policy.as_str());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct BackoffJson {
    failure: u32,
    backoff: String,
    backoff_seconds: u64,
    next_pull_after: String,
    next_pull_after_seconds: u64,
}

fn backoff_cmd(a: BackoffArgs) -> anyhow::Result<ExitCode> {
    let delays = schedule(
        IMAGE_BACKOFF_INITIAL,
        IMAGE_BACKOFF_MAX,
        a.failures as usize,
    );
    let mut total = std::time::Duration::ZERO;
    let mut rows = Vec::with_capacity(delays.len());
    for (i, d) in delays.iter().enumerate() {
        total += *d;
        rows.push(BackoffJson {
            failure: i as u32 + 1,
            backoff: go_duration(*d),
            backoff_seconds: d.as_secs(),
            next_pull_after: go_duration(total),
            next_pull_after_seconds: total.as_secs(),
        });
    }
    match a.output {
        Format::Json => {
            for r in &rows {
                output::json(Kind::Backoff, r)?;
            }
        }
        Format::Text => {
            outln!(
                "{:<8}  {:<9}  NEXT PULL (after the first failure)",
                "FAILURE",
                "BACK-OFF"
            );
            for r in &rows {
                outln!("{:<8}  {:<9}  +{}", r.failure, r.backoff, r.next_pull_after);
            }
            outln!(
                "\nKeyed by <podUID>_<image>. An entry idle for more than {} starts over at {}.",
                go_duration(IMAGE_BACKOFF_MAX * 2),
                go_duration(IMAGE_BACKOFF_INITIAL)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
