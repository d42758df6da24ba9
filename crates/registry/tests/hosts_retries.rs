//! Retries and wording per resolver through scripted hosts, as containerd's `doWithRetries`
//! / `retryRequest` (`core/remotes/docker/resolver.go@v2.3.4`, `v1.7.34:remotes/docker/
//! resolver.go`), its token fetch (`authorizer.go@v2.3.4`) and its download limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pullsim_credentials::AuthConfig;
use pullsim_reference::Reference;
use pullsim_registry::{Capabilities, Client, ClientOptions, HostPlan, Resolver, Stage};

mod common;
use common::plans::*;
use common::{Body, Req, Script, TinyImage, answer, serve};

#[tokio::test]
async fn too_many_requests_is_retried_at_once() {
    // resolver.go@v2.3.4 retryRequest: 408/429 retried, maxAttempts = 5 requests in all.
    let img = TinyImage::new("x");
    let (s, n) = scripted(vec!["429 Too Many Requests"; 2], img.clone()).await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&reference(&s.host, ":v1"), &p).await;
    assert_eq!(
        report.result.unwrap().digest.to_string(),
        img.manifest_digest
    );
    assert_eq!(n.load(Ordering::SeqCst), 3);

    for (resolver, requests) in [(Resolver::Containerd2Local, 5), (Resolver::Containerd17, 6)] {
        // v1.7.34 retryRequest: `len(responses) > 5` stops: 6 requests.
        let (s, n) = scripted(vec!["429 Too Many Requests"; 10], img.clone()).await;
        let p = plan(vec![host(&s.host, Capabilities::ALL)], resolver);
        let r = reference(&s.host, ":v1");
        let e = client().resolve_on(&r, &p).await.result.unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), requests, "{resolver:?}");
        assert_eq!(e.outcome(), "rate-limited");
        assert_eq!(
            e.to_string(),
            format!(
                "failed to resolve reference \"{r}\": unexpected status from HEAD request to http://{}/v2/{REPO}/manifests/v1: 429 Too Many Requests",
                s.host
            )
        );
    }
}

#[tokio::test]
async fn server_error_retried_once_on_the_last_host_in_2x_only() {
    // resolver.go@v2.3.4 retryRequest: 500/503/504 retried on the last host, not after the
    // same status; v1.7.34 never retries them.
    let img = TinyImage::new("x");
    let (s, n) = scripted(vec!["503 Service Unavailable"], img.clone()).await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&reference(&s.host, ":v1"), &p).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert_eq!(n.load(Ordering::SeqCst), 2);

    let (s, n) = scripted(vec!["503 Service Unavailable"], img.clone()).await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd17,
    );
    let e = client()
        .resolve_on(&reference(&s.host, ":v1"), &p)
        .await
        .result
        .unwrap_err();
    assert_eq!(n.load(Ordering::SeqCst), 1);
    assert_eq!(e.status(), Some(503));

    // Twice the same status: one retry only.
    let (s, n) = scripted(vec!["503 Service Unavailable"; 3], img.clone()).await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let e = client()
        .resolve_on(&reference(&s.host, ":v1"), &p)
        .await
        .result
        .unwrap_err();
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert_eq!(e.status(), Some(503));

    // Not the last host: no retry, the next host serves.
    let (mirror, m) = scripted(vec!["503 Service Unavailable"; 3], img.clone()).await;
    let a = img.clone();
    let up = serve(move |req| a.answer(REPO, "v1", req)).await;
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::ALL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&reference(&up.host, ":v1"), &p).await;
    assert!(report.result.is_ok());
    assert_eq!(m.load(Ordering::SeqCst), 1);
    assert_eq!(report.attempts[0].status, Some(503));
}

#[tokio::test]
async fn head_405_is_asked_again_with_get() {
    // resolver.go@v2.3.4 retryRequest: "Support registries which have not properly
    // implemented the HEAD method for manifests endpoint".
    let img = TinyImage::new("x");
    let (s, _) = scripted(vec!["405 Method Not Allowed"], img.clone()).await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&reference(&s.host, ":v1"), &p).await;
    assert_eq!(
        report.result.unwrap().digest.to_string(),
        img.manifest_digest
    );
    assert_eq!(
        s.requests(),
        [
            format!("HEAD /v2/{REPO}/manifests/v1"),
            format!("GET /v2/{REPO}/manifests/v1"),
        ]
    );
}

