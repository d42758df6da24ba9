//! The part of `ConfigureHosts` (`core/remotes/docker/config/hosts.go@v2.3.4`) that decides
//! the host list: the default for the last entry when it has no host, and the HTTPS-first
//! fallback for `http://` hosts with TLS settings.

use pullsim_credentials::gourl::split_host_port;
use pullsim_registry::transport::is_loopback;

use super::log::logrus_line;
use super::parse::HostConfig;
use super::types::{Capability, HostEntry};

/// The message containerd logs (at info) when it upgrades an `http://` host to HTTPS-first.
pub const HTTPS_FIRST_MESSAGE: &str = "host will try HTTPS first since it is configured for HTTP with a TLS configuration, consider changing host to HTTPS or removing unused TLS configuration";

/// `net.SplitHostPort`'s port, `""` when it fails (as containerd ignores the error).
fn port_of(host: &str) -> &str {
    split_host_port(host).map(|(_, p)| p).unwrap_or("")
}

/// `hosts` (from the host directory, or `None` when there was none) completed for
/// `registry_host`; `warnings` receives containerd's log lines.
pub(crate) fn configure_hosts(
    hosts: Option<Vec<HostConfig>>,
    registry_host: &str,
    warnings: &mut Vec<String>,
) -> Vec<HostEntry> {
    let mut hosts = hosts.unwrap_or_else(|| vec![HostConfig::default()]);
    let count = hosts.len();
    if let Some(last) = hosts.last_mut()
        && last.host.is_empty()
    {
        if registry_host == "docker.io" {
            last.scheme = "https".into();
            last.host = "registry-1.docker.io".into();
        } else if is_loopback(registry_host) {
            last.host = registry_host.to_string();
            let port = port_of(registry_host);
            // No DefaultScheme in CRI or ctr: https for no port or 443, else http.
            last.scheme = if port.is_empty() || port == "443" {
                "https".into()
            } else {
                "http".into()
            };
            if port != "80" {
                last.skip_verify = Some(true);
            }
        } else {
            last.host = registry_host.to_string();
            last.scheme = "https".into();
        }
        last.path = "/v2".into();
        last.capabilities = Capability::ALL.to_vec();
    }
    hosts
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let explicit_tls = h.ca.is_some() || h.client.is_some() || h.skip_verify.is_some();
            let mut scheme = h.scheme;
            let mut http_fallback = false;
            if scheme == "http" && explicit_tls && port_of(&h.host) != "80" {
                warnings.push(logrus_line(
                    "info",
                    HTTPS_FIRST_MESSAGE,
                    &[("host", &h.host)],
                ));
                scheme = "https".into();
                http_fallback = true;
            }
            HostEntry {
                scheme,
                host: h.host,
                path: h.path,
                capabilities: h.capabilities,
                ca: h.ca.unwrap_or_default(),
                client: h.client.unwrap_or_default(),
                skip_verify: h.skip_verify,
                header: h.header,
                override_path: h.override_path,
                dial_timeout: h.dial_timeout,
                http_fallback,
                from_server: i + 1 == count,
            }
        })
        .collect()
}
