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
    let store = Store::open(dir.path()).expect("open");
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
    (dir, store)
}
