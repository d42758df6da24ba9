//! The kubelet of a real node, as `pullsim node check` finds it: its command line when the
//! process is visible (`/proc/PID/cmdline`), else its systemd unit and drop-ins
//! (`Environment=`, `EnvironmentFile=`, the last `ExecStart=`, `$VAR` / `${VAR}` expanded as
//! systemd expands them), else the well-known paths of kubeadm, EKS, GKE and k3s nodes. Every
//! path is the node's own (`/var/lib/kubelet/config.yaml`); read it under the host root with
//! [`pullsim_runtime::on_host`].
//!
//! Well-known layouts (sources in the comments of [`WELL_KNOWN`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pullsim_runtime::on_host;

/// Where the kubelet's flags were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagSource {
    /// A running kubelet's command line (`/proc/PID/cmdline`).
    Process {
        /// The process ID.
        pid: u32,
    },
    /// The kubelet's systemd unit and its drop-ins, in the order systemd applies them.
    Systemd {
        /// The unit and drop-in files (node paths).
        files: Vec<PathBuf>,
    },
    /// No command line and no unit: the well-known files of a distribution.
    WellKnown {
        /// `kubeadm`, `eks`, `gke`, `k3s`.
        layout: &'static str,
    },
    /// Nothing found: the kubelet's defaults.
    Defaults,
}

impl std::fmt::Display for FlagSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagSource::Process { pid } => write!(f, "the running kubelet (/proc/{pid}/cmdline)"),
            FlagSource::Systemd { files } => write!(
                f,
                "the kubelet's systemd unit ({})",
                files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FlagSource::WellKnown { layout } => {
                write!(f, "the well-known paths of a {layout} node")
            }
            FlagSource::Defaults => f.write_str("the kubelet's defaults (no kubelet found)"),
        }
    }
}

/// What `node check` needs from the kubelet's flags (node paths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletOnHost {
    /// Where they were found.
    pub source: FlagSource,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--image-credential-provider-config`.
    pub provider_config: Option<PathBuf>,
    /// `--image-credential-provider-bin-dir`.
    pub provider_bin_dir: Option<PathBuf>,
    /// `--root-dir` (default `/var/lib/kubelet`): the node's `config.json` is looked for here
    /// first, and the KEP-2535 records live under it.
    pub root_dir: PathBuf,
    /// `--container-runtime-endpoint`, when given.
    pub runtime_endpoint: Option<String>,
}

/// The kubelet's default `--root-dir`.
pub const DEFAULT_ROOT_DIR: &str = "/var/lib/kubelet";

/// A distribution's kubelet files: (layout, `--config`, provider config, provider bin dir).
type Layout = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// Well-known kubelet files, tried in order; a layout applies when its config file exists
/// (k3s: its generated containerd config). Sources: kubeadm's drop-in `10-kubeadm.conf`
/// (`--config=/var/lib/kubelet/config.yaml`); EKS AL2023 nodeadm (`--config
/// /etc/kubernetes/kubelet/config.json`, ECR provider `/etc/eks/image-credential-provider/
/// config.json` and its directory) and AL2 (`/etc/kubernetes/kubelet/kubelet-config.json`);
/// GKE (`/home/kubernetes/kubelet-config.yaml`, `/etc/srv/kubernetes/cri_auth_config.yaml`,
/// `/home/kubernetes/bin`); k3s (`/var/lib/rancher/credentialprovider/config.yaml` and `bin`).
pub const WELL_KNOWN: &[Layout] = &[
    ("kubeadm", "/var/lib/kubelet/config.yaml", None, None),
    (
        "eks",
        "/etc/kubernetes/kubelet/config.json",
        Some("/etc/eks/image-credential-provider/config.json"),
        Some("/etc/eks/image-credential-provider"),
    ),
    (
        "eks",
        "/etc/kubernetes/kubelet/kubelet-config.json",
        Some("/etc/eks/image-credential-provider/config.json"),
        Some("/etc/eks/image-credential-provider"),
    ),
    (
        "gke",
        "/home/kubernetes/kubelet-config.yaml",
        Some("/etc/srv/kubernetes/cri_auth_config.yaml"),
        Some("/home/kubernetes/bin"),
    ),
    (
        "k3s",
        // k3s generates its containerd config here; a directory alone would not do (a pod
        // mounting a subdirectory has the parents as mount points).
        "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
        Some("/var/lib/rancher/credentialprovider/config.yaml"),
        Some("/var/lib/rancher/credentialprovider/bin"),
    ),
];

/// The unit directories systemd reads, lowest precedence first.
const UNIT_DIRS: &[&str] = &[
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/system",
    "/etc/systemd/system",
];

