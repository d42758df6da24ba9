//! `pullsim pod run` on workload manifests against the real registry: a Deployment (init
//! container, image volume), a CronJob using its ServiceAccount's pull secret, ephemeral
//! containers, a missing pull secret, the kubelet's SyncPod order, and bad manifests (clear
//! errors, nothing in the store lost).

mod pod_common;

use pod_common::{Node, secret_yaml};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

fn push(repo_tag: &str, seed: u64) -> String {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, seed), repo_tag)
        .unwrap();
    reg.reference(repo_tag)
}

#[test]
fn deployment_cronjob_volumes_ephemeral_and_service_account_secrets() {
    let reg = shared(Mode::Htpasswd);
    let (user, pass) = reg.user().unwrap();
    let init = push("wl/init:v1", 31);
    let app = push("wl/app:v1", 32);
    let vol = push("wl/assets:v1", 33);
    let job = push("wl/job:v1", 34);
    let dbg = push("wl/debug:v1", 35);
    let node = Node::new();
    let yaml = format!(
        r#"{secret}---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: runner, namespace: shop}}
imagePullSecrets: [{{name: regcred}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  template:
    spec:
      imagePullSecrets: [{{name: regcred}}]
      initContainers: [{{name: init, image: "{init}"}}]
      containers: [{{name: app, image: "{app}"}}]
      volumes:
      - name: assets
        image: {{reference: "{vol}", pullPolicy: IfNotPresent}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly, namespace: shop}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: runner
          containers: [{{name: job, image: "{job}"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: debugged, namespace: shop}}
spec:
  imagePullSecrets: [{{name: regcred}}]
  containers: [{{name: app, image: "{app}"}}]
  ephemeralContainers: [{{name: debugger, image: "{dbg}"}}]
"#,
        secret = secret_yaml("shop", "regcred", &reg.host, user, pass)
    );
    let file = node.write("workloads.yaml", &yaml);
    let out = node.run(&[&file], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let st = out.statuses();
    let kinds: Vec<(String, String, String)> = st
        .iter()
        .map(|s| {
            (
                s["pod"].as_str().unwrap().to_string(),
                s["container_type"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("shop/web".into(), "init".into(), "ready".into()),
            ("shop/web".into(), "container".into(), "ready".into()),
            ("shop/web".into(), "volume".into(), "ready".into()),
            ("shop/nightly".into(), "container".into(), "ready".into()),
            ("shop/debugged".into(), "container".into(), "ready".into()),
            ("shop/debugged".into(), "ephemeral".into(), "ready".into()),
        ]
    );
    // SyncPod order: image volumes, ephemeral containers, init containers, containers.
    // Pods sync concurrently; within a pod the order is SyncPod's.
    let order = |pod: &str| -> Vec<String> {
        out.events()
            .iter()
            .filter(|e| e["pod"] == pod)
            .filter(|e| {
                e["reason"] == "Pulling"
                    || (e["reason"] == "Pulled"
                        && e["message"].as_str().unwrap().contains("already"))
            })
            .map(|e| e["container"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order("shop/web"), ["assets", "init", "app"]);
    assert_eq!(order("shop/nightly"), ["job"]);
    assert_eq!(order("shop/debugged"), ["debugger", "app"]);
}

#[test]
fn missing_pull_secret_is_reported_and_the_pull_goes_on() {
    let image = push("wl/nosecret:v1", 36);
    let node = Node::new();
    let pod = node.write(
        "pod.yaml",
        &pod_common::pod_yaml("default", "p", &image, None, &["absent", "also-absent"]),
    );
    let out = node.run(&[&pod], &[]);
    assert_eq!(out.code, 1);
    let ev = out.events();
    assert_eq!(ev[0]["reason"], "FailedToRetrieveImagePullSecret");
    assert_eq!(ev[0]["type"], "Warning");
    assert_eq!(
        ev[0]["message"],
        "Unable to retrieve some image pull secrets (absent, also-absent); attempting to pull the image may not succeed."
    );
    assert_eq!(ev[1]["reason"], "Pulling");
}

#[test]
fn init_container_failure_holds_back_the_containers() {
    let app = push("wl/held:v1", 37);
    let node = Node::new();
    let yaml = format!(
        "kind: Pod\nmetadata: {{name: p}}\nspec:\n  initContainers: [{{name: init, image: \"local.invalid/none:1\", imagePullPolicy: Never}}]\n  containers: [{{name: app, image: \"{app}\"}}]\n"
    );
    let pod = node.write("pod.yaml", &yaml);
    let out = node.run(&[&pod], &[]);
    assert_eq!(out.code, 1);
    assert_eq!(out.reasons(None), ["ErrImageNeverPull", "Failed"]);
    let st = out.statuses();
    assert_eq!(st[0]["reason"], "ErrImageNeverPull");
    assert_eq!(st[1]["reason"], "PodInitializing");
}

#[test]
fn bad_manifests_fail_clearly_and_lose_nothing() {
    let image = push("wl/keep:v1", 38);
    let reg = shared(Mode::Htpasswd);
    let (user, pass) = reg.user().unwrap();
    let node = Node::new();
    let good = node.write(
        "good.yaml",
        &format!(
            "{}---\n{}",
            secret_yaml("default", "regcred", &reg.host, user, pass),
            pod_common::pod_yaml("default", "g", &image, None, &["regcred"])
        ),
    );
    assert_eq!(node.run(&[&good], &[]).code, 0);
    let before = node.pullsim(&["images", "ls", "-o", "json"]).stdout;
    assert!(before.contains("wl/keep"), "{before}");

    let bad = node.write(
        "bad.yaml",
        "kind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: a, image: x}]}\n---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: nginx}\n      - {name: b, image: \"\"}\n",
    );
    let out = node.pullsim(&["pod", "run", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: {}: document 2 (Deployment \"web\"): spec.template.spec.containers[1].image: must be a non-empty string, got \"\"",
            bad.display()
        )
    );
    assert!(out.stdout.is_empty());

    let bad_secret = node.write(
        "secret.yaml",
        "kind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: \"not base64!\"}\n",
    );
    let out = node.pullsim(&[
        "pod",
        "run",
        good.to_str().unwrap(),
        bad_secret.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    // File, document and field, each once.
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: {}: document 1 (Secret \"s\"): data[\".dockerconfigjson\"]: not valid base64: illegal base64 data at input byte 3",
            bad_secret.display()
        )
    );
    let out = node.pullsim(&[
        "pod",
        "run",
        good.to_str().unwrap(),
        "--secret",
        bad_secret.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: --secret: {}: field data[\".dockerconfigjson\"]: not valid base64: illegal base64 data at input byte 3",
            bad_secret.display()
        )
    );
    let missing = node.dir.path().join("missing.yaml");
    let out = node.pullsim(&["pod", "run", missing.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: {}: No such file or directory (os error 2)",
            missing.display()
        ),
        "the OS error once"
    );

    let conflicting = node.pullsim(&[
        "pod",
        "run",
        good.to_str().unwrap(),
        "--serialize-image-pulls",
        "--max-parallel-image-pulls",
        "3",
    ]);
    assert_eq!(conflicting.code, 2);
    assert!(conflicting.stderr.contains("invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false"), "{}", conflicting.stderr);

    let after = node.pullsim(&["images", "ls", "-o", "json"]).stdout;
    assert_eq!(before, after, "nothing in the store changed");

    let conflicting = node.pullsim(&[
        "pod",
        "run",
        good.to_str().unwrap(),
        "--max-parallel-image-pulls",
        "3",
    ]);
    assert_eq!(
        conflicting.code, 0,
        "max-parallel 3 defaults serialize to false: {}",
        conflicting.stderr
    );
}
