//! Token fetching (distribution "Token Authentication Specification" and "OAuth2 Token
//! Authentication", as containerd's `core/remotes/docker/auth/fetch.go` and docker's
//! `registry/client/auth/session.go` do it) and the token cache.
//!
//! The cache is keyed by registry host + repository + a hash of the credential: two
//! credentials for the same repository never share a token, and the key's `Debug` shows only
//! the hash. Tokens live for `expires_in` seconds from `issued_at` (or from when they were
//! received); a missing, non-positive or smaller `expires_in` counts as 60 s, the spec's
//! minimum. The answer is read within the no-progress deadline and up to
//! [`MAX_TOKEN_RESPONSE_SIZE`]; an error answer up to [`crate::MAX_ERROR_BODY_SIZE`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::challenge::Challenge;
use super::cred::Cred;
use crate::bounded::{BodyEnd, Deadline, MAX_TOKEN_RESPONSE_SIZE, read_capped, read_error_body};
use crate::error::{Refuser, RegistryError, envelope_text, parse_error_envelope};
use crate::transport::{Call, Profile, Request, Transport};

/// Minimum token lifetime, distribution's `minimumTokenLifetimeSeconds`.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// Maximum token lifetime: the longest Go's `time.Duration` holds (about 292 years), which is
/// what `time.Duration(expiresIn) * time.Second` can express at all. A larger `expires_in`
/// (up to `i64::MAX` seconds) would make the cache's expiry `Instant` overflow (a panic).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_nanos(i64::MAX as u64);

/// A token value. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Token(pub(crate) String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Cache key: registry host, repository, credential identity hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub host: String,
    pub repository: String,
    pub cred_id: String,
}

#[derive(Debug)]
struct Entry {
    token: Token,
    expires_at: Instant,
}

/// Tokens per registry + repository + credential.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    map: Mutex<HashMap<TokenKey, Entry>>,
}

impl TokenCache {
    /// A token still valid at `now`.
    pub(crate) fn get(&self, key: &TokenKey, now: Instant) -> Option<Token> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| e.token.clone())
    }

    pub(crate) fn put(&self, key: TokenKey, token: Token, expires_at: Instant) {
        if let Ok(mut map) = self.map.lock() {
            map.insert(key, Entry { token, expires_at });
        }
    }

    pub(crate) fn invalidate(&self, key: &TokenKey) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

/// The token endpoint's answer (`token` or `access_token`, `expires_in`, `issued_at`).
#[derive(Deserialize, Default)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    /// Signed, as Go's `int` in distribution's and containerd's token responses: a negative
    /// value is valid JSON for them and counts as the 60 s default.
    #[serde(default)]
    expires_in: i64,
    #[serde(default)]
    issued_at: Option<String>,
}

/// When a token expires, as a duration from `now_wall`: `issued_at + max(expires_in, 60 s)`,
/// or `now + max(expires_in, 60 s)` without `issued_at`. `None` when already expired.
/// distribution's `registry/client/auth/session.go` (`if tr.ExpiresIn <
/// minimumTokenLifetimeSeconds { tr.ExpiresIn = minimumTokenLifetimeSeconds }`, an `int`):
/// zero, negative and small values all count as 60 s. The result is at most
/// [`MAX_TOKEN_LIFETIME`], so `Instant::now() + lifetime` never overflows.
pub(crate) fn token_lifetime(
    expires_in: i64,
    issued_at: Option<&str>,
    now_wall: SystemTime,
) -> Option<Duration> {
    let life = Duration::from_secs(u64::try_from(expires_in).unwrap_or(0))
        .clamp(MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME);
    let Some(issued) = issued_at.and_then(parse_rfc3339) else {
        return Some(life);
    };
    let expiry = issued.checked_add(life)?;
    // An `issued_at` in the future does not lengthen the lifetime past the maximum either.
    expiry
        .duration_since(now_wall)
        .ok()
        .map(|d| d.min(MAX_TOKEN_LIFETIME))
}