/// Find the kubelet's flags on the node mounted at `host_root` (`/` on the node itself).
pub fn discover(host_root: &Path) -> KubeletOnHost {
    if let Some((pid, args)) = from_proc(host_root) {
        return from_args(FlagSource::Process { pid }, &args);
    }
    if let Some((files, args)) = from_systemd(host_root) {
        return from_args(FlagSource::Systemd { files }, &args);
    }
    for (layout, config, provider, bin) in WELL_KNOWN {
        if on_host(Some(host_root), Path::new(config)).exists() {
            let exists = |p: &Option<&str>| {
                p.map(PathBuf::from)
                    .filter(|p| on_host(Some(host_root), p).exists())
            };
            return KubeletOnHost {
                source: FlagSource::WellKnown { layout },
                config: (*layout != "k3s").then(|| PathBuf::from(config)),
                provider_config: exists(provider),
                provider_bin_dir: exists(bin),
                root_dir: PathBuf::from(DEFAULT_ROOT_DIR),
                runtime_endpoint: None,
            };
        }
    }
    from_args(FlagSource::Defaults, &[])
}

/// The flags `node check` reads, from a kubelet argument list (pflag: `--flag=value` or
/// `--flag value`; the last occurrence wins).
pub fn from_args(source: FlagSource, args: &[String]) -> KubeletOnHost {
    let mut flags: BTreeMap<&str, String> = BTreeMap::new();
    let wanted = [
        "config",
        "image-credential-provider-config",
        "image-credential-provider-bin-dir",
        "root-dir",
        "container-runtime-endpoint",
    ];
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(key) = wanted.iter().find(|w| **w == name) else {
            continue;
        };
        let value = match value {
            Some(v) => v,
            None => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => continue,
            },
        };
        flags.insert(key, value);
    }
    let path = |k: &str| flags.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    KubeletOnHost {
        source,
        config: path("config"),
        provider_config: path("image-credential-provider-config"),
        provider_bin_dir: path("image-credential-provider-bin-dir"),
        root_dir: path("root-dir").unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT_DIR)),
        runtime_endpoint: flags.get("container-runtime-endpoint").cloned(),
    }
}

/// A running kubelet under `host_root/proc`: the lowest PID whose first argument's file name
/// is `kubelet`.
fn from_proc(host_root: &Path) -> Option<(u32, Vec<String>)> {
    let proc_dir = on_host(Some(host_root), Path::new("/proc"));
    let mut pids: Vec<u32> = std::fs::read_dir(&proc_dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let bytes = std::fs::read(proc_dir.join(pid.to_string()).join("cmdline")).ok()?;
        let args: Vec<String> = bytes
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let exe = Path::new(args.first()?).file_name()?.to_str()?.to_string();
        (exe == "kubelet").then_some((pid, args))
    })
}

/// The kubelet's systemd unit: the unit file, its drop-ins (`kubelet.service.d/*.conf`, by
/// file name, a later directory's file replacing an earlier one's of the same name), the
/// environment they set, and the last `ExecStart=` (an empty one resets the list) expanded.
fn from_systemd(host_root: &Path) -> Option<(Vec<PathBuf>, Vec<String>)> {
    let unit = UNIT_DIRS
        .iter()
        .rev()
        .map(|d| Path::new(d).join("kubelet.service"))
        .find(|p| on_host(Some(host_root), p).is_file());
    let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in UNIT_DIRS {
        let d = Path::new(dir).join("kubelet.service.d");
        let Ok(rd) = std::fs::read_dir(on_host(Some(host_root), &d)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") {
                dropins.insert(name.clone(), d.join(name));
            }
        }
    }
    let files: Vec<PathBuf> = unit.into_iter().chain(dropins.into_values()).collect();
    if files.is_empty() {
        return None;
    }
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut exec: Option<String> = None;
    for f in &files {
        let text = std::fs::read_to_string(on_host(Some(host_root), f)).ok()?;
        for (key, value) in unit_lines(&text) {
            match key.as_str() {
                "Environment" => {
                    for word in split_words(&value) {
                        if let Some((k, v)) = word.split_once('=') {
                            env.insert(k.to_string(), v.to_string());
                        }
                    }
                }
                "EnvironmentFile" => {
                    let path = value.trim().trim_start_matches('-');
                    if let Ok(t) =
                        std::fs::read_to_string(on_host(Some(host_root), Path::new(path)))
                    {
                        env.extend(env_file(&t));
                    }
                }
                "ExecStart" if value.trim().is_empty() => exec = None,
                "ExecStart" => exec = Some(value),
                _ => {}
            }
        }
    }
    let exec = exec?;
    Some((files, expand_exec(&exec, &env)))
}

