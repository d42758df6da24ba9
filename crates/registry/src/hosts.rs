//! The hosts a registry namespace is resolved and fetched through, as containerd's
//! `core/remotes/docker/registry.go` `RegistryHost` and `config/hosts.go` `ConfigureHosts`
//! build them: mirrors from `hosts.toml` in file order, the upstream (`server`) last.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_reference::Reference;

pub use crate::error::Stage;

/// What a host may be used for (containerd's `HostCapabilities`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);
    /// Fetch content by digest (`HostCapabilityPull`).
    pub const PULL: Capabilities = Capabilities(1);
    /// Resolve a tag to a digest (`HostCapabilityResolve`).
    pub const RESOLVE: Capabilities = Capabilities(1 << 1);
    /// Push content (`HostCapabilityPush`).
    pub const PUSH: Capabilities = Capabilities(1 << 2);
    /// The referrers API (`HostCapabilityReferrers`).
    pub const REFERRERS: Capabilities = Capabilities(1 << 3);
    /// All four: what a host without a `capabilities` key gets.
    pub const ALL: Capabilities = Capabilities(0b1111);

    /// Whether every capability of `other` is in `self` (containerd's `Has`).
    pub fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets.
    pub fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }
}

/// A host's own TLS settings (`ca`, `client`, `skip_verify` in `hosts.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostTls {
    /// CA files, added to the system roots (and the client's [`crate::ClientOptions::ca_files`]).
    pub ca_files: Vec<PathBuf>,
    /// Client certificates: certificate file and key file (`None`: the key is in the
    /// certificate's PEM).
    pub client_pairs: Vec<(PathBuf, Option<PathBuf>)>,
    /// Do not verify the server's certificate.
    pub skip_verify: bool,
}

/// One host of a [`HostPlan`] (containerd's `docker.RegistryHost`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryHost {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// API root: `/v2`, or the path given with `override_path` (`/v2/upstream`).
    pub path: String,
    /// What the host may be used for.
    pub capabilities: Capabilities,
    /// `None`: the client's default TLS (system roots and [`crate::ClientOptions::ca_files`]).
    pub tls: Option<HostTls>,
    /// Sent on every request to this host and to its token endpoint.
    pub headers: Vec<(String, String)>,
    /// Connect timeout (containerd 2.1+ `dial_timeout`); `None`: the client's.
    pub dial_timeout: Option<Duration>,
    /// containerd's `HTTPFallback`: HTTPS first, plain HTTP when the peer does not speak TLS.
    pub http_fallback: bool,
}

/// Whether `host[:port]` is a loopback host, as containerd's `docker.IsLocalhost`
/// (`core/remotes/docker/resolver.go@v2.3.4`): `localhost` or a loopback IP, any port.
pub fn is_localhost(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((h, _)) if !h.contains(':') => h,
            _ => host,
        }
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The port of `host[:port]` (`net.SplitHostPort`), `""` without one.
fn port_of(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once("]:").map(|(_, p)| p).unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => p,
        _ => "",
    }
}

impl RegistryHost {
    /// containerd's default host for a registry namespace (`config/hosts.go@v2.3.4`
    /// `ConfigureHosts`, the entry it fills in when no `server` is set): `docker.io` →
    /// `https://registry-1.docker.io/v2`; a loopback host → `https` for no port or 443, else
    /// `http` (then, being given a TLS configuration, HTTPS first with the HTTP fallback), with
    /// certificate verification skipped unless the port is 80; any other host →
    /// `https://HOST/v2`. All capabilities.
    pub fn default_for(registry: &str) -> RegistryHost {
        let mut h = RegistryHost {
            scheme: "https".to_string(),
            host: registry.to_string(),
            path: "/v2".to_string(),
            capabilities: Capabilities::ALL,
            tls: None,
            headers: Vec::new(),
            dial_timeout: None,
            http_fallback: false,
        };
        if registry == "docker.io" {
            h.host = "registry-1.docker.io".to_string();
        } else if is_localhost(registry) {
            let port = port_of(registry);
            let http = !(port.is_empty() || port == "443");
            if port != "80" {
                h.tls = Some(HostTls {
                    skip_verify: true,
                    ..HostTls::default()
                });
            }
            // `host.scheme == "http" && explicitTLS` with a port other than 80: HTTPS first.
            if http {
                if port == "80" {
                    h.scheme = "http".to_string();
                } else {
                    h.http_fallback = true;
                }
            }
        }
        h
    }

    /// `scheme://host/path`, for messages and reports.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path)
    }

    /// containerd's `RegistryHost.isProxy` (`core/remotes/docker/registry.go@v2.3.4`): the host
    /// serves another registry's namespace (`docker.io` at `registry-1.docker.io` is not a
    /// proxy). Requests to a proxy carry `?ns=<registry>`.
    pub fn is_proxy(&self, registry: &str) -> bool {
        registry != self.host && !(registry == "docker.io" && self.host == "registry-1.docker.io")
    }
}

