//! Token cache and refresh, ingest resume with Range, and one download per blob for
//! concurrent pulls, against an in-process fake registry with a Bearer token endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{BlobSink, Client, ClientOptions, NoProgress};
use pullsim_runtime::StoreSink;
use pullsim_store::Store;
use sha2::Digest as _;

const TOKEN_MARK: &str = "TOKMARK";

struct Fake {
    host: Mutex<String>,
    /// Tokens below this number are refused (revocation).
    min_token: AtomicU64,
    issued: AtomicU64,
    token_requests: AtomicU64,
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    layer_gets: AtomicU64,
    /// GETs of the config blob.
    config_gets: AtomicU64,
    ranges: Mutex<Vec<String>>,
    /// Form bodies of POST /token requests.
    posts: Mutex<Vec<String>>,
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn fake() -> Fake {
    // A gzip layer (stored blocks: about as large as its 200 KB tar) and a config naming the
    // tar's digest as its diff ID, as a valid image does.
    let tar: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&tar)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(&layer), "size": layer.len()}]
    }))
    .unwrap();
    Fake {
        host: Mutex::new(String::new()),
        min_token: AtomicU64::new(0),
        issued: AtomicU64::new(0),
        token_requests: AtomicU64::new(0),
        manifest,
        config,
        layer,
        layer_gets: AtomicU64::new(0),
        config_gets: AtomicU64::new(0),
        ranges: Mutex::new(Vec::new()),
        posts: Mutex::new(Vec::new()),
    }
}

async fn handle(
    State(s): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path().to_string();
    let resp = |st: StatusCode| Response::builder().status(st);
    if path == "/token" {
        if method == Method::POST {
            s.posts
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
        }
        s.token_requests.fetch_add(1, Ordering::SeqCst);
        let n = s.issued.fetch_add(1, Ordering::SeqCst) + 1;
        // access_token only, expires_in below the 60 s minimum, issued_at now-ish
        let body =
            serde_json::json!({"access_token": format!("{TOKEN_MARK}-{n}"), "expires_in": 30});
        return resp(StatusCode::OK)
            .body(Body::from(body.to_string()))
            .unwrap();
    }
    let host = s.host.lock().unwrap().clone();
    let challenge = format!(
        r#"Bearer realm="http://{host}/token",service="fake",scope="repository:tok/app:pull""#
    );
    let token_ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(&format!("Bearer {TOKEN_MARK}-")))
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n >= s.min_token.load(Ordering::SeqCst));
    if !token_ok {
        return resp(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", challenge)
            .body(Body::from(
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ))
            .unwrap();
    }
    if path == "/v2/" {
        return resp(StatusCode::OK).body(Body::empty()).unwrap();
    }
    if path.contains("/manifests/") {
        let b = resp(StatusCode::OK)
            .header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .header("content-length", s.manifest.len())
            .header("docker-content-digest", sha(&s.manifest));
        return b
            .body(if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(s.manifest.clone())
            })
            .unwrap();
    }
    if path.ends_with(&sha(&s.config)) {
        s.config_gets.fetch_add(1, Ordering::SeqCst);
        return resp(StatusCode::OK)
            .body(Body::from(s.config.clone()))
            .unwrap();
    }
    if path.ends_with(&sha(&s.layer)) {
        s.layer_gets.fetch_add(1, Ordering::SeqCst);
        if let Some(r) = headers.get("range").and_then(|v| v.to_str().ok()) {
            s.ranges.lock().unwrap().push(r.to_string());
            let from: usize = r
                .trim_start_matches("bytes=")
                .trim_end_matches('-')
                .parse()
                .unwrap();
            let total = s.layer.len();
            return resp(StatusCode::PARTIAL_CONTENT)
                .header(
                    "content-range",
                    format!("bytes {from}-{}/{total}", total - 1),
                )
                .body(Body::from(s.layer[from..].to_vec()))
                .unwrap();
        }
        // Slow enough that two concurrent pulls overlap.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        return resp(StatusCode::OK)
            .body(Body::from(s.layer.clone()))
            .unwrap();
    }
    resp(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()
}

