//! Where a pull goes: the runtime's registry configuration (containerd's `config_path` hosts
//! directories and `config.toml`, or CRI-O's `registries.conf`) turned into the hosts it tries,
//! the rules it tries them by, and the credential each is offered.
//!
//! containerd (`internal/cri/server/images/image_pull.go@v2.3.4`):
//! - The CRI plugin pulls through the transfer service unless its configuration asks for the
//!   local pull path (`use_local_image_pull`, or a setting the transfer service does not
//!   support: `CheckLocalImagePullConfigs`); 1.7 always pulls locally.
//! - The local path splits `config_path` into roots (`filepath.SplitList`, `registryHosts`);
//!   the transfer service takes the whole string as one directory
//!   (`core/transfer/registry/registry.go` `NewOCIRegistry`), so a list disables every mirror
//!   (containerd/containerd#12415, #12636).
//! - Without a `config_path`, the legacy `registry.mirrors` endpoints then the registry itself
//!   (`registryEndpoints`).
//! - Credentials (`PullImage`'s closure, then `ParseAuth`): the kubelet's auth for every host
//!   (mirrors included), unless it names another `ServerAddress`; only when the kubelet sent
//!   none, `registry.configs."<host>".auth`.

use std::path::PathBuf;
use std::sync::Arc;

use pullsim_credentials::AuthConfig;
use pullsim_reference::Reference;
use pullsim_registry::{
    Capabilities, HostCredentials, HostPlan, HostTls, RegistryHost, Resolver, hosts::is_localhost,
};

use crate::config::{RuntimeConfig, RuntimeKind};
use crate::containerd_config::ContainerdConfig;
use crate::cri::{OfferedCredential, PullRoute, RouteHost, RuntimeHint};
use crate::crio::CrioVersion;
use crate::error::{Code, RuntimeError};
use crate::hosts_dir::{Capability, ConfigPathMode, HostEntry, config_roots, load_hosts_on};
use crate::registries_conf::RegistriesConf;

/// The runtime's routing configuration, fixed when the runtime starts.
#[derive(Clone, Debug)]
pub(crate) struct Routing {
    kind: RuntimeKind,
    resolver: Resolver,
    /// The `config_path` in effect (the flag, else the config file's, 2.x default included).
    config_path: Option<String>,
    containerd: Option<Arc<ContainerdConfig>>,
    pub(crate) crio: Option<Arc<RegistriesConf>>,
    pub(crate) crio_version: CrioVersion,
    /// What the runtime logs about its configuration when it starts.
    pub(crate) start_log: Vec<String>,
    /// The node's filesystem, when mounted elsewhere (`node check --host-root`).
    host_root: Option<PathBuf>,
}

impl Routing {
    /// The runtime this routing is for.
    pub(crate) fn kind(&self) -> RuntimeKind {
        self.kind
    }
}

/// The hosts one pull tries, with what pullsim has to say about them.
pub(crate) struct Planned {
    pub plan: HostPlan,
    pub route: PullRoute,
}

fn capability(c: Capability) -> Capabilities {
    match c {
        Capability::Pull => Capabilities::PULL,
        Capability::Resolve => Capabilities::RESOLVE,
        Capability::Push => Capabilities::PUSH,
        Capability::Referrers => Capabilities::REFERRERS,
    }
}

/// A hosts.toml entry as the registry client takes it.
fn registry_host(e: &HostEntry) -> RegistryHost {
    let tls =
        (!e.ca.is_empty() || !e.client.is_empty() || e.skip_verify.is_some()).then(|| HostTls {
            ca_files: e.ca.clone(),
            client_pairs: e.client.clone(),
            skip_verify: e.skip_verify.unwrap_or(false),
        });
    RegistryHost {
        scheme: e.scheme.clone(),
        host: e.host.clone(),
        path: e.path.clone(),
        capabilities: e
            .capabilities
            .iter()
            .fold(Capabilities::NONE, |acc, c| acc.union(capability(*c))),
        tls,
        headers: e.header.clone(),
        dial_timeout: e.dial_timeout,
        http_fallback: e.http_fallback,
    }
}

fn capability_words(c: Capabilities) -> Vec<&'static str> {
    [
        (Capabilities::PULL, "pull"),
        (Capabilities::RESOLVE, "resolve"),
        (Capabilities::PUSH, "push"),
        (Capabilities::REFERRERS, "referrers"),
    ]
    .into_iter()
    .filter(|(k, _)| c.contains(*k))
    .map(|(_, w)| w)
    .collect()
}

