//! The keyring tests of pkg/credentialprovider/keyring_test.go, ported as tables.

use std::path::Path;

use pullsim_credentials::keyring::{BasicKeyring, Source};
use pullsim_credentials::nodeconfig::parse_dockercfg_bytes;
use pullsim_credentials::{Keyring, PullSecret, SecretFormat, parse_pull_secrets};

const EMAIL: &str = "foo@bar.baz";
const AUTH_FOO_BAR: &str = "Zm9vOmJhcg=="; // base64("foo:bar")

fn src() -> Source {
    Source::Node {
        path: "/test".into(),
    }
}

/// The sample config of keyring_test.go: `{"<glob>": {"email": ..., "auth": ...}}`.
fn sample_ring(glob_url: &str) -> BasicKeyring {
    let json =
        serde_json::json!({ glob_url: { "email": EMAIL, "auth": AUTH_FOO_BAR } }).to_string();
    let cfg = parse_dockercfg_bytes(json.as_bytes(), Path::new("sample")).unwrap();
    let mut ring = BasicKeyring::default();
    ring.add(&src(), &cfg);
    ring
}

fn assert_foo_bar(ring: &BasicKeyring, image: &str) {
    let creds = ring.lookup(image);
    assert!(!creds.is_empty(), "no credentials for {image}");
    let c = &creds[0].auth;
    assert_eq!(c.username, "foo", "{image}");
    assert_eq!(c.password.expose(), "bar", "{image}");
    assert_eq!(c.email.as_deref(), Some(EMAIL), "{image}");
}

// keyring_test.go TestDockerKeyringForGlob.
#[test]
fn docker_keyring_for_glob() {
    let cases: &[(&str, &str)] = &[
        ("https://hello.kubernetes.io", "hello.kubernetes.io"),
        ("https://*.docker.io", "prefix.docker.io"),
        ("https://prefix.*.io", "prefix.docker.io"),
        ("https://prefix.docker.*", "prefix.docker.io"),
        ("https://*.docker.io/path", "prefix.docker.io/path"),
        ("https://prefix.*.io/path", "prefix.docker.io/path/subpath"),
        ("https://prefix.docker.*/path", "prefix.docker.io/path"),
        ("https://*.docker.io:8888", "prefix.docker.io:8888"),
        ("https://prefix.*.io:8888", "prefix.docker.io:8888"),
        ("https://prefix.docker.*:8888", "prefix.docker.io:8888"),
        (
            "https://*.docker.io/path:1111",
            "prefix.docker.io/path:1111",
        ),
        ("https://*.docker.io/v1/", "prefix.docker.io/path:1111"),
        ("https://*.docker.io/v2/", "prefix.docker.io/path:1111"),
        (
            "https://prefix.docker.*/path:1111",
            "prefix.docker.io/path:1111",
        ),
        ("prefix.docker.io:1111", "prefix.docker.io:1111/path"),
        ("*.docker.io:1111", "prefix.docker.io:1111/path"),
    ];
    for (glob, target) in cases {
        assert_foo_bar(&sample_ring(glob), &format!("{target}/foo/bar"));
    }
}

// keyring_test.go TestKeyringMiss.
#[test]
fn keyring_miss() {
    let cases: &[(&str, &str)] = &[
        ("https://hello.kubernetes.io", "world.mesos.org/foo/bar"),
        ("https://*.docker.com", "prefix.docker.io"),
        ("https://suffix.*.io", "prefix.docker.io"),
        ("https://prefix.docker.c*", "prefix.docker.io"),
        (
            "https://prefix.*.io/path:1111",
            "prefix.docker.io/path/subpath:1111",
        ),
        ("suffix.*.io", "prefix.docker.io"),
    ];
    for (glob, lookup) in cases {
        let ring = sample_ring(glob);
        assert!(
            ring.lookup(&format!("{lookup}/foo/bar")).is_empty(),
            "{glob} should not match {lookup}"
        );
    }
}

// keyring_test.go TestKeyringMissWithDockerHubCredentials.
#[test]
fn keyring_miss_with_docker_hub_credentials() {
    let ring = sample_ring("https://index.docker.io/v1/");
    assert!(ring.lookup("world.mesos.org/foo/bar").is_empty());
}

// keyring_test.go TestKeyringHitWithUnqualifiedDockerHub.
#[test]
fn keyring_hit_with_unqualified_docker_hub() {
    let ring = sample_ring("https://index.docker.io/v1/");
    let creds = ring.lookup("google/docker-registry");
    assert_eq!(creds.len(), 1);
    assert_foo_bar(&ring, "google/docker-registry");
    assert!(creds[0].why.starts_with("Docker Hub fallback"));
}

// keyring_test.go TestKeyringHitWithUnqualifiedLibraryDockerHub.
#[test]
fn keyring_hit_with_unqualified_library_docker_hub() {
    let ring = sample_ring("https://index.docker.io/v1/");
    assert_eq!(ring.lookup("jenkins").len(), 1);
    assert_foo_bar(&ring, "jenkins");
}

// keyring_test.go TestKeyringHitWithQualifiedDockerHub.
#[test]
fn keyring_hit_with_qualified_docker_hub() {
    let ring = sample_ring("https://index.docker.io/v1/");
    let image = "index.docker.io/v1//google/docker-registry";
    let creds = ring.lookup(image);
    assert!(!creds.is_empty() && creds.len() <= 2);
    assert_foo_bar(&ring, image);
}

