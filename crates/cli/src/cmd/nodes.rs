//! `pullsim nodes check` (also `kubectl pullsim nodes check`): `pullsim node check` on every
//! node of the cluster through the DaemonSet of deploy/daemonset.yaml, one table of the results.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use pullsim_cluster::nodes::{NodeResult, NodesCheck, NodesReport};
use pullsim_cluster::{Cluster, ConnectOptions};
use pullsim_reference::terminal_safe as safe;
use serde_json::json;

use crate::cmd::images_fmt::parse_duration;
use crate::flags::Format;
use crate::output::{self, Kind, outln};

/// `pullsim nodes`: every node of a live cluster.
#[derive(Args, Debug)]
pub struct NodesArgs {
    #[command(subcommand)]
    command: NodesCommand,
}

#[derive(Subcommand, Debug)]
enum NodesCommand {
    /// Run `pullsim node check IMAGE...` on every node (a DaemonSet in a namespace of its own),
    /// gather each node's answer into one table, and delete what was created (also on Ctrl-C).
    /// Exit 0 when every image is pullable on every node, 1 otherwise.
    Check(CheckArgs),
}

/// `pullsim nodes check`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl pullsim nodes check registry.example/app:1.4 --image registry.example/pullsim:0.1.0
  kubectl pullsim nodes check nginx:1.27 redis:7 --image pullsim:0.1.0 --timeout 10m -o json")]
pub struct CheckArgs {
    /// The images to check on every node.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The pullsim image the DaemonSet runs (scripts/image builds it).
    #[arg(long = "image", value_name = "PULLSIM_IMAGE")]
    pub pullsim_image: String,
    /// The namespace to work in: created when missing (and then deleted at the end).
    #[arg(short = 'n', long, value_name = "NS", default_value = "pullsim-system")]
    pub namespace: String,
    /// How long to wait for every node's answer.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub timeout: Duration,
    /// The kubeconfig context (as kubectl's --context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig file (as kubectl's --kubeconfig).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Output: a table, or JSON lines (one `node_result` per node and image).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Run `pullsim nodes`.
pub fn run(args: NodesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        NodesCommand::Check(a) => check(a),
    }
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let opts = ConnectOptions {
        context: a.context.clone(),
        kubeconfig: a.kubeconfig.clone(),
        namespace: Some(a.namespace.clone()),
    };
    let req = NodesCheck {
        images: a.images.clone(),
        pullsim_image: a.pullsim_image.clone(),
        namespace: a.namespace.clone(),
        timeout: a.timeout,
        poll: Duration::from_secs(2),
    };
    let progress = |line: &str| eprintln!("{}", safe(line));
    let report = crate::flags::runtime()?.block_on(async {
        let cluster = Cluster::connect(&opts).await?;
        let cancel = async {
            // No signal handler (an error installing it): never cancel.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        cluster.nodes_check(&req, cancel, &progress).await
    })?;
    print(&report, &a)?;
    Ok(crate::exit::answer(report.all_pullable()))
}

fn print(report: &NodesReport, a: &CheckArgs) -> anyhow::Result<()> {
    match a.output {
        Format::Json => {
            for r in &report.results {
                output::json(Kind::NodeResult, &result_json(r))?;
            }
        }
        Format::Text => {
            let secs = |r: &NodeResult| {
                r.pull_seconds
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "-".into())
            };
            let rows: Vec<[String; 6]> = report
                .results
                .iter()
                .map(|r| {
                    [
                        safe(&r.node).into_owned(),
                        safe(&r.image).into_owned(),
                        safe(&r.verdict).into_owned(),
                        safe(r.reason.as_deref().unwrap_or("-")).into_owned(),
                        safe(r.hint.as_deref().unwrap_or("-")).into_owned(),
                        secs(r),
                    ]
                })
                .collect();
            let head = ["NODE", "IMAGE", "VERDICT", "REASON", "HINT", "PULL-SECONDS"];
            let mut width = head.map(str::len);
            for row in &rows {
                for (w, c) in width.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: [&str; 6]| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{c:<w$}   ", w = width[i]));
                    }
                }
                s
            };
            outln!("{}", line(head));
            for row in &rows {
                outln!("{}", line(row.each_ref().map(String::as_str)));
            }
        }
    }
    if report.unscheduled > 0 {
        eprintln!(
            "warning: {} of the DaemonSet's pods did not appear within {}s: those nodes are not in the table",
            report.unscheduled,
            a.timeout.as_secs()
        );
    }
    Ok(())
}

/// `{"kind":"node_result","node","image","verdict","reason","hint","pull_seconds"}`.
fn result_json(r: &NodeResult) -> serde_json::Value {
    json!({
        "node": r.node,
        "image": r.image,
        "verdict": r.verdict,
        "reason": r.reason,
        "hint": r.hint,
        "pull_seconds": r.pull_seconds,
    })
}
