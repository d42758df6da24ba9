//! Tests of OCI layout generation.

use std::io::Read;
use std::process::Command;

use pullsim_testsupport::image::{
    self, ImageSpec, LayerSpec, MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR,
    Platform, sha256_digest,
};
use serde_json::Value;

fn blob(dir: &std::path::Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

#[test]
fn single_platform_layout_is_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        layers: vec![
            LayerSpec {
                size: 10_000,
                gzip: true,
                zstd: false,
                compressible: false,
            },
            LayerSpec {
                size: 20_000,
                gzip: false,
                zstd: false,
                compressible: false,
            },
            LayerSpec {
                size: 50_000,
                gzip: true,
                zstd: false,
                compressible: true,
            },
        ],
        platforms: vec![Platform::linux_amd64()],
        tag: "v1".into(),
        seed: 7,
    };
    let img = image::generate(tmp.path(), &spec).unwrap();
    assert!(img.index_digest.is_none());
    assert_eq!(img.manifests.len(), 1);
    let m = &img.manifests[0];
    assert_eq!(img.top_digest(), m.digest);

    // index.json names the manifest under the tag.
    let index: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], m.digest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );

    // every blob hashes to its name and has the recorded size.
    let manifest_bytes = blob(tmp.path(), &m.digest);
    assert_eq!(sha256_digest(&manifest_bytes), m.digest);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest["config"]["digest"], m.config_digest.as_str());
    let config: Value = serde_json::from_slice(&blob(tmp.path(), &m.config_digest)).unwrap();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(m.layers[0].media_type, MEDIA_TYPE_LAYER_GZIP);
    assert_eq!(m.layers[1].media_type, MEDIA_TYPE_LAYER_TAR);
    assert_eq!(m.layers[1].digest, m.layers[1].diff_id);
    for (i, layer) in m.layers.iter().enumerate() {
        let bytes = blob(tmp.path(), &layer.digest);
        assert_eq!(bytes.len() as u64, layer.size);
        assert_eq!(sha256_digest(&bytes), layer.digest);
        assert_eq!(manifest["layers"][i]["digest"], layer.digest.as_str());
        let tar_bytes = if spec.layers[i].gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            bytes
        };
        assert_eq!(sha256_digest(&tar_bytes), layer.diff_id);
        assert_eq!(config["rootfs"]["diff_ids"][i], layer.diff_id.as_str());
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let entries: Vec<u64> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().header().size().unwrap())
            .collect();
        assert_eq!(entries, vec![spec.layers[i].size as u64]);
    }
    // compressible content compresses, random does not.
    assert!(
        m.layers[2].size < 50_000 / 2,
        "compressible layer is {} bytes",
        m.layers[2].size
    );
    assert!(
        m.layers[0].size > 10_000,
        "random gzip layer is {} bytes",
        m.layers[0].size
    );
    assert_eq!(
        m.total_size,
        m.config_size + m.layers.iter().map(|l| l.size).sum::<u64>()
    );
}

#[test]
fn generation_is_deterministic_per_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let spec = ImageSpec::multi_arch("t", 2, 4096, 42);
    let ia = image::generate(a.path(), &spec).unwrap();
    let ib = image::generate(b.path(), &spec).unwrap();
    let ic = image::generate(
        c.path(),
        &ImageSpec {
            seed: 43,
            ..spec.clone()
        },
    )
    .unwrap();
    assert_eq!(ia.index_digest, ib.index_digest);
    assert_eq!(ia.manifests, ib.manifests);
    assert_ne!(ia.index_digest, ic.index_digest);
}

#[test]
fn multi_arch_index_has_one_manifest_per_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image::generate(tmp.path(), &ImageSpec::multi_arch("multi", 2, 1000, 1)).unwrap();
    let index_digest = img.index_digest.clone().unwrap();
    let index: Value = serde_json::from_slice(&blob(tmp.path(), &index_digest)).unwrap();
    assert_eq!(index["mediaType"], MEDIA_TYPE_INDEX);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["platform"]["architecture"], "amd64");
    assert_eq!(entries[1]["platform"]["architecture"], "arm64");
    assert_eq!(entries[1]["platform"]["variant"], "v8");
    let arm = img.manifest_for(&Platform::linux_arm64_v8()).unwrap();
    assert_eq!(entries[1]["digest"], arm.digest.as_str());
    let amd = img.manifest_for(&Platform::linux_amd64()).unwrap();
    assert_ne!(
        amd.layers[0].digest, arm.layers[0].digest,
        "platforms get their own layers"
    );
    let config: Value = serde_json::from_slice(&blob(tmp.path(), &arm.config_digest)).unwrap();
    assert_eq!(config["variant"], "v8");
    let top: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(top["manifests"][0]["mediaType"], MEDIA_TYPE_INDEX);
    assert_eq!(top["manifests"][0]["digest"], index_digest.as_str());
}

