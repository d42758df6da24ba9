//! The image GC manager over CRI (pkg/kubelet/images/image_gc_manager.go and
//! image_gc_manager_test.go): thresholds, minimum and maximum age, pinned and in-use images
//! kept, eviction order by last used then first detected, the not-enough-freed warning, the
//! zero-capacity error, dry runs, and `RemoveImage` by image ID for each chosen image.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_node::gc::{GcRequest, collect, error_event};
use pullsim_policy::{EventReason, GcCause, GcPolicy};
use pullsim_runtime::{
    Code, Image, ImageFsInfo, ImageService, ImageSpec, PodSandboxConfig, PullImageResponse,
    ResolveAttempt, RuntimeError,
};

const NOW: u64 = 10_000_000;
const SIZE: u64 = 10_000;

/// A runtime holding given images (the scripted runtime cannot set first-seen times or pins);
/// it logs the GC manager's calls. Usage is the sum of the images' sizes.
struct Images {
    images: Mutex<Vec<Image>>,
    calls: Mutex<Vec<String>>,
    refuse_removal: Option<String>,
}

impl Images {
    fn ids(&self) -> Vec<String> {
        self.images
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.id.clone())
            .collect()
    }
}

impl ImageService for Images {
    async fn pull_image(
        &self,
        image: &ImageSpec,
        _auth: Option<&AuthConfig>,
        _sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullImageResponse, RuntimeError> {
        Err(RuntimeError::pull(
            Code::Unknown,
            &image.image,
            "no pulls here",
        ))
    }
    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        Ok(self
            .images
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.id == image.image)
            .cloned())
    }
    fn list_images(&self, _filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError> {
        self.calls.lock().unwrap().push("ListImages".into());
        Ok(self.images.lock().unwrap().clone())
    }
    async fn remove_image(&self, image: &ImageSpec) -> Result<(), RuntimeError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("RemoveImage({})", image.image));
        if self.refuse_removal.as_deref() == Some(image.image.as_str()) {
            return Err(RuntimeError::Invalid {
                code: Code::FailedPrecondition,
                desc: format!("image {} is in use", image.image),
            });
        }
        self.images.lock().unwrap().retain(|i| i.id != image.image);
        Ok(())
    }
    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError> {
        self.calls.lock().unwrap().push("ImageFsInfo".into());
        let imgs = self.images.lock().unwrap();
        Ok(ImageFsInfo {
            used_bytes: imgs.iter().map(|i| i.size).sum(),
            inodes_used: imgs.len() as u64,
        })
    }
    async fn mark_used(&self, _image_id: &str, _at_unix_ms: u64) -> Result<(), RuntimeError> {
        Ok(())
    }
    async fn resolve_image(&self, image: &ImageSpec, _auth: Option<&AuthConfig>) -> ResolveAttempt {
        ResolveAttempt {
            result: Err(RuntimeError::pull(
                Code::Unknown,
                &image.image,
                "no resolves here",
            )),
            trace: Default::default(),
        }
    }
}

fn img(name: &str, first_seen: u64, last_used: u64) -> Image {
    Image {
        id: format!("sha256:{name}"),
        repo_tags: vec![format!("docker.io/library/{name}:latest")],
        size: SIZE,
        first_seen_unix_ms: first_seen,
        last_used_unix_ms: last_used,
        ..Image::default()
    }
}

fn four() -> Vec<Image> {
    vec![
        img("a", 1000, 4000),
        img("b", 1000, 1000),
        img("c", 2000, 3000),
        img("d", 500, 3000),
    ]
}

fn runtime(images: Vec<Image>) -> Images {
    Images {
        images: Mutex::new(images),
        calls: Mutex::new(Vec::new()),
        refuse_removal: None,
    }
}

/// Capacity at which the images use `percent` % of it.
fn capacity_for(n: usize, percent: u64) -> u64 {
    n as u64 * SIZE * 100 / percent
}

fn low60() -> GcPolicy {
    GcPolicy {
        low_threshold_percent: 60,
        ..GcPolicy::default()
    }
}

fn names(ids: &[String]) -> Vec<&str> {
    ids.iter()
        .map(|i| i.strip_prefix("sha256:").unwrap())
        .collect()
}

struct Case {
    name: &'static str,
    images: Vec<Image>,
    policy: GcPolicy,
    percent: u64,
    in_use: &'static [&'static str],
    deleted: &'static [&'static str],
    causes: &'static [GcCause],
    warning: bool,
}

