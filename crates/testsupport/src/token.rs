//! The token server of [`Mode::Token`](crate::Mode::Token): the service behind the registry's
//! `auth.token.realm`, as in the distribution token-auth spec (docs/spec/auth/token.md at v2.8.2).
//!
//! `GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]` with optional Basic
//! credentials (or `POST /token` with an OAuth2 password-grant form, as containerd sends) answers
//! `{"token","access_token","expires_in","issued_at"}`. The JWT is ES256-signed with the key
//! whose certificate is the registry's `rootcertbundle`, with the libtrust `kid`.
//!
//! Access: the push user gets every requested action on every repository (and `registry:catalog:*`);
//! other users get the actions their ACL rules allow on matching repositories; anonymous requests
//! get what the anonymous rules allow (by default nothing — the token carries no access and the
//! registry answers 401 insufficient_scope). Requested actions outside the allowed ones are dropped,
//! as token servers do. Wrong or unknown credentials get 401 with a JSON error.

use crate::background::Background;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::RegistryError;
use crate::certs::TokenKey;

/// One access rule: who may do what on repositories matching a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    /// The user name, or `None` for anonymous requests.
    pub user: Option<String>,
    /// Repository glob: `*` matches any run of characters (including `/`), `?` one character.
    pub repo_glob: String,
    /// The allowed actions, e.g. `["pull"]`; `*` allows every action.
    pub actions: Vec<String>,
}

impl AclRule {
    /// Parses `GLOB` (pull) or `GLOB:ACTION[,ACTION...]` for `user`.
    pub fn parse(user: Option<&str>, spec: &str) -> Result<Self, RegistryError> {
        let (glob, actions) = match spec.split_once(':') {
            Some((g, a)) => (
                g,
                a.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => (spec, vec!["pull".to_string()]),
        };
        if glob.is_empty() {
            return Err(RegistryError::Config {
                field: "acl",
                reason: format!("empty repository glob in {spec:?}"),
            });
        }
        Ok(AclRule {
            user: user.map(str::to_string),
            repo_glob: glob.to_string(),
            actions,
        })
    }
}

/// What the token server needs to know.
#[derive(Debug, Clone)]
pub struct TokenServerConfig {
    /// Every valid login (user, password), the push user included.
    pub users: Vec<(String, String)>,
    /// The user with all access.
    pub push_user: String,
    /// Access rules for named users and anonymous requests.
    pub acl: Vec<AclRule>,
    /// The registry's `auth.token.service` (the JWT `aud`).
    pub service: String,
    /// The registry's `auth.token.issuer` (the JWT `iss`).
    pub issuer: String,
    /// Lifetime of issued tokens (`exp - iat`, and `expires_in`).
    pub ttl: Duration,
}

/// A request the token server answered, for tests that check caching and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The user the credentials named (whether or not the password was right); `None` when anonymous.
    pub user: Option<String>,
    /// The scopes requested.
    pub scopes: Vec<String>,
    /// The scopes granted (`repository:NAME:ACTIONS`), empty when refused.
    pub granted: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
}

struct Shared {
    cfg: TokenServerConfig,
    key: TokenKey,
    count: AtomicU64,
    log: Mutex<Vec<TokenRequest>>,
}

