//! Bounded network reads and honest errors, against a scripted in-process HTTP/1.1 server
//! written on raw TCP (so that it can send the headers of an answer and then stall, send an
//! endless body and count what it managed to send before the client hung up, or never
//! answer): stalled and oversized error bodies and token answers end within the deadline and
//! at their caps; a redirect loop, a `file://` redirect and a header timeout over plain HTTP
//! report their own error, not the HTTPS fallback's; a negative `expires_in` is the 60 s
//! default.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pullsim_credentials::AuthConfig;
use pullsim_reference::Reference;
use pullsim_registry::{
    Client, ClientOptions, MAX_ERROR_BODY_SIZE, MAX_TOKEN_RESPONSE_SIZE, Refuser, RegistryError,
};

mod common;
use common::{Body, Req, Script, answer, serve, within_20s};

fn client(timeout: Duration) -> Client {
    let mut o = ClientOptions::default();
    o.image_pull_progress_timeout = timeout;
    Client::new(o).unwrap()
}

fn reference(host: &str, repo_tag: &str) -> Reference {
    Reference::parse_normalized(&format!("{host}/{repo_tag}")).unwrap()
}

/// Bytes a client may have taken off the wire past its cap: its HTTP read buffer plus the
/// loopback socket buffers (send up to 4 MiB, receive up to 32 MiB here) — far below the
/// 1 GiB the server offers.
const WIRE_SLACK: u64 = 40 << 20;

