//! `pullsim pull IMAGE`: what the kubelet's image manager does for one image — pull policy,
//! local lookup, decision, credentials in keyring order, the pull, and the kubelet's events.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use pullsim_node::simulate::{SimConfig, simulate};
use pullsim_policy::PullPolicy;
use pullsim_reference::Digest;
use pullsim_runtime::{ContainerdImageService, Platform, PullProgress};

use crate::cmd::pod_render::print_json;
use crate::flags::{CredentialFlags, Format, KubeletFlags, RegistryFlags, runtime};
use crate::node::{records, root_dir, runtime_config};
use crate::output::outln;

/// `pullsim pull`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # The kubelet's path for one image: policy, local lookup, credentials, pull, events
  pullsim pull registry.example.com:5000/team/app:1.0 --secret regcred.yaml
  # Always re-resolves the tag (one HEAD when the image is current)
  pullsim pull nginx:latest --policy Always
  # Fetch only (no unpack check), a platform from a multi-arch index, JSON lines
  pullsim pull nginx:1.27 --no-unpack --platform linux/arm64/v8 -o json
  # Through the node's mirrors, as containerd 1.7 would
  pullsim pull nginx:1.27 --runtime containerd-1.7 --registry-config-path /etc/containerd/certs.d")]
pub struct PullArgs {
    /// The image as a pod spec writes it (`nginx`, `registry:5000/team/app:1.0`, `x@sha256:..`).
    pub image: String,
    /// imagePullPolicy: Always, IfNotPresent or Never (default: the kubelet's defaulting —
    /// Always for `:latest` or no tag, IfNotPresent otherwise).
    #[arg(long)]
    pub policy: Option<PullPolicy>,
    #[command(flatten)]
    pub creds: CredentialFlags,
    /// Platform to pull from a multi-platform index (default: this host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
    /// Blobs downloaded at the same time (containerd's max_concurrent_downloads) [default: 3,
    /// or the containerd config's].
    #[arg(long, value_name = "N")]
    pub max_concurrent_downloads: Option<usize>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub kubelet: KubeletFlags,
    /// Fetch only: skip the unpack check (decompressing each layer and checking it against the
    /// config's diff_ids, which a CRI pull always does), as `ctr content fetch` or skopeo.
    #[arg(long)]
    pub no_unpack: bool,
    /// Output: text events (with progress bars on a terminal) or JSON lines.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Progress bars per blob (only on a terminal).
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<HashMap<Digest, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl PullProgress for Bars {
    fn layer_started(&self, d: &Digest, size: u64) {
        let pb = self.multi.add(indicatif::ProgressBar::new(size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_prefix(format!("{:.12}", d.encoded()));
        if let Ok(mut m) = self.bars.lock() {
            m.insert(d.clone(), pb);
        }
    }
    fn layer_progress(&self, d: &Digest, bytes: u64) {
        if let Ok(m) = self.bars.lock()
            && let Some(pb) = m.get(d)
        {
            pb.set_position(bytes);
        }
    }
    fn layer_done(&self, d: &Digest) {
        if let Ok(m) = self.bars.lock()
            && let Some(pb) = m.get(d)
        {
            pb.finish_and_clear();
        }
    }
}

/// Run `pullsim pull`: a one-container pod with the image, the given policy and every
/// `--secret` as its pull secrets, run once through the node — the same image manager, events,
/// records and exit code as `pod run` on that pod.
pub fn run(args: PullArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Bad input (configuration, secrets) is trouble before any event.
    let kubelet = args.kubelet.node_config()?;
    if args.max_concurrent_downloads == Some(0) {
        anyhow::bail!("--max-concurrent-downloads must be at least 1");
    }
    let (pod, secrets, node) = args.creds.single_pod(&args.image, args.policy, &kubelet)?;
    let root = root_dir(root);
    let cfg = runtime_config(&root, &args.registry, |c| {
        c.platform = args.platform.clone();
        if let Some(n) = args.max_concurrent_downloads {
            c.max_concurrent_downloads = n;
        }
        c.unpack = !args.no_unpack;
    })?;
    let mut service = ContainerdImageService::new(cfg)?;
    if args.output == Format::Text && std::io::stderr().is_terminal() {
        service = service.with_progress(Arc::new(Bars::new()));
    }
    let service = Arc::new(service);
    let records = records(&service, &root)?;
    let sim = SimConfig {
        manager: kubelet.manager,
        puller: kubelet.puller,
        qps: kubelet.qps,
        burst: kubelet.burst,
        gc_policy: kubelet.gc,
        ..SimConfig::default()
    };
    let report = runtime()?.block_on(simulate(service.clone(), records, vec![pod], &sim));
    let offline = args.registry.offline.then(|| service.needed_network());
    match args.output {
        Format::Json => print_json(&report, offline.as_deref())?,
        Format::Text => {
            for e in &report.events {
                outln!(
                    "{:<8} {:<18} {}",
                    e.event_type.as_str(),
                    e.reason,
                    pullsim_reference::terminal_safe(&e.message)
                );
            }
            if let Some(host) = pullsim_node::describe::last_pull_host(
                &report.events,
                pullsim_node::pods::SINGLE_POD_NAME,
            ) {
                outln!("Host:    {}", pullsim_reference::terminal_safe(host));
            }
            if let Some(needed) = &offline
                && !needed.is_empty()
            {
                eprintln!(
                    "offline: these images needed the network: {}",
                    needed.join(", ")
                );
            }
        }
    }
    crate::cmd::runtime_notes::print_unpack(&service, args.output)?;
    let inputs = pullsim_node::hints::HintInputs {
        secrets: &secrets,
        manifests: None,
    };
    let hints = crate::cmd::runtime_notes::pod_hints(&report.pods, &inputs, &node, &service);
    crate::cmd::runtime_notes::print(
        &service,
        args.output,
        args.registry.runtime.runtime.kind().log_name(),
        &hints,
    )?;
    Ok(crate::exit::answer(report.all_ready()))
}
