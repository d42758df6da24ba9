//! Every flag group more than one command takes — output format, registry, credentials, the
//! node and its kubelet configuration — and the one place that turns them into what the
//! libraries need: the registry client, the keyring, the store, and the node (kubelet)
//! configuration, built once from `--config FILE` and the kubelet flags.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use pullsim_credentials::Keyring;
use pullsim_credentials::SecretsRead;
use pullsim_node::Manifests;
use pullsim_node::kubelet_config::{
    FlagOverrides, GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS, KubeletConfig, KubeletConfigFile,
    parse_feature_gates, resolve,
};
use pullsim_node::pods::{self, SecretSet};
use pullsim_node::sync::PodRun;
use pullsim_policy::PullPolicy;
use pullsim_reference::go_duration::parse_go_duration;

/// `-o text|json`: human text (the default) or JSON, one object per line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, one object per line.
    Json,
}

/// The `-o text|json` flag.
#[derive(Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// Output format: text, or JSON lines (one object per line, each with a `kind`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Registry connection flags (`pull`, `creds check`, `pod run`).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Reach this registry (HOST or HOST:PORT) over plain HTTP, or HTTPS without certificate
    /// verification (docker's insecure-registries). Loopback registries never need it.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Trust the CA certificates in this PEM file (in addition to the system roots).
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Never open a network connection (an air-gapped node): every registry attempt fails as
    /// unavailable, after the credentials have been selected.
    #[arg(long)]
    pub offline: bool,
    /// containerd's image_pull_progress_timeout: a pull whose open requests (headers, bodies,
    /// token and error answers) receive nothing for this long is cancelled (e.g. 30s, 5m; 0
    /// disables). Error and token bodies are read only up to a fixed size whatever it is.
    /// [default: 5m, or the containerd config's]
    #[arg(long = "image-pull-progress-timeout", value_name = "DURATION", value_parser = crate::cmd::images_fmt::parse_duration)]
    pub image_pull_progress_timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub runtime: RuntimeFlags,
}

/// The container runtime and its registry configuration (`pull`, `creds check`, `pod run`,
/// `pod explain`).
#[derive(Args, Debug, Clone, Default)]
pub struct RuntimeFlags {
    /// The container runtime the node runs: containerd (2.x, as of 2.3), containerd-1.7, or
    /// cri-o. Each has its own mirror rules, retries and error wording.
    #[arg(long = "runtime", value_enum, default_value_t)]
    pub runtime: RuntimeArg,
    /// containerd's registry config_path: directories holding one directory per registry host
    /// (`HOST_PORT_`, `HOST:PORT`, `_default`) with a hosts.toml, colon-separated as containerd's
    /// (containerd runtimes only).
    #[arg(long = "registry-config-path", value_name = "DIR[:DIR...]")]
    pub registry_config_path: Option<String>,
    /// A node's containerd config.toml (version 2 or 3): its config_path, registry.configs,
    /// max_concurrent_downloads and image_pull_progress_timeout (containerd runtimes only).
    #[arg(long = "containerd-config", value_name = "FILE")]
    pub containerd_config: Option<PathBuf>,
    /// CRI-O's registries.conf (v2; a registries.conf.d directory beside it is read too):
    /// prefixes, location rewrites, mirrors, blocked registries (--runtime cri-o only).
    #[arg(long = "registries-conf", value_name = "FILE")]
    pub registries_conf: Option<PathBuf>,
}

/// `--runtime`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    /// containerd 2.x (as of 2.3): the transfer service pulls unless the config needs the local path.
    #[default]
    Containerd,
    /// containerd 1.7: the local pull path and 1.7's resolver.
    #[value(name = "containerd-1.7")]
    Containerd17,
    /// CRI-O: containers/image with registries.conf.
    #[value(name = "cri-o")]
    CriO,
}

impl RuntimeArg {
    /// The runtime crate's kind.
    pub fn kind(self) -> pullsim_runtime::RuntimeKind {
        match self {
            RuntimeArg::Containerd => pullsim_runtime::RuntimeKind::Containerd,
            RuntimeArg::Containerd17 => pullsim_runtime::RuntimeKind::Containerd17,
            RuntimeArg::CriO => pullsim_runtime::RuntimeKind::CriO,
        }
    }
}

