//! The unpack check over images put straight into a content store: what no registry test can
//! produce cheaply (a layer whose compressed stream is broken yet matches its digest, a media
//! type containerd cannot apply, a record that lies).

use std::io::Write;

use pullsim_reference::Digest;
use pullsim_runtime::unpack::{
    DecompressError, UnpackError, UnpackStats, Verified, Wording, verify_image,
};
use pullsim_store::{Store, Uncompressed};
use sha2::Digest as _;

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

struct Img {
    manifest: Digest,
    config: Digest,
    layers: Vec<Digest>,
}

/// Store an image of `layers` (media type, bytes) whose config lists `diff_ids`.
fn put(store: &Store, layers: &[(&str, Vec<u8>)], diff_ids: &[String]) -> Img {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_d = store.put_bytes(&config).unwrap();
    let mut descs = Vec::new();
    let mut digests = Vec::new();
    for (mt, bytes) in layers {
        let d = store.put_bytes(bytes).unwrap();
        descs.push(
            serde_json::json!({"mediaType": mt, "digest": d.to_string(), "size": bytes.len()}),
        );
        digests.push(d);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d.to_string(), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    Img {
        manifest: store.put_bytes(&manifest).unwrap(),
        config: config_d,
        layers: digests,
    }
}

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn present_layers_are_decompressed_from_the_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = vec![7u8; 300_000];
    let docker_tar = b"plain tar bytes".repeat(100);
    let img = put(
        &store,
        &[
            (GZ, gzip(&tar)),
            // A Docker `tar` layer goes through DecompressStream ("unknown"): plain bytes pass.
            (
                "application/vnd.docker.image.rootfs.diff.tar",
                docker_tar.clone(),
            ),
            // A gzip-typed layer that is not compressed: DecompressStream passes it through.
            (GZ, docker_tar.clone()),
        ],
        &[sha(&tar), sha(&docker_tar), sha(&docker_tar)],
    );
    let stats = UnpackStats::default();
    let v = verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V2,
        Some("linux"),
        &stats,
    )
    .unwrap();
    assert_eq!(v, Verified::Unpacked { layers: 3 });
    let c = stats.counts();
    assert_eq!((c.streamed, c.from_store, c.from_record), (0, 1, 0));
    assert_eq!(
        store
            .uncompressed(&img.layers[0])
            .map(|u| (u.digest.to_string(), u.size)),
        Some((sha(&tar), tar.len() as u64))
    );
    verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V2,
        Some("linux"),
        &stats,
    )
    .unwrap();
    let c = stats.counts();
    assert_eq!((c.streamed, c.from_store, c.from_record), (0, 1, 1));
}

#[test]
fn a_record_that_disagrees_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = vec![1u8; 100_000];
    let img = put(&store, &[(GZ, gzip(&tar))], &[sha(&tar)]);
    // A well-formed record with another digest (written by a bug, or by hand).
    let lie = Uncompressed {
        digest: Digest::parse(&sha(b"something else")).unwrap(),
        size: 3,
    };
    store.record_uncompressed(&img.layers[0], &lie).unwrap();
    let stats = UnpackStats::default();
    verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V2,
        Some("linux"),
        &stats,
    )
    .unwrap();
    assert_eq!(stats.counts().from_store, 1);
    assert_eq!(
        store
            .uncompressed(&img.layers[0])
            .map(|u| u.digest.to_string()),
        Some(sha(&tar))
    );
}

