//! pullsim never contacts a cluster: `secret create` without --dry-run prints what
//! `--dry-run=client` prints; `--dry-run=none|server|false` are refused (exit 1, as kubectl
//! fails without a cluster); bare `--dry-run` and `--dry-run=true` warn as kubectl does.

use std::process::Command;

fn create(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args([
            "secret",
            "create",
            "docker-registry",
            "s1",
            "--docker-username=u",
            "--docker-password=p",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn dry_run_modes() {
    let (client, _, code) = create(&["--dry-run=client", "-o", "yaml"]);
    assert_eq!(code, 0);
    let (absent, err, code) = create(&["-o", "yaml"]);
    assert_eq!(
        (absent.as_str(), err.as_str(), code),
        (client.as_str(), "", 0)
    );
    assert_eq!(create(&[]).0, "secret/s1 created (dry run)\n");
    for mode in ["none", "server", "false"] {
        let (out, err, code) = create(&[&format!("--dry-run={mode}")]);
        assert_eq!((out.as_str(), code), ("", 2), "{mode}");
        assert!(
            err.starts_with("error: pullsim never contacts a cluster"),
            "{err}"
        );
    }
    let (out, err, code) = create(&["--dry-run", "-o", "yaml"]);
    assert_eq!((out.as_str(), code), (client.as_str(), 0));
    assert!(
        err.contains("--dry-run is deprecated and can be replaced with --dry-run=client."),
        "{err}"
    );
    let (out, err, code) = create(&["--dry-run=true", "-o", "yaml"]);
    assert_eq!((out.as_str(), code), (client.as_str(), 0));
    assert!(
        err.contains("--dry-run=true is deprecated (boolean value)"),
        "{err}"
    );
}

#[test]
fn help_and_other_kinds() {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["secret", "create", "docker-registry", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("--docker-server='https://index.docker.io/v1/'")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["secret", "create", "generic", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("docker-registry secrets only"));
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["secret", "create"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing the secret kind"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args([
            "secret",
            "create",
            "docker-registry",
            "s",
            "--docker-username=u",
            "--docker-password=p",
            "-o",
            "jsonpath={.a}",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("pullsim supports -o json, yaml and name only")
    );
}
