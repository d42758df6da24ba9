//! The pod workers' sync loop on a virtual clock with a fake runtime: SyncPod's image order,
//! the 10 s pod-worker retry against the image back-off (10 s doubling to 300 s, the kubelet's
//! flowcontrol.Backoff parameters), and the container-level `Error: <reason>` events.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FakeCreds, ScriptedImageService, scripted, slow_runtime, with_runtime};
use pullsim_node::describe::{describe_pod, tabwrite};
use pullsim_node::manifest::{ImageSource, Origin, PodImage, PodSpec};
use pullsim_node::{
    FakeClock, ImageManager, ImageState, ManagerConfig, MemPullRecords, PodRun, Puller,
    SyncOptions, run_pods,
};
use pullsim_policy::{PullPolicy, PullerConfig, Reason};

fn spec(images: Vec<(ImageSource, &str, &str, Option<PullPolicy>)>) -> PodSpec {
    PodSpec {
        namespace: "default".into(),
        name: "p".into(),
        uid: "uid".into(),
        service_account: "default".into(),
        image_pull_secrets: vec![],
        images: images
            .into_iter()
            .map(|(source, name, image, pull_policy)| PodImage {
                source,
                name: name.into(),
                image: image.into(),
                pull_policy,
            })
            .collect(),
        origin: Origin {
            file: "p.yaml".into(),
            document: 1,
            object: "Pod \"p\"".into(),
        },
    }
}

fn kubelet_manager(
    runtime: ScriptedImageService,
) -> (
    ImageManager<Arc<ScriptedImageService>, Arc<MemPullRecords>>,
    Arc<FakeClock>,
) {
    let clock = Arc::new(FakeClock::default());
    let m = ImageManager::new(
        Arc::new(runtime),
        Arc::new(MemPullRecords::new()),
        ManagerConfig::default(),
        Puller::new(&PullerConfig::default(), 0.0, 0, clock.clone()),
        clock.clone(),
    );
    (m, clock)
}

/// A pull that takes time (3 s here) ends the sync later: pod_workers.go completeWork requeues
/// the pod backOffPeriod (10 s) after the sync *finished*, so the retry is 10 s after the
/// failure, exactly when the first image back-off (10 s) has run out — a pull, not a BackOff.
/// Pulls start at 0, 13 (failure at 3 + 10), 36 (failure at 16, back-off 20 s: BackOff at 26),
/// 79 (failure at 39, back-off 40 s: BackOff at 49, 59, 69).
#[tokio::test]
async fn retry_is_counted_from_the_end_of_a_slow_failed_pull() {
    let clock = Arc::new(FakeClock::default());
    let m = ImageManager::new(
        Arc::new(with_runtime(
            slow_runtime(clock.clone(), Duration::from_secs(3)),
            |r| {
                r.pull_error = Some("401 Unauthorized".into());
            },
        )),
        Arc::new(MemPullRecords::new()),
        ManagerConfig::default(),
        Puller::new(&PullerConfig::default(), 0.0, 0, clock.clone()),
        clock.clone(),
    );
    let mut pods = vec![PodRun::new(
        spec(vec![(
            ImageSource::Container,
            "app",
            "reg.test/app:1",
            None,
        )]),
        Box::new(FakeCreds::default()),
    )];
    let opts = SyncOptions {
        virtual_clock: Some(clock.clone()),
        until: Some(Duration::from_secs(80)),
    };
    run_pods(&m, &mut pods, &opts).await;
    let events = m.take_events();
    let at = |reason: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.time.as_secs())
            .collect()
    };
    assert_eq!(at("Pulling"), [0, 13, 36, 79]);
    assert_eq!(at("BackOff"), [26, 49, 59, 69]);
}

