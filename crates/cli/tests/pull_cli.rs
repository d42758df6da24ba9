//! `pullsim pull` and `pullsim creds check` against the real registry (pullsim-testsupport).

use std::path::Path;
use std::process::Command;

use pullsim_testsupport::image::{ImageSpec, generate};
use pullsim_testsupport::{Mode, RegistryHandle, shared};
use serde_json::Value;

mod registry_common;
use registry_common::secret;

/// Push a small generated image once per registry and repository; returns the top digest.
fn push(reg: &RegistryHandle, repo_tag: &str, seed: u64) -> String {
    registry_common::push(reg, repo_tag, seed, 2, 3000)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn pullsim(root: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn anonymous_pull_then_present_then_never() {
    let reg = shared(Mode::Anonymous);
    push(reg, "cli/app:v1", 11);
    let root = tempfile::tempdir().unwrap();
    let image = format!("{}/cli/app:v1", reg.host);
    let o = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let ev = events(&o.stdout);
    assert_eq!(ev[0]["reason"], "Pulling");
    assert_eq!(ev[0]["message"], format!("Pulling image \"{image}\""));
    assert_eq!(ev[1]["reason"], "Pulled");
    let msg = ev[1]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!("Successfully pulled image \"{image}\" in ")),
        "{msg}"
    );
    assert!(
        msg.contains(" including waiting). Image size: ") && msg.ends_with(" bytes."),
        "{msg}"
    );
    // The store verifies (every blob re-hashed, index consistent).
    let v = pullsim(root.path(), &["images", "verify"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // IfNotPresent (tag v1): the local image is used. KubeletEnsureSecretPulledImages is on
    // by default (beta in 1.35) and the anonymous pull recorded the image as accessible to
    // every pod, so the kubelet's message carries the KEP-2535 suffix, as `pod run` prints it
    // (pkg/kubelet/images/image_manager.go).
    let o = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(o.code, 0);
    assert_eq!(
        events(&o.stdout)[0]["message"],
        format!(
            "Container image \"{image}\" already present on machine and can be accessed by the pod"
        )
    );
    // Never, absent
    let absent = format!("{}/cli/absent:v1", reg.host);
    let o = pullsim(
        root.path(),
        &["pull", &absent, "--policy", "Never", "-o", "json"],
    );
    assert_eq!(o.code, 1);
    let ev = events(&o.stdout);
    assert_eq!(ev[0]["reason"], "ErrImageNeverPull");
    assert_eq!(ev[0]["type"], "Warning");
}

#[test]
fn missing_tag_fails_with_containerd_message() {
    let reg = shared(Mode::Anonymous);
    push(reg, "cli/nf:v1", 12);
    let root = tempfile::tempdir().unwrap();
    let image = format!("{}/cli/nf:nope", reg.host);
    let o = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(o.code, 1);
    let ev = events(&o.stdout);
    assert_eq!(ev[1]["reason"], "Failed");
    // containerd 2.x (the default runtime) pulls through the transfer service:
    // core/transfer/local/pull.go@v2.3.4 "failed to resolve image: %w".
    assert_eq!(
        ev[1]["message"],
        format!(
            "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve image: {image}: not found"
        )
    );
    assert_eq!(ev[2]["message"], "Error: ErrImagePull");
}

#[test]
fn second_secret_used_after_first_fails() {
    let reg = shared(Mode::Htpasswd);
    push(reg, "team/two:v1", 13);
    let dir = tempfile::tempdir().unwrap();
    let bad = secret(dir.path(), "bad", &reg.host, "alice", "MARKER-wrong-pass-1");
    let good = secret(dir.path(), "good", &reg.host, "alice", "alice-pass");
    let image = format!("{}/team/two:v1", reg.host);
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--secret",
            bad.to_str().unwrap(),
            "--secret",
            good.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("MARKER") && !o.stderr.contains("MARKER"));
}

#[test]
fn tls_registry_needs_ca_file() {
    let reg = shared(Mode::Tls);
    push(reg, "sec/cli:v1", 14);
    let image = format!("{}/sec/cli:v1", reg.host);
    let root = tempfile::tempdir().unwrap();
    // containerd's default host for a loopback registry skips certificate verification
    // (core/remotes/docker/config/hosts.go@v2.3.4 ConfigureHosts): no CA needed there. The
    // refusal without the CA is pinned in crates/registry/tests/hosts_real.rs.
    let o = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let root = tempfile::tempdir().unwrap();
    let ca = reg.ca_file.clone().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--ca-file",
            ca.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

#[test]
fn multi_arch_platform_flag() {
    let reg = shared(Mode::Anonymous);
    let dir = tempfile::tempdir().unwrap().keep();
    let img = generate(&dir.join("l"), &ImageSpec::multi_arch("v1", 1, 2000, 15)).unwrap();
    reg.push_image(&img, "cli/multi:v1").unwrap();
    let image = format!("{}/cli/multi:v1", reg.host);
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &["pull", &image, "--platform", "linux/arm64", "-o", "json"],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let o = pullsim(root.path(), &["images", "inspect", &image, "-o", "json"]);
    let arm = &img.manifests[1];
    assert!(o.stdout.contains(&arm.config_digest), "{}", o.stdout);
    let o = pullsim(
        tempfile::tempdir().unwrap().path(),
        &["pull", &image, "--platform", "windows/amd64", "-o", "json"],
    );
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("linux/arm64/v8"), "{}", o.stdout);
}

#[test]
fn bad_input_is_an_error_before_any_event() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("no-such-secret.json");
    let o = pullsim(
        root.path(),
        &[
            "pull",
            "127.0.0.1:1/x/y:1",
            "--secret",
            missing.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_ne!(o.code, 0);
    assert_eq!(o.stdout, "", "no event before the input error");
    assert!(o.stderr.contains("no-such-secret.json"), "{}", o.stderr);
    let o = pullsim(
        root.path(),
        &[
            "pull",
            "127.0.0.1:1/x/y:1",
            "--platform",
            "linux",
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("expected os/arch[/variant]"),
        "{}",
        o.stderr
    );
    // A malformed image is the kubelet's InspectFailed event (InvalidImageName), exit 1.
    let o = pullsim(root.path(), &["pull", "BAD//image::", "-o", "json"]);
    assert_eq!(o.code, 1);
    let ev = events(&o.stdout);
    assert_eq!(ev[0]["reason"], "InspectFailed", "{}", o.stdout);
    assert!(
        ev[0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid reference format")
    );
}

#[test]
fn offline_pull_never_connects() {
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &["pull", "127.0.0.1:1/x/y:1", "--offline", "-o", "json"],
    );
    assert_eq!(o.code, 1);
    let ev = events(&o.stdout);
    assert!(
        ev[1]["message"].as_str().unwrap().contains("offline"),
        "{}",
        o.stdout
    );
}
