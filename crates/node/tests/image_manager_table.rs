//! Table tests of EnsureImageExists, ported from the kubelet:
//! pkg/kubelet/images/image_manager_test.go (pullerTestCases, TestParallelPuller,
//! TestSerializedPuller, TestApplyDefaultImageTag). Each step advances the fake clock by one
//! second (back-off 1 s → 60 s, as upstream) and checks the calls into the runtime, the
//! returned reason, the events and the message.
//!
//! The runtime's calls are CRI's: the kubelet's GetImageRef is `ImageStatus(image)` and its
//! GetImageSize after a pull is `ImageStatus(image)` again (kuberuntime_image.go, puller.go).
//! Difference to upstream, by design: the KEP-2535 gate is on (the 1.35 default), so an image
//! found present also reads the pull records.

mod common;

use std::time::Duration;

use common::{FakeCreds, ScriptedImageService, env, scripted};
use pullsim_node::shared::apply_default_image_tag;
use pullsim_node::{EnsureRequest, ManagerConfig};
use pullsim_policy::{EventType, PullPolicy, PullerConfig, Reason};

struct Step {
    calls: &'static [&'static str],
    reason: Option<Reason>,
    events: &'static [&'static str],
    msg: &'static str,
}

struct Case {
    name: &'static str,
    image: &'static str,
    policy: PullPolicy,
    inspect_err: Option<&'static str>,
    pull_err: Option<&'static str>,
    qps: f64,
    burst: u32,
    steps: Vec<Step>,
}

const fn step(
    calls: &'static [&'static str],
    reason: Option<Reason>,
    events: &'static [&'static str],
    msg: &'static str,
) -> Step {
    Step {
        calls,
        reason,
        events,
        msg,
    }
}