#[test]
fn a_broken_gzip_stream_fails_as_containerd_extracting_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = (0..200_000u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect::<Vec<_>>();
    let gz = gzip(&tar);
    let cut = gz[..gz.len() / 2].to_vec();
    let ids = [sha(&tar)];
    let img = put(&store, &[(GZ, cut)], &ids);
    for wording in [Wording::V2, Wording::V1_7] {
        let stats = UnpackStats::default();
        let e =
            verify_image(&store, &img.manifest, &img.config, wording, None, &stats).unwrap_err();
        let UnpackError::Extract { index, source, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*index, 0);
        assert!(matches!(
            source,
            Some(DecompressError::UnexpectedEof { .. })
        ));
        let text = e.to_string();
        // unpacker.go@v2.3.4: "failed to extract layer (%s %s) to %s as %q: %w";
        // unpacker.go@v1.7.34: "failed to extract layer %s: %w" (the diff ID).
        match wording {
            Wording::V2 => {
                let head = format!(
                    "failed to extract layer ({GZ} {}) to overlayfs as \"extract-",
                    img.layers[0]
                );
                assert!(text.starts_with(&head), "{text}");
                assert!(
                    text.ends_with(&format!(" {}\": unexpected EOF", ids[0])),
                    "{text}"
                );
            }
            _ => assert_eq!(
                text,
                format!("failed to extract layer {}: unexpected EOF", ids[0])
            ),
        }
    }
    // Trailing garbage after the gzip member: gzip.ErrHeader from the next member's header.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let img = put(
        &store,
        &[(GZ, [gz, b"0123456789abcdef".to_vec()].concat())],
        &ids,
    );
    let e = verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V1_7,
        None,
        &UnpackStats::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("failed to extract layer {}: gzip: invalid header", ids[0])
    );
}

#[test]
fn media_types_containerd_does_not_apply_or_decompress() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = vec![3u8; 1000];
    // An OCI `tar` layer is not decompressed even when its bytes are gzip: its diff ID is its
    // digest (the stdProcessor of core/diff/stream.go).
    let gz = gzip(&tar);
    let img = put(
        &store,
        &[("application/vnd.oci.image.layer.v1.tar", gz.clone())],
        &[sha(&gz)],
    );
    let stats = UnpackStats::default();
    verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V2,
        Some("linux"),
        &stats,
    )
    .unwrap();
    assert_eq!(stats.counts().from_store, 0);
    // EROFS is a layer type (counted) without a stream processor here.
    let img = put(
        &store,
        &[("application/vnd.erofs.layer.v1", tar.clone())],
        &[sha(&tar)],
    );
    let e = verify_image(
        &store,
        &img.manifest,
        &img.config,
        Wording::V1_7,
        Some("linux"),
        &stats,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to extract layer {}: failed to get stream processor for application/vnd.erofs.layer.v1: no processor for media-type",
            sha(&tar)
        )
    );
    // Entries of other media types are not layers: not counted against the diff IDs.
    let img = put(
        &store,
        &[
            (GZ, gzip(&tar)),
            ("application/vnd.in-toto+json", b"{}".to_vec()),
        ],
        &[sha(&tar)],
    );
    assert_eq!(
        verify_image(
            &store,
            &img.manifest,
            &img.config,
            Wording::V2,
            Some("linux"),
            &stats
        )
        .unwrap(),
        Verified::Unpacked { layers: 1 }
    );
    // A config for another OS: 2.x's transfer service unpacks by OS (platforms.OnlyOS), so it
    // only fetches it; 1.7 checks it.
    let bad = put(&store, &[(GZ, gzip(&tar))], &[sha(b"wrong")]);
    let mut windows: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&bad.config).unwrap()).unwrap();
    windows["os"] = "Windows".into();
    let windows = store
        .put_bytes(&serde_json::to_vec(&windows).unwrap())
        .unwrap();
    assert_eq!(
        verify_image(
            &store,
            &bad.manifest,
            &windows,
            Wording::V2,
            Some("linux"),
            &stats
        )
        .unwrap(),
        Verified::FetchOnly
    );
    assert_eq!(
        verify_image(
            &store,
            &bad.manifest,
            &windows,
            Wording::V2,
            Some("windows"),
            &stats
        )
        .unwrap_err()
        .to_string(),
        format!(
            "wrong diff id {:?} calculated on extraction {:?}, desc {:?}",
            sha(&tar),
            sha(b"wrong"),
            bad.layers[0].to_string()
        )
    );
    assert!(matches!(
        verify_image(&store, &bad.manifest, &windows, Wording::V1_7, None, &stats),
        Err(UnpackError::WrongDiffId { .. })
    ));
    // A rootfs type other than "layers" is only fetched.
    let config = br#"{"rootfs":{"type":"other","diff_ids":["sha256:00"]}}"#;
    let config_d = store.put_bytes(config).unwrap();
    assert_eq!(
        verify_image(
            &store,
            &img.manifest,
            &config_d,
            Wording::V2,
            Some("linux"),
            &stats
        )
        .unwrap(),
        Verified::FetchOnly
    );
}
