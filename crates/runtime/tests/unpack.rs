//! The unpack check of CRI pulls against the real Debian `docker-registry`: gzip, zstd and
//! uncompressed layers verify as they stream; a config whose diff IDs are wrong fails with
//! containerd's unpacker error; `unpack = false` fetches the same image; a verified layer is
//! not decompressed again.

use std::path::Path;

use pullsim_reference::Digest;
use pullsim_runtime::config::RuntimeKind;
use pullsim_runtime::unpack::UnpackCounts;
use pullsim_runtime::{Code, ContainerdImageService, ImageService, ImageSpec, RuntimeConfig};
use pullsim_testsupport::image::{
    GeneratedImage, ImageSpec as GenSpec, LayerSpec, Platform, Tamper,
};
use pullsim_testsupport::{Mode, shared};

fn service(root: &Path, kind: RuntimeKind, unpack: bool) -> ContainerdImageService {
    let mut cfg = RuntimeConfig::new(root);
    cfg.kind = kind;
    cfg.unpack = unpack;
    ContainerdImageService::new(cfg).unwrap()
}

fn mixed(tag: &str, seed: u64) -> GenSpec {
    GenSpec {
        layers: vec![
            LayerSpec::gzip(40_000),
            LayerSpec::zstd(50_000),
            LayerSpec::plain(10_000),
        ],
        platforms: vec![Platform::linux_amd64()],
        tag: tag.into(),
        seed,
    }
}

fn digest(s: &str) -> Digest {
    Digest::parse(s).unwrap()
}

/// The decompression counts (bytes and time aside).
fn counts(streamed: u64, from_store: u64, from_record: u64) -> Option<(u64, u64, u64)> {
    Some((streamed, from_store, from_record))
}

trait Counted {
    fn unpack_counts3(&self) -> Option<(u64, u64, u64)>;
}

impl Counted for ContainerdImageService {
    fn unpack_counts3(&self) -> Option<(u64, u64, u64)> {
        self.unpack_counts()
            .map(|c: UnpackCounts| (c.streamed, c.from_store, c.from_record))
    }
}

/// The uncompressed digests the store recorded for the image's layers.
fn recorded(svc: &ContainerdImageService, img: &GeneratedImage) -> Vec<Option<String>> {
    img.manifests[0]
        .layers
        .iter()
        .map(|l| {
            svc.store()
                .uncompressed(&digest(&l.digest))
                .map(|u| u.digest.to_string())
        })
        .collect()
}

#[tokio::test]
async fn gzip_zstd_and_plain_layers_verify_while_they_stream() {
    let reg = shared(Mode::Anonymous);
    let img = reg
        .push_generated(&mixed("v1", 501), "rt/unpack-mixed:v1")
        .unwrap();
    let m = &img.manifests[0];
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path(), RuntimeKind::Containerd, true);
    let spec = ImageSpec::new(reg.reference("rt/unpack-mixed:v1"));
    let resp = svc.pull_image(&spec, None, None).await.unwrap();
    assert_eq!(resp.image_ref, m.config_digest);
    // The gzip and zstd layers were decoded as they downloaded (the check after the pull
    // reads what the download recorded); the plain one is its own diff.
    assert_eq!(svc.unpack_counts3(), counts(2, 0, 2));
    assert_eq!(
        recorded(&svc, &img),
        [
            Some(m.layers[0].diff_id.clone()),
            Some(m.layers[1].diff_id.clone()),
            None
        ]
    );
    assert!(svc.image_status(&spec).unwrap().is_some());
    // The throughput figure: the tar bytes of the two compressed layers (file + tar headers).
    let c = svc.unpack_counts().unwrap();
    assert!(c.uncompressed_bytes > 90_000, "{c:?}");
    assert!(c.throughput_mb_s().is_some_and(|t| t > 0.0), "{c:?}");

    // The same image under another name: its layers are present and their records agree with
    // the config, so nothing is decompressed again.
    reg.push_generated(&mixed("v1", 501), "rt/unpack-mixed:again")
        .unwrap();
    let again = ImageSpec::new(reg.reference("rt/unpack-mixed:again"));
    svc.pull_image(&again, None, None).await.unwrap();
    assert_eq!(svc.unpack_counts3(), counts(2, 0, 4));
    // A pull of the current image checks it from the records too.
    svc.pull_image(&spec, None, None).await.unwrap();
    assert_eq!(svc.unpack_counts3(), counts(2, 0, 6));

    // A lost record, and a damaged one: the layer is decompressed from the store, and recorded.
    let rec_dir = root.path().join("uncompressed");
    let hex = |i: usize| m.layers[i].digest.trim_start_matches("sha256:").to_string();
    std::fs::remove_file(rec_dir.join(hex(0))).unwrap();
    let p1 = rec_dir.join(hex(1));
    let text = std::fs::read_to_string(&p1).unwrap();
    std::fs::write(&p1, text.replace("\"size\":", "\"size\":1")).unwrap();
    svc.pull_image(&spec, None, None).await.unwrap();
    assert_eq!(svc.unpack_counts3(), counts(2, 2, 6));
    assert_eq!(
        recorded(&svc, &img),
        [
            Some(m.layers[0].diff_id.clone()),
            Some(m.layers[1].diff_id.clone()),
            None
        ]
    );
}

