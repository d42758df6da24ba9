//! One engine behind every command (issue 10): `pull`, `creds check`, `pod run`, `pod explain`
//! and `images gc` are paths through the same kubelet (crates/node) and runtime
//! (crates/runtime), so where two commands ask the same question they give the same answer.
//! Everything here runs the real binary against a real htpasswd registry.

use std::path::{Path, PathBuf};
use std::process::Command;

use pullsim_testsupport::{Mode, RegistryHandle, shared};
use serde_json::Value;

mod registry_common;
use registry_common::secret;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|v| v["kind"] == kind)
            .collect()
    }

    /// The events as (type, reason, message) with the pull durations masked: they are real
    /// time and differ between two runs.
    fn events(&self) -> Vec<(String, String, String)> {
        self.of_kind("event")
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default().to_string(),
                    e["reason"].as_str().unwrap_or_default().to_string(),
                    mask_durations(e["message"].as_str().unwrap_or_default()),
                )
            })
            .collect()
    }
}

/// `Successfully pulled image "X" in 25ms (30ms including waiting). Image size: N bytes.` with
/// the two durations replaced by `D`.
fn mask_durations(msg: &str) -> String {
    let Some(start) = msg.find("\" in ") else {
        return msg.to_string();
    };
    let Some(end) = msg.find(" including waiting)") else {
        return msg.to_string();
    };
    format!("{}\" in D (D{}", &msg[..start], &msg[end..])
}

fn pullsim(root: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn push(reg: &RegistryHandle, repo_tag: &str, seed: u64) {
    registry_common::push(reg, repo_tag, seed, 2, 2000);
}

/// A one-container pod in `default` with the given pull secret names.
fn pod_yaml(dir: &Path, name: &str, image: &str, policy: &str, secrets: &[&str]) -> PathBuf {
    let pull_secrets: Vec<Value> = secrets
        .iter()
        .map(|s| serde_json::json!({ "name": s }))
        .collect();
    let doc = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "imagePullSecrets": pull_secrets,
            "containers": [{"name": "app", "image": image, "imagePullPolicy": policy}],
        },
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, doc.to_string()).unwrap();
    p
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

struct Fixture {
    dir: tempfile::TempDir,
    image: String,
    right: PathBuf,
    wrong: PathBuf,
}

fn fixture(reg: &RegistryHandle, repo: &str, seed: u64) -> Fixture {
    push(reg, &format!("{repo}:v1"), seed);
    let dir = tempfile::tempdir().unwrap();
    let (user, pass) = reg.users[0].clone();
    let right = secret(dir.path(), "right", &reg.host, &user, &pass);
    let wrong = secret(dir.path(), "wrong", &reg.host, &user, "not-the-password");
    Fixture {
        image: format!("{}/{repo}:v1", reg.host),
        dir,
        right,
        wrong,
    }
}

