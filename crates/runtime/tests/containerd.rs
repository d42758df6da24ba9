//! containerd's image service against the real Debian `docker-registry` (distribution 2.8),
//! through the CRI calls the kubelet makes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use pullsim_credentials::AuthConfig;
use pullsim_reference::Digest;
use pullsim_runtime::{
    Code, ContainerdImageService, ImageService, ImageSpec, RuntimeConfig, RuntimeError,
};
use pullsim_testsupport::image::{GeneratedImage, ImageSpec as GenSpec};
use pullsim_testsupport::{Mode, RegistryHandle, shared};

fn service(root: &Path) -> ContainerdImageService {
    ContainerdImageService::new(RuntimeConfig::new(root)).unwrap()
}

fn push(reg: &RegistryHandle, spec: &GenSpec, repo_tag: &str) -> GeneratedImage {
    reg.push_generated(spec, repo_tag).unwrap()
}

fn digest(s: &str) -> Digest {
    Digest::parse(s).unwrap()
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// `ImageStatus` and `ListImages` after `PullImage`: the image ID is the config digest, the
/// names are the tag and the repo digest, the size counts every blob once.
#[tokio::test]
async fn pull_then_status_list_fs_info_and_mark_used() {
    let reg = shared(Mode::Anonymous);
    let img = push(reg, &GenSpec::simple("v1", 2, 4096, 101), "rt/status:v1");
    let m = &img.manifests[0];
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let spec = ImageSpec::new(reg.reference("rt/status:v1"));
    assert_eq!(svc.image_status(&spec).unwrap(), None);

    let resp = svc.pull_image(&spec, None, None).await.unwrap();
    assert_eq!(resp.image_ref, m.config_digest);
    // The host that served, as containerd names it: a loopback registry's default host is
    // `https` with the HTTP fallback (core/remotes/docker/config/hosts.go@v2.3.4).
    assert_eq!(
        resp.host.as_deref(),
        Some(format!("https://{}/v2", reg.host).as_str())
    );
    assert_eq!(resp.bytes_downloaded, m.total_size);
    assert_eq!(resp.blobs_skipped, 0);

    let img_status = svc.image_status(&spec).unwrap().expect("image present");
    assert_eq!(img_status.id, m.config_digest);
    assert_eq!(img_status.repo_tags, [reg.reference("rt/status:v1")]);
    assert_eq!(
        img_status.repo_digests,
        [reg.reference(&format!("rt/status@{}", m.digest))]
    );
    // manifest + config + layers, each once
    assert_eq!(img_status.size, m.size + m.total_size);
    assert_eq!(img_status.platform.as_deref(), Some("linux/amd64"));
    assert!(!img_status.preloaded);
    // By image ID, and in the list (unfiltered and filtered), it is the same image.
    assert_eq!(
        svc.image_status(&ImageSpec::new(m.config_digest.clone()))
            .unwrap()
            .as_ref(),
        Some(&img_status)
    );
    assert_eq!(
        svc.list_images(None).unwrap(),
        std::slice::from_ref(&img_status)
    );
    assert_eq!(
        svc.list_images(Some(&spec)).unwrap(),
        std::slice::from_ref(&img_status)
    );
    let other = ImageSpec::new(reg.reference("rt/other:v1"));
    assert_eq!(svc.list_images(Some(&other)).unwrap(), []);

    let fs = svc.image_fs_info().unwrap();
    assert_eq!(fs.used_bytes, img_status.size);
    assert_eq!(fs.inodes_used, 2 + m.layers.len() as u64);

    // mark_used: the last-used time image GC orders by.
    let later = img_status.last_used_unix_ms + 86_400_000;
    let before = svc.store().index_counters();
    svc.mark_used(&img_status.id, later).await.unwrap();
    let used = svc.image_status(&spec).unwrap().unwrap();
    assert_eq!(used.last_used_unix_ms, later);
    // Every name in one write, read back from the patched snapshot, not a reload of the index
    // (issue 14: a reload per mark made `pod run` grow with the store's size).
    let after = svc.store().index_counters();
    assert_eq!(after.writes - before.writes, 1, "{before:?} {after:?}");
    assert_eq!(after.snapshot_loads, before.snapshot_loads, "{after:?}");
    assert_eq!(used.first_seen_unix_ms, img_status.first_seen_unix_ms);
    svc.mark_used("sha256:absent", later).await.unwrap();

    // Re-pulling an unchanged image (policy Always, image present) downloads and writes
    // nothing: neither the index nor the layout's index.json change.
    let index = svc.store().index_path().to_path_buf();
    let index_json = root.path().join("index.json");
    let (t_index, t_json) = (mtime(&index), mtime(&index_json));
    let json_before = std::fs::read(&index_json).unwrap();
    let again = svc.pull_image(&spec, None, None).await.unwrap();
    assert_eq!(again.image_ref, m.config_digest);
    assert_eq!(again.bytes_downloaded, 0);
    assert_eq!(again.blobs_skipped, 1 + m.layers.len());
    assert_eq!(mtime(&index), t_index);
    assert_eq!(mtime(&index_json), t_json);
    assert_eq!(std::fs::read(&index_json).unwrap(), json_before);
    assert_eq!(svc.image_status(&spec).unwrap().unwrap(), used);
}

/// `RemoveImage` removes the image (every name it has) and the content no other image uses;
/// removing it again, or an image never pulled, is not an error.
#[tokio::test]
async fn remove_image_removes_every_name_and_unshared_blobs() {
    let reg = shared(Mode::Anonymous);
    // Same seed: b's first layer is a's only layer.
    let a = push(reg, &GenSpec::simple("a", 1, 4096, 202), "rt/rm:a");
    let b = push(reg, &GenSpec::simple("b", 2, 4096, 202), "rt/rm:b");
    let (ma, mb) = (&a.manifests[0], &b.manifests[0]);
    assert_eq!(ma.layers[0].digest, mb.layers[0].digest);
    let shared_layer = digest(&ma.layers[0].digest);

    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let a_tag = ImageSpec::new(reg.reference("rt/rm:a"));
    let a_digest = ImageSpec::new(reg.reference(&format!("rt/rm@{}", ma.digest)));
    let b_tag = ImageSpec::new(reg.reference("rt/rm:b"));
    for s in [&a_tag, &a_digest, &b_tag] {
        svc.pull_image(s, None, None).await.unwrap();
    }
    let images = svc.list_images(None).unwrap();
    assert_eq!(images.len(), 2, "{images:?}");
    // Both names are one image (one ID); the list shows it once with both names.
    assert_eq!(
        svc.image_status(&a_digest).unwrap().unwrap().id,
        ma.config_digest
    );
    let a_img = images
        .iter()
        .find(|i| i.id == ma.config_digest)
        .unwrap()
        .clone();
    assert_eq!(a_img.repo_tags, [reg.reference("rt/rm:a")]);
    assert_eq!(
        a_img.repo_digests,
        [reg.reference(&format!("rt/rm@{}", ma.digest))]
    );
    // The size counts each of the image's blobs once, shared or not.
    assert_eq!(a_img.size, ma.size + ma.total_size);
    let fs = svc.image_fs_info().unwrap();
    assert_eq!(
        fs.used_bytes,
        ma.size + ma.config_size + mb.size + mb.total_size
    );
    assert_eq!(fs.inodes_used, 2 + 2 + 2);

    // Removing one name removes the image: both of a's records go.
    svc.remove_image(&a_tag).await.unwrap();
    assert_eq!(svc.image_status(&a_tag).unwrap(), None);
    assert_eq!(svc.image_status(&a_digest).unwrap(), None);
    assert_eq!(
        svc.image_status(&ImageSpec::new(ma.config_digest.clone()))
            .unwrap(),
        None
    );
    let store = svc.store();
    assert!(!store.has_blob(&digest(&ma.digest)));
    assert!(!store.has_blob(&digest(&ma.config_digest)));
    assert!(store.has_blob(&shared_layer), "b still uses it");
    let b_img = svc.image_status(&b_tag).unwrap().unwrap();
    assert_eq!(b_img.id, mb.config_digest);
    assert_eq!(svc.list_images(None).unwrap(), std::slice::from_ref(&b_img));
    for l in &mb.layers {
        assert!(store.has_blob(&digest(&l.digest)));
    }

    // Idempotent: again, and an image never pulled.
    svc.remove_image(&a_tag).await.unwrap();
    svc.remove_image(&ImageSpec::new(reg.reference("rt/never:v1")))
        .await
        .unwrap();

    // By image ID: the last image and all content go.
    svc.remove_image(&ImageSpec::new(mb.config_digest.clone()))
        .await
        .unwrap();
    assert_eq!(svc.list_images(None).unwrap(), []);
    assert!(!store.has_blob(&shared_layer));
    let fs = svc.image_fs_info().unwrap();
    assert_eq!((fs.used_bytes, fs.inodes_used), (0, 0));
}

/// containerd's content GC: blobs no image uses go, younger ones only after the grace period;
/// the image's own blobs stay.
#[tokio::test]
async fn prune_content_deletes_only_unused_blobs() {
    let reg = shared(Mode::Anonymous);
    let img = push(reg, &GenSpec::simple("v1", 1, 2048, 303), "rt/prune:v1");
    let m = &img.manifests[0];
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let spec = ImageSpec::new(reg.reference("rt/prune:v1"));
    svc.pull_image(&spec, None, None).await.unwrap();
    let orphan_bytes = b"left over by an interrupted pull".to_vec();
    // Written by a pull in another process that died before recording its image: its lease
    // died with it (a blob this process wrote and has not recorded is leased, and kept).
    let orphan = {
        let other = pullsim_store::Store::open(root.path()).unwrap();
        other.put_bytes(&orphan_bytes).unwrap()
    };

    let young = svc.prune_content(Duration::from_secs(3600)).unwrap();
    assert_eq!(young.blobs_deleted, []);
    assert_eq!(young.kept_young, 1);
    assert!(svc.store().has_blob(&orphan));

    let out = svc.prune_content(Duration::ZERO).unwrap();
    assert_eq!(out.blobs_deleted, std::slice::from_ref(&orphan));
    assert_eq!(out.bytes_freed, orphan_bytes.len() as u64);
    assert!(!svc.store().has_blob(&orphan));
    for d in [&m.digest, &m.config_digest, &m.layers[0].digest] {
        assert!(svc.store().has_blob(&digest(d)), "{d}");
    }
    assert!(svc.image_status(&spec).unwrap().is_some());
}

const MARKER: &str = "wrong-pass-MARKER-7f3a";

fn assert_no_secret(e: &RuntimeError) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{MARKER}"));
    for text in [e.to_string(), format!("{e:?}"), e.cause_text()] {
        assert!(!text.contains(MARKER), "password in {text}");
        assert!(!text.contains(&b64), "credentials in {text}");
    }
}

