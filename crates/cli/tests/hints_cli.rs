//! Hints with a stable code, why and fix, from the run's typed state (README "Hints"): secrets
//! missing or in another namespace, `latest` defaulting to Always, a present image that Always
//! pulls anyway, back-off. Offline nodes: no registry needed to produce these.

use std::path::Path;
use std::process::Command;

use pullsim_testsupport::image::{ImageSpec, generate};
use serde_json::Value;

fn run(root: &Path, args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("PULLSIM_ROOT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let hints = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "hint")
        .collect();
    (
        out.status.code().unwrap_or(-1),
        hints,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn hint<'a>(hints: &'a [Value], code: &str) -> Option<&'a Value> {
    hints.iter().find(|h| h["code"] == code)
}

#[test]
fn secrets_missing_or_in_another_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: qrtap-backend}\nspec:\n  imagePullSecrets: [{name: regcred}, {name: ghost}]\n  containers: [{name: app, image: \"registry.example.com/team/app:v1\"}]\n").unwrap();
    // A secret as `kubectl create secret … --dry-run=client -o yaml` makes it: no namespace.
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"registry.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}'\n").unwrap();
    let root = dir.path().join("node");
    let (code, hints, all) = run(
        &root,
        &[
            "pod",
            "run",
            &pod.display().to_string(),
            "--secret",
            &secret.display().to_string(),
            "--offline",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 1, "{all}");
    let other = hint(&hints, "secret-in-other-namespace").unwrap_or_else(|| panic!("{all}"));
    assert_eq!(other["pod"], "qrtap-backend/web");
    assert!(
        other["why"]
            .as_str()
            .unwrap()
            .contains("exists in namespace default"),
        "{other}"
    );
    assert!(
        other["fix"].as_str().unwrap().contains("-n qrtap-backend"),
        "{other}"
    );
    let ghost = hint(&hints, "secret-not-found").unwrap_or_else(|| panic!("{all}"));
    assert!(
        ghost["why"].as_str().unwrap().contains("\"ghost\""),
        "{ghost}"
    );
    // The text form.
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(&root)
        .args([
            "pod",
            "run",
            &pod.display().to_string(),
            "--offline",
            "--secret",
        ])
        .arg(&secret)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Hint [secret-in-other-namespace] pod qrtap-backend/web: ")
            && text.contains("  fix: create the secret in \"qrtap-backend\""),
        "{text}"
    );
}

#[test]
fn latest_present_and_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    let layout = dir.path().join("layout");
    generate(&layout, &ImageSpec::simple("latest", 1, 2000, 1501)).unwrap();
    let (code, _, all) = run(
        &root,
        &[
            "images",
            "load",
            &layout.display().to_string(),
            "--name",
            "example.com/team/app",
        ],
    );
    assert_eq!(code, 0, "{all}");
    let pod = dir.path().join("pod.yaml");
    // `image: example.com/team/app`: no tag, so latest and Always; the image is present.
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers: [{name: app, image: \"example.com/team/app\"}]\n").unwrap();
    let p = pod.display().to_string();
    let (code, hints, all) = run(
        &root,
        &[
            "pod",
            "run",
            &p,
            "--offline",
            "--virtual-time",
            "--until",
            "25s",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 1, "{all}");
    for code in [
        "latest-defaults-to-always",
        "present-but-policy-always",
        "in-backoff",
    ] {
        let h = hint(&hints, code).unwrap_or_else(|| panic!("{code}: {all}"));
        assert_eq!(h["container"], "app", "{h}");
        assert_eq!(h["image"], "example.com/team/app", "{h}");
    }
    assert!(
        hint(&hints, "present-but-policy-always").unwrap()["fix"]
            .as_str()
            .unwrap()
            .contains("IfNotPresent")
    );
    // With the policy set to IfNotPresent the image is used: no hint at all.
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers: [{name: app, image: \"example.com/team/app\", imagePullPolicy: IfNotPresent}]\n").unwrap();
    let (code, hints, all) = run(&root, &["pod", "run", &p, "--offline", "-o", "json"]);
    assert_eq!(code, 0, "{all}");
    assert!(hints.is_empty(), "{all}");
}
