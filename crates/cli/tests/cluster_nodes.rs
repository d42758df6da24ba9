//! `kubectl pullsim nodes check` (issue 15, part 3) against the fake API server: it creates the
//! namespace and the DaemonSet of deploy/daemonset.yaml, gathers each node's `node_check`
//! lines from its pod's log, prints one table, and deletes what it created, also on Ctrl-C and
//! on timeout; deploy/daemonset.yaml passes `kubectl apply --dry-run=client` and the schema
//! check of PyPI's kubernetes-validate.

mod cluster_common;
mod pod_common;

use std::time::{Duration, Instant};

use cluster_common::{Env, env};
use pullsim_testsupport::fake_apiserver::KubeAuth;
use serde_json::json;

const IMAGE: &str = "registry.test/team/app:v1";
const DS: &str = "/apis/apps/v1/namespaces/pullsim-system/daemonsets";

fn line(
    node: Option<&str>,
    verdict: &str,
    reason: Option<&str>,
    hint: Option<&str>,
    secs: Option<f64>,
) -> String {
    let mut v = json!({"kind": "node_check", "image": IMAGE, "verdict": verdict, "reason": reason, "hint": hint, "pull_seconds": secs});
    if let Some(n) = node {
        v["node"] = json!(n);
    }
    v.to_string()
}

fn two_nodes(e: &Env) {
    let a = format!(
        "pullsim: node check on node-a\n{}\n",
        line(Some("node-a"), "pullable", None, None, Some(1.25))
    );
    let b = format!(
        "{{\"kind\":\"runtime_log\",\"msg\":\"trying next host\"}}\n{}\n",
        line(
            Some("node-b"),
            "not-pullable",
            Some("failed to resolve reference: 401 Unauthorized"),
            Some("no-credentials"),
            None
        )
    );
    e.server.set_nodes(&[("node-b", &b), ("node-a", &a)]);
}

