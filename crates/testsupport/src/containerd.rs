//! A real containerd (Debian's 1.6.20) as an oracle for registry host configuration: pulls
//! with `ctr images pull --hosts-dir` against test registries, and what containerd did.
//!
//! [`ContainerdHandle::start`] runs `containerd` as the current user with a generated config in
//! a temporary directory: its own root, state and gRPC socket, the CRI plugin and every
//! snapshotter but `native` disabled, content isolated per namespace (so every pull fetches
//! its blobs again); [`ContainerdHandle::start_cri`] keeps the CRI plugin, serving
//! `runtime.v1` on the same socket as on a node. It runs under `sh`, like the registry ([`crate::RegistryHandle`]): when
//! the handle is dropped or the test process exits, the shell's stdin closes and it stops
//! containerd and removes the directory.
//!
//! [`ContainerdHandle::pull`] runs `ctr --debug images pull --hosts-dir DIR` in a fresh
//! namespace (the resolver runs in `ctr`, so its debug log shows each host tried), then reads
//! the image record (`ctr images ls`) and the manifest (`ctr content get`).
//!
//! [`layout_cases`]: host directory layouts with the image containerd ends with, as data.

use crate::containerd_files::{CONFIG, CRI_CONFIG, SUPERVISOR};
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::process::{log_tail, pid_alive};

/// Why the oracle could not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OracleError {
    /// A file or directory could not be written.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `containerd`, `ctr` or `sh` could not be started.
    #[error("cannot run {program}: {source} (scripts/setup installs containerd)")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// containerd did not serve its socket in time, or exited.
    #[error("containerd did not start ({reason}); log {}:\n{log}", .log_file.display())]
    NotReady {
        /// What was seen.
        reason: String,
        /// containerd's log file.
        log_file: PathBuf,
        /// The end of the log.
        log: String,
    },
    /// A `ctr` command failed (for a pull: containerd refused or could not pull the image).
    #[error("ctr {command} failed ({status}): {stderr}")]
    Ctr {
        /// The subcommand and its main argument (no credentials).
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error without the debug lines (the error ctr printed).
        stderr: String,
        /// The debug log of the command (`ctr --debug`).
        debug_log: String,
    },
    /// `ctr` output that could not be read.
    #[error("unexpected ctr output for {what}: {output}")]
    Output {
        /// What was being read.
        what: String,
        /// The output.
        output: String,
    },
}

impl OracleError {
    /// The error `ctr` printed, for a failed command.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            OracleError::Ctr { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// One HTTP request the resolver or fetcher made (`msg="do request"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleRequest {
    /// `HEAD` or `GET`.
    pub method: String,
    /// The full URL (with the `?ns=` query for mirrors).
    pub url: String,
}

/// What the resolver and fetcher did, read from `ctr --debug`'s log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OracleTrace {
    /// The hosts the resolver tried, in order (`msg=resolving host=…`).
    pub resolve_hosts: Vec<String>,
    /// The host that resolved the reference (`msg=resolved … host=…`).
    pub resolved_host: Option<String>,
    /// Every request, in order.
    pub requests: Vec<OracleRequest>,
    /// The lines logged above debug level (`level=info|warning|error msg=…`), without the
    /// `time=` field.
    pub log: Vec<String>,
}

impl OracleTrace {
    /// Reads the debug lines of a `ctr --debug` run.
    pub fn from_debug_log(log: &str) -> OracleTrace {
        let mut trace = OracleTrace::default();
        for line in log.lines() {
            if line.contains(" level=") && !line.contains(" level=debug ") {
                let from = line.find("level=").unwrap_or(0);
                trace.log.push(line[from..].to_string());
            }
            match logrus_field(line, "msg").as_deref() {
                Some("resolving") => trace.resolve_hosts.extend(logrus_field(line, "host")),
                Some("resolved") => trace.resolved_host = logrus_field(line, "host"),
                Some("do request") => {
                    if let (Some(method), Some(url)) = (
                        logrus_field(line, "request.method"),
                        logrus_field(line, "url"),
                    ) {
                        trace.requests.push(OracleRequest { method, url });
                    }
                }
                _ => {}
            }
        }
        trace
    }
}

