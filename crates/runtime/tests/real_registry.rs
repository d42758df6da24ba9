//! The registry client against the real Debian `docker-registry` (distribution 2.8) in every auth
//! mode, writing into the content store through [`StoreSink`].

use std::path::Path;
use std::sync::{Arc, Mutex};

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{
    Client, ClientOptions, HostPlan, HostTls, NoProgress, NotFoundKind, Platform, Refuser,
    RegistryError, RegistryHost, Resolver,
};
use pullsim_runtime::StoreSink;
use pullsim_store::Store;
use pullsim_testsupport::image::{GeneratedImage, ImageSpec, generate};
use pullsim_testsupport::{Mode, RegistryHandle, shared};
use sha2::Digest as _;

/// Generated images are pushed once per (mode, repo).
static PUSHED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn push(reg: &RegistryHandle, spec: &ImageSpec, repo_tag: &str) -> GeneratedImage {
    let dir = tempfile::tempdir().unwrap().keep();
    let img = generate(&dir.join("layout"), spec).unwrap();
    let key = format!("{}/{repo_tag}", reg.host);
    let mut pushed = PUSHED.lock().unwrap();
    if !pushed.contains(&key) {
        reg.push_image(&img, repo_tag).unwrap();
        pushed.push(key);
    }
    img
}

fn small(tag: &str, seed: u64) -> ImageSpec {
    ImageSpec::simple(tag, 2, 4096, seed)
}

fn reference(reg: &RegistryHandle, repo_tag: &str) -> Reference {
    Reference::parse_normalized(&format!("{}/{repo_tag}", reg.host)).unwrap()
}

fn client() -> Client {
    Client::new(ClientOptions::default()).unwrap()
}

fn tls_client(reg: &RegistryHandle) -> Client {
    let mut o = ClientOptions::default();
    o.ca_files = vec![reg.ca_file.clone().unwrap()];
    Client::new(o).unwrap()
}

fn creds(u: &str, p: &str) -> AuthConfig {
    AuthConfig::basic(u, p)
}

/// Every blob file in the store hashes to its name.
fn assert_store_verifies(root: &Path) {
    let dir = root.join("blobs/sha256");
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        let hex = hex::encode(sha2::Sha256::digest(&bytes));
        assert_eq!(hex, e.file_name().to_string_lossy(), "blob {:?}", e.path());
    }
}

async fn pull_and_check(
    c: &Client,
    r: &Reference,
    cred: Option<&AuthConfig>,
    img: &GeneratedImage,
) {
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let pulled = c
        .pull(
            r,
            cred,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(pulled.manifest_digest.to_string(), img.top_digest());
    let m = &img.manifests[0];
    assert_eq!(pulled.config_digest.to_string(), m.config_digest);
    for l in &m.layers {
        assert!(
            store.has_blob(&Digest::parse(&l.digest).unwrap()),
            "{}",
            l.digest
        );
    }
    // Every blob once, manifests first, all in the sink; the size counts each once. (The
    // image record is the runtime's: crates/runtime/tests.)
    assert_eq!(pulled.blobs[0].digest, pulled.manifest_digest);
    assert_eq!(pulled.blobs.len(), m.layers.len() + 2);
    for b in &pulled.blobs {
        assert_eq!(store.blob_size(&b.digest).unwrap(), b.size, "{}", b.digest);
    }
    assert_eq!(
        pulled.size,
        pulled.blobs.iter().map(|b| b.size).sum::<u64>()
    );
    assert_store_verifies(root.path());
    // A second pull downloads nothing.
    let again = c
        .pull(
            r,
            cred,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(again.bytes_downloaded, 0);
    assert_eq!(again.blobs_skipped, m.layers.len() + 1);
}

#[tokio::test]
async fn anonymous_resolve_and_pull() {
    let reg = shared(Mode::Anonymous);
    let img = push(reg, &small("v1", 1), "anon/app:v1");
    let r = reference(reg, "anon/app:v1");
    let c = client();
    let res = c.resolve(&r, None).await.unwrap();
    assert_eq!(res.digest.to_string(), img.top_digest());
    assert_eq!(res.media_type, "application/vnd.oci.image.manifest.v1+json");
    pull_and_check(&c, &r, None, &img).await;
    // By digest: the manifest is fetched by digest and checked against it.
    let by_digest = reference(reg, &format!("anon/app@{}", img.top_digest()));
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let p = c
        .pull(
            &by_digest,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.manifest_digest.to_string(), img.top_digest());
    assert!(store.has_blob(&p.manifest_digest));
}

#[tokio::test]
async fn pulled_digests_equal_skopeo_copy() {
    let reg = shared(Mode::Anonymous);
    let img = push(reg, &small("v1", 2), "anon/skopeo:v1");
    let r = reference(reg, "anon/skopeo:v1");
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let pulled = client()
        .pull(
            &r,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--quiet"])
        .arg(format!("docker://{}/anon/skopeo:v1", reg.host))
        .arg(format!("oci:{}:v1", out.path().join("oci").display()))
        .status()
        .unwrap();
    assert!(status.success());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("oci/index.json")).unwrap()).unwrap();
    let top = index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(top, pulled.manifest_digest.to_string());
    for e in std::fs::read_dir(out.path().join("oci/blobs/sha256")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let d = Digest::parse(&format!("sha256:{name}")).unwrap();
        assert!(store.has_blob(&d), "skopeo has {d}, the store does not");
    }
    let _ = img;
}

#[tokio::test]
async fn htpasswd_modes() {
    let reg = shared(Mode::Htpasswd);
    let img = push(reg, &small("v1", 3), "team/app:v1");
    let r = reference(reg, "team/app:v1");
    let c = client();
    let good = creds("alice", "alice-pass");
    let rep = c.resolve_traced(&r, Some(&good)).await;
    assert_eq!(rep.result.unwrap().digest.to_string(), img.top_digest());
    assert_eq!(rep.trace.scheme.as_deref(), Some("basic"));
    assert!(!rep.trace.token_obtained);
    pull_and_check(&c, &r, Some(&good), &img).await;

    for (cred, what) in [
        (Some(creds("alice", "wrong")), "wrong password"),
        (Some(creds("mallory", "x")), "unknown user"),
        (None, "no credentials"),
    ] {
        let err = c.resolve(&r, cred.as_ref()).await.unwrap_err();
        assert_eq!(err.outcome(), "unauthorized", "{what}: {err}");
        assert!(
            matches!(
                err,
                RegistryError::Unauthorized {
                    by: Refuser::Registry,
                    ..
                }
            ),
            "{what}"
        );
        assert!(!err.to_string().contains("wrong"), "{err}");
    }
    let err = c.resolve(&r, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "failed to resolve reference \"{r}\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"
        )
    );
}

