//! [`RegistryHandle`]: Debian's `docker-registry` (distribution 2.8.2) on `127.0.0.1:<free port>`
//! in one of four [`Mode`]s, with a Rust token server for [`Mode::Token`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::RegistryError;
use crate::certs::{TlsMaterial, TokenKey};
use crate::process::{RegistryProcess, StartFailure, free_loopback_port};
use crate::push::{PushTarget, push_layout};
use crate::token::{AclRule, TokenRequest, TokenServer, TokenServerConfig};

/// The `auth.token.service` the registry is configured with (the JWT `aud`).
pub const TOKEN_SERVICE: &str = "pullsim-registry";
/// The `auth.token.issuer` (the JWT `iss`).
pub const TOKEN_ISSUER: &str = "pullsim-token-issuer";
/// The `auth.htpasswd.realm`.
pub const HTPASSWD_REALM: &str = "pullsim-registry";

/// How the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// No authentication, plain HTTP.
    Anonymous,
    /// `auth.htpasswd` (bcrypt), Basic challenge; every user may pull and push everything.
    Htpasswd,
    /// `auth.token` with the crate's token server; per-repository access from the ACL.
    Token,
    /// No authentication, HTTPS with a certificate from a test CA ([`RegistryHandle::ca_file`]).
    Tls,
}

impl Mode {
    /// All modes.
    pub const ALL: [Mode; 4] = [Mode::Anonymous, Mode::Htpasswd, Mode::Token, Mode::Tls];

    /// The lower-case name: `anonymous`, `htpasswd`, `token`, `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Anonymous => "anonymous",
            Mode::Htpasswd => "htpasswd",
            Mode::Token => "token",
            Mode::Tls => "tls",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| RegistryError::Config {
                field: "mode",
                reason: format!("{s:?} is not one of anonymous, htpasswd, token, tls"),
            })
    }
}

/// Users, access rules and options of a test registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Users who may log in (htpasswd and token modes). Default: `alice`/`alice-pass`, `bob`/`bob-pass`.
    pub users: Vec<(String, String)>,
    /// Token mode: `(user, rule)` where rule is `GLOB` (pull) or `GLOB:ACTION[,ACTION]`, e.g.
    /// `("alice", "team/*")`, `("bob", "other/*:pull,push")`. `*` matches across `/`.
    /// Default: alice → `team/*` and `library/*`; bob → `other/*`.
    pub acl: Vec<(String, String)>,
    /// The user [`RegistryHandle::push`] logs in as; it may pull and push every repository in all
    /// modes. Default `admin`/`admin-pass`.
    pub push_user: (String, String),
    /// Token mode: rules (same syntax as in `acl`) for requests without credentials. Default: none,
    /// so anonymous tokens carry no access and the registry answers 401.
    pub anonymous_acl: Vec<String>,
    /// Token mode: lifetime of issued tokens. Default 300 s. (The registry allows 60 s of clock
    /// skew past `exp`.)
    pub token_ttl: Duration,
    /// Serve HTTPS (implied by [`Mode::Tls`]; adds TLS to htpasswd and token modes).
    pub tls: bool,
    /// Directory for config, storage, certificates and log. Default: a fresh temporary directory,
    /// removed when the registry stops (also when the process exits without dropping the handle).
    pub work_dir: Option<PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        RegistryConfig {
            users: vec![pair("alice", "alice-pass"), pair("bob", "bob-pass")],
            acl: vec![
                pair("alice", "team/*"),
                pair("alice", "library/*"),
                pair("bob", "other/*"),
            ],
            push_user: pair("admin", "admin-pass"),
            anonymous_acl: Vec::new(),
            token_ttl: Duration::from_secs(300),
            tls: false,
            work_dir: None,
        }
    }
}

impl RegistryConfig {
    fn validate(&self) -> Result<Vec<AclRule>, RegistryError> {
        for (user, _) in self.users.iter().chain(std::iter::once(&self.push_user)) {
            if user.is_empty() || user.contains([':', '\n', ' ']) {
                return Err(RegistryError::Config {
                    field: "users",
                    reason: format!(
                        "user name {user:?} is empty or contains ':', space or newline"
                    ),
                });
            }
        }
        let mut rules = Vec::new();
        for (user, spec) in &self.acl {
            if !self.users.iter().any(|(u, _)| u == user) && *user != self.push_user.0 {
                return Err(RegistryError::Config {
                    field: "acl",
                    reason: format!("user {user:?} is not in users"),
                });
            }
            rules.push(AclRule::parse(Some(user), spec)?);
        }
        for spec in &self.anonymous_acl {
            rules.push(AclRule::parse(None, spec)?);
        }
        Ok(rules)
    }
}