/// For every policy × image present or absent × secret right, wrong or none, `pull -o json`
/// and `pod run -o json` on the equivalent one-container pod print the same events and exit
/// alike (issue 10's acceptance matrix). "Present" means pulled before with the right secret,
/// so KEP-2535 verification is in play (the gate is on by default).
#[test]
fn pull_and_pod_run_agree_on_the_whole_matrix() {
    let reg = shared(Mode::Htpasswd);
    let f = fixture(reg, "engine/matrix", 101);
    let mut mismatches = Vec::new();
    for policy in ["Always", "IfNotPresent", "Never"] {
        for present in [false, true] {
            for which in ["right", "wrong", "none"] {
                let case = format!(
                    "{policy}/{}/{which}",
                    if present { "present" } else { "absent" }
                );
                let base = f.dir.path().join(case.replace('/', "-"));
                std::fs::create_dir_all(&base).unwrap();
                let (root_pull, root_pod) = (base.join("pull"), base.join("pod"));
                if present {
                    let warm = pullsim(
                        &root_pull,
                        &[
                            "pull",
                            &f.image,
                            "--policy",
                            "Always",
                            "--secret",
                            f.right.to_str().unwrap(),
                            "-o",
                            "json",
                        ],
                    );
                    assert_eq!(
                        warm.code, 0,
                        "{case}: warm-up pull: {}{}",
                        warm.stdout, warm.stderr
                    );
                    copy_dir(&root_pull, &root_pod);
                }
                let secrets: Vec<&Path> = match which {
                    "right" => vec![&f.right],
                    "wrong" => vec![&f.wrong],
                    _ => vec![],
                };
                let mut pull_args =
                    vec!["pull", f.image.as_str(), "--policy", policy, "-o", "json"];
                for s in &secrets {
                    pull_args.push("--secret");
                    pull_args.push(s.to_str().unwrap());
                }
                let names: Vec<&str> = match which {
                    "none" => vec![],
                    w => vec![w],
                };
                let pod = pod_yaml(&base, "app", &f.image, policy, &names);
                let mut pod_args = vec!["pod", "run", pod.to_str().unwrap(), "-o", "json"];
                for s in &secrets {
                    pod_args.push("--secret");
                    pod_args.push(s.to_str().unwrap());
                }
                let by_pull = pullsim(&root_pull, &pull_args);
                let by_pod = pullsim(&root_pod, &pod_args);
                if by_pull.events() != by_pod.events() || by_pull.code != by_pod.code {
                    mismatches.push(format!(
                        "{case}:\n  pull (exit {}): {:?}\n  pod run (exit {}): {:?}\n  stderr: {}{}",
                        by_pull.code,
                        by_pull.events(),
                        by_pod.code,
                        by_pod.events(),
                        by_pull.stderr,
                        by_pod.stderr
                    ));
                }
                assert!(
                    !by_pull.events().is_empty(),
                    "{case}: no events: {}",
                    by_pull.stderr
                );
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// `creds check` says pullable exactly when an `Always` pod with the same secrets gets its image
/// ready (the blobs are intact, so getting past authentication and manifest resolution is
/// getting the image).
#[test]
fn creds_check_agrees_with_an_always_pod() {
    let reg = shared(Mode::Htpasswd);
    let f = fixture(reg, "engine/creds", 102);
    let missing = format!("{}/engine/creds:no-such-tag", reg.host);
    for image in [f.image.as_str(), missing.as_str()] {
        for which in ["right", "wrong", "none"] {
            let case = format!("{image} with {which}");
            let base = f.dir.path().join(format!("creds-{which}-{}", image.len()));
            std::fs::create_dir_all(&base).unwrap();
            let secrets: Vec<&Path> = match which {
                "right" => vec![&f.right],
                "wrong" => vec![&f.wrong],
                _ => vec![],
            };
            let mut check_args = vec!["creds", "check", image, "-o", "json"];
            for s in &secrets {
                check_args.push("--secret");
                check_args.push(s.to_str().unwrap());
            }
            let check = pullsim(&base.join("check-root"), &check_args);
            let results = check.of_kind("result");
            assert_eq!(results.len(), 1, "{case}: {}{}", check.stdout, check.stderr);
            let pullable = results[0]["pullable"].as_bool().unwrap();
            assert_eq!(check.code, if pullable { 0 } else { 1 }, "{case}");
            assert!(
                !check.of_kind("attempt").is_empty(),
                "{case}: no attempt lines: {}",
                check.stdout
            );

            let names: Vec<&str> = match which {
                "none" => vec![],
                w => vec![w],
            };
            let pod = pod_yaml(&base, "always", image, "Always", &names);
            let mut pod_args = vec!["pod", "run", pod.to_str().unwrap(), "-o", "json"];
            for s in &secrets {
                pod_args.push("--secret");
                pod_args.push(s.to_str().unwrap());
            }
            let run = pullsim(&base.join("pod-root"), &pod_args);
            let ready = run
                .of_kind("container")
                .iter()
                .all(|c| c["state"] == "ready");
            assert_eq!(
                pullable, ready,
                "{case}: creds check says pullable={pullable}, the pod's image ready={ready}\n{}\n{}",
                check.stdout, run.stdout
            );
            // The failure text is the one the pod's Failed event carries.
            if !pullable {
                let failed: Vec<String> = run
                    .events()
                    .into_iter()
                    .filter(|(_, r, m)| r == "Failed" && m.starts_with("Failed to pull image"))
                    .map(|(_, _, m)| m)
                    .collect();
                assert_eq!(
                    failed.first().map(String::as_str),
                    results[0]["message"].as_str(),
                    "{case}"
                );
            }
        }
    }
}

/// `images gc` and `pod run --capacity` run one image GC routine: on copies of the same store
/// they remove the same images.
#[test]
fn images_gc_and_pod_run_capacity_remove_the_same_images() {
    let reg = shared(Mode::Htpasswd);
    let f = fixture(reg, "engine/gc-a", 103);
    push(reg, "engine/gc-b:v1", 104);
    push(reg, "engine/gc-c:v1", 105);
    let seed_root = f.dir.path().join("seed");
    let images: Vec<String> = ["engine/gc-a", "engine/gc-b", "engine/gc-c"]
        .iter()
        .map(|r| format!("{}/{r}:v1", reg.host))
        .collect();
    for img in &images {
        let o = pullsim(
            &seed_root,
            &[
                "pull",
                img,
                "--secret",
                f.right.to_str().unwrap(),
                "-o",
                "json",
            ],
        );
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    }
    let used: u64 = pullsim(&seed_root, &["images", "du", "-o", "json"])
        .lines()
        .iter()
        .find_map(|l| l["blob_bytes"].as_u64())
        .expect("images du -o json has blob_bytes");
    // A capacity at which GC (85 % high, 80 % low) has to delete some but not all images.
    let capacity = (used * 100 / 90).to_string();
    let (a, b) = (f.dir.path().join("gc-a"), f.dir.path().join("gc-b"));
    copy_dir(&seed_root, &a);
    copy_dir(&seed_root, &b);

    let gc = pullsim(
        &a,
        &[
            "images",
            "gc",
            "--capacity",
            &capacity,
            "--min-age",
            "0s",
            "--in-use",
            &images[0],
        ],
    );
    assert_eq!(gc.code, 0, "{}{}", gc.stdout, gc.stderr);
    let pod = pod_yaml(
        f.dir.path(),
        "uses-a",
        &images[0],
        "IfNotPresent",
        &["right"],
    );
    let run = pullsim(
        &b,
        &[
            "pod",
            "run",
            pod.to_str().unwrap(),
            "--secret",
            f.right.to_str().unwrap(),
            "--capacity",
            &capacity,
            "--image-minimum-gc-age",
            "0s",
            "-o",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let left = |root: &Path| {
        let mut ids: Vec<String> = pullsim(root, &["images", "ls", "-q"])
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    };
    let (after_gc, after_run) = (left(&a), left(&b));
    assert_eq!(after_gc, after_run);
    let before = left(&seed_root);
    assert!(
        after_gc.len() < before.len() && !after_gc.is_empty(),
        "GC should delete some but not all: before {before:?}, after {after_gc:?}"
    );
}
