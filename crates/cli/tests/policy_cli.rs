//! `pullsim policy` run as a real binary: the full policy × presence × verification table and
//! the kubelet's event messages, byte for byte, from testdata/golden/events-decide.txt (written
//! by hand from the format strings in pkg/kubelet/images/image_manager.go), plus usage errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pullsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .output()
        .expect("run pullsim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/events-decide.txt")
}

/// Every `$ [EXIT] ARGS` line of the golden file is run; stdout must equal the next line plus a
/// newline and the exit code must match.
#[test]
fn golden_decide_table() {
    let text = std::fs::read_to_string(golden_path()).unwrap();
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let mut cases = 0;
    while let Some(cmd) = lines.next() {
        let rest = cmd.strip_prefix("$ [").expect("command line");
        let (code, args) = rest.split_once("] ").unwrap();
        let want_code: i32 = code.parse().unwrap();
        let want = lines.next().expect("expected output line");
        let args: Vec<&str> = args.split(' ').collect();
        let out = pullsim(&args);
        assert_eq!(
            out.status.code(),
            Some(want_code),
            "{cmd}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = stdout(&out);
        // JSON lines start with their kind; the golden lines predate it.
        let got = match got.strip_prefix("{\"kind\":\"decision\",") {
            Some(rest) => format!("{{{rest}"),
            None => {
                assert!(!want.starts_with('{'), "{cmd}: no kind in {got}");
                got
            }
        };
        assert_eq!(got, format!("{want}\n"), "{cmd}");
        cases += 1;
    }
    assert!(cases >= 38, "only {cases} golden cases");
}

/// The JSON object has exactly the contract's fields, in order.
#[test]
fn json_fields_exactly() {
    let out = pullsim(&["policy", "decide", "-o", "json", "--absent", "nginx:1.25"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "kind",
            "decision",
            "reason",
            "event_type",
            "event_reason",
            "message"
        ]
    );
    assert_eq!(v["decision"], "pull");
    assert_eq!(v["reason"], serde_json::Value::Null);
}

/// Go %q in messages: a tab is `\t` inside the quoted image.
#[test]
fn go_quoting_in_messages() {
    let out = pullsim(&["policy", "decide", "-o", "json", "--absent", "a\tb"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        v["message"],
        "Failed to apply default image tag \"a\\tb\": couldn't parse image name \"a\\tb\": invalid reference format"
    );
}

#[test]
fn text_output_says_when_the_policy_is_defaulted() {
    let out = pullsim(&["policy", "decide", "--present", "nginx"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(
            "Policy:    Always (defaulted: no tag and no digest, so the tag is \"latest\")"
        ),
        "{text}"
    );
    assert!(text.contains("Decision:  pull"), "{text}");
    assert!(
        text.contains("Event:     Normal  Pulling  Pulling image \"nginx\""),
        "{text}"
    );

    let out = pullsim(&[
        "policy",
        "decide",
        "--policy",
        "Never",
        "--present",
        "--verified",
        "no",
        "app:1",
    ]);
    let text = stdout(&out);
    assert!(text.contains("Policy:    Never\n"), "{text}");
    assert!(text.contains("Reason:    ErrImageNeverPull"), "{text}");
    assert!(
        text.contains(
            "Warning  ErrImageNeverPull  Container image \"app:1\" is not present with pull policy of Never"
        ),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["policy", "decide", "nginx"],
        &["policy", "decide", "--present", "--absent", "nginx"],
        &[
            "policy", "decide", "--policy", "always", "--absent", "nginx",
        ],
        &[
            "policy",
            "decide",
            "--absent",
            "--verified",
            "maybe",
            "nginx",
        ],
        &["policy", "decide", "--absent"],
        &[
            "policy",
            "decide",
            "--ensure-secret-pulled-images",
            "false",
            "--present",
            "--verified",
            "no",
            "nginx",
        ],
        &["policy", "backoff", "--failures", "0"],
        &["policy", "default"],
        &["policy"],
    ];
    for args in cases {
        let out = pullsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn default_subcommand() {
    let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let digest = format!("nginx@{d}");
    let out = pullsim(&[
        "policy",
        "default",
        "-o",
        "json",
        "nginx",
        "nginx:1.25",
        &digest,
        "Nginx",
        "nginx:Latest",
    ]);
    assert!(out.status.success());
    let policies: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["default_pull_policy"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        policies,
        [
            "Always",
            "IfNotPresent",
            "IfNotPresent",
            "IfNotPresent",
            "IfNotPresent"
        ]
    );
}

#[test]
fn backoff_subcommand() {
    let out = pullsim(&["policy", "backoff", "--failures", "7", "-o", "json"]);
    assert!(out.status.success());
    let secs: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["backoff_seconds"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300]);
    let out = pullsim(&["policy", "backoff", "--failures", "3"]);
    let text = stdout(&out);
    assert!(text.contains("3         40s        +1m10s"), "{text}");
}
