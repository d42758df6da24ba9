//! Property tests for the archive decoders not covered by hostile_loads.rs (issue 11): an OCI
//! layout's `index.json` (descriptors, annotations naming the image, platforms) and a
//! docker-archive's `manifest.json` (Config, RepoTags, Layers), as random bytes and as valid
//! documents with random edits (wrong types, odd names and digests, huge sizes, duplicated
//! entries, odd Unicode). A load never panics; it succeeds or fails with a bounded error, and
//! the store stays consistent (a failed load records nothing).

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use pullsim_store::{LoadOptions, Store};
use pullsim_testsupport::image::{ImageSpec, generate};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Load `dir`; check the outcome and the store afterwards.
fn load_and_check(
    store: &Store,
    dir: &Path,
    name: Option<&str>,
    input_len: usize,
) -> Result<(), TestCaseError> {
    let opts = LoadOptions {
        name: name.map(str::to_string),
        now_ms: 0,
    };
    match store.load(dir, &opts) {
        Ok(loaded) => {
            prop_assert!(!loaded.is_empty());
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                msg.len() <= 4096 + 3 * input_len,
                "{} bytes of error for {} bytes of input",
                msg.len(),
                input_len
            );
            prop_assert!(
                store.list().unwrap().is_empty(),
                "a failed load recorded an image: {msg}"
            );
        }
    }
    let report = store.verify(false).unwrap();
    prop_assert!(report.is_clean(), "{:?}", report);
    Ok(())
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(0)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!("../../etc/passwd")),
        Just(json!("/etc/hostname")),
        Just(json!(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )),
        Just(json!("sha256:XYZ")),
        Just(json!("sha512:00")),
        Just(json!("application/vnd.oci.image.index.v1+json")),
        Just(json!("example.com/app:1")),
        Just(json!(
            "example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )),
        Just(json!("UPPER/Case:tag")),
        Just(
            json!({"org.opencontainers.image.ref.name": "v2", "io.containerd.image.name": "docker.io/library/x:1"})
        ),
        Just(json!({"io.containerd.image.name": "\u{1b}[2J\u{0}é\u{202e}"})),
        Just(json!({"os": 1, "architecture": ["x"]})),
        "\\PC{0,24}".prop_map(Value::String),
    ]
}

fn all_paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(k.clone());
                all_paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(i.to_string());
                all_paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

/// Replace a value, add a key, or repeat a list entry many times, at a chosen path.
fn mutate(v: &mut Value, pick: usize, op: u8, value: Value) {
    let mut paths = Vec::new();
    all_paths(v, &mut Vec::new(), &mut paths);
    let path = &paths[pick % paths.len()];
    let Some(slot) = path.iter().try_fold(&mut *v, |v, k| match v {
        Value::Object(m) => m.get_mut(k),
        Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?),
        _ => None,
    }) else {
        return;
    };
    match (op % 4, slot) {
        (1, Value::Object(m)) => {
            m.insert("annotations".into(), value);
        }
        (2, Value::Array(a)) if !a.is_empty() => {
            let first = a[0].clone();
            a.extend(std::iter::repeat_n(first, 500));
        }
        (_, slot) => *slot = value,
    }
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, Value)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), odd_value()), 1..4)
}

/// A docker-archive directory: one config, one layer (a plain file), manifest.json.
fn docker_archive(dir: &Path) -> Value {
    fs::create_dir_all(dir).unwrap();
    let layer = b"layer bytes, not compressed".to_vec();
    fs::write(dir.join("layer.tar"), &layer).unwrap();
    let config = json!({
        "os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    });
    let cfg_bytes = serde_json::to_vec(&config).unwrap();
    let cfg_name = format!("{}.json", &sha(&cfg_bytes)[7..]);
    fs::write(dir.join(&cfg_name), &cfg_bytes).unwrap();
    json!([{"Config": cfg_name, "RepoTags": ["example.com/app:1"], "Layers": ["layer.tar"]}])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A valid OCI layout whose index.json is edited.
    #[test]
    fn mutated_oci_index(edits in edits(), name in proptest::option::of(Just("example.com/named"))) {
        let tmp = tempfile::tempdir().unwrap();
        let lay = tmp.path().join("lay");
        generate(&lay, &ImageSpec::simple("v1", 1, 64, 7)).unwrap();
        let mut index: Value = serde_json::from_slice(&fs::read(lay.join("index.json")).unwrap()).unwrap();
        for (pick, op, value) in edits {
            mutate(&mut index, pick, op, value);
        }
        let bytes = serde_json::to_vec(&index).unwrap();
        fs::write(lay.join("index.json"), &bytes).unwrap();
        let store = Store::open(&tmp.path().join("root")).unwrap();
        load_and_check(&store, &lay, name, bytes.len())?;
    }

    /// A valid docker-archive directory whose manifest.json is edited.
    #[test]
    fn mutated_docker_manifest(edits in edits(), name in proptest::option::of(Just("example.com/named"))) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dock");
        let mut manifest = docker_archive(&dir);
        for (pick, op, value) in edits {
            mutate(&mut manifest, pick, op, value);
        }
        let bytes = serde_json::to_vec(&manifest).unwrap();
        fs::write(dir.join("manifest.json"), &bytes).unwrap();
        let store = Store::open(&tmp.path().join("root")).unwrap();
        load_and_check(&store, &dir, name, bytes.len())?;
    }

    /// Random bytes as index.json or manifest.json.
    #[test]
    fn random_bytes_as_the_document(bytes in proptest::collection::vec(any::<u8>(), 0..200), docker in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("src");
        if docker {
            docker_archive(&dir);
            fs::write(dir.join("manifest.json"), &bytes).unwrap();
        } else {
            generate(&dir, &ImageSpec::simple("v1", 1, 64, 7)).unwrap();
            fs::write(dir.join("index.json"), &bytes).unwrap();
        }
        let store = Store::open(&tmp.path().join("root")).unwrap();
        load_and_check(&store, &dir, Some("example.com/named"), bytes.len())?;
    }
}