#[test]
fn nodes_check_creates_gathers_and_cleans_up() {
    let e = env(&KubeAuth::Token);
    two_nodes(&e);
    let o = e.kubectl(&[
        "pullsim",
        "nodes",
        "check",
        IMAGE,
        "--image",
        "reg.example/pullsim:0.1.0",
        "-o",
        "json",
        "--timeout",
        "30s",
    ]);
    assert_eq!(
        o.code, 1,
        "one node cannot pull: {}\n{}",
        o.stdout, o.stderr
    );
    let lines = o.json();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    assert_eq!(
        lines[0],
        json!({"kind": "node_result", "node": "node-a", "image": IMAGE, "verdict": "pullable", "reason": null, "hint": null, "pull_seconds": 1.25})
    );
    assert_eq!(
        lines[1],
        json!({"kind": "node_result", "node": "node-b", "image": IMAGE, "verdict": "not-pullable", "reason": "failed to resolve reference: 401 Unauthorized", "hint": "no-credentials", "pull_seconds": null})
    );
    let reqs = e.request_lines();
    let pod = |n: &str| {
        format!(
            "GET /api/v1/namespaces/pullsim-system/pods/pullsim-node-check-{n}/log?container=node-check"
        )
    };
    assert_eq!(
        reqs,
        [
            "POST /api/v1/namespaces".to_string(),
            format!("POST {DS}"),
            format!("GET {DS}/pullsim-node-check"),
            "GET /api/v1/namespaces/pullsim-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dpullsim-node-check".to_string(),
            pod("1a2b0"),
            pod("1a2b1"),
            format!("DELETE {DS}/pullsim-node-check"),
            "DELETE /api/v1/namespaces/pullsim-system".to_string(),
        ],
    );
    // What was created: the namespace, and deploy/daemonset.yaml with the image and arguments.
    let all = e.requests();
    let ds = all
        .iter()
        .find(|r| r.method == "POST" && r.path == DS)
        .unwrap()
        .body
        .clone()
        .unwrap();
    let c = &ds["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(c["image"], "reg.example/pullsim:0.1.0");
    assert_eq!(
        c["args"],
        json!(["node", "check", "--host-root", "/host", "-o", "json", IMAGE])
    );
    assert_eq!(ds["metadata"]["namespace"], "pullsim-system");
    let ns = all
        .iter()
        .find(|r| r.method == "POST" && r.path == "/api/v1/namespaces")
        .unwrap();
    assert_eq!(
        ns.body.as_ref().unwrap()["metadata"]["name"],
        "pullsim-system"
    );
    let del = all
        .iter()
        .find(|r| r.method == "DELETE" && r.path.starts_with(DS))
        .unwrap();
    assert_eq!(
        del.body.as_ref().unwrap()["propagationPolicy"],
        "Foreground"
    );
    assert!(all.iter().all(|r| r.authorized));
    // Nothing left behind.
    assert!(
        e.server
            .object("/api/v1/namespaces/pullsim-system")
            .is_none()
    );
    assert!(
        e.server
            .object(&format!("{DS}/pullsim-node-check"))
            .is_none()
    );
    assert!(
        o.stderr.contains("namespace/pullsim-system deleted"),
        "{}",
        o.stderr
    );

    // The table.
    let t = e.plugin(&["nodes", "check", IMAGE, "--image", "p:1"]);
    assert_eq!(t.code, 1, "{}", t.stderr);
    let rows: Vec<&str> = t.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{}", t.stdout);
    let cols = |l: &str| {
        l.split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cols(rows[0]),
        ["NODE", "IMAGE", "VERDICT", "REASON", "HINT", "PULL-SECONDS"]
    );
    assert_eq!(
        cols(rows[1]),
        ["node-a", IMAGE, "pullable", "-", "-", "1.2"]
    );
    assert_eq!(
        cols(rows[2]),
        [
            "node-b",
            IMAGE,
            "not-pullable",
            "failed to resolve reference: 401 Unauthorized",
            "no-credentials",
            "-"
        ]
    );
}

#[test]
fn every_node_pullable_exits_0_and_an_existing_namespace_is_kept() {
    let e = env(&KubeAuth::Token);
    e.server
        .add_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}}))
        .unwrap();
    // A line without "node": the pod's node stands in.
    e.server.set_nodes(&[(
        "node-a",
        &format!("{}\n", line(None, "pullable", None, None, None)),
    )]);
    let o = e.plugin(&[
        "nodes", "check", IMAGE, "--image", "p:1", "-n", "ops", "-o", "json",
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.json()[0]["node"], "node-a");
    let reqs = e.request_lines();
    assert_eq!(reqs[0], "POST /api/v1/namespaces", "answered 409: not ours");
    assert!(reqs.contains(
        &"DELETE /apis/apps/v1/namespaces/ops/daemonsets/pullsim-node-check".to_string()
    ));
    assert!(
        !reqs.iter().any(|r| r == "DELETE /api/v1/namespaces/ops"),
        "{reqs:?}"
    );
    assert!(e.server.object("/api/v1/namespaces/ops").is_some());
}

