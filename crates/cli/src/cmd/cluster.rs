//! Reading a live cluster: `pod explain|run --from-cluster TYPE/NAME` (also `kubectl pullsim
//! explain|run TYPE/NAME`, see src/bin/kubectl-pullsim.rs).

use std::path::PathBuf;

use anyhow::Context as _;
use pullsim_cluster::{Cluster, Target};
use pullsim_credentials::Keyring;
use pullsim_node::Manifests;
use pullsim_node::hints::Hint;
use pullsim_node::pods::SecretSet;

use crate::flags::{ClusterFlags, NodeFlags};

/// The inputs of `pod run` and `pod explain`: manifests, secrets, the node keyring, and the
/// hints of reading a cluster — from the FILE arguments, or with `--from-cluster` from the
/// cluster, where the FILE arguments are TYPE/NAME objects.
pub fn load_inputs(
    node: &NodeFlags,
    files: &[PathBuf],
) -> anyhow::Result<(Manifests, SecretSet, Keyring, Vec<Hint>)> {
    if !node.cluster.from_cluster {
        let (manifests, secrets, keyring) = node.load(files)?;
        return Ok((manifests, secrets, keyring, Vec::new()));
    }
    let (manifests, hints) = read(&node.cluster, node.namespace.as_deref(), files)?;
    let (secrets, keyring) = node.secrets_and_node(&manifests)?;
    Ok((manifests, secrets, keyring, hints))
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