impl RuntimeFlags {
    /// The usage errors of the runtime flags: each runtime's own configuration only (exit 2).
    pub fn check_runtime(&self) -> anyhow::Result<()> {
        let kind = self.runtime.kind();
        if kind.is_containerd() {
            if self.registries_conf.is_some() {
                anyhow::bail!(
                    "--registries-conf is CRI-O's configuration, but --runtime is {kind}: use --runtime cri-o, or give containerd's hosts directories with --registry-config-path"
                );
            }
        } else {
            for (set, flag) in [
                (
                    self.registry_config_path.is_some(),
                    "--registry-config-path",
                ),
                (self.containerd_config.is_some(), "--containerd-config"),
            ] {
                if set {
                    anyhow::bail!(
                        "{flag} is containerd's configuration, but --runtime is {kind}: give CRI-O's mirrors with --registries-conf, or use --runtime containerd"
                    );
                }
            }
        }
        Ok(())
    }
}

/// Credential source flags (`pull`, `creds check`, `creds match`).
#[derive(Args, Debug, Clone, Default)]
pub struct CredentialFlags {
    /// A pull secret (Secret YAML/JSON, possibly several documents, or a bare config.json /
    /// .dockercfg); repeat in the pod's imagePullSecrets order.
    #[arg(long = "secret", value_name = "FILE")]
    pub secret: Vec<PathBuf>,
    /// The namespace of objects that have none (as kubectl's -n); an object in another
    /// namespace is refused as kubectl refuses it [default: default].
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,

    /// A node docker config (the kubelet's config.json / .dockercfg search result).
    #[arg(long = "node-config", value_name = "FILE")]
    pub node_config: Option<PathBuf>,
    #[command(flatten)]
    pub plugins: PluginFlags,
}

/// The kubelet's exec credential provider plugins, and a service-account token for those that
/// ask for one.
#[derive(Args, Debug, Clone, Default)]
pub struct PluginFlags {
    /// Kubelet CredentialProviderConfig file (exec credential plugins).
    #[arg(
        long = "provider-config",
        value_name = "FILE",
        requires = "provider_bin_dir"
    )]
    pub provider_config: Option<PathBuf>,
    /// Directory holding the credential plugin binaries.
    #[arg(
        long = "provider-bin-dir",
        value_name = "DIR",
        requires = "provider_config"
    )]
    pub provider_bin_dir: Option<PathBuf>,
    /// A service-account token for the plugins whose config has tokenAttributes (KEP-4412),
    /// given to every pod's plugin request, e.g. from `kubectl create token SA -n NS --audience
    /// AUD`. With --from-cluster, tokens are minted per pod through the TokenRequest API instead.
    #[arg(long = "service-account-token", value_name = "FILE")]
    pub service_account_token: Option<PathBuf>,
}

impl PluginFlags {
    /// Load `--provider-config` into `k` (`sa_gate`: the kubelet's
    /// KubeletServiceAccountTokenForCredentialProviders feature gate).
    pub fn add_plugins(&self, k: &mut Keyring, sa_gate: bool) -> anyhow::Result<()> {
        if let (Some(cfg), Some(bin)) = (&self.provider_config, &self.provider_bin_dir) {
            let plugins = match crate::stdin::text_if_stdin(cfg, "--provider-config")? {
                Some((text, origin)) => pullsim_credentials::plugin::load_plugins_from_text(
                    &text, &origin, bin, sa_gate,
                ),
                None => pullsim_credentials::plugin::load_plugins(cfg, bin, sa_gate),
            }
            .with_context(|| format!("reading --provider-config {}", cfg.display()))?;
            for p in plugins {
                k.add_plugin(p);
            }
        }
        Ok(())
    }

    /// The `--service-account-token` file's token (its trailing newline dropped).
    pub fn token(&self) -> anyhow::Result<Option<pullsim_credentials::Secret>> {
        let Some(p) = &self.service_account_token else {
            return Ok(None);
        };
        let text = match crate::stdin::text_if_stdin(p, "--service-account-token")? {
            Some((text, _)) => text,
            None => std::fs::read_to_string(p)
                .with_context(|| format!("reading --service-account-token {}", p.display()))?,
        };
        let token = text.trim_end_matches(['\n', '\r']);
        if token.is_empty() || token.contains(['\n', '\r']) {
            anyhow::bail!(
                "--service-account-token {}: expected one token on one line (as `kubectl create token` prints it)",
                p.display()
            );
        }
        Ok(Some(pullsim_credentials::Secret::new(token)))
    }

