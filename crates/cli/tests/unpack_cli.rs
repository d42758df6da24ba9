//! `pull` and `pod run` unpack as a node does (a CRI pull always unpacks): an image whose
//! config lists a wrong diff_id fails with containerd's unpack error, and `--no-unpack` pulls it
//! as a fetch-only pull (`ctr content fetch`, skopeo) would. Real registry (testsupport).

use std::path::Path;
use std::process::Command;

use pullsim_testsupport::image::{ImageSpec, Tamper};
use pullsim_testsupport::{Mode, shared};
use serde_json::Value;

fn pullsim(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_wrong_diff_id_fails_the_pull_and_no_unpack_fetches_it() {
    let reg = shared(Mode::Anonymous);
    let img = reg
        .push_generated_with(
            &ImageSpec::simple("v1", 2, 3000, 1301),
            &Tamper::wrong_diff_id(1),
            "cli/baddiff:v1",
        )
        .unwrap();
    let layer = &img.manifests[0].layers[1];
    let image = reg.reference("cli/baddiff:v1");
    let root = tempfile::tempdir().unwrap();
    let (code, out) = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(code, 1, "{out}");
    let failed: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["reason"] == "Failed")
        .unwrap_or_else(|| panic!("{out}"));
    // containerd 2.x's unpacker (core/unpack/unpacker.go@v2.3.4): "wrong diff id %q calculated
    // on extraction %q, desc %q" — the digest computed, the config's diff_id, the layer.
    let msg = failed["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "Failed to pull image \"{image}\": failed to pull and unpack image \"{image}\": wrong diff id \"{}\" calculated on extraction \"",
            layer.diff_id
        )) && msg.ends_with(&format!("\", desc \"{}\"", layer.digest)),
        "{msg}"
    );
    // The same as a pod; the image is not recorded.
    let pods = root.path().join("pod.yaml");
    std::fs::write(
        &pods,
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: default}}\nspec:\n  containers: [{{name: app, image: \"{image}\"}}]\n"),
    )
    .unwrap();
    let (code, out) = pullsim(root.path(), &["pod", "run", &pods.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("wrong diff id"), "{out}");
    // Fetch only: the same image pulls.
    let (code, out) = pullsim(root.path(), &["pull", &image, "--no-unpack", "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&img.manifests[0].config_digest), "{out}");
    assert!(!out.contains("\"kind\":\"unpack\""), "{out}");
}

#[test]
fn a_good_image_reports_its_unpack() {
    let reg = shared(Mode::Anonymous);
    reg.push_generated(&ImageSpec::simple("v1", 3, 3000, 1302), "cli/goodunpack:v1")
        .unwrap();
    let image = reg.reference("cli/goodunpack:v1");
    let root = tempfile::tempdir().unwrap();
    let (code, out) = pullsim(root.path(), &["pull", &image, "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    let unpack: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["kind"] == "unpack")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(unpack["layers"], 3, "{out}");
    assert_eq!(unpack["decompressed_while_downloading"], 3, "{out}");
    assert!(
        unpack["uncompressed_bytes"].as_u64().unwrap() >= 9000,
        "{out}"
    );
}
