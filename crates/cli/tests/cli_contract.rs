//! The contract every command keeps (README "Exit codes" and "JSON lines"):
//!
//! - a closed stdout (`pullsim images ls | head -1`) ends the command quietly with exit 0;
//! - every JSON line parses and carries a known `kind`, the one its command documents;
//! - exit 0 for a yes, 1 for a no, 2 for trouble;
//! - `--config FILE` (a KubeletConfiguration) with the v1beta1 defaults, flags over it, and the
//!   kubelet's validation messages (pkg/kubelet/apis/config/validation/validation.go).
//!
//! Every command runs as the real binary on a temporary store; pulls and credential checks go to
//! the real registry started by pullsim-testsupport.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pullsim_testsupport::image::{ImageSpec, generate};
use pullsim_testsupport::{Mode, shared};
use serde_json::Value;

/// The kinds the README documents as stable.
const KINDS: &[&str] = &[
    "event",
    "container",
    "hint",
    "attempt",
    "result",
    "image",
    "explain",
    "gc",
    "ref",
    "decision",
    "default_policy",
    "backoff",
    "finding",
    "secret_entry",
    "credential",
    "credential_miss",
    "removed",
    "pin",
    "verify",
    "disk_usage",
    "loaded",
    "saved",
    "runtime_log",
    "unpack",
];

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A store holding nginx:v1 and nginx:v2 (preloaded), a pod using nginx:v1, a pull secret.
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { dir };
        let lay = env.path("layout");
        generate(&lay, &ImageSpec::simple("v1", 2, 3000, 71)).unwrap();
        generate(&lay, &ImageSpec::simple("v2", 1, 2000, 72)).unwrap();
        let out = env.run(&["images", "load", "--name", "nginx", lay.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        env.write(
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers: [{name: app, image: \"nginx:v1\"}]\n",
        );
        env.write(
            "never.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: never, namespace: default}\nspec:\n  containers: [{name: app, image: \"nginx:absent\", imagePullPolicy: Never}]\n",
        );
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn write(&self, name: &str, body: &str) -> String {
        std::fs::write(self.path(name), body).unwrap();
        self.p(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pullsim"));
        c.arg("--root")
            .arg(self.path("root"))
            .args(args)
            .env_remove("PULLSIM_ROOT")
            .current_dir(self.dir.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run with stdout a pipe whose read end is already closed: the first write gets EPIPE.
    fn run_closed(&self, args: &[&str]) -> Output {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = self
            .cmd(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn testdata(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
        .display()
        .to_string()
}

fn anon_secret(env: &Env) -> String {
    env.write(
        "hub.json",
        r#"{"auths":{"registry.example":{"username":"u","password":"p"}}}"#,
    )
}

/// Every printing command, in text and in JSON where it has JSON.
fn printing_commands(env: &Env) -> Vec<Vec<String>> {
    let secret = anon_secret(env);
    // A faulty secret: lint prints findings in text and JSON.
    let lint = testdata("secrets/lint/auth-no-colon.yaml");
    let decode = testdata("secrets/decode/list.json");
    let pod = env.p("pod.yaml");
    let mut all: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["ref", "nginx", "quay.io/a/b:c"],
        vec!["policy", "decide", "--absent", "nginx:1.25"],
        vec!["policy", "default", "nginx", "nginx:1"],
        vec!["policy", "backoff", "--failures", "8"],
        vec!["images", "ls"],
        vec!["images", "ls", "-q"],
        vec!["images", "inspect", "nginx:v1"],
        vec!["images", "du"],
        vec!["images", "verify"],
        vec!["images", "gc", "--capacity", "1", "--dry-run"],
        vec!["images", "pin", "nginx:v1"],
        vec!["secret", "lint", &lint],
        vec!["secret", "decode", &decode],
        vec![
            "creds",
            "match",
            "registry.example/app",
            "--secret",
            &secret,
        ],
        vec![
            "creds",
            "check",
            "registry.example/app",
            "--secret",
            &secret,
            "--offline",
        ],
        vec!["pull", "nginx:v1", "--offline"],
        vec!["pod", "run", &pod, "--offline"],
        vec!["pod", "explain", &pod],
    ];
    let json: Vec<Vec<&str>> = all
        .iter()
        .filter(|a| a[0] != "--help")
        .map(|a| {
            let mut a = a.clone();
            a.extend(["-o", "json"]);
            a
        })
        .collect();
    all.extend(json);
    all.push(vec![
        "secret",
        "create",
        "docker-registry",
        "s",
        "--docker-username=u",
        "--docker-password=p",
        "-o",
        "yaml",
    ]);
    all.into_iter()
        .map(|a| a.into_iter().map(String::from).collect())
        .collect()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_exit_0() {
    let env = Env::new();
    let cmds = printing_commands(&env);
    assert!(cmds.len() > 35);
    for args in &cmds {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The command does print something when stdout is open.
        let open = env.run(&args);
        assert!(!open.stdout.is_empty(), "{args:?} prints nothing");
        let out = env.run_closed(&args);
        // Quietly: nothing on stderr but the line naming the node's store.
        let stderr = text(&out.stderr);
        let noise: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("pullsim: node store "))
            .collect();
        assert_eq!((out.status.code(), noise), (Some(0), vec![]), "{args:?}");
    }
}

/// Lines of `-o json` output: each parses, has a documented kind, and is one of `want`.
fn json_kinds(env: &Env, args: &[&str], want: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = env.run(&all);
    let stdout = text(&out.stdout);
    assert!(
        !stdout.is_empty(),
        "{args:?}: no output; {}",
        text(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {e}: {l}")))
        .collect();
    for v in &lines {
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{args:?}: no kind: {v}"));
        assert!(KINDS.contains(&kind), "{args:?}: unknown kind {kind}");
        assert!(
            want.contains(&kind),
            "{args:?}: kind {kind}, expected {want:?}"
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "kind", "{args:?}: kind first");
        for k in keys {
            assert!(
                !k.chars().any(|c| c.is_ascii_uppercase()),
                "{args:?}: key {k} is not snake_case"
            );
        }
    }
    lines
}

#[test]
fn every_json_line_has_a_known_kind() {
    let env = Env::new();
    let reg = shared(Mode::Anonymous);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1500, 73), "contract/app:v1")
        .unwrap();
    let remote = reg.reference("contract/app:v1");
    let secret = anon_secret(&env);
    let pod = env.p("pod.yaml");
    let never = env.p("never.yaml");
    let lay = env.p("layout");
    let lint_bad = testdata("secrets/lint/auth-no-colon.yaml");
    let decode = testdata("secrets/decode/list.json");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["ref", "nginx", "Nginx"], &["ref"]),
        (
            vec!["policy", "decide", "--absent", "nginx:1"],
            &["decision"],
        ),
        (vec!["policy", "default", "nginx"], &["default_policy"]),
        (vec!["policy", "backoff"], &["backoff"]),
        (vec!["images", "ls"], &["image"]),
        (vec!["images", "inspect", "nginx:v1"], &["image"]),
        (vec!["images", "du"], &["disk_usage"]),
        (vec!["images", "verify"], &["verify"]),
        (
            vec!["images", "gc", "--capacity", "1", "--dry-run"],
            &["gc"],
        ),
        (vec!["images", "pin", "nginx:v1"], &["pin"]),
        (vec!["images", "unpin", "nginx:v1"], &["pin"]),
        (vec!["images", "load", "--name", "nginx", &lay], &["loaded"]),
        (vec!["secret", "lint", &lint_bad], &["finding"]),
        (vec!["secret", "decode", &decode], &["secret_entry"]),
        (
            vec![
                "creds",
                "match",
                "registry.example/app",
                "--secret",
                &secret,
                "--explain",
            ],
            &["credential"],
        ),
        (
            vec![
                "creds",
                "match",
                "other.example/app",
                "--secret",
                &secret,
                "--explain",
            ],
            &["credential_miss"],
        ),
        (vec!["creds", "check", &remote], &["attempt", "result"]),
        (vec!["creds", "check", "BAD//x"], &["result"]),
        (vec!["pull", &remote], &["event", "container", "unpack"]),
        (vec!["pull", "nginx:v1"], &["event", "container"]),
        (
            vec!["pod", "run", &pod, &never, "--offline", "--capacity", "1"],
            // The hint: nginx:absent is not on the node, nginx:v1 is (near-match-name).
            &["event", "container", "gc", "hint"],
        ),
        (vec!["pod", "explain", &pod, &never], &["explain"]),
    ];
    for (args, want) in &cases {
        let lines = json_kinds(&env, args, want);
        for w in *want {
            assert!(
                lines.iter().any(|v| v["kind"] == *w),
                "{args:?}: no {w} line"
            );
        }
    }
    // The kinds' own fields the README promises.
    let run = json_kinds(
        &env,
        &["pod", "run", &pod, "--offline"],
        &["event", "container"],
    );
    let st: Vec<&Value> = run.iter().filter(|v| v["kind"] == "container").collect();
    assert_eq!(st[0]["container_type"], "container");
    let check = json_kinds(&env, &["creds", "check", &remote], &["attempt", "result"]);
    let attempt = &check[0];
    for key in ["scheme", "token", "error", "outcome", "source"] {
        assert!(attempt.get(key).is_some(), "attempt lacks {key}: {attempt}");
    }
    assert_eq!(check.last().unwrap()["pullable"], true);
    let rm = json_kinds(&env, &["images", "rm", "nginx:v2"], &["removed"]);
    assert_eq!(rm[0]["deleted"][0], "docker.io/library/nginx:v2");
    let save = env.run(&[
        "images",
        "save",
        "nginx:v1",
        "-o",
        &env.p("s.tar"),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&save.stdout).unwrap();
    assert_eq!(v["kind"], "saved");
}

#[test]
fn exit_codes_yes_no_trouble() {
    let env = Env::new();
    let reg = shared(Mode::Anonymous);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1500, 74), "contract/exit:v1")
        .unwrap();
    let remote = reg.reference("contract/exit:v1");
    let missing = env.p("no-such-file.yaml");
    let pod = env.p("pod.yaml");
    let never = env.p("never.yaml");
    let bad_config = env.write(
        "bad-kubelet.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nregistryPullQPS: -1\n",
    );
    let clean = testdata("secrets/lint/clean-kubectl.yaml");
    let faulty = testdata("secrets/lint/auth-no-colon.yaml");
    let decode = testdata("secrets/decode/list.json");
    // (args, exit code): a yes, a no (where the command has a negative answer), a trouble.
    let table: Vec<(Vec<&str>, i32)> = vec![
        (vec!["ref", "nginx"], 0),
        (vec!["ref", "Nginx"], 1),
        (vec!["ref"], 2),
        (vec!["policy", "decide", "--absent", "nginx:1"], 0),
        (vec!["policy", "decide", "--absent", "a b"], 1),
        (
            vec![
                "policy",
                "decide",
                "--present",
                "--verified",
                "no",
                "--ensure-secret-pulled-images",
                "false",
                "x",
            ],
            2,
        ),
        (vec!["policy", "default", "nginx"], 0),
        (vec!["policy", "backoff", "--failures", "0"], 2),
        (vec!["images", "ls"], 0),
        (vec!["images", "inspect", "nginx:v1"], 0),
        (vec!["images", "inspect", "nginx:nope"], 2),
        (vec!["images", "verify"], 0),
        (vec!["images", "gc", "--capacity", "1G"], 0),
        (vec!["images", "gc", "--capacity", "0"], 2),
        (vec!["images", "load", &missing], 2),
        (vec!["secret", "lint", &clean], 0),
        (vec!["secret", "lint", &faulty], 1),
        (vec!["secret", "lint", &missing], 2),
        (vec!["secret", "decode", &decode], 0),
        (vec!["secret", "decode", &missing], 2),
        (
            vec![
                "secret",
                "create",
                "docker-registry",
                "s",
                "--docker-username=u",
                "--docker-password=p",
            ],
            0,
        ),
        (vec!["secret", "create", "generic", "s"], 2),
        (vec!["creds", "match", "nginx"], 0),
        (vec!["creds", "match", "Nginx"], 2),
        (vec!["creds", "check", &remote], 0),
        (vec!["creds", "check", &remote, "--offline"], 1),
        (vec!["creds", "check", "BAD//x"], 1),
        (vec!["creds", "check", &remote, "--secret", &missing], 2),
        (vec!["creds", "check", &remote, "--config", &bad_config], 2),
        (vec!["pull", &remote], 0),
        (vec!["pull", "nginx:absent", "--policy", "Never"], 1),
        (vec!["pull", "BAD//x"], 1),
        (vec!["pull", &remote, "--config", &bad_config], 2),
        (vec!["pull", &remote, "--policy", "Sometimes"], 2),
        (vec!["pod", "run", &pod, "--offline"], 0),
        (vec!["pod", "run", &never, "--offline"], 1),
        (vec!["pod", "run", &missing], 2),
        (vec!["pod", "run", &pod, "--config", &bad_config], 2),
        (vec!["pod", "explain", &pod], 0),
        (vec!["pod", "explain", &pod, "--config", &bad_config], 2),
        (vec!["pod", "explain", &missing], 2),
        (vec!["no-such-command"], 2),
    ];
    for (args, want) in &table {
        let out = env.run(args);
        assert_eq!(
            out.status.code(),
            Some(*want),
            "{args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    }
    // A damaged store is trouble too.
    let blobs = env.path("root/blobs/sha256");
    let blob = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, b"not the blob").unwrap();
    assert_eq!(
        env.run(&["images", "verify"]).status.code(),
        Some(1),
        "verify: problems"
    );
}

/// `--config`: defaults, flags over the file, the kubelet's messages (exit 2). The kubelet's
/// order is cmd/kubelet/app/server.go: file, defaults, then the flags; featureGates merged key
/// by key.
#[test]
fn kubelet_config_file_defaults_overrides_and_validation() {
    let env = Env::new();
    let pod = env.p("pod.yaml");
    let message = |out: &Output| -> String {
        let v: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        v.iter()
            .find(|e| e["kind"] == "event" && e["reason"] == "Pulled")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{}{}", text(&out.stdout), text(&out.stderr)))
    };
    // Default: KubeletEnsureSecretPulledImages on, a preloaded image may be used.
    let out = env.run(&["pod", "run", &pod, "--offline", "-o", "json"]);
    assert_eq!(
        message(&out),
        "Container image \"nginx:v1\" already present on machine and can be accessed by the pod"
    );
    // The gate off in the file; unknown fields are ignored.
    let off = env.write(
        "off.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfeatureGates:\n  KubeletEnsureSecretPulledImages: false\ncgroupDriver: systemd\nimageMinimumGCAge: 0s\n",
    );
    let out = env.run(&[
        "pod",
        "run",
        &pod,
        "--offline",
        "-o",
        "json",
        "--config",
        &off,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        message(&out),
        "Container image \"nginx:v1\" already present on machine"
    );
    // --feature-gates wins key by key over the file.
    let out = env.run(&[
        "pod",
        "run",
        &pod,
        "--offline",
        "-o",
        "json",
        "--config",
        &off,
        "--feature-gates",
        "KubeletEnsureSecretPulledImages=true",
    ]);
    assert!(message(&out).ends_with("and can be accessed by the pod"));
    // imageMinimumGCAge: 0s in a file is "unset": the 2m default keeps the just-loaded nginx:v2;
    // the flag set to 0 is 0, and image GC deletes it.
    let gc = |extra: &[&str]| -> Value {
        let mut args = vec![
            "pod",
            "run",
            &pod,
            "--offline",
            "-o",
            "json",
            "--config",
            &off,
            "--capacity",
            "1",
        ];
        args.extend(extra);
        let out = env.run(&args);
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["kind"] == "gc")
            .unwrap_or_else(|| panic!("no gc line: {}", text(&out.stderr)))
    };
    assert_eq!(gc(&[])["deleted_image_ids"].as_array().unwrap().len(), 0);
    let v = gc(&["--image-minimum-gc-age", "0s"]);
    assert_eq!(
        v["deleted"],
        serde_json::json!(["docker.io/library/nginx:v2"]),
        "{v}"
    );

    // The kubelet's messages, exit 2, before anything runs.
    for (body, flags, want) in [
        (
            "imageGCHighThresholdPercent: 101\n",
            vec![],
            "invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive",
        ),
        (
            "registryPullQPS: 3\n",
            vec!["--registry-qps", "-1"],
            "invalid configuration: registryPullQPS (--registry-qps) -1 must not be a negative number",
        ),
        (
            "maxParallelImagePulls: 0\n",
            vec![],
            "invalid configuration: maxParallelImagePulls 0 must be a positive number",
        ),
        (
            "serializeImagePulls: true\nmaxParallelImagePulls: 4\n",
            vec![],
            "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false",
        ),
        (
            "featureGates: {NoSuchGate: true}\n",
            vec![],
            "unrecognized feature gate: NoSuchGate",
        ),
    ] {
        let cfg = env.write(
            "k.yaml",
            &format!(
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n{body}"
            ),
        );
        let mut args = vec!["pod", "run", &pod, "--offline", "--config", &cfg];
        args.extend(flags.iter().copied());
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{body}");
        assert_eq!(text(&out.stderr).trim(), format!("error: {want}"), "{body}");
        assert!(out.stdout.is_empty(), "{body}");
    }
    let out = env.run(&[
        "pod",
        "run",
        &pod,
        "--feature-gates",
        "KubeletEnsureSecretPulledImages",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: invalid argument \"KubeletEnsureSecretPulledImages\" for \"--feature-gates\" flag: missing bool value for KubeletEnsureSecretPulledImages"
    );
    // Wrong kind or apiVersion: named, with what is expected.
    let wrong = env.write(
        "wrong.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n",
    );
    let out = env.run(&["pull", "nginx:v1", "--offline", "--config", &wrong]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("\"KubeProxyConfiguration\"") && err.contains("\"KubeletConfiguration\""),
        "{err}"
    );
}
