//! `Store::load`: OCI layouts (directory and tar) and docker-archives, and bad input: truncated
//! tar, tampered blob, wrong digest in index.json, unknown media type, missing blob. A failed
//! load records nothing and leaves no blob behind.

use std::fs;
use std::path::{Path, PathBuf};

use pullsim_reference::Reference;
use pullsim_store::{LoadOptions, Origin, Store, StoreError};
use pullsim_testsupport::image::{GeneratedImage, ImageSpec, LayerSpec, generate};
use serde_json::{Value, json};

fn opts(name: &str) -> LoadOptions {
    LoadOptions {
        name: Some(name.to_string()),
        now_ms: 0,
    }
}

fn layout(dir: &Path, spec: &ImageSpec) -> GeneratedImage {
    generate(dir, spec).unwrap()
}

/// Tar up a directory (paths relative to it).
fn tar_dir(dir: &Path, out: &Path) {
    let f = fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

fn assert_nothing_stored(store: &Store) {
    assert!(store.list().unwrap().is_empty(), "no image recorded");
    let blobs: Vec<_> = fs::read_dir(store.blobs_dir()).unwrap().collect();
    assert!(blobs.is_empty(), "no blob left behind: {blobs:?}");
}

fn set_index(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("index.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn blob_file(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn loads_an_oci_layout_directory_as_preloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let img = layout(
        &tmp.path().join("lay"),
        &ImageSpec::simple("v1", 2, 2048, 1),
    );
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store
        .load(&tmp.path().join("lay"), &opts("registry.local/app"))
        .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].key, "registry.local/app:v1");
    let rec = store
        .lookup(&Reference::parse_normalized("registry.local/app:v1").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(rec.origin, Origin::Preloaded);
    assert_eq!(rec.manifest_digest.as_str(), img.top_digest());
    assert_eq!(rec.config_digest.as_str(), img.manifests[0].config_digest);
    assert_eq!(rec.blobs.len(), 4);
    assert_eq!(rec.platform.as_deref(), Some("linux/amd64"));
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn loads_a_multi_arch_layout_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let img = layout(
        &tmp.path().join("lay"),
        &ImageSpec::multi_arch("m", 1, 1024, 2),
    );
    let tar = tmp.path().join("lay.tar");
    tar_dir(&tmp.path().join("lay"), &tar);
    let store = Store::open(&tmp.path().join("root")).unwrap();
    store.load(&tar, &opts("example.com/multi")).unwrap();
    let rec = store
        .lookup(&Reference::parse_normalized("example.com/multi:m").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(rec.manifest_digest.as_str(), img.top_digest());
    assert_eq!(rec.media_type, "application/vnd.oci.image.index.v1+json");
    // index + 2 x (manifest + config + layer)
    assert_eq!(rec.blobs.len(), 7);
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn tag_only_names_need_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    layout(&tmp.path().join("lay"), &ImageSpec::simple("v1", 1, 100, 3));
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store
        .load(&tmp.path().join("lay"), &LoadOptions::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("index.json") && text.contains("--name"),
        "{text}"
    );
    assert_nothing_stored(&store);
}

#[test]
fn truncated_tar_is_rejected_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    layout(
        &tmp.path().join("lay"),
        &ImageSpec::simple("v1", 2, 50_000, 4),
    );
    let tar = tmp.path().join("lay.tar");
    tar_dir(&tmp.path().join("lay"), &tar);
    let len = fs::metadata(&tar).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&tar).unwrap();
    f.set_len(len / 2).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&tar, &opts("a/b")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("lay.tar"), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn tampered_blob_is_rejected_naming_blob_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lay");
    let img = layout(&dir, &ImageSpec::simple("v1", 2, 4096, 5));
    let layer = &img.manifests[0].layers[1].digest;
    let p = blob_file(&dir, layer);
    let mut bytes = fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&p, bytes).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("a/b")).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(layer.as_str()), "{text}");
    assert!(text.contains(&p.display().to_string()), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn wrong_digest_in_index_json_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lay");
    layout(&dir, &ImageSpec::simple("v1", 1, 1000, 6));
    let wrong = format!("sha256:{}", "ab".repeat(32));
    set_index(&dir, |v| v["manifests"][0]["digest"] = json!(wrong));
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("a/b")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&wrong), "{text}");
    assert!(text.contains("index.json"), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn wrong_size_in_index_json_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lay");
    let img = layout(&dir, &ImageSpec::simple("v1", 1, 1000, 7));
    set_index(&dir, |v| {
        v["manifests"][0]["size"] = json!(img.manifests[0].size + 1)
    });
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("a/b")).unwrap_err();
    assert!(matches!(err, StoreError::SizeMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains(img.top_digest()), "{err}");
    assert_nothing_stored(&store);
}

#[test]
fn unknown_media_type_is_rejected_naming_blob_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lay");
    let img = layout(&dir, &ImageSpec::simple("v1", 1, 1000, 8));
    set_index(&dir, |v| {
        v["manifests"][0]["mediaType"] = json!("application/vnd.example.thing+json")
    });
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("a/b")).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownMediaType { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("application/vnd.example.thing+json"),
        "{text}"
    );
    assert!(text.contains(img.top_digest()), "{text}");
    assert!(text.contains("index.json"), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn missing_blob_is_rejected_naming_blob_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lay");
    let img = layout(&dir, &ImageSpec::simple("v1", 2, 1000, 9));
    let layer = img.manifests[0].layers[0].digest.clone();
    fs::remove_file(blob_file(&dir, &layer)).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("a/b")).unwrap_err();
    assert!(matches!(err, StoreError::BlobNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&layer), "{text}");
    assert!(
        text.contains(img.top_digest().trim_start_matches("sha256:")),
        "{text}"
    );
    assert_nothing_stored(&store);
}

