//! Running `docker-registry` as a child that cannot outlive the process that started it.
//!
//! The registry runs under `sh -c`: the shell starts it in the background, prints its pid, then
//! blocks reading its stdin, which is a pipe held by [`RegistryProcess`]. When the handle is dropped
//! — or the whole test process exits or is killed, even with `static` handles that are never
//! dropped — the pipe closes, `read` returns, and the shell kills the registry, waits for it and
//! removes the temporary directory it was given.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::RegistryError;

const SUPERVISOR: &str = r#""$1" serve "$2" </dev/null >>"$3" 2>&1 &
p=$!
echo "$p"
read _ignored
kill "$p" 2>/dev/null
wait "$p"
if [ -n "$4" ]; then rm -rf "$4"; fi
"#;

/// How long to wait for `GET /v2/` to answer.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The registry program: `$PULLSIM_DOCKER_REGISTRY` or `docker-registry` from `PATH`.
pub(crate) fn registry_program() -> String {
    std::env::var("PULLSIM_DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".to_string())
}

/// A free port on 127.0.0.1, never the same twice in this process.
pub fn free_loopback_port() -> Result<u16, RegistryError> {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| RegistryError::Io {
            what: "binding a free port on",
            path: PathBuf::from("127.0.0.1:0"),
            source: e,
        })?;
        let port = listener.local_addr().map_err(|e| RegistryError::Io {
            what: "reading the address of",
            path: PathBuf::from("127.0.0.1:0"),
            source: e,
        })?;
        let mut seen = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get_or_insert_with(HashSet::new).insert(port.port()) {
            return Ok(port.port());
        }
    }
    Err(RegistryError::Config {
        field: "http.addr",
        reason: "no free port found on 127.0.0.1".into(),
    })
}

/// Why a start attempt failed.
pub(crate) enum StartFailure {
    /// The port was taken in the meantime: try another.
    AddrInUse,
    /// Anything else.
    Fatal(RegistryError),
}

/// The running registry under its supervising shell.
#[derive(Debug)]
pub(crate) struct RegistryProcess {
    shell: Child,
    stdin: Option<ChildStdin>,
    /// Pid of the docker-registry process itself.
    pub(crate) pid: u32,
}

impl RegistryProcess {
    /// Starts the registry with `config`, logging to `log_file`; `cleanup` is removed after it stops.
    pub(crate) fn spawn(
        config: &Path,
        log_file: &Path,
        cleanup: Option<&Path>,
        host: &str,
    ) -> Result<Self, StartFailure> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)
            .map_err(|e| {
                StartFailure::Fatal(RegistryError::Io {
                    what: "opening the registry log",
                    path: log_file.to_path_buf(),
                    source: e,
                })
            })?;
        let program = registry_program();
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .arg(&program)
            .arg(config)
            .arg(log_file)
            .arg(cleanup.map(Path::as_os_str).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                StartFailure::Fatal(RegistryError::Spawn {
                    program: "sh".into(),
                    source: e,
                })
            })?;
        let stdin = shell.stdin.take();
        let mut line = String::new();
        if let Some(out) = shell.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let Ok(pid) = line.trim().parse::<u32>() else {
            let _ = shell.kill();
            let _ = shell.wait();
            return Err(StartFailure::Fatal(RegistryError::Exited {
                host: host.to_string(),
                log_file: log_file.to_path_buf(),
                log: format!(
                    "supervising shell printed {:?} instead of a pid; {}",
                    line.trim(),
                    log_tail(log_file)
                ),
            }));
        };
        let mut process = RegistryProcess { shell, stdin, pid };
        match process.wait_ready(host, log_file) {
            Ok(()) => Ok(process),
            Err(e) => {
                process.stop();
                Err(e)
            }
        }
    }

    fn wait_ready(&mut self, host: &str, log_file: &Path) -> Result<(), StartFailure> {
        let started = Instant::now();
        let addr: SocketAddr = host.parse().map_err(|_| {
            StartFailure::Fatal(RegistryError::Config {
                field: "http.addr",
                reason: format!("{host:?} is not an address"),
            })
        })?;
        loop {
            if !pid_alive(self.pid) {
                let log = log_tail(log_file);
                if log.contains("address already in use") {
                    return Err(StartFailure::AddrInUse);
                }
                return Err(StartFailure::Fatal(RegistryError::Exited {
                    host: host.to_string(),
                    log_file: log_file.to_path_buf(),
                    log,
                }));
            }
            if probe_v2(addr) && pid_alive(self.pid) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartFailure::Fatal(RegistryError::NotReady {
                    host: host.to_string(),
                    waited: started.elapsed(),
                    log_file: log_file.to_path_buf(),
                    log: log_tail(log_file),
                }));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Closes the supervisor's stdin (it kills the registry) and waits for the shell.
    pub(crate) fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.shell.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    // SAFETY: kill(2) with a pid we started; no memory is involved.
                    unsafe {
                        libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
                    }
                    let _ = self.shell.kill();
                    let _ = self.shell.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `pid` is a live (not zombie) process.
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself contain ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start())
            .is_some_and(|rest| !rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Sends `GET /v2/` over plain TCP; true when anything HTTP answers (a TLS server answers a
/// plain request with HTTP 400, which also shows it is listening).
fn probe_v2(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).is_ok() && &buf == b"HTTP/"
}

/// The last 4 KiB of the log file (or why it could not be read).
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(4096);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("(log unreadable: {e})"),
    }
}
