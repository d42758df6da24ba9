//! KEP-2535 through the whole image manager: verification policy × the pod's credentials × the
//! node's pull records × pull policy, with the calls into the runtime and the record store.
//! Rules: pkg/kubelet/images/pullmanager/image_pull_manager.go (MustAttemptImagePull,
//! RecordPullIntent, RecordImagePulled), image_pull_policies.go, and image_manager.go
//! (a present image the pod may not use is pulled with IfNotPresent and reported as
//! ErrImageNeverPull with Never, so that its presence is not revealed).
//! Also: the runtime's credential loop (kuberuntime_image.go PullImage) and the serial vs
//! parallel pullers (puller.go).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    FakeCreds, ScriptedImageService, env, node_cred, record_by_secret, refused, scripted,
    secret_cred,
};
use pullsim_node::puller::PullerLogEntry;
use pullsim_node::records::{ImagePullCredentials, ImagePulledRecord};
use pullsim_node::{EnsureRequest, ManagerConfig, VerificationConfig};
use pullsim_policy::{Allowlist, PullPolicy, PullerConfig, Reason, VerificationPolicy};
use tokio::sync::Notify;

const IMAGE: &str = "registry.test/team/private:1";
const ID: &str = "sha256:private";

#[derive(Clone, Copy, Debug)]
enum Rec {
    /// No record and no intent: a preloaded image.
    Preloaded,
    /// Pulled by the kubelet with secret a/pull (user "a").
    BySecretA,
    /// Pulled anonymously or with node credentials.
    NodeAccessible,
}

#[derive(Clone, Copy, Debug)]
enum Pod {
    /// ns-a's own secret a/pull.
    SameSecret,
    /// Another secret (b/pull) holding the same credential (same hash).
    SameCredentialOtherSecret,
    /// A secret with other credentials (user "c").
    OtherCredentials,
    /// No credentials.
    None,
}

fn creds(p: Pod) -> FakeCreds {
    FakeCreds(match p {
        Pod::SameSecret => vec![secret_cred("a", "pull", "a")],
        Pod::SameCredentialOtherSecret => vec![secret_cred("b", "pull", "a")],
        Pod::OtherCredentials => vec![secret_cred("b", "pull", "c")],
        Pod::None => vec![],
    })
}

fn record(r: Rec) -> Option<ImagePulledRecord> {
    let name = "registry.test/team/private";
    match r {
        Rec::Preloaded => None,
        Rec::BySecretA => Some(record_by_secret(ID, name, &secret_cred("a", "pull", "a"))),
        Rec::NodeAccessible => Some(ImagePulledRecord {
            last_updated_time: Some(1),
            image_ref: ID.into(),
            credential_mapping: [(
                name.to_string(),
                ImagePullCredentials {
                    node_pods_accessible: true,
                    ..Default::default()
                },
            )]
            .into(),
        }),
    }
}

/// Expected outcome: `true` = the pod uses the local image ("can be accessed by the pod").
fn may_use(policy: VerificationPolicy, allowlisted: bool, r: Rec, p: Pod) -> bool {
    let verify = match policy {
        VerificationPolicy::NeverVerify => false,
        VerificationPolicy::NeverVerifyPreloadedImages => !matches!(r, Rec::Preloaded),
        VerificationPolicy::NeverVerifyAllowlistedImages => !allowlisted,
        _ => true,
    };
    if !verify {
        return true;
    }
    match r {
        Rec::Preloaded => false,
        Rec::NodeAccessible => true,
        Rec::BySecretA => matches!(p, Pod::SameSecret | Pod::SameCredentialOtherSecret),
    }
}

