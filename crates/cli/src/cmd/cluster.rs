//! Reading a live cluster: `pod explain|run --from-cluster TYPE/NAME` (also `kubectl pullsim
//! explain|run TYPE/NAME`, see src/bin/kubectl-pullsim.rs).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use pullsim_cluster::{Cluster, ConnectOptions, Target};
use pullsim_node::Manifests;
use pullsim_node::hints::Hint;

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
    pub fn connect_options(&self, namespace: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            context: self.context.clone(),
            kubeconfig: self.kubeconfig.clone(),
            namespace: namespace.map(str::to_string),
        }
    }
}

/// Read `targets` (TYPE/NAME) from the cluster into manifests, as exported files would give
/// them, and the hints of what could not be read.
pub fn read(
    flags: &ClusterFlags,
    namespace: Option<&str>,
    targets: &[PathBuf],
) -> anyhow::Result<(Manifests, Vec<Hint>)> {
    let targets: Vec<Target> = targets
        .iter()
        .map(|t| t.to_string_lossy().parse::<Target>())
        .collect::<Result<_, _>>()
        .context("--from-cluster")?;
    let opts = flags.connect_options(namespace);
    let read = crate::flags::runtime()?.block_on(async {
        let cluster = Cluster::connect(&opts).await?;
        cluster.read_workloads(&targets).await
    })?;
    let hints = read.hints();
    Ok((read.manifests, hints))
}
