//! The scripted runtime records every CRI call in order and answers as scripted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pullsim_credentials::AuthConfig;
use pullsim_runtime::fake::{ScriptedImageService, fake_image_id};
use pullsim_runtime::{Code, ImageService, ImageSpec};

#[tokio::test]
async fn call_log_in_order() {
    let rt = ScriptedImageService::new().with_image("docker.io/library/present:1", "sha256:p");
    let present = ImageSpec::new("docker.io/library/present:1");
    let absent = ImageSpec::new("docker.io/library/absent:1");
    let alice = AuthConfig::basic("alice", "pw");

    assert!(rt.image_status(&present).unwrap().is_some());
    assert!(rt.image_status(&absent).unwrap().is_none());
    let resp = rt.pull_image(&absent, None, None).await.unwrap();
    assert_eq!(resp.image_ref, fake_image_id("docker.io/library/absent:1"));
    rt.pull_image(&present, Some(&alice), None).await.unwrap();
    assert_eq!(rt.list_images(None).unwrap().len(), 2);
    rt.resolve_image(&present, Some(&alice))
        .await
        .result
        .unwrap();
    rt.mark_used("sha256:p", 5).await.unwrap();
    rt.remove_image(&absent).await.unwrap();
    let fs = rt.image_fs_info().unwrap();
    assert_eq!(fs.inodes_used, 1);
    assert_eq!(
        rt.calls(),
        [
            "ImageStatus(docker.io/library/present:1)",
            "ImageStatus(docker.io/library/absent:1)",
            "PullImage(docker.io/library/absent:1)",
            "PullImage(docker.io/library/present:1 as alice)",
            "ListImages",
            "ResolveImage(docker.io/library/present:1)",
            "RemoveImage(docker.io/library/absent:1)",
            // ImageFsInfo lists the images to size them.
            "ImageFsInfo",
            "ListImages",
        ]
    );
    // mark_used is not a CRI call: not logged, but recorded on the image.
    assert_eq!(
        rt.image_status(&present)
            .unwrap()
            .unwrap()
            .last_used_unix_ms,
        5
    );
    rt.clear_calls();
    assert!(rt.calls().is_empty());
    // A pulled image keeps its ID on a re-pull.
    let again = rt.pull_image(&present, None, None).await.unwrap();
    assert_eq!(again.image_ref, "sha256:p");
}

#[tokio::test]
async fn scripted_refusals() {
    let mut rt = ScriptedImageService::new();
    rt.accepted_users = vec!["alice".into()];
    let img = ImageSpec::new("r.io/team/app:1");
    let e = rt.pull_image(&img, None, None).await.unwrap_err();
    assert_eq!(e.code(), Code::Unknown);
    assert_eq!(
        e.to_string(),
        "rpc error: code = Unknown desc = failed to pull and unpack image \"r.io/team/app:1\": 401 Unauthorized for anonymous"
    );
    let e = rt
        .pull_image(&img, Some(&AuthConfig::basic("bob", "pw")), None)
        .await
        .unwrap_err();
    assert!(e.to_string().ends_with("401 Unauthorized for bob"), "{e}");
    assert!(
        rt.resolve_image(&img, None).await.result.is_err(),
        "resolve refuses alike"
    );
    rt.pull_image(&img, Some(&AuthConfig::basic("alice", "pw")), None)
        .await
        .unwrap();
    assert_eq!(
        rt.calls(),
        [
            "PullImage(r.io/team/app:1)",
            "PullImage(r.io/team/app:1 as bob)",
            "ResolveImage(r.io/team/app:1)",
            "PullImage(r.io/team/app:1 as alice)",
        ]
    );

    let mut failing = ScriptedImageService::new();
    failing.pull_error = Some("boom".into());
    failing.status_error = Some("inspect failed".into());
    let e = failing.pull_image(&img, None, None).await.unwrap_err();
    assert_eq!(e.to_string(), "rpc error: code = Unknown desc = boom");
    let e = failing.image_status(&img).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rpc error: code = Unknown desc = inspect failed"
    );
    assert_eq!(
        failing.calls(),
        ["PullImage(r.io/team/app:1)", "ImageStatus(r.io/team/app:1)"]
    );
}

#[tokio::test]
async fn pull_hook_runs_first() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let mut rt = ScriptedImageService::new();
    rt.on_pull = Some(Box::new(move |_| {
        s.fetch_add(1, Ordering::SeqCst);
    }));
    rt.pulled_size = 77;
    let img = ImageSpec::new("r.io/a:1");
    rt.pull_image(&img, None, None).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(rt.image_status(&img).unwrap().unwrap().size, 77);
}