const ENVELOPE_403: &str = r#"{"errors":[{"code":"DENIED","message":"access denied"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_error_bodies_end_within_the_deadline() {
    // A 403 (a HEAD 403 is asked again with GET for the registry's error body, containerd
    // 2.3.3+ `withGETErrorBody`, core/remotes/docker/pusher.go@v2.3.4) and a 500 whose bodies
    // stall after their first bytes: each ends with its status's own error within the deadline.
    let server = serve(|req| {
        if req.path.contains("/missing/") {
            if req.method == "HEAD" {
                return answer("403 Forbidden", &[], Body::Full(Vec::new()));
            }
            return answer(
                "403 Forbidden",
                &[("Content-Type", "application/json")],
                Body::StallAfter(ENVELOPE_403.as_bytes().to_vec()),
            );
        }
        if req.method == "HEAD" {
            // No digest: the client GETs the manifest.
            return answer("200 OK", &[], Body::Full(Vec::new()));
        }
        answer(
            "500 Internal Server Error",
            &[],
            Body::StallAfter(b"{\"errors\":".to_vec()),
        )
    })
    .await;
    let deadline = Duration::from_millis(800);
    let c = client(deadline);

    let t = Instant::now();
    let err = within_20s(c.resolve(&reference(&server.host, "team/missing:1"), None))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert!(took >= deadline, "{took:?}");
    assert!(took < deadline + Duration::from_secs(8), "{took:?}");
    match &err {
        // The envelope arrived before the stall: its code is used.
        RegistryError::Denied { status, code, .. } => {
            assert_eq!(*status, 403);
            assert_eq!(code.as_deref(), Some("DENIED"));
        }
        other => panic!("{other:?}"),
    }

    let t = Instant::now();
    let err = within_20s(c.resolve(&reference(&server.host, "team/broken:1"), None))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert!(took < deadline + Duration::from_secs(8), "{took:?}");
    assert!(
        matches!(
            err,
            RegistryError::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("500 Internal Server Error"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_error_body_is_read_up_to_the_cap() {
    // containerd reads at most 64000 bytes of an error body; a 1 GiB one costs no more (a
    // HEAD 403 is asked again with GET for its body, `withGETErrorBody`).
    let server = serve(|req| {
        if req.method == "HEAD" {
            return answer("403 Forbidden", &[], Body::Full(Vec::new()));
        }
        answer("403 Forbidden", &[], Body::Endless)
    })
    .await;
    // The deadline is long: the cap, not the deadline, ends the read.
    let c = client(Duration::from_secs(60));
    let t = Instant::now();
    let err = within_20s(c.resolve(&reference(&server.host, "team/huge:1"), None))
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(matches!(err, RegistryError::Denied { .. }), "{err:?}");
    let sent = server.endless_sent_after_hang_up(1).await;
    assert!(sent >= MAX_ERROR_BODY_SIZE, "{sent}");
    assert!(
        sent < MAX_ERROR_BODY_SIZE + WIRE_SLACK,
        "the client read {sent} bytes of an error body"
    );
}

/// A registry whose 401 sends clients to `/token` on the same server.
fn bearer_registry(token: Script) -> impl Fn(&Req) -> Script + Send + Sync {
    move |req| {
        if req.path.starts_with("/token") {
            return token.clone();
        }
        let challenge = format!(r#"Bearer realm="http://{}/token",service="fake""#, req.host);
        answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", challenge.as_str())],
            Body::Full(Vec::new()),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_token_answers_end_within_the_deadline() {
    let deadline = Duration::from_millis(800);
    // A 200 whose token JSON stalls: the token is needed, so the pull fails as stalled.
    let server = serve(bearer_registry(answer(
        "200 OK",
        &[("Content-Type", "application/json")],
        Body::StallAfter(br#"{"token":"abc"#.to_vec()),
    )))
    .await;
    let t = Instant::now();
    let err = within_20s(client(deadline).resolve(&reference(&server.host, "team/app:1"), None))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(8),
        "{took:?}"
    );
    match &err {
        RegistryError::Stalled {
            timeout, received, ..
        } => {
            assert_eq!(*timeout, deadline);
            assert_eq!(*received, 13);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("token"), "{err}");

    // A 401 from the token endpoint whose body stalls: the refusal, within the deadline.
    let server = serve(bearer_registry(answer(
        "401 Unauthorized",
        &[],
        Body::StallAfter(b"{".to_vec()),
    )))
    .await;
    let t = Instant::now();
    let err = within_20s(client(deadline).resolve(
        &reference(&server.host, "team/app:1"),
        Some(&AuthConfig::basic("alice", "wrong")),
    ))
    .await
    .unwrap_err();
    assert!(
        t.elapsed() < deadline + Duration::from_secs(8),
        "{:?}",
        t.elapsed()
    );
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                by: Refuser::TokenEndpoint,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_token_answers_are_read_up_to_their_caps() {
    let c = client(Duration::from_secs(60));
    // A 1 GiB token answer: refused at 1 MiB, typed.
    let server = serve(bearer_registry(answer("200 OK", &[], Body::Endless))).await;
    let t = Instant::now();
    let err = within_20s(c.resolve(&reference(&server.host, "team/app:1"), None))
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    match &err {
        RegistryError::TooLarge { limit, .. } => assert_eq!(*limit, MAX_TOKEN_RESPONSE_SIZE),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().ends_with(&format!(
            "token response larger than {MAX_TOKEN_RESPONSE_SIZE} bytes"
        )),
        "{err}"
    );
    let sent = server.endless_sent_after_hang_up(1).await;
    assert!(
        sent < MAX_TOKEN_RESPONSE_SIZE + WIRE_SLACK,
        "the client read {sent} bytes of a token answer"
    );

    // A 1 GiB error answer from the token endpoint: its first 64000 bytes, then the refusal.
    let server = serve(bearer_registry(answer("403 Forbidden", &[], Body::Endless))).await;
    let err = within_20s(c.resolve(&reference(&server.host, "team/app:1"), None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Denied { status: 403, .. }),
        "{err:?}"
    );
    let sent = server.endless_sent_after_hang_up(1).await;
    assert!(
        sent < MAX_ERROR_BODY_SIZE + WIRE_SLACK,
        "the client read {sent} bytes of a token error answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loop_is_not_reported_as_http_vs_https() {
    let server = serve(|req| {
        // /v2/... -> /hop/1 -> /hop/2 -> ...
        let n: u64 = req
            .path
            .strip_prefix("/hop/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let to = format!("/hop/{}", n + 1);
        answer(
            "302 Found",
            &[("Location", to.as_str())],
            Body::Full(Vec::new()),
        )
    })
    .await;
    let err = client(Duration::from_secs(10))
        .resolve(&reference(&server.host, "team/app:1"), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("HTTPS client"), "{text}");
    // Go's net/http client: 10 requests, then `Head "<the last URL>": stopped after 10
    // redirects`, which containerd prefixes with "failed to do request", and the pull with
    // its resolve stage (pull.go@v1.7.34: "failed to resolve reference %q: %w").
    assert_eq!(
        text,
        format!(
            "failed to resolve reference \"{0}/team/app:1\": failed to do request: Head \"http://{0}/hop/9\": stopped after 10 redirects",
            server.host
        )
    );
    assert!(matches!(err, RegistryError::Protocol { .. }), "{err:?}");
    let plain = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("HEAD "))
        .count();
    assert_eq!(plain, 10, "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_redirect_is_not_reported_as_http_vs_https() {
    let server = serve(|_| {
        answer(
            "307 Temporary Redirect",
            &[("Location", "file:///etc/passwd")],
            Body::Full(Vec::new()),
        )
    })
    .await;
    let err = client(Duration::from_secs(10))
        .resolve(&reference(&server.host, "team/app:1"), None)
        .await
        .unwrap_err();
    // Go's http.Transport refuses other schemes: `unsupported protocol scheme "file"`.
    assert_eq!(
        err.to_string(),
        format!(
            "failed to resolve reference \"{}/team/app:1\": failed to do request: Head \"file:///etc/passwd\": unsupported protocol scheme \"file\"",
            server.host
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_timeout_is_not_reported_as_http_vs_https() {
    let server = serve(|_| Script::Silent).await;
    let deadline = Duration::from_millis(800);
    let t = Instant::now();
    let err = within_20s(client(deadline).resolve(&reference(&server.host, "team/app:1"), None))
        .await
        .unwrap_err();
    let took = t.elapsed();
    let text = err.to_string();
    assert!(!text.contains("HTTPS client"), "{text}");
    assert!(
        text.starts_with(&format!(
            "failed to resolve reference \"{0}/team/app:1\": failed to do request: Head \"http://{0}/v2/team/app/manifests/1\": i/o timeout",
            server.host
        )),
        "{text}"
    );
    assert!(matches!(err, RegistryError::Unavailable { .. }), "{err:?}");
    // One deadline, not one per scheme: a silent plain-HTTP peer is no reason to try TLS.
    assert!(took >= deadline && took < 2 * deadline, "{took:?}");
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_expires_in_token_is_accepted_and_kept_60s() {
    // distribution registry/client/auth/session.go: an expires_in below 60 (here -5) is the
    // 60 s default, not an error; the token is cached for that long.
    let issued = Arc::new(AtomicU64::new(0));
    let counter = issued.clone();
    let server = serve(move |req| {
        if req.path.starts_with("/token") {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!(r#"{{"token":"T-{n}","expires_in":-5}}"#);
            return answer(
                "200 OK",
                &[("Content-Type", "application/json")],
                Body::Full(body.into_bytes()),
            );
        }
        if !req.head.contains("Bearer T-") && !req.head.contains("bearer T-") {
            let challenge = format!(r#"Bearer realm="http://{}/token",service="fake""#, req.host);
            return answer(
                "401 Unauthorized",
                &[("WWW-Authenticate", challenge.as_str())],
                Body::Full(Vec::new()),
            );
        }
        let digest = format!("sha256:{}", "a".repeat(64));
        answer(
            "200 OK",
            &[
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", digest.as_str()),
            ],
            Body::Full(vec![b'{'; 100]),
        )
    })
    .await;
    let c = client(Duration::from_secs(10));
    let r = reference(&server.host, "team/app:1");
    let first = c.resolve(&r, None).await.unwrap();
    assert_eq!(first.size, 100);
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    // Within 60 s the cached token is sent up front: no new token request.
    c.resolve(&r, None).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.starts_with("HEAD "))
            .count(),
        3,
        "{:?}",
        server.requests()
    );
}
