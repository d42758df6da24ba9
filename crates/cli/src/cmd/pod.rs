//! `pullsim pod run FILE...` and `pullsim pod explain FILE...`: the node simulator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use pullsim_credentials::Keyring;
use pullsim_node::pods::{SecretSet, build_pods};
use pullsim_node::runtime::StoreImageService;
use pullsim_node::simulate::{SimConfig, simulate};
use pullsim_node::{ManagerConfig, Manifests, VerificationConfig};
use pullsim_policy::{Allowlist, GcPolicy, PullerConfig, VerificationPolicy};
use pullsim_registry::{Client, ClientOptions, Platform};

use crate::cmd::images_fmt::{parse_bytes, parse_duration};
use crate::cmd::pod_render::{print_json, print_text};
use crate::cmd::pull::RegistryFlags;
use crate::output::Format;

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
    Explain(ExplainArgs),
}

/// What the node knows: secrets, node credentials, KEP-2535 settings.
#[derive(Args, Debug, Clone)]
pub struct NodeFlags {
    /// Secrets available in the cluster (Secret YAML/JSON, several documents or a List);
    /// pods refer to them by name in imagePullSecrets. Secrets in the manifests count too.
    #[arg(long = "secret", value_name = "FILE")]
    pub secret: Vec<PathBuf>,
    /// The node's docker config (config.json or .dockercfg): node credentials, tried after the
    /// pod's secrets.
    #[arg(long = "node-config", value_name = "FILE")]
    pub node_config: Option<PathBuf>,
    /// Kubelet feature gates, `Name=true|false,...`; known: KubeletEnsureSecretPulledImages
    /// (default true).
    #[arg(long = "feature-gates", value_name = "GATES")]
    pub feature_gates: Option<String>,
    /// imagePullCredentialsVerificationPolicy: NeverVerify, NeverVerifyPreloadedImages
    /// (default), NeverVerifyAllowlistedImages, AlwaysVerify.
    #[arg(
        long = "image-pull-credentials-verification-policy",
        value_name = "POLICY",
        default_value = "NeverVerifyPreloadedImages"
    )]
    pub verification_policy: String,
    /// preloadedImagesVerificationAllowlist entries (normalized names, or a prefix ending in
    /// `/*`), comma-separated or repeated.
    #[arg(
        long = "preloaded-images-verification-allowlist",
        value_name = "IMAGES",
        value_delimiter = ','
    )]
    pub allowlist: Vec<String>,
}

