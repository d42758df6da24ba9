//! Misbehaviour a real registry will not produce on demand, from an in-process axum server:
//! a blob with the wrong digest, 429 with Retry-After, a stalled body, a redirect to another
//! host, a manifest whose Docker-Content-Digest lies, a large blob with a wrong last byte, and
//! one stalled image beside a healthy one in the same runtime.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{Client, ClientOptions, NoProgress, RegistryError};
use pullsim_runtime::{ContainerdImageService, ImageService, ImageSpec, RuntimeConfig, StoreSink};
use pullsim_store::Store;
use sha2::Digest as _;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    Good,
    WrongBlob,
    RateLimited,
    StallBlob,
    /// The layer's GET is a 500 whose body never ends.
    EndlessBlobError,
    RedirectBlob,
    LyingManifestDigest,
}

struct Fake {
    behaviour: Behaviour,
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    /// Where blob redirects go (`http://127.0.0.1:PORT`).
    redirect_to: Option<String>,
    /// Authorization headers seen by this server (as "present"/"absent" per request path).
    seen: Mutex<Vec<(String, bool)>>,
    require_auth: bool,
    /// Bytes of endless bodies handed to the server (what it could send before the hang-up).
    endless_sent: Arc<AtomicU64>,
    /// Set when an endless body was dropped (the client hung up).
    endless_dropped: Arc<AtomicBool>,
}

/// Sets its flag when dropped: the server dropped the body stream.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

static BLOCK: [u8; 64 << 10] = [b'x'; 64 << 10];

/// A body that never ends, counting what the server took from it.
fn endless_body(sent: Arc<AtomicU64>, dropped: Arc<AtomicBool>) -> Body {
    let stream = futures_util::stream::unfold(DropFlag(dropped), move |flag| {
        let sent = sent.clone();
        async move {
            sent.fetch_add(BLOCK.len() as u64, Ordering::SeqCst);
            Some((
                Ok::<Bytes, std::io::Error>(Bytes::from_static(&BLOCK)),
                flag,
            ))
        }
    });
    Body::from_stream(stream)
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    image_with_layer(50_000)
}

/// An image whose one layer has `layer_size` bytes.
fn image_with_layer(layer_size: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let layer: Vec<u8> = (0..layer_size).map(|i| (i % 251) as u8).collect();
    // A valid image: the layer is not compressed (no gzip magic), so its diff ID is its digest
    // (what the runtime's unpack check finds).
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&layer), "size": layer.len()}]
    });
    (serde_json::to_vec(&manifest).unwrap(), config, layer)
}