/// Parse an RFC 3339 timestamp as Go's `time.Time` JSON decoding does (`issued_at`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let (secs, nanos) = pullsim_reference::rfc3339::parse_rfc3339(s)?;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Go's `url.Values.Encode` order and escaping: keys sorted (`scope` before `service`).
fn token_url(realm: &url::Url, service: Option<&str>, scope: &str) -> url::Url {
    let mut pairs: Vec<(String, String)> = realm
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push(("scope".into(), scope.into()));
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        pairs.push(("service".into(), s.into()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut url = realm.clone();
    url.set_query(None);
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// A fetched token and how long to keep it.
pub(crate) struct Fetched {
    pub token: Token,
    pub lifetime: Option<Duration>,
}

/// Fetch a token for `scope` from the challenge's realm, as containerd's `authorizer.go`
/// `doBearerAuth` (`core/remotes/docker/authorizer.go@v2.3.4`): with a secret (a password, or
/// an identity token without username, as `ParseAuth` gives them), the OAuth2 POST
/// (`grant_type=password`, or `refresh_token`), falling back to GET with Basic credentials when
/// the POST is answered 400, 401, 404, or 405 with a username; without a secret an anonymous
/// GET. `extra` (the host's headers) goes on every token request; `profile` is the host's
/// client. Errors are worded as containerd's (`failed to authorize: failed to fetch oauth
/// token: unexpected status from GET request to URL: 401 Unauthorized`).
pub(crate) async fn fetch_token(
    transport: &Transport,
    (extra, profile): (&HeaderMap, &Profile),
    deadline: &Deadline,
    challenge: &Challenge,
    scope: &str,
    cred: Option<&Cred>,
    reference: &str,
) -> Result<Fetched, RegistryError> {
    let resolve_prefix = format!("failed to resolve reference {reference:?}: ");
    let realm = challenge
        .param("realm")
        .ok_or_else(|| RegistryError::Protocol {
            reference: reference.to_string(),
            status: Some(401),
            message: format!("{resolve_prefix}no realm specified for token auth challenge"),
        })?;
    let realm = url::Url::parse(realm).map_err(|e| RegistryError::Protocol {
        reference: reference.to_string(),
        status: Some(401),
        message: format!("{resolve_prefix}invalid token auth challenge realm: {e}"),
    })?;
    let service = challenge.param("service");
    // containerd's ParseAuth: an identity token is the secret, with no username.
    let (username, secret) = match cred {
        Some(c) => match &c.identity_token {
            Some(t) if !t.is_empty() => (String::new(), t.clone()),
            _ => (c.username.clone(), c.password.clone()),
        },
        None => (String::new(), String::new()),
    };
    let get = |authorization: Option<HeaderValue>| Request {
        method: Method::GET,
        url: token_url(&realm, service, scope),
        headers: extra.clone(),
        authorization,
        form: None,
        profile: profile.clone(),
    };
    if secret.is_empty() {
        return send_token(
            transport,
            deadline,
            get(None),
            "anonymous token",
            &resolve_prefix,
            reference,
        )
        .await;
    }
    let mut form = vec![("client_id".to_string(), "containerd-client".to_string())];
    if username.is_empty() {
        form.push(("grant_type".to_string(), "refresh_token".to_string()));
        form.push(("refresh_token".to_string(), secret.clone()));
    } else {
        form.push(("grant_type".to_string(), "password".to_string()));
        form.push(("password".to_string(), secret.clone()));
    }
    form.push(("scope".to_string(), scope.to_string()));
    form.push(("service".to_string(), service.unwrap_or("").to_string()));
    if !username.is_empty() {
        form.push(("username".to_string(), username.clone()));
    }
    let post = Request {
        method: Method::POST,
        url: realm.clone(),
        headers: extra.clone(),
        authorization: None,
        form: Some(form),
        profile: profile.clone(),
    };
    match send_token(
        transport,
        deadline,
        post,
        "oauth token",
        &resolve_prefix,
        reference,
    )
    .await
    {
        Err(e)
            if matches!(e.status(), Some(400 | 401 | 404))
                || (e.status() == Some(405) && !username.is_empty()) =>
        {
            let basic = Cred {
                username,
                password: secret,
                identity_token: None,
                registry_token: None,
            }
            .basic_header()?;
            send_token(
                transport,
                deadline,
                get(Some(basic)),
                "oauth token",
                &resolve_prefix,
                reference,
            )
            .await
        }
        other => other,
    }
}

/// Send one token request and read its answer.
async fn send_token(
    transport: &Transport,
    deadline: &Deadline,
    req: Request,
    what: &str,
    resolve_prefix: &str,
    reference: &str,
) -> Result<Fetched, RegistryError> {
    let method = req.method.clone();
    let shown_url = req.url.to_string();
    let resp = transport
        .send(
            req,
            Call {
                reference,
                deadline,
            },
        )
        .await
        .map_err(|e| e.into_registry())?;
    let status = resp.status();
    let fail_prefix = format!("{resolve_prefix}failed to authorize: failed to fetch {what}");
    if !(status.is_success() || status.is_redirection()) {
        let body = read_error_body(resp, deadline).await;
        let errors = parse_error_envelope(&body);
        let code = errors.first().map(|e| e.code.clone());
        let mut message = format!(
            "{fail_prefix}: unexpected status from {} request to {shown_url}: {status}",
            method.as_str()
        );
        if !errors.is_empty() {
            message.push_str(&format!(" ({})", envelope_text(&errors)));
        }
        return Err(match status {
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
                reference: reference.to_string(),
                by: Refuser::TokenEndpoint,
                status: status.as_u16(),
                code,
                message,
            },
            StatusCode::FORBIDDEN => RegistryError::Denied {
                reference: reference.to_string(),
                status: status.as_u16(),
                code,
                message,
            },
            StatusCode::TOO_MANY_REQUESTS => RegistryError::RateLimited {
                reference: reference.to_string(),
                retry_after: None,
                limit: None,
                remaining: None,
                message,
            },
            s if s.is_server_error() => RegistryError::Unavailable {
                reference: reference.to_string(),
                status: Some(s.as_u16()),
                message,
            },
            s => RegistryError::Protocol {
                reference: reference.to_string(),
                status: Some(s.as_u16()),
                message,
            },
        });
    }
    let read = read_capped(resp, MAX_TOKEN_RESPONSE_SIZE, deadline).await;
    let body = match read.end {
        BodyEnd::Complete => read.bytes,
        BodyEnd::Capped => {
            return Err(RegistryError::TooLarge {
                reference: reference.to_string(),
                what: format!("{fail_prefix}: token response"),
                limit: MAX_TOKEN_RESPONSE_SIZE,
            });
        }
        BodyEnd::Stalled { timeout } => {
            return Err(RegistryError::Stalled {
                what: format!("{fail_prefix}: reading the token response"),
                timeout,
                received: read.bytes.len() as u64,
            });
        }
        BodyEnd::Failed(e) => {
            return Err(RegistryError::Unavailable {
                reference: reference.to_string(),
                status: None,
                message: format!(
                    "{fail_prefix}: reading the token response: {}",
                    crate::transport::chain_text(&e)
                ),
            });
        }
    };
    let tr: TokenResponse = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
        reference: reference.to_string(),
        status: Some(status.as_u16()),
        message: format!("{fail_prefix}: unable to decode token response: {e}"),
    })?;
    // `access_token` is equivalent to `token`; containerd prefers access_token when both are set.
    let token = if !tr.access_token.is_empty() {
        tr.access_token
    } else {
        tr.token
    };
    if token.is_empty() {
        return Err(RegistryError::Protocol {
            reference: reference.to_string(),
            status: Some(status.as_u16()),
            message: format!(
                "{fail_prefix}: authorization server did not include a token in the response"
            ),
        });
    }
    Ok(Fetched {
        token: Token(token),
        lifetime: token_lifetime(tr.expires_in, tr.issued_at.as_deref(), SystemTime::now()),
    })
}

