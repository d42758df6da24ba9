//! Hints drawn from the inputs and the node's store (README "Hints"), each triggered with real
//! inputs on an offline node: a Secret of the wrong type (from the manifests and from `--secret`,
//! one rule), a ServiceAccount missing from the inputs, a near name in the store, a digest
//! changed by a docker-archive load (the archive made by skopeo), credential helpers in a pull
//! secret and in the node's docker config.

mod pod_common;

use std::process::Command;

use pod_common::{Node, Out, pod_yaml};
use pullsim_testsupport::image::{ImageSpec, generate};
use serde_json::Value;

fn hints(out: &Out) -> Vec<Value> {
    out.json()
        .into_iter()
        .filter(|v| v["kind"] == "hint")
        .collect()
}

fn hint(out: &Out, code: &str) -> Value {
    hints(out)
        .into_iter()
        .find(|h| h["code"] == code)
        .unwrap_or_else(|| panic!("no hint {code}:\n{}\n{}", out.stdout, out.stderr))
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

const OPAQUE: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: shop}\ntype: Opaque\nstringData: {username: u, password: p}\n";

#[test]
fn secret_wrong_type_from_manifests_and_from_the_flag_alike() {
    let node = Node::new();
    let pod = pod_yaml(
        "shop",
        "web",
        "registry.example.com/team/app:v1",
        None,
        &["regcred"],
    );
    // In the manifests.
    let both = node.write("both.yaml", &format!("{OPAQUE}---\n{pod}"));
    let out = node.run(&[&both], &["--offline"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "secret-wrong-type");
    assert_eq!(h["pod"], "shop/web");
    assert!(text(&h, "why").contains("has type \"Opaque\""), "{h}");
    assert!(
        text(&h, "fix").contains("kubectl create secret docker-registry regcred -n shop"),
        "{h}"
    );
    // No FailedToRetrieveImagePullSecret: the secret exists, it only carries no credentials.
    assert!(hints(&out).iter().all(|h| h["code"] != "secret-not-found"));
    // The same Secret given with --secret: the same answer, not an error.
    let pod_only = node.write("pod.yaml", &pod);
    let secret = node.write("opaque.yaml", OPAQUE);
    let out = node.run(
        &[&pod_only],
        &["--offline", "--secret", secret.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(hint(&out, "secret-wrong-type")["why"], h["why"]);
    // `pull --secret` makes it the pod's imagePullSecret too.
    let out = node.pullsim(&[
        "pull",
        "registry.example.com/team/app:v1",
        "--offline",
        "--secret",
        secret.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    hint(&out, "secret-wrong-type");
    // pod explain says it before any pull.
    let out = node.pullsim(&["pod", "explain", both.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    hint(&out, "secret-wrong-type");
}

#[test]
fn service_account_not_found() {
    let node = Node::new();
    let f = node.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  serviceAccountName: builder\n  containers: [{name: app, image: \"registry.example.com/team/app:v1\"}]\n",
    );
    let out = node.run(&[&f], &["--offline"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "service-account-not-found");
    assert!(
        text(&h, "why").contains("ServiceAccount shop/builder"),
        "{h}"
    );
    assert!(
        text(&h, "fix").contains("kubectl get serviceaccount builder -n shop -o yaml"),
        "{h}"
    );
    // With the ServiceAccount given, no hint.
    let sa = node.write(
        "sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: shop}\n",
    );
    let out = node.run(&[&f, &sa], &["--offline"]);
    assert!(
        hints(&out)
            .iter()
            .all(|h| h["code"] != "service-account-not-found"),
        "{}",
        out.stdout
    );
}

#[test]
fn near_match_name() {
    let node = Node::new();
    let layout = node.root().with_file_name("layout");
    generate(&layout, &ImageSpec::simple("v1", 1, 1500, 71)).unwrap();
    let load = node.pullsim(&[
        "images",
        "load",
        layout.to_str().unwrap(),
        "--name",
        "registry.example.com/team/app",
    ]);
    assert_eq!(load.code, 0, "{}", load.stderr);
    // The pod asks for another tag of the repository the node has, with Never.
    let f = node.write(
        "pod.yaml",
        &pod_yaml(
            "default",
            "web",
            "registry.example.com/team/app:v2",
            Some("Never"),
            &[],
        ),
    );
    let out = node.run(&[&f], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "near-match-name");
    assert!(
        text(&h, "why").contains("registry.example.com/team/app:v1"),
        "{h}"
    );
    assert!(
        text(&h, "fix").contains("registry.example.com/team/app:v1"),
        "{h}"
    );
    // A name without a registry means docker.io: the hint says so.
    let f = node.write(
        "short.yaml",
        &pod_yaml("default", "web", "app:v1", Some("Never"), &[]),
    );
    let out = node.run(&[&f], &[]);
    let h = hint(&out, "near-match-name");
    assert!(text(&h, "why").contains("docker.io/library/app:v1"), "{h}");
}

#[test]
fn digest_changed_by_import() {
    let node = Node::new();
    let dir = node.root().with_file_name("work");
    std::fs::create_dir_all(&dir).unwrap();
    let layout = dir.join("layout");
    let img = generate(&layout, &ImageSpec::simple("v1", 1, 1500, 72)).unwrap();
    // `docker save` as skopeo writes it: a docker-archive has no registry manifest, so the node
    // writes one on load and its digest is not the registry's.
    let archive = dir.join("app.tar");
    let st = Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!(
            "docker-archive:{}:registry.example.com/team/app:v1",
            archive.display()
        ))
        .status()
        .expect("skopeo (scripts/setup installs it)");
    assert!(st.success());
    let load = node.pullsim(&["images", "load", archive.to_str().unwrap()]);
    assert_eq!(load.code, 0, "{}", load.stderr);
    let pinned = format!("registry.example.com/team/app@{}", img.top_digest());
    let f = node.write("pod.yaml", &pod_yaml("default", "web", &pinned, None, &[]));
    let out = node.run(&[&f], &["--offline"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "digest-changed-by-import");
    assert_eq!(h["image"], pinned.as_str());
    assert!(text(&h, "why").contains("docker-archive"), "{h}");
    assert!(text(&h, "fix").contains("oci-archive"), "{h}");
    assert!(hints(&out).iter().all(|h| h["code"] != "near-match-name"));
}

#[test]
fn credential_helper_in_a_secret_and_in_the_node_config() {
    let node = Node::new();
    let cfg = r#"{"auths":{},"credsStore":"desktop"}"#;
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: regcred, namespace: default}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{cfg}'\n"
    );
    let pod = pod_yaml(
        "default",
        "web",
        "registry.example.com/team/app:v1",
        None,
        &["regcred"],
    );
    let f = node.write("all.yaml", &format!("{secret}---\n{pod}"));
    let out = node.run(&[&f], &["--offline"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let h = hint(&out, "credential-helper-in-config");
    assert_eq!(h["pod"], "default/web");
    assert!(
        text(&h, "why").contains(r#""credsStore": "desktop""#),
        "{h}"
    );
    // The node's own config.json.
    let node_cfg = node.write("config.json", r#"{"credHelpers":{"gcr.io":"gcloud"}}"#);
    let p = node.write("pod.yaml", &pod);
    let out = node.run(
        &[&p],
        &["--offline", "--node-config", node_cfg.to_str().unwrap()],
    );
    let h = hint(&out, "credential-helper-in-config");
    assert_eq!(h["pod"], Value::Null);
    assert!(text(&h, "why").contains(r#""credHelpers" (gcr.io)"#), "{h}");
    assert!(text(&h, "fix").contains("credential provider"), "{h}");
}