async fn handle(
    State(s): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let has_auth = headers.contains_key("authorization");
    s.seen.lock().unwrap().push((path.clone(), has_auth));
    let resp = |status: StatusCode| Response::builder().status(status);
    if s.require_auth && !has_auth && !path.starts_with("/elsewhere/") {
        return resp(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", r#"Basic realm="fake""#)
            .body(Body::empty())
            .unwrap();
    }
    if path == "/v2/" {
        return resp(StatusCode::OK).body(Body::empty()).unwrap();
    }
    if path.contains("/manifests/") {
        if s.behaviour == Behaviour::RateLimited {
            return resp(StatusCode::TOO_MANY_REQUESTS)
                .header("retry-after", "7")
                .header("ratelimit-limit", "100;w=21600")
                .header("ratelimit-remaining", "0;w=21600")
                .body(Body::from(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#))
                .unwrap();
        }
        let digest = if s.behaviour == Behaviour::LyingManifestDigest {
            sha(b"something else")
        } else {
            sha(&s.manifest)
        };
        let b = resp(StatusCode::OK)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .header("content-length", s.manifest.len());
        // The lying server omits the digest on HEAD so that the client GETs and checks.
        let b = if s.behaviour == Behaviour::LyingManifestDigest && method == Method::HEAD {
            b
        } else {
            b.header("docker-content-digest", digest)
        };
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(s.manifest.clone())
        };
        return b.body(body).unwrap();
    }
    let blob = |bytes: &[u8]| {
        resp(StatusCode::OK)
            .header("content-length", bytes.len())
            .body(Body::from(bytes.to_vec()))
            .unwrap()
    };
    if path.ends_with(&sha(&s.config)) {
        return blob(&s.config);
    }
    if path.ends_with(&sha(&s.layer)) || path.starts_with("/elsewhere/") {
        return match s.behaviour {
            Behaviour::WrongBlob => {
                // Wrong at the start and at the very end (after every large chunk).
                let mut wrong = s.layer.clone();
                wrong[0] ^= 0xff;
                let last = wrong.len() - 1;
                wrong[last] ^= 0xff;
                blob(&wrong)
            }
            Behaviour::EndlessBlobError => resp(StatusCode::INTERNAL_SERVER_ERROR)
                .body(endless_body(
                    s.endless_sent.clone(),
                    s.endless_dropped.clone(),
                ))
                .unwrap(),
            Behaviour::StallBlob => {
                let first = Bytes::copy_from_slice(&s.layer[..1000]);
                let stream = futures_util::StreamExt::chain(
                    futures_util::stream::iter(vec![Ok::<Bytes, std::io::Error>(first)]),
                    futures_util::stream::pending(),
                );
                resp(StatusCode::OK)
                    .header("content-length", s.layer.len())
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
            Behaviour::RedirectBlob if !path.starts_with("/elsewhere/") => {
                let to = format!(
                    "{}/elsewhere/{}",
                    s.redirect_to.as_deref().unwrap(),
                    sha(&s.layer)
                );
                resp(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", to)
                    .body(Body::empty())
                    .unwrap()
            }
            _ => blob(&s.layer),
        };
    }
    resp(StatusCode::NOT_FOUND)
        .body(Body::from(
            r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        ))
        .unwrap()
}

async fn serve(fake: Fake) -> (String, Arc<Fake>) {
    let fake = Arc::new(fake);
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("127.0.0.1:{}", addr.port()), fake)
}

fn fake(behaviour: Behaviour) -> Fake {
    let (manifest, config, layer) = image();
    Fake {
        behaviour,
        manifest,
        config,
        layer,
        redirect_to: None,
        seen: Mutex::new(Vec::new()),
        require_auth: false,
        endless_sent: Arc::new(AtomicU64::new(0)),
        endless_dropped: Arc::new(AtomicBool::new(false)),
    }
}

fn client(timeout: Duration) -> Client {
    let mut o = ClientOptions::default();
    o.image_pull_progress_timeout = timeout;
    Client::new(o).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_blob_digest_is_rejected_and_not_stored() {
    let (host, f) = serve(fake(Behaviour::WrongBlob)).await;
    let r = Reference::parse_normalized(&format!("{host}/bad/blob:1")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let err = client(Duration::from_secs(10))
        .pull(
            &r,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap_err();
    let layer = Digest::parse(&sha(&f.layer)).unwrap();
    match &err {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &layer);
            assert_ne!(actual, &layer);
            assert!(
                err.to_string().contains(&layer.to_string())
                    && err.to_string().contains(&actual.to_string())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!store.has_blob(&layer));
    // The manifest is not stored either: manifests are written after all blobs (so the
    // runtime never finds an image whose content is incomplete).
    assert!(!store.has_blob(&Digest::parse(&sha(&f.manifest)).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_with_retry_after() {
    let (host, _f) = serve(fake(Behaviour::RateLimited)).await;
    let r = Reference::parse_normalized(&format!("{host}/busy/app:1")).unwrap();
    let err = client(Duration::from_secs(10))
        .resolve(&r, None)
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), "rate-limited");
    match &err {
        RegistryError::RateLimited {
            retry_after,
            limit,
            remaining,
            ..
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert_eq!(limit.as_deref(), Some("100;w=21600"));
            assert_eq!(remaining.as_deref(), Some("0;w=21600"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("429 Too Many Requests"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_ends_with_no_progress_error() {
    let (host, f) = serve(fake(Behaviour::StallBlob)).await;
    let r = Reference::parse_normalized(&format!("{host}/slow/app:1")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let err = client(Duration::from_millis(800))
        .pull(
            &r,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap_err();
    match &err {
        RegistryError::Stalled { received, .. } => assert_eq!(*received, 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.outcome(), "unavailable");
    assert!(!store.has_blob(&Digest::parse(&sha(&f.layer)).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_host_gets_no_authorization() {
    let (other, other_state) = serve(fake(Behaviour::Good)).await;
    let mut f = fake(Behaviour::RedirectBlob);
    f.require_auth = true;
    f.redirect_to = Some(format!("http://{other}"));
    let (host, main_state) = serve(f).await;
    let r = Reference::parse_normalized(&format!("{host}/redir/app:1")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let cred = AuthConfig::basic("alice", "s3cret-redirect");
    let pulled = client(Duration::from_secs(10))
        .pull(
            &r,
            Some(&cred),
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    assert!(pulled.bytes_downloaded > 0);
    // The registry saw Authorization on the blob request that it redirected...
    let main_seen = main_state.seen.lock().unwrap().clone();
    assert!(
        main_seen.iter().any(|(p, a)| p.contains("/blobs/") && *a),
        "{main_seen:?}"
    );
    // ...and the other host never did.
    let seen = other_state.seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the redirect was not followed");
    assert!(
        seen.iter().all(|(_, a)| !a),
        "Authorization leaked to another host: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_body_checked_against_docker_content_digest() {
    let (host, f) = serve(fake(Behaviour::LyingManifestDigest)).await;
    let r = Reference::parse_normalized(&format!("{host}/lying/app:1")).unwrap();
    let err = client(Duration::from_secs(10))
        .resolve(&r, None)
        .await
        .unwrap_err();
    match &err {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected.to_string(), sha(b"something else"));
            assert_eq!(actual.to_string(), sha(&f.manifest));
        }
        other => panic!("{other:?}"),
    }
}

/// A layer of several MiB arrives in many network buffers and goes through the store's writer
/// thread (direct I/O): a correct one is stored and verifies, a wrong one (last byte) is
/// rejected and not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blob_in_many_network_buffers_is_verified() {
    for behaviour in [Behaviour::Good, Behaviour::WrongBlob] {
        let mut f = fake(behaviour);
        (f.manifest, f.config, f.layer) = image_with_layer(6 << 20);
        let (host, f) = serve(f).await;
        let r = Reference::parse_normalized(&format!("{host}/big/blob:1")).unwrap();
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(root.path()).unwrap());
        let result = client(Duration::from_secs(20))
            .pull(
                &r,
                None,
                Arc::new(StoreSink::new(store.clone())),
                &NoProgress,
            )
            .await;
        let layer = Digest::parse(&sha(&f.layer)).unwrap();
        if behaviour == Behaviour::Good {
            let pulled = result.unwrap();
            assert_eq!(pulled.bytes_downloaded, (6 << 20) + f.config.len() as u64);
            assert_eq!(store.read_blob(&layer).unwrap(), f.layer);
            let report = store.verify(false).unwrap();
            assert!(report.is_clean(), "{report:?}");
            assert_eq!(report.blobs_checked, 3);
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(err, RegistryError::DigestMismatch { .. }),
                "{err:?}"
            );
            assert!(!store.has_blob(&layer));
            assert!(!store.has_blob(&Digest::parse(&sha(&f.manifest)).unwrap()));
        }
    }
}

/// containerd's resolver (`core/remotes/docker/resolver.go` with `authorizer.go`): no
/// `GET /v2/` ping; the manifest HEAD goes first, a 401's challenge is answered by a retry,
/// and the client sends credentials up front once it knows the host's scheme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ping_challenge_from_first_401_then_credentials_up_front() {
    // Anonymous registry: one HEAD, nothing else.
    let (host, f) = serve(fake(Behaviour::Good)).await;
    let r = Reference::parse_normalized(&format!("{host}/open/app:1")).unwrap();
    let c = client(Duration::from_secs(10));
    let rep = c.resolve_traced(&r, None).await;
    assert!(rep.result.is_ok(), "{:?}", rep.result);
    assert_eq!(rep.trace.scheme, None);
    assert_eq!(rep.trace.status, Some(200));
    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![("/v2/open/app/manifests/1".to_string(), false)]);

    // Basic registry: HEAD without credentials (401 + challenge), HEAD with them.
    let mut basic = fake(Behaviour::Good);
    basic.require_auth = true;
    let (host, f) = serve(basic).await;
    let r = Reference::parse_normalized(&format!("{host}/closed/app:1")).unwrap();
    let c = client(Duration::from_secs(10));
    let cred = AuthConfig::basic("alice", "pw");
    let rep = c.resolve_traced(&r, Some(&cred)).await;
    assert!(rep.result.is_ok(), "{:?}", rep.result);
    assert_eq!(rep.trace.scheme.as_deref(), Some("basic"));
    assert_eq!(rep.trace.status, Some(200));
    let path = "/v2/closed/app/manifests/1".to_string();
    assert_eq!(
        f.seen.lock().unwrap().clone(),
        vec![(path.clone(), false), (path.clone(), true)]
    );
    // The same client knows the scheme now: one request, credentials up front.
    f.seen.lock().unwrap().clear();
    let rep = c.resolve_traced(&r, Some(&cred)).await;
    assert!(rep.result.is_ok(), "{:?}", rep.result);
    assert_eq!(rep.trace.scheme.as_deref(), Some("basic"));
    assert_eq!(f.seen.lock().unwrap().clone(), vec![(path.clone(), true)]);

    // Without credentials the 401 stays an error, worded as containerd.
    let c = client(Duration::from_secs(10));
    let rep = c.resolve_traced(&r, None).await;
    let err = rep.result.unwrap_err();
    assert_eq!(err.outcome(), "unauthorized", "{err}");
    assert!(
        err.to_string().contains("no basic auth credentials"),
        "{err}"
    );
    assert_eq!(rep.trace.scheme.as_deref(), Some("basic"));
    assert_eq!(rep.trace.status, Some(401));
}

/// One stuck image never holds back another image's result: two pulls through one runtime, the
/// first image's registry stalls in the middle of its layer; the second image (another
/// registry, another layer) is pulled and recorded at once, the stuck one fails at the
/// deadline. On a single-threaded runtime, so that any blocking call on the async thread (a
/// sink writer waiting for a lock, a put's fsync, the record's write) would hold it back too.
#[tokio::test(flavor = "current_thread")]
async fn a_stalled_image_does_not_hold_back_another_images_pull() {
    let (stuck_host, _stuck) = serve(fake(Behaviour::StallBlob)).await;
    let mut good = fake(Behaviour::Good);
    (good.manifest, good.config, good.layer) = image_with_layer(70_000);
    let (good_host, _good) = serve(good).await;
    let root = tempfile::tempdir().unwrap();
    let deadline = Duration::from_secs(6);
    let mut cfg = RuntimeConfig::new(root.path());
    cfg.image_pull_progress_timeout = deadline;
    let svc = Arc::new(ContainerdImageService::new(cfg).unwrap());
    let start = Instant::now();
    let stuck_spec = ImageSpec::new(format!("{stuck_host}/slow/app:1"));
    let stuck = tokio::spawn({
        let svc = svc.clone();
        async move {
            let r = svc.pull_image(&stuck_spec, None, None).await;
            (r, start.elapsed())
        }
    });
    // Let the stuck pull reach its stall first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let good_spec = ImageSpec::new(format!("{good_host}/fine/app:1"));
    svc.pull_image(&good_spec, None, None).await.unwrap();
    let good_took = start.elapsed();
    // Not held back until the stuck pull's deadline (a healthy pull takes milliseconds; the
    // margin is for a loaded machine).
    assert!(
        good_took < deadline - Duration::from_secs(1),
        "the healthy image waited {good_took:?} (deadline {deadline:?})"
    );
    assert!(svc.image_status(&good_spec).unwrap().is_some());
    assert!(
        !stuck.is_finished(),
        "the stuck pull ended before its deadline"
    );
    let (result, stuck_took) = tokio::time::timeout(deadline * 4, stuck)
        .await
        .expect("the stalled pull never ended")
        .unwrap();
    let err = result.unwrap_err();
    assert!(
        stuck_took >= deadline && stuck_took < deadline * 3,
        "{stuck_took:?}"
    );
    // containerd cancels the pull (`pullProgressReporter`): gRPC Canceled, the copy's
    // `context canceled`; the registry's cause keeps what stalled.
    assert_eq!(err.code(), pullsim_runtime::Code::Canceled, "{err}");
    assert!(
        err.to_string()
            .ends_with("failed to copy: context canceled"),
        "{err}"
    );
    assert!(err.cause_text().contains("no progress for 6s"), "{err:?}");
    assert_eq!(err.outcome(), "unavailable");
}

/// A blob answered with a 500 whose body never ends: the fetcher reads containerd's bounded
/// prefix of it (`core/remotes/errors/errors.go`: 64000 bytes) and reports the status, fast,
/// whatever the deadline; the server could hand out no more than that plus socket buffers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_blob_error_body_is_read_up_to_the_cap() {
    let (host, f) = serve(fake(Behaviour::EndlessBlobError)).await;
    let r = Reference::parse_normalized(&format!("{host}/broken/blob:1")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let start = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        client(Duration::from_secs(60)).pull(
            &r,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        ),
    )
    .await
    .expect("the error body was read without a bound")
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
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
        err.to_string().starts_with(
            "failed to copy: httpReadSeeker: failed open: unexpected status from GET request to"
        ),
        "{err}"
    );
    while !f.endless_dropped.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the client never hung up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = f.endless_sent.load(Ordering::SeqCst);
    // 64000 bytes read; the rest sat in the HTTP and loopback socket buffers (send up to
    // 4 MiB, receive up to 32 MiB here) — far below an unbounded read's gigabytes.
    assert!(
        sent < pullsim_registry::MAX_ERROR_BODY_SIZE + (40 << 20),
        "the server handed out {sent} bytes"
    );
    assert!(!store.has_blob(&Digest::parse(&sha(&f.layer)).unwrap()));
}
