//! Reading a live cluster (issue 15, part 1) against the fake API server: `kubectl pullsim
//! explain|run TYPE/NAME` (through real kubectl's plugin discovery) and `pullsim pod
//! explain|run --from-cluster` print what `pullsim pod explain|run` prints on the same objects
//! exported with `kubectl get -o json`; contexts, exec credentials, kubectl's error messages,
//! and `cannot-read-secrets`.

mod cluster_common;
mod pod_common;

use cluster_common::{Env, PASSWORD, TOKEN, env};
use pullsim_testsupport::fake_apiserver::KubeAuth;

/// Export deployment/web, its ServiceAccount and Secret from the fake cluster with real
/// kubectl, as a user would before this issue.
fn export(e: &Env) -> Vec<String> {
    let mut files = Vec::new();
    for (what, file) in [
        ("deployment/web", "deploy.json"),
        ("serviceaccount/builder", "sa.json"),
        ("secret/regcred", "secret.json"),
    ] {
        let o = e.kubectl(&["get", what, "-n", "shop", "-o", "json"]);
        assert_eq!(o.code, 0, "kubectl get {what}: {}", o.stderr);
        let p = e.dir.path().join(file);
        std::fs::write(&p, &o.stdout).unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    // kubectl authenticated with the kubeconfig's token, over the server's TLS.
    assert!(e.requests().iter().all(|r| r.authorized));
    files
}

#[test]
fn kubectl_pullsim_explain_prints_what_pod_explain_prints_on_exported_files() {
    let e = env(&KubeAuth::Token);
    let files = export(&e);
    for output in ["text", "json"] {
        let mut args: Vec<&str> = vec!["pod", "explain", "-o", output];
        args.extend(files.iter().map(String::as_str));
        let exported = e.pullsim(&args);
        assert_eq!(exported.code, 0, "{}", exported.stderr);
        e.server.clear_requests();
        let plugin = e.kubectl(&[
            "pullsim",
            "explain",
            "deployment/web",
            "-n",
            "shop",
            "-o",
            output,
        ]);
        assert_eq!(plugin.code, 0, "{}", plugin.stderr);
        assert_eq!(
            plugin.stdout, exported.stdout,
            "kubectl pullsim explain -o {output}"
        );
        // What was read: the object, its ServiceAccount, the secret that names; all with the
        // kubeconfig's token.
        assert_eq!(
            e.request_lines(),
            [
                "GET /apis/apps/v1/namespaces/shop/deployments/web",
                "GET /api/v1/namespaces/shop/serviceaccounts/builder",
                "GET /api/v1/namespaces/shop/secrets/regcred",
            ]
        );
        assert!(e.requests().iter().all(|r| r.authorized));
        let direct = e.pullsim(&[
            "pod",
            "explain",
            "--from-cluster",
            "deploy/web",
            "-n",
            "shop",
            "-o",
            output,
        ]);
        assert_eq!(direct.code, 0, "{}", direct.stderr);
        assert_eq!(
            direct.stdout, exported.stdout,
            "pod explain --from-cluster -o {output}"
        );
        assert!(!plugin.stdout.contains(PASSWORD) && !plugin.stderr.contains(PASSWORD));
    }
    // The secret was used: the credential from regcred is in the explanation.
    let j = e
        .pullsim(&[
            "pod",
            "explain",
            "--from-cluster",
            "deploy/web",
            "-n",
            "shop",
            "-o",
            "json",
        ])
        .json();
    let creds = j[0]["credentials"].to_string();
    assert!(creds.contains("regcred"), "{creds}");
}

#[test]
fn kubectl_pullsim_run_prints_what_pod_run_prints_on_exported_files() {
    let e = env(&KubeAuth::Token);
    let files = export(&e);
    // Two fresh nodes, one per run.
    let (r1, r2) = (e.dir.path().join("node1"), e.dir.path().join("node2"));
    let mut args: Vec<&str> = vec![
        "--root",
        r1.to_str().unwrap(),
        "pod",
        "run",
        "--offline",
        "-o",
        "json",
    ];
    args.extend(files.iter().map(String::as_str));
    let exported = e.pullsim(&args);
    let plugin = e.kubectl(&[
        "pullsim",
        "run",
        "deployment/web",
        "-n",
        "shop",
        "--root",
        r2.to_str().unwrap(),
        "--offline",
        "-o",
        "json",
    ]);
    assert_eq!(
        plugin.code, exported.code,
        "{}\n{}",
        plugin.stderr, exported.stderr
    );
    assert_eq!(plugin.code, 1, "offline: not ready");
    let strip = |s: &str| -> Vec<String> {
        // The event times differ between two runs: compare the lines without them.
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                if let Some(o) = v.as_object_mut() {
                    for k in ["time", "first_seen", "last_seen", "seconds", "at"] {
                        o.remove(k);
                    }
                }
                v.to_string()
            })
            .collect()
    };
    assert_eq!(strip(&plugin.stdout), strip(&exported.stdout));
}

