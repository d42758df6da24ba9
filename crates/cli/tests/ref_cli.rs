//! `pullsim ref`: the real binary against the Go oracle fixture.
//!
//! testdata/references.json records what distribution/reference (ParseNormalizedNamed) and
//! kubernetes pkg/util/parsers ParseImageName + pkg/apis/core/v1/defaults.go SetDefaults_Container
//! return for every string of the upstream test tables (normalize_test.go, reference_test.go,
//! regexp_test.go, parsers_test.go) and edge cases; see crates/reference/oracle/gen.sh.

use std::path::PathBuf;
use std::process::{Command, Output};

use proptest::prelude::*;
use serde_json::Value;

fn pullsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .output()
        .expect("run pullsim")
}

fn fixture() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/references.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn json_agrees_with_go_on_every_upstream_case() {
    let cases: Vec<Value> = fixture()
        .into_iter()
        // An argument cannot hold a NUL byte.
        .filter(|c| !c["input"].as_str().unwrap().contains('\0'))
        .collect();
    assert!(cases.len() > 500);
    let inputs: Vec<&str> = cases.iter().map(|c| c["input"].as_str().unwrap()).collect();
    let mut args = vec!["ref", "-o", "json", "--"];
    args.extend(&inputs);
    let out = pullsim(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some upstream cases are invalid"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), cases.len(), "one JSON line per IMAGE");
    let mut bad = Vec::new();
    for (c, got) in cases.iter().zip(&lines) {
        let input = c["input"].as_str().unwrap();
        let want = &c["normalized"];
        let keys: Vec<&str> = got
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "kind",
                "input",
                "valid",
                "error",
                "name",
                "domain",
                "path",
                "tag",
                "digest",
                "familiar",
                "default_pull_policy"
            ],
            "field order"
        );
        let ok = want["ok"].as_bool().unwrap();
        let mut expect = |field: &str, w: Value| {
            if got[field] != w {
                bad.push(format!("{input:?}.{field}: go {w}, pullsim {}", got[field]));
            }
        };
        expect("input", Value::from(input));
        expect("valid", Value::from(ok));
        expect("default_pull_policy", c["default_pull_policy"].clone());
        // The oracle omits empty strings (Go `omitempty`): a valid reference can have an empty
        // domain upstream (ParseNormalizedNamed("a_b.com/c") is the path "a_b.com/c", no domain).
        let or_null = |k: &str| {
            want.get(k).cloned().unwrap_or(match k {
                "domain" => Value::from(""),
                _ => Value::Null,
            })
        };
        for field in ["name", "domain", "path", "tag", "digest", "familiar"] {
            expect(field, if ok { or_null(field) } else { Value::Null });
        }
        match (ok, got["error"].as_str()) {
            (true, None) => {}
            (false, Some(e)) => {
                // Upstream's sentence first; ParseNormalizedNamed's own messages are kept whole.
                let go = want["error"].as_str().unwrap();
                if !e.starts_with(go) {
                    bad.push(format!("{input:?}.error: go {go:?}, pullsim {e:?}"));
                }
            }
            (_, e) => bad.push(format!("{input:?}.error: ok={ok}, pullsim {e:?}")),
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn exit_codes() {
    assert_eq!(
        pullsim(&["ref", "nginx", "quay.io/a/b:c"]).status.code(),
        Some(0)
    );
    assert_eq!(pullsim(&["ref", "nginx", "Nginx"]).status.code(), Some(1));
    assert_eq!(
        pullsim(&["ref", "-o", "json", "--", "-nginx"])
            .status
            .code(),
        Some(1)
    );
    let usage = pullsim(&["ref"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("<IMAGE>"));
    assert_eq!(
        pullsim(&["ref", "-o", "yaml", "nginx"]).status.code(),
        Some(2)
    );
}

#[test]
fn text_output_is_one_block_per_image() {
    let out = pullsim(&["ref", "nginx:1.25", "docker/Docker"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        "Image:               nginx:1.25\n\
         Valid:               yes\n\
         Name:                docker.io/library/nginx\n\
         Domain:              docker.io\n\
         Path:                library/nginx\n\
         Tag:                 1.25\n\
         Digest:              <none>\n\
         Familiar:            nginx:1.25\n\
         Default Pull Policy: IfNotPresent\n\
         \n\
         Image:               docker/Docker\n\
         Valid:               no\n\
         Error:               invalid reference format: repository name (docker/Docker) must be lowercase\n\
         Default Pull Policy: IfNotPresent\n"
    );
}

#[test]
fn help_teaches() {
    let out = pullsim(&["ref", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Examples:",
        "pullsim ref -o json",
        "docker.io/library/nginx",
        "Exit status",
    ] {
        assert!(help.contains(want), "help lacks {want:?}");
    }
}

proptest! {
    // Each case spawns the binary; the in-process renderer has its own 1000-case property test.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn never_panics_on_arbitrary_strings(s in "[^\u{0}]{0,40}") {
        let out = pullsim(&["ref", "-o", "json", "--", &s]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        prop_assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}", out.status);
        let lines = json_lines(&out);
        prop_assert_eq!(lines.len(), 1);
        prop_assert_eq!(lines[0]["input"].as_str(), Some(s.as_str()));
        prop_assert_eq!(lines[0]["valid"].as_bool(), Some(out.status.code() == Some(0)));
        let text = pullsim(&["ref", "--", &s]);
        prop_assert_eq!(text.status.code(), out.status.code());
        prop_assert!(!String::from_utf8_lossy(&text.stderr).contains("panicked"));
    }
}
