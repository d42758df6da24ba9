//! Fixtures shared by the criterion benchmarks in `benches/benches/`.

#![deny(missing_docs)]

use std::collections::BTreeMap;

use pullsim_store::{ImageRecord, Origin, Store};

/// The registry host of the images [`store_with_images`] records.
pub const HOST: &str = "registry.example.com";

/// A fresh store holding `n` image names `HOST/team{i}/app:v1`, all sharing one small image's
/// blobs, recorded with `origin`. The temporary directory must outlive the store.
///
/// Panics on I/O errors: this is benchmark set-up, not product code.
pub fn store_with_images(n: usize, origin: Origin) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = fill_store(dir.path(), n, origin);
    (dir, store)
}

/// The store at `root` (created when absent) with `n` image names `HOST/team{i}/app:v1`
/// recorded, all sharing one small image's blobs (a layer, a config, a manifest).
///
/// Panics on I/O errors: this is benchmark set-up, not product code.
pub fn fill_store(root: &std::path::Path, n: usize, origin: Origin) -> Store {
    let store = Store::open(root).expect("open");
    let layer = store.put_bytes(&[1u8; 4096]).expect("layer");
    let config = store.put_bytes(br#"{"os":"linux"}"#).expect("config");
    let manifest = store
        .put_bytes(format!(r#"{{"config":"{config}","layers":["{layer}"]}}"#).as_bytes())
        .expect("manifest");
    let recs: Vec<ImageRecord> = (0..n)
        .map(|i| ImageRecord {
            name: format!("{HOST}/team{i}/app"),
            tag: Some("v1".into()),
            digest: None,
            written_as: format!("{HOST}/team{i}/app:v1"),
            manifest_digest: manifest.clone(),
            media_type: pullsim_store::OCI_MANIFEST.into(),
            config_digest: config.clone(),
            platform: Some("linux/amd64".into()),
            size: 4200,
            blobs: vec![manifest.clone(), config.clone(), layer.clone()],
            first_seen_ms: 1,
            last_used_ms: 1,
            pinned: false,
            labels: BTreeMap::new(),
            origin,
        })
        .collect();
    store.record_images(&recs).expect("record");
    store
}

/// A manifest of `n` Pods (`default/p{i}`), each with one container running
/// `HOST/team{i}/app:v1` with `imagePullPolicy: IfNotPresent`: with a store from
/// [`fill_store`] of at least `n` images, every image is present.
pub fn pods_yaml(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: default\nspec:\n  \
             containers:\n  - name: c\n    image: {HOST}/team{i}/app:v1\n    \
             imagePullPolicy: IfNotPresent\n"
        ));
    }
    s
}
