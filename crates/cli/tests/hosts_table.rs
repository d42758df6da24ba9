//! The containerd hosts-directory table through the whole node: every layout of
//! `pullsim_testsupport::containerd::layout_cases` (mirror serves, down, 404, `server` only,
//! `_default`, `host_port_` directory, pull-only mirror, undecodable hosts.toml, authenticated
//! mirror with and without the pod's secret) pulled by a real containerd (`ctr images pull
//! --hosts-dir`, 1.6.20) and by `pullsim pod run --registry-config-path`, against two real
//! registries holding different images under one tag: both must end with the same image (or
//! both fail). `crates/runtime/tests/hosts_dir_ctr.rs` checks the host order itself.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use pullsim_testsupport::containerd::{ContainerdHandle, LayoutCase, layout_cases};
use pullsim_testsupport::layout_setup::{LAYOUT_REPO, LayoutSetup};
use serde_json::Value;

fn containerd() -> &'static ContainerdHandle {
    static C: OnceLock<ContainerdHandle> = OnceLock::new();
    C.get_or_init(|| {
        ContainerdHandle::start().expect("start containerd (scripts/setup installs it)")
    })
}

/// A pod running the case's image, with the case's user as its pull secret (for the upstream
/// registry: the kubelet's keyring matches the image's host; containerd then offers it to
/// every host).
fn pod_yaml(image: &str, registry: &str, user: Option<(&str, &str)>) -> String {
    let mut y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: default}}\nspec:\n  containers: [{{name: app, image: \"{image}\"}}]\n"
    );
    if let Some((u, p)) = user {
        let cfg = serde_json::json!({"auths": {registry: {"username": u, "password": p}}});
        y.push_str("  imagePullSecrets: [{name: regcred}]\n---\n");
        y.push_str(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: regcred, namespace: default}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{cfg}'\n"
        ));
    }
    y
}

fn pullsim_pod_run(root: &Path, pods: &Path, hosts: &Path) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(["pod", "run", "-o", "json", "--registry-config-path"])
        .arg(hosts)
        .arg(pods)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn run_case(case: &LayoutCase, seed: u64) {
    let s = LayoutSetup::start(case, seed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("certs.d");
    case.write(&hosts, &s.upstream.host, &s.mirror_host)
        .unwrap();
    let reference = s.upstream.reference(LAYOUT_REPO);
    let ctr = containerd().pull(&reference, &hosts, case.user);

    let pods = dir.path().join("pod.yaml");
    std::fs::write(&pods, pod_yaml(&reference, &s.upstream.host, case.user)).unwrap();
    let root = dir.path().join("node");
    let (code, lines, all) = pullsim_pod_run(&root, &pods, &hosts);
    let container = lines
        .iter()
        .find(|l| l["kind"] == "container")
        .unwrap_or_else(|| panic!("{}: no container line: {all}", case.name));
    match ctr {
        Ok(pull) => {
            assert_eq!(code, 0, "{}: ctr pulled, pullsim did not: {all}", case.name);
            assert_eq!(
                container["image_id"].as_str(),
                Some(pull.config_digest.as_str()),
                "{}: pullsim ended with another image than ctr: {all}",
                case.name
            );
            // And the host it names is the one whose image it is.
            let pulled = lines
                .iter()
                .find(|l| l["kind"] == "event" && l["reason"] == "Pulled")
                .unwrap_or_else(|| panic!("{}: {all}", case.name));
            let host = pulled["host"].as_str().unwrap_or_default();
            let side = [&s.upstream.host, &s.mirror_host]
                .into_iter()
                .find(|h| host.contains(&format!("://{h}/")))
                .and_then(|h| s.side_of(h))
                .unwrap_or_else(|| panic!("{}: host {host:?}: {all}", case.name));
            assert_eq!(
                s.config_of(side),
                Some(pull.config_digest.as_str()),
                "{}: the host named ({host}) did not serve this image",
                case.name
            );
        }
        Err(e) => {
            assert_eq!(
                code, 1,
                "{}: ctr failed ({e}), pullsim did not: {all}",
                case.name
            );
            assert_eq!(container["reason"], "ErrImagePull", "{}: {all}", case.name);
            assert!(
                container["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not found")),
                "{}: {all}",
                case.name
            );
        }
    }
    drop(s.mirror);
}

#[test]
fn every_layout_case_ends_as_ctr_ends() {
    let cases = layout_cases();
    assert!(cases.len() >= 8);
    for (i, case) in cases.iter().enumerate() {
        run_case(case, 9000 + i as u64 * 10);
    }
}
