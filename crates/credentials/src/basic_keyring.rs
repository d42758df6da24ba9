//! keyring.go `BasicDockerKeyring`: the keys of one credential source (pod secrets, node
//! config, plugins), normalized, reverse-sorted, and matched against an image the way
//! pkg/credentialprovider/keyring.go `Lookup` does. The union of sources is in
//! [`crate::keyring`]; the plugins feed their own `BasicKeyring` ([`crate::plugin`]).

use std::fmt;
use std::path::PathBuf;

use crate::auth::{AuthConfig, DockerConfig};
use crate::urlmatch::{
    DEFAULT_REGISTRY_HOST, SplitUrl, UrlMatch, is_default_registry_match, normalize_key,
    parse_schemeless_url, split_match, split_matches,
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
        /// The pod's ServiceAccount when the plugin ran with a token for it (KEP-4412): the
        /// kubelet's `CredentialSource.ServiceAccount`.
        service_account: Option<crate::account::ServiceAccountRef>,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Secret { namespace, name } => write!(f, "secret:{namespace}/{name}"),
            Source::Node { path } => write!(f, "node:{}", path.display()),
            Source::Plugin {
                name,
                service_account: None,
            } => write!(f, "plugin:{name}"),
            Source::Plugin {
                name,
                service_account: Some(sa),
            } => write!(f, "plugin:{name} (serviceaccount:{sa})"),
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

#[derive(Debug, Clone)]
struct Cred {
    auth: AuthConfig,
    source: Source,
}

/// One key of the keyring with everything a lookup needs.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    /// `ParseSchemelessURL(key)`, done once here (`URLsMatchStr` re-parses it on every lookup).
    parsed: Result<SplitUrl, String>,
    /// In insertion order.
    creds: Vec<Cred>,
}

/// keyring.go `BasicDockerKeyring`: unique keys, reverse-sorted (its `index`), each with its
/// credentials in insertion order.
#[derive(Debug, Clone, Default)]
pub struct BasicKeyring {
    /// Reverse-sorted by key, keys unique.
    entries: Vec<Entry>,
    pub(crate) ignored: Vec<IgnoredEntry>,
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
            let cred = Cred {
                auth: entry.to_auth_config(),
                source: source.clone(),
            };
            // Reverse order: the search compares the other way round.
            match self.entries.binary_search_by(|e| key.cmp(&e.key)) {
                Ok(i) => self.entries[i].creds.push(cred),
                Err(i) => {
                    let parsed = parse_schemeless_url(&key)
                        .map(|u| SplitUrl::new(&u))
                        .map_err(|e| e.to_string());
                    self.entries.insert(
                        i,
                        Entry {
                            key,
                            parsed,
                            creds: vec![cred],
                        },
                    );
                }
            }
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in lookup order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }

    /// keyring.go `Lookup`.
    pub fn lookup(&self, image: &str) -> Vec<Match> {
        self.scan(image, false).0
    }

    /// keyring.go `Lookup`, with the keys that did not match and why.
    pub fn lookup_explained(&self, image: &str) -> (Vec<Match>, Vec<Miss>) {
        self.scan(image, true)
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| key.cmp(&e.key))
            .ok()
            .map(|i| &self.entries[i])
    }

    pub(crate) fn scan(&self, image: &str, explain: bool) -> (Vec<Match>, Vec<Miss>) {
        let mut matches = Vec::new();
        let mut missed: Vec<(&Entry, String)> = Vec::new();
        // URLsMatchStr parses both sides; the image is parsed once here, the keys at Add.
        let target = parse_schemeless_url(image)
            .map(|u| SplitUrl::new(&u))
            .map_err(|e| e.to_string());
        for e in &self.entries {
            let is_default = e.key == DEFAULT_REGISTRY_HOST;
            let m = match (&e.parsed, &target) {
                (Ok(glob), Ok(target)) => {
                    // The detail (with its strings) only for keys that will be reported.
                    if !explain && !is_default && !split_matches(glob, target) {
                        continue;
                    }
                    split_match(glob, target)
                }
                (Err(err), _) | (_, Err(err)) => UrlMatch::Unparsable { error: err.clone() },
            };
            if m.is_match() {
                let why = m.reason();
                for c in &e.creds {
                    matches.push(Match {
                        key: e.key.clone(),
                        source: c.source.clone(),
                        auth: c.auth.clone(),
                        why: why.clone(),
                    });
                }
            } else if explain || is_default {
                missed.push((e, m.reason()));
            }
        }
        let default_match = is_default_registry_match(image);
        if let (true, Some(hub)) = (
            matches.is_empty() && default_match,
            self.entry(DEFAULT_REGISTRY_HOST),
        ) {
            let why = format!(
                "Docker Hub fallback: no key matched {image:?} and it is a Docker Hub image, \
                 so the credentials under {DEFAULT_REGISTRY_HOST} are used"
            );
            for c in &hub.creds {
                matches.push(Match {
                    key: DEFAULT_REGISTRY_HOST.to_string(),
                    source: c.source.clone(),
                    auth: c.auth.clone(),
                    why: why.clone(),
                });
            }
            missed.retain(|(e, _)| e.key != DEFAULT_REGISTRY_HOST);
        }
        let mut misses = Vec::new();
        if !explain {
            return (matches, misses);
        }
        for (e, mut why_not) in missed {
            if e.key == DEFAULT_REGISTRY_HOST {
                why_not = if default_match {
                    format!(
                        "{why_not}; the Docker Hub fallback applies only when no other key matches"
                    )
                } else {
                    format!("{why_not}; not a Docker Hub image, so no Docker Hub fallback")
                };
            }
            for c in &e.creds {
                misses.push(Miss {
                    key: e.key.clone(),
                    source: c.source.clone(),
                    username: c.auth.username.clone(),
                    why_not: why_not.clone(),
                });
            }
        }
        (matches, misses)
    }
}