#[test]
fn forbidden_secrets_give_the_cannot_read_secrets_hint_and_the_check_goes_on() {
    let e = env(&KubeAuth::Token);
    e.server.forbid_secrets(true);
    let o = e.plugin(&["explain", "deployment/web", "-n", "shop", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines = o.json();
    assert_eq!(lines[0]["kind"], "explain");
    assert_eq!(lines[0]["image"], "registry.test/team/app:v1");
    let hint = lines
        .iter()
        .find(|l| l["kind"] == "hint" && l["code"] == "cannot-read-secrets")
        .unwrap_or_else(|| panic!("{}", o.stdout));
    assert_eq!(hint["pod"], "shop/web");
    let why = hint["why"].as_str().unwrap();
    assert!(
        why.contains("\"regcred\"") && why.contains("namespace \"shop\""),
        "{why}"
    );
    assert!(why.contains("cannot get resource \"secrets\""), "{why}");
    assert!(
        hint["fix"]
            .as_str()
            .unwrap()
            .contains("kubectl auth can-i get secrets -n shop")
    );
    // Text: the hint line as the other hints are printed.
    let t = e.plugin(&["explain", "deployment/web", "-n", "shop"]);
    assert!(
        t.stdout
            .contains("Hint [cannot-read-secrets] pod shop/web: "),
        "{}",
        t.stdout
    );
    // pod run: the same hint among the run's hints, and the pods still run.
    let root = e.dir.path().join("run-root");
    let r = e.plugin(&[
        "run",
        "deployment/web",
        "-n",
        "shop",
        "--offline",
        "-o",
        "json",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "offline: not ready; {}", r.stderr);
    let lines = r.json();
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "container" && l["pod"] == "shop/web"),
        "{}",
        r.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "hint" && l["code"] == "cannot-read-secrets"),
        "{}",
        r.stdout
    );
    // Readable: no such hint.
    e.server.forbid_secrets(false);
    let ok = e.plugin(&["explain", "deployment/web", "-n", "shop", "-o", "json"]);
    assert!(!ok.stdout.contains("cannot-read-secrets"), "{}", ok.stdout);
}

#[test]
fn context_namespace_and_exec_credentials_as_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("exec-cred");
    // An exec credential plugin (client.authentication.k8s.io/v1) printing the token.
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = env(&KubeAuth::Exec {
        command: plugin,
        args: vec![],
    });
    e.server
        .add_object(cluster_common::deployment(
            "other",
            "api",
            "registry.test/team/api:v2",
            "default",
        ))
        .unwrap();
    e.server
        .add_object(cluster_common::deployment(
            "default",
            "front",
            "registry.test/team/front:v3",
            "default",
        ))
        .unwrap();
    // The current context's namespace (default), then --context other's (other).
    let o = e.plugin(&["explain", "deploy/front", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()[0]["image"], "registry.test/team/front:v3");
    e.server.clear_requests();
    let o = e.plugin(&["explain", "deploy/api", "--context", "other", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()[0]["image"], "registry.test/team/api:v2");
    assert_eq!(
        e.request_lines()[0],
        "GET /apis/apps/v1/namespaces/other/deployments/api"
    );
    // The ServiceAccount "default" does not exist there: left out, as a missing one is.
    assert!(
        e.requests().iter().all(|r| r.authorized),
        "exec credential token sent"
    );
    // --kubeconfig instead of KUBECONFIG.
    let o = e.pullsim(&[
        "pod",
        "explain",
        "--from-cluster",
        "deploy/api",
        "-n",
        "other",
        "--kubeconfig",
        e.kubeconfig.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// A missing object: kubectl's own message (StandardErrorMessage), compared with real kubectl.
#[test]
fn errors_from_the_server_read_as_kubectl_prints_them() {
    let e = env(&KubeAuth::Token);
    let k = e.kubectl(&["get", "deployment", "missing", "-n", "shop"]);
    assert_ne!(k.code, 0);
    let ours = e.plugin(&["explain", "deployment/missing", "-n", "shop"]);
    assert_eq!(ours.code, 2, "{}", ours.stderr);
    let kubectl_line = k
        .stderr
        .lines()
        .find(|l| l.starts_with("Error from server"))
        .unwrap();
    assert_eq!(
        kubectl_line,
        "Error from server (NotFound): deployments.apps \"missing\" not found"
    );
    assert!(ours.stderr.contains(kubectl_line), "{}", ours.stderr);
    // A wrong token: kubectl's Unauthorized wording.
    let bad = e.dir.path().join("bad-kubeconfig");
    let text = std::fs::read_to_string(&e.kubeconfig)
        .unwrap()
        .replace(TOKEN, "wrong");
    std::fs::write(&bad, text).unwrap();
    let o = e.pullsim(&[
        "pod",
        "explain",
        "--from-cluster",
        "po/x",
        "--kubeconfig",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("error: You must be logged in to the server (Unauthorized)"),
        "{}",
        o.stderr
    );
    // Not a TYPE/NAME.
    let o = e.plugin(&["explain", "service/web"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("\"service/web\": pullsim reads pod, deployment"),
        "{}",
        o.stderr
    );
    // The plugin's usage.
    let o = e.plugin(&[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("kubectl pullsim explain TYPE/NAME"));
    let o = e.kubectl(&["pullsim", "--help"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("kubectl pullsim nodes check IMAGE..."));
}
