//! `pullsim node check`: on a real node (or in a pod with the node's filesystem at
//! `--host-root`), what this node would do for each image and whether it could pull it — with
//! the node's own kubelet flags and configuration, its node credentials, its credential
//! provider plugins, its containerd configuration (mirrors, CAs) and its KEP-2535 records.
//! Manifest only by default (the resolve stage of a pull, per credential in the kubelet's
//! order); `--pull` runs the whole pull through the kubelet engine into a temporary store, never
//! the node's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pullsim_credentials::Keyring;
use pullsim_credentials::nodeconfig::{SearchDirs, search_node_config};
use pullsim_node::PullManager;
use pullsim_node::creds_check::check_credentials;
use pullsim_node::hints::{Hint, HintInputs};
use pullsim_node::kubelet_config::GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS;
use pullsim_node::on_host::{self, KubeletOnHost};
use pullsim_node::pods::{SecretSet, build_pod, build_pods, single_container_pod};
use pullsim_node::records::{DryRunRecords, FsPullRecords, MemPullRecords, PullRecordsAccessor};
use pullsim_node::simulate::{SimConfig, simulate};
use pullsim_node::{Manifests, PodRun};
use pullsim_policy::PullPolicy;
use pullsim_reference::terminal_safe as safe;
use pullsim_runtime::containerd_config::{ContainerdConfig, ContainerdGeneration};
use pullsim_runtime::{ContainerdImageService, RuntimeConfig, on_host as host_path};
use serde_json::json;

use crate::cmd::node_images::{self, Local, OnNode};
use crate::flags::{Format, KubeletFlags, RuntimeArg, runtime};
use crate::output::{self, Kind, outln};

/// `pullsim node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    cmd: NodeCmd,
}

#[derive(Subcommand, Debug)]
enum NodeCmd {
    /// Whether this node could pull each image, with the node's own configuration.
    Check(CheckArgs),
}

/// `pullsim node check`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # On the node itself: its kubelet flags, config.json, credential providers, containerd mirrors
  sudo pullsim node check registry.example.com/team/app:v1 nginx:1.27
  # In a pod with the node's filesystem mounted read-only at /host
  pullsim node check --host-root /host -o json -f deploy.yaml
  # Download too (into a temporary store, never the node's), and time it
  pullsim node check --pull registry.example.com/team/app:v1")]
pub struct CheckArgs {
    /// Images to check.
    #[arg(value_name = "IMAGE")]
    images: Vec<String>,
    /// Manifests whose pods' images are checked, each with its pod's pull secrets.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Where the node's filesystem is mounted (`/` on the node itself).
    #[arg(long = "host-root", value_name = "DIR", default_value = "/")]
    host_root: PathBuf,
    /// Download the images too (through the kubelet engine, into a temporary store).
    #[arg(long = "pull")]
    pull: bool,
    /// The node's name in the results [default: $NODE_NAME, else the host name].
    #[arg(long = "node-name", value_name = "NAME")]
    node_name: Option<String>,
    /// The kubelet's `--config` (a node path), instead of what was found.
    #[arg(long = "kubelet-config", value_name = "FILE")]
    kubelet_config: Option<PathBuf>,
    /// The kubelet's `--image-credential-provider-config` (a node path).
    #[arg(long = "provider-config", value_name = "FILE")]
    provider_config: Option<PathBuf>,
    /// The kubelet's `--image-credential-provider-bin-dir` (a node path).
    #[arg(long = "provider-bin-dir", value_name = "DIR")]
    provider_bin_dir: Option<PathBuf>,
    /// A service-account token for plugins whose config has tokenAttributes (KEP-4412), given
    /// to every pod's request (`kubectl create token SA -n NS --audience AUD`).
    #[arg(long = "service-account-token", value_name = "FILE")]
    service_account_token: Option<PathBuf>,
    /// The container runtime's CRI socket (a node path), for the images already on the node
    /// [default: the kubelet's --container-runtime-endpoint, else /run/containerd/containerd.sock,
    /// or /var/run/crio/crio.sock with --runtime cri-o].
    #[arg(long = "cri-socket", value_name = "SOCKET")]
    cri_socket: Option<PathBuf>,
    /// containerd's config.toml (a node path) [default: /etc/containerd/config.toml, or k3s's].
    #[arg(long = "containerd-config", value_name = "FILE")]
    containerd_config: Option<PathBuf>,
    /// The node's container runtime (CRI-O: /etc/containers/registries.conf is read).
    #[arg(long = "runtime", value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// Output: text or JSON lines (one `node_check` line per image, then `hint` lines).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: Format,
}

/// containerd's configuration on kubeadm/EKS/GKE nodes, then k3s's generated one.
const CONTAINERD_CONFIGS: &[&str] = &[
    "/etc/containerd/config.toml",
    "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
];

