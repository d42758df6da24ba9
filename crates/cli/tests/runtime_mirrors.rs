//! The node's runtime as configured (issue 12): `pull` and `pod run` through containerd's
//! hosts directories (`--registry-config-path`, `--containerd-config`) and CRI-O's
//! `registries.conf`, against real `docker-registry` instances as upstream and mirror. The
//! upstream and the mirror hold different images under one tag, so the image ID says which host
//! served.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, RegistryConfig, RegistryHandle};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn pullsim(root: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Two registries: the upstream the image names, and a mirror, each with its own image under
/// `team/app:v1` (image IDs `upstream_id`, `mirror_id`); `only/upstream:v1` exists upstream only.
struct Pair {
    upstream: RegistryHandle,
    mirror: RegistryHandle,
    upstream_id: String,
    mirror_id: String,
}

fn pair() -> &'static Pair {
    static P: OnceLock<Pair> = OnceLock::new();
    P.get_or_init(|| {
        let upstream = RegistryHandle::start(Mode::Anonymous, RegistryConfig::default()).unwrap();
        let mirror = RegistryHandle::start(Mode::Anonymous, RegistryConfig::default()).unwrap();
        let up = upstream
            .push_generated(&ImageSpec::simple("v1", 1, 2000, 1201), "team/app:v1")
            .unwrap();
        let mi = mirror
            .push_generated(&ImageSpec::simple("v1", 1, 2000, 1202), "team/app:v1")
            .unwrap();
        upstream
            .push_generated(&ImageSpec::simple("v1", 1, 2000, 1203), "only/upstream:v1")
            .unwrap();
        Pair {
            upstream_id: up.manifests[0].config_digest.clone(),
            mirror_id: mi.manifests[0].config_digest.clone(),
            upstream,
            mirror,
        }
    })
}

/// A config_path root with one host directory for `registry` holding `hosts_toml`, named as
/// containerd names it (`host_port_` for a host with a port).
fn hosts_dir(root: &Path, registry: &str, hosts_toml: &str) -> PathBuf {
    let dir = root.join(registry.replace(':', "_") + "_");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts.toml"), hosts_toml).unwrap();
    root.to_path_buf()
}

fn mirror_toml(mirror: &str) -> String {
    format!("[host.\"http://{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n")
}

fn pulled_id(o: &Out) -> Option<String> {
    lines(&o.stdout)
        .into_iter()
        .find(|l| l["kind"] == "container")
        .and_then(|l| l["image_id"].as_str().map(str::to_string))
}

fn host_of_pulled(o: &Out) -> Option<String> {
    lines(&o.stdout)
        .into_iter()
        .find(|l| l["kind"] == "event" && l["reason"] == "Pulled")
        .and_then(|l| l["host"].as_str().map(str::to_string))
}

#[test]
fn containerd_mirror_serves_then_upstream_when_the_mirror_is_down() {
    let p = pair();
    let tmp = tempfile::tempdir().unwrap();
    let certs = hosts_dir(
        &tmp.path().join("certs.d"),
        &p.upstream.host,
        &mirror_toml(&p.mirror.host),
    );
    let image = format!("{}/team/app:v1", p.upstream.host);
    let path = certs.display().to_string();
    for runtime in ["containerd", "containerd-1.7"] {
        let root = tempfile::tempdir().unwrap();
        let o = pullsim(
            root.path(),
            &[
                "pull",
                &image,
                "--runtime",
                runtime,
                "--registry-config-path",
                &path,
                "-o",
                "json",
            ],
        );
        assert_eq!(o.code, 0, "{runtime}: {}{}", o.stdout, o.stderr);
        assert_eq!(
            pulled_id(&o).as_deref(),
            Some(p.mirror_id.as_str()),
            "{runtime}: {}",
            o.stdout
        );
        assert_eq!(
            host_of_pulled(&o),
            Some(format!("http://{}/v2", p.mirror.host)),
            "{runtime}"
        );
    }
    // creds check resolves through the same hosts and names the one that answered.
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "creds",
            "check",
            &image,
            "--registry-config-path",
            &path,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let attempt = lines(&o.stdout)
        .into_iter()
        .find(|l| l["kind"] == "attempt")
        .unwrap_or_else(|| panic!("{}", o.stdout));
    assert_eq!(attempt["host"], format!("http://{}/v2", p.mirror.host));
    // The same layout with the mirror unreachable: containerd goes on to the upstream.
    let down = hosts_dir(
        &tmp.path().join("down.d"),
        &p.upstream.host,
        "[host.\"http://127.0.0.1:9\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
    );
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--registry-config-path",
            &down.display().to_string(),
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(pulled_id(&o).as_deref(), Some(p.upstream_id.as_str()));
    assert_eq!(
        host_of_pulled(&o),
        // The default host of a loopback registry is http, tried over HTTPS first with
        // containerd's HTTP fallback, so it carries the scheme containerd gives it
        // (`core/remotes/docker/config/hosts.go@v2.3.4`).
        Some(format!("https://{}/v2", p.upstream.host))
    );
}