/// CRI's credential rule for one host (`GRPCCRIImageService.PullImage`'s closure, then
/// `ParseAuth`): the kubelet's auth when it sent one, else the runtime's
/// `registry.configs."<host>".auth`; an auth whose `ServerAddress` names another host is not
/// offered.
fn offered(
    kubelet: Option<&AuthConfig>,
    containerd: Option<&ContainerdConfig>,
    host: &str,
) -> (Option<AuthConfig>, OfferedCredential) {
    let chosen = match containerd {
        Some(c) => c.cri_auth(kubelet, host),
        None => kubelet,
    };
    let Some(a) = chosen else {
        return (None, OfferedCredential::Anonymous);
    };
    if !crate::containerd_config::offered_to(a, host) {
        return (None, OfferedCredential::Anonymous);
    }
    let from = if kubelet.is_some() {
        OfferedCredential::Kubelet
    } else {
        OfferedCredential::RuntimeConfig
    };
    (Some(a.clone()), from)
}

impl Routing {
    /// The routing of a runtime configuration; the CRI-O configuration is loaded by the caller.
    pub(crate) fn new(cfg: &RuntimeConfig) -> Routing {
        let containerd = cfg.containerd.clone();
        let local = containerd
            .as_deref()
            .is_some_and(ContainerdConfig::uses_local_image_pull);
        let resolver = match cfg.kind {
            RuntimeKind::Containerd17 => Resolver::Containerd17,
            RuntimeKind::Containerd if local => Resolver::Containerd2Local,
            _ => Resolver::Containerd2Transfer,
        };
        let config_path = cfg.registry_config_path.clone().or_else(|| {
            containerd
                .as_deref()
                .and_then(ContainerdConfig::effective_config_path)
        });
        let start_log = match (cfg.kind, containerd.as_deref()) {
            (RuntimeKind::Containerd, Some(c)) => c.local_pull_reasons(),
            _ => Vec::new(),
        };
        Routing {
            kind: cfg.kind,
            resolver,
            config_path,
            containerd,
            crio: cfg.registries_conf.clone(),
            crio_version: cfg.crio_version,
            start_log,
            host_root: cfg.host_root.clone(),
        }
    }

    /// Whether the runtime is CRI-O.
    pub(crate) fn is_crio(&self) -> bool {
        self.kind == RuntimeKind::CriO
    }

    /// How `config_path` is split: the transfer service takes it whole, the local pull path
    /// (and 1.7) splits it (`ContainerdConfig::config_path_mode` for a config file).
    fn mode(&self) -> ConfigPathMode {
        match self.resolver {
            Resolver::Containerd2Transfer => ConfigPathMode::WholeString,
            _ => ConfigPathMode::SplitRoots,
        }
    }

    /// The hosts containerd tries for `r` (its registry host), in order, with the credential
    /// each is offered when the kubelet sends `auth`.
    pub(crate) fn containerd_plan(
        &self,
        r: &Reference,
        auth: Option<&AuthConfig>,
    ) -> Result<Planned, RuntimeError> {
        let registry = r.domain();
        let mut route = PullRoute::default();
        let hosts: Vec<RegistryHost> = match &self.config_path {
            Some(path) => {
                let found = load_hosts_on(path, self.mode(), registry, self.host_root.as_deref())
                    .map_err(|e| RuntimeError::Invalid {
                    code: Code::Unknown,
                    desc: format!("get registry hosts for {registry}: {e}"),
                })?;
                route.source = found
                    .dir
                    .as_ref()
                    .map(|d| d.join("hosts.toml").display().to_string());
                route.log = found.warnings.clone();
                if let Some(h) = self.ignored_config_path_hint(path, registry, found.dir.is_none())
                {
                    route.hints.push(h);
                }
                found.hosts.iter().map(registry_host).collect()
            }
            None => self.legacy_hosts(registry)?,
        };
        let containerd = self.containerd.clone();
        let kubelet = auth.cloned();
        for h in &hosts {
            let (_, credential) = offered(kubelet.as_ref(), containerd.as_deref(), &h.host);
            let needs = if r.digest().is_some() {
                Capabilities::PULL
            } else {
                Capabilities::PULL.union(Capabilities::RESOLVE)
            };
            let skipped = (!h.capabilities.contains(needs)).then(|| {
                if h.capabilities.contains(Capabilities::PULL) {
                    "not a resolve host: a tag is resolved elsewhere, blobs are still fetched here first".to_string()
                } else {
                    "no pull capability".to_string()
                }
            });
            route.hosts.push(RouteHost {
                endpoint: h.url(),
                role: if h.is_proxy(registry) {
                    "mirror"
                } else {
                    "server"
                },
                capabilities: capability_words(h.capabilities),
                credential,
                skipped,
            });
        }
        let credentials: HostCredentials =
            Arc::new(move |host: &str| offered(kubelet.as_ref(), containerd.as_deref(), host).0);
        Ok(Planned {
            plan: HostPlan {
                hosts,
                resolver: self.resolver,
                credentials,
            },
            route,
        })
    }

