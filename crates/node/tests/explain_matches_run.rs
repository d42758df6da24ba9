//! `pod explain` is a dry run of the image manager: over the KEP-2535 matrix (pull policy ×
//! image present or absent × pull record or none × verification policy × the pod's secret
//! matching, other or none), what explain predicts is what EnsureImageExists then does on the
//! same runtime and records — and explain itself pulls nothing and writes nothing.

mod common;

use std::sync::Arc;

use common::{FakeCreds, env_at, record_by_secret, scripted, secret_cred};
use pullsim_node::explain::explain;
use pullsim_node::manifest::{ImageSource, Origin, PodImage, PodSpec};
use pullsim_node::{EnsureRequest, FakeClock, ManagerConfig, PodRun, VerificationConfig};
use pullsim_policy::{Allowlist, PullPolicy, PullerConfig, Reason, VerificationPolicy};

const IMAGE: &str = "registry.test/team/private:1";
const ID: &str = "sha256:private";

fn pod(policy: PullPolicy, creds: FakeCreds) -> PodRun {
    let spec = PodSpec {
        namespace: "b".into(),
        name: "pod".into(),
        uid: "uid-b".into(),
        service_account: "default".into(),
        image_pull_secrets: vec![],
        images: vec![PodImage {
            source: ImageSource::Container,
            name: "c".into(),
            image: IMAGE.into(),
            pull_policy: Some(policy),
        }],
        origin: Origin {
            file: "p.yaml".into(),
            document: 1,
            object: "Pod \"pod\"".into(),
        },
    };
    PodRun::new(spec, Box::new(creds))
}

#[tokio::test]
async fn explain_predicts_what_ensure_image_exists_does() {
    let verifications = [
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
    let mut seen = std::collections::BTreeSet::new();
    for gate in [true, false] {
        for (vpolicy, allow) in &verifications {
            for policy in [
                PullPolicy::Always,
                PullPolicy::IfNotPresent,
                PullPolicy::Never,
            ] {
                for present in [true, false] {
                    for with_record in [true, false] {
                        for secret in ["a", "c", ""] {
                            let what = format!(
                                "gate {gate} {vpolicy:?} {allow:?} {policy:?} present {present} record {with_record} secret {secret:?}"
                            );
                            let mut runtime = scripted(|r| r.accepted_users = vec!["a".into()]);
                            if present {
                                runtime = runtime.with_image(IMAGE, ID);
                            }
                            let cfg = ManagerConfig {
                                ensure_secret_pulled_images: gate,
                                verification: VerificationConfig {
                                    policy: *vpolicy,
                                    allowlist: Allowlist::parse(allow).unwrap(),
                                },
                            };
                            let e = env_at(
                                runtime,
                                cfg.clone(),
                                PullerConfig::default(),
                                0.0,
                                0,
                                Arc::new(FakeClock::default()),
                            );
                            if with_record {
                                e.records.insert(record_by_secret(
                                    ID,
                                    "registry.test/team/private",
                                    &secret_cred("a", "pull", "a"),
                                ));
                            }
                            let creds = match secret {
                                "" => FakeCreds::default(),
                                // Another secret with the same credential: matches by hash.
                                "a" => FakeCreds(vec![secret_cred("b", "pull", "a")]),
                                _ => FakeCreds(vec![secret_cred("b", "pull", "c")]),
                            };
                            let pods = [pod(policy, creds.clone())];

                            e.runtime.clear_calls();
                            e.records.clear_calls();
                            let ex = explain(&e.runtime, &e.records, &pods, &cfg);
                            assert_eq!(ex.len(), 1);
                            let ex = &ex[0];
                            // A dry run: reads only.
                            assert!(
                                e.runtime
                                    .calls()
                                    .iter()
                                    .all(|c| c.starts_with("ImageStatus") || c == "ListImages"),
                                "{what}: {:?}",
                                e.runtime.calls()
                            );
                            assert!(
                                e.records
                                    .calls()
                                    .iter()
                                    .all(|c| !c.starts_with("Write") && !c.starts_with("Delete")),
                                "{what}: {:?}",
                                e.records.calls()
                            );
                            let records_before = e.records.records();

                            e.runtime.clear_calls();
                            let req = EnsureRequest {
                                pod: "b/pod",
                                pod_uid: "uid-b",
                                container: "c",
                                field_path: Some("spec.containers{c}"),
                                image: IMAGE,
                                policy,
                            };
                            let out = e.manager.ensure_image_exists(&req, &creds).await;
                            let pulls = e
                                .runtime
                                .calls()
                                .into_iter()
                                .filter(|c| c.starts_with("PullImage"))
                                .count();
                            let events: Vec<String> = e
                                .manager
                                .take_events()
                                .into_iter()
                                .map(|e| e.reason)
                                .collect();
                            match ex.action {
                                "use-local" => {
                                    assert_eq!(out.image_ref.as_deref(), Some(ID), "{what}");
                                    assert_eq!(pulls, 0, "{what}");
                                    assert_eq!(events, ["Pulled"], "{what}");
                                    assert_eq!(ex.reason, None, "{what}");
                                }
                                "pull" => {
                                    assert_eq!(pulls, 1, "{what}");
                                    assert_eq!(events[0], "Pulling", "{what}");
                                    assert_eq!(
                                        out.image_ref.is_some(),
                                        secret == "a",
                                        "{what}: {out:?}"
                                    );
                                    assert_eq!(ex.reason, None, "{what}");
                                }
                                "error" => {
                                    assert_eq!(
                                        ex.reason,
                                        Some(Reason::ErrImageNeverPull),
                                        "{what}"
                                    );
                                    assert_eq!(out.reason, ex.reason, "{what}");
                                    assert_eq!(pulls, 0, "{what}");
                                    assert_eq!(events, ["ErrImageNeverPull"], "{what}");
                                }
                                other => panic!("{what}: action {other}"),
                            }
                            // What explain read is what the run read: the run changed records
                            // only by pulling.
                            if pulls == 0 && secret != "a" {
                                assert_eq!(e.records.records(), records_before, "{what}");
                            }
                            seen.insert(ex.action);
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["error", "pull", "use-local"],
        "the matrix reaches every decision"
    );
}

#[tokio::test]
async fn explain_reports_failures_before_the_decision() {
    let e = env_at(
        scripted(|r| r.status_error = Some("disk on fire".into())),
        ManagerConfig::default(),
        PullerConfig::default(),
        0.0,
        0,
        Arc::new(FakeClock::default()),
    );
    let pods = [pod(PullPolicy::IfNotPresent, FakeCreds::default())];
    let ex = explain(&e.runtime, &e.records, &pods, &ManagerConfig::default());
    assert_eq!(ex[0].action, "error");
    assert_eq!(ex[0].reason, Some(Reason::ImageInspectError));
    assert_eq!(
        ex[0].presence,
        "lookup failed: Failed to inspect image \"\": rpc error: code = Unknown desc = disk on fire"
    );
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
        .ensure_image_exists(&req, &FakeCreds::default())
        .await;
    assert_eq!(out.reason, ex[0].reason);
}