    /// The plugins into `node`, and the pods' ServiceAccounts from `manifests` with the token
    /// file's token (or `minted` tokens from a live cluster).
    pub fn setup(
        &self,
        node: &mut Keyring,
        manifests: &Manifests,
        sa_gate: bool,
        minted: Option<pullsim_node::accounts::Tokens>,
    ) -> anyhow::Result<()> {
        use pullsim_node::accounts::{InputAccounts, Tokens};
        self.add_plugins(node, sa_gate)?;
        let tokens = match (self.token()?, minted) {
            (Some(t), _) => Tokens::Fixed(t),
            (None, Some(m)) => m,
            (None, None) => Tokens::None,
        };
        node.set_service_accounts(std::sync::Arc::new(InputAccounts::new(manifests, tokens)));
        Ok(())
    }
}

impl CredentialFlags {
    /// The Secrets of `--secret`, in order (each file may hold several): pull secrets, and
    /// Secrets of other types (present, no credentials, as the kubelet treats them).
    pub fn secrets(&self) -> anyhow::Result<SecretsRead> {
        let mut out = SecretsRead::default();
        for path in &self.secret {
            let read = load_secrets(path, self.namespace.as_deref())
                .with_context(|| format!("reading --secret {}", path.display()))?;
            out.pull.extend(read.pull);
            out.other.extend(read.other);
        }
        Ok(out)
    }

    /// The node's own credentials: `--node-config`, then the exec plugins (`sa_gate`: the
    /// kubelet's KubeletServiceAccountTokenForCredentialProviders gate). The one-container pod
    /// runs as the namespace's `default` ServiceAccount.
    pub fn node_keyring(&self, sa_gate: bool) -> anyhow::Result<Keyring> {
        let mut k = Keyring::new();
        if let Some(p) = &self.node_config {
            add_node_config(&mut k, p)?;
        }
        self.plugins
            .setup(&mut k, &Manifests::default(), sa_gate, None)?;
        Ok(k)
    }

    /// The keyring: pod secrets, then the node config, then plugins (the kubelet's union order).
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        let mut k = self.node_keyring(true)?;
        for s in &self.secrets()?.pull {
            k.add_secret(s);
        }
        Ok(k)
    }

    /// A one-container pod for `image` (`pull`, `creds check`): every `--secret` is one of its
    /// imagePullSecrets, in order, in the secrets' namespace (`default` when none), over the
    /// node's credentials — so the image goes through exactly the path a pod's would.
    /// Also the secrets it was given and the node's keyring, for the hints.
    pub fn single_pod(
        &self,
        image: &str,
        policy: Option<PullPolicy>,
        kubelet: &KubeletConfig,
    ) -> anyhow::Result<(PodRun, SecretSet, Keyring)> {
        let secrets = self.secrets()?;
        let namespace = match &self.namespace {
            Some(ns) => ns.clone(),
            None => pods::secrets_namespace(&secrets)?,
        };
        let mut names: Vec<String> = Vec::new();
        let all = secrets
            .pull
            .iter()
            .map(|s| &s.name)
            .chain(secrets.other.iter().map(|s| &s.name));
        for name in all {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let spec = pods::single_container_pod(image, policy, &namespace, &names);
        let mut set = SecretSet::default();
        set.add_read(secrets);
        let node = self.node_keyring(kubelet.gate(GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS))?;
        Ok((pods::build_pod(spec, &names, &set, &node), set, node))
    }
}

/// A Go duration flag (`2m`, `1h30m`, `-1m`), as the kubelet's flags parse them; signed ns.
fn go_duration(s: &str) -> Result<i128, String> {
    parse_go_duration(s)
        .map(i128::from)
        .map_err(|e| e.to_string())
}