#[test]
fn a_node_without_an_answer_is_an_error_row_at_the_timeout_and_everything_is_deleted() {
    let e = env(&KubeAuth::Token);
    e.server.set_nodes(&[
        (
            "node-a",
            &format!("{}\n", line(Some("node-a"), "pullable", None, None, None)),
        ),
        ("node-b", "starting\n"),
    ]);
    let o = e.plugin(&[
        "nodes",
        "check",
        IMAGE,
        "--image",
        "p:1",
        "--timeout",
        "3s",
        "-o",
        "json",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let lines = o.json();
    assert_eq!(lines[1]["node"], "node-b");
    assert_eq!(lines[1]["verdict"], "error");
    let reason = lines[1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "no node_check line from pod pullsim-node-check-1a2b1 within 3s (Completed"
        ),
        "{reason}"
    );
    let reqs = e.request_lines();
    assert_eq!(
        reqs[reqs.len() - 2],
        format!("DELETE {DS}/pullsim-node-check")
    );
    assert_eq!(
        reqs[reqs.len() - 1],
        "DELETE /api/v1/namespaces/pullsim-system"
    );
}

#[test]
fn ctrl_c_deletes_what_was_created() {
    let e = env(&KubeAuth::Token);
    e.server.set_nodes(&[("node-a", "")]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-pullsim"))
        .args(["nodes", "check", IMAGE, "--image", "p:1", "--timeout", "5m"])
        .env("KUBECONFIG", &e.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !e.request_lines().iter().any(|r| r.contains("/log?")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never polled: {:?}",
            e.request_lines()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("interrupted: deleted what was created (daemonset.apps/pullsim-node-check, namespace/pullsim-system)"),
        "{stderr}"
    );
    let reqs = e.request_lines();
    assert_eq!(
        reqs[reqs.len() - 2],
        format!("DELETE {DS}/pullsim-node-check")
    );
    assert_eq!(
        reqs[reqs.len() - 1],
        "DELETE /api/v1/namespaces/pullsim-system"
    );
    assert!(
        e.server
            .object("/api/v1/namespaces/pullsim-system")
            .is_none()
    );
}

fn daemonset_yaml() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/daemonset.yaml")
}

/// `kubectl apply --dry-run=client` of deploy/daemonset.yaml against the fake API server:
/// kubectl maps it through discovery, reads the live object (absent) and would create it.
#[test]
fn daemonset_manifest_passes_kubectl_apply_dry_run() {
    let e = env(&KubeAuth::Token);
    e.server
        .add_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pullsim-system"}}))
        .unwrap();
    let f = daemonset_yaml();
    let mut o = e.kubectl(&["apply", "--dry-run=client", "-f", f.to_str().unwrap()]);
    if o.code != 0 && o.stderr.contains("error validating data") {
        // An older kubectl (Debian's 1.20) validates against the server's /openapi/v2, which
        // the fake server does not serve; the schema check is kubernetes-validate's below.
        o = e.kubectl(&[
            "apply",
            "--dry-run=client",
            "--validate=false",
            "-f",
            f.to_str().unwrap(),
        ]);
    }
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout.trim(),
        "daemonset.apps/pullsim-node-check created (dry run)"
    );
    assert!(
        e.request_lines()
            .contains(&format!("GET {DS}/pullsim-node-check"))
    );
    // Nothing created.
    assert!(!e.request_lines().iter().any(|r| r.starts_with("POST")));
}

/// The schema check: PyPI's kubernetes-validate (strict: unknown fields refused), offline
/// from the schemas it ships. A broken copy must fail it, so the check can fail.
#[test]
fn daemonset_manifest_passes_kubernetes_validate() {
    let f = daemonset_yaml();
    let run = |p: &std::path::Path| {
        std::process::Command::new("kubernetes-validate")
            .args(["--strict", "-k", "1.34.0"])
            .arg(p)
            .output()
            .expect("kubernetes-validate (pip install kubernetes-validate; scripts/setup does)")
    };
    let o = run(&f);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesytem: true",
    );
    std::fs::write(&broken, text).unwrap();
    assert!(
        !run(&broken).status.success(),
        "a misspelt field must fail the strict check"
    );
}

/// A DaemonSet of that name already there (another run, or one left over): trouble, with
/// kubectl's wording, and nothing deleted — neither the namespace nor the DaemonSet are this
/// run's.
#[test]
fn a_daemonset_already_there_is_trouble_and_nothing_is_deleted() {
    let e = env(&KubeAuth::Token);
    e.server
        .add_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pullsim-system"}}))
        .unwrap();
    e.server
        .add_object(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "pullsim-node-check", "namespace": "pullsim-system"}}))
        .unwrap();
    let o = e.plugin(&["nodes", "check", IMAGE, "--image", "p:1"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("Error from server (AlreadyExists): daemonsets.apps \"pullsim-node-check\" already exists"),
        "{}",
        o.stderr
    );
    assert_eq!(
        e.request_lines(),
        ["POST /api/v1/namespaces".to_string(), format!("POST {DS}"),]
    );
    assert!(
        e.server
            .object(&format!("{DS}/pullsim-node-check"))
            .is_some()
    );
}
