//! `pullsim pod explain`: the decision path of every image in words.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use pullsim_node::explain::explain;
use pullsim_node::pods::build_pods;

use crate::cmd::pod::ExplainArgs;
use crate::output::{Format, json_line};

/// Run `pullsim pod explain`.
pub fn run(a: ExplainArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = a.node.manager_config()?;
    let (manifests, secrets, node) = a.node.load(&a.files)?;
    let store = Arc::new(crate::cmd::images::open_store(root)?);
    let pods = build_pods(&manifests, &secrets, &node);
    for p in &pods {
        if !p.missing_secrets.is_empty() {
            eprintln!(
                "warning: pod {}: Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                p.key(),
                p.missing_secrets.join(", ")
            );
        }
    }
    let all = explain(store, &pods, &cfg);
    match a.output {
        Format::Json => {
            for e in &all {
                json_line(e)?;
            }
        }
        Format::Text => {
            let mut last_pod = String::new();
            for e in &all {
                if e.pod != last_pod {
                    if !last_pod.is_empty() {
                        println!();
                    }
                    println!("Pod {}:", e.pod);
                    last_pod = e.pod.clone();
                }
                println!("  {} {} ({}):", e.kind, e.container, e.image);
                println!("    policy:        {} — {}", e.policy, e.policy_why);
                println!("    present:       {}", e.presence);
                for n in &e.near_matches {
                    println!("      near match: {n}");
                }
                println!("    verification:  {}", e.verification);
                println!(
                    "    credentials:   {}",
                    e.credentials.first().map(String::as_str).unwrap_or("")
                );
                for c in e.credentials.iter().skip(1) {
                    println!("                   {c}");
                }
                for m in &e.not_matching {
                    println!("      not matching: {m}");
                }
                println!("    back-off:      {}", e.backoff);
                println!("    decision:      {}", e.decision);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