fn cases() -> Vec<Case> {
    let mut pinned_b = four();
    pinned_b[1].pinned = true;
    let mut young_b = four();
    young_b[1].first_seen_unix_ms = NOW - 60_000;
    let mut only_a = four();
    for i in only_a.iter_mut().skip(1) {
        i.pinned = true;
    }
    vec![
        Case {
            name: "below the high threshold nothing is deleted",
            images: four(),
            policy: GcPolicy::default(),
            percent: 80,
            in_use: &[],
            deleted: &[],
            causes: &[],
            warning: false,
        },
        Case {
            // 95 % used, low threshold 60 %: free (100-60) % of capacity minus what is
            // available: b (oldest use), then d (same last use as c, detected earlier).
            name: "frees down to the low threshold, least recently used first",
            images: four(),
            policy: low60(),
            percent: 95,
            in_use: &[],
            deleted: &["b", "d"],
            causes: &[GcCause::Space, GcCause::Space],
            warning: false,
        },
        Case {
            name: "pinned and in-use images are never collected",
            images: pinned_b,
            policy: low60(),
            percent: 95,
            in_use: &["d"],
            deleted: &["c", "a"],
            causes: &[GcCause::Space, GcCause::Space],
            warning: false,
        },
        Case {
            name: "images younger than the minimum age are kept",
            images: young_b,
            policy: low60(),
            percent: 95,
            in_use: &[],
            deleted: &["d", "c"],
            causes: &[GcCause::Space, GcCause::Space],
            warning: false,
        },
        Case {
            name: "maximum age deletes unused images below the threshold",
            images: vec![img("old", 1000, 1000), img("fresh", 1000, NOW - 1000)],
            policy: GcPolicy {
                max_age: Duration::from_secs(3600),
                ..GcPolicy::default()
            },
            percent: 10,
            in_use: &[],
            deleted: &["old"],
            causes: &[GcCause::Age],
            warning: false,
        },
        Case {
            name: "not enough freed gives the kubelet's warning",
            images: only_a,
            policy: low60(),
            percent: 99,
            in_use: &[],
            deleted: &["a"],
            causes: &[GcCause::Space],
            warning: true,
        },
    ]
}

#[tokio::test]
async fn gc_table() {
    for c in cases() {
        for dry_run in [false, true] {
            let what = format!("{} (dry run {dry_run})", c.name);
            let n = c.images.len();
            let rt = runtime(c.images.clone());
            let in_use: BTreeSet<String> = c.in_use.iter().map(|i| format!("sha256:{i}")).collect();
            let report = collect(
                &rt,
                &GcRequest {
                    policy: c.policy,
                    capacity: capacity_for(n, c.percent),
                    in_use: &in_use,
                    now_unix_ms: NOW,
                    dry_run,
                },
            )
            .await
            .unwrap();
            assert_eq!(names(&report.plan.to_delete), c.deleted, "{what}");
            assert_eq!(report.plan.causes, c.causes, "{what}");
            assert_eq!(report.used, n as u64 * SIZE, "{what}");
            assert_eq!(
                report
                    .planned
                    .iter()
                    .map(|i| i.id.clone())
                    .collect::<Vec<_>>(),
                report.plan.to_delete,
                "{what}"
            );
            let mut want_calls = vec!["ListImages".to_string(), "ImageFsInfo".to_string()];
            if dry_run {
                assert!(report.removed.is_empty(), "{what}");
                assert_eq!(rt.ids().len(), n, "{what}");
            } else {
                assert_eq!(report.removed, report.plan.to_delete, "{what}");
                assert_eq!(report.bytes_freed, c.deleted.len() as u64 * SIZE, "{what}");
                want_calls.extend(
                    report
                        .plan
                        .to_delete
                        .iter()
                        .map(|id| format!("RemoveImage({id})")),
                );
                let left: Vec<String> = rt.ids();
                for d in &report.removed {
                    assert!(!left.contains(d), "{what}");
                }
                assert_eq!(left.len(), n - c.deleted.len(), "{what}");
            }
            assert_eq!(*rt.calls.lock().unwrap(), want_calls, "{what}");
            match (c.warning, report.events.as_slice()) {
                (false, []) => {}
                (true, [ev]) => {
                    assert_eq!(ev.reason, EventReason::FreeDiskSpaceFailed, "{what}");
                    assert!(
                        ev.message.starts_with(
                            "Failed to garbage collect required amount of images. Attempted to free "
                        ) && ev.message.ends_with(" bytes eligible to free."),
                        "{what}: {}",
                        ev.message
                    );
                }
                (w, evs) => panic!("{what}: warning {w}, events {evs:?}"),
            }
        }
    }
}

#[tokio::test]
async fn zero_capacity_is_the_kubelets_error_and_event() {
    let rt = runtime(four());
    let err = collect(
        &rt,
        &GcRequest {
            policy: GcPolicy::default(),
            capacity: 0,
            in_use: &BTreeSet::new(),
            now_unix_ms: NOW,
            dry_run: false,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid capacity 0 on image filesystem");
    let ev = error_event(&err).unwrap();
    assert_eq!(ev.reason, EventReason::InvalidDiskCapacity);
    assert_eq!(ev.message, "invalid capacity 0 on image filesystem");
    assert_eq!(rt.ids().len(), 4);
}

#[tokio::test]
async fn a_failed_removal_is_reported_as_the_kubelet_words_it() {
    let mut rt = runtime(four());
    rt.refuse_removal = Some("sha256:b".into());
    let report = collect(
        &rt,
        &GcRequest {
            policy: low60(),
            capacity: capacity_for(4, 95),
            in_use: &BTreeSet::new(),
            now_unix_ms: NOW,
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.removed, ["sha256:d"]);
    assert_eq!(report.removal_errors.len(), 1);
    assert_eq!(
        report.deletion_error().unwrap(),
        format!(
            "wanted to free {} bytes, but freed {SIZE} bytes space with errors in image deletion: rpc error: code = FailedPrecondition desc = image sha256:b is in use",
            report.plan.amount_to_free
        )
    );
}