async fn serve() -> (String, Arc<Fake>) {
    let f = Arc::new(fake());
    let app = Router::new().fallback(handle).with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    *f.host.lock().unwrap() = host.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (host, f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cached_per_credential_and_refreshed_on_401() {
    let (host, f) = serve().await;
    let r = Reference::parse_normalized(&format!("{host}/tok/app:1")).unwrap();
    let c = Client::new(ClientOptions::default()).unwrap();
    let alice = AuthConfig::basic("alice", "pw-a");
    let rep = c.resolve_traced(&r, Some(&alice)).await;
    assert!(rep.result.is_ok(), "{:?}", rep.result);
    assert!(rep.trace.token_obtained);
    assert_eq!(rep.trace.scheme.as_deref(), Some("bearer"));
    assert_eq!(f.token_requests.load(Ordering::SeqCst), 1);
    // cached for the same credential and repository
    c.resolve(&r, Some(&alice)).await.unwrap();
    assert_eq!(f.token_requests.load(Ordering::SeqCst), 1);
    // another credential gets its own token
    let bob = AuthConfig::basic("bob", "pw-b");
    c.resolve(&r, Some(&bob)).await.unwrap();
    assert_eq!(f.token_requests.load(Ordering::SeqCst), 2);
    // revoke every token issued so far: the cached one gets a 401 and is refreshed once
    f.min_token
        .store(f.issued.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    c.resolve(&r, Some(&alice)).await.unwrap();
    assert_eq!(f.token_requests.load(Ordering::SeqCst), 3);
    // tokens never appear in Debug output of the client
    assert!(!format!("{c:?}").contains(TOKEN_MARK));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_ingest_is_resumed_with_range() {
    let (host, f) = serve().await;
    let r = Reference::parse_normalized(&format!("{host}/tok/app:1")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let layer = Digest::parse(&sha(&f.layer)).unwrap();
    {
        // An interrupted download: the client's ingest ref is "<repository>@<digest>".
        use std::io::Write as _;
        let mut w = store
            .writer(
                &format!("tok/app@{layer}"),
                &layer,
                Some(f.layer.len() as u64),
            )
            .unwrap();
        w.write_all(&f.layer[..70_000]).unwrap();
        w.flush().unwrap();
        drop(w);
    }
    let c = Client::new(ClientOptions::default()).unwrap();
    let p = c
        .pull(
            &r,
            Some(&AuthConfig::basic("alice", "pw")),
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(f.ranges.lock().unwrap().as_slice(), ["bytes=70000-"]);
    assert!(store.has_blob(&layer));
    // only the rest of the layer (plus the config) came over the wire
    assert_eq!(
        p.bytes_downloaded,
        (f.layer.len() - 70_000 + f.config.len()) as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_download_a_shared_blob_once() {
    let (host, f) = serve().await;
    let r1 = Reference::parse_normalized(&format!("{host}/tok/app:1")).unwrap();
    let r2 = Reference::parse_normalized(&format!("{host}/tok/app:2")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let c = Client::new(ClientOptions::default()).unwrap();
    let cred = AuthConfig::basic("alice", "pw");
    let sink: Arc<dyn BlobSink> = Arc::new(StoreSink::new(store.clone()));
    let (a, b) = tokio::join!(
        c.pull(&r1, Some(&cred), sink.clone(), &NoProgress),
        c.pull(&r2, Some(&cred), sink, &NoProgress)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(f.layer_gets.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.bytes_downloaded + b.bytes_downloaded,
        (f.layer.len() + f.config.len()) as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_token_uses_the_oauth_refresh_grant() {
    let (host, f) = serve().await;
    let r = Reference::parse_normalized(&format!("{host}/tok/app:1")).unwrap();
    let c = Client::new(ClientOptions::default()).unwrap();
    let cred = AuthConfig {
        identity_token: Some(pullsim_credentials::Secret::new("REFRESH-MARK")),
        ..AuthConfig::default()
    };
    c.resolve(&r, Some(&cred)).await.unwrap();
    let posts = f.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(posts[0].as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("refresh_token"));
    assert_eq!(get("refresh_token"), Some("REFRESH-MARK"));
    assert_eq!(get("scope"), Some("repository:tok/app:pull"));
    assert_eq!(get("service"), Some("fake"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_token_is_sent_as_bearer_without_a_token_request() {
    let (host, f) = serve().await;
    let r = Reference::parse_normalized(&format!("{host}/tok/app:1")).unwrap();
    let c = Client::new(ClientOptions::default()).unwrap();
    let cred = AuthConfig {
        registry_token: Some(pullsim_credentials::Secret::new(format!(
            "{TOKEN_MARK}-999"
        ))),
        ..AuthConfig::default()
    };
    let rep = c.resolve_traced(&r, Some(&cred)).await;
    assert!(rep.result.is_ok(), "{:?}", rep.result);
    assert_eq!(f.token_requests.load(Ordering::SeqCst), 0);
}

/// A download resumed with Range did not pass through the streaming hasher from byte 0: the
/// unpack check decompresses that layer from the store after the pull. And `resolve_image`
/// (`creds check`) fetches no blob at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_layer_is_unpacked_from_the_store_and_resolve_fetches_no_blob() {
    use pullsim_runtime::{ContainerdImageService, ImageService, ImageSpec, RuntimeConfig};
    let (host, f) = serve().await;
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let svc = ContainerdImageService::with_store(store.clone(), &RuntimeConfig::new(root.path()))
        .unwrap();
    let cred = AuthConfig::basic("alice", "pw");
    let spec = ImageSpec::new(format!("{host}/tok/app:1"));

    let attempt = svc.resolve_image(&spec, Some(&cred)).await;
    assert!(attempt.result.is_ok(), "{:?}", attempt.result);
    assert_eq!(f.layer_gets.load(Ordering::SeqCst), 0);
    assert_eq!(f.config_gets.load(Ordering::SeqCst), 0);

    let layer = Digest::parse(&sha(&f.layer)).unwrap();
    {
        use std::io::Write as _;
        let mut w = store
            .writer(
                &format!("tok/app@{layer}"),
                &layer,
                Some(f.layer.len() as u64),
            )
            .unwrap();
        w.write_all(&f.layer[..70_000]).unwrap();
        w.flush().unwrap();
    }
    svc.pull_image(&spec, Some(&cred), None).await.unwrap();
    assert_eq!(f.ranges.lock().unwrap().as_slice(), ["bytes=70000-"]);
    let c = svc.unpack_counts().unwrap();
    assert_eq!((c.streamed, c.from_store, c.from_record), (0, 1, 0));
    assert!(store.uncompressed(&layer).is_some());
}