#[tokio::test]
async fn back_off_grows_10_20_40_80_in_virtual_time() {
    let (m, clock) = kubelet_manager(scripted(|r| {
        r.pull_error = Some("401 Unauthorized".into());
    }));
    let mut pods = vec![PodRun::new(
        spec(vec![(
            ImageSource::Container,
            "app",
            "reg.test/app:1",
            None,
        )]),
        Box::new(FakeCreds::default()),
    )];
    let opts = SyncOptions {
        virtual_clock: Some(clock.clone()),
        until: Some(Duration::from_secs(300)),
    };
    run_pods(&m, &mut pods, &opts).await;
    let events = m.take_events();
    let pulls: Vec<u64> = events
        .iter()
        .filter(|e| e.reason == "Pulling")
        .map(|e| e.time.as_secs())
        .collect();
    assert_eq!(pulls, [0, 10, 30, 70, 150]);
    assert_eq!(pods[0].syncs, 31, "a sync every 10 s from 0 to 300 s");
    // Between pulls: Normal BackOff, then the container's Warning Failed "Error: ImagePullBackOff".
    let at_20: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.time == Duration::from_secs(20))
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        at_20,
        [
            ("BackOff", "Back-off pulling image \"reg.test/app:1\""),
            ("Failed", "Error: ImagePullBackOff")
        ]
    );
    match &pods[0].states[0] {
        ImageState::Waiting { reason, message } => {
            assert_eq!(*reason, Reason::ImagePullBackOff);
            assert_eq!(
                message,
                "Back-off pulling image \"reg.test/app:1\": ErrImagePull: 401 Unauthorized"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = describe_pod(&pods[0], &events, Duration::from_secs(300));
    assert!(
        text.contains("Normal   Pulling  2m30s (x5 over 5m)"),
        "{text}"
    );
    assert!(
        text.contains("Normal   BackOff  0s (x26 over 4m40s)"),
        "{text}"
    );
}

#[tokio::test]
async fn sync_pod_order_and_init_containers_gate_the_rest() {
    let (m, _clock) = kubelet_manager(
        ScriptedImageService::new()
            .with_image("reg.test/vol:1", "sha256:vol")
            .with_image("reg.test/dbg:1", "sha256:dbg"),
    );
    let mut pods = vec![PodRun::new(
        spec(vec![
            (ImageSource::InitContainer, "init1", "reg.test/init:1", None),
            (
                ImageSource::InitContainer,
                "init2",
                "reg.test/none:1",
                Some(PullPolicy::Never),
            ),
            (ImageSource::Container, "app", "reg.test/app:1", None),
            (
                ImageSource::EphemeralContainer,
                "dbg",
                "reg.test/dbg:1",
                None,
            ),
            (ImageSource::ImageVolume, "vol", "reg.test/vol:1", None),
        ]),
        Box::new(FakeCreds::default()),
    )];
    run_pods(&m, &mut pods, &SyncOptions::default()).await;
    let order: Vec<String> = m
        .take_events()
        .iter()
        .map(|e| format!("{} {}", e.container.as_deref().unwrap_or("-"), e.reason))
        .collect();
    assert_eq!(
        order,
        [
            "vol Pulled",
            "dbg Pulled",
            "init1 Pulling",
            "init1 Pulled",
            "init2 ErrImageNeverPull",
            "init2 Failed"
        ]
    );
    assert!(matches!(pods[0].states[2], ImageState::Pending));
    assert_eq!(pods[0].syncs, 1, "without --until each pod is synced once");
}

#[test]
fn tabwriter_pads_only_tab_terminated_cells() {
    assert_eq!(tabwrite("a\tbb\tc\nccc\td\n"), "a    bb  c\nccc  d\n");
}

#[tokio::test]
async fn an_image_volume_that_fails_ends_the_sync_without_container_events() {
    // kuberuntime_manager.go SyncPod: getImageVolumes fails → no container is started.
    let (m, _clock) =
        kubelet_manager(ScriptedImageService::new().with_image("reg.test/app:1", "sha256:app"));
    let mut pods = vec![PodRun::new(
        spec(vec![
            (ImageSource::Container, "app", "reg.test/app:1", None),
            (
                ImageSource::ImageVolume,
                "data",
                "reg.test/data:1",
                Some(PullPolicy::Never),
            ),
        ]),
        Box::new(FakeCreds::default()),
    )];
    run_pods(&m, &mut pods, &SyncOptions::default()).await;
    let events: Vec<(Option<String>, String)> = m
        .take_events()
        .into_iter()
        .map(|e| (e.field_path, e.reason))
        .collect();
    // The volume's event is on the pod (no field path) and has no "Error:" companion.
    assert_eq!(events, [(None, "ErrImageNeverPull".to_string())]);
    assert!(matches!(pods[0].states[0], ImageState::Pending));
    assert!(matches!(
        pods[0].states[1],
        ImageState::Waiting {
            reason: Reason::ErrImageNeverPull,
            ..
        }
    ));
}