/// The resolve stage and the pull on a Basic-auth registry: right credentials resolve, wrong
/// ones are containerd's `Unknown` 401, a missing tag is `NotFound`; the password never appears.
#[tokio::test]
async fn htpasswd_resolve_and_pull_errors() {
    let reg = shared(Mode::Htpasswd);
    let img = push(reg, &GenSpec::simple("v1", 1, 2048, 404), "team/rt-auth:v1");
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let r = reg.reference("team/rt-auth:v1");
    let spec = ImageSpec::new(r.clone());
    let good = AuthConfig::basic("alice", "alice-pass");
    let wrong = AuthConfig::basic("alice", MARKER);

    let ok = svc.resolve_image(&spec, Some(&good)).await;
    let resolved = ok.result.unwrap();
    assert_eq!(resolved.digest, img.top_digest());
    assert_eq!(
        resolved.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(ok.trace.scheme.as_deref(), Some("basic"));

    // internal/cri/server/images/image_pull.go wraps the resolver's error; errdefs.ToGRPC
    // gives Unknown for an authorization failure.
    let prefix =
        format!("rpc error: code = Unknown desc = failed to pull and unpack image \"{r}\": ");
    let bad = svc.resolve_image(&spec, Some(&wrong)).await;
    let e = bad.result.unwrap_err();
    assert!(e.to_string().starts_with(&prefix), "{e}");
    assert_eq!(e.code(), Code::Unknown);
    assert_eq!(e.outcome(), "unauthorized");
    assert_eq!(e.status(), Some(401));
    assert_eq!(bad.trace.scheme.as_deref(), Some("basic"));
    assert_no_secret(&e);

    let e = svc.pull_image(&spec, Some(&wrong), None).await.unwrap_err();
    assert!(e.to_string().starts_with(&prefix), "{e}");
    assert_eq!(e.outcome(), "unauthorized");
    assert_eq!(e.status(), Some(401));
    assert_no_secret(&e);
    assert_eq!(svc.image_status(&spec).unwrap(), None);

    // A missing tag: NotFound, containerd's resolver text.
    let missing = reg.reference("team/rt-auth:missing");
    let mspec = ImageSpec::new(missing.clone());
    let e = svc
        .resolve_image(&mspec, Some(&good))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(e.outcome(), "not-found");
    let e = svc.pull_image(&mspec, Some(&good), None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{missing}\": failed to resolve image: {missing}: not found"
        )
    );
    // containerd never reads a HEAD 404's body (core/remotes/docker/resolver.go@v2.3.4
    // Resolve), so the registry's code is not known.
    assert_eq!(e.registry_code(), None);

    let resp = svc.pull_image(&spec, Some(&good), None).await.unwrap();
    assert_eq!(resp.image_ref, img.manifests[0].config_digest);
}

