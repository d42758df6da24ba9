//! The kubelet's keyring: pkg/credentialprovider/keyring.go `BasicDockerKeyring` and
//! `UnionDockerKeyring`, assembled as pkg/kubelet/kuberuntime/kuberuntime_image.go (and
//! pkg/kubelet/images/image_manager.go) do: pod pull secrets first
//! (pkg/credentialprovider/secrets/secrets.go `MakeDockerKeyring`), then the node keyring
//! (docker config files), then the exec credential-provider plugins. The lookup takes the
//! normalized repository (`docker.io/library/busybox`), as `parsers.ParseImageName` returns it.

use std::path::Path;
use std::sync::Arc;

use crate::auth::DockerConfig;
use crate::error::CredentialsError;
use crate::manifest::PullSecret;
use crate::plugin::PluginProvider;

pub use crate::basic_keyring::{BasicKeyring, IgnoredEntry, Match, Miss, Source};

/// The full answer of a lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Lookup {
    /// Credentials in try order.
    pub matches: Vec<Match>,
    /// Keys that did not match.
    pub misses: Vec<Miss>,
    /// Entries dropped when the keyring was built.
    pub ignored: Vec<IgnoredEntry>,
    /// Problems that the kubelet only logs (plugin failures).
    pub warnings: Vec<String>,
}

/// The kubelet's union keyring for one pod: pod secrets, node config, plugins.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pod: BasicKeyring,
    node: BasicKeyring,
    plugins: Vec<Arc<PluginProvider>>,
    node_helpers: Vec<String>,
}

impl Keyring {
    /// An empty keyring (anonymous pulls).
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Add a pod pull secret (secrets.go `secretsToTrackedDockerConfigs`). Secrets are
    /// consulted before node credentials; call in `imagePullSecrets` order.
    pub fn add_secret(&mut self, secret: &PullSecret) {
        let source = Source::Secret {
            namespace: secret.namespace.clone(),
            name: secret.name.clone(),
        };
        self.pod.add(&source, &secret.entries);
    }

    /// Add a node docker config file given by path: `.dockercfg` format when the file is named
    /// `.dockercfg`, else `config.json` format (`{"auths":{...}}`).
    pub fn add_node_config(&mut self, path: &Path) -> Result<(), CredentialsError> {
        let (cfg, helpers) = crate::nodeconfig::read_node_config_with_helpers(path)?;
        self.add_node_config_parsed(path, &cfg, helpers);
        Ok(())
    }

    /// [`Keyring::add_node_config`] with the file already read (`--node-config -`), named
    /// `origin`.
    pub fn add_node_config_bytes(
        &mut self,
        bytes: &[u8],
        origin: &Path,
    ) -> Result<(), CredentialsError> {
        let (cfg, helpers) = crate::nodeconfig::parse_node_config_with_helpers(bytes, origin)?;
        self.add_node_config_parsed(origin, &cfg, helpers);
        Ok(())
    }

    fn add_node_config_parsed(&mut self, path: &Path, cfg: &DockerConfig, helpers: Vec<String>) {
        self.add_node_docker_config(path, cfg);
        self.node_helpers.extend(
            helpers
                .into_iter()
                .map(|h| format!("{h} in {}", path.display())),
        );
    }

    /// Credential helpers named in the node's docker config (`"credsStore": "desktop" in
    /// /var/lib/kubelet/config.json`): the kubelet ignores them.
    pub fn node_credential_helpers(&self) -> &[String] {
        &self.node_helpers
    }

    /// Add node credentials already read.
    pub fn add_node_docker_config(&mut self, path: &Path, cfg: &DockerConfig) {
        self.node.add(
            &Source::Node {
                path: path.to_path_buf(),
            },
            cfg,
        );
    }

    /// Add an exec credential-provider plugin (consulted after node credentials, in the order
    /// added, as the kubelet registers them from its config).
    pub fn add_plugin(&mut self, provider: Arc<PluginProvider>) {
        self.plugins.push(provider);
    }

    /// The credentials the kubelet would try for `image`, in order (empty: anonymous pull).
    pub fn lookup(&self, image: &pullsim_reference::Reference) -> Vec<Match> {
        self.lookup_name(&image.name())
    }

    /// [`Keyring::lookup`] on a normalized repository name (`docker.io/library/busybox`).
    pub fn lookup_name(&self, repository: &str) -> Vec<Match> {
        self.collect(repository, false).matches
    }

    /// The lookup with non-matching keys, ignored entries and plugin warnings.
    pub fn lookup_explained(&self, repository: &str) -> Lookup {
        self.collect(repository, true)
    }

    fn collect(&self, repository: &str, explain: bool) -> Lookup {
        let mut out = Lookup::default();
        for ring in [&self.pod, &self.node] {
            let (m, miss) = ring.scan(repository, explain);
            out.matches.extend(m);
            out.misses.extend(miss);
            out.ignored.extend(ring.ignored.iter().cloned());
        }
        if !self.plugins.is_empty() {
            // plugin/plugins.go externalCredentialProviderKeyring: one BasicDockerKeyring fed by
            // every plugin's Provide(image), then Lookup(image).
            let mut ring = BasicKeyring::default();
            for p in &self.plugins {
                match p.provide(repository) {
                    Ok(cfg) => ring.add(
                        &Source::Plugin {
                            name: p.name().to_string(),
                        },
                        &cfg,
                    ),
                    Err(e) => out.warnings.push(e.to_string()),
                }
            }
            let (m, miss) = ring.scan(repository, explain);
            out.matches.extend(m);
            out.misses.extend(miss);
            out.ignored.extend(ring.ignored);
        }
        out
    }
}
