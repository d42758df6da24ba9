//! `pullsim pod explain`: the decision path of every image in words.

use pullsim_reference::terminal_safe as safe;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use pullsim_node::explain::explain;
use pullsim_node::pods::build_pods;
use serde_json::json;

use crate::cmd::pod_render::container_type_of_word;
use crate::flags::{Format, NodeFlags, RegistryFlags, RuntimeFlags};
use crate::node::{dry_run_records, open_runtime, root_dir, runtime_config};
use crate::output::{self, Kind, outln};

/// `pullsim pod explain`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Per container: the policy and why, present or not, KEP-2535 verification, credentials in
  # try order, back-off, the decision, and the registry hosts the runtime would try
  pullsim pod explain deploy.yaml --secret regcred.yaml
  # With the node's containerd configuration: which mirror gets which credential
  pullsim pod explain deploy.yaml --containerd-config /etc/containerd/config.toml
  kubectl get pod web -o yaml | pullsim pod explain - -o json")]
pub struct ExplainArgs {
    /// Manifest files or directories; with --from-cluster, TYPE/NAME objects to read from the
    /// cluster.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub node: NodeFlags,
    #[command(flatten)]
    pub runtime: RuntimeFlags,
    /// Output: text or JSON lines (one `explain` line per image).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Run `pullsim pod explain`.
pub fn run(a: ExplainArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let kubelet = a.node.kubelet.node_config()?;
    let (manifests, secrets, node, cluster_hints) =
        crate::cmd::cluster::load_inputs(&a.node, &a.files, &kubelet)?;
    let cfg = kubelet.manager;
    // A dry run of the node: the runtime is never asked to pull (and is offline besides), and
    // the kubelet's records are read as a run would read them, written never.
    let root = root_dir(root);
    let registry = RegistryFlags {
        runtime: a.runtime.clone(),
        ..RegistryFlags::default()
    };
    let service = open_runtime(runtime_config(&root, &registry, |c| {
        c.offline = true;
    })?)?;
    let records = dry_run_records(&service, &root)?;
    let pods = build_pods(&manifests, &secrets, &node);
    for p in &pods {
        if !p.missing_secrets.is_empty() {
            eprintln!(
                "warning: pod {}: Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                safe(&p.key()),
                safe(&p.missing_secrets.join(", "))
            );
        }
    }
    let all = explain(service.as_ref(), &records, &pods, &cfg);
    match a.output {
        Format::Json => {
            for e in &all {
                output::json(
                    Kind::Explain,
                    &json!({
                        "pod": e.pod,
                        "container": e.container,
                        "container_type": container_type_of_word(e.kind),
                        "image": e.image,
                        "policy": e.policy,
                        "policy_why": e.policy_why,
                        "presence": e.presence,
                        "near_matches": e.near_matches,
                        "verification": e.verification,
                        "credentials": e.credentials,
                        "not_matching": e.not_matching,
                        "backoff": e.backoff,
                        "decision": e.decision,
                        "action": e.action,
                        "reason": e.reason.map(|r| r.as_str()),
                        "route": e.route,
                        "route_error": e.route_error,
                    }),
                )?;
            }
        }
        Format::Text => {
            let mut last_pod = String::new();
            for e in &all {
                if e.pod != last_pod {
                    if !last_pod.is_empty() {
                        outln!();
                    }
                    outln!("Pod {}:", safe(&e.pod));
                    last_pod = e.pod.clone();
                }
                outln!("  {} {} ({}):", e.kind, safe(&e.container), safe(&e.image));
                outln!("    policy:        {} — {}", e.policy, e.policy_why);
                outln!("    present:       {}", e.presence);
                for n in &e.near_matches {
                    outln!("      near match: {n}");
                }
                outln!("    verification:  {}", e.verification);
                outln!(
                    "    credentials:   {}",
                    e.credentials.first().map(String::as_str).unwrap_or("")
                );
                for c in e.credentials.iter().skip(1) {
                    outln!("                   {c}");
                }
                for m in &e.not_matching {
                    outln!("      not matching: {m}");
                }
                outln!("    back-off:      {}", e.backoff);
                outln!("    decision:      {}", e.decision);
                if let Some(route) = &e.route {
                    match &route.source {
                        Some(src) => {
                            outln!("    hosts:         in the runtime's order ({}):", safe(src))
                        }
                        None => outln!("    hosts:         in the runtime's order:"),
                    }
                    for (i, h) in route.hosts.iter().enumerate() {
                        let caps = if h.capabilities.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", h.capabilities.join(", "))
                        };
                        outln!(
                            "      {}. {} ({}{caps}): {}{}",
                            i + 1,
                            safe(&h.endpoint),
                            h.role,
                            h.credential.as_words(),
                            h.skipped
                                .as_deref()
                                .map(|w| format!(" — skipped: {w}"))
                                .unwrap_or_default()
                        );
                    }
                }
                if let Some(route) = &e.route {
                    for h in &route.hints {
                        crate::cmd::runtime_notes::print_hint(
                            Format::Text,
                            &crate::cmd::runtime_notes::from_runtime(&e.image, h),
                        )?;
                    }
                }
                if let Some(err) = &e.route_error {
                    outln!("    hosts:         unknown: {}", safe(err));
                }
            }
        }
    }
    // What the inputs themselves say (secrets of the wrong type, a missing ServiceAccount,
    // credential helpers): the same hints `pod run` prints.
    let inputs = pullsim_node::hints::HintInputs {
        secrets: &secrets,
        manifests: Some(&manifests),
    };
    let mut hints = crate::cmd::runtime_notes::pod_hints(&pods, &inputs, &node, service.as_ref());
    hints.extend(cluster_hints);
    if a.output == Format::Text && !hints.is_empty() {
        outln!();
    }
    for h in &hints {
        crate::cmd::runtime_notes::print_hint(a.output, h)?;
    }
    Ok(ExitCode::SUCCESS)
}