/// A refused token request (token registry, wrong password) never shows the password either.
#[tokio::test]
async fn token_refusal_never_shows_the_password() {
    let reg = shared(Mode::Token);
    push(
        reg,
        &GenSpec::simple("v1", 1, 2048, 505),
        "team/rt-token:v1",
    );
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let spec = ImageSpec::new(reg.reference("team/rt-token:v1"));
    let e = svc
        .pull_image(&spec, Some(&AuthConfig::basic("alice", MARKER)), None)
        .await
        .unwrap_err();
    assert_eq!(e.outcome(), "unauthorized", "{e}");
    assert!(e.to_string().contains("failed to fetch oauth token"), "{e}");
    assert_no_secret(&e);
    let ok = svc
        .pull_image(&spec, Some(&AuthConfig::basic("alice", "alice-pass")), None)
        .await
        .unwrap();
    assert!(ok.bytes_downloaded > 0);
}

/// An unparsable reference is refused before any network access, with containerd's text
/// (internal/cri/server/images/image_pull.go: `failed to parse image reference %q: %w` over
/// distribution's `ParseDockerRef`).
#[tokio::test]
async fn invalid_reference_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let svc = service(root.path());
    let e = svc
        .pull_image(&ImageSpec::new("not a reference"), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "rpc error: code = Unknown desc = failed to parse image reference \"not a reference\": invalid reference format"
    );
    assert_eq!(e.outcome(), "error");
}