/// A docker-archive (docker save format) made from a layout with uncompressed layers.
fn docker_archive(tmp: &Path, seed: u64, tamper: bool) -> (PathBuf, GeneratedImage) {
    let dir = tmp.join(format!("lay{seed}"));
    let spec = ImageSpec {
        layers: vec![LayerSpec::plain(3000), LayerSpec::plain(5000)],
        ..ImageSpec::simple("v1", 0, 0, seed)
    };
    let img = layout(&dir, &spec);
    let out = tmp.join(format!("docker{seed}.tar"));
    let f = fs::File::create(&out).unwrap();
    let mut b = tar::Builder::new(f);
    let m = &img.manifests[0];
    let cfg_name = format!("{}.json", m.config_digest.trim_start_matches("sha256:"));
    b.append_path_with_name(blob_file(&dir, &m.config_digest), &cfg_name)
        .unwrap();
    let mut layers = Vec::new();
    for (i, l) in m.layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        let mut bytes = fs::read(blob_file(&dir, &l.digest)).unwrap();
        if tamper && i == 1 {
            bytes[600] ^= 1;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, &name, bytes.as_slice()).unwrap();
        layers.push(name);
    }
    let manifest = json!([{"Config": cfg_name, "RepoTags": ["busybox:1.36", "localhost:5000/bb:v1"], "Layers": layers}]);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "manifest.json", bytes.as_slice())
        .unwrap();
    b.into_inner().unwrap();
    (out, img)
}

#[test]
fn loads_a_docker_archive_under_its_repo_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, img) = docker_archive(tmp.path(), 10, false);
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store.load(&tar, &LoadOptions::default()).unwrap();
    let keys: Vec<&str> = loaded.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["docker.io/library/busybox:1.36", "localhost:5000/bb:v1"]
    );
    let rec = store
        .lookup(&Reference::parse_normalized("busybox:1.36").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(rec.config_digest.as_str(), img.manifests[0].config_digest);
    // The layers keep their (uncompressed) digests; the manifest is generated.
    for l in &img.manifests[0].layers {
        assert!(rec.blobs.iter().any(|b| b.as_str() == l.digest));
    }
    let manifest: Value =
        serde_json::from_slice(&store.read_blob(&rec.manifest_digest).unwrap()).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar"
    );
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn docker_archive_with_a_tampered_layer_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, img) = docker_archive(tmp.path(), 11, true);
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&tar, &LoadOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("layer1/layer.tar"), "{text}");
    assert!(text.contains(&img.manifests[0].layers[1].diff_id), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn neither_layout_nor_archive_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("empty");
    fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("neither an OCI image layout"),
        "{err}"
    );
}

#[test]
fn a_text_file_is_not_a_tar_archive_and_its_content_is_not_echoed() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("notes.txt");
    let line = "root:x:0:0:root:/root:/bin/bash\n";
    fs::write(&file, line.repeat(40)).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&file, &opts("a/b")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("notes.txt"), "{text}");
    assert!(text.contains("not a tar archive"), "{text}");
    assert!(!text.contains("/bin/bash"), "file content echoed: {text}");
    assert!(!text.contains('\n'), "one line: {text}");
    assert_nothing_stored(&store);
}

#[test]
fn a_corrupt_header_mid_archive_names_the_last_good_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("two.tar");
    let mut b = tar::Builder::new(fs::File::create(&tar).unwrap());
    for name in ["oci-layout", "index.json"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(512);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &[b'x'; 512][..]).unwrap();
    }
    b.into_inner().unwrap();
    // The second header (block 2) becomes text.
    let mut bytes = fs::read(&tar).unwrap();
    let junk = "garbage line\n".repeat(40);
    bytes[1024..1536].copy_from_slice(&junk.as_bytes()[..512]);
    fs::write(&tar, &bytes).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&tar, &opts("a/b")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("two.tar"), "{text}");
    assert!(
        text.contains("corrupt or truncated after entry oci-layout"),
        "{text}"
    );
    assert!(!text.contains("garbage"), "header bytes echoed: {text}");
    assert_nothing_stored(&store);
}

#[test]
fn a_missing_file_says_the_os_reason_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store
        .load(&tmp.path().join("absent.tar"), &opts("a/b"))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("absent.tar"), "{text}");
    assert_eq!(text.matches("No such file").count(), 1, "{text}");
    // The reason is in the message, not repeated by a source() chain.
    assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    assert_nothing_stored(&store);
}

#[test]
fn loads_a_gzip_compressed_archive_and_names_it_in_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, _img) = docker_archive(tmp.path(), 12, false);
    let gz = tmp.path().join("docker12.tar.gz");
    let mut enc =
        flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::copy(&mut fs::File::open(&tar).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store.load(&gz, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(
        fs::read_dir(store.ingest_dir()).unwrap().count(),
        0,
        "temp copy removed"
    );

    let (bad, _) = docker_archive(tmp.path(), 13, true);
    let badgz = tmp.path().join("bad.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&badgz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut fs::File::open(&bad).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let root2 = Store::open(&tmp.path().join("root2")).unwrap();
    let err = root2.load(&badgz, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("bad.tar.gz (gzip):layer1/layer.tar"),
        "{err}"
    );
    assert_nothing_stored(&root2);
}
