//! Resolve and pull through several hosts (mirrors, then the upstream), as containerd's
//! resolver and fetcher (`core/remotes/docker/resolver.go@v2.3.4`, `fetcher.go@v2.3.4`,
//! `v1.7.34:remotes/docker/resolver.go`), against scripted in-process servers on different
//! loopback ports: which host is asked, in which order, how often, and which error wins.

use std::sync::Arc;

use pullsim_credentials::AuthConfig;
use pullsim_registry::{Capabilities, HostPlan, NotFoundKind, RegistryError, Resolver, Stage};

mod common;
use common::plans::*;
use common::{Body, Req, TinyImage, answer, not_found, serve};

#[tokio::test]
async fn mirror_down_then_upstream() {
    // resolver.go@v2.3.4 Resolve: a transport error → "trying next host".
    let img = TinyImage::new("up");
    let up_img = img.clone();
    let up = serve(move |req| up_img.answer(REPO, "v1", req)).await;
    let down = format!("127.0.0.1:{}", free_port());
    let p = plan(
        vec![
            host(&down, Capabilities::ALL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Transfer,
    );
    let r = reference(&up.host, ":v1");
    let report = client().resolve_on(&r, &p).await;
    assert_eq!(
        report.result.unwrap().digest.to_string(),
        img.manifest_digest
    );
    assert_eq!(report.served_by, Some(format!("http://{}/v2", up.host)));
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(report.attempts[0].stage, Stage::Resolve);
    let e = report.attempts[0].error.as_deref().unwrap();
    assert!(e.contains("connection refused"), "{e}");
    assert_eq!(report.attempts[1].error, None);
    assert_eq!(up.requests(), [format!("HEAD /v2/{REPO}/manifests/v1")]);
}

#[tokio::test]
async fn mirror_404_then_upstream_with_ns_on_the_mirror_only() {
    // registry.go@v2.3.4 isProxy / resolver.go addNamespace: `?ns=<registry>` on manifest and
    // blob requests to a host that is not the reference's registry; fetcher.go Fetch: every
    // blob tries the hosts in order.
    let img = TinyImage::new("up");
    let up_img = img.clone();
    let up = serve(move |req| up_img.answer(REPO, "v1", req)).await;
    let mirror = serve(|_| not_found("MANIFEST_UNKNOWN")).await;
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::ALL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Transfer,
    );
    let r = reference(&up.host, ":v1");
    let report = pull(&client(), &r, &p).await;
    assert_eq!(pulled_config(&report), img.config_digest);
    assert_eq!(report.resolved_by, Some(format!("http://{}/v2", up.host)));
    let q = ns(&up.host);
    let mut m = mirror.requests();
    m[2..].sort();
    let mut want = vec![
        format!("HEAD /v2/{REPO}/manifests/v1{q}"),
        format!("GET /v2/{REPO}/manifests/{}{q}", img.manifest_digest),
        format!("GET /v2/{REPO}/blobs/{}{q}", img.config_digest),
        format!("GET /v2/{REPO}/blobs/{}{q}", img.layer_digest),
    ];
    want[2..].sort();
    assert_eq!(m, want);
    let mut u = up.requests();
    u[2..].sort();
    let mut want = vec![
        format!("HEAD /v2/{REPO}/manifests/v1"),
        format!("GET /v2/{REPO}/manifests/{}", img.manifest_digest),
        format!("GET /v2/{REPO}/blobs/{}", img.config_digest),
        format!("GET /v2/{REPO}/blobs/{}", img.layer_digest),
    ];
    want[2..].sort();
    assert_eq!(u, want);
}

#[tokio::test]
async fn pull_only_mirror_never_resolves_the_tag_but_serves_the_content() {
    // resolver.go@v2.3.4 Resolve: a tag needs pull|resolve (filterHosts); fetcher.go Fetch
    // loops over all hosts: the pull-only mirror serves manifest and blobs first.
    let img = TinyImage::new("same");
    let (a, b) = (img.clone(), img.clone());
    let up = serve(move |req| a.answer(REPO, "v1", req)).await;
    let mirror = serve(move |req| b.answer(REPO, "v1", req)).await;
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::PULL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Transfer,
    );
    let report = pull(&client(), &reference(&up.host, ":v1"), &p).await;
    assert_eq!(pulled_config(&report), img.config_digest);
    assert_eq!(up.requests(), [format!("HEAD /v2/{REPO}/manifests/v1")]);
    let m = mirror.requests();
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(
        m.iter()
            .all(|l| l.starts_with("GET ") && !l.contains("/manifests/v1"))
    );
}