#[tokio::test]
async fn verification_matrix() {
    let policies = [
        (VerificationPolicy::NeverVerify, vec![]),
        (VerificationPolicy::NeverVerifyPreloadedImages, vec![]),
        (
            VerificationPolicy::NeverVerifyAllowlistedImages,
            vec!["registry.test/team/*".to_string()],
        ),
        (
            VerificationPolicy::NeverVerifyAllowlistedImages,
            vec!["registry.test/other".to_string()],
        ),
        (VerificationPolicy::AlwaysVerify, vec![]),
    ];
    for (policy, allow) in &policies {
        let allowlisted = allow.iter().any(|a| a == "registry.test/team/*");
        for r in [Rec::Preloaded, Rec::BySecretA, Rec::NodeAccessible] {
            for p in [
                Pod::SameSecret,
                Pod::SameCredentialOtherSecret,
                Pod::OtherCredentials,
                Pod::None,
            ] {
                for pull_policy in [PullPolicy::IfNotPresent, PullPolicy::Never] {
                    let what = format!("{policy:?} {allow:?} {r:?} {p:?} {pull_policy:?}");
                    let runtime = scripted(|r| {
                        r.accepted_users = vec!["a".into()];
                    })
                    .with_image(IMAGE, ID);
                    let cfg = ManagerConfig {
                        ensure_secret_pulled_images: true,
                        verification: VerificationConfig {
                            policy: *policy,
                            allowlist: Allowlist::parse(allow).unwrap(),
                        },
                    };
                    let e = env(runtime, cfg, PullerConfig::default(), 0.0, 0);
                    if let Some(rec) = record(r) {
                        e.records.insert(rec);
                    }
                    let req = EnsureRequest {
                        pod: "b/pod",
                        pod_uid: "uid-b",
                        container: "c",
                        field_path: Some("spec.containers{c}"),
                        image: IMAGE,
                        policy: pull_policy,
                    };
                    let out = e.manager.ensure_image_exists(&req, &creds(p)).await;
                    let events: Vec<String> = e
                        .manager
                        .take_events()
                        .into_iter()
                        .map(|e| e.message)
                        .collect();
                    let pulls: Vec<String> = e
                        .runtime
                        .calls()
                        .into_iter()
                        .filter(|c| c.starts_with("PullImage"))
                        .collect();
                    if may_use(*policy, allowlisted, r, p) {
                        assert_eq!(out.image_ref.as_deref(), Some(ID), "{what}");
                        assert_eq!(
                            events,
                            [format!(
                                "Container image \"{IMAGE}\" already present on machine and can be accessed by the pod"
                            )],
                            "{what}"
                        );
                        assert!(pulls.is_empty(), "{what}: {pulls:?}");
                        continue;
                    }
                    match pull_policy {
                        PullPolicy::Never => {
                            assert_eq!(out.reason, Some(Reason::ErrImageNeverPull), "{what}");
                            assert_eq!(
                                events,
                                [format!(
                                    "Container image \"{IMAGE}\" is not present with pull policy of Never"
                                )],
                                "{what}"
                            );
                            assert!(pulls.is_empty(), "{what}");
                        }
                        _ => {
                            // The pod must prove its credentials by pulling.
                            let user = match p {
                                Pod::SameSecret | Pod::SameCredentialOtherSecret => " as a",
                                Pod::OtherCredentials => " as c",
                                Pod::None => "",
                            };
                            assert_eq!(pulls, [format!("PullImage({IMAGE}{user})")], "{what}");
                            let ok = !matches!(p, Pod::OtherCredentials | Pod::None);
                            assert_eq!(out.image_ref.is_some(), ok, "{what}");
                            assert_eq!(events[0], format!("Pulling image \"{IMAGE}\""), "{what}");
                            // The intent is gone after the pull either way.
                            assert!(e.records.intents().is_empty(), "{what}");
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn same_credential_under_other_secret_is_added_to_the_record() {
    let runtime = ScriptedImageService::new().with_image(IMAGE, ID);
    let e = env(
        runtime,
        ManagerConfig::default(),
        PullerConfig::default(),
        0.0,
        0,
    );
    e.records.insert(record(Rec::BySecretA).unwrap());
    let req = EnsureRequest {
        pod: "b/pod",
        pod_uid: "uid-b",
        container: "c",
        field_path: None,
        image: IMAGE,
        policy: PullPolicy::IfNotPresent,
    };
    let out = e
        .manager
        .ensure_image_exists(&req, &creds(Pod::SameCredentialOtherSecret))
        .await;
    assert_eq!(out.image_ref.as_deref(), Some(ID));
    let rec = e.records.record(ID).unwrap();
    let secrets = &rec.credential_mapping["registry.test/team/private"].kubernetes_secrets;
    let names: Vec<String> = secrets
        .iter()
        .map(|s| format!("{}/{}", s.namespace, s.name))
        .collect();
    assert_eq!(names, ["a/pull", "b/pull"]);
}

#[tokio::test]
async fn credentials_tried_in_order_record_names_the_one_that_worked() {
    let runtime = scripted(|r| {
        r.accepted_users = vec!["a".into()];
    });
    let e = env(
        runtime,
        ManagerConfig::default(),
        PullerConfig::default(),
        0.0,
        0,
    );
    let pod_creds = FakeCreds(vec![
        secret_cred("ns", "wrong", "c"),
        secret_cred("ns", "right", "a"),
    ]);
    let req = EnsureRequest {
        pod: "ns/pod",
        pod_uid: "uid",
        container: "c",
        field_path: None,
        image: IMAGE,
        policy: PullPolicy::IfNotPresent,
    };
    let out = e.manager.ensure_image_exists(&req, &pod_creds).await;
    assert!(out.image_ref.is_some(), "{out:?}");
    assert_eq!(
        e.runtime.calls(),
        [
            format!("ImageStatus({IMAGE})"),
            format!("PullImage({IMAGE} as c)"),
            format!("PullImage({IMAGE} as a)"),
            format!("ImageStatus({IMAGE})"),
        ]
    );
    assert_eq!(
        e.records.calls(),
        [
            "WriteImagePullIntent",
            "GetImagePulledRecord",
            "WriteImagePulledRecord",
            "DeleteImagePullIntent"
        ]
    );
    let rec = e.records.records().into_iter().next().unwrap();
    let c = &rec.credential_mapping["registry.test/team/private"];
    assert!(!c.node_pods_accessible);
    assert_eq!(c.kubernetes_secrets.len(), 1);
    assert_eq!(c.kubernetes_secrets[0].name, "right");
    assert_eq!(
        c.kubernetes_secrets[0].credential_hash,
        secret_cred("ns", "right", "a").hash
    );
}

#[tokio::test]
async fn all_credentials_fail_no_anonymous_retry_errors_aggregated() {
    let runtime = scripted(|r| {
        r.accepted_users = vec!["a".into()];
    });
    let e = env(
        runtime,
        ManagerConfig::default(),
        PullerConfig::default(),
        0.0,
        0,
    );
    let pod_creds = FakeCreds(vec![
        secret_cred("ns", "one", "c"),
        secret_cred("ns", "two", "d"),
    ]);
    let req = EnsureRequest {
        pod: "ns/pod",
        pod_uid: "uid",
        container: "c",
        field_path: None,
        image: IMAGE,
        policy: PullPolicy::Always,
    };
    let out = e.manager.ensure_image_exists(&req, &pod_creds).await;
    assert_eq!(out.reason, Some(Reason::ErrImagePull));
    assert_eq!(
        out.message,
        format!("[{}, {}]", refused(IMAGE, "c"), refused(IMAGE, "d"))
    );
    assert_eq!(
        e.runtime.calls(),
        [
            format!("PullImage({IMAGE} as c)"),
            format!("PullImage({IMAGE} as d)")
        ]
    );
    assert!(e.records.records().is_empty());
    assert!(e.records.intents().is_empty());
}

#[tokio::test]
async fn node_credentials_make_the_image_node_accessible() {
    let runtime = scripted(|r| {
        r.accepted_users = vec!["n".into()];
    });
    let e = env(
        runtime,
        ManagerConfig::default(),
        PullerConfig::default(),
        0.0,
        0,
    );
    let req = EnsureRequest {
        pod: "ns/pod",
        pod_uid: "uid",
        container: "c",
        field_path: None,
        image: IMAGE,
        policy: PullPolicy::IfNotPresent,
    };
    let out = e
        .manager
        .ensure_image_exists(&req, &FakeCreds(vec![node_cred("n")]))
        .await;
    assert!(out.image_ref.is_some());
    let rec = e.records.records().into_iter().next().unwrap();
    assert!(rec.credential_mapping["registry.test/team/private"].node_pods_accessible);
}

#[tokio::test]
async fn gate_off_present_image_is_used_without_records() {
    let runtime = ScriptedImageService::new().with_image(IMAGE, ID);
    let cfg = ManagerConfig {
        ensure_secret_pulled_images: false,
        ..Default::default()
    };
    let e = env(runtime, cfg, PullerConfig::default(), 0.0, 0);
    e.records.insert(record(Rec::BySecretA).unwrap());
    let req = EnsureRequest {
        pod: "b/pod",
        pod_uid: "uid-b",
        container: "c",
        field_path: None,
        image: IMAGE,
        policy: PullPolicy::IfNotPresent,
    };
    let out = e.manager.ensure_image_exists(&req, &creds(Pod::None)).await;
    assert_eq!(out.image_ref.as_deref(), Some(ID));
    let events: Vec<String> = e
        .manager
        .take_events()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        events,
        [format!(
            "Container image \"{IMAGE}\" already present on machine"
        )]
    );
    assert!(e.records.calls().is_empty());
}

/// Two pods pull at once: "big" is requested first and its pull blocks until released.
/// Returns the runtime's calls seen while "big" was still blocked, and the puller's log.
async fn two_pods(puller: PullerConfig) -> (Vec<String>, Vec<PullerLogEntry>) {
    let notify = Arc::new(Notify::new());
    let runtime = scripted(|r| {
        r.block = Some(("reg.test/big:1".into(), notify.clone()));
    });
    let e = env(runtime, ManagerConfig::default(), puller, 0.0, 0);
    let none = FakeCreds::default();
    let big = EnsureRequest {
        pod: "ns/a",
        pod_uid: "a",
        container: "c",
        field_path: None,
        image: "reg.test/big:1",
        policy: PullPolicy::IfNotPresent,
    };
    let small = EnsureRequest {
        pod: "ns/b",
        pod_uid: "b",
        image: "reg.test/small:1",
        ..big.clone()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let checker = async {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        *seen.lock().unwrap() = e.runtime.calls();
        notify.notify_one();
    };
    let (a, b, ()) = tokio::join!(
        e.manager.ensure_image_exists(&big, &none),
        e.manager.ensure_image_exists(&small, &none),
        checker
    );
    assert!(a.image_ref.is_some() && b.image_ref.is_some());
    let seen = seen.lock().unwrap().clone();
    (seen, e.manager.puller_log())
}

#[tokio::test(flavor = "current_thread")]
async fn serial_puller_blocks_head_of_line() {
    let (seen, log) = two_pods(PullerConfig::default()).await;
    // While the big pull runs, the small one has not reached the runtime.
    let pulls: Vec<&String> = seen.iter().filter(|c| c.starts_with("PullImage")).collect();
    assert_eq!(pulls, ["PullImage(reg.test/big:1)"]);
    assert_eq!(
        log,
        [
            PullerLogEntry::Started("reg.test/big:1".into()),
            PullerLogEntry::Finished("reg.test/big:1".into()),
            PullerLogEntry::Started("reg.test/small:1".into()),
            PullerLogEntry::Finished("reg.test/small:1".into()),
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn parallel_puller_has_no_head_of_line_blocking() {
    let (seen, log) = two_pods(PullerConfig::defaulted(None, Some(3))).await;
    let pulls: Vec<&String> = seen.iter().filter(|c| c.starts_with("PullImage")).collect();
    assert_eq!(
        pulls,
        ["PullImage(reg.test/big:1)", "PullImage(reg.test/small:1)"]
    );
    assert_eq!(
        log,
        [
            PullerLogEntry::Started("reg.test/big:1".into()),
            PullerLogEntry::Started("reg.test/small:1".into()),
            PullerLogEntry::Finished("reg.test/small:1".into()),
            PullerLogEntry::Finished("reg.test/big:1".into()),
        ]
    );
}

#[tokio::test]
async fn qps_burst_refusals_fail_the_pull_at_once_and_back_off() {
    // registryPullQPS 1, registryBurst 2: at one instant two pulls pass, the third is refused
    // with "pull QPS exceeded" (helpers.go throttledImageService) and backs off like any
    // ErrImagePull.
    let e = env(
        ScriptedImageService::new(),
        ManagerConfig::default(),
        PullerConfig::default(),
        1.0,
        2,
    );
    let none = FakeCreds::default();
    let mut reasons = Vec::new();
    for i in 0..3 {
        let image = format!("reg.test/img{i}:1");
        let req = EnsureRequest {
            pod: "ns/p",
            pod_uid: "p",
            container: "c",
            field_path: None,
            image: &image,
            policy: PullPolicy::Always,
        };
        let out = e.manager.ensure_image_exists(&req, &none).await;
        reasons.push((out.reason, out.message));
    }
    assert_eq!(reasons[0].0, None);
    assert_eq!(reasons[1].0, None);
    assert_eq!(
        reasons[2],
        (Some(Reason::ErrImagePull), "pull QPS exceeded".to_string())
    );
    // One second later a token is back, but the image is in back-off (1 s initial here).
    e.clock.advance(Duration::from_millis(500));
    let req = EnsureRequest {
        pod: "ns/p",
        pod_uid: "p",
        container: "c",
        field_path: None,
        image: "reg.test/img2:1",
        policy: PullPolicy::Always,
    };
    let out = e.manager.ensure_image_exists(&req, &none).await;
    assert_eq!(out.reason, Some(Reason::ImagePullBackOff));
    assert_eq!(
        out.message,
        "Back-off pulling image \"reg.test/img2:1\": ErrImagePull: pull QPS exceeded"
    );
}