#[test]
fn second_tag_is_added_and_same_tag_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    image::generate(tmp.path(), &ImageSpec::simple("a", 1, 100, 1)).unwrap();
    image::generate(tmp.path(), &ImageSpec::simple("b", 1, 100, 2)).unwrap();
    let b2 = image::generate(tmp.path(), &ImageSpec::simple("b", 1, 100, 3)).unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["digest"], b2.top_digest());
}

#[test]
fn invalid_specs_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let no_platform = ImageSpec {
        platforms: vec![],
        ..ImageSpec::simple("a", 1, 1, 1)
    };
    assert!(
        image::generate(tmp.path(), &no_platform)
            .unwrap_err()
            .to_string()
            .contains("platforms")
    );
    let bad_tag = ImageSpec::simple("no:colon", 1, 1, 1);
    assert!(
        image::generate(tmp.path(), &bad_tag)
            .unwrap_err()
            .to_string()
            .contains("tag")
    );
    assert!("linux".parse::<Platform>().is_err());
    assert_eq!(
        "linux/arm64/v8".parse::<Platform>().unwrap(),
        Platform::linux_arm64_v8()
    );
    assert_eq!(Platform::linux_arm64_v8().to_string(), "linux/arm64/v8");
}

#[test]
fn skopeo_reads_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image::generate(tmp.path(), &ImageSpec::multi_arch("multi", 2, 2048, 5)).unwrap();
    let out = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:multi", tmp.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha256_digest(&out.stdout), img.top_digest());
    // a full copy verifies every blob digest.
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--all",
            "--preserve-digests",
            "-q",
        ])
        .arg(format!("oci:{}:multi", tmp.path().display()))
        .arg(format!("oci:{}:copy", dest.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zstd_layers_carry_their_diff_ids_and_tamper_breaks_only_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        layers: vec![LayerSpec::zstd(30_000), LayerSpec::gzip(1000)],
        platforms: vec![Platform::linux_amd64()],
        tag: "z".into(),
        seed: 9,
    };
    let img = image::generate(tmp.path(), &spec).unwrap();
    let m = &img.manifests[0];
    assert_eq!(m.layers[0].media_type, image::MEDIA_TYPE_LAYER_ZSTD);
    let bytes = blob(tmp.path(), &m.layers[0].digest);
    assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
    let tar_bytes = zstd::stream::decode_all(&bytes[..]).unwrap();
    assert_eq!(sha256_digest(&tar_bytes), m.layers[0].diff_id);
    let config: Value = serde_json::from_slice(&blob(tmp.path(), &m.config_digest)).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        m.layers[0].diff_id.as_str()
    );

    // The same layers under a config with a wrong diff ID for layer 1, then one fewer.
    let wrong = tempfile::tempdir().unwrap();
    let t = image::generate_with(wrong.path(), &spec, &image::Tamper::wrong_diff_id(1)).unwrap();
    let tm = &t.manifests[0];
    assert_eq!(tm.layers, m.layers, "the layers are untouched");
    assert_ne!(tm.config_digest, m.config_digest);
    let config: Value = serde_json::from_slice(&blob(wrong.path(), &tm.config_digest)).unwrap();
    let ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], m.layers[0].diff_id.as_str());
    assert_ne!(ids[1], m.layers[1].diff_id.as_str());
    assert!(ids[1].as_str().unwrap().starts_with("sha256:"));
    let fewer = tempfile::tempdir().unwrap();
    let f = image::generate_with(fewer.path(), &spec, &image::Tamper::drop_last_diff_id()).unwrap();
    let config: Value =
        serde_json::from_slice(&blob(fewer.path(), &f.manifests[0].config_digest)).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
}
