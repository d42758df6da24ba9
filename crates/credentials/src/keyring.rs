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
use crate::plugin::{
    PluginProvider, PodContext, ServiceAccountData, ServiceAccounts, TokenRequest,
};

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
    accounts: Option<Arc<dyn ServiceAccounts>>,
    pod_context: Option<PodContext>,
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

    /// Where the pods' ServiceAccounts and their tokens come from (the API server the kubelet
    /// asks; offline, the inputs and a token file). Set on the node keyring before pods copy it.
    pub fn set_service_accounts(&mut self, accounts: Arc<dyn ServiceAccounts>) {
        self.accounts = Some(accounts);
    }

    /// The pod this keyring is for, as the kubelet hands it to the plugins
    /// (`NewExternalCredentialProviderDockerKeyring(podNamespace, podName, podUID,
    /// serviceAccountName)`): plugins with `tokenAttributes` get a token for its ServiceAccount.
    pub fn set_pod(&mut self, namespace: &str, name: &str, uid: &str, service_account: &str) {
        let accounts = self
            .accounts
            .clone()
            .unwrap_or_else(|| Arc::new(NoServiceAccounts));
        self.pod_context = Some(PodContext {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: uid.to_string(),
            service_account: service_account.to_string(),
            accounts,
        });
    }

    /// Whether some plugin asks for service-account tokens (`tokenAttributes`, gate on).
    pub fn wants_service_account_tokens(&self) -> bool {
        self.plugins.iter().any(|p| p.token_attributes().is_some())
    }

    /// The plugins, in the order they are consulted.
    pub fn plugins(&self) -> &[Arc<PluginProvider>] {
        &self.plugins
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
            // every plugin's provideWithCoordinates(image), then Lookup(image); credentials
            // got with a service-account token carry the account as their source.
            let mut ring = BasicKeyring::default();
            for p in &self.plugins {
                match p.provide_for(repository, self.pod_context.as_ref()) {
                    Ok(got) => ring.add(
                        &Source::Plugin {
                            name: p.name().to_string(),
                            service_account: got.service_account,
                        },
                        &got.config,
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

/// No source of ServiceAccounts was given: every read fails, as against an unreachable API.
#[derive(Debug)]
struct NoServiceAccounts;

impl ServiceAccounts for NoServiceAccounts {
    fn get(&self, namespace: &str, name: &str) -> Result<ServiceAccountData, String> {
        Err(format!(
            "no ServiceAccount source to read {namespace}/{name} from"
        ))
    }

    fn token(&self, request: &TokenRequest) -> Result<crate::Secret, String> {
        Err(format!(
            "no token source for {}/{}",
            request.namespace, request.service_account
        ))
    }
}
