//! KEP-2535 pull records are the kubelet's own files (pkg/kubelet/images/pullmanager/
//! fs_pullrecords.go): `<kubelet root>/image_manager/pulled/sha256-<hex sha256(imageRef)>`
//! holding `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1",…}`, and
//! a store written by the pre-split pullsim (records in its redb index) is migrated once.
//!
//! Offline: the fixture's registry is not running; the image is present, so a verified pod needs
//! no network at all.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

const IMAGE_ID: &str = "sha256:6790966067da0d7ba48f19716fc103a5d4abe90c80488c6a2ebbce2b8218af8e";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/legacy-store-v0")
}

/// A copy of the old store (the test must not change the fixture).
fn old_store(into: &Path) -> PathBuf {
    let root = into.join("store");
    copy_dir(&fixture_dir(), &root);
    std::fs::create_dir_all(root.join("ingest")).unwrap();
    for extra in ["README.md", "regcred.yaml", "pod.yaml"] {
        let _ = std::fs::remove_file(root.join(extra));
    }
    root
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn pullsim(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pulled_dir(root: &Path) -> PathBuf {
    root.join("kubelet/image_manager/pulled")
}

fn cache_filename(key: &str) -> String {
    format!("sha256-{}", hex::encode(Sha256::digest(key.as_bytes())))
}

#[test]
fn old_store_records_survive_the_upgrade_as_kubelet_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = old_store(tmp.path());
    let pod = fixture_dir().join("pod.yaml");
    let secret = fixture_dir().join("regcred.yaml");
    let (code, stdout, stderr) = pullsim(
        &root,
        &[
            "pod",
            "run",
            pod.to_str().unwrap(),
            "--secret",
            secret.to_str().unwrap(),
            "--offline",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The record migrated, so the pod's secret is verified against it and the local image used.
    assert!(
        stdout.contains("already present on machine and can be accessed by the pod"),
        "{stdout}"
    );

    // The record is a kubelet file, named as the kubelet names it, in the kubelet's format.
    let file = pulled_dir(&root).join(cache_filename(IMAGE_ID));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; dir has {:?}",
            file.display(),
            std::fs::read_dir(pulled_dir(&root)).map(|d| d.count())
        )
    });
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["kind"], "ImagePulledRecord");
    assert_eq!(v["apiVersion"], "kubelet.config.k8s.io/v1alpha1");
    assert_eq!(v["imageRef"], IMAGE_ID);
    let t = v["lastUpdatedTime"].as_str().unwrap();
    assert!(t.ends_with('Z') && t.len() == 20, "RFC 3339 seconds: {t}");
    let secrets = &v["credentialMapping"]["127.0.0.1:35495/team/app"]["kubernetesSecrets"];
    assert_eq!(secrets[0]["namespace"], "default");
    assert_eq!(secrets[0]["name"], "regcred");
    assert_eq!(secrets[0]["credentialHash"].as_str().unwrap().len(), 64);
    // The first keys are in the kubelet encoder's order.
    assert!(text.starts_with(r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"#), "{text}");

    // Migrated once: a second run still verifies (from the files), and a pod without the secret
    // is not let in (it must pull, and offline that fails).
    let (code, stdout, _) = pullsim(
        &root,
        &[
            "pod",
            "run",
            pod.to_str().unwrap(),
            "--secret",
            secret.to_str().unwrap(),
            "--offline",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let bare = tmp.path().join("bare.yaml");
    std::fs::write(
        &bare,
        std::fs::read_to_string(&pod)
            .unwrap()
            .replace("  imagePullSecrets: [{name: regcred}]\n", ""),
    )
    .unwrap();
    let (code, stdout, _) = pullsim(
        &root,
        &[
            "pod",
            "run",
            bare.to_str().unwrap(),
            "--offline",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(!stdout.contains("can be accessed by the pod"), "{stdout}");
}

/// A record written in the kubelet's format by the kubelet itself is read as it is: pullsim run
/// on a node's kubelet directory honours it. (The file below is shaped exactly as the upstream
/// testdata `pkg/kubelet/images/pullmanager/testdata/pulled/sha256-38a8…`.)
#[test]
fn a_kubelet_written_record_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let root = old_store(tmp.path());
    // The node's kubelet already has a record for the image, naming another secret: the
    // migration of the old store's record must not overwrite what the kubelet wrote.
    let pod = fixture_dir().join("pod.yaml");
    let secret = fixture_dir().join("regcred.yaml");
    let record = format!(
        r#"{{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"2024-10-21T12:26:40Z","imageRef":"{IMAGE_ID}","credentialMapping":{{"127.0.0.1:35495/team/app":{{"kubernetesSecrets":[{{"uid":"testsecretuid","namespace":"default","name":"another-secret","credentialHash":""}}]}}}}}}"#
    );
    std::fs::create_dir_all(pulled_dir(&root)).unwrap();
    std::fs::write(pulled_dir(&root).join(cache_filename(IMAGE_ID)), record).unwrap();
    let (code, stdout, _) = pullsim(
        &root,
        &[
            "pod",
            "run",
            pod.to_str().unwrap(),
            "--secret",
            secret.to_str().unwrap(),
            "--offline",
            "-o",
            "json",
        ],
    );
    // regcred is neither the recorded secret nor has the recorded (empty) hash: must pull.
    assert_eq!(code, 1, "{stdout}");
    assert!(!stdout.contains("can be accessed by the pod"), "{stdout}");
}
