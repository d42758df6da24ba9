//! The kubelet's keyring: pkg/credentialprovider/keyring.go `BasicDockerKeyring` and
//! `UnionDockerKeyring`, assembled as pkg/kubelet/kuberuntime/kuberuntime_image.go (and
//! pkg/kubelet/images/image_manager.go) do: pod pull secrets first
//! (pkg/credentialprovider/secrets/secrets.go `MakeDockerKeyring`), then the node keyring
//! (docker config files), then the exec credential-provider plugins. The lookup takes the
//! normalized repository (`docker.io/library/busybox`), as `parsers.ParseImageName` returns it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::auth::{AuthConfig, DockerConfig};
use crate::error::CredentialsError;
use crate::manifest::PullSecret;
use crate::plugin::PluginProvider;
use crate::urlmatch::{
    DEFAULT_REGISTRY_HOST, SplitUrl, UrlMatch, is_default_registry_match, normalize_key,
    parse_schemeless_url, split_match,
};

/// Where a credential came from. Display: `secret:<namespace>/<name>`, `node:<path>`,
/// `plugin:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A pod pull secret.
    Secret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A node docker config file.
    Node {
        /// The file.
        path: PathBuf,
    },
    /// An exec credential-provider plugin.
    Plugin {
        /// Provider name.
        name: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Secret { namespace, name } => write!(f, "secret:{namespace}/{name}"),
            Source::Node { path } => write!(f, "node:{}", path.display()),
            Source::Plugin { name } => write!(f, "plugin:{name}"),
        }
    }
}

impl serde::Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One credential the kubelet would try, in try order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Match {
    /// The normalized keyring key that matched (`index.docker.io`, `r.io:5000/team`).
    pub key: String,
    /// Where it came from.
    pub source: Source,
    /// The credentials (password redacted when formatted).
    pub auth: AuthConfig,
    /// How the key matched: host/glob labels, path prefix, or the Docker Hub fallback.
    pub why: String,
}

/// A key that did not match, with the reason (for `creds match --explain`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Miss {
    /// The normalized key.
    pub key: String,
    /// Where it came from.
    pub source: Source,
    /// The user name stored under it.
    pub username: String,
    /// Why it does not apply.
    pub why_not: String,
}

/// An entry the keyring dropped because its location does not parse (keyring.go logs
/// `Entry %q in dockercfg invalid (%v), ignoring`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IgnoredEntry {
    /// The location as written.
    pub location: String,
    /// Where it came from.
    pub source: Source,
    /// Go's URL error.
    pub error: String,
}

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

#[derive(Debug, Clone)]
struct Cred {
    auth: AuthConfig,
    source: Source,
}

/// keyring.go `BasicDockerKeyring`: unique keys, reverse-sorted, each with its credentials in
/// insertion order.
#[derive(Debug, Clone, Default)]
pub struct BasicKeyring {
    index: Vec<String>,
    creds: HashMap<String, Vec<Cred>>,
    /// Each key parsed once (`ParseSchemelessURL(key)`), as `URLsMatchStr` would on every lookup.
    parsed: HashMap<String, Result<SplitUrl, String>>,
    ignored: Vec<IgnoredEntry>,
}

impl BasicKeyring {
    /// keyring.go `Add`.
    pub fn add(&mut self, source: &Source, cfg: &DockerConfig) {
        for (location, entry) in cfg {
            let key = match normalize_key(location) {
                Ok(k) => k,
                Err(e) => {
                    self.ignored.push(IgnoredEntry {
                        location: location.clone(),
                        source: source.clone(),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            self.creds.entry(key.clone()).or_default().push(Cred {
                auth: entry.to_auth_config(),
                source: source.clone(),
            });
            self.parsed.entry(key.clone()).or_insert_with(|| {
                parse_schemeless_url(&key)
                    .map(|u| SplitUrl::new(&u))
                    .map_err(|e| e.to_string())
            });
            self.index.push(key);
        }
        self.index.sort_unstable();
        self.index.dedup();
        self.index.reverse();
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The keys in lookup order.
    pub fn keys(&self) -> &[String] {
        &self.index
    }

    /// keyring.go `Lookup`.
    pub fn lookup(&self, image: &str) -> Vec<Match> {
        self.scan(image, false).0
    }

    /// keyring.go `Lookup`, with the keys that did not match and why.
    pub fn lookup_explained(&self, image: &str) -> (Vec<Match>, Vec<Miss>) {
        self.scan(image, true)
    }

    fn scan(&self, image: &str, explain: bool) -> (Vec<Match>, Vec<Miss>) {
        let mut matches = Vec::new();
        let mut missed: Vec<(&String, String)> = Vec::new();
        // URLsMatchStr parses both sides; the image is parsed once here, the keys at Add.
        let target = parse_schemeless_url(image)
            .map(|u| SplitUrl::new(&u))
            .map_err(|e| e.to_string());
        for key in &self.index {
            let m = match (self.parsed.get(key), &target) {
                (Some(Ok(glob)), Ok(target)) => split_match(glob, target),
                (Some(Err(e)), _) | (_, Err(e)) => UrlMatch::Unparsable { error: e.clone() },
                (None, _) => UrlMatch::Unparsable {
                    error: "key not indexed".into(),
                },
            };
            if m.is_match() {
                let why = m.reason();
                for c in &self.creds[key] {
                    matches.push(Match {
                        key: key.clone(),
                        source: c.source.clone(),
                        auth: c.auth.clone(),
                        why: why.clone(),
                    });
                }
            } else if explain || key == DEFAULT_REGISTRY_HOST {
                missed.push((key, m.reason()));
            }
        }
        let default_match = is_default_registry_match(image);
        if let (true, Some(creds)) = (
            matches.is_empty() && default_match,
            self.creds.get(DEFAULT_REGISTRY_HOST),
        ) {
            {
                let why = format!(
                    "Docker Hub fallback: no key matched {image:?} and it is a Docker Hub image, \
                     so the credentials under {DEFAULT_REGISTRY_HOST} are used"
                );
                for c in creds {
                    matches.push(Match {
                        key: DEFAULT_REGISTRY_HOST.to_string(),
                        source: c.source.clone(),
                        auth: c.auth.clone(),
                        why: why.clone(),
                    });
                }
                missed.retain(|(k, _)| k.as_str() != DEFAULT_REGISTRY_HOST);
            }
        }
        let mut misses = Vec::new();
        if !explain {
            return (matches, misses);
        }
        for (key, mut why_not) in missed {
            if key == DEFAULT_REGISTRY_HOST {
                why_not = if default_match {
                    format!(
                        "{why_not}; the Docker Hub fallback applies only when no other key matches"
                    )
                } else {
                    format!("{why_not}; not a Docker Hub image, so no Docker Hub fallback")
                };
            }
            for c in &self.creds[key] {
                misses.push(Miss {
                    key: key.clone(),
                    source: c.source.clone(),
                    username: c.auth.username.clone(),
                    why_not: why_not.clone(),
                });
            }
        }
        (matches, misses)
    }
}

/// The kubelet's union keyring for one pod: pod secrets, node config, plugins.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pod: BasicKeyring,
    node: BasicKeyring,
    plugins: Vec<Arc<PluginProvider>>,
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
        let cfg = crate::nodeconfig::read_node_config(path)?;
        self.add_node_docker_config(path, &cfg);
        Ok(())
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
