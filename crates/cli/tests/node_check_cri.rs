//! `node check` with the node's real runtime: a private containerd with its CRI plugin (as on a
//! node) holds an image pulled into its `k8s.io` namespace; `node check` lists the runtime's
//! images over the CRI socket (`runtime.v1.ImageService/ListImages`, what the kubelet and
//! `crictl images` call), finds the present one as containerd's `localResolve` does, and gives
//! the kubelet's decision per container: an IfNotPresent image on the node is used as it is
//! (no pull record: the default NeverVerifyPreloadedImages treats it as preloaded), an absent
//! one is pulled. The socket is reached under `--host-root`, where the fixture links it at
//! containerd's default path.

use std::path::{Path, PathBuf};
use std::process::Command;

use pullsim_testsupport::containerd::ContainerdHandle;
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};
use serde_json::Value;

fn write(root: &Path, node_path: &str, text: &str) -> PathBuf {
    let p = root.join(node_path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn node_check(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(["node", "check", "--host-root"])
        .arg(root)
        .args(["--node-name", "node-1"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn images_on_the_node_come_from_its_runtime_over_the_cri_socket() {
    let reg = shared(Mode::Anonymous);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, 71), "cri/present:v1")
        .unwrap();
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, 72), "cri/absent:v1")
        .unwrap();
    let containerd = ContainerdHandle::start_cri().expect("containerd with CRI (scripts/setup)");
    // ctr pulls into the CRI's namespace over plain HTTP (a hosts directory for the registry).
    let hosts = tempfile::tempdir().unwrap();
    write(
        hosts.path(),
        &format!("{}/hosts.toml", reg.host),
        &format!(
            "server = \"http://{h}\"\n[host.\"http://{h}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            h = reg.host
        ),
    );
    let present = reg.reference("cri/present:v1");
    let pulled = containerd
        .pull_in("k8s.io", &present, hosts.path(), None)
        .expect("ctr pull into k8s.io");

    // A kubeadm-shaped node whose containerd socket is the private containerd's.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(
        r,
        "/etc/systemd/system/kubelet.service",
        "[Service]\nExecStart=/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml\n",
    );
    write(
        r,
        "/var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n",
    );
    std::fs::create_dir_all(r.join("run/containerd")).unwrap();
    std::os::unix::fs::symlink(&containerd.socket, r.join("run/containerd/containerd.sock"))
        .unwrap();
    let absent = reg.reference("cri/absent:v1");
    let pods = write(
        r,
        "/tmp/pods.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: app, namespace: shop}}\nspec:\n  containers:\n  - {{name: here, image: \"{present}\", imagePullPolicy: IfNotPresent}}\n  - {{name: there, image: \"{absent}\", imagePullPolicy: IfNotPresent}}\n"
        ),
    );
    let (code, out, err) = node_check(r, &["-f", pods.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| l["kind"] == "node_check")
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let here = &lines[0];
    assert_eq!(here["image"], present.as_str());
    assert_eq!(here["present"], pulled.config_digest.as_str(), "{out}");
    assert_eq!(here["decision"], "use-local", "{out}");
    assert!(
        here["verification"]
            .as_str()
            .unwrap()
            .starts_with("not required: NeverVerifyPreloadedImages"),
        "{out}"
    );
    let there = &lines[1];
    assert_eq!(there["present"], Value::Null);
    assert_eq!(there["decision"], "pull");
    assert_eq!(there["verdict"], "pullable", "{out}");

    // The text report says where the list came from.
    let (_, text, _) = node_check(r, &["-f", pods.to_str().unwrap()]);
    assert!(
        text.contains(
            "Images on the node: 1 (listed by the runtime on /run/containerd/containerd.sock)"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("on the node: {}", pulled.config_digest)),
        "{text}"
    );

    // No runtime listening: said so, and the containers are checked as if their images were
    // absent (no decision).
    let (_, text, _) = node_check(
        r,
        &[
            "-f",
            pods.to_str().unwrap(),
            "--cri-socket",
            "/run/nothing.sock",
        ],
    );
    assert!(
        text.contains("Images on the node: not listed (cannot connect to the CRI socket"),
        "{text}"
    );
}