#[tokio::test]
async fn no_resolve_host_for_a_tag() {
    // resolver.go@v2.3.4: `no resolve hosts: not found`, wrapped by the pull's stage.
    let p = plan(
        vec![host("127.0.0.1:1", Capabilities::PULL)],
        Resolver::Containerd2Local,
    );
    let r = reference("127.0.0.1:1", ":v1");
    let e = client().resolve_on(&r, &p).await.result.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("failed to resolve reference \"{r}\": no resolve hosts: not found")
    );
    assert_eq!(e.stage(), Some(Stage::Resolve));
    assert_eq!(e.outcome(), "not-found");
}

#[tokio::test]
async fn redirects_are_followed_and_an_unfollowed_3xx_stops_resolution() {
    // Go's http.Client (containerd's) follows a 3xx with Location; resolver.go@v2.3.4
    // Resolve: a 3xx it is left with (no Location) returns at once, no next host.
    let img = TinyImage::new("x");
    let a = img.clone();
    let target = serve(move |req| a.answer(REPO, "v1", req)).await;
    let to = target.host.clone();
    let redirecting = serve(move |req: &Req| {
        let loc = format!("http://{to}{}", req.path.split('?').next().unwrap_or(""));
        answer(
            "302 Found",
            &[("Location", loc.as_str())],
            Body::Full(Vec::new()),
        )
    })
    .await;
    let p = plan(
        vec![host(&redirecting.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let report = client()
        .resolve_on(&reference(&redirecting.host, ":v1"), &p)
        .await;
    assert_eq!(
        report.result.unwrap().digest.to_string(),
        img.manifest_digest
    );

    let bare = serve(|_| answer("302 Found", &[], Body::Full(Vec::new()))).await;
    let b = img.clone();
    let up = serve(move |req| b.answer(REPO, "v1", req)).await;
    for resolver in [Resolver::Containerd2Local, Resolver::Containerd17] {
        let p = plan(
            vec![
                host(&bare.host, Capabilities::ALL),
                host(&up.host, Capabilities::ALL),
            ],
            resolver,
        );
        let r = reference(&up.host, ":v1");
        let e = client().resolve_on(&r, &p).await.result.unwrap_err();
        assert_eq!(e.status(), Some(302), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "failed to resolve reference \"{r}\": unexpected status from HEAD request to http://{}/v2/{REPO}/manifests/v1{}: 302 Found",
                bare.host,
                ns(&up.host)
            )
        );
    }
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn which_error_wins_mirror_401_upstream_404() {
    // resolver.go@v2.3.4: the error "furthest through the resolution process" (a 404, priority
    // 2, beats a failed authorization, priority 1); v1.7.34: the first non-404 error.
    let mirror = serve(|_| {
        answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"mirror\"")],
            Body::Full(Vec::new()),
        )
    })
    .await;
    let up = serve(|_| not_found("MANIFEST_UNKNOWN")).await;
    let r = reference(&up.host, ":v1");
    let hosts = vec![
        host(&mirror.host, Capabilities::ALL),
        host(&up.host, Capabilities::ALL),
    ];
    let c = client();
    let e = c
        .resolve_on(&r, &plan(hosts.clone(), Resolver::Containerd2Local))
        .await
        .result
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("failed to resolve reference \"{r}\": {r}: not found")
    );
    let e = c
        .resolve_on(&r, &plan(hosts.clone(), Resolver::Containerd2Transfer))
        .await
        .result
        .unwrap_err();
    // core/transfer/local/pull.go@v2.3.4: `failed to resolve image: %w`.
    assert_eq!(
        e.to_string(),
        format!("failed to resolve image: {r}: not found")
    );
    assert_eq!(e.stage(), Some(Stage::Resolve));
    let e = c
        .resolve_on(&r, &plan(hosts, Resolver::Containerd17))
        .await
        .result
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to resolve reference \"{r}\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"
        )
    );
    assert_eq!(e.outcome(), "unauthorized");
}

