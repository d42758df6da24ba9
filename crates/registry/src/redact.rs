//! What may be shown of a request: URLs with every query value redacted, as containerd 2.3's
//! CRI `SanitizeError` shows them (`internal/cri/util/sanitize.go@v2.3.4`: each value
//! `[REDACTED]`, re-encoded as Go's `url.Values.Encode` — keys sorted, `%5BREDACTED%5D`), and
//! headers with credentials redacted by name, never by value; and the `-v` log of each HTTP
//! exchange, which shows nothing else.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response};

/// How an exchange ended, for [`log_exchange`].
pub(crate) enum Exchange<'a> {
    /// The response (status, headers).
    Answered(&'a Response),
    /// The request failed: the error's text.
    Failed(String),
    /// No response within the no-progress deadline.
    NoResponse(Duration),
}

/// Whether `-v` logging is on (the caller then builds an [`Exchange`]).
pub(crate) fn logging_exchanges() -> bool {
    tracing::enabled!(target: "pullsim::http", tracing::Level::DEBUG)
}

/// One HTTP exchange at `debug` (`-v`: method, URL with query values redacted, status, time)
/// and its headers at `trace` (`-vv`: credentials redacted by name), on the `pullsim::http`
/// target. Never a credential, a token or a form body.
pub(crate) fn log_exchange(
    method: &Method,
    shown_url: &str,
    outcome: Exchange<'_>,
    elapsed: Duration,
    request_headers: &HeaderMap,
    authorization: bool,
) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let result = match &outcome {
        Exchange::Answered(r) => r.status().to_string(),
        Exchange::Failed(e) => format!("error: {e}"),
        Exchange::NoResponse(t) => format!("no response within {}s", t.as_secs_f64()),
    };
    tracing::debug!(target: "pullsim::http", "{method} {shown_url} -> {result} ({ms:.1} ms)");
    if tracing::enabled!(target: "pullsim::http", tracing::Level::TRACE) {
        let show = |name: &str, value: &HeaderValue| {
            if is_secret_header(name) {
                "<redacted>".to_string()
            } else {
                value.to_str().unwrap_or("<binary>").to_string()
            }
        };
        for (name, value) in request_headers {
            tracing::trace!(target: "pullsim::http", "  > {name}: {}", show(name.as_str(), value));
        }
        if authorization {
            tracing::trace!(target: "pullsim::http", "  > authorization: <redacted>");
        }
        if let Exchange::Answered(r) = outcome {
            for (name, value) in r.headers() {
                tracing::trace!(target: "pullsim::http", "  < {name}: {}", show(name.as_str(), value));
            }
        }
    }
}

/// `url` with every query value replaced by `%5BREDACTED%5D` (keys sorted, each once); a URL
/// without a query is returned as is.
pub fn redact_query_values(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut keys: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').map(|(k, _)| k).unwrap_or(kv))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return url.to_string();
    }
    let q: Vec<String> = keys.iter().map(|k| format!("{k}=%5BREDACTED%5D")).collect();
    match fragment {
        Some(f) => format!("{base}?{}#{f}", q.join("&")),
        None => format!("{base}?{}", q.join("&")),
    }
}

/// Whether a header carries a credential (its value is never shown).
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "set-cookie"
            | "www-authenticate-token"
    ) || n.contains("token")
        || n.contains("secret")
        || n.contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_redacted_as_containerd() {
        // sanitize.go: query.Set(param, "[REDACTED]"); RawQuery = query.Encode().
        assert_eq!(
            redact_query_values("http://m:5000/v2/a/manifests/1?ns=docker.io"),
            "http://m:5000/v2/a/manifests/1?ns=%5BREDACTED%5D"
        );
        assert_eq!(
            redact_query_values("https://auth/token?service=s&scope=repository%3Aa%3Apull&scope=x"),
            "https://auth/token?scope=%5BREDACTED%5D&service=%5BREDACTED%5D"
        );
        assert_eq!(redact_query_values("https://r/v2/"), "https://r/v2/");
        assert!(is_secret_header("Authorization"));
        assert!(is_secret_header("X-Registry-Token"));
        assert!(!is_secret_header("Accept"));
    }
}
