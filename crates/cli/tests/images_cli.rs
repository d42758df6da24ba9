//! `pullsim images ...` run as the real binary on a temporary store root: load, ls (text and
//! JSON), inspect, pin/unpin, rm, du, verify (clean, corrupt blob, missing blob, --repair),
//! gc, save, usage errors, and two and eight concurrent loads into one root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pullsim_testsupport::image::{ImageSpec, generate};
use serde_json::Value;

fn pullsim(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("PULLSIM_ROOT")
        .output()
        .expect("run pullsim")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A temp dir with an OCI layout holding tags v1 and v2 (different images).
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let lay = tmp.path().join("lay");
    generate(&lay, &ImageSpec::simple("v1", 2, 3000, 1)).unwrap();
    generate(&lay, &ImageSpec::simple("v2", 1, 2000, 2)).unwrap();
    let root = tmp.path().join("root");
    (tmp, lay, root)
}

#[test]
fn load_ls_inspect_pin_rm() {
    let (_t, lay, root) = setup();
    let out = ok(&pullsim(
        &root,
        &["images", "load", "--name", "nginx", lay.to_str().unwrap()],
    ));
    assert!(out.contains("Loaded image: nginx:v1"), "{out}");
    assert!(out.contains("Loaded image: nginx:v2"), "{out}");

    let text = ok(&pullsim(&root, &["images", "ls"]));
    let header = text.lines().next().unwrap();
    for col in [
        "IMAGE",
        "WRITTEN AS",
        "IMAGE ID",
        "SIZE",
        "AGE",
        "ORIGIN",
        "PINNED",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(text.contains("docker.io/library/nginx:v1"), "{text}");
    assert!(text.contains("preloaded"), "{text}");

    let ls = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    assert_eq!(ls.len(), 2);
    assert_eq!(ls[0]["name"], "docker.io/library/nginx:v1");
    let only = json_lines(&ok(&pullsim(
        &root,
        &["images", "ls", "-o", "json", "library/nginx:v2"],
    )));
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["name"], "docker.io/library/nginx:v2");
    let none = ok(&pullsim(&root, &["images", "ls", "-o", "json", "other"]));
    assert!(none.is_empty(), "{none}");
    assert_eq!(ls[0]["written_as"], "nginx:v1");
    assert_eq!(ls[0]["origin"], "preloaded");
    let id = ls[0]["id"].as_str().unwrap().to_string();

    // inspect by normalized reference and by short ID
    for arg in ["docker.io/library/nginx:v1", &id[7..19]] {
        let v = json_lines(&ok(&pullsim(
            &root,
            &["images", "inspect", "-o", "json", arg],
        )));
        assert_eq!(v[0]["id"], id.as_str(), "{arg}");
        assert_eq!(v[0]["blobs"].as_array().unwrap().len(), 4);
    }

    ok(&pullsim(&root, &["images", "pin", "nginx:v1"]));
    let ls = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    assert_eq!(ls[0]["pinned"], true);
    ok(&pullsim(&root, &["images", "unpin", "nginx:v1"]));

    let out = ok(&pullsim(&root, &["images", "rm", "nginx:v2"]));
    assert!(out.contains("Deleted: docker.io/library/nginx:v2"), "{out}");
    let ls = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    assert_eq!(ls.len(), 1);

    let missing = pullsim(&root, &["images", "rm", "nginx:nope"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("no such image \"nginx:nope\""), "{err}");

    let du = json_lines(&ok(&pullsim(&root, &["images", "du", "-o", "json"])));
    assert_eq!(du[0]["images"], 1);
    assert_eq!(du[0]["unreferenced_blobs"], 0);
}

#[test]
fn verify_finds_corruption_and_repair_drops_broken_images() {
    let (_t, lay, root) = setup();
    ok(&pullsim(
        &root,
        &["images", "load", "--name", "app", lay.to_str().unwrap()],
    ));
    let clean = ok(&pullsim(&root, &["images", "verify"]));
    assert!(clean.contains("0 problems"), "{clean}");

    let ls = json_lines(&ok(&pullsim(
        &root,
        &["images", "inspect", "-o", "json", "app:v1"],
    )));
    let layer = ls[0]["blobs"][2]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blob = root.join("blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let bad = pullsim(&root, &["images", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("corrupt blob") && text.contains(&layer),
        "{text}"
    );
    assert!(text.contains(": 1 problem, "), "singular: {text}");

    let repaired = ok(&pullsim(&root, &["images", "verify", "--repair"]));
    assert!(
        repaired.contains("dropped image docker.io/library/app:v1"),
        "{repaired}"
    );
    assert!(repaired.contains("0 problems"), "{repaired}");
    let ls = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0]["name"], "docker.io/library/app:v2");

    // A missing blob: reported, and repaired the same way.
    let v2 = json_lines(&ok(&pullsim(
        &root,
        &["images", "inspect", "-o", "json", "app:v2"],
    )));
    let cfg = v2[0]["blobs"][1]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    std::fs::remove_file(root.join("blobs/sha256").join(&cfg)).unwrap();
    let bad = pullsim(&root, &["images", "verify", "-o", "json"]);
    assert_eq!(bad.status.code(), Some(1));
    let v = json_lines(&String::from_utf8_lossy(&bad.stdout));
    assert!(
        v[0]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains(&cfg)),
        "{v:?}"
    );
    ok(&pullsim(&root, &["images", "verify", "--repair"]));
    ok(&pullsim(&root, &["images", "verify"]));
}