#[tokio::test]
async fn token_modes() {
    let reg = shared(Mode::Token);
    let img = push(reg, &small("v1", 4), "team/app:v1");
    let r = reference(reg, "team/app:v1");
    let c = client();
    let good = creds("alice", "alice-pass");
    let rep = c.resolve_traced(&r, Some(&good)).await;
    assert_eq!(rep.result.unwrap().digest.to_string(), img.top_digest());
    assert_eq!(rep.trace.scheme.as_deref(), Some("bearer"));
    assert!(rep.trace.token_obtained);
    // The token is cached: a second resolve fetches none.
    let before = reg.token_requests();
    c.resolve(&r, Some(&good)).await.unwrap();
    assert_eq!(reg.token_requests(), before);
    pull_and_check(&c, &r, Some(&good), &img).await;

    // wrong password / unknown user: the token endpoint refuses
    for cred in [creds("alice", "nope"), creds("mallory", "x")] {
        let err = c.resolve(&r, Some(&cred)).await.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Unauthorized {
                    by: Refuser::TokenEndpoint,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("failed to fetch oauth token"),
            "{err}"
        );
        assert!(!err.to_string().contains("nope"), "{err}");
    }
    // bob may not pull team/*: insufficient_scope
    let err = c
        .resolve(&r, Some(&creds("bob", "bob-pass")))
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), "denied", "{err}");
    assert!(err.to_string().contains("insufficient_scope"), "{err}");
    // anonymous
    let err = c.resolve(&r, None).await.unwrap_err();
    assert_eq!(err.outcome(), "unauthorized", "{err}");
}