/// Run `pullsim node …`.
pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        NodeCmd::Check(a) => check(a),
    }
}

/// One image's answer.
struct Answer {
    image: String,
    pod: Option<String>,
    verdict: &'static str,
    reason: Option<String>,
    message: String,
    host: Option<String>,
    pull_seconds: Option<f64>,
    /// The image on the node and the kubelet's decision for its container.
    local: Local,
}

impl Answer {
    /// The container would start here: its image is pullable, or present and usable.
    fn ready(&self) -> bool {
        self.verdict == "pullable" || self.local.decision == Some("use-local")
    }
}

/// What was found on the node.
struct NodeSetup {
    kubelet: KubeletOnHost,
    containerd_config: Option<PathBuf>,
    node_config: Option<PathBuf>,
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    if a.images.is_empty() && a.files.is_empty() {
        anyhow::bail!("nothing to check: give IMAGE arguments or -f MANIFESTS");
    }
    let root = a.host_root.as_path();
    if !root.is_dir() {
        anyhow::bail!("--host-root {}: not a directory", root.display());
    }
    let hr = Some(root);
    let mut kubelet = on_host::discover(root);
    if let Some(p) = &a.kubelet_config {
        kubelet.config = Some(p.clone());
    }
    if let Some(p) = &a.provider_config {
        kubelet.provider_config = Some(p.clone());
    }
    if let Some(p) = &a.provider_bin_dir {
        kubelet.provider_bin_dir = Some(p.clone());
    }
    // The kubelet's configuration file, read as the kubelet reads it.
    let kubelet_cfg = KubeletFlags {
        config: kubelet.config.as_deref().map(|p| host_path(hr, p)),
        ..KubeletFlags::default()
    }
    .node_config()?;
    // The node's credentials: config.json in the kubelet's search paths (its root dir, its
    // working directory `/`, root's home), then the credential provider plugins.
    let dirs = SearchDirs {
        preferred: Some(host_path(hr, &kubelet.root_dir)),
        working_dir: root.to_path_buf(),
        home: Some(host_path(hr, Path::new("/root"))),
        root: root.to_path_buf(),
    };
    let mut node = Keyring::new();
    let found = search_node_config(&dirs).found.map(|(p, _)| p);
    // Shown as the node names it.
    let node_config = found
        .as_ref()
        .map(|p| Path::new("/").join(p.strip_prefix(root).unwrap_or(p)));
    if let Some(p) = &found {
        node.add_node_config(p)
            .with_context(|| format!("reading the node's docker config {}", p.display()))?;
    }
    if let (Some(cfg), Some(bin)) = (&kubelet.provider_config, &kubelet.provider_bin_dir) {
        let (cfg, bin) = (host_path(hr, cfg), host_path(hr, bin));
        let sa_gate = kubelet_cfg.gate(GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS);
        for p in pullsim_credentials::plugin::load_plugins(&cfg, &bin, sa_gate)
            .with_context(|| format!("reading the credential provider config {}", cfg.display()))?
        {
            node.add_plugin(p);
        }
    }
    // containerd as configured on the node.
    let containerd_config = a.containerd_config.clone().or_else(|| {
        CONTAINERD_CONFIGS
            .iter()
            .map(PathBuf::from)
            .find(|p| host_path(hr, p).is_file())
    });
    let scratch = tempfile::Builder::new()
        .prefix("pullsim-node-check-")
        .tempdir()
        .context("creating a temporary store")?;
    let mut rcfg = RuntimeConfig::new(scratch.path());
    rcfg.kind = a.runtime.kind();
    rcfg.host_root = Some(root.to_path_buf());
    if let Some(file) = &containerd_config {
        let on = host_path(hr, file);
        let text = std::fs::read_to_string(&on)
            .with_context(|| format!("reading the containerd config {}", on.display()))?;
        let generation = match rcfg.kind {
            pullsim_runtime::RuntimeKind::Containerd17 => ContainerdGeneration::V1,
            _ => ContainerdGeneration::V2,
        };
        let c = ContainerdConfig::parse_str_as(&text, &on, generation)?;
        if let Some(t) = c.image_pull_progress_timeout {
            rcfg.image_pull_progress_timeout = t;
        }
        rcfg.max_concurrent_downloads = c.effective_max_concurrent_downloads();
        rcfg.containerd = Some(Arc::new(c));
    }
    if rcfg.kind == pullsim_runtime::RuntimeKind::CriO {
        let conf = host_path(hr, Path::new("/etc/containers/registries.conf"));
        if conf.is_file() {
            rcfg.registries_conf = Some(Arc::new(pullsim_runtime::load_registries_conf(&conf)?));
        }
    }
    let service = Arc::new(ContainerdImageService::new(rcfg)?);
    let setup = NodeSetup {
        kubelet,
        containerd_config,
        node_config,
    };
    // The pods: one per IMAGE over the node's credentials, and the manifests' pods.
    let manifests = if a.files.is_empty() {
        Manifests::default()
    } else {
        Manifests::load_in(&a.files, None)?
    };
    let secrets = SecretSet::from_manifests(&manifests)?;
    // The pods' ServiceAccounts (from the manifests) and a token for plugins that want one.
    let plugin_flags = crate::flags::PluginFlags {
        service_account_token: a.service_account_token.clone(),
        ..Default::default()
    };
    plugin_flags.setup(&mut node, &manifests, true, None)?;
    let mut pods: Vec<PodRun> = a
        .images
        .iter()
        .map(|image| {
            let spec = single_container_pod(image, Some(PullPolicy::Always), "default", &[]);
            build_pod(spec, &[], &secrets, &node)
        })
        .collect();
    pods.extend(build_pods(&manifests, &secrets, &node));
    let node_name = a
        .node_name
        .clone()
        .or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let rt = runtime()?;
    // The images already on the node, from its runtime, and the kubelet's records (read only).
    let socket = node_images::socket_for(a.cri_socket.as_deref(), &setup.kubelet, a.runtime.kind());
    let on_node = node_images::list(&rt, hr, socket);
    let pulls = PullManager::new(
        DryRunRecords(node_records(hr, &setup)?),
        kubelet_cfg.manager.verification.clone(),
    );
    let mut answers = Vec::new();
    for pod in &pods {
        let from_manifest = pod.spec.name != pullsim_node::pods::SINGLE_POD_NAME;
        let names = pullsim_node::pods::pull_secret_names(&pod.spec, &manifests).0;
        for (index, img) in pod.spec.images.iter().enumerate() {
            // `--pull`: this image alone, as a pod with the same secrets over the same node.
            let alone = a.pull.then(|| {
                let spec = single_container_pod(
                    &img.image,
                    Some(PullPolicy::Always),
                    &pod.spec.namespace,
                    &names,
                );
                build_pod(spec, &names, &secrets, &node)
            });
            let key = from_manifest.then(|| pod.key());
            let mut answer = rt.block_on(answer_for(
                &service,
                pod,
                &img.image,
                key,
                alone,
                &setup,
                hr,
                &kubelet_cfg,
            ))?;
            answer.local = node_images::local(&on_node, &pulls, &kubelet_cfg, pod, index);
            answers.push(answer);
        }
    }
    let inputs = HintInputs {
        secrets: &secrets,
        manifests: (!a.files.is_empty()).then_some(&manifests),
    };
    let mut hints = pullsim_node::hints::node_hints(&node);
    for p in &pods {
        hints.extend(pullsim_node::hints::pod_hints(p, &inputs, service.as_ref()));
    }
    hints.extend(
        service
            .hints()
            .iter()
            .map(|(i, h)| crate::cmd::runtime_notes::from_runtime(i, h)),
    );
    print(&a, &node_name, &setup, &on_node, &answers, &hints)?;
    Ok(crate::exit::answer(answers.iter().all(Answer::ready)))
}

