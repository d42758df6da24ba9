//! Loads of hostile archives and layouts (issue 11, items 5 and 8): bombs are refused within
//! bounded time, memory and disk, and directory loads stay inside their directory.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use pullsim_store::{LoadOptions, Store, StoreError};
use pullsim_testsupport::image::{ImageSpec, LayerSpec, generate};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn opts(name: &str) -> LoadOptions {
    LoadOptions {
        name: Some(name.to_string()),
        now_ms: 0,
    }
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn put(dir: &Path, bytes: &[u8]) -> String {
    let d = sha(bytes);
    fs::write(dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    d
}

fn ingest_is_empty(store: &Store) -> bool {
    fs::read_dir(store.ingest_dir())
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

fn assert_nothing_stored(store: &Store) {
    assert!(store.list().unwrap().is_empty(), "no image recorded");
    let blobs: Vec<_> = fs::read_dir(store.blobs_dir()).unwrap().collect();
    assert!(blobs.is_empty(), "no blob left behind: {blobs:?}");
    assert!(ingest_is_empty(store), "nothing left in ingest/");
}

/// An index listing the same child `n` times, nested `levels` deep above one real image.
#[test]
fn index_fanout_bomb_loads_in_bounded_time() {
    let tmp = tempfile::tempdir().unwrap();
    let lay = tmp.path().join("lay");
    let img = generate(
        &lay,
        &ImageSpec {
            layers: vec![LayerSpec::plain(2000)],
            ..ImageSpec::simple("v1", 0, 0, 5)
        },
    )
    .unwrap();
    let m = &img.manifests[0];
    let image_size = m.total_size + m.size;
    let mut child = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": m.digest, "size": m.size,
    });
    let (n, levels) = (20_000, 4);
    let mut index_sizes = 0;
    for _ in 0..levels {
        let doc = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": vec![child.clone(); n],
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        index_sizes += bytes.len() as u64;
        let d = put(&lay, &bytes);
        child = json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": d, "size": bytes.len(),
        });
    }
    child["annotations"] = json!({"org.opencontainers.image.ref.name": "bomb"});
    let index = json!({"schemaVersion": 2, "manifests": [child]});
    fs::write(lay.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let start = Instant::now();
    let loaded = store.load(&lay, &opts("example.com/bomb")).unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // Every blob counted once: the real image plus each index once.
    assert_eq!(loaded[0].size, image_size + index_sizes);
    let rec = store.list().unwrap().remove(0);
    assert_eq!(rec.blobs.len(), 3 + levels);
    assert!(store.verify(false).unwrap().is_clean());
}

/// Gzip of `n` zero bytes (a decompression bomb).
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        gz.write_all(&chunk[..k]).unwrap();
        left -= k;
    }
    gz.finish().unwrap()
}

#[test]
fn gzip_bomb_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bomb = tmp.path().join("bomb.tar.gz");
    // ~100 KiB that expands to 100 MiB: more than 100 times its size and the 64 MiB floor.
    let bytes = gzip_zeros(100 << 20);
    assert!(bytes.len() < 200 << 10, "{}", bytes.len());
    fs::write(&bomb, &bytes).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&bomb, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("bomb.tar.gz"), "{text}");
    assert!(text.contains(&format!("{}", 64u64 << 20)), "{text}");
    assert!(text.contains("decompression bomb"), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn gzip_bomb_layer_in_a_docker_archive_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dock");
    fs::create_dir_all(&dir).unwrap();
    let layer = gzip_zeros(100 << 20);
    fs::write(dir.join("layer.tar"), &layer).unwrap();
    let cfg = serde_json::to_vec(&json!({
        "os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:00"]},
    }))
    .unwrap();
    let cfg_name = format!("{}.json", &sha(&cfg)[7..]);
    fs::write(dir.join(&cfg_name), &cfg).unwrap();
    let manifest = json!([{"Config": cfg_name, "RepoTags": ["bomb:1"], "Layers": ["layer.tar"]}]);
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("layer.tar"), "{err}");
    assert_nothing_stored(&store);
}

#[test]
fn oversized_manifest_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let lay = tmp.path().join("lay");
    let img = generate(&lay, &ImageSpec::simple("v1", 1, 1000, 6)).unwrap();
    // The descriptor claims a 1 GiB manifest (as a 1 MB .tar.gz expanding to one would).
    let p = lay.join("index.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    v["manifests"][0]["size"] = json!(1u64 << 30);
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&lay, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&img.manifests[0].digest[7..]), "{text}");
    assert!(text.contains(&format!("{}", 8u64 << 20)), "{text}");
    assert_nothing_stored(&store);
}

#[test]
fn oversized_docker_config_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dock");
    fs::create_dir_all(&dir).unwrap();
    let f = fs::File::create(dir.join("big.json")).unwrap();
    f.set_len(9 << 20).unwrap();
    let manifest = json!([{"Config": "big.json", "RepoTags": ["x:1"], "Layers": []}]);
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("big.json"), "{err}");
    assert_nothing_stored(&store);
}

#[cfg(unix)]
#[test]
fn dir_load_refuses_symlinked_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let lay = tmp.path().join("lay");
    let img = generate(&lay, &ImageSpec::simple("v1", 1, 1000, 7)).unwrap();
    let layer = &img.manifests[0].layers[0].digest[7..];
    let blob = lay.join("blobs/sha256").join(layer);
    // The same content outside the layout, linked in.
    let outside = tmp.path().join("outside");
    fs::rename(&blob, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &blob).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&lay, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePath { .. }), "{err:?}");
    assert!(err.to_string().contains(layer), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_nothing_stored(&store);
    // A linked blobs/ directory is refused too.
    fs::remove_file(&blob).unwrap();
    fs::rename(&outside, &blob).unwrap();
    let moved = tmp.path().join("blobs-elsewhere");
    fs::rename(lay.join("blobs"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, lay.join("blobs")).unwrap();
    let err = store.load(&lay, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePath { .. }), "{err:?}");
}

#[test]
fn docker_archive_dir_refuses_layers_that_leave_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dock");
    fs::create_dir_all(&dir).unwrap();
    let layer = b"not really a tar, outside the archive".to_vec();
    fs::write(tmp.path().join("file"), &layer).unwrap();
    let cfg = serde_json::to_vec(&json!({
        "os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let cfg_name = format!("{}.json", &sha(&cfg)[7..]);
    fs::write(dir.join(&cfg_name), &cfg).unwrap();
    let manifest = json!([{"Config": cfg_name, "RepoTags": ["esc:1"], "Layers": ["../file"]}]);
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let err = store.load(&dir, &opts("example.com/x")).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePath { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("../file") && text.contains("leaves the directory"),
        "{text}"
    );
    assert_nothing_stored(&store);
}