#[tokio::test]
async fn not_found_tag_and_repository() {
    let reg = shared(Mode::Anonymous);
    push(reg, &small("v1", 5), "anon/nf:v1");
    let c = client();
    let r = reference(reg, "anon/nf:missing");
    let err = c.resolve(&r, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::NotFound {
                what: NotFoundKind::Manifest,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("failed to resolve reference \"{r}\": {r}: not found")
    );
    // containerd never reads a HEAD 404's body (core/remotes/docker/resolver.go@v2.3.4
    // Resolve: "trying next host"), so the registry's code is not known.
    assert_eq!(err.registry_code(), None);
    let r = reference(reg, "anon/does-not-exist:v1");
    let err = c.resolve(&r, None).await.unwrap_err();
    assert_eq!(err.outcome(), "not-found");
}

#[tokio::test]
async fn registry_down_is_unavailable() {
    let port = pullsim_testsupport::free_loopback_port().unwrap();
    let r = Reference::parse_normalized(&format!("127.0.0.1:{port}/x/y:1")).unwrap();
    let err = client().resolve(&r, None).await.unwrap_err();
    assert_eq!(err.outcome(), "unavailable", "{err}");
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn offline_never_connects() {
    let mut o = ClientOptions::default();
    o.offline = true;
    let c = Client::new(o).unwrap();
    let r = Reference::parse_normalized("127.0.0.1:1/x/y:1").unwrap();
    let err = c.resolve(&r, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::Offline { .. }), "{err:?}");
}

#[tokio::test]
async fn tls_needs_the_ca() {
    let reg = shared(Mode::Tls);
    let img = push(reg, &small("v1", 6), "sec/app:v1");
    let r = reference(reg, "sec/app:v1");
    // A host with TLS verification (an explicit `https://` host of hosts.toml): the CA is
    // needed. containerd's default host for a loopback registry skips verification
    // (core/remotes/docker/config/hosts.go@v2.3.4 ConfigureHosts), so the plain client
    // resolves it.
    let verifying = |r: &Reference| HostPlan {
        hosts: vec![RegistryHost {
            tls: Some(HostTls::default()),
            http_fallback: false,
            ..RegistryHost::default_for(r.domain())
        }],
        resolver: Resolver::Containerd2Local,
        credentials: Arc::new(|_| None),
    };
    let err = client()
        .resolve_on(&r, &verifying(&r))
        .await
        .result
        .unwrap_err();
    assert_eq!(err.outcome(), "tls-error", "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(
        client().resolve(&r, None).await.unwrap().digest.to_string(),
        img.top_digest()
    );
    let c = tls_client(reg);
    assert_eq!(
        c.resolve_on(&r, &verifying(&r))
            .await
            .result
            .unwrap()
            .digest
            .to_string(),
        img.top_digest()
    );
    pull_and_check(&c, &r, None, &img).await;
}

#[tokio::test]
async fn multi_arch_platform_choice() {
    let reg = shared(Mode::Anonymous);
    let img = push(
        reg,
        &ImageSpec::multi_arch("v1", 1, 2048, 7),
        "anon/multi:v1",
    );
    let r = reference(reg, "anon/multi:v1");
    for (plat, idx) in [
        ("linux/amd64", 0usize),
        ("linux/arm64", 1),
        ("linux/arm64/v8", 1),
    ] {
        let mut o = ClientOptions::default();
        o.platform = Some(plat.parse::<Platform>().unwrap());
        let c = Client::new(o).unwrap();
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(root.path()).unwrap());
        let p = c
            .pull(
                &r,
                None,
                Arc::new(StoreSink::new(store.clone())),
                &NoProgress,
            )
            .await
            .unwrap();
        assert_eq!(p.manifest_digest.to_string(), img.top_digest());
        assert_eq!(
            p.platform_manifest.to_string(),
            img.manifests[idx].digest,
            "{plat}"
        );
        assert_eq!(
            p.config_digest.to_string(),
            img.manifests[idx].config_digest
        );
    }
    let mut o = ClientOptions::default();
    o.platform = Some("windows/amd64".parse().unwrap());
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let err = Client::new(o)
        .unwrap()
        .pull(
            &r,
            None,
            Arc::new(StoreSink::new(store.clone())),
            &NoProgress,
        )
        .await
        .unwrap_err();
    match err {
        RegistryError::NoMatchingPlatform { available, .. } => {
            assert_eq!(available, ["linux/amd64", "linux/arm64/v8"]);
        }
        other => panic!("{other:?}"),
    }
}

/// The download budget (issue 14): with room for a single network chunk across the client,
/// two pulls of six-layer images at once, three downloads each, all share that one slot and
/// both complete, every blob verified in the store (no download starves or deadlocks waiting
/// for another's writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chunk_budget_shared_by_concurrent_pulls() {
    let reg = shared(Mode::Anonymous);
    let a = push(reg, &ImageSpec::simple("v1", 6, 1 << 20, 41), "budget/a:v1");
    let b = push(reg, &ImageSpec::simple("v1", 6, 1 << 20, 42), "budget/b:v1");
    let mut o = ClientOptions::default();
    o.download_buffer_budget = 0;
    o.max_concurrent_layers = 3;
    let c = Client::new(o).unwrap();
    let (ra, rb) = (reference(reg, "budget/a:v1"), reference(reg, "budget/b:v1"));
    tokio::join!(
        pull_and_check(&c, &ra, None, &a),
        pull_and_check(&c, &rb, None, &b)
    );
}