    /// Without a `config_path`: the legacy `registry.mirrors` endpoints of the host (or of
    /// `*`), then the registry itself unless an endpoint is it (`registryEndpoints`).
    fn legacy_hosts(&self, registry: &str) -> Result<Vec<RegistryHost>, RuntimeError> {
        let default = RegistryHost::default_for(registry);
        let Some(c) = self.containerd.as_deref() else {
            return Ok(vec![default]);
        };
        let endpoints = c
            .registry_mirrors
            .get(registry)
            .or_else(|| c.registry_mirrors.get("*"))
            .cloned()
            .unwrap_or_default();
        let mut hosts = Vec::new();
        for e in &endpoints {
            let with_scheme = if e.contains("://") {
                e.clone()
            } else {
                format!("https://{e}")
            };
            let (scheme, host, path) =
                crate::hosts_dir::go_url_parts(&with_scheme).map_err(|err| {
                    RuntimeError::Invalid {
                        code: Code::Unknown,
                        desc: format!("get registry endpoints: parse endpoint url: {err}"),
                    }
                })?;
            if host.is_empty() {
                continue;
            }
            let path = if path.is_empty() || path == "/" {
                "/v2".to_string()
            } else {
                path
            };
            let tls = (is_localhost(registry) && scheme == "http").then(|| HostTls {
                skip_verify: true,
                ..HostTls::default()
            });
            hosts.push(RegistryHost {
                scheme,
                host,
                path,
                capabilities: Capabilities::PULL
                    .union(Capabilities::RESOLVE)
                    .union(Capabilities::REFERRERS),
                tls,
                headers: Vec::new(),
                dial_timeout: None,
                http_fallback: false,
            });
        }
        if !hosts.iter().any(|h| h.host == registry) {
            hosts.push(default);
        }
        Ok(hosts)
    }

    /// `containerd-config-path-ignored`: the transfer service read a `config_path` list as one
    /// directory and found nothing, where the local pull path (which splits it) would have
    /// found this registry's directory.
    fn ignored_config_path_hint(
        &self,
        path: &str,
        registry: &str,
        nothing_found: bool,
    ) -> Option<RuntimeHint> {
        if self.mode() != ConfigPathMode::WholeString || !nothing_found {
            return None;
        }
        let roots = config_roots(path, ConfigPathMode::SplitRoots);
        if roots.len() < 2 {
            return None;
        }
        let split = crate::hosts_dir::config_path_on(
            path,
            ConfigPathMode::SplitRoots,
            self.host_root.as_deref(),
        );
        let would = crate::hosts_dir::find_host_dir(&split, ConfigPathMode::SplitRoots, registry)?;
        Some(RuntimeHint {
            code: "containerd-config-path-ignored",
            why: format!(
                "containerd 2.x pulls through its transfer service, which reads config_path {path:?} as one directory, not a list (containerd/containerd#12415): {} is never read, so no mirror of {registry} is used",
                would.display()
            ),
            fix: format!(
                "set config_path to one directory (config_path = {:?}), or set use_local_image_pull = true under [plugins.\"io.containerd.cri.v1.images\"] (the local pull path splits the list)",
                roots.first().cloned().unwrap_or_default()
            ),
        })
    }
}

/// The registries.conf of a CRI-O node: `FILE` and the `registries.conf.d` directory beside it.
pub fn load_registries_conf(file: &std::path::Path) -> Result<RegistriesConf, RuntimeError> {
    let dir: PathBuf = file
        .parent()
        .map(|p| p.join("registries.conf.d"))
        .unwrap_or_else(|| PathBuf::from("registries.conf.d"));
    RegistriesConf::load(file, Some(&dir), crate::registries_conf::MainFile::Explicit).map_err(
        |e| RuntimeError::Config {
            message: e.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubelet_credential_goes_to_every_host_unless_it_names_another_server() {
        // internal/cri/server/images/image_pull.go@v2.3.4: the kubelet's AuthConfig for any
        // host (ParseAuth checks only ServerAddress); registry.configs only without one.
        let a = AuthConfig {
            username: "u".into(),
            ..AuthConfig::default()
        };
        assert_eq!(
            offered(Some(&a), None, "mirror:5000").1,
            OfferedCredential::Kubelet
        );
        let named = AuthConfig {
            server_address: Some("https://upstream:5000".into()),
            ..a.clone()
        };
        assert_eq!(
            offered(Some(&named), None, "mirror:5000").1,
            OfferedCredential::Anonymous
        );
        assert_eq!(
            offered(Some(&named), None, "upstream:5000").1,
            OfferedCredential::Kubelet
        );
        assert_eq!(
            offered(None, None, "mirror:5000").1,
            OfferedCredential::Anonymous
        );
    }
}