#[tokio::test]
async fn transient_transport_errors_retried_on_the_last_host_in_2x() {
    // resolver.go@v2.3.4 doWithTransportRetries / isTransientTransportErr (v2.3.2+, commit
    // 983bbddc): an EOF before the answer is sent again, 50 ms later, on the last host only.
    let img = TinyImage::new("x");
    let hangup_once = |img: TinyImage| {
        let n = Arc::new(AtomicUsize::new(0));
        let count = n.clone();
        let handler = move |req: &Req| {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                return Script::Hangup;
            }
            img.answer(REPO, "v1", req)
        };
        (handler, n)
    };
    for (resolver, ok, requests) in [
        (Resolver::Containerd2Local, true, 2),
        (Resolver::Containerd17, false, 1),
    ] {
        let (h, n) = hangup_once(img.clone());
        let s = serve(h).await;
        let p = plan(vec![host(&s.host, Capabilities::ALL)], resolver);
        let report = client().resolve_on(&reference(&s.host, ":v1"), &p).await;
        assert_eq!(
            report.result.is_ok(),
            ok,
            "{resolver:?}: {:?}",
            report.result
        );
        assert_eq!(n.load(Ordering::SeqCst), requests, "{resolver:?}");
    }
    // A mirror that hangs up is left at once for the next host.
    let (h, n) = hangup_once(img.clone());
    let mirror = serve(h).await;
    let a = img.clone();
    let up = serve(move |req| a.answer(REPO, "v1", req)).await;
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::ALL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&reference(&up.host, ":v1"), &p).await;
    assert!(report.result.is_ok());
    assert_eq!(n.load(Ordering::SeqCst), 1);
    assert_eq!(report.served_by, Some(format!("http://{}/v2", up.host)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_limit_per_pull_or_shared_by_the_client() {
    // containerd 1.7: `max_concurrent_downloads` is a semaphore per pull (v1.7.34 pull.go);
    // 2.x: one limiter for every pull of the node (internal/cri/server/images/service.go@v2.3.4
    // downloadLimiter). Two pulls of different images, each blob answered after 400 ms, one
    // download at a time: per pull they overlap, shared they queue.
    let pause = std::time::Duration::from_millis(400);
    let (a, b) = (TinyImage::new("a"), TinyImage::new("b"));
    let s = serve(move |req: &Req| {
        let img = if req.path.contains("/team/a/") {
            &a
        } else {
            &b
        };
        let repo = if req.path.contains("/team/a/") {
            "team/a"
        } else {
            "team/b"
        };
        match img.answer(repo, "v1", req) {
            Script::Answer {
                status,
                headers,
                body: Body::Full(bytes),
            } if req.path.contains("/blobs/") => Script::Answer {
                status,
                headers,
                body: Body::Delayed(pause, bytes),
            },
            other => other,
        }
    })
    .await;
    let mut took = Vec::new();
    for shared in [false, true] {
        let mut o = ClientOptions::default();
        o.max_concurrent_layers = 1;
        o.shared_download_limit = shared;
        let c = Client::new(o).unwrap();
        let p = plan(
            vec![host(&s.host, Capabilities::ALL)],
            Resolver::Containerd2Local,
        );
        let ra = Reference::parse_normalized(&format!("{}/team/a:v1", s.host)).unwrap();
        let rb = Reference::parse_normalized(&format!("{}/team/b:v1", s.host)).unwrap();
        let t = std::time::Instant::now();
        let (x, y) = tokio::join!(pull(&c, &ra, &p), pull(&c, &rb, &p));
        took.push(t.elapsed());
        assert!(
            x.result.is_ok() && y.result.is_ok(),
            "{:?} {:?}",
            x.result,
            y.result
        );
    }
    // 2 blobs a pull: per pull ~2 pauses, shared ~4.
    assert!(took[0] < pause * 7 / 2, "per pull: {:?}", took[0]);
    assert!(took[1] >= pause * 4, "shared: {:?}", took[1]);
}

#[tokio::test]
async fn fetch_error_wording_per_resolver() {
    // 2.x: unexpectedResponseErr (core/remotes/docker/errcode.go@v2.3.4) joins the registry's
    // errors with a newline; 1.7: `unexpected status code URL: STATUS - Server message: ...`
    // (v1.7.34:remotes/docker/fetcher.go open; kata-containers#10109).
    let img = TinyImage::new("x");
    let a = img.clone();
    let layer = img.layer_digest.clone();
    let s = serve(move |req: &Req| {
        if req.path.contains(&layer) {
            return answer(
                "429 Too Many Requests",
                &[("Content-Type", "application/json")],
                Body::Full(
                    br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#
                        .to_vec(),
                ),
            );
        }
        a.answer(REPO, "v1", req)
    })
    .await;
    let url = format!("http://{}/v2/{REPO}/blobs/{}", s.host, img.layer_digest);
    for (resolver, want) in [
        (
            Resolver::Containerd2Local,
            format!(
                "failed to copy: httpReadSeeker: failed open: unexpected status from GET request to {url}: 429 Too Many Requests\ntoomanyrequests: You have reached your pull rate limit."
            ),
        ),
        (
            Resolver::Containerd17,
            format!(
                "failed to copy: httpReadSeeker: failed open: unexpected status code {url}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit."
            ),
        ),
    ] {
        let p = plan(vec![host(&s.host, Capabilities::ALL)], resolver);
        let e = pull(&client(), &reference(&s.host, ":v1"), &p)
            .await
            .result
            .unwrap_err();
        assert_eq!(e.to_string(), want, "{resolver:?}");
        assert_eq!(e.outcome(), "rate-limited");
        assert_eq!(e.stage(), Some(Stage::Fetch));
    }
}

#[tokio::test]
async fn token_post_400_falls_back_to_get_and_host_headers_reach_the_token_endpoint() {
    // authorizer.go@v2.3.4 doBearerAuth: with a secret, the OAuth POST first; 400 ("ACR is
    // known to return 400"), 401, 404, or 405 with a username → GET with Basic credentials.
    // config/hosts.go: the host's `header` goes to the token endpoint too (WithAuthHeader).
    let img = TinyImage::new("x");
    let heads = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = heads.clone();
    let s = serve(move |req: &Req| {
        seen.lock().unwrap().push(req.head.to_ascii_lowercase());
        if req.path.starts_with("/token") {
            if req.method == "POST" {
                return answer("400 Bad Request", &[], Body::Full(Vec::new()));
            }
            return answer(
                "200 OK",
                &[("Content-Type", "application/json")],
                Body::Full(br#"{"token":"tok","expires_in":300}"#.to_vec()),
            );
        }
        if !req
            .head
            .to_ascii_lowercase()
            .contains("authorization: bearer tok")
        {
            let challenge = format!("Bearer realm=\"http://{}/token\",service=\"reg\"", req.host);
            return answer(
                "401 Unauthorized",
                &[("WWW-Authenticate", challenge.as_str())],
                Body::Full(Vec::new()),
            );
        }
        img.answer(REPO, "v1", req)
    })
    .await;
    let mut h = host(&s.host, Capabilities::ALL);
    h.headers = vec![("X-Mirror-Key".into(), "k1".into())];
    let cred = AuthConfig {
        username: "alice".into(),
        password: pullsim_credentials::Secret::new("pw"),
        ..AuthConfig::default()
    };
    let p = HostPlan {
        hosts: vec![h],
        resolver: Resolver::Containerd2Local,
        credentials: Arc::new(move |_| Some(cred.clone())),
    };
    let report = client().resolve_on(&reference(&s.host, ":v1"), &p).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    assert_eq!(reqs[0], format!("HEAD /v2/{REPO}/manifests/v1"));
    assert_eq!(reqs[1], "POST /token");
    assert!(
        reqs[2].starts_with("GET /token?scope=repository%3Ateam%2Fapp%3Apull&service=reg"),
        "{}",
        reqs[2]
    );
    assert_eq!(reqs[3], format!("HEAD /v2/{REPO}/manifests/v1"));
    let heads = heads.lock().unwrap();
    assert!(
        heads.iter().all(|h| h.contains("x-mirror-key: k1")),
        "{heads:?}"
    );
    assert!(heads[2].contains("authorization: basic "), "{}", heads[2]);
}

#[tokio::test]
async fn head_403_borrows_the_get_body_in_2x() {
    // resolver.go@v2.3.4 Resolve + withGETErrorBody (pusher.go@v2.3.4, 2.3.3+): a HEAD 403 is
    // asked again with GET; a 403 body's errors are joined to the HEAD's error. 1.7 asks
    // nothing more.
    let s = serve(|req: &Req| {
        if req.method == "HEAD" {
            return answer("403 Forbidden", &[], Body::Full(Vec::new()));
        }
        answer(
            "403 Forbidden",
            &[("Content-Type", "application/json")],
            Body::Full(
                br#"{"errors":[{"code":"DENIED","message":"key vault access denied"}]}"#.to_vec(),
            ),
        )
    })
    .await;
    let r = reference(&s.host, ":v1");
    let url = format!("http://{}/v2/{REPO}/manifests/v1", s.host);
    for (resolver, requests, tail) in [
        (
            Resolver::Containerd2Local,
            2,
            "\ndenied: key vault access denied",
        ),
        (Resolver::Containerd17, 1, ""),
    ] {
        let before = s.requests().len();
        let p = plan(vec![host(&s.host, Capabilities::ALL)], resolver);
        let e = client().resolve_on(&r, &p).await.result.unwrap_err();
        assert_eq!(s.requests().len() - before, requests, "{resolver:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "failed to resolve reference \"{r}\": unexpected status from HEAD request to {url}: 403 Forbidden{tail}"
            )
        );
        assert_eq!(e.outcome(), "denied");
    }
}

#[tokio::test]
async fn last_host_is_the_last_capable_one_while_resolving() {
    // resolver.go@v2.3.4 Resolve: `doWithRetries(ctx, i == len(hosts)-1)` over the hosts
    // filtered by capability: a mirror followed only by a pull-only host is the last to
    // resolve a tag, so its 503 is retried.
    let img = TinyImage::new("x");
    let (mirror, n) = scripted(vec!["503 Service Unavailable"], img.clone()).await;
    let a = img.clone();
    let pull_only = serve(move |req| a.answer(REPO, "v1", req)).await;
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::ALL),
            host(&pull_only.host, Capabilities::PULL),
        ],
        Resolver::Containerd2Local,
    );
    let report = client()
        .resolve_on(&reference(&mirror.host, ":v1"), &p)
        .await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert!(pull_only.requests().is_empty());
}