/// The kubelet's configuration: `--config FILE` and the flags that override it
/// (`pod run`, `pod explain`, `pull`, `creds check`).
#[derive(Args, Debug, Clone, Default)]
pub struct KubeletFlags {
    /// The kubelet's configuration file (KubeletConfiguration, kubelet.config.k8s.io/v1beta1,
    /// YAML or JSON): featureGates, imagePullCredentialsVerificationPolicy,
    /// preloadedImagesVerificationAllowlist, serializeImagePulls, maxParallelImagePulls,
    /// registryPullQPS, registryBurst, imageGC*ThresholdPercent, imageM*GCAge. The flags below
    /// override its fields one by one; --feature-gates is merged into its featureGates.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Kubelet feature gates, `Name=true|false,...`; known: KubeletEnsureSecretPulledImages
    /// (default true), ImageMaximumGCAge (default true),
    /// KubeletServiceAccountTokenForCredentialProviders (default true).
    #[arg(long = "feature-gates", value_name = "GATES")]
    pub feature_gates: Option<String>,
    /// imagePullCredentialsVerificationPolicy: NeverVerify, NeverVerifyPreloadedImages
    /// (default), NeverVerifyAllowlistedImages, AlwaysVerify.
    #[arg(
        long = "image-pull-credentials-verification-policy",
        value_name = "POLICY"
    )]
    pub verification_policy: Option<String>,
    /// preloadedImagesVerificationAllowlist entries (normalized names, or a prefix ending in
    /// `/*`), comma-separated or repeated; needs NeverVerifyAllowlistedImages.
    #[arg(
        long = "preloaded-images-verification-allowlist",
        value_name = "IMAGES",
        value_delimiter = ','
    )]
    pub allowlist: Vec<String>,
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
    pub max_parallel_image_pulls: Option<i32>,
    /// registryPullQPS: pulls per second (default 5; 0 = no limit).
    #[arg(
        long = "registry-pull-qps",
        visible_alias = "registry-qps",
        value_name = "QPS",
        allow_negative_numbers = true
    )]
    pub registry_pull_qps: Option<f64>,
    /// registryBurst: pulls allowed at once above the QPS (default 10).
    #[arg(
        long = "registry-burst",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub registry_burst: Option<i32>,
    /// imageGCHighThresholdPercent (default 85).
    #[arg(
        long = "image-gc-high-threshold",
        value_name = "PERCENT",
        allow_negative_numbers = true
    )]
    pub gc_high: Option<i32>,
    /// imageGCLowThresholdPercent (default 80).
    #[arg(
        long = "image-gc-low-threshold",
        value_name = "PERCENT",
        allow_negative_numbers = true
    )]
    pub gc_low: Option<i32>,
    /// imageMinimumGCAge: images first detected less than this long ago are kept (default 2m).
    #[arg(long = "image-minimum-gc-age", visible_alias = "minimum-image-ttl-duration", value_name = "DURATION", value_parser = go_duration, allow_hyphen_values = true)]
    pub gc_min_age: Option<i128>,
    /// imageMaximumGCAge: unused images older than this are deleted (default 0: off).
    #[arg(long = "image-maximum-gc-age", value_name = "DURATION", value_parser = go_duration, allow_hyphen_values = true)]
    pub gc_max_age: Option<i128>,
}

impl KubeletFlags {
    /// The node configuration: the file (v1beta1 defaults), the flags over it, validated with
    /// the kubelet's messages. Built once per command.
    pub fn node_config(&self) -> anyhow::Result<KubeletConfig> {
        let file = match self.config.as_deref() {
            None => None,
            Some(p) => Some(match crate::stdin::text_if_stdin(p, "--config")? {
                Some((text, origin)) => KubeletConfigFile::parse(&text, &origin)?,
                None => KubeletConfigFile::load(p)?,
            }),
        };
        // pflag's wording for a flag value its Set rejects.
        let feature_gates = match self.feature_gates.as_deref() {
            None => Default::default(),
            Some(v) => parse_feature_gates(v).map_err(|e| {
                anyhow::anyhow!(
                    "invalid argument {} for \"--feature-gates\" flag: {e}",
                    pullsim_policy::messages::go_quote(v)
                )
            })?,
        };
        let flags = FlagOverrides {
            feature_gates,
            image_pull_credentials_verification_policy: self.verification_policy.clone(),
            preloaded_images_verification_allowlist: (!self.allowlist.is_empty())
                .then(|| self.allowlist.clone()),
            serialize_image_pulls: self.serialize_image_pulls,
            max_parallel_image_pulls: self.max_parallel_image_pulls,
            registry_pull_qps: self.registry_pull_qps,
            registry_burst: self.registry_burst,
            image_gc_high_threshold_percent: self.gc_high,
            image_gc_low_threshold_percent: self.gc_low,
            image_minimum_gc_age: self.gc_min_age,
            image_maximum_gc_age: self.gc_max_age,
        };
        Ok(resolve(file.as_ref(), &flags)?)
    }
}

/// What a simulated node knows (`pod run`, `pod explain`): cluster secrets, the node's docker
/// config, the kubelet's configuration.
#[derive(Args, Debug, Clone)]
pub struct NodeFlags {
    /// Secrets available in the cluster (Secret YAML/JSON, several documents or a List);
    /// pods refer to them by name in imagePullSecrets. Secrets in the manifests count too.
    #[arg(long = "secret", value_name = "FILE")]
    pub secret: Vec<PathBuf>,
    /// The namespace of objects that have none (as kubectl's -n); an object in another
    /// namespace is refused as kubectl refuses it [default: default].
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,