// The kubelet looks up the normalized repository: docker.io/library/busybox never matches the
// index.docker.io key by glob (2 labels vs 3) and is served by the Docker Hub fallback.
#[test]
fn normalized_docker_hub_repository_uses_fallback() {
    let ring = sample_ring("https://index.docker.io/v1/");
    let creds = ring.lookup("docker.io/library/busybox");
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].key, "index.docker.io");
    assert!(creds[0].why.contains("Docker Hub fallback"));
    // A docker.io key matches directly, and then the fallback is not used.
    let mut ring = sample_ring("https://index.docker.io/v1/");
    let cfg =
        parse_dockercfg_bytes(br#"{"docker.io":{"auth":"YWRhOnNtYXNo"}}"#, Path::new("x")).unwrap();
    ring.add(&src(), &cfg);
    let creds = ring.lookup("docker.io/library/busybox");
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].auth.username, "ada");
}

fn entry(user: &str, pass: &str, email: &str) -> serde_json::Value {
    serde_json::json!({"username": user, "password": pass, "email": email})
}

// keyring_test.go TestDockerKeyringLookup.
#[test]
fn docker_keyring_lookup() {
    let json = serde_json::json!({
        "bar.example.com/pong": entry("grace", "squash", "grace@example.com"),
        "bar.example.com": entry("ada", "smash", "ada@example.com"),
    })
    .to_string();
    let cfg = parse_dockercfg_bytes(json.as_bytes(), Path::new("x")).unwrap();
    let mut ring = BasicKeyring::default();
    ring.add(&src(), &cfg);
    let cases: &[(&str, &[&str])] = &[
        ("bar.example.com", &["ada"]),                    // direct match
        ("bar.example.com/pong", &["grace", "ada"]),      // deeper match first
        ("bar.example.com/ping", &["ada"]),               // no direct match, deeper path ignored
        ("bar.example.com/pongz", &["grace", "ada"]),     // first part of path token
        ("bar.example.com/pong/pang", &["grace", "ada"]), // regardless of sub-path
        ("example.com", &[]),                             // no host match
        ("foo.example.com", &[]),
    ];
    for (image, want) in cases {
        let got: Vec<String> = ring
            .lookup(image)
            .into_iter()
            .map(|m| m.auth.username)
            .collect();
        assert_eq!(got, *want, "{image}");
    }
}

// keyring_test.go TestIssue3797: scheme and /v1/ path entries match by host.
#[test]
fn issue_3797() {
    let json =
        serde_json::json!({"https://quay.io/v1/": entry("rex", "tiny arms", "rex@example.com")})
            .to_string();
    let cfg = parse_dockercfg_bytes(json.as_bytes(), Path::new("x")).unwrap();
    let mut ring = BasicKeyring::default();
    ring.add(&src(), &cfg);
    for image in ["quay.io", "quay.io/foo", "quay.io/foo/bar"] {
        let got = ring.lookup(image);
        assert_eq!(got.len(), 1, "{image}");
        assert_eq!(got[0].auth.username, "rex");
        assert_eq!(got[0].auth.password.expose(), "tiny arms");
    }
}

fn secret(ns: &str, name: &str, json: &str) -> PullSecret {
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{json}'\n"
    );
    let mut v = parse_pull_secrets(&yaml, Path::new("mem.yaml")).unwrap();
    assert_eq!(v[0].format, SecretFormat::DockerConfigJson);
    v.remove(0)
}

// secrets.go MakeDockerKeyring + kuberuntime_image.go: pod secrets before node credentials;
// keys sorted in reverse order across all pod secrets; every matching key contributes.
#[test]
fn pod_secrets_before_node_and_union_order() {
    let mut kr = Keyring::new();
    let t = tempfile::tempdir().unwrap();
    let node = t.path().join("config.json");
    std::fs::write(&node, r#"{"auths":{"r.io":{"auth":"bm9kZTpucA=="}}}"#).unwrap();
    kr.add_node_config(&node).unwrap();
    kr.add_secret(&secret(
        "ns",
        "a",
        r#"{"auths":{"r.io":{"username":"a1","password":"x"}}}"#,
    ));
    kr.add_secret(&secret("ns", "b", r#"{"auths":{"r.io/team":{"username":"b1","password":"x"},"r.io":{"username":"b2","password":"x"}}}"#));
    let got: Vec<(String, String, String)> = kr
        .lookup_name("r.io/team/app")
        .into_iter()
        .map(|m| (m.key, m.source.to_string(), m.auth.username))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("r.io/team", "secret:ns/b", "b1"),
        ("r.io", "secret:ns/a", "a1"),
        ("r.io", "secret:ns/b", "b2"),
    ]
    .iter()
    .map(|(k, s, u)| (k.to_string(), s.to_string(), u.to_string()))
    .chain(std::iter::once((
        "r.io".to_string(),
        format!("node:{}", node.display()),
        "node".to_string(),
    )))
    .collect();
    assert_eq!(got, want);
    let reference: pullsim_reference::Reference = "r.io/team/app:1".parse().unwrap();
    assert_eq!(kr.lookup(&reference).len(), 4);
}
