//! Interoperability with skopeo (a real OCI/docker-archive implementation; no registry needed):
//! a docker-archive written by `skopeo copy ... docker-archive:` loads, and the oci-archive
//! written by `pullsim images save` is read by `skopeo copy oci-archive:` with digests unchanged.

use std::path::Path;
use std::process::{Command, Output};

use pullsim_testsupport::image::{ImageSpec, generate};
use serde_json::Value;

fn run(cmd: &mut Command) -> String {
    let o: Output = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn pullsim(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pullsim"));
    c.env_remove("PULLSIM_ROOT").arg("--root").arg(root);
    c
}

fn skopeo() -> Command {
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn index_digests(dir: &Path) -> Vec<String> {
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect()
}

fn ls_json(root: &Path) -> Vec<Value> {
    run(pullsim(root).args(["images", "ls", "-o", "json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn docker_archive_written_by_skopeo_loads() {
    let t = tempfile::tempdir().unwrap();
    let lay = t.path().join("lay");
    let img = generate(&lay, &ImageSpec::simple("v1", 2, 4000, 21)).unwrap();
    let archive = t.path().join("x.tar");
    run(skopeo().args([
        "copy",
        &format!("oci:{}:v1", lay.display()),
        &format!("docker-archive:{}:foo/bar:1.0", archive.display()),
    ]));
    let root = t.path().join("root");
    let out = run(pullsim(&root).args(["images", "load"]).arg(&archive));
    assert!(out.contains("Loaded image: foo/bar:1.0"), "{out}");
    let ls = ls_json(&root);
    assert_eq!(ls[0]["name"], "docker.io/foo/bar:1.0");
    // The config (image ID) is carried over unchanged.
    assert_eq!(ls[0]["id"], img.manifests[0].config_digest.as_str());
    assert_eq!(
        ls[0]["media_type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    run(pullsim(&root).args(["images", "verify"]));

    // Saved again, it is read back by skopeo (one image, so no name is needed: containers/image
    // matches names only on OCI-typed index entries) with the generated manifest unchanged.
    let out = t.path().join("again.tar");
    run(pullsim(&root)
        .args(["images", "save", "foo/bar:1.0", "-o"])
        .arg(&out));
    // (`dir:` keeps the manifest as it is; `oci:` would convert a Docker manifest to OCI.)
    let copy = t.path().join("copy");
    run(skopeo().args([
        "copy",
        &format!("oci-archive:{}", out.display()),
        &format!("dir:{}", copy.display()),
    ]));
    let manifest = std::fs::read(copy.join("manifest.json")).unwrap();
    assert_eq!(
        pullsim_testsupport::image::sha256_digest(&manifest),
        ls[0]["manifest_digest"].as_str().unwrap()
    );
}

#[test]
fn save_is_read_by_skopeo_with_digests_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let lay = t.path().join("lay");
    let single = generate(&lay, &ImageSpec::simple("v1", 2, 3000, 22)).unwrap();
    let multi = generate(&lay, &ImageSpec::multi_arch("m", 1, 2000, 23)).unwrap();
    let root = t.path().join("root");
    run(pullsim(&root)
        .args(["images", "load", "--name", "app"])
        .arg(&lay));
    let out = t.path().join("out.tar");
    run(pullsim(&root)
        .args(["images", "save", "app:v1", "app:m", "-o"])
        .arg(&out));

    let dir2 = t.path().join("dir2");
    run(skopeo().args([
        "copy",
        &format!("oci-archive:{}:docker.io/library/app:v1", out.display()),
        &format!("oci:{}:v1", dir2.display()),
    ]));
    assert_eq!(index_digests(&dir2), vec![single.top_digest().to_string()]);

    let dir3 = t.path().join("dir3");
    run(skopeo().args([
        "copy",
        "--all",
        &format!("oci-archive:{}:docker.io/library/app:m", out.display()),
        &format!("oci:{}:m", dir3.display()),
    ]));
    assert_eq!(index_digests(&dir3), vec![multi.top_digest().to_string()]);

    // The store root itself is an OCI image layout that skopeo reads.
    let dir4 = t.path().join("dir4");
    run(skopeo().args([
        "copy",
        &format!("oci:{}:docker.io/library/app:v1", root.display()),
        &format!("oci:{}:v1", dir4.display()),
    ]));
    assert_eq!(index_digests(&dir4), vec![single.top_digest().to_string()]);

    // And `images load` reads the skopeo copy back.
    let root2 = t.path().join("root2");
    run(pullsim(&root2)
        .args(["images", "load", "--name", "again"])
        .arg(&dir2));
    let ls = ls_json(&root2);
    assert_eq!(ls[0]["manifest_digest"], single.top_digest());
}