/// `Key=Value` lines of the `[Service]` section, backslash continuations joined.
fn unit_lines(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let t = full.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') {
            section = t.to_string();
            continue;
        }
        if section == "[Service]"
            && let Some((k, v)) = t.split_once('=')
        {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// An `EnvironmentFile`: `KEY=VALUE` lines, values optionally quoted, `#` comments.
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') || l.starts_with(';') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Words as systemd splits them: whitespace outside quotes, quotes removed.
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `ExecStart=` with `${VAR}` replaced in place and a word that is exactly `$VAR` split into
/// the variable's words (systemd.service(5), "Command lines").
fn expand_exec(exec: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for word in split_words(exec) {
        if let Some(name) = word.strip_prefix('$').filter(|n| !n.starts_with('{')) {
            if let Some(v) = env.get(name) {
                out.extend(split_words(v));
            }
            continue;
        }
        let mut w = word.clone();
        for (k, v) in env {
            w = w.replace(&format!("${{{k}}}"), v);
        }
        out.push(w);
    }
    // The binary may carry systemd's prefixes (`-`, `@`, `+`, `!`).
    if let Some(first) = out.first_mut() {
        *first = first.trim_start_matches(['-', '@', '+', '!']).to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let p = on_host(Some(root), Path::new(path));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn kubeadm_unit_and_drop_in() {
        // kubeadm's packages: the unit, then 10-kubeadm.conf (release/cmd/krel/templates/
        // latest/kubeadm/10-kubeadm.conf), KUBELET_KUBEADM_ARGS from kubeadm-flags.env.
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            r,
            "/usr/lib/systemd/system/kubelet.service",
            "[Unit]\nDescription=kubelet\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n",
        );
        write(
            r,
            "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
            "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\nEnvironment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\nEnvironmentFile=-/etc/default/kubelet\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
        );
        write(
            r,
            "/var/lib/kubelet/kubeadm-flags.env",
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.10\"\n",
        );
        write(
            r,
            "/etc/default/kubelet",
            "KUBELET_EXTRA_ARGS=--image-credential-provider-config=/etc/kubernetes/cp.yaml --image-credential-provider-bin-dir /usr/libexec/kubernetes/cp\n",
        );
        let k = discover(r);
        assert!(
            matches!(k.source, FlagSource::Systemd { ref files } if files.len() == 2),
            "{k:?}"
        );
        assert_eq!(
            k.config.as_deref(),
            Some(Path::new("/var/lib/kubelet/config.yaml"))
        );
        assert_eq!(
            k.provider_config.as_deref(),
            Some(Path::new("/etc/kubernetes/cp.yaml"))
        );
        assert_eq!(
            k.provider_bin_dir.as_deref(),
            Some(Path::new("/usr/libexec/kubernetes/cp"))
        );
        assert_eq!(
            k.runtime_endpoint.as_deref(),
            Some("unix:///var/run/containerd/containerd.sock")
        );
        assert_eq!(k.root_dir, Path::new(DEFAULT_ROOT_DIR));
    }

    #[test]
    fn a_running_kubelet_wins_over_its_unit() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            r,
            "/etc/systemd/system/kubelet.service",
            "[Service]\nExecStart=/usr/bin/kubelet --config=/unit.yaml\n",
        );
        write(r, "/proc/1/cmdline", "/sbin/init\0");
        write(
            r,
            "/proc/812/cmdline",
            "/usr/bin/kubelet\0--config\0/etc/kubernetes/kubelet/config.json\0--root-dir=/data/kubelet\0",
        );
        let k = discover(r);
        assert_eq!(k.source, FlagSource::Process { pid: 812 });
        assert_eq!(
            k.config.as_deref(),
            Some(Path::new("/etc/kubernetes/kubelet/config.json"))
        );
        assert_eq!(k.root_dir, Path::new("/data/kubelet"));
    }

    #[test]
    fn well_known_layouts_when_nothing_else_is_visible() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "/etc/kubernetes/kubelet/config.json", "{}");
        write(r, "/etc/eks/image-credential-provider/config.json", "{}");
        let k = discover(r);
        assert_eq!(k.source, FlagSource::WellKnown { layout: "eks" });
        assert_eq!(
            k.provider_config.as_deref(),
            Some(Path::new("/etc/eks/image-credential-provider/config.json"))
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(discover(empty.path()).source, FlagSource::Defaults);
    }

    #[test]
    fn exec_start_expansion_follows_systemd() {
        let env: BTreeMap<String, String> = [("A".to_string(), "--x=1 --y 2".to_string())].into();
        assert_eq!(
            expand_exec("-/usr/bin/kubelet $A ${A} \"--z=a b\"", &env),
            [
                "/usr/bin/kubelet",
                "--x=1",
                "--y",
                "2",
                "--x=1 --y 2",
                "--z=a b"
            ]
        );
    }
}