fn cases() -> Vec<Case> {
    use PullPolicy::*;
    use Reason::*;
    vec![
        Case {
            name: "image missing, pull",
            image: "missing_image",
            policy: IfNotPresent,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: vec![step(
                &["ImageStatus(missing_image:latest)", "PullImage(missing_image:latest)", "ImageStatus(missing_image:latest)"],
                None,
                &["Pulling", "Pulled"],
                "",
            )],
        },
        Case {
            name: "image present, don't pull",
            image: "present_image",
            policy: IfNotPresent,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: (0..3)
                .map(|_| {
                    step(
                        &["ImageStatus(present_image:latest)"],
                        None,
                        &["Pulled"],
                        "already present on machine and can be accessed by the pod",
                    )
                })
                .collect(),
        },
        Case {
            name: "image present, pull",
            image: "present_image",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: (0..3)
                .map(|_| step(&["PullImage(present_image:latest)", "ImageStatus(present_image:latest)"], None, &["Pulling", "Pulled"], ""))
                .collect(),
        },
        Case {
            name: "image missing, never pull",
            image: "missing_image",
            policy: Never,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: (0..3)
                .map(|_| {
                    step(
                        &["ImageStatus(missing_image:latest)"],
                        Some(ErrImageNeverPull),
                        &["ErrImageNeverPull"],
                        "Container image \"missing_image\" is not present with pull policy of Never",
                    )
                })
                .collect(),
        },
        Case {
            name: "image missing, unable to inspect",
            image: "missing_image",
            policy: IfNotPresent,
            inspect_err: Some("unknown inspectError"),
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: (0..3)
                .map(|_| {
                    step(
                        &["ImageStatus(missing_image:latest)"],
                        Some(ImageInspectError),
                        &["InspectFailed"],
                        "Failed to inspect image \"\": rpc error: code = Unknown desc = unknown inspectError",
                    )
                })
                .collect(),
        },
        Case {
            name: "image missing, unable to fetch",
            image: "typo_image",
            policy: IfNotPresent,
            inspect_err: None,
            pull_err: Some("404"),
            qps: 0.0,
            burst: 0,
            steps: vec![
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(ErrImagePull), &["Pulling", "Failed"], "404"),
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(ErrImagePull), &["Pulling", "Failed"], "404"),
                step(&["ImageStatus(typo_image:latest)"], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image \"typo_image\": ErrImagePull: 404"),
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(ErrImagePull), &["Pulling", "Failed"], "404"),
                step(&["ImageStatus(typo_image:latest)"], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image"),
                step(&["ImageStatus(typo_image:latest)"], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image"),
            ],
        },
        Case {
            name: "image present and qps>0, pull",
            image: "present_image",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 400.0,
            burst: 600,
            steps: (0..3)
                .map(|_| step(&["PullImage(present_image:latest)", "ImageStatus(present_image:latest)"], None, &["Pulling", "Pulled"], ""))
                .collect(),
        },
        Case {
            name: "image present and excessive qps rate, pull",
            image: "present_image",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 2000.0,
            burst: 0,
            steps: vec![
                step(&[], Some(ErrImagePull), &["Pulling", "Failed"], "pull QPS exceeded"),
                step(&[], Some(ErrImagePull), &["Pulling", "Failed"], "pull QPS exceeded"),
                step(&[], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image \"present_image\": ErrImagePull: pull QPS exceeded"),
            ],
        },
        Case {
            name: "invalid image name, no pull",
            image: "FAILED_IMAGE",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: vec![step(&[], Some(InvalidImageName), &["InspectFailed"], "Failed to apply default image tag \"FAILED_IMAGE\": couldn't parse image name \"FAILED_IMAGE\"")],
        },
        Case {
            name: "invalid image name with http, no pull",
            image: "http://url",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: vec![step(&[], Some(InvalidImageName), &["InspectFailed"], "Failed to apply default image tag \"http://url\"")],
        },
        Case {
            name: "invalid image name with sha256, no pull",
            image: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            policy: Always,
            inspect_err: None,
            pull_err: None,
            qps: 0.0,
            burst: 0,
            steps: vec![step(&[], Some(InvalidImageName), &["InspectFailed"], "Failed to apply default image tag")],
        },
        Case {
            name: "image missing, SignatureValidationFailed",
            image: "typo_image",
            policy: IfNotPresent,
            inspect_err: None,
            pull_err: Some("SignatureValidationFailed"),
            qps: 0.0,
            burst: 0,
            steps: vec![
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(SignatureValidationFailed), &["Pulling", "Failed"], "image pull failed for typo_image because the signature validation failed"),
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(SignatureValidationFailed), &["Pulling", "Failed"], "image pull failed for typo_image because the signature validation failed"),
                step(&["ImageStatus(typo_image:latest)"], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image \"typo_image\": SignatureValidationFailed: image pull failed for typo_image because the signature validation failed"),
                step(&["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"], Some(SignatureValidationFailed), &["Pulling", "Failed"], "image pull failed for typo_image because the signature validation failed"),
                step(&["ImageStatus(typo_image:latest)"], Some(ImagePullBackOff), &["BackOff"], "Back-off pulling image \"typo_image\": SignatureValidationFailed: image pull failed for typo_image because the signature validation failed"),
            ],
        },
        // Not upstream: RegistryUnavailable as evalCRIPullErr words it.
        Case {
            name: "registry unavailable",
            image: "typo_image",
            policy: IfNotPresent,
            inspect_err: None,
            pull_err: Some("RegistryUnavailable: dial tcp 127.0.0.1:1: connection refused"),
            qps: 0.0,
            burst: 0,
            steps: vec![step(
                &["ImageStatus(typo_image:latest)", "PullImage(typo_image:latest)"],
                Some(RegistryUnavailable),
                &["Pulling", "Failed"],
                "image pull failed for typo_image because the registry is unavailable: dial tcp 127.0.0.1:1: connection refused",
            )],
        },
    ]
}

async fn run_case(c: &Case, puller: PullerConfig) {
    let runtime = scripted(|r| {
        r.status_error = c.inspect_err.map(str::to_string);
        r.pull_error = c.pull_err.map(str::to_string);
    })
    .with_image("present_image:latest", "sha256:present");
    let e = env(runtime, ManagerConfig::default(), puller, c.qps, c.burst);
    let creds = FakeCreds::default();
    for (i, s) in c.steps.iter().enumerate() {
        e.runtime.clear_calls();
        e.clock.advance(Duration::from_secs(1));
        let req = EnsureRequest {
            pod: "test-ns/test_pod",
            pod_uid: "bar",
            container: "container_name",
            field_path: Some("spec.containers{container_name}"),
            image: c.image,
            policy: c.policy,
        };
        let out = e.manager.ensure_image_exists(&req, &creds).await;
        let what = format!("{} step {i} ({puller:?})", c.name);
        assert_eq!(e.runtime.calls(), s.calls, "calls: {what}");
        assert_eq!(out.reason, s.reason, "reason: {what}");
        let events: Vec<String> = e
            .manager
            .take_events()
            .into_iter()
            .map(|e| e.reason)
            .collect();
        assert_eq!(events, s.events, "events: {what}");
        assert!(
            out.message.contains(s.msg),
            "message {:?} lacks {:?}: {what}",
            out.message,
            s.msg
        );
        assert_eq!(
            out.image_ref.is_some(),
            s.reason.is_none(),
            "image ref: {what}"
        );
    }
}