/// A running token server (a background thread with its own tokio runtime). Dropping it stops it.
pub struct TokenServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Background,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// Starts the server on `127.0.0.1:<free port>`.
    pub fn start(cfg: TokenServerConfig, key: TokenKey) -> Result<Self, RegistryError> {
        let err = |what: &str, e: std::io::Error| RegistryError::TokenServer {
            reason: format!("{what}: {e}"),
        };
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| err("bind 127.0.0.1:0", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| err("set_nonblocking", e))?;
        let addr = listener.local_addr().map_err(|e| err("local_addr", e))?;
        let shared = Arc::new(Shared {
            cfg,
            key,
            count: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", get(get_token).post(post_token))
            .with_state(shared.clone());
        let server = Background::serve(
            format!("pullsim-token-{}", addr.port()),
            listener,
            |tcp| tcp,
            app,
        )
        .map_err(|(what, e)| err(what, e))?;
        Ok(TokenServer {
            addr,
            shared,
            server,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The realm URL: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// How many token requests were answered (all outcomes).
    pub fn requests(&self) -> u64 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The requests answered so far, oldest first.
    pub fn log(&self) -> Vec<TokenRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Signs a token for `user` (`None`: anonymous) with exactly `access` (`repository:NAME:ACTIONS`
    /// strings, not checked against the ACL) that expires `expires_in_secs` after now (may be
    /// negative: the registry allows 60 s of clock skew, so use less than -60 for a token it
    /// rejects as expired).
    pub fn mint(&self, user: Option<&str>, access: &[&str], expires_in_secs: i64) -> String {
        let access: Vec<Value> = access
            .iter()
            .filter_map(|s| parse_scope(s))
            .map(|s| s.to_json())
            .collect();
        sign(&self.shared, user, access, unix_now(), expires_in_secs)
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        self.server.stop();
    }
}

enum Credentials {
    Anonymous,
    Basic(String, String),
    Malformed(&'static str),
}

async fn get_token(
    State(st): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = form_pairs(query.as_deref().unwrap_or(""));
    let creds = match headers.get(header::AUTHORIZATION) {
        None => Credentials::Anonymous,
        Some(v) => parse_basic(v.to_str().unwrap_or("")),
    };
    answer(&st, "GET", creds, &params)
}

async fn post_token(State(st): State<Arc<Shared>>, body: String) -> Response {
    let params = form_pairs(&body);
    let value = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let creds = match value("grant_type").as_deref() {
        Some("password") => match (value("username"), value("password")) {
            (Some(u), Some(p)) => Credentials::Basic(u, p),
            _ => Credentials::Malformed("grant_type=password needs username and password"),
        },
        Some("refresh_token") => {
            Credentials::Malformed("refresh tokens are not issued by this server")
        }
        _ => Credentials::Malformed("unsupported grant_type"),
    };
    answer(&st, "POST", creds, &params)
}

fn form_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn parse_basic(value: &str) -> Credentials {
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Credentials::Malformed("Authorization header without a scheme");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Credentials::Malformed("only Basic authorization is accepted");
    }
    let Ok(decoded) = STANDARD.decode(rest.trim()) else {
        return Credentials::Malformed("Basic credentials are not valid base64");
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Credentials::Malformed("Basic credentials are not UTF-8");
    };
    match text.split_once(':') {
        Some((u, p)) => Credentials::Basic(u.to_string(), p.to_string()),
        None => Credentials::Malformed("Basic credentials without ':'"),
    }
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}], "details": message});
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"pullsim-token\""),
        );
    }
    resp
}

