//! `pullsim secret lint`: one fixture per fault in testdata/secrets/lint/, each reported with
//! its location and severity; kubectl's own output passes clean; exit 0 / 1 / 2.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/secrets/lint")
        .join(name)
}

fn lint_json(name: &str) -> (Vec<serde_json::Value>, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["secret", "lint", "-o", "json"])
        .arg(fixture(name))
        .output()
        .unwrap();
    let findings = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (findings, out.status.code().unwrap())
}

/// (fixture, code, severity, secret, data key, registry)
type LintCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn each_fault_in_its_own_fixture() {
    // (fixture, code, severity, secret, data key, registry)
    let cases: &[LintCase] = &[
        (
            "wrong-secret-type.yaml",
            "wrong-secret-type",
            "error",
            Some("team/opaque"),
            None,
            None,
        ),
        (
            "wrong-key-for-type.yaml",
            "wrong-key-for-type",
            "error",
            Some("team/wrongkey"),
            Some(".dockercfg"),
            None,
        ),
        (
            "dockercfg-under-dockerconfigjson.yaml",
            "dockercfg-under-dockerconfigjson",
            "error",
            Some("team/legacy"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "dockerconfigjson-under-dockercfg.yaml",
            "dockerconfigjson-under-dockercfg",
            "error",
            Some("team/wrapped"),
            Some(".dockercfg"),
            None,
        ),
        (
            "missing-auths.yaml",
            "missing-auths",
            "error",
            Some("team/noauths"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "data-not-base64.yaml",
            "data-not-base64",
            "error",
            Some("team/plain"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "double-base64.yaml",
            "double-base64",
            "error",
            Some("team/twice"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "cred-helpers.yaml",
            "credential-helper-in-config",
            "error",
            Some("team/credhelpers"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "auth-not-base64.yaml",
            "auth-not-base64",
            "error",
            Some("team/badauth"),
            Some(".dockerconfigjson"),
            Some("registry.example.com"),
        ),
        (
            "auth-no-colon.yaml",
            "auth-no-colon",
            "error",
            Some("team/nocolon"),
            Some(".dockerconfigjson"),
            Some("registry.example.com"),
        ),
        (
            "auth-trailing-newline.yaml",
            "auth-trailing-newline",
            "error",
            Some("team/authnl"),
            Some(".dockerconfigjson"),
            Some("registry.example.com"),
        ),
        (
            "auth-mismatch.yaml",
            "auth-mismatch",
            "warning",
            Some("team/mismatch"),
            Some(".dockerconfigjson"),
            Some("registry.example.com"),
        ),
        (
            "docker-hub-key.yaml",
            "docker-hub-key-never-matches",
            "error",
            Some("team/hub"),
            Some(".dockerconfigjson"),
            Some("registry-1.docker.io"),
        ),
        (
            "empty-secret.yaml",
            "empty-secret",
            "error",
            Some("team/empty"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "invalid-json.yaml",
            "invalid-json",
            "error",
            Some("team/badjson"),
            Some(".dockerconfigjson"),
            None,
        ),
        (
            "bad-registry-key.yaml",
            "bad-registry-key",
            "error",
            Some("team/badkey"),
            Some(".dockerconfigjson"),
            Some("registry.example.com:port"),
        ),
        (
            "identitytoken-only.yaml",
            "no-credentials",
            "warning",
            Some("team/token"),
            Some(".dockerconfigjson"),
            Some("registry.example.com"),
        ),
    ];
    for (file, code, severity, secret, key, registry) in cases {
        let (findings, exit) = lint_json(file);
        assert_eq!(
            findings.len(),
            1,
            "{file}: exactly one finding expected, got {findings:?}"
        );
        let f = &findings[0];
        assert_eq!(f["code"], *code, "{file}");
        assert_eq!(f["severity"], *severity, "{file}");
        assert!(f["file"].as_str().unwrap().ends_with(file), "{file}");
        assert_eq!(f["secret"].as_str(), *secret, "{file}");
        assert_eq!(f["key"].as_str(), *key, "{file}");
        assert_eq!(f["registry"].as_str(), *registry, "{file}");
        // Any fault, error or warning, exits 1 (0 only when clean).
        assert_eq!(exit, 1, "{file}");
    }
}

#[test]
fn docker_hub_fault_says_which_key_would_match() {
    let (findings, _) = lint_json("docker-hub-key.yaml");
    let msg = findings[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("https://index.docker.io/v1/") && msg.contains("docker.io/"),
        "{msg}"
    );
}

#[test]
fn kubectl_output_and_good_configs_are_clean() {
    for file in [
        "clean-kubectl.yaml",
        "clean-kubectl-unicode.json",
        "clean-config.json",
        "clean-multi-document.yaml",
    ] {
        let (findings, exit) = lint_json(file);
        assert!(findings.is_empty(), "{file}: {findings:?}");
        assert_eq!(exit, 0, "{file}");
    }
}

#[test]
fn every_golden_kubectl_secret_lints_clean() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/kubectl/cases");
    let mut checked = 0;
    for entry in std::fs::read_dir(cases).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("json-") || name.starts_with("yaml-")) {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
            .args(["secret", "lint"])
            .arg(dir.join("stdout"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn exit_codes_clean_faults_unreadable() {
    let run = |files: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pullsim"))
            .args(["secret", "lint"])
            .args(files.iter().map(|f| fixture(f)))
            .output()
            .unwrap()
    };
    assert_eq!(run(&["clean-kubectl.yaml"]).status.code(), Some(0));
    assert_eq!(
        run(&["clean-kubectl.yaml", "auth-no-colon.yaml"])
            .status
            .code(),
        Some(1)
    );
    let out = run(&["clean-kubectl.yaml", "unreadable.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unreadable.yaml") && stderr.contains("line 3"),
        "{stderr}"
    );
    let out = run(&["does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    // A config with a trailing newline (`--from-file` of a config.json, `echo … | base64`) is
    // JSON whitespace to the kubelet: clean.
    let out = run(&["trailing-newline.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Docker Desktop's config.json: an empty `auths` entry and `"credsStore": "desktop"`. The
/// kubelet reads only `auths` (pkg/credentialprovider/config.go DockerConfigJSON), so the
/// credentials stay in the helper: an error, not a warning.
#[test]
fn a_credential_helper_is_an_error() {
    let (findings, exit) = lint_json("creds-store.yaml");
    assert_eq!(exit, 1);
    let f = findings
        .iter()
        .find(|f| f["code"] == "credential-helper-in-config")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("\"credsStore\": \"desktop\"")
            && msg.contains("cannot run credential helpers"),
        "{msg}"
    );
}

#[test]
fn fault_in_second_document_names_the_document() {
    let (findings, exit) = lint_json("multi-document-fault-in-second.yaml");
    assert_eq!(exit, 1);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["document"], 2);
    assert_eq!(findings[0]["secret"], "prod/broken");
    assert_eq!(findings[0]["registry"], "registry.example.com");
    assert_eq!(findings[0]["code"], "auth-no-colon");
}