#[tokio::test]
async fn parallel_puller() {
    let puller = PullerConfig::defaulted(Some(false), None);
    for c in cases() {
        run_case(&c, puller).await;
    }
}

#[tokio::test]
async fn serialized_puller() {
    let puller = PullerConfig::default();
    for c in cases() {
        run_case(&c, puller).await;
    }
}

#[test]
fn apply_default_image_tag_table() {
    // image_manager_test.go TestApplyDefaultImageTag
    let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let cases = [
        ("root".to_string(), "root:latest".to_string()),
        ("root:tag".into(), "root:tag".into()),
        (format!("root@{d}"), format!("root@{d}")),
        (format!("root:latest@{d}"), format!("root:latest@{d}")),
        ("root:latest".into(), "root:latest".into()),
    ];
    for (input, want) in cases {
        assert_eq!(apply_default_image_tag(&input).unwrap(), want, "{input}");
    }
}

/// An image name that does not parse: Warning InspectFailed with
/// `Failed to apply default image tag %q: %v` (pkg/kubelet/images/image_manager.go), where %v is
/// ParseImageName's `couldn't parse image name %q: %v` (pkg/util/parsers/parsers.go) around
/// distribution/reference's own text (normalize.go ParseNormalizedNamed, reference.go) — the
/// upstream text only, none of the detail the reference crate's Display adds. The waiting
/// message (reason InvalidImageName) is the event message; nothing reaches the runtime.
#[tokio::test]
async fn invalid_image_name_event_is_the_kubelets_text() {
    let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let cases = [
        (
            "FAILED_IMAGE".to_string(),
            "Failed to apply default image tag \"FAILED_IMAGE\": couldn't parse image name \"FAILED_IMAGE\": invalid reference format: repository name (library/FAILED_IMAGE) must be lowercase".to_string(),
        ),
        (
            "http://url".to_string(),
            "Failed to apply default image tag \"http://url\": couldn't parse image name \"http://url\": invalid reference format".to_string(),
        ),
        (
            hex.to_string(),
            format!("Failed to apply default image tag \"{hex}\": couldn't parse image name \"{hex}\": invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings"),
        ),
        (
            "nginx:".to_string(),
            "Failed to apply default image tag \"nginx:\": couldn't parse image name \"nginx:\": invalid reference format".to_string(),
        ),
        (
            "registry.test/Team/app:1".to_string(),
            "Failed to apply default image tag \"registry.test/Team/app:1\": couldn't parse image name \"registry.test/Team/app:1\": invalid reference format: repository name (Team/app) must be lowercase".to_string(),
        ),
    ];
    for (image, want) in cases {
        let e = env(
            ScriptedImageService::new(),
            ManagerConfig::default(),
            PullerConfig::default(),
            0.0,
            0,
        );
        let req = EnsureRequest {
            pod: "test-ns/test_pod",
            pod_uid: "bar",
            container: "container_name",
            field_path: Some("spec.containers{container_name}"),
            image: &image,
            policy: PullPolicy::IfNotPresent,
        };
        let out = e
            .manager
            .ensure_image_exists(&req, &FakeCreds::default())
            .await;
        assert_eq!(out.reason, Some(Reason::InvalidImageName), "{image}");
        assert_eq!(out.message, want, "{image}");
        let events = e.manager.take_events();
        assert_eq!(events.len(), 1, "{image}");
        assert_eq!(events[0].event_type, EventType::Warning, "{image}");
        assert_eq!(events[0].reason, "InspectFailed", "{image}");
        assert_eq!(events[0].message, want, "{image}");
        assert!(e.runtime.calls().is_empty(), "{image}");
        assert!(e.records.calls().is_empty(), "{image}");
        assert_eq!(
            apply_default_image_tag(&image).unwrap_err().upstream(),
            want["Failed to apply default image tag \"\": ".len() + image.len()..],
            "{image}"
        );
    }
}
