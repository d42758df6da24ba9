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
use pullsim_node::accounts::{InputAccounts, token_needs};
use pullsim_node::kubelet_config::KubeletConfig;
use std::sync::Arc;

/// The inputs of `pod run` and `pod explain`: manifests, secrets, the node keyring, and the
/// hints of reading a cluster — from the FILE arguments, or with `--from-cluster` from the
/// cluster, where the FILE arguments are TYPE/NAME objects.
pub fn load_inputs(
    node: &NodeFlags,
    files: &[PathBuf],
    kubelet: &KubeletConfig,
) -> anyhow::Result<(Manifests, SecretSet, Keyring, Vec<Hint>)> {
    if !node.cluster.from_cluster {
        let (manifests, secrets, keyring) = node.load(files, kubelet)?;
        return Ok((manifests, secrets, keyring, Vec::new()));
    }
    let (manifests, hints) = read(&node.cluster, node.namespace.as_deref(), files)?;
    let (secrets, mut keyring) = node.secrets_and_node(&manifests, kubelet, None)?;
    // Plugins that want service-account tokens get them as the kubelet would: minted through
    // the TokenRequest API for each pod (unless --service-account-token gives one).
    let needs = token_needs(&manifests, &keyring);
    if !needs.is_empty() && node.plugins.service_account_token.is_none() {
        let opts = node.cluster.connect_options(node.namespace.as_deref());
        let tokens = crate::flags::runtime()?.block_on(async {
            let cluster = Cluster::connect(&opts).await?;
            Ok::<_, pullsim_cluster::ClusterError>(cluster.mint_tokens(&needs).await)
        })?;
        keyring.set_service_accounts(Arc::new(InputAccounts::new(&manifests, tokens)));
    }
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