#[tokio::test]
async fn digest_reference_blobs_pass() {
    // resolver.go@v2.3.4 Resolve: a digest ref falls back to /blobs/ after 404s on
    // /manifests/, not after an error of priority > 2 (2.3, commit 9b7fa613); 1.7 always.
    let img = TinyImage::new("x");
    let a = img.clone();
    let s = serve(move |req: &Req| {
        if req.path.contains("/manifests/") {
            return not_found("MANIFEST_UNKNOWN");
        }
        let digest = a.manifest_digest.clone();
        if req.path.contains(&format!("/blobs/{digest}")) {
            return answer(
                "200 OK",
                &[("Docker-Content-Digest", digest.as_str())],
                Body::Full(a.manifest.clone()),
            );
        }
        not_found("BLOB_UNKNOWN")
    })
    .await;
    let r = reference(&s.host, &format!("@{}", img.manifest_digest));
    let p = plan(
        vec![host(&s.host, Capabilities::PULL)],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&r, &p).await;
    assert_eq!(
        report.result.unwrap().digest.to_string(),
        img.manifest_digest
    );
    let d = &img.manifest_digest;
    assert_eq!(
        s.requests(),
        [
            format!("HEAD /v2/{REPO}/manifests/{d}"),
            format!("HEAD /v2/{REPO}/blobs/{d}"),
        ]
    );

    let forbidden = serve(|req: &Req| {
        if req.path.contains("/manifests/") {
            return answer("403 Forbidden", &[], Body::Full(Vec::new()));
        }
        answer("200 OK", &[], Body::Full(b"{}".to_vec()))
    })
    .await;
    let r = reference(&forbidden.host, &format!("@{}", img.manifest_digest));
    for (resolver, blobs_asked) in [
        (Resolver::Containerd2Local, false),
        (Resolver::Containerd17, true),
    ] {
        let p = plan(vec![host(&forbidden.host, Capabilities::PULL)], resolver);
        let before = forbidden.requests().len();
        let _ = client().resolve_on(&r, &p).await;
        let asked: Vec<String> = forbidden.requests()[before..].to_vec();
        assert_eq!(
            asked.iter().any(|l| l.contains("/blobs/")),
            blobs_asked,
            "{resolver:?}: {asked:?}"
        );
    }
}

#[tokio::test]
async fn blob_missing_everywhere_is_not_found_by_descriptor() {
    // fetcher.go@v2.3.4 Fetch: the first error; a 404 becomes `could not fetch content
    // descriptor DIGEST (MEDIATYPE) from remote: not found`.
    let img = TinyImage::new("x");
    let a = img.clone();
    let layer = img.layer_digest.clone();
    let s = serve(move |req: &Req| {
        if req.path.contains(&layer) {
            return not_found("BLOB_UNKNOWN");
        }
        a.answer(REPO, "v1", req)
    })
    .await;
    let p = plan(
        vec![host(&s.host, Capabilities::ALL)],
        Resolver::Containerd2Local,
    );
    let report = pull(&client(), &reference(&s.host, ":v1"), &p).await;
    let e = report.result.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to copy: httpReadSeeker: failed open: could not fetch content descriptor {} (application/vnd.oci.image.layer.v1.tar) from remote: not found",
            img.layer_digest
        )
    );
    assert_eq!(e.stage(), Some(Stage::Fetch));
    assert_eq!(e.outcome(), "not-found");
}

#[tokio::test]
async fn a_missing_client_certificate_is_named() {
    // config/hosts.go@v2.3.4 updateTLSConfigFromHost: a client pair that cannot be loaded is
    // an error of the host's configuration.
    let mut h = host("127.0.0.1:1", Capabilities::ALL);
    h.scheme = "https".into();
    h.tls = Some(pullsim_registry::HostTls {
        client_pairs: vec![("/nonexistent/client.pem".into(), None)],
        ..Default::default()
    });
    let r = reference("127.0.0.1:1", ":v1");
    let e = client()
        .resolve_on(&r, &plan(vec![h], Resolver::Containerd2Local))
        .await
        .result
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/client.pem"), "{e}");
}

#[tokio::test]
async fn a_learned_http_fallback_is_not_used_by_an_https_only_entry() {
    // resolver.go@v2.3.4 httpFallback: only a host configured with the fallback goes to plain
    // HTTP; an `https://` entry for the same host keeps to HTTPS.
    let img = TinyImage::new("x");
    let a = img.clone();
    let s = serve(move |req| a.answer(REPO, "v1", req)).await;
    let r = reference(&s.host, ":v1");
    let c = client();
    let fallback = HostPlan::default_for(&r, None, Resolver::Containerd2Local);
    assert!(fallback.hosts[0].http_fallback);
    assert!(c.resolve_on(&r, &fallback).await.result.is_ok());
    let mut https = fallback.hosts[0].clone();
    https.http_fallback = false;
    let e = c
        .resolve_on(&r, &plan(vec![https], Resolver::Containerd2Local))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.outcome(), "tls-error", "{e}");
    assert!(
        e.to_string()
            .contains("http: server gave HTTP response to HTTPS client"),
        "{e}"
    );
}