/// The kubelet's KEP-2535 records under its root dir, opened only when they exist (the accessor
/// creates missing directories, and the node's filesystem is read-only).
fn node_records(
    hr: Option<&Path>,
    setup: &NodeSetup,
) -> anyhow::Result<Box<dyn PullRecordsAccessor>> {
    let dir = host_path(hr, &setup.kubelet.root_dir);
    Ok(if dir.join("image_manager").is_dir() {
        Box::new(FsPullRecords::new(&dir)?)
    } else {
        Box::new(MemPullRecords::new())
    })
}

/// One image: the resolve per credential (`creds check`'s path), or with `--pull` the whole
/// pull through the kubelet engine.
#[allow(clippy::too_many_arguments)]
async fn answer_for(
    service: &Arc<ContainerdImageService>,
    pod: &PodRun,
    image: &str,
    pod_key: Option<String>,
    alone: Option<PodRun>,
    setup: &NodeSetup,
    hr: Option<&Path>,
    kubelet: &pullsim_node::kubelet_config::KubeletConfig,
) -> anyhow::Result<Answer> {
    let checked = check_credentials(service.as_ref(), image, pod.credentials.as_ref()).await;
    let c = match checked {
        Ok(c) => c,
        Err(pullsim_node::NodeError::InvalidImage { message, .. }) => {
            return Ok(Answer {
                image: image.to_string(),
                pod: pod_key,
                verdict: "error",
                reason: Some(pullsim_policy::Reason::InvalidImageName.to_string()),
                message,
                host: None,
                pull_seconds: None,
                local: Local::default(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let host = c.attempts.iter().rev().find_map(|t| t.host.clone());
    let mut answer = Answer {
        image: image.to_string(),
        pod: pod_key,
        verdict: if c.pullable {
            "pullable"
        } else {
            "not-pullable"
        },
        reason: c.reason.map(|r| r.to_string()),
        message: c.message,
        host,
        pull_seconds: None,
        local: Local::default(),
    };
    if let Some(one) = alone.filter(|_| c.pullable) {
        // The whole pull as the kubelet makes it, reading the node's KEP-2535 records and
        // writing none.
        let records = node_records(hr, setup)?;
        let sim = SimConfig {
            manager: kubelet.manager.clone(),
            puller: kubelet.puller,
            qps: kubelet.qps,
            burst: kubelet.burst,
            gc_policy: kubelet.gc,
            ..SimConfig::default()
        };
        let start = Instant::now();
        let report = simulate(service.clone(), DryRunRecords(records), vec![one], &sim).await;
        answer.pull_seconds = Some(start.elapsed().as_secs_f64());
        if !report.all_ready() {
            answer.verdict = "not-pullable";
            if let Some(p) = report.pods.first()
                && let Some(pullsim_node::sync::ImageState::Waiting { reason, message }) =
                    p.states.first()
            {
                answer.reason = Some(reason.to_string());
                answer.message = message.clone();
            }
        }
    }
    Ok(answer)
}

fn print(
    a: &CheckArgs,
    node_name: &str,
    setup: &NodeSetup,
    on_node: &OnNode,
    answers: &[Answer],
    hints: &[Hint],
) -> anyhow::Result<()> {
    let hint_for = |image: &str| -> Option<&'static str> {
        hints
            .iter()
            .find(|h| h.image.as_deref() == Some(image))
            .map(|h| h.code)
    };
    match a.output {
        Format::Json => {
            for x in answers {
                output::json(
                    Kind::NodeCheck,
                    &json!({
                        "node": node_name,
                        "image": x.image,
                        "pod": x.pod,
                        "verdict": x.verdict,
                        "reason": x.reason,
                        "message": x.message,
                        "hint": hint_for(&x.image),
                        "host": x.host,
                        "pull_seconds": x.pull_seconds,
                        "present": x.local.present,
                        "decision": x.local.decision,
                        "verification": x.local.verification,
                    }),
                )?;
            }
        }
        Format::Text => {
            let k = &setup.kubelet;
            outln!("Node:         {}", safe(node_name));
            outln!("Kubelet:      flags from {}", safe(&k.source.to_string()));
            let shown = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "-".into())
            };
            outln!("  config:     {}", safe(&shown(&k.config)));
            outln!(
                "  providers:  {} (plugins in {})",
                safe(&shown(&k.provider_config)),
                safe(&shown(&k.provider_bin_dir))
            );
            outln!("  config.json: {}", safe(&shown(&setup.node_config)));
            outln!(
                "Runtime:      {} ({})",
                a.runtime.kind().log_name(),
                match &setup.containerd_config {
                    Some(p) => safe(&p.display().to_string()).into_owned(),
                    None => "no config.toml found: containerd's defaults".to_string(),
                }
            );
            match &on_node.listed {
                Ok(images) => outln!(
                    "Images on the node: {} (listed by the runtime on {})",
                    images.len(),
                    safe(&on_node.socket.display().to_string())
                ),
                Err(e) => outln!(
                    "Images on the node: not listed ({}): IfNotPresent images are checked as if absent",
                    safe(e)
                ),
            }
            outln!();
            outln!(
                "{:<44} {:<13} {:<16} {:<10} HOST",
                "IMAGE",
                "VERDICT",
                "REASON",
                "KUBELET"
            );
            for x in answers {
                let pulled = x
                    .pull_seconds
                    .map(|s| format!(" (pulled in {s:.2} s)"))
                    .unwrap_or_default();
                outln!(
                    "{:<44} {:<13} {:<16} {:<10} {}{pulled}",
                    safe(&x.image),
                    x.verdict,
                    x.reason.as_deref().unwrap_or("-"),
                    x.local.decision.unwrap_or("-"),
                    safe(x.host.as_deref().unwrap_or("-"))
                );
                if let Some(id) = &x.local.present {
                    outln!("  on the node: {}", safe(id));
                }
                if let Some(v) = &x.local.verification {
                    outln!("  verification: {}", safe(v));
                }
                if x.verdict != "pullable" {
                    outln!("  {}", safe(&x.message));
                }
            }
        }
    }
    if a.output == Format::Text && !hints.is_empty() {
        outln!();
    }
    for h in hints {
        crate::cmd::runtime_notes::print_hint(a.output, h)?;
    }
    Ok(())
}