/// What a successful `ctr images pull` ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OraclePull {
    /// The reference pulled.
    pub reference: String,
    /// The namespace it was pulled in.
    pub namespace: String,
    /// The top-level manifest (or index) digest of the image record.
    pub image_digest: String,
    /// The config digest (of the linux/amd64 manifest for an index).
    pub config_digest: String,
    /// The hosts tried and the requests made.
    pub trace: OracleTrace,
}

/// How long to wait for the socket.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running containerd. Dropping it stops containerd and removes its directory.
#[derive(Debug)]
pub struct ContainerdHandle {
    /// The working directory (config, root, state, socket, log).
    pub dir: PathBuf,
    /// The gRPC socket (`ctr -a`).
    pub socket: PathBuf,
    /// containerd's log file.
    pub log_file: PathBuf,
    shell: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    namespaces: AtomicU64,
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> OracleError {
    OracleError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The program: `$PULLSIM_CONTAINERD` or `containerd` from `PATH`.
fn containerd_program() -> String {
    std::env::var("PULLSIM_CONTAINERD").unwrap_or_else(|_| "containerd".to_string())
}

/// The client: `$PULLSIM_CTR` or `ctr` from `PATH`.
fn ctr_program() -> String {
    std::env::var("PULLSIM_CTR").unwrap_or_else(|_| "ctr".to_string())
}

impl ContainerdHandle {
    /// Starts containerd (without its CRI plugin) and waits until its socket accepts
    /// connections (about 50 ms).
    pub fn start() -> Result<Self, OracleError> {
        Self::start_with(false)
    }

    /// Starts containerd with its CRI plugin serving `runtime.v1` on the same socket, as on a
    /// node (images pulled into the `k8s.io` namespace are the CRI's).
    pub fn start_cri() -> Result<Self, OracleError> {
        Self::start_with(true)
    }

    fn start_with(cri: bool) -> Result<Self, OracleError> {
        let temp = tempfile::Builder::new()
            .prefix("pullsim-containerd-")
            .tempdir()
            .map_err(|e| io("creating temp dir in", &std::env::temp_dir(), e))?;
        // The supervising shell removes the directory when containerd stops.
        let dir = temp.keep();
        let dir_str = dir.to_string_lossy().into_owned();
        let config = dir.join("config.toml");
        let text = if cri {
            CONFIG
                .replace("@CRI@", "")
                .replace("@CRI_CONFIG@", CRI_CONFIG)
        } else {
            CONFIG
                .replace("@CRI@", "\n  \"io.containerd.grpc.v1.cri\",")
                .replace("@CRI_CONFIG@", "")
        };
        std::fs::write(&config, text.replace("@DIR@", &dir_str))
            .map_err(|e| io("writing", &config, e))?;
        let log_file = dir.join("containerd.log");
        let socket = dir.join("containerd.sock");
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .arg(containerd_program())
            .arg(&config)
            .arg(&log_file)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| OracleError::Spawn {
                program: "sh".into(),
                source,
            })?;
        let stdin = shell.stdin.take();
        let mut line = String::new();
        if let Some(out) = shell.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let pid = line.trim().parse::<u32>().ok();
        let mut handle = ContainerdHandle {
            dir,
            socket,
            log_file,
            shell,
            stdin,
            pid: pid.unwrap_or(0),
            namespaces: AtomicU64::new(0),
        };
        if pid.is_none() {
            return Err(handle.not_ready(format!(
                "the supervising shell printed {:?} instead of a pid",
                line.trim()
            )));
        }
        let started = Instant::now();
        loop {
            if !pid_alive(handle.pid) {
                return Err(handle.not_ready("containerd exited".into()));
            }
            if UnixStream::connect(&handle.socket).is_ok() {
                return Ok(handle);
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(handle.not_ready(format!("no socket after {START_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn not_ready(&mut self, reason: String) -> OracleError {
        let log = log_tail(&self.log_file);
        self.stop_now();
        OracleError::NotReady {
            reason,
            log_file: self.log_file.clone(),
            log,
        }
    }

    fn ctr(&self, namespace: &str, args: &[&str]) -> Result<(String, String), OracleError> {
        let out = Command::new(ctr_program())
            .arg("-a")
            .arg(&self.socket)
            .arg("-n")
            .arg(namespace)
            .args(args)
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| OracleError::Spawn {
                program: ctr_program(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok((stdout, stderr))
        } else {
            let (debug, rest): (Vec<&str>, Vec<&str>) =
                stderr.lines().partition(|l| l.contains("level=debug"));
            // Never echo the --user argument.
            let command = args
                .iter()
                .take_while(|a| **a != "--user")
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            Err(OracleError::Ctr {
                command,
                status: out.status.to_string(),
                stderr: rest.join("\n"),
                debug_log: debug.join("\n"),
            })
        }
    }

    /// `ctr images pull --hosts-dir hosts_dir [--user u:p] reference` in a new namespace, and
    /// what it ended with. `reference` must be fully qualified (`127.0.0.1:PORT/repo:tag`).
    pub fn pull(
        &self,
        reference: &str,
        hosts_dir: &Path,
        user: Option<(&str, &str)>,
    ) -> Result<OraclePull, OracleError> {
        let n = self.namespaces.fetch_add(1, Ordering::Relaxed);
        self.pull_in(&format!("oracle-{n}"), reference, hosts_dir, user)
    }

    /// [`ContainerdHandle::pull`] into `namespace` (`k8s.io`: the CRI's images).
    pub fn pull_in(
        &self,
        namespace: &str,
        reference: &str,
        hosts_dir: &Path,
        user: Option<(&str, &str)>,
    ) -> Result<OraclePull, OracleError> {
        let namespace = namespace.to_string();
        let hosts = hosts_dir.to_string_lossy().into_owned();
        let user_arg = user.map(|(u, p)| format!("{u}:{p}"));
        let mut args = vec![
            "--debug",
            "images",
            "pull",
            "--snapshotter",
            "native",
            "--hosts-dir",
            &hosts,
        ];
        if let Some(u) = &user_arg {
            args.extend(["--user", u]);
        }
        args.push(reference);
        // ctr's stderr: the debug log (and any warning) of the client-side resolver.
        let (_, debug) = self.ctr(&namespace, &args)?;
        let (ls, _) = self.ctr(&namespace, &["images", "ls"])?;
        let image_digest = ls
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.first() == Some(&reference))
            .and_then(|cols| cols.get(2).map(|d| d.to_string()))
            .ok_or_else(|| OracleError::Output {
                what: format!("ctr images ls (looking for {reference})"),
                output: ls.clone(),
            })?;
        let config_digest = self.config_digest(&namespace, &image_digest)?;
        Ok(OraclePull {
            reference: reference.to_string(),
            namespace,
            image_digest,
            config_digest,
            trace: OracleTrace::from_debug_log(&debug),
        })
    }

    /// The config digest of a manifest, or of the linux/amd64 (else first) manifest of an index.
    fn config_digest(&self, namespace: &str, digest: &str) -> Result<String, OracleError> {
        let (text, _) = self.ctr(namespace, &["content", "get", digest])?;
        let bad = |what: &str| OracleError::Output {
            what: format!("{what} of {digest}"),
            output: text.clone(),
        };
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad("JSON"))?;
        if let Some(config) = doc["config"]["digest"].as_str() {
            return Ok(config.to_string());
        }
        let manifests = doc["manifests"]
            .as_array()
            .ok_or_else(|| bad("manifests"))?;
        let chosen = manifests
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .or_else(|| manifests.first())
            .and_then(|m| m["digest"].as_str())
            .ok_or_else(|| bad("manifest digest"))?;
        self.config_digest(namespace, chosen)
    }

    /// The end of containerd's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_file)
    }

    fn stop_now(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.shell.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    if self.pid != 0 {
                        // SAFETY: kill(2) with the pid of the containerd we started.
                        unsafe {
                            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
                        }
                    }
                    let _ = self.shell.kill();
                    let _ = self.shell.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Stops containerd and removes its directory.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for ContainerdHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The value of `key=` in a logrus text line: a Go-quoted string or a bare word.
pub fn logrus_field(line: &str, key: &str) -> Option<String> {
    let needle = format!(" {key}=");
    let start = line.find(&needle)? + needle.len();
    let rest = &line[start..];
    let Some(quoted) = rest.strip_prefix('"') else {
        return Some(rest.split(' ').next().unwrap_or("").to_string());
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Which registry of a [`LayoutCase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The registry named in the image reference.
    Upstream,
    /// The mirror configured in the host directory.
    Mirror,
}

/// How the mirror of a [`LayoutCase`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorState {
    /// Anonymous, serving its own image under the case's repository and tag.
    Serves,
    /// Started to get a port, then stopped: connections are refused.
    Down,
    /// Anonymous, without the repository (404).
    MissingRepo,
    /// htpasswd (`alice`/`alice-pass` …), serving its own image.
    Htpasswd,
}

/// What the pull ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The image of that registry (the same tag holds a different image on each).
    Image(Side),
    /// The pull fails (the upstream is never tried).
    Fails,
}

/// One host directory layout and what containerd does with it. The upstream registry is
/// anonymous and serves its own image; `upstream` and `mirror` are `127.0.0.1:PORT`.
#[derive(Debug, Clone)]
pub struct LayoutCase {
    /// Short name.
    pub name: &'static str,
    /// What the case shows.
    pub description: &'static str,
    /// The mirror's state.
    pub mirror: MirrorState,
    /// The pod's pull secret (`ctr --user`; sent to every host, as CRI sends the kubelet's).
    pub user: Option<(&'static str, &'static str)>,
    /// The hosts allowed to resolve a tag (pull + resolve), in containerd's order: the
    /// host list the directory gives.
    pub resolvers: Vec<Side>,
    /// The registries asked to resolve the tag, in order (`msg=resolving`): a prefix of
    /// `resolvers`, up to the first that answers.
    pub resolve_order: Vec<Side>,
    /// What the pull ends with.
    pub outcome: Outcome,
    files: fn(&str, &str) -> Vec<(String, String)>,
}

impl LayoutCase {
    /// The files of the host directory: (path relative to the root, content).
    pub fn files(&self, upstream: &str, mirror: &str) -> Vec<(String, String)> {
        (self.files)(upstream, mirror)
    }

    /// Writes the files under `root`.
    pub fn write(&self, root: &Path, upstream: &str, mirror: &str) -> Result<(), OracleError> {
        for (rel, text) in self.files(upstream, mirror) {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
            }
            std::fs::write(&path, text).map_err(|e| io("writing", &path, e))?;
        }
        Ok(())
    }
}

/// containerd's directory name for a `host:port` (`hosts.go` `hostDirectory`).
fn host_port_dir(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, p)) => format!("{h}_{p}_"),
        None => host.to_string(),
    }
}

fn mirror_table(mirror: &str, capabilities: &str) -> String {
    format!("[host.\"http://{mirror}\"]\n  capabilities = [{capabilities}]\n")
}

fn pull_resolve(u: &str, m: &str) -> Vec<(String, String)> {
    vec![(
        format!("{}/hosts.toml", host_port_dir(u)),
        mirror_table(m, "\"pull\", \"resolve\""),
    )]
}

/// The layouts, each with the result containerd 1.6.20 (`ctr`) gives; containerd 2.x gives
/// the same for these (every hosts.toml has a host table; the mirror is plain HTTP).
pub fn layout_cases() -> Vec<LayoutCase> {
    use MirrorState::*;
    use Side::*;
    vec![
        LayoutCase {
            name: "mirror-serves",
            description: "host_port_/hosts.toml with a pull+resolve mirror that has the image",
            mirror: Serves,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror],
            outcome: Outcome::Image(Mirror),
            files: pull_resolve,
        },
        LayoutCase {
            name: "mirror-down",
            description: "the mirror refuses connections: containerd tries the next host",
            mirror: Down,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror, Upstream],
            outcome: Outcome::Image(Upstream),
            files: pull_resolve,
        },
        LayoutCase {
            name: "mirror-404",
            description: "the mirror lacks the repository (404): the next host",
            mirror: MissingRepo,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror, Upstream],
            outcome: Outcome::Image(Upstream),
            files: pull_resolve,
        },
        LayoutCase {
            name: "server-is-mirror",
            description: "server = the mirror (plus its host table): the upstream is never tried, so a 404 at the mirror fails the pull",
            mirror: MissingRepo,
            user: None,
            resolvers: vec![Mirror, Mirror],
            resolve_order: vec![Mirror, Mirror],
            outcome: Outcome::Fails,
            files: |u, m| {
                vec![(
                    format!("{}/hosts.toml", host_port_dir(u)),
                    format!(
                        "server = \"http://{m}\"\n\n{}",
                        mirror_table(m, "\"pull\", \"resolve\"")
                    ),
                )]
            },
        },
        LayoutCase {
            name: "default-dir",
            description: "_default/hosts.toml applies to a registry without its own directory",
            mirror: Serves,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror],
            outcome: Outcome::Image(Mirror),
            files: |_, m| {
                vec![(
                    "_default/hosts.toml".to_string(),
                    mirror_table(m, "\"pull\", \"resolve\""),
                )]
            },
        },
        LayoutCase {
            name: "host-dir-shadows-default",
            description: "a host_port_ directory without hosts.toml wins over _default (never merged): upstream only",
            mirror: Serves,
            user: None,
            resolvers: vec![Upstream],
            resolve_order: vec![Upstream],
            outcome: Outcome::Image(Upstream),
            files: |u, m| {
                vec![
                    (
                        "_default/hosts.toml".to_string(),
                        mirror_table(m, "\"pull\", \"resolve\""),
                    ),
                    (
                        format!("{}/README", host_port_dir(u)),
                        "no hosts.toml\n".to_string(),
                    ),
                ]
            },
        },
        LayoutCase {
            name: "host-colon-port-dir",
            description: "a directory named host:port is found too",
            mirror: Serves,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror],
            outcome: Outcome::Image(Mirror),
            files: |u, m| {
                vec![(
                    format!("{u}/hosts.toml"),
                    mirror_table(m, "\"pull\", \"resolve\""),
                )]
            },
        },
        LayoutCase {
            name: "pull-only-mirror",
            description: "a pull-only mirror never resolves a tag: the upstream resolves it, blobs are tried at the mirror first",
            mirror: Serves,
            user: None,
            resolvers: vec![Upstream],
            resolve_order: vec![Upstream],
            outcome: Outcome::Image(Upstream),
            files: |u, m| {
                vec![(
                    format!("{}/hosts.toml", host_port_dir(u)),
                    mirror_table(m, "\"pull\""),
                )]
            },
        },
        LayoutCase {
            name: "undecodable-hosts-toml",
            description: "an unknown capability makes hosts.toml undecodable: containerd logs `failed to decode` and uses the directory's certificate files, so only the upstream",
            mirror: Serves,
            user: None,
            resolvers: vec![Upstream],
            resolve_order: vec![Upstream],
            outcome: Outcome::Image(Upstream),
            files: |u, m| {
                vec![(
                    format!("{}/hosts.toml", host_port_dir(u)),
                    mirror_table(m, "\"pull\", \"fetch\""),
                )]
            },
        },
        LayoutCase {
            name: "htpasswd-mirror-with-secret",
            description: "the pod's secret is offered to the mirror too: an htpasswd mirror accepting it serves the image",
            mirror: Htpasswd,
            user: Some(("alice", "alice-pass")),
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror],
            outcome: Outcome::Image(Mirror),
            files: pull_resolve,
        },
        LayoutCase {
            name: "htpasswd-mirror-without-secret",
            description: "no secret: the mirror's 401 sends containerd to the next host",
            mirror: Htpasswd,
            user: None,
            resolvers: vec![Mirror, Upstream],
            resolve_order: vec![Mirror, Upstream],
            outcome: Outcome::Image(Upstream),
            files: pull_resolve,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logrus_fields() {
        let line = r#"time="t" level=debug msg="do request" host="127.0.0.1:1" request.method=HEAD url="http://127.0.0.1:1/v2/a?ns=b\"c""#;
        assert_eq!(logrus_field(line, "msg").as_deref(), Some("do request"));
        assert_eq!(
            logrus_field(line, "request.method").as_deref(),
            Some("HEAD")
        );
        assert_eq!(
            logrus_field(line, "url").as_deref(),
            Some("http://127.0.0.1:1/v2/a?ns=b\"c")
        );
        assert_eq!(logrus_field(line, "missing"), None);
    }

    #[test]
    fn case_files_name_the_host_directory() {
        let cases = layout_cases();
        let c = cases.iter().find(|c| c.name == "mirror-serves").unwrap();
        assert_eq!(
            c.files("127.0.0.1:5000", "127.0.0.1:6000"),
            [(
                "127.0.0.1_5000_/hosts.toml".to_string(),
                "[host.\"http://127.0.0.1:6000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
                    .to_string()
            )]
        );
    }
}