/// Which containerd generation's resolver rules and wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Resolver {
    /// containerd 1.7: the first non-404 error wins; 5xx never retried; up to 6 requests for
    /// 408/429; stage `failed to resolve reference "REF": ...`.
    Containerd17,
    /// containerd 2.3 local pull: the error furthest through resolution wins; 500/503/504
    /// retried once on the last host; up to 5 requests per host; stage as 1.7.
    Containerd2Local,
    /// containerd 2.3 transfer service (the CRI default): as the local pull, with the stage
    /// `failed to resolve image: ...`.
    #[default]
    Containerd2Transfer,
}

impl Resolver {
    /// Whether this is a containerd 2.x resolver.
    pub fn is_v2(self) -> bool {
        !matches!(self, Resolver::Containerd17)
    }
}

/// The credential offered to a host, by its `host[:port]` (the runtime decides: containerd's
/// CRI offers the kubelet's auth to every host, else `registry.configs[host].auth`).
pub type HostCredentials = Arc<dyn Fn(&str) -> Option<AuthConfig> + Send + Sync>;

/// The hosts of one resolve or pull, in order, with the resolver's rules and credentials.
#[derive(Clone)]
pub struct HostPlan {
    /// Mirrors first, the upstream last.
    pub hosts: Vec<RegistryHost>,
    /// Whose rules.
    pub resolver: Resolver,
    /// The credential for a host.
    pub credentials: HostCredentials,
}

impl std::fmt::Debug for HostPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPlan")
            .field("hosts", &self.hosts)
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl HostPlan {
    /// The reference's registry alone ([`RegistryHost::default_for`]), `cred` offered to it.
    pub fn default_for(r: &Reference, cred: Option<AuthConfig>, resolver: Resolver) -> HostPlan {
        HostPlan {
            hosts: vec![RegistryHost::default_for(r.domain())],
            resolver,
            credentials: Arc::new(move |_| cred.clone()),
        }
    }
}

/// One host's part in a resolve or pull, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAttempt {
    /// [`RegistryHost::url`].
    pub host: String,
    /// Resolve or fetch.
    pub stage: Stage,
    /// The last status the host answered, when it answered.
    pub status: Option<u16>,
    /// Why the host was left (`None`: it served).
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_as_configure_hosts() {
        // containerd core/remotes/docker/config/hosts.go@v2.3.4 ConfigureHosts: docker.io,
        // localhost (http unless no port or 443, skip verify unless 80, then HTTPS first with
        // the HTTP fallback since TLS is configured), anything else https.
        let d = RegistryHost::default_for("docker.io");
        assert_eq!(d.url(), "https://registry-1.docker.io/v2");
        assert_eq!(d.capabilities, Capabilities::ALL);
        assert!(!d.http_fallback && d.tls.is_none());
        let q = RegistryHost::default_for("quay.io");
        assert_eq!(q.url(), "https://quay.io/v2");
        let skip = Some(HostTls {
            skip_verify: true,
            ..HostTls::default()
        });
        for (host, scheme, fallback, tls) in [
            ("localhost:5000", "https", true, skip.clone()),
            ("127.0.0.1:5000", "https", true, skip.clone()),
            ("[::1]:5000", "https", true, skip.clone()),
            ("localhost", "https", false, skip.clone()),
            ("localhost:443", "https", false, skip.clone()),
            ("127.0.0.1:80", "http", false, None),
        ] {
            let h = RegistryHost::default_for(host);
            assert_eq!(
                (h.scheme.as_str(), h.http_fallback, &h.tls),
                (scheme, fallback, &tls),
                "{host}"
            );
            assert_eq!(h.host, host);
        }
    }

    #[test]
    fn proxy_rule() {
        // core/remotes/docker/registry.go@v2.3.4 isProxy.
        let hub = RegistryHost::default_for("docker.io");
        assert!(!hub.is_proxy("docker.io"));
        assert!(hub.is_proxy("quay.io"));
        let m = RegistryHost {
            host: "mirror:5000".into(),
            ..hub.clone()
        };
        assert!(m.is_proxy("docker.io"));
        assert!(!m.is_proxy("mirror:5000"));
    }

    #[test]
    fn capability_sets() {
        let pr = Capabilities::PULL.union(Capabilities::RESOLVE);
        assert!(pr.contains(Capabilities::PULL) && pr.contains(pr));
        assert!(!Capabilities::PULL.contains(pr));
        assert!(Capabilities::ALL.contains(Capabilities::REFERRERS));
        assert!(Capabilities::ALL.contains(Capabilities::NONE));
    }
}
