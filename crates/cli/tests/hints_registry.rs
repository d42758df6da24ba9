//! Hints drawn from a registry's refusal (README "Hints"), each triggered with real inputs: the
//! real registry (Debian's docker-registry through pullsim-testsupport) where it can produce the
//! case, an in-process server where it cannot (a 429 with Docker Hub's rate-limit headers, ECR's
//! 403 for an expired token). Code and fix text are checked.

mod pod_common;
mod registry_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use pod_common::{Node, Out, pod_yaml, secret_yaml};
use pullsim_testsupport::{Mode, shared};
use registry_common::{push, secret};
use serde_json::Value;

fn hints(out: &Out) -> Vec<Value> {
    out.json()
        .into_iter()
        .filter(|v| v["kind"] == "hint")
        .collect()
}

/// The hint with `code`, its image checked; panics with the whole output when absent.
fn hint(out: &Out, code: &str, image: &str) -> Value {
    let h = hints(out)
        .into_iter()
        .find(|h| h["code"] == code)
        .unwrap_or_else(|| panic!("no hint {code}:\n{}\n{}", out.stdout, out.stderr));
    assert_eq!(h["image"], image, "{h}");
    h
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

fn pull(node: &Node, image: &str, extra: &[&str]) -> Out {
    let mut args = vec!["pull", image, "-o", "json"];
    args.extend_from_slice(extra);
    node.pullsim(&args)
}

#[test]
fn wrong_credentials_and_no_credentials_matched() {
    let reg = shared(Mode::Htpasswd);
    push(reg, "hint/auth:v1", 61, 1, 512);
    let node = Node::new();
    let image = format!("{}/hint/auth:v1", reg.host);
    let (user, _) = reg.user().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrong = secret(dir.path(), "wrong", &reg.host, user, "not-the-password");
    let out = pull(&node, &image, &["--secret", wrong.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "wrong-credentials", &image);
    assert!(
        text(&h, "why").contains("answered 401 to the credential"),
        "{h}"
    );
    assert!(text(&h, "fix").contains("pullsim creds check"), "{h}");
    assert!(!out.stdout.contains("not-the-password"));
    // A secret for another registry: nothing matched, the pull went anonymous and got 401.
    let elsewhere = secret(dir.path(), "elsewhere", "registry.example.com", user, "p");
    let out = pull(&node, &image, &["--secret", elsewhere.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "no-credentials-matched", &image);
    assert!(text(&h, "why").contains("anonymous pull"), "{h}");
    assert!(text(&h, "fix").contains("pullsim creds match"), "{h}");
    // creds check gives the same hints.
    let out = node.pullsim(&[
        "creds",
        "check",
        &image,
        "--secret",
        wrong.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    hint(&out, "wrong-credentials", &image);
}

#[test]
fn repository_not_found_or_private() {
    let reg = shared(Mode::Anonymous);
    let node = Node::new();
    // docker-registry answers 404 NAME_UNKNOWN for a repository it does not have.
    let image = format!("{}/hint/no-such-repository:v1", reg.host);
    let out = pull(&node, &image, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "repository-not-found-or-private", &image);
    assert!(text(&h, "fix").contains("skopeo list-tags"), "{h}");
    // The token registry refuses a repository the account may not pull (insufficient_scope).
    let reg = shared(Mode::Token);
    push(reg, "private/hint:v1", 62, 1, 512);
    let image = format!("{}/private/hint:v1", reg.host);
    let out = pull(&node, &image, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    hint(&out, "repository-not-found-or-private", &image);
}

#[test]
fn tls_unknown_authority_and_http_vs_https_under_cri_o() {
    // CRI-O verifies a loopback registry's certificate (containers/image has no localhost
    // exception), so the test CA is unknown to it.
    let reg = shared(Mode::Tls);
    push(reg, "hint/tls:v1", 63, 1, 512);
    let node = Node::new();
    let image = format!("{}/hint/tls:v1", reg.host);
    let out = pull(&node, &image, &["--runtime", "cri-o"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "tls-unknown-authority", &image);
    assert!(
        text(&h, "fix").contains(&format!("/etc/containers/certs.d/{}/ca.crt", reg.host)),
        "{h}"
    );
    // With the CA the same pull works and says nothing.
    let ca = reg.ca_file.clone().unwrap();
    let out = pull(
        &node,
        &image,
        &["--runtime", "cri-o", "--ca-file", ca.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(hints(&out).is_empty(), "{}", out.stdout);
    // A plain-HTTP registry: CRI-O speaks HTTPS to it unless registries.conf says insecure.
    let plain = shared(Mode::Anonymous);
    push(plain, "hint/http:v1", 64, 1, 512);
    let image = format!("{}/hint/http:v1", plain.host);
    let out = pull(&node, &image, &["--runtime", "cri-o"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "http-vs-https", &image);
    assert!(text(&h, "why").contains("answered in plain HTTP"), "{h}");
    assert!(text(&h, "fix").contains("insecure = true"), "{h}");
}

#[test]
fn kep2535_credentials_not_verified() {
    // Namespace A pulls a private image with its secret; namespace B has no credentials and
    // IfNotPresent: the kubelet pulls to verify B's access, anonymously, and the registry
    // refuses.
    let reg = shared(Mode::Htpasswd);
    push(reg, "hint/kep:v1", 65, 1, 512);
    let (user, pass) = reg.user().unwrap();
    let node = Node::new();
    let image = reg.reference("hint/kep:v1");
    let a = node.write(
        "a.yaml",
        &format!(
            "{}---\n{}",
            secret_yaml("ns-a", "regcred", &reg.host, user, pass),
            pod_yaml("ns-a", "owner", &image, None, &["regcred"])
        ),
    );
    assert_eq!(node.run(&[&a], &[]).code, 0);
    let b = node.write(
        "b.yaml",
        &pod_yaml("ns-b", "other", &image, Some("IfNotPresent"), &[]),
    );
    let out = node.run(&[&b], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "kep2535-credentials-not-verified", &image);
    assert_eq!(h["pod"], "ns-b/other");
    assert!(
        text(&h, "fix").contains("preloadedImagesVerificationAllowlist"),
        "{h}"
    );
    hint(&out, "no-credentials-matched", &image);
}

/// A registry that answers every manifest request with a fixed status, headers and body (what
/// a real registry here will not do: Docker Hub's 429, ECR's expired-token 403).
struct Refusing {
    host: String,
}

fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
        if buf.first().is_some_and(|c| !c.is_ascii_uppercase()) {
            // A TLS ClientHello (HTTPS first on a loopback host): answer as an HTTP server.
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

impl Refusing {
    fn start(status: &'static str, headers: &'static str, body: &'static str) -> Refusing {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                std::thread::spawn(move || {
                    while let Some(head) = read_head(&mut s) {
                        let first = head.lines().next().unwrap_or("");
                        let answer = if first.contains(" /v2/ ") {
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n{}".to_string()
                        } else {
                            let payload = if first.starts_with("HEAD ") { "" } else { body };
                            format!(
                                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{payload}",
                                body.len()
                            )
                        };
                        if s.write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Refusing { host }
    }
}

#[test]
fn rate_limited_with_docker_hubs_quota() {
    // Docker Hub's answer when the quota is used up (runtime-rules.md §3: ratelimit-limit and
    // ratelimit-remaining, `N;w=SECONDS`).
    let reg = Refusing::start(
        "429 Too Many Requests",
        "ratelimit-limit: 100;w=21600\r\nratelimit-remaining: 0;w=21600\r\n",
        r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}"#,
    );
    let node = Node::new();
    let image = format!("{}/library/app:1", reg.host);
    let out = pull(&node, &image, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "rate-limited", &image);
    assert!(
        text(&h, "why").contains("0 of 100 pulls left in the 6 h window"),
        "{h}"
    );
    assert!(text(&h, "fix").starts_with("authenticate the pull"), "{h}");
}

#[test]
fn registry_token_expired_as_ecr_says_it() {
    // ECR's answer to an expired authorization token (aws/aws-cli#6580; runtime-rules.md §5).
    let reg = Refusing::start(
        "403 Forbidden",
        "",
        r#"{"errors":[{"code":"DENIED","message":"Your authorization token has expired. Reauthenticate and try again."}]}"#,
    );
    let node = Node::new();
    let image = format!("{}/team/app:1", reg.host);
    let dir = tempfile::tempdir().unwrap();
    let s = secret(
        dir.path(),
        "ecr",
        &reg.host,
        "AWS",
        "eyJwYXlsb2FkIjoiZXhwaXJlZCJ9",
    );
    let out = pull(&node, &image, &["--secret", s.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "registry-token-expired", &image);
    assert!(text(&h, "fix").contains("get-login-password"), "{h}");
    assert!(!out.stdout.contains("eyJwYXlsb2FkIjoiZXhwaXJlZCJ9"));
}