#[tokio::test]
async fn a_wrong_diff_id_fails_with_containerds_unpack_error() {
    let reg = shared(Mode::Anonymous);
    let spec = mixed("bad", 502);
    let img = reg
        .push_generated_with(&spec, &Tamper::wrong_diff_id(1), "rt/unpack-bad:v1")
        .unwrap();
    let m = &img.manifests[0];
    let image = reg.reference("rt/unpack-bad:v1");
    for (kind, wording) in [(RuntimeKind::Containerd, 2), (RuntimeKind::Containerd17, 1)] {
        let root = tempfile::tempdir().unwrap();
        let svc = service(root.path(), kind, true);
        let err = svc
            .pull_image(&ImageSpec::new(image.clone()), None, None)
            .await
            .unwrap_err();
        let config: serde_json::Value =
            serde_json::from_slice(&svc.store().read_blob(&digest(&m.config_digest)).unwrap())
                .unwrap();
        let wrong = config["rootfs"]["diff_ids"][1]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(wrong, m.layers[1].diff_id);
        // core/unpack/unpacker.go@v2.3.4 and pkg/unpack/unpacker.go@v1.7.34, under the CRI
        // plugin's "failed to pull and unpack image %q: %w" (image_pull.go), code Unknown.
        let cause = if wording == 2 {
            format!(
                "wrong diff id {:?} calculated on extraction {wrong:?}, desc {:?}",
                m.layers[1].diff_id, m.layers[1].digest
            )
        } else {
            format!("wrong diff id calculated on extraction {wrong:?}")
        };
        assert_eq!(
            err.to_string(),
            format!(
                "rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": {cause}"
            )
        );
        assert_eq!(err.code(), Code::Unknown);
        // The host that served, as containerd names a loopback registry's default host.
        assert_eq!(
            err.host(),
            Some(format!("https://{}/v2", reg.host).as_str())
        );
        // Nothing stored is lost; the image is not recorded.
        for l in &m.layers {
            assert!(svc.store().has_blob(&digest(&l.digest)), "{}", l.digest);
        }
        assert!(svc.store().has_blob(&digest(&m.config_digest)));
        assert_eq!(
            svc.image_status(&ImageSpec::new(image.clone())).unwrap(),
            None
        );
        assert!(svc.list_images(None).unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_missing_diff_id_fails_on_the_count() {
    let reg = shared(Mode::Anonymous);
    reg.push_generated_with(
        &mixed("short", 503),
        &Tamper::drop_last_diff_id(),
        "rt/unpack-short:v1",
    )
    .unwrap();
    let image = reg.reference("rt/unpack-short:v1");
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path(), RuntimeKind::Containerd, true);
    let err = svc
        .pull_image(&ImageSpec::new(image.clone()), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": number of layers and diffIDs don't match: 3 != 2"
        )
    );
}

#[tokio::test]
async fn fetch_only_pulls_what_unpack_refuses_and_a_later_unpack_checks_it() {
    let reg = shared(Mode::Anonymous);
    let img = reg
        .push_generated_with(
            &mixed("fetch", 504),
            &Tamper::wrong_diff_id(0),
            "rt/unpack-fetch:v1",
        )
        .unwrap();
    let m = &img.manifests[0];
    let image = ImageSpec::new(reg.reference("rt/unpack-fetch:v1"));
    let root = tempfile::tempdir().unwrap();
    let fetch = service(root.path(), RuntimeKind::Containerd, false);
    let resp = fetch.pull_image(&image, None, None).await.unwrap();
    assert_eq!(resp.image_ref, m.config_digest);
    assert_eq!(fetch.unpack_counts(), None);
    assert_eq!(fetch.unpack_counts3(), None);
    // No decompression at all: no records.
    assert_eq!(recorded(&fetch, &img), [None, None, None]);
    assert!(fetch.image_status(&image).unwrap().is_some());
    drop(fetch);

    // The node's CRI pull of the same (present, current) image unpacks it, and fails.
    let svc = service(root.path(), RuntimeKind::Containerd, true);
    let err = svc.pull_image(&image, None, None).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "wrong diff id {:?} calculated on extraction",
            m.layers[0].diff_id
        )),
        "{err}"
    );
    // Decompressed from the store (nothing was downloaded), and the true digest recorded.
    assert_eq!(svc.unpack_counts3(), counts(0, 1, 0));
    assert_eq!(
        recorded(&svc, &img)[0].as_deref(),
        Some(m.layers[0].diff_id.as_str())
    );
}

#[tokio::test]
async fn creds_check_resolution_never_downloads_layers() {
    let reg = shared(Mode::Anonymous);
    reg.push_generated(&mixed("resolve", 505), "rt/unpack-resolve:v1")
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path(), RuntimeKind::Containerd, true);
    let image = ImageSpec::new(reg.reference("rt/unpack-resolve:v1"));
    let attempt = svc.resolve_image(&image, None).await;
    assert!(attempt.result.is_ok(), "{:?}", attempt.result);
    // Nothing fetched into the store, nothing decompressed.
    let blobs: Vec<_> = std::fs::read_dir(root.path().join("blobs/sha256"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(blobs.is_empty(), "{blobs:?}");
    assert_eq!(svc.unpack_counts3(), counts(0, 0, 0));
    assert!(svc.list_images(None).unwrap().is_empty());
}
