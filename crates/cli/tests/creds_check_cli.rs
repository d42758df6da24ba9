//! `pullsim creds check` against the real registry in every auth mode.

use std::path::PathBuf;
use std::process::Command;

use pullsim_testsupport::{Mode, RegistryHandle, shared};
use serde_json::Value;

mod registry_common;
use registry_common::secret;

/// Push a small generated image once per registry and repository; returns the top digest.
fn push(reg: &RegistryHandle, repo_tag: &str, seed: u64) -> String {
    registry_common::push(reg, repo_tag, seed, 1, 2000)
}

/// Run `creds check -o json` (plus `extra`), return (exit code, the `result` line with the
/// `attempt` lines before it gathered under "attempts", all output).
fn check(image: &str, secrets: &[&PathBuf], extra: &[&str]) -> (i32, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pullsim"));
    cmd.args(["creds", "check", image, "-o", "json"]);
    for s in secrets {
        cmd.arg("--secret").arg(s);
    }
    cmd.args(extra);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Hints (and the runtime's log lines) follow the result; checked where they are tested.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] != "hint" && v["kind"] != "runtime_log")
        .collect();
    let (result, attempts) = lines.split_last().expect("a result line");
    assert_eq!(
        result["kind"], "result",
        "the last line is the result: {stdout}{stderr}"
    );
    assert!(
        attempts.iter().all(|a| a["kind"] == "attempt"),
        "one attempt line per credential, then the result: {stdout}{stderr}"
    );
    for a in attempts {
        for key in ["scheme", "token", "error"] {
            assert!(a.get(key).is_some(), "attempt without {key}: {a}");
        }
    }
    let mut v = result.clone();
    v["attempts"] = Value::Array(attempts.to_vec());
    (
        out.status.code().unwrap_or(-1),
        v,
        format!("{stdout}{stderr}"),
    )
}

fn outcomes(v: &Value) -> Vec<String> {
    v["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

const MARK: &str = "MARKERpw-7731";

#[test]
fn htpasswd_table() {
    let reg = shared(Mode::Htpasswd);
    let digest = push(reg, "team/chk:v1", 21);
    let d = tempfile::tempdir().unwrap();
    let image = format!("{}/team/chk:v1", reg.host);
    let good = secret(d.path(), "good", &reg.host, "alice", "alice-pass");
    let wrong = secret(d.path(), "wrong", &reg.host, "alice", MARK);
    let unknown = secret(d.path(), "unknown", &reg.host, "mallory", MARK);

    let (code, v, _) = check(&image, &[&good], &[]);
    assert_eq!(code, 0);
    assert_eq!(v["pullable"], true);
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(v["attempts"][0]["digest"], digest);
    assert_eq!(v["attempts"][0]["source"], "secret:default/good");
    assert_eq!(v["attempts"][0]["username"], "alice");
    assert_eq!(v["attempts"][0]["status"], 200);

    for s in [&wrong, &unknown] {
        let (code, v, all) = check(&image, &[s], &[]);
        assert_eq!(code, 1);
        assert_eq!(outcomes(&v), ["unauthorized"]);
        assert_eq!(v["attempts"][0]["status"], 401);
        // A HEAD 401 has no body: creds check learns the code with one diagnostic GET.
        assert_eq!(v["attempts"][0]["registry_error"], "UNAUTHORIZED");
        assert_eq!(v["reason"], "ErrImagePull");
        assert!(!all.contains(MARK), "credential leaked: {all}");
    }
    // no credential on a private registry: one anonymous attempt
    let (code, v, _) = check(&image, &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(v["attempts"][0]["source"], "anonymous");
    assert_eq!(v["attempts"][0]["key"], Value::Null);
    assert_eq!(outcomes(&v), ["unauthorized"]);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("no basic auth credentials")
    );

    // two secrets, the first wrong: the second is used, the first failure is shown
    let (code, v, all) = check(&image, &[&wrong, &good], &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(outcomes(&v), ["unauthorized", "ok"]);
    assert_eq!(v["attempts"][1]["source"], "secret:default/good");
    assert!(!all.contains(MARK));
    // two secrets both wrong: no anonymous retry after credentials fail
    let (code, v, _) = check(&image, &[&wrong, &unknown], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["unauthorized", "unauthorized"]);
    // the aggregate of two identical messages is the message itself (utilerrors dedup)
    assert!(!v["message"].as_str().unwrap().contains('['));
}

#[test]
fn token_table() {
    let reg = shared(Mode::Token);
    push(reg, "team/tok:v1", 22);
    let d = tempfile::tempdir().unwrap();
    let image = format!("{}/team/tok:v1", reg.host);
    let good = secret(d.path(), "good", &reg.host, "alice", "alice-pass");
    let wrong = secret(d.path(), "wrong", &reg.host, "alice", MARK);
    let other = secret(d.path(), "other", &reg.host, "bob", "bob-pass");
    let (code, v, _) = check(&image, &[&good], &[]);
    assert_eq!(code, 0, "{v}");
    let (code, v, all) = check(&image, &[&wrong], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["unauthorized"]);
    assert!(!all.contains(MARK));
    let (code, v, _) = check(&image, &[&other], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["denied"]);
    assert_eq!(v["attempts"][0]["registry_error"], "insufficient_scope");
    let (code, v, _) = check(&image, &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["unauthorized"]);
}

#[test]
fn anonymous_not_found_and_down() {
    let reg = shared(Mode::Anonymous);
    push(reg, "pub/chk:v1", 23);
    let (code, v, _) = check(&format!("{}/pub/chk:v1", reg.host), &[], &[]);
    assert_eq!(code, 0);
    assert_eq!(outcomes(&v), ["ok"]);
    let (code, v, _) = check(&format!("{}/pub/chk:missing", reg.host), &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["not-found"]);
    assert_eq!(v["attempts"][0]["registry_error"], "MANIFEST_UNKNOWN");
    let (code, v, _) = check(&format!("{}/pub/no-such-repo:v1", reg.host), &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["not-found"]);
    let port = pullsim_testsupport::free_loopback_port().unwrap();
    let (code, v, _) = check(&format!("127.0.0.1:{port}/x/y:1"), &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["unavailable"]);
}

#[test]
fn tls_with_and_without_ca() {
    let reg = shared(Mode::Tls);
    push(reg, "sec/chk:v1", 24);
    let image = format!("{}/sec/chk:v1", reg.host);
    // containerd skips certificate verification for a loopback registry it was given no TLS
    // settings for (core/remotes/docker/config/hosts.go@v2.3.4 ConfigureHosts: "Skipping TLS
    // verification for localhost"): pullable without the CA.
    let (code, v, _) = check(&image, &[], &[]);
    assert_eq!(code, 0, "{v}");
    // CRI-O (containers/image) makes no such exception: the unknown authority fails, the CA
    // file fixes it.
    let (code, v, _) = check(&image, &[], &["--runtime", "cri-o"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(outcomes(&v), ["tls-error"]);
    let ca = reg.ca_file.clone().unwrap();
    let (code, v, _) = check(
        &image,
        &[],
        &["--runtime", "cri-o", "--ca-file", ca.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{v}");
}

#[test]
fn text_output_names_each_attempt() {
    let reg = shared(Mode::Htpasswd);
    push(reg, "team/txt:v1", 25);
    let d = tempfile::tempdir().unwrap();
    let image = format!("{}/team/txt:v1", reg.host);
    let wrong = secret(d.path(), "wrong", &reg.host, "alice", MARK);
    let good = secret(d.path(), "good", &reg.host, "alice", "alice-pass");
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["creds", "check", &image, "--secret"])
        .arg(&wrong)
        .arg("--secret")
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("attempt 1/2: source secret:default/wrong"),
        "{text}"
    );
    assert!(text.contains("auth scheme: basic"), "{text}");
    assert!(text.contains("HTTP status: 401"), "{text}");
    assert!(text.contains("verdict: pullable"), "{text}");
    assert!(!text.contains(MARK));
}

/// Standard base64 (RFC 4648, padded), as an `Authorization: Basic` value would carry.
fn b64(u: &str, p: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{u}:{p}").into_bytes();
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_helper_matches_rfc4648() {
    assert_eq!(b64("alice", "alice-pass"), "YWxpY2U6YWxpY2UtcGFzcw==");
    assert_eq!(b64("a", "b"), "YTpi");
}

#[test]
fn docker_hub_image_selects_the_index_docker_io_credential() {
    // pkg/credentialprovider/keyring.go: docker.io images match the legacy key
    // https://index.docker.io/v1/ (no network: --offline stops before any connection).
    let d = tempfile::tempdir().unwrap();
    let hub = secret(
        d.path(),
        "hub",
        "https://index.docker.io/v1/",
        "hubuser",
        MARK,
    );
    let quay = secret(d.path(), "quay", "quay.io", "quser", MARK);
    let (code, v, all) = check("nginx", &[&quay, &hub], &["--offline"]);
    assert_eq!(code, 1);
    assert_eq!(v["reference"], "docker.io/library/nginx:latest");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{v}");
    // The keyring's key is the normalized one (keyring.go Add: host, /v1/ dropped).
    assert_eq!(attempts[0]["key"], "index.docker.io");
    assert_eq!(attempts[0]["source"], "secret:default/hub");
    assert_eq!(attempts[0]["username"], "hubuser");
    assert_eq!(attempts[0]["outcome"], "unavailable");
    assert!(!all.contains(MARK));
}

/// Credentials, tokens (JWTs start with `eyJ`) and Authorization values never appear in any
/// output, even with RUST_LOG=trace, whatever the outcome.
#[test]
fn no_credential_token_or_authorization_in_any_output() {
    let reg = shared(Mode::Token);
    push(reg, "team/mark:v1", 26);
    let d = tempfile::tempdir().unwrap();
    let image = format!("{}/team/mark:v1", reg.host);
    // The marker password fails, alice/alice-pass succeeds, bob is denied this repository.
    let wrong = secret(d.path(), "wrong", &reg.host, "alice", MARK);
    let good = secret(d.path(), "good", &reg.host, "alice", "alice-pass");
    let bob = secret(d.path(), "bob", &reg.host, "bob", "bob-pass");
    let forbidden = [
        MARK.to_string(),
        "alice-pass".to_string(),
        "bob-pass".to_string(),
        b64("alice", "alice-pass"),
        b64("alice", MARK),
        b64("bob", "bob-pass"),
        "eyJ".to_string(),
        "Bearer ".to_string(),
        "Basic ".to_string(),
        "Authorization:".to_string(),
        "authorization: Basic".to_string(),
        "authorization: Bearer".to_string(),
    ];
    let root = tempfile::tempdir().unwrap();
    let runs: Vec<Vec<String>> = vec![
        vec!["creds".into(), "check".into(), image.clone()],
        vec![
            "creds".into(),
            "check".into(),
            image.clone(),
            "-o".into(),
            "json".into(),
        ],
        vec![
            "--root".into(),
            root.path().display().to_string(),
            "pull".into(),
            image.clone(),
        ],
        vec![
            "--root".into(),
            root.path().display().to_string(),
            "pull".into(),
            image.clone(),
            "--policy".into(),
            "Always".into(),
            "-o".into(),
            "json".into(),
        ],
    ];
    let mut checked = 0;
    for secrets in [vec![&wrong], vec![&wrong, &good], vec![&bob], vec![&good]] {
        for args in &runs {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_pullsim"));
            cmd.args(args).env("RUST_LOG", "trace");
            for s in &secrets {
                cmd.arg("--secret").arg(s);
            }
            let out = cmd.output().unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!all.is_empty());
            for f in &forbidden {
                assert!(
                    !all.contains(f.as_str()),
                    "{f:?} in output of {args:?}:\n{all}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}