fn answer(
    st: &Shared,
    method: &'static str,
    creds: Credentials,
    params: &[(String, String)],
) -> Response {
    st.count.fetch_add(1, Ordering::SeqCst);
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let service = params
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    let mut record = TokenRequest {
        method,
        user: None,
        scopes: scopes.clone(),
        granted: Vec::new(),
        status: 200,
    };
    let outcome = (|| {
        if let Some(s) = service
            && s != st.cfg.service
        {
            return Err((
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "unknown service",
            ));
        }
        let user = match creds {
            Credentials::Anonymous => None,
            Credentials::Malformed(why) => {
                return Err((StatusCode::BAD_REQUEST, "INVALID_REQUEST", why));
            }
            Credentials::Basic(u, p) => {
                record.user = Some(u.clone());
                let ok = st
                    .cfg
                    .users
                    .iter()
                    .any(|(name, pass)| *name == u && *pass == p);
                if !ok {
                    return Err((
                        StatusCode::UNAUTHORIZED,
                        "UNAUTHORIZED",
                        "incorrect username or password",
                    ));
                }
                Some(u)
            }
        };
        let granted: Vec<Scope> = scopes
            .iter()
            .filter_map(|s| parse_scope(s))
            .filter_map(|s| grant(&st.cfg, user.as_deref(), s))
            .collect();
        record.granted = granted.iter().map(Scope::to_string).collect();
        let now = unix_now();
        let ttl = st.cfg.ttl.as_secs() as i64;
        let token = sign(
            st,
            user.as_deref(),
            granted.iter().map(Scope::to_json).collect(),
            now,
            ttl,
        );
        Ok(axum::Json(json!({
            "token": token,
            "access_token": token,
            "expires_in": ttl,
            "issued_at": rfc3339(now),
        }))
        .into_response())
    })();
    let resp =
        outcome.unwrap_or_else(|(status, code, message)| error_response(status, code, message));
    record.status = resp.status().as_u16();
    if record.status != 200 {
        record.granted.clear();
    }
    st.log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(record);
    resp
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Scope {
    kind: String,
    name: String,
    actions: Vec<String>,
}

impl Scope {
    fn to_json(&self) -> Value {
        json!({"type": self.kind, "name": self.name, "actions": self.actions})
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// `TYPE[(CLASS)]:NAME:ACTIONS`; the name may contain `:` (the actions follow the last one).
fn parse_scope(s: &str) -> Option<Scope> {
    let (kind, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let kind = kind.split_once('(').map_or(kind, |(k, _)| k);
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    let actions = actions
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    Some(Scope {
        kind: kind.to_string(),
        name: name.to_string(),
        actions,
    })
}

fn grant(cfg: &TokenServerConfig, user: Option<&str>, requested: Scope) -> Option<Scope> {
    let is_push_user = user == Some(cfg.push_user.as_str());
    let allowed = |action: &str| {
        if is_push_user {
            return true;
        }
        requested.kind == "repository"
            && cfg.acl.iter().any(|r| {
                r.user.as_deref() == user
                    && glob_match(&r.repo_glob, &requested.name)
                    && r.actions.iter().any(|a| a == "*" || a == action)
            })
    };
    let actions: Vec<String> = requested
        .actions
        .iter()
        .filter(|a| allowed(a))
        .cloned()
        .collect();
    if actions.is_empty() {
        None
    } else {
        Some(Scope {
            actions,
            ..requested
        })
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn sign(st: &Shared, user: Option<&str>, access: Vec<Value>, now: i64, expires_in: i64) -> String {
    let jti = hex::encode(rand::random::<[u8; 16]>());
    let claims = json!({
        "iss": st.cfg.issuer,
        "sub": user.unwrap_or(""),
        "aud": st.cfg.service,
        "exp": now + expires_in,
        "nbf": now - 1,
        "iat": now,
        "jti": jti,
        "access": access,
    });
    st.key.sign_jwt(&claims)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time.
pub fn rfc3339(unix: i64) -> String {
    pullsim_reference::rfc3339::format_rfc3339(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("team/*", "team/app", true),
            ("team/*", "team/a/b", true),
            ("team/*", "other/app", false),
            ("*", "anything/at/all", true),
            ("app?", "app1", true),
            ("app?", "app", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*/app", "team/app", true),
        ] {
            assert_eq!(glob_match(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(
            parse_scope("repository:team/app:pull,push")
                .unwrap()
                .to_string(),
            "repository:team/app:pull,push"
        );
        assert_eq!(
            parse_scope("repository(plugin):x:pull").unwrap().kind,
            "repository"
        );
        assert_eq!(
            parse_scope("registry:catalog:*").unwrap().actions,
            vec!["*"]
        );
        assert!(parse_scope("nonsense").is_none());
    }

    #[test]
    fn grants_follow_the_acl() {
        let cfg = TokenServerConfig {
            users: vec![],
            push_user: "admin".into(),
            acl: vec![
                AclRule::parse(Some("alice"), "team/*").unwrap(),
                AclRule::parse(None, "public/*").unwrap(),
            ],
            service: "s".into(),
            issuer: "i".into(),
            ttl: Duration::from_secs(60),
        };
        let s = |x: &str| parse_scope(x).unwrap();
        let g = |u: Option<&str>, x: &str| grant(&cfg, u, s(x)).map(|s| s.to_string());
        assert_eq!(
            g(Some("alice"), "repository:team/app:pull,push").as_deref(),
            Some("repository:team/app:pull")
        );
        assert_eq!(g(Some("alice"), "repository:other/app:pull"), None);
        assert_eq!(g(None, "repository:team/app:pull"), None);
        assert_eq!(
            g(None, "repository:public/x:pull").as_deref(),
            Some("repository:public/x:pull")
        );
        assert_eq!(
            g(Some("admin"), "repository:any:pull,push").as_deref(),
            Some("repository:any:pull,push")
        );
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