#[test]
fn a_failed_load_exits_1_names_blob_and_file_and_records_nothing() {
    let (_t, lay, root) = setup();
    let index: Value =
        serde_json::from_slice(&std::fs::read(lay.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m: Value = serde_json::from_slice(
        &std::fs::read(lay.join("blobs/sha256").join(&manifest[7..])).unwrap(),
    )
    .unwrap();
    let layer = m["layers"][1]["digest"].as_str().unwrap().to_string();
    let file = lay.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let out = pullsim(
        &root,
        &["images", "load", "--name", "app", lay.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("error: digest mismatch")),
        "{err}"
    );
    assert!(
        err.contains(&layer) && err.contains(&file.display().to_string()),
        "{err}"
    );
    assert!(ok(&pullsim(&root, &["images", "ls", "-o", "json"])).is_empty());
    let du = json_lines(&ok(&pullsim(&root, &["images", "du", "-o", "json"])));
    assert_eq!(du[0]["blobs"], 0, "{du:?}");
}

#[test]
fn gc_prints_the_kubelet_warning_when_it_cannot_free_enough() {
    let (_t, lay, root) = setup();
    ok(&pullsim(
        &root,
        &["images", "load", "--name", "app", lay.to_str().unwrap()],
    ));
    ok(&pullsim(&root, &["images", "pin", "app:v1", "app:v2"]));
    let out = pullsim(
        &root,
        &[
            "images",
            "gc",
            "--capacity",
            "10000",
            "--min-age",
            "0",
            "-o",
            "json",
        ],
    );
    let v = json_lines(&ok(&out));
    assert_eq!(v[0]["deleted"].as_array().unwrap().len(), 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FreeDiskSpaceFailed  Failed to garbage collect required amount of images. Attempted to free"),
        "{err}"
    );
    ok(&pullsim(&root, &["images", "unpin", "app:v1"]));
    let v = json_lines(&ok(&pullsim(
        &root,
        &[
            "images",
            "gc",
            "--capacity",
            "1Mi",
            "--max-age",
            "1ms",
            "--min-age",
            "0",
            "-o",
            "json",
        ],
    )));
    assert_eq!(v[0]["deleted"][0], "docker.io/library/app:v1");
    let zero = pullsim(&root, &["images", "gc", "--capacity", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("invalid capacity 0 on image filesystem")
    );
    let usage = pullsim(&root, &["images", "gc", "--capacity", "ten"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn save_then_load_into_another_root_keeps_digests() {
    let (t, lay, root) = setup();
    ok(&pullsim(
        &root,
        &["images", "load", "--name", "app", lay.to_str().unwrap()],
    ));
    let out = t.path().join("out.tar");
    ok(&pullsim(
        &root,
        &[
            "images",
            "save",
            "app:v1",
            "app:v2",
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    let root2 = t.path().join("root2");
    ok(&pullsim(&root2, &["images", "load", out.to_str().unwrap()]));
    let a = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    let b = json_lines(&ok(&pullsim(&root2, &["images", "ls", "-o", "json"])));
    let key = |v: &Vec<Value>| -> Vec<(String, String, String)> {
        v.iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap().into(),
                    x["manifest_digest"].as_str().unwrap().into(),
                    x["id"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(key(&a), key(&b));
    ok(&pullsim(&root2, &["images", "verify"]));
}

fn concurrent_loads(n: usize) {
    let (t, lay, root) = setup();
    // Each process loads the shared layout plus an image of its own.
    let mut children = Vec::new();
    for i in 0..n {
        let own = t.path().join(format!("own{i}"));
        generate(&own, &ImageSpec::simple("x", 2, 20_000, 100 + i as u64)).unwrap();
        for src in [&lay, &own] {
            let c = Command::new(env!("CARGO_BIN_EXE_pullsim"))
                .arg("--root")
                .arg(&root)
                .args(["images", "load", "--name", &format!("p{i}/img")])
                .arg(src)
                .output_async();
            children.push(c);
        }
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        ok(&out);
    }
    let v = json_lines(&ok(&pullsim(&root, &["images", "verify", "-o", "json"])));
    assert_eq!(v[0]["clean"], true, "{v:?}");
    let ls = json_lines(&ok(&pullsim(&root, &["images", "ls", "-o", "json"])));
    assert_eq!(ls.len(), 3 * n);
}

trait SpawnPiped {
    fn output_async(&mut self) -> std::process::Child;
}

impl SpawnPiped for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.env_remove("PULLSIM_ROOT")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn two_concurrent_loads_into_one_root() {
    concurrent_loads(2);
}

#[test]
fn eight_concurrent_loads_into_one_root() {
    concurrent_loads(8);
}

/// The cache-hit names of one image: `nginx`, `docker.io/library/nginx:latest`,
/// `library/nginx` (and the legacy `index.docker.io`) all find the image loaded as
/// `nginx:latest`; `ls` shows the normalized and the as-written name; a miss names what the
/// argument normalized to and the tags the repository does have.
#[test]
fn short_and_full_names_are_one_image_and_misses_say_what_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let lay = tmp.path().join("lay");
    generate(&lay, &ImageSpec::simple("latest", 1, 1500, 5)).unwrap();
    let root = tmp.path().join("root");
    ok(&pullsim(
        &root,
        &["images", "load", "--name", "nginx", lay.to_str().unwrap()],
    ));
    let mut ids = Vec::new();
    for arg in [
        "nginx",
        "nginx:latest",
        "library/nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/library/nginx",
    ] {
        let v = json_lines(&ok(&pullsim(
            &root,
            &["images", "inspect", "-o", "json", arg],
        )));
        assert_eq!(v.len(), 1, "{arg}");
        assert_eq!(v[0]["name"], "docker.io/library/nginx:latest", "{arg}");
        ids.push(v[0]["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");

    let text = ok(&pullsim(&root, &["images", "ls"]));
    let row = text.lines().nth(1).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[0], "docker.io/library/nginx:latest", "{text}");
    assert_eq!(cols[1], "nginx:latest", "{text}");

    let miss = pullsim(&root, &["images", "inspect", "nginx:1.27"]);
    assert_eq!(miss.status.code(), Some(2));
    let err = String::from_utf8_lossy(&miss.stderr);
    assert!(
        err.contains("no such image \"nginx:1.27\" (docker.io/library/nginx:1.27) in ",),
        "{err}"
    );
    assert!(
        err.contains("docker.io/library/nginx is there as :latest"),
        "{err}"
    );
}

/// `pullsim images ls | head -1`: a reader that closes the pipe ends the output quietly
/// (exit 0, no panic), as `ls` and `crictl images` do.
#[test]
fn a_closed_stdout_pipe_ends_output_quietly() {
    let (_t, lay, root) = setup();
    ok(&pullsim(
        &root,
        &["images", "load", "--name", "nginx", lay.to_str().unwrap()],
    ));
    for args in [
        &["images", "ls"][..],
        &["images", "inspect", "nginx:v1"][..],
        &["images", "du", "-o", "json"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write to stdout now fails with EPIPE
        let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("PULLSIM_ROOT")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Every `images` subcommand's --help ends with examples; the group's help explains the root,
/// name normalization and the exit status.
#[test]
fn help_texts_teach_with_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let group = ok(&pullsim(&root, &["images", "--help"]));
    for needle in [
        "$PULLSIM_ROOT",
        "blobs/sha256/<hex>",
        "docker.io/library/nginx:latest are one image",
        "Examples:",
        "Exit status: 0 on success; 1 when verify finds problems; 2 on",
    ] {
        assert!(group.contains(needle), "{needle}: {group}");
    }
    for sub in [
        "ls", "inspect", "rm", "pin", "unpin", "gc", "verify", "du", "load", "save",
    ] {
        let text = ok(&pullsim(&root, &["images", sub, "--help"]));
        assert!(text.contains("Examples:"), "{sub}: {text}");
        assert!(
            text.contains(&format!("pullsim images {sub} ")),
            "{sub}: {text}"
        );
    }
}