/// `Bearer <token>` as a header value, marked sensitive.
pub(crate) fn bearer_header(token: &Token) -> Result<HeaderValue, RegistryError> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.0)).map_err(|_| {
        RegistryError::Config {
            message: "the token contains characters not allowed in an HTTP header".to_string(),
        }
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let t = parse_rfc3339("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1704164645);
        let t = parse_rfc3339("2024-01-02T03:04:05.5+01:00").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1704161045500
        );
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn lifetimes() {
        // distribution registry/client/auth/session.go: expires_in below 60 s counts as 60 s.
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(token_lifetime(0, None, now), Some(Duration::from_secs(60)));
        assert_eq!(token_lifetime(10, None, now), Some(Duration::from_secs(60)));
        assert_eq!(
            token_lifetime(300, None, now),
            Some(Duration::from_secs(300))
        );
        // issued 100 s ago with 300 s: 200 s left
        let issued = "1970-01-12T13:45:40Z"; // 999_940 s
        assert_eq!(
            token_lifetime(300, Some(issued), now),
            Some(Duration::from_secs(240))
        );
        // issued long ago: expired
        assert_eq!(token_lifetime(300, Some("1970-01-01T00:00:00Z"), now), None);
    }

    #[test]
    fn negative_expires_in_falls_back_to_60s() {
        // distribution registry/client/auth/session.go (ExpiresIn is an int;
        // `if tr.ExpiresIn < minimumTokenLifetimeSeconds` it becomes 60) and containerd's
        // core/remotes/docker/auth/fetch.go decode a negative expires_in without error; a
        // missing one is 0. All count as the 60 s default.
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for body in [
            r#"{"token":"t","expires_in":-5}"#,
            r#"{"token":"t","expires_in":0}"#,
            r#"{"token":"t"}"#,
        ] {
            let tr: TokenResponse = serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(
                token_lifetime(tr.expires_in, None, now),
                Some(MIN_TOKEN_LIFETIME),
                "{body}"
            );
        }
        assert_eq!(
            token_lifetime(i64::MIN, None, now),
            Some(Duration::from_secs(60))
        );
        // issued 30 s ago, expires_in -5: 60 s from issued_at, 30 s left.
        assert_eq!(
            token_lifetime(-5, Some("1970-01-12T13:46:10Z"), now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn token_url_sorted_like_go() {
        let realm = url::Url::parse("http://127.0.0.1:5001/token").unwrap();
        let u = token_url(&realm, Some("registry"), "repository:team/app:pull");
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:5001/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry"
        );
    }

    #[test]
    fn cache_expiry_and_invalidation() {
        let c = TokenCache::default();
        let k = TokenKey {
            host: "h".into(),
            repository: "r".into(),
            cred_id: "abc".into(),
        };
        let now = Instant::now();
        c.put(k.clone(), Token("t".into()), now + Duration::from_secs(5));
        assert!(c.get(&k, now).is_some());
        assert!(c.get(&k, now + Duration::from_secs(6)).is_none());
        c.invalidate(&k);
        assert!(c.get(&k, now).is_none());
        assert!(!format!("{:?}", Token("secret-value".into())).contains("secret-value"));
    }

    /// Found reviewing the token decoder for issue 11, pinned by `lifetimes_stay_representable`:
    /// `expires_in: 9223372036854775807`
    /// made the cache's `Instant::now() + lifetime` overflow, a panic in the pull.
    #[test]
    fn huge_expires_in_keeps_the_expiry_instant_representable() {
        let now = SystemTime::now();
        for (expires_in, issued_at) in [
            (i64::MAX, None),
            (i64::MAX, Some("9999-12-31T23:59:59Z")),
            (0, Some("9999-12-31T23:59:59Z")),
        ] {
            let life = token_lifetime(expires_in, issued_at, now).unwrap();
            assert!(life <= MAX_TOKEN_LIFETIME, "{life:?}");
            assert!(Instant::now().checked_add(life).is_some());
            let _ = Instant::now() + life;
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn rfc3339_like() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,40}",
                "[0-9+-]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,30})?([Zz]|[+-][0-9+-]{2}:[0-9]{2})?",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\PC{0,6}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn rfc3339_never_panics(s in rfc3339_like()) {
                let _ = parse_rfc3339(&s);
            }

            #[test]
            fn lifetimes_stay_representable(
                expires_in in prop_oneof![any::<i64>(), -100i64..400, Just(i64::MAX), Just(i64::MIN)],
                issued_at in proptest::option::of(rfc3339_like()),
                now_secs in 0u64..400_000_000_000,
            ) {
                let now = UNIX_EPOCH + Duration::from_secs(now_secs);
                if let Some(life) = token_lifetime(expires_in, issued_at.as_deref(), now) {
                    prop_assert!(life <= MAX_TOKEN_LIFETIME);
                    prop_assert!(Instant::now().checked_add(life).is_some());
                    if issued_at.as_deref().and_then(parse_rfc3339).is_none() {
                        // Without a usable issued_at: max(expires_in, 60 s), capped.
                        prop_assert!(life >= MIN_TOKEN_LIFETIME);
                    }
                }
            }

            /// Token responses: random bytes and mutated answers decode or fail; a decode
            /// error never shows the token and stays proportional to the body.
            #[test]
            fn token_responses(
                body in proptest::collection::vec(any::<u8>(), 0..200),
                expires in prop_oneof![
                    Just(serde_json::json!(300)), Just(serde_json::json!(-5)),
                    Just(serde_json::json!(u64::MAX)), Just(serde_json::json!(1.5)),
                    Just(serde_json::json!("300")), Just(serde_json::json!(null)),
                    Just(serde_json::json!(f64::MAX)),
                ],
                issued in prop_oneof![
                    Just(serde_json::json!("2024-05-01T12:00:00Z")), Just(serde_json::json!(5)),
                    Just(serde_json::json!("yesterday")), Just(serde_json::json!(null)),
                    Just(serde_json::json!("0000-01-01T00:00:00+99:99")),
                ],
                as_access in any::<bool>(),
                dup in any::<bool>(),
            ) {
                let _ = serde_json::from_slice::<TokenResponse>(&body);
                let key = if as_access { "access_token" } else { "token" };
                let mut text = serde_json::json!({
                    key: "SECRET-TOKEN-VALUE",
                    "expires_in": expires,
                    "issued_at": issued,
                })
                .to_string();
                if dup {
                    text = text.replacen('{', "{\"expires_in\":1,", 1);
                }
                match serde_json::from_slice::<TokenResponse>(text.as_bytes()) {
                    Ok(tr) => {
                        let token = if tr.access_token.is_empty() { tr.token } else { tr.access_token };
                        prop_assert_eq!(token, "SECRET-TOKEN-VALUE");
                        let life = token_lifetime(tr.expires_in, tr.issued_at.as_deref(), SystemTime::now());
                        prop_assert!(life.is_none_or(|l| l <= MAX_TOKEN_LIFETIME));
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        prop_assert!(!msg.contains("SECRET"), "{}", msg);
                        prop_assert!(msg.len() <= 2 * text.len() + 128, "{}", msg);
                    }
                }
            }
        }
    }
}