#[test]
fn pod_run_goes_through_the_mirror_and_says_which_host_in_text() {
    let p = pair();
    let tmp = tempfile::tempdir().unwrap();
    let certs = hosts_dir(
        &tmp.path().join("certs.d"),
        &p.upstream.host,
        &mirror_toml(&p.mirror.host),
    );
    let pods = tmp.path().join("pods.yaml");
    std::fs::write(
        &pods,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: default}}\nspec:\n  containers: [{{name: app, image: \"{}/team/app:v1\"}}]\n",
            p.upstream.host
        ),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pod",
            "run",
            &pods.display().to_string(),
            "--registry-config-path",
            &certs.display().to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains(&p.mirror_id), "{}", o.stdout);
    assert!(
        o.stdout
            .contains(&format!("Host:             http://{}/v2", p.mirror.host))
            || o.stdout.lines().any(|l| l.trim_start().starts_with("Host:")
                && l.contains(&format!("http://{}/v2", p.mirror.host))),
        "{}",
        o.stdout
    );
}

/// containerd 2.x's own default `config_path` is a list; the transfer service takes the whole
/// string as one directory (containerd/containerd#12415, #12636), so no mirror applies, and
/// pullsim says so; the local pull path (`use_local_image_pull = true`, or 1.7) splits it.
#[test]
fn a_config_path_list_is_ignored_by_the_transfer_service_only() {
    let p = pair();
    let tmp = tempfile::tempdir().unwrap();
    let certs = hosts_dir(
        &tmp.path().join("certs.d"),
        &p.upstream.host,
        &mirror_toml(&p.mirror.host),
    );
    let list = format!(
        "{}:{}",
        certs.display(),
        tmp.path().join("docker-certs.d").display()
    );
    let image = format!("{}/team/app:v1", p.upstream.host);
    let config = |extra: &str| {
        let f = tmp.path().join(format!("config-{}.toml", extra.len()));
        std::fs::write(
            &f,
            format!(
                "version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\n{extra}\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"{list}\"\n"
            ),
        )
        .unwrap();
        f.display().to_string()
    };
    let transfer = config("");
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--containerd-config",
            &transfer,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        pulled_id(&o).as_deref(),
        Some(p.upstream_id.as_str()),
        "{}",
        o.stdout
    );
    let hints: Vec<Value> = lines(&o.stdout)
        .into_iter()
        .filter(|l| l["kind"] == "hint")
        .collect();
    assert!(
        hints
            .iter()
            .any(|h| h["code"] == "containerd-config-path-ignored"),
        "{}",
        o.stdout
    );
    // `--registry-config-path` with the same list: the flag is the config_path, same rule.
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--registry-config-path",
            &list,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        pulled_id(&o).as_deref(),
        Some(p.upstream_id.as_str()),
        "{}",
        o.stdout
    );

    let local = config("  use_local_image_pull = true");
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &["pull", &image, "--containerd-config", &local, "-o", "json"],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        pulled_id(&o).as_deref(),
        Some(p.mirror_id.as_str()),
        "{}",
        o.stdout
    );
    assert!(
        !o.stdout.contains("containerd-config-path-ignored"),
        "{}",
        o.stdout
    );

    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--runtime",
            "containerd-1.7",
            "--registry-config-path",
            &list,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        pulled_id(&o).as_deref(),
        Some(p.mirror_id.as_str()),
        "{}",
        o.stdout
    );
}

#[test]
fn each_runtime_takes_only_its_own_configuration() {
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            "example.com/a:1",
            "--registries-conf",
            "/nonexistent.conf",
        ],
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr
            .contains("--registries-conf is CRI-O's configuration"),
        "{}",
        o.stderr
    );
    for flag in ["--registry-config-path", "--containerd-config"] {
        let o = pullsim(
            root.path(),
            &["pull", "example.com/a:1", "--runtime", "cri-o", flag, "/x"],
        );
        assert_eq!(o.code, 2, "{flag}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stderr.contains("is containerd's configuration"),
            "{}",
            o.stderr
        );
    }
}