/// A running test registry. Dropping it stops the registry (and its token server).
#[derive(Debug)]
pub struct RegistryHandle {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The mode it was started in.
    pub mode: Mode,
    /// The users who may log in (without the push user).
    pub users: Vec<(String, String)>,
    /// The user with pull and push access everywhere (used by [`RegistryHandle::push`]).
    pub push_user: (String, String),
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// The CA certificate (PEM) that signed the server certificate, when TLS.
    pub ca_file: Option<PathBuf>,
    /// A directory holding only `ca.crt` (for skopeo's `--dest-cert-dir` / docker's `certs.d`), when TLS.
    pub cert_dir: Option<PathBuf>,
    /// Token mode: the realm URL (`http://127.0.0.1:PORT/token`).
    pub token_realm: Option<String>,
    /// The working directory (config, storage, log).
    pub dir: PathBuf,
    /// The registry's log file.
    pub log_file: PathBuf,
    process: RegistryProcess,
    token: Option<TokenServer>,
    _temp: Option<tempfile::TempDir>,
}

impl RegistryHandle {
    /// Starts a registry and waits until `GET /v2/` answers (typically 100-300 ms).
    pub fn start(mode: Mode, cfg: RegistryConfig) -> Result<Self, RegistryError> {
        let rules = cfg.validate()?;
        let (temp, dir) = match &cfg.work_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| io("creating work dir", d, e))?;
                (
                    None,
                    std::fs::canonicalize(d).map_err(|e| io("resolving work dir", d, e))?,
                )
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("pullsim-registry-")
                    .tempdir()
                    .map_err(|e| io("creating temp dir in", &std::env::temp_dir(), e))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let tls = cfg.tls || mode == Mode::Tls;
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).map_err(|e| io("creating storage dir", &storage, e))?;
        let mut auth = String::new();
        let (mut ca_file, mut cert_dir, mut tls_block) = (None, None, String::new());
        if tls {
            let material = TlsMaterial::generate()?;
            let tls_dir = dir.join("tls");
            let certs_d = dir.join("certs.d");
            for d in [&tls_dir, &certs_d] {
                std::fs::create_dir_all(d).map_err(|e| io("creating", d, e))?;
            }
            let cert = tls_dir.join("server.crt");
            let key = tls_dir.join("server.key");
            write(&cert, &material.server_cert_pem)?;
            write(&key, &material.server_key_pem)?;
            write(&tls_dir.join("ca.crt"), &material.ca_pem)?;
            write(&certs_d.join("ca.crt"), &material.ca_pem)?;
            tls_block = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                yaml(&cert),
                yaml(&key)
            );
            ca_file = Some(tls_dir.join("ca.crt"));
            cert_dir = Some(certs_d);
        }
        let mut token = None;
        match mode {
            Mode::Anonymous | Mode::Tls => {}
            Mode::Htpasswd => {
                let path = dir.join("htpasswd");
                write_htpasswd(
                    &path,
                    cfg.users.iter().chain(std::iter::once(&cfg.push_user)),
                )?;
                auth = format!(
                    "auth:\n  htpasswd:\n    realm: {HTPASSWD_REALM}\n    path: {}\n",
                    yaml(&path)
                );
            }
            Mode::Token => {
                let key = TokenKey::generate()?;
                let bundle = dir.join("token-root.pem");
                write(&bundle, &key.cert_pem)?;
                let mut users = cfg.users.clone();
                users.push(cfg.push_user.clone());
                let server = TokenServer::start(
                    TokenServerConfig {
                        users,
                        push_user: cfg.push_user.0.clone(),
                        acl: rules,
                        service: TOKEN_SERVICE.into(),
                        issuer: TOKEN_ISSUER.into(),
                        ttl: cfg.token_ttl,
                    },
                    key,
                )?;
                auth = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    yaml(&bundle)
                );
                token = Some(server);
            }
        }
        let config_file = dir.join("config.yml");
        let log_file = dir.join("registry.log");
        let mut attempt = 0;
        let (host, process) = loop {
            attempt += 1;
            let host = format!("127.0.0.1:{}", free_loopback_port()?);
            let secret = hex::encode(rand::random::<[u8; 16]>());
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {host}\n  secret: {secret}\n{tls_block}{auth}",
                yaml(&storage)
            );
            write(&config_file, &config)?;
            let cleanup = temp.as_ref().map(|t| t.path());
            match RegistryProcess::spawn(&config_file, &log_file, cleanup, &host) {
                Ok(p) => break (host, p),
                Err(StartFailure::AddrInUse) if attempt < 5 => continue,
                Err(StartFailure::AddrInUse) => {
                    return Err(RegistryError::Exited {
                        host,
                        log_file: log_file.clone(),
                        log: "address already in use (5 attempts)".into(),
                    });
                }
                Err(StartFailure::Fatal(e)) => return Err(e),
            }
        };
        Ok(RegistryHandle {
            host,
            mode,
            users: cfg.users,
            push_user: cfg.push_user,
            tls,
            ca_file,
            cert_dir,
            token_realm: token.as_ref().map(TokenServer::realm),
            dir,
            log_file,
            process,
            token,
            _temp: temp,
        })
    }

    /// `http://HOST` or `https://HOST`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.host
        )
    }

    /// The pid of the `docker-registry` process.
    pub fn registry_pid(&self) -> u32 {
        self.process.pid
    }

    /// The first configured user (`alice` by default).
    pub fn user(&self) -> Option<(&str, &str)> {
        self.users.first().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The token server (token mode only).
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Number of requests the token server answered (0 outside token mode).
    pub fn token_requests(&self) -> u64 {
        self.token.as_ref().map_or(0, TokenServer::requests)
    }

    /// The token server's request log (empty outside token mode).
    pub fn token_log(&self) -> Vec<TokenRequest> {
        self.token.as_ref().map_or_else(Vec::new, TokenServer::log)
    }

    /// Where and how [`push`](Self::push) sends images.
    pub fn push_target(&self) -> PushTarget {
        PushTarget {
            host: self.host.clone(),
            tls: self.tls,
            cert_dir: self.cert_dir.clone(),
            creds: match self.mode {
                Mode::Htpasswd | Mode::Token => Some(self.push_user.clone()),
                Mode::Anonymous | Mode::Tls => None,
            },
        }
    }

    /// Pushes the image tagged `tag_in_layout` in the OCI layout `layout` to `dest_repo_tag`
    /// (`repo:tag`, or `repo` to keep the tag) with `skopeo copy --all --preserve-digests`,
    /// as the push user.
    pub fn push(
        &self,
        layout: &Path,
        tag_in_layout: &str,
        dest_repo_tag: &str,
    ) -> Result<(), RegistryError> {
        push_layout(&self.push_target(), layout, tag_in_layout, dest_repo_tag)
    }

    /// Pushes a generated image (see [`crate::image::generate`]) to `dest_repo_tag`.
    pub fn push_image(
        &self,
        image: &crate::image::GeneratedImage,
        dest_repo_tag: &str,
    ) -> Result<(), RegistryError> {
        self.push(&image.dir, &image.tag, dest_repo_tag)
    }

    /// Generates the image described by `spec` (an OCI layout kept in the registry's work dir
    /// until it stops) and pushes it to `dest_repo_tag`. Returns what was generated; the digests
    /// are those the registry serves.
    pub fn push_generated(
        &self,
        spec: &crate::image::ImageSpec,
        dest_repo_tag: &str,
    ) -> Result<crate::image::GeneratedImage, RegistryError> {
        self.push_generated_with(spec, &crate::image::Tamper::default(), dest_repo_tag)
    }

    /// [`RegistryHandle::push_generated`] of an image whose config's diff IDs are broken as
    /// `tamper` says (see [`crate::image::generate_with`]).
    pub fn push_generated_with(
        &self,
        spec: &crate::image::ImageSpec,
        tamper: &crate::image::Tamper,
        dest_repo_tag: &str,
    ) -> Result<crate::image::GeneratedImage, RegistryError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let layout = self
            .dir
            .join("layouts")
            .join(format!("{}-{n}", std::process::id()));
        let image = crate::image::generate_with(&layout, spec, tamper)
            .map_err(|source| RegistryError::Image { source })?;
        self.push_image(&image, dest_repo_tag)?;
        Ok(image)
    }

    /// `HOST/repo:tag` (or `HOST/repo@digest`): a full image reference on this registry.
    pub fn reference(&self, repo_and_tag_or_digest: &str) -> String {
        format!("{}/{repo_and_tag_or_digest}", self.host)
    }

    /// `KEY=VALUE` shell lines describing this registry (what `pullsim-testreg serve` writes to
    /// `DIR/env`, without `REGISTRY_PID`): `REGISTRY` (host:port), `REGISTRY_URL`, `REGISTRY_MODE`,
    /// `REGISTRY_USER`/`REGISTRY_PASS`, `REGISTRY_USER2`/`REGISTRY_PASS2`, ...,
    /// `REGISTRY_PUSH_USER`/`REGISTRY_PUSH_PASS` (htpasswd and token modes), `REGISTRY_CA` and
    /// `REGISTRY_CERT_DIR` (TLS), `REGISTRY_TOKEN_REALM` and `REGISTRY_SERVICE` (token),
    /// `REGISTRY_DIR`, `REGISTRY_LOG`, `REGISTRY_SERVER_PID` (the docker-registry process).
    pub fn env_lines(&self) -> String {
        let mut lines: Vec<(String, String)> = vec![
            ("REGISTRY".into(), self.host.clone()),
            ("REGISTRY_URL".into(), self.url()),
            ("REGISTRY_MODE".into(), self.mode.to_string()),
        ];
        if matches!(self.mode, Mode::Htpasswd | Mode::Token) {
            for (i, (u, p)) in self.users.iter().enumerate() {
                let suffix = if i == 0 {
                    String::new()
                } else {
                    (i + 1).to_string()
                };
                lines.push((format!("REGISTRY_USER{suffix}"), u.clone()));
                lines.push((format!("REGISTRY_PASS{suffix}"), p.clone()));
            }
            lines.push(("REGISTRY_PUSH_USER".into(), self.push_user.0.clone()));
            lines.push(("REGISTRY_PUSH_PASS".into(), self.push_user.1.clone()));
        }
        if let (Some(ca), Some(certs)) = (&self.ca_file, &self.cert_dir) {
            lines.push(("REGISTRY_CA".into(), ca.display().to_string()));
            lines.push(("REGISTRY_CERT_DIR".into(), certs.display().to_string()));
        }
        if let Some(realm) = &self.token_realm {
            lines.push(("REGISTRY_TOKEN_REALM".into(), realm.clone()));
            lines.push(("REGISTRY_SERVICE".into(), TOKEN_SERVICE.into()));
        }
        lines.push(("REGISTRY_DIR".into(), self.dir.display().to_string()));
        lines.push(("REGISTRY_LOG".into(), self.log_file.display().to_string()));
        lines.push(("REGISTRY_SERVER_PID".into(), self.process.pid.to_string()));
        lines
            .iter()
            .map(|(k, v)| format!("{k}={}\n", shell_quote(v)))
            .collect()
    }

    /// Stops the registry and the token server and removes the temporary directory.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for RegistryHandle {
    fn drop(&mut self) {
        self.process.stop();
        if let Some(t) = self.token.take() {
            t.stop();
        }
    }
}

