//! containerd's registry host configuration directory (`config_path`, `certs.d`): from a
//! `config_path` and the registry host of a reference to the ordered list of hosts containerd
//! tries, with no network (`core/remotes/docker/config/hosts.go@v2.3.4`,
//! `config_unix.go`, documented in `docs/hosts.md`).
//!
//! - [`find_host_dir`]: which directory containerd reads for a registry host: under each root
//!   of `config_path` in order, `host_port_` (when the host has a port), `host:port`, then
//!   `_default`; the first that exists wins (a `_default` is never merged with a host's
//!   directory).
//! - [`load_hosts`]: the host list (`ConfigureHosts`): the `[host."…"]` tables in file
//!   order, then the root entry (`server`, or the upstream default when `server` is absent:
//!   `docker.io` → `https://registry-1.docker.io`, loopback hosts → `http` for a port other
//!   than 443, else `https://<host>`), or the Docker-style `*.crt`/`*.cert`/`*.key` files when
//!   hosts.toml is missing, empty or undecodable.
//!
//! As in containerd, a hosts.toml that does not decode (bad TOML, unknown capability, bad URL,
//! bad `dial_timeout` …) does not fail the pull: containerd logs
//! `failed to decode <dir>/hosts.toml` with the error and uses the certificate files; the
//! line is in [`HostsResolution::warnings`] and the error itself is [`check_hosts_toml`]'s.
//! Only I/O errors (other than "does not exist") fail, as they fail containerd's resolve.
//!
//! Modelled on containerd 2.3.4. containerd 1.6/1.7 differ in: the localhost default (always
//! `http` with `skip_verify`), no `referrers` capability, no `dial_timeout`, and (1.6 only) a
//! hosts.toml without any `[host]` table is undecodable (`invalid `host` tree`), so a file with
//! only `server` falls back to the defaults.

mod configure;
mod error;
mod log;
mod lookup;
mod parse;
mod types;

use std::path::{Path, PathBuf};

pub use configure::HTTPS_FIRST_MESSAGE;
pub use error::{HostsDirError, HostsFileError};
pub(crate) use log::logrus_line;
pub use lookup::{config_roots, host_directory, host_paths, try_find_host_dir};
pub(crate) use parse::go_url_parts;
pub use pullsim_reference::go_duration::{DurationError, parse_go_duration};
pub use types::{Capability, ConfigPathMode, HostEntry, HostsResolution};

/// The host directory containerd reads for `registry_host`, `None` when there is none (a
/// `stat` error other than "does not exist" also gives `None` here; [`load_hosts`] and
/// [`try_find_host_dir`] report it).
pub fn find_host_dir(
    config_path: &str,
    mode: ConfigPathMode,
    registry_host: &str,
) -> Option<PathBuf> {
    try_find_host_dir(config_path, mode, registry_host)
        .ok()
        .flatten()
}

/// The hosts containerd tries for `registry_host` (the reference's domain: `docker.io`,
/// `127.0.0.1:5000`), in order, the server entry last.
pub fn load_hosts(
    config_path: &str,
    mode: ConfigPathMode,
    registry_host: &str,
) -> Result<HostsResolution, HostsDirError> {
    load_hosts_on(config_path, mode, registry_host, None)
}

/// A `config_path` as the runtime on a node whose filesystem is mounted at `host_root` reads
/// it: each root (or the whole string, as `mode` takes it) under `host_root`.
pub fn config_path_on(config_path: &str, mode: ConfigPathMode, host_root: Option<&Path>) -> String {
    let Some(root) = host_root else {
        return config_path.to_string();
    };
    let on = |p: &str| {
        crate::host_path::on_host(Some(root), Path::new(p))
            .display()
            .to_string()
    };
    match mode {
        ConfigPathMode::WholeString => on(config_path),
        ConfigPathMode::SplitRoots => config_path
            .split(':')
            .map(|p| if p.is_empty() { String::new() } else { on(p) })
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// [`load_hosts`] on a node whose filesystem is mounted at `host_root`: the `config_path`
/// roots and the absolute `ca` / `client` paths of a hosts.toml are read under it.
pub fn load_hosts_on(
    config_path: &str,
    mode: ConfigPathMode,
    registry_host: &str,
    host_root: Option<&Path>,
) -> Result<HostsResolution, HostsDirError> {
    let config_path = &config_path_on(config_path, mode, host_root);
    let dir = try_find_host_dir(config_path, mode, registry_host)?;
    let mut warnings = Vec::new();
    let from_dir = match &dir {
        Some(dir) => {
            let loaded = lookup::load_host_dir(dir, host_root)?;
            warnings.extend(loaded.decode_warning);
            Some(loaded.hosts)
        }
        None => None,
    };
    let hosts = configure::configure_hosts(from_dir, registry_host, &mut warnings);
    Ok(HostsResolution {
        dir,
        hosts,
        warnings,
    })
}

/// Decodes one hosts.toml as containerd does (`parseHostsFile`, relative paths joined to
/// `dir`): `Ok` when containerd would use it, else the error it logs with `failed to decode`.
pub fn check_hosts_toml(dir: &Path, text: &str) -> Result<(), HostsFileError> {
    parse::parse_hosts_file(dir, text, None).map(|_| ())
}
