//! `-v` / `-vv`: the HTTP exchanges of a token-auth pull on stderr (manifest HEAD, the token
//! request, blob GETs, with statuses), query values redacted as containerd 2.3 does, and never a
//! password, a token or an `Authorization` value; without `-v` nothing of it.

use std::process::Command;

use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

const MARK: &str = "MARKER-vv-6617";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .env_remove("PULLSIM_ROOT")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn secret(dir: &std::path::Path, host: &str, user: &str, pass: &str) -> String {
    let cfg = serde_json::json!({"auths": {host: {"username": user, "password": pass}}});
    let p = dir.join(format!("{user}-{}.json", pass.len()));
    std::fs::write(&p, cfg.to_string()).unwrap();
    p.display().to_string()
}

#[test]
fn vv_shows_the_exchanges_and_never_a_credential() {
    let reg = shared(Mode::Token);
    reg.push_generated(&ImageSpec::simple("v1", 2, 2000, 1401), "team/verbose:v1")
        .unwrap();
    let image = reg.reference("team/verbose:v1");
    let dir = tempfile::tempdir().unwrap();
    let good = secret(dir.path(), &reg.host, "alice", "alice-pass");
    let wrong = secret(dir.path(), &reg.host, "alice", MARK);

    let (code, stdout, stderr) = run(&["--ephemeral", "-vv", "pull", &image, "--secret", &good]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for want in [
        "HEAD ",
        "/v2/team/verbose/manifests/v1 -> 401 Unauthorized",
        "POST http://",
        "/token -> 200 OK",
        "/v2/team/verbose/blobs/sha256:",
        "  > authorization: <redacted>",
    ] {
        assert!(stderr.contains(want), "{want:?} not in:\n{stderr}");
    }
    // The token POST's form (grant_type, password) is never shown; query values would be
    // redacted (pullsim_registry::redact, containerd's SanitizeError rule, unit-tested there).
    assert!(!stderr.contains("grant_type"), "{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(!all.contains("alice-pass"), "password leaked:\n{all}");
    assert!(
        !all.contains("Bearer ey") && !all.contains("Basic "),
        "credential leaked:\n{all}"
    );
    assert!(!stdout.contains("-> 200"), "exchanges on stdout:\n{stdout}");

    let (code, stdout, stderr) = run(&["--ephemeral", "-vv", "pull", &image, "--secret", &wrong]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!format!("{stdout}{stderr}").contains(MARK), "marker leaked");

    // -v: the exchanges without headers; no -v: none of it.
    let (_, _, stderr) = run(&["--ephemeral", "-v", "pull", &image, "--secret", &good]);
    assert!(stderr.contains("-> 200 OK"), "{stderr}");
    assert!(!stderr.contains("  > "), "{stderr}");
    let (_, _, stderr) = run(&["--ephemeral", "pull", &image, "--secret", &good]);
    assert!(!stderr.contains("-> 200"), "{stderr}");
}