/// The registry for `mode` shared by all tests of this test binary, started on first use with
/// [`RegistryConfig::default`] and stopped when the process exits.
///
/// Tests sharing it must push to distinct repositories. Test-support behaviour: panics with the
/// start error when the registry cannot be started.
pub fn shared(mode: Mode) -> &'static RegistryHandle {
    static SHARED: [OnceLock<RegistryHandle>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = match mode {
        Mode::Anonymous => &SHARED[0],
        Mode::Htpasswd => &SHARED[1],
        Mode::Token => &SHARED[2],
        Mode::Tls => &SHARED[3],
    };
    slot.get_or_init(
        || match RegistryHandle::start(mode, RegistryConfig::default()) {
            Ok(h) => h,
            Err(e) => panic!("pullsim-testsupport: cannot start the shared {mode} registry: {e}"),
        },
    )
}

fn write_htpasswd<'a>(
    path: &Path,
    users: impl Iterator<Item = &'a (String, String)>,
) -> Result<(), RegistryError> {
    let mut content = String::new();
    for (user, pass) in users {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, pass])
            .output()
            .map_err(|e| RegistryError::Spawn {
                program: "htpasswd".into(),
                source: e,
            })?;
        if !out.status.success() {
            return Err(RegistryError::Command {
                program: format!("htpasswd -Bbn {user} <password>"),
                status: out.status.to_string(),
                stderr: crate::push::redact(&String::from_utf8_lossy(&out.stderr), &[pass]),
            });
        }
        content.push_str(String::from_utf8_lossy(&out.stdout).trim_end());
        content.push('\n');
    }
    write(path, &content)
}

fn write(path: &Path, content: &str) -> Result<(), RegistryError> {
    std::fs::write(path, content).map_err(|e| io("writing", path, e))
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A YAML double-quoted scalar for a path.
fn yaml(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap_or_default()
}

/// Single-quotes `v` for sh unless it only holds safe characters.
pub(crate) fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}