    /// The node's docker config (config.json or .dockercfg): node credentials, tried after the
    /// pod's secrets.
    #[arg(long = "node-config", value_name = "FILE")]
    pub node_config: Option<PathBuf>,
    #[command(flatten)]
    pub plugins: PluginFlags,
    #[command(flatten)]
    pub kubelet: KubeletFlags,
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

/// `--from-cluster`, `--context`, `--kubeconfig`.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Read the FILE arguments as TYPE/NAME objects (pod, deployment, statefulset, daemonset,
    /// job, cronjob) from the cluster of the kubeconfig, with their ServiceAccounts and pull
    /// secrets (kept in memory only), in -n's namespace (else the context's).
    #[arg(long = "from-cluster")]
    pub from_cluster: bool,
    /// The kubeconfig context (as kubectl's --context).
    #[arg(long, value_name = "NAME", requires = "from_cluster")]
    pub context: Option<String>,
    /// The kubeconfig file (as kubectl's --kubeconfig; default $KUBECONFIG, ~/.kube/config,
    /// else the in-cluster service account).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub kubeconfig: Option<PathBuf>,
}

impl ClusterFlags {
    /// How to connect, with kubectl's `-n`.
    pub fn connect_options(&self, namespace: Option<&str>) -> pullsim_cluster::ConnectOptions {
        pullsim_cluster::ConnectOptions {
            context: self.context.clone(),
            kubeconfig: self.kubeconfig.clone(),
            namespace: namespace.map(str::to_string),
        }
    }
}

impl NodeFlags {
    /// Manifests, secrets and the node keyring.
    pub fn load(
        &self,
        files: &[PathBuf],
        kubelet: &KubeletConfig,
    ) -> anyhow::Result<(Manifests, SecretSet, Keyring)> {
        let on_disk: Vec<PathBuf> = files
            .iter()
            .filter(|f| !crate::stdin::is_stdin(f))
            .cloned()
            .collect();
        let ns = self.namespace.as_deref();
        let mut manifests = Manifests::load_in(&on_disk, ns)?;
        if files.iter().any(|f| crate::stdin::is_stdin(f)) {
            let text = crate::stdin::read("FILE")?;
            manifests.add_text_in(&crate::stdin::origin(), &text, ns)?;
        }
        let (secrets, node) = self.secrets_and_node(&manifests, kubelet, None)?;
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

    /// The secrets of the manifests and of `--secret` files, and the node keyring with its
    /// plugins and the manifests' ServiceAccounts (tokens: `minted` from a live cluster, else
    /// `--service-account-token`).
    pub fn secrets_and_node(
        &self,
        manifests: &Manifests,
        kubelet: &KubeletConfig,
        minted: Option<pullsim_node::accounts::Tokens>,
    ) -> anyhow::Result<(SecretSet, Keyring)> {
        let mut secrets = SecretSet::from_manifests(manifests)?;
        for path in &self.secret {
            let s = load_secrets(path, self.namespace.as_deref()).context("--secret")?;
            secrets.add_read(s);
        }
        let mut node = Keyring::new();
        if let Some(p) = &self.node_config {
            add_node_config(&mut node, p)?;
        }
        self.plugins.setup(
            &mut node,
            manifests,
            kubelet.gate(GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS),
            minted,
        )?;
        Ok((secrets, node))
    }
}

/// `--node-config FILE` (or `-`) into the keyring's node credentials.
fn add_node_config(k: &mut Keyring, p: &Path) -> anyhow::Result<()> {
    match crate::stdin::text_if_stdin(p, "--node-config")? {
        Some((text, origin)) => k.add_node_config_bytes(text.as_bytes(), &origin),
        None => k.add_node_config(p),
    }
    .with_context(|| format!("reading --node-config {}", p.display()))
}

/// Pull secrets from a `--secret` file, or from standard input for `-`.
/// With `namespace` (`-n`), secrets without one take it and others are refused, as kubectl.
fn load_secrets(path: &Path, namespace: Option<&str>) -> anyhow::Result<SecretsRead> {
    let (text, origin) = if crate::stdin::is_stdin(path) {
        (crate::stdin::read("--secret")?, crate::stdin::origin())
    } else {
        (
            pullsim_credentials::manifest::read_text(path)?,
            path.to_path_buf(),
        )
    };
    Ok(pullsim_credentials::manifest::read_secrets_in(
        &text, &origin, namespace,
    )?)
}

/// A tokio runtime for one command: one thread for the network (parsing HTTP is light), while
/// the blob writers hash and write on blocking threads. It also skips the cgroup probing a
/// multi-thread runtime does at start, which is most of a cache-hit command's time.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
