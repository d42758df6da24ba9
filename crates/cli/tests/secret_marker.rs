//! No password, token or `auth` value in any output: every command runs on fixtures whose
//! credentials are a unique marker (testdata/secrets/marker/), in text and JSON, on success and
//! on failure, and the marker must never appear on stdout or stderr. A control run
//! (`secret decode --show-secrets`) proves the check can see the marker when it is printed.

use std::path::{Path, PathBuf};
use std::process::Command;

const MARKER: &str = "PULLSIM-MARKER-PASSWORD-7f3a";

fn fixture(name: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/secrets/marker")
        .join(name);
    p.to_string_lossy().into_owned()
}

fn plugins() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/plugins")
        .to_string_lossy()
        .into_owned()
}

fn output(args: &[String]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .output()
        .unwrap();
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (all, out.status.code().unwrap_or(-1))
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn marker_never_printed() {
    let secret = fixture("marker-secret.yaml");
    let not_b64 = fixture("marker-not-base64.yaml");
    let mismatch = fixture("marker-mismatch.yaml");
    let nocolon = fixture("marker-auth-no-colon.json");
    let node = fixture("marker-node-config.json");
    let provider = fixture("marker-provider-config.yaml");
    let pw = format!("--docker-password={MARKER}");
    let mut runs: Vec<Vec<String>> = Vec::new();
    // create: every output format, and failures.
    for o in [
        &[][..],
        &["-o", "json"][..],
        &["-o", "yaml"][..],
        &["-o", "name"][..],
    ] {
        let mut a = s(&[
            "secret",
            "create",
            "docker-registry",
            "m",
            "--docker-username=u",
            &pw,
            "--dry-run=client",
        ]);
        a.extend(s(o));
        runs.push(a.clone());
        a.push("--append-hash".into());
        runs.push(a);
    }
    runs.push(s(&[
        "secret",
        "create",
        "docker-registry",
        "m",
        &pw,
        "--dry-run=client",
    ]));
    runs.push(s(&[
        "secret",
        "create",
        "docker-registry",
        &pw,
        "--dry-run=client",
    ]));
    runs.push(s(&[
        "secret",
        "create",
        "docker-registry",
        "m",
        "--docker-username=u",
        &pw,
        "--bogus",
    ]));
    runs.push(s(&[
        "secret",
        "create",
        "docker-registry",
        "m",
        "--docker-username=u",
        &pw,
        "-o",
        "wide",
    ]));
    runs.push(s(&[
        "secret",
        "create",
        "docker-registry",
        "m",
        "--docker-username=u",
        &pw,
        "--dry-run=server",
    ]));
    // lint, decode, creds match: text and JSON, clean and faulty fixtures.
    for f in [&secret, &not_b64, &mismatch, &nocolon, &node] {
        for o in ["text", "json"] {
            runs.push(s(&["secret", "lint", f, "-o", o]));
            runs.push(s(&["secret", "decode", f, "-o", o]));
            for image in ["registry.example.com/app:1", "nginx", "other.io/x"] {
                runs.push(s(&["creds", "match", image, "--secret", f, "-o", o]));
                runs.push(s(&[
                    "creds",
                    "match",
                    image,
                    "--secret",
                    f,
                    "--explain",
                    "-o",
                    o,
                ]));
            }
        }
    }
    for o in ["text", "json"] {
        runs.push(s(&[
            "creds",
            "match",
            "registry.example.com/app",
            "--node-config",
            &node,
            "--explain",
            "-o",
            o,
        ]));
        runs.push(s(&[
            "creds",
            "match",
            "a.example.com/app",
            "--secret",
            &secret,
            "--node-config",
            &node,
            "--provider-config",
            &provider,
            "--provider-bin-dir",
            &plugins(),
            "--explain",
            "-o",
            o,
        ]));
    }
    let mut failures = Vec::new();
    for args in &runs {
        let (all, _) = output(args);
        if all.contains(MARKER) {
            failures.push(format!("{args:?} printed the marker:\n{all}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(runs.len() > 60);
}

#[test]
fn control_show_secrets_prints_the_marker() {
    let (all, code) = output(&s(&[
        "secret",
        "decode",
        &fixture("marker-secret.yaml"),
        "--show-secrets",
    ]));
    assert_eq!(code, 0);
    assert!(
        all.contains(MARKER),
        "the marker check must be able to see a printed password"
    );
    let (all, _) = output(&s(&[
        "secret",
        "decode",
        &fixture("marker-secret.yaml"),
        "--show-secrets",
        "-o",
        "json",
    ]));
    assert!(all.contains(MARKER));
}