impl NodeFlags {
    pub(crate) fn manager_config(&self) -> anyhow::Result<ManagerConfig> {
        let mut gate = true;
        if let Some(g) = &self.feature_gates {
            for kv in g.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("missing bool value for {kv}"))?;
                let v: bool = v.trim().parse().map_err(|_| {
                    anyhow::anyhow!("invalid value of {k}={v}, err: strconv.ParseBool: parsing {v:?}: invalid syntax")
                })?;
                match k.trim() {
                    "KubeletEnsureSecretPulledImages" => gate = v,
                    other => bail!("unrecognized feature gate: {other}"),
                }
            }
        }
        let policy: VerificationPolicy = self
            .verification_policy
            .parse()
            .map_err(|e| anyhow::anyhow!("--image-pull-credentials-verification-policy: {e}"))?;
        let allowlist = Allowlist::parse(&self.allowlist)
            .map_err(|e| anyhow::anyhow!("--preloaded-images-verification-allowlist: {e}"))?;
        Ok(ManagerConfig {
            ensure_secret_pulled_images: gate,
            verification: VerificationConfig { policy, allowlist },
        })
    }

    /// Manifests, secrets and the node keyring.
    pub(crate) fn load(
        &self,
        files: &[PathBuf],
    ) -> anyhow::Result<(Manifests, SecretSet, Keyring)> {
        let manifests = Manifests::load(files)?;
        let mut secrets = SecretSet::from_manifests(&manifests)?;
        for path in &self.secret {
            let s = pullsim_credentials::load_pull_secrets(path).context("--secret")?;
            secrets.add(s);
        }
        let mut node = Keyring::new();
        if let Some(p) = &self.node_config {
            node.add_node_config(p).context("--node-config")?;
        }
        if manifests.pods.is_empty() {
            return Err(pullsim_node::ManifestError::NoPods {
                what: files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        Ok((manifests, secrets, node))
    }
}

/// `pullsim pod run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Manifest files or directories (YAML or JSON, multi-document): Pods, Deployments,
    /// ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, Lists, Secrets, ServiceAccounts.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub node: NodeFlags,
    /// serializeImagePulls: one pull at a time (default true; false when
    /// --max-parallel-image-pulls is 2 or more).
    #[arg(long = "serialize-image-pulls", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub serialize_image_pulls: Option<bool>,
    /// maxParallelImagePulls: bound on parallel pulls (needs --serialize-image-pulls=false).
    #[arg(
        long = "max-parallel-image-pulls",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_parallel_image_pulls: Option<i64>,
    /// registryPullQPS: pulls per second (0 = no limit).
    #[arg(long = "registry-pull-qps", value_name = "QPS", default_value_t = 5.0)]
    pub registry_pull_qps: f64,
    /// registryBurst: pulls allowed at once above the QPS.
    #[arg(
        long = "registry-burst",
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub registry_burst: i64,
    /// Run the pod workers' retry loop on a virtual clock (no sleeping); registry calls stay
    /// real. Needs --until.
    #[arg(long = "virtual-time", requires = "until")]
    pub virtual_time: bool,
    /// Keep re-syncing pods that are not ready for this long (e.g. 5m); without it each pod is
    /// synced once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub until: Option<Duration>,
    /// Image filesystem capacity (e.g. 500Mi): run image GC after the pulls, protecting the
    /// simulated pods' images.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub capacity: Option<u64>,
    /// imageGCHighThresholdPercent.
    #[arg(
        long = "image-gc-high-threshold",
        value_name = "PERCENT",
        default_value_t = 85
    )]
    pub gc_high: u8,
    /// imageGCLowThresholdPercent.
    #[arg(
        long = "image-gc-low-threshold",
        value_name = "PERCENT",
        default_value_t = 80
    )]
    pub gc_low: u8,
    /// imageMinimumGCAge: images first detected less than this long ago are kept.
    #[arg(long = "image-minimum-gc-age", value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
    pub gc_min_age: Duration,
    /// Platform to pull from multi-platform images (default: this host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
    /// --insecure-registry, --ca-file and --offline (an air-gapped node: no network connection
    /// at all; pulls fail, and the report names every image that needed the network).
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Output: text (kubectl describe style) or JSON lines.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// `pullsim pod explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Manifest files or directories.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub node: NodeFlags,
    /// Output: text or JSON lines (one per image).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Run `pullsim pod`.
pub fn run(args: PodArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    match args.command {
        PodCommand::Run(a) => run_pods(*a, root),
        PodCommand::Explain(a) => crate::cmd::pod_explain::run(a, root),
    }
}

fn puller_config(a: &RunArgs) -> anyhow::Result<PullerConfig> {
    let max = match a.max_parallel_image_pulls {
        Some(n) if n < 0 || n > i64::from(u32::MAX) => {
            bail!("invalid configuration: maxParallelImagePulls {n} must be a positive number")
        }
        Some(n) => Some(u32::try_from(n)?),
        None => None,
    };
    let cfg = PullerConfig::defaulted(a.serialize_image_pulls, max);
    cfg.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    pullsim_policy::pullers::validate_registry_limits(a.registry_pull_qps, a.registry_burst)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(cfg)
}

fn run_pods(a: RunArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let manager = a.node.manager_config()?;
    let puller = puller_config(&a)?;
    let (manifests, secrets, node) = a.node.load(&a.files)?;
    let store = Arc::new(crate::cmd::images::open_store(root)?);
    let mut o = ClientOptions::default();
    o.insecure_registries = a.registry.insecure_registry.clone();
    o.ca_files = a.registry.ca_file.clone();
    o.platform = a.platform.clone();
    o.offline = a.registry.offline;
    let client = Client::new(o).context("creating the registry client")?;
    let service = StoreImageService::new(store, Some(client), a.registry.offline);
    let pods = build_pods(&manifests, &secrets, &node);
    let cfg = SimConfig {
        manager,
        puller,
        qps: a.registry_pull_qps,
        burst: u32::try_from(a.registry_burst.max(0)).unwrap_or(u32::MAX),
        virtual_time: a.virtual_time,
        until: a.until,
        capacity: a.capacity,
        gc_policy: GcPolicy {
            high_threshold_percent: a.gc_high,
            low_threshold_percent: a.gc_low,
            min_age: a.gc_min_age,
            ..GcPolicy::default()
        },
    };
    if a.capacity.is_some() {
        cfg.gc_policy
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(simulate(service, pods, &cfg));
    match a.output {
        Format::Text => print_text(&report, a.registry.offline)?,
        Format::Json => print_json(&report, a.registry.offline)?,
    }
    Ok(if report.all_ready() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
