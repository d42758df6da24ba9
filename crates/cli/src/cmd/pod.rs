//! `pullsim pod run FILE...` and `pullsim pod explain FILE...`: the node simulator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use pullsim_node::pods::build_pods;
use pullsim_node::simulate::{SimConfig, simulate};
use pullsim_runtime::Platform;

use crate::cmd::images_fmt::{parse_bytes, parse_duration};
use crate::cmd::pod_explain::ExplainArgs;
use crate::cmd::pod_render::{print_json, print_text};
use crate::flags::{Format, NodeFlags, RegistryFlags, runtime};
use crate::node::{open_runtime, records, root_dir, runtime_config};

/// `pullsim pod`: simulate a node running pods.
#[derive(Args, Debug)]
pub struct PodArgs {
    #[command(subcommand)]
    command: PodCommand,
}

#[derive(Subcommand, Debug)]
enum PodCommand {
    /// Run pods as a node would for their images: every decision, pull, failure and back-off,
    /// with the kubelet's events. Exit 0 when every image is ready, 1 otherwise.
    Run(Box<RunArgs>),
    /// Explain, per container, what the node would decide and why, without pulling.
    Explain(Box<ExplainArgs>),
}

/// `pullsim pod run`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # A Deployment and its pull secret; the kubelet's events and the container statuses
  pullsim pod run deploy.yaml --secret regcred.yaml
  # From kubectl, through standard input, on a fresh throw-away node
  kubectl get deploy web -o yaml | pullsim --ephemeral pod run -
  # A wrong secret for five virtual minutes: ErrImagePull, ImagePullBackOff 10s, 20s, 40s...
  pullsim pod run pod.yaml --secret wrong.yaml --virtual-time --until 5m
  # An air-gapped node, and a node behind a containerd mirror
  pullsim pod run pods.yaml --offline
  pullsim pod run pods.yaml --registry-config-path /etc/containerd/certs.d
  # CRI-O with its registries.conf; JSON lines for scripts
  pullsim pod run pods.yaml --runtime cri-o --registries-conf /etc/containers/registries.conf -o json")]
pub struct RunArgs {
    /// Manifest files or directories (YAML or JSON, multi-document): Pods, Deployments,
    /// ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, Lists, Secrets, ServiceAccounts.
    /// With --from-cluster: TYPE/NAME objects to read from the cluster.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub node: NodeFlags,
    /// Run the pod workers' retry loop on a virtual clock (no sleeping); registry calls stay
    /// real. Needs --until.
    #[arg(long = "virtual-time", requires = "until")]
    pub virtual_time: bool,
    /// Keep re-syncing pods that are not ready for this long (e.g. 5m); without it each pod is
    /// synced once. With --virtual-time at most 168h (a week).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub until: Option<Duration>,
    /// Image filesystem capacity (e.g. 500Mi): run image GC after the pulls, protecting the
    /// simulated pods' images.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub capacity: Option<u64>,
    /// Platform to pull from multi-platform images (default: this host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
    /// Fetch only: skip the unpack check (decompressing each layer and checking it against the
    /// config's diff_ids, which a CRI pull always does).
    #[arg(long)]
    pub no_unpack: bool,
    /// --insecure-registry, --ca-file and --offline (an air-gapped node: no network connection
    /// at all; pulls fail, and the report names every image that needed the network).
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Output: text (kubectl describe style) or JSON lines.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Run `pullsim pod`.
pub fn run(args: PodArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    match args.command {
        PodCommand::Run(a) => run_pods(*a, root),
        PodCommand::Explain(a) => crate::cmd::pod_explain::run(*a, root),
    }
}

/// The longest `--until` of virtual time. A pod that is not ready is re-synced every 10 s and
/// each sync adds its events (about 123,000 lines a week for one pod, in about 5 s), so
/// without a bound `--until 2562047h` grows for hours (issue 11, item 10).
pub const MAX_VIRTUAL_UNTIL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A duration as Go prints it (`168h0m0s`), to the second.
fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}h{}m{}s", s / 3600, s / 60 % 60, s % 60)
}

/// `--until` within [`MAX_VIRTUAL_UNTIL`] under `--virtual-time` (a usage error otherwise).
fn check_until(virtual_time: bool, until: Option<Duration>) -> anyhow::Result<()> {
    match until {
        Some(u) if virtual_time && u > MAX_VIRTUAL_UNTIL => anyhow::bail!(
            "invalid value '{}' for '--until <DURATION>': at most {} (a week) of virtual time with --virtual-time",
            hms(u),
            hms(MAX_VIRTUAL_UNTIL)
        ),
        _ => Ok(()),
    }
}

fn run_pods(a: RunArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    check_until(a.virtual_time, a.until)?;
    let kubelet = a.node.kubelet.node_config()?;
    let (manifests, secrets, node, cluster_hints) =
        crate::cmd::cluster::load_inputs(&a.node, &a.files, &kubelet)?;
    let root = root_dir(root);
    let service = open_runtime(runtime_config(&root, &a.registry, |c| {
        c.platform = a.platform.clone();
        c.unpack = !a.no_unpack;
    })?)?;
    let records = records(&service, &root)?;
    let pods = build_pods(&manifests, &secrets, &node);
    let cfg = SimConfig {
        manager: kubelet.manager,
        puller: kubelet.puller,
        qps: kubelet.qps,
        burst: kubelet.burst,
        virtual_time: a.virtual_time,
        until: a.until,
        capacity: a.capacity,
        gc_policy: kubelet.gc,
    };
    let report = runtime()?.block_on(simulate(service.clone(), records, pods, &cfg));
    let offline = a.registry.offline.then(|| service.needed_network());
    match a.output {
        Format::Text => print_text(&report, offline.as_deref())?,
        Format::Json => print_json(&report, offline.as_deref())?,
    }
    crate::cmd::runtime_notes::print_unpack(&service, a.output)?;
    let inputs = pullsim_node::hints::HintInputs {
        secrets: &secrets,
        manifests: Some(&manifests),
    };
    let mut hints = crate::cmd::runtime_notes::pod_hints(&report.pods, &inputs, &node, &service);
    hints.extend(cluster_hints);
    crate::cmd::runtime_notes::print(
        &service,
        a.output,
        a.registry.runtime.runtime.kind().log_name(),
        &hints,
    )?;
    Ok(crate::exit::answer(report.all_ready()))
}
