//! `pullsim node check --host-root FIXTURE` on a tree laid out like a real kubeadm node: the
//! kubelet's systemd unit (its `--config` and `--root-dir`), the kubelet's config.yaml, the
//! node's config.json in the kubelet's root dir, containerd's config.toml with a certs.d hosts
//! directory that sends the registry to a TLS mirror whose CA is named by its node path. The
//! mirror is a real registry (HTTPS + htpasswd); the registry the image names listens nowhere.
//! Each of the three — mirror, CA, node credentials — is needed: a test removes each and the
//! image stops being pullable, with the hint that says why.

use std::path::{Path, PathBuf};
use std::process::Command;

use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, RegistryConfig, RegistryHandle, free_loopback_port};
use serde_json::Value;

struct Fixture {
    root: tempfile::TempDir,
    image: String,
    mirror: RegistryHandle,
    upstream: String,
}

fn write(root: &Path, node_path: &str, text: &str) -> PathBuf {
    let p = root.join(node_path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn fixture() -> Fixture {
    let mirror = RegistryHandle::start(
        Mode::Htpasswd,
        RegistryConfig {
            tls: true,
            ..RegistryConfig::default()
        },
    )
    .unwrap();
    mirror
        .push_generated(&ImageSpec::simple("v1", 2, 1024, 91), "team/app:v1")
        .unwrap();
    let upstream = format!("127.0.0.1:{}", free_loopback_port().unwrap());
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(
        r,
        "/etc/systemd/system/kubelet.service",
        "[Service]\nExecStart=/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml --root-dir=/var/lib/kubelet\n",
    );
    write(
        r,
        "/var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserializeImagePulls: true\n",
    );
    let (user, pass) = mirror.user().unwrap();
    write(
        r,
        "/var/lib/kubelet/config.json",
        &serde_json::json!({"auths": {upstream.clone(): {"username": user, "password": pass}}})
            .to_string(),
    );
    write(
        r,
        "/etc/containerd/config.toml",
        "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n",
    );
    let dir = format!("/etc/containerd/certs.d/{upstream}");
    write(
        r,
        &format!("{dir}/ca.crt"),
        &std::fs::read_to_string(mirror.ca_file.as_ref().unwrap()).unwrap(),
    );
    write(
        r,
        &format!("{dir}/hosts.toml"),
        &format!(
            "server = \"https://{upstream}\"\n\n[host.\"https://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"{dir}/ca.crt\"\n",
            mirror.host
        ),
    );
    Fixture {
        image: format!("{upstream}/team/app:v1"),
        root,
        mirror,
        upstream,
    }
}

fn check(f: &Fixture, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["node", "check", "--host-root"])
        .arg(f.root.path())
        .args(["--node-name", "node-1", "-o", "json", &f.image])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn result(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| l["kind"] == "node_check")
        .expect("a node_check line")
}

fn hint_codes(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["kind"] == "hint")
        .map(|l| l["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_nodes_mirror_ca_and_credentials_make_it_pullable() {
    let f = fixture();
    let (code, lines, all) = check(&f, &[]);
    assert_eq!(code, 0, "{all}");
    let r = result(&lines);
    assert_eq!(r["node"], "node-1");
    assert_eq!(r["image"], f.image.as_str());
    assert_eq!(r["verdict"], "pullable", "{all}");
    assert_eq!(r["reason"], Value::Null);
    assert_eq!(r["pull_seconds"], Value::Null);
    assert_eq!(r["host"], format!("https://{}/v2", f.mirror.host), "{all}");
    // --pull: the whole pull, timed, into a temporary store.
    let (code, lines, all) = check(&f, &["--pull"]);
    assert_eq!(code, 0, "{all}");
    assert!(
        result(&lines)["pull_seconds"].as_f64().unwrap() > 0.0,
        "{all}"
    );
    // Text: where each setting came from.
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["node", "check", "--host-root"])
        .arg(f.root.path())
        .arg(&f.image)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "flags from the kubelet's systemd unit (/etc/systemd/system/kubelet.service)"
        ),
        "{text}"
    );
    assert!(text.contains("/var/lib/kubelet/config.yaml"), "{text}");
}

#[test]
fn without_the_mirror_the_image_is_not_pullable() {
    let f = fixture();
    std::fs::remove_file(
        f.root
            .path()
            .join(format!("etc/containerd/certs.d/{}/hosts.toml", f.upstream)),
    )
    .unwrap();
    let (code, lines, all) = check(&f, &[]);
    assert_eq!(code, 1, "{all}");
    let r = result(&lines);
    assert_eq!(r["verdict"], "not-pullable");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{all}"
    );
}

#[test]
fn without_the_ca_the_mirror_is_not_trusted() {
    let f = fixture();
    let hosts = f
        .root
        .path()
        .join(format!("etc/containerd/certs.d/{}/hosts.toml", f.upstream));
    let text = std::fs::read_to_string(&hosts).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("ca ="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&hosts, without).unwrap();
    let (code, lines, all) = check(&f, &[]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(result(&lines)["verdict"], "not-pullable");
    assert!(
        hint_codes(&lines).contains(&"tls-unknown-authority".to_string()),
        "{all}"
    );
    assert_eq!(result(&lines)["hint"], "tls-unknown-authority");
}

#[test]
fn without_the_node_credentials_the_mirror_refuses() {
    let f = fixture();
    std::fs::remove_file(f.root.path().join("var/lib/kubelet/config.json")).unwrap();
    let (code, lines, all) = check(&f, &[]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(result(&lines)["verdict"], "not-pullable");
    assert!(
        hint_codes(&lines).contains(&"no-credentials-matched".to_string()),
        "{all}"
    );
}
