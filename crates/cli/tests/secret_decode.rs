//! `pullsim secret decode`: registries, usernames and where each came from (file, document,
//! secret, the `auth` field or username/password); passwords redacted unless --show-secrets.

use std::path::Path;
use std::process::Command;

fn decode(file: &str, extra: &[&str]) -> (String, i32) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/secrets/decode")
        .join(file);
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["secret", "decode"])
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn list_with_both_secret_types_and_other_objects() {
    let (out, code) = decode("list.json", &["-o", "json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["secret"].as_str().unwrap(),
                r["format"].as_str().unwrap(),
                r["registry"].as_str().unwrap(),
                r["key"].as_str().unwrap(),
                r["username"].as_str().unwrap(),
                r["credentials_from"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "apps/one",
                "kubernetes.io/dockerconfigjson",
                "https://index.docker.io/v1/",
                "index.docker.io",
                "hubuser",
                "auth"
            ),
            (
                "apps/one",
                "kubernetes.io/dockerconfigjson",
                "ghcr.io/org",
                "ghcr.io/org",
                "ghuser",
                "username/password"
            ),
            (
                "default/two",
                "kubernetes.io/dockercfg",
                "quay.io",
                "quay.io",
                "quser",
                "username/password"
            ),
        ]
    );
    assert!(rows.iter().all(|r| r["password"] == "<redacted>"));
    assert_eq!(rows[1]["email"], "gh@example.com");
}

#[test]
fn show_secrets_and_bare_dockercfg() {
    let (out, _) = decode("list.json", &["-o", "json", "--show-secrets"]);
    assert!(
        out.contains("\"password\":\"pw\"") && out.contains("\"password\":\"qpw\""),
        "{out}"
    );
    let (out, code) = decode(".dockercfg", &[]);
    assert_eq!(code, 0);
    assert!(out.contains("(.dockercfg)"), "{out}");
    assert!(
        out.contains("\"https://registry.example.com:5000/v1/\" -> key registry.example.com:5000: username \"legacy\" password <redacted> (from auth)"),
        "{out}"
    );
}

#[test]
fn unreadable_file_fails() {
    let (_, code) = decode("missing.yaml", &[]);
    assert_eq!(code, 2);
}

/// An empty password is shown as empty, never as `<redacted>` (a missing password must be
/// visible), in JSON and text.
#[test]
fn an_empty_password_is_shown_empty() {
    let (out, code) = decode("empty-password.yaml", &["-o", "json"]);
    assert_eq!(code, 0);
    let row: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(row["password"], "", "{out}");
    let (out, _) = decode("empty-password.yaml", &[]);
    assert!(out.contains("password \"\" (empty)"), "{out}");
}