#[tokio::test]
async fn only_the_traced_resolve_asks_for_the_error_code() {
    // containerd never reads a HEAD 404's body (resolver.go@v2.3.4 Resolve); `pullsim creds
    // check` (resolve_traced) asks again with GET to name the registry's code.
    let s = serve(|_| not_found("NAME_UNKNOWN")).await;
    let r = reference(&s.host, ":v1");
    let c = client();
    let e = c.resolve(&r, None).await.unwrap_err();
    assert_eq!(e.registry_code(), None);
    assert_eq!(s.requests(), [format!("HEAD /v2/{REPO}/manifests/v1")]);
    let e = c.resolve_traced(&r, None).await.result.unwrap_err();
    assert_eq!(e.registry_code(), Some("NAME_UNKNOWN"));
    assert!(matches!(
        e,
        RegistryError::NotFound {
            what: NotFoundKind::Repository,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        format!("failed to resolve reference \"{r}\": {r}: not found")
    );
    assert_eq!(s.requests().len(), 3);
    assert_eq!(s.requests()[2], format!("GET /v2/{REPO}/manifests/v1"));
}

/// A Basic-auth host that serves `img` to `user` only (401 with a Basic challenge otherwise).
async fn basic_host(img: TinyImage, user: &'static str) -> common::Server {
    use base64::Engine as _;
    let want = format!(
        "authorization: basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:pw"))
    )
    .to_ascii_lowercase();
    serve(move |req: &Req| {
        if req.head.to_ascii_lowercase().contains(&want) {
            return img.answer(REPO, "v1", req);
        }
        answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"r\"")],
            Body::Full(Vec::new()),
        )
    })
    .await
}

#[tokio::test]
async fn each_host_gets_its_own_credential() {
    // authorizer.go@v2.3.4: the credential is looked up for the host that challenged
    // (`a.credentials(host)`); the plan's function decides (the CRI offers the kubelet's auth
    // to every host).
    let img = TinyImage::new("x");
    let mirror = basic_host(img.clone(), "mirror-user").await;
    let up = basic_host(img.clone(), "up-user").await;
    let (m, u) = (mirror.host.clone(), up.host.clone());
    let asked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = asked.clone();
    let p = HostPlan {
        hosts: vec![host(&m, Capabilities::ALL), host(&u, Capabilities::ALL)],
        resolver: Resolver::Containerd2Local,
        credentials: Arc::new(move |h: &str| {
            log.lock().unwrap().push(h.to_string());
            let user = if h == m { "mirror-user" } else { "up-user" };
            Some(AuthConfig {
                username: user.into(),
                password: pullsim_credentials::Secret::new("pw"),
                ..AuthConfig::default()
            })
        }),
    };
    let report = pull(&client(), &reference(&u, ":v1"), &p).await;
    assert_eq!(pulled_config(&report), img.config_digest);
    assert_eq!(
        report.resolved_by,
        Some(format!("http://{}/v2", mirror.host))
    );
    // Asked when a host challenged: the upstream never was.
    assert_eq!(*asked.lock().unwrap(), std::slice::from_ref(&mirror.host));
    // The mirror served everything: the upstream was never asked.
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn oversize_manifest_moves_on_and_wins_over_not_found() {
    // resolver.go@v2.3.4 Resolve: "Prevent resolving to excessively large manifests" — the
    // next host, with the error of priority 4 (furthest through resolution).
    let big = 5 << 20;
    let mirror = serve(move |req: &Req| {
        let digest = format!("sha256:{}", "a".repeat(64));
        let headers = [
            ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
            ("Docker-Content-Digest", digest.as_str()),
        ];
        if req.method == "HEAD" {
            return answer("200 OK", &headers, Body::Full(vec![b' '; big]));
        }
        not_found("MANIFEST_UNKNOWN")
    })
    .await;
    let up = serve(|_| not_found("MANIFEST_UNKNOWN")).await;
    let r = reference(&up.host, ":v1");
    let p = plan(
        vec![
            host(&mirror.host, Capabilities::ALL),
            host(&up.host, Capabilities::ALL),
        ],
        Resolver::Containerd2Local,
    );
    let report = client().resolve_on(&r, &p).await;
    let e = report.result.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to resolve reference \"{r}\": rejecting {big} byte manifest for {r}: not found"
        )
    );
    assert_eq!(up.requests().len(), 1);
    assert_eq!(report.attempts.len(), 2);
}