/// Each version's wording for the same failure: a tag the registry does not have.
/// containerd 2.3 transfer service: `core/transfer/local/pull.go@v2.3.4` ("failed to resolve
/// image: %w"); 1.7 local pull: `pull.go@v1.7.34` ("failed to resolve reference %q: %w").
#[test]
fn each_containerd_version_words_a_missing_tag_its_own_way() {
    let p = pair();
    let image = format!("{}/team/app:missing", p.upstream.host);
    let root = tempfile::tempdir().unwrap();
    let want = [
        (
            "containerd",
            format!(
                "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve image: {image}: not found"
            ),
        ),
        (
            "containerd-1.7",
            format!(
                "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
            ),
        ),
    ];
    for (runtime, message) in want {
        let o = pullsim(
            root.path(),
            &["pull", &image, "--runtime", runtime, "-o", "json"],
        );
        assert_eq!(o.code, 1, "{runtime}: {}{}", o.stdout, o.stderr);
        let failed = lines(&o.stdout)
            .into_iter()
            .find(|l| l["reason"] == "Failed")
            .unwrap_or_else(|| panic!("{}", o.stdout));
        assert_eq!(failed["message"], message.as_str(), "{runtime}");
    }
}

/// Which error wins when every host fails: a mirror that asks for credentials the pod does not
/// have (401, Basic) and an upstream without the tag (404). containerd 2.x returns the error
/// from furthest through resolution (core/remotes/docker/resolver.go@v2.3.4: an auth failure
/// is priority 1, a 404 priority 2); 1.7 the first that is not a 404
/// (`v1.7.34:remotes/docker/resolver.go`), worded `pull access denied, …`.
#[test]
fn each_containerd_version_picks_its_own_winning_error() {
    let p = pair();
    let locked = pullsim_testsupport::shared(Mode::Htpasswd);
    let tmp = tempfile::tempdir().unwrap();
    let certs = hosts_dir(
        &tmp.path().join("certs.d"),
        &p.upstream.host,
        &mirror_toml(&locked.host),
    );
    let image = format!("{}/team/app:missing", p.upstream.host);
    let path = certs.display().to_string();
    let root = tempfile::tempdir().unwrap();
    let want = [
        (
            "containerd",
            format!(
                "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve image: {image}: not found"
            ),
        ),
        (
            "containerd-1.7",
            format!(
                "Failed to pull image \"{image}\": failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"
            ),
        ),
    ];
    for (runtime, message) in want {
        let o = pullsim(
            root.path(),
            &[
                "pull",
                &image,
                "--runtime",
                runtime,
                "--registry-config-path",
                &path,
                "-o",
                "json",
            ],
        );
        assert_eq!(o.code, 1, "{runtime}: {}{}", o.stdout, o.stderr);
        let failed = lines(&o.stdout)
            .into_iter()
            .find(|l| l["reason"] == "Failed")
            .unwrap_or_else(|| panic!("{}", o.stdout));
        assert_eq!(failed["message"], message.as_str(), "{runtime}");
    }
}

/// CRI-O through `registries.conf`: the mirror first, then the primary; the pod's credentials
/// only to sources on the image's own domain (containers/image `docker/docker_image_src.go`);
/// no plain-HTTP exception for loopback registries unless `insecure = true`.
#[test]
fn cri_o_pulls_through_registries_conf() {
    let p = pair();
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            p.upstream.host, p.mirror.host
        ),
    )
    .unwrap();
    let conf = conf.display().to_string();
    let image = format!("{}/team/app:v1", p.upstream.host);
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &image,
            "--runtime",
            "cri-o",
            "--registries-conf",
            &conf,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        pulled_id(&o).as_deref(),
        Some(p.mirror_id.as_str()),
        "{}",
        o.stdout
    );
    assert_eq!(
        host_of_pulled(&o),
        Some(format!("{}/team/app:v1", p.mirror.host))
    );
    // The mirror lacks only/upstream: the primary serves.
    let only = format!("{}/only/upstream:v1", p.upstream.host);
    let o = pullsim(
        root.path(),
        &[
            "pull",
            &only,
            "--runtime",
            "cri-o",
            "--registries-conf",
            &conf,
            "-o",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(host_of_pulled(&o), Some(only.clone()));
    // No registries.conf: the registry alone, over HTTPS only — a plain-HTTP registry fails
    // as containers/image fails on it.
    let root = tempfile::tempdir().unwrap();
    let o = pullsim(
        root.path(),
        &["pull", &image, "--runtime", "cri-o", "-o", "json"],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(&format!(
            "pinging container registry {}: Get \\\"https://{}/v2/\\\": http: server gave HTTP response to HTTPS client",
            p.upstream.host, p.upstream.host
        )),
        "{}",
        o.stdout
    );
}
