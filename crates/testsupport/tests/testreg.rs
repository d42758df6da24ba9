//! The `pullsim-testreg` binary: gen-image, serve (env file, stop on stdin close, SIGTERM and
//! when killed), push.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pullsim_testsupport::image::{self, ImageSpec, LayerSpec, Platform};
use pullsim_testsupport::read_env_file;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pullsim-testreg");

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
        .unwrap_or(false)
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(mode: &str, dir: &Path) -> (Child, Vec<(String, String)>) {
    let child = Command::new(BIN)
        .args(["serve", mode, "--dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the env file", || dir.join("env").exists());
    (child, read_env_file(&dir.join("env")).unwrap())
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    &env.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {env:?}"))
        .1
}

fn http_status(host: &str, path: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn gen_image_prints_the_digests_of_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["gen-image", "--out"])
        .arg(dir.path())
        .args([
            "--tag",
            "t1",
            "--layers",
            "2",
            "--layer-size",
            "2K",
            "--plain",
            "--seed",
            "11",
        ])
        .args(["--platforms", "linux/amd64,linux/arm64/v8"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let other = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        layers: vec![
            LayerSpec {
                size: 2048,
                gzip: false,
                zstd: false,
                compressible: false
            };
            2
        ],
        platforms: vec![Platform::linux_amd64(), Platform::linux_arm64_v8()],
        tag: "t1".into(),
        seed: 11,
    };
    let img = image::generate(other.path(), &spec).unwrap();
    assert_eq!(json["digest"], img.top_digest());
    assert_eq!(json["manifests"][1]["platform"], "linux/arm64/v8");
    assert_eq!(
        json["manifests"][0]["layers"][0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar"
    );
}

#[test]
fn usage_errors_exit_2_and_bad_values_exit_1() {
    assert_eq!(Command::new(BIN).output().unwrap().status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["gen-image", "--out", "/nonexistent-dir/x", "--tag", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--layers is required"));
    let out = Command::new(BIN)
        .args(["serve", "bogus", "--dir", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn serve_writes_env_and_stops_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, env) = serve("htpasswd", dir.path());
    assert_eq!(get(&env, "REGISTRY_MODE"), "htpasswd");
    assert_eq!(get(&env, "REGISTRY_USER"), "alice");
    assert_eq!(get(&env, "REGISTRY_USER2"), "bob");
    assert_eq!(get(&env, "REGISTRY_PID"), child.id().to_string());
    let host = get(&env, "REGISTRY").to_string();
    assert!(http_status(&host, "/v2/").contains("401"));

    // push through the binary as the push user.
    let layout = tempfile::tempdir().unwrap();
    image::generate(layout.path(), &ImageSpec::simple("v1", 1, 512, 2)).unwrap();
    let out = Command::new(BIN)
        .args(["push", "--env"])
        .arg(dir.path().join("env"))
        .arg("--layout")
        .arg(layout.path())
        .args(["--tag", "v1", "--dest", "team/cli:v1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let registry_pid = get(&env, "REGISTRY_SERVER_PID").to_string();
    assert!(alive(&registry_pid));
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(
        !alive(&registry_pid),
        "registry still running after serve exited"
    );
    assert!(!dir.path().join("env").exists());
}

#[test]
fn serve_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, env) = serve("anonymous", dir.path());
    assert!(http_status(get(&env, "REGISTRY"), "/v2/").contains("200"));
    let registry_pid = get(&env, "REGISTRY_SERVER_PID").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    assert!(!alive(&registry_pid));
}

#[test]
fn registry_dies_with_a_killed_serve_process() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, env) = serve("token", dir.path());
    let registry_pid = get(&env, "REGISTRY_SERVER_PID").to_string();
    assert!(get(&env, "REGISTRY_TOKEN_REALM").starts_with("http://127.0.0.1:"));
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the registry to exit", || !alive(&registry_pid));
}

#[test]
fn scripts_registry_starts_reports_and_stops() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/registry");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .args(args)
            .env("PULLSIM_TESTREG", BIN)
            .output()
            .unwrap()
    };
    let d = dir.path().to_str().unwrap();
    let out = run(&["start", "tls", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("REGISTRY_MODE=tls"), "{printed}");
    assert!(printed.contains("REGISTRY_CA="), "{printed}");
    // a second start reuses the running registry.
    let again = run(&["start", "tls", d]);
    assert!(again.status.success());
    assert_eq!(String::from_utf8(again.stdout).unwrap(), printed);
    let env = run(&["env", d]);
    assert_eq!(String::from_utf8(env.stdout).unwrap(), printed);
    let pid = get(
        &read_env_file(&dir.path().join("env")).unwrap(),
        "REGISTRY_SERVER_PID",
    )
    .to_string();
    assert!(alive(&pid));
    assert!(run(&["stop", d]).status.success());
    wait_until("the registry to exit", || !alive(&pid));
    assert!(!run(&["env", d]).status.success());
}
