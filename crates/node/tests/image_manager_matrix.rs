//! EnsureImageExists as a table over pull policy × presence × pull result × back-off ×
//! KEP-2535 verification (gate on/off, verification policy, the node's pull record, the pod's
//! credentials), in the style of pkg/kubelet/images/image_manager_test.go (pullerTestCases:
//! each step advances a fake clock and checks the runtime's calls, the returned error and
//! message, and the events). Here each step also checks the calls into the pull-record store
//! (pkg/kubelet/images/pullmanager/image_pull_manager.go: MustAttemptImagePull reads the
//! pulled record and, for a record without credentials, the pull intent; RecordPullIntent,
//! RecordImagePulled, RecordImagePullFailed) and every event's type, reason and message
//! (pkg/kubelet/images/image_manager.go, pkg/kubelet/events/event.go).
//!
//! Back-off is the upstream test's: 1 s doubling to 60 s (flowcontrol.NewFakeBackOff).

mod common;

use std::time::Duration;

use common::{FakeCreds, env, record_by_secret, scripted, secret_cred};
use pullsim_node::records::ImagePulledRecord;
use pullsim_node::{EnsureRequest, ManagerConfig, VerificationConfig};
use pullsim_policy::{Allowlist, EventType, PullPolicy, PullerConfig, Reason, VerificationPolicy};

const IMAGE: &str = "registry.test/team/private:1";
const ID: &str = "sha256:private";

/// GetImageRef, and GetImageSize after a pull: both `ImageStatus(image)` (kuberuntime_image.go).
const GET: &str = "ImageStatus(registry.test/team/private:1)";
const PULL_AS_A: &str = "PullImage(registry.test/team/private:1 as a)";
const PULL_AS_C: &str = "PullImage(registry.test/team/private:1 as c)";
const PULL_ANON: &str = "PullImage(registry.test/team/private:1)";

const REC_GET: &str = "GetImagePulledRecord";
const REC_WRITE: &str = "WriteImagePulledRecord";
const INTENT_EXISTS: &str = "ImagePullIntentExists";
const INTENT_WRITE: &str = "WriteImagePullIntent";
const INTENT_DELETE: &str = "DeleteImagePullIntent";

/// Event messages, byte for byte (image_manager.go).
const PULLING: &str = "Pulling image \"registry.test/team/private:1\"";
/// Prefix only: the durations are measured.
const PULLED_NEW: &str = "Successfully pulled image \"registry.test/team/private:1\" in ";
const PRESENT_OK: &str = "Container image \"registry.test/team/private:1\" already present on machine and can be accessed by the pod";
const PRESENT_GATE_OFF: &str =
    "Container image \"registry.test/team/private:1\" already present on machine";
const NEVER: &str =
    "Container image \"registry.test/team/private:1\" is not present with pull policy of Never";
const BACKOFF: &str = "Back-off pulling image \"registry.test/team/private:1\"";
/// The scripted registry's refusals, as the kubelet receives them (code Unknown: the CRI
/// client keeps the description, cri-client remote_image.go).
const ERR_ANON: &str = "failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for anonymous";
const ERR_C: &str =
    "failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for c";
const FAILED_ANON: &str = "Failed to pull image \"registry.test/team/private:1\": failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for anonymous";
const FAILED_C: &str = "Failed to pull image \"registry.test/team/private:1\": failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for c";

use EventType::{Normal, Warning};

#[derive(Clone, Copy, Debug)]
enum Record {
    /// No record, no intent: a preloaded image (or absent).
    None,
    /// Pulled by the kubelet with secret a/pull.
    BySecretA,
}

#[derive(Clone, Copy, Debug)]
enum Creds {
    None,
    SecretA,
    SecretC,
}

struct Step {
    /// Seconds the fake clock advances before the step.
    advance: u64,
    policy: PullPolicy,
    calls: &'static [&'static str],
    record_calls: &'static [&'static str],
    events: &'static [(EventType, &'static str, &'static str)],
    reason: Option<Reason>,
    /// The returned message, exactly.
    message: &'static str,
}

struct Case {
    name: &'static str,
    gate: bool,
    verification: VerificationPolicy,
    present: bool,
    record: Record,
    creds: Creds,
    steps: Vec<Step>,
}

#[allow(clippy::too_many_arguments)]
const fn step(
    advance: u64,
    policy: PullPolicy,
    calls: &'static [&'static str],
    record_calls: &'static [&'static str],
    events: &'static [(EventType, &'static str, &'static str)],
    reason: Option<Reason>,
    message: &'static str,
) -> Step {
    Step {
        advance,
        policy,
        calls,
        record_calls,
        events,
        reason,
        message,
    }
}

fn cases() -> Vec<Case> {
    use PullPolicy::{Always, IfNotPresent, Never};
    use Reason::{ErrImageNeverPull, ErrImagePull, ImagePullBackOff};
    use VerificationPolicy::{AlwaysVerify, NeverVerify, NeverVerifyPreloadedImages};
    vec![
        Case {
            name: "absent, IfNotPresent, secret works: pull, record the secret; then present and ensured",
            gate: true,
            verification: NeverVerifyPreloadedImages,
            present: false,
            record: Record::None,
            creds: Creds::SecretA,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_AS_A, GET],
                    &[INTENT_WRITE, REC_GET, REC_WRITE, INTENT_DELETE],
                    &[(Normal, "Pulling", PULLING), (Normal, "Pulled", PULLED_NEW)],
                    None,
                    "",
                ),
                step(
                    1,
                    IfNotPresent,
                    &[GET],
                    &[REC_GET],
                    &[(Normal, "Pulled", PRESENT_OK)],
                    None,
                    PRESENT_OK,
                ),
            ],
        },
        Case {
            name: "absent, IfNotPresent, anonymous pull refused: ErrImagePull, again, then back-off 1 s, 2 s",
            gate: true,
            verification: NeverVerifyPreloadedImages,
            present: false,
            record: Record::None,
            creds: Creds::None,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_ANON],
                    &[INTENT_WRITE, INTENT_DELETE],
                    &[
                        (Normal, "Pulling", PULLING),
                        (Warning, "Failed", FAILED_ANON),
                    ],
                    Some(ErrImagePull),
                    ERR_ANON,
                ),
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_ANON],
                    &[INTENT_WRITE, INTENT_DELETE],
                    &[
                        (Normal, "Pulling", PULLING),
                        (Warning, "Failed", FAILED_ANON),
                    ],
                    Some(ErrImagePull),
                    ERR_ANON,
                ),
                step(
                    1,
                    IfNotPresent,
                    &[GET],
                    &[],
                    &[(Normal, "BackOff", BACKOFF)],
                    Some(ImagePullBackOff),
                    "Back-off pulling image \"registry.test/team/private:1\": ErrImagePull: failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for anonymous",
                ),
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_ANON],
                    &[INTENT_WRITE, INTENT_DELETE],
                    &[
                        (Normal, "Pulling", PULLING),
                        (Warning, "Failed", FAILED_ANON),
                    ],
                    Some(ErrImagePull),
                    ERR_ANON,
                ),
            ],
        },
        Case {
            name: "absent, Never: ErrImageNeverPull every time, no back-off, no records",
            gate: true,
            verification: AlwaysVerify,
            present: false,
            record: Record::None,
            creds: Creds::SecretA,
            steps: (0..3)
                .map(|_| {
                    step(
                        1,
                        Never,
                        &[GET],
                        &[],
                        &[(Warning, "ErrImageNeverPull", NEVER)],
                        Some(ErrImageNeverPull),
                        NEVER,
                    )
                })
                .collect(),
        },
        Case {
            name: "preloaded, default policy: no verification, used",
            gate: true,
            verification: NeverVerifyPreloadedImages,
            present: true,
            record: Record::None,
            creds: Creds::None,
            steps: vec![step(
                1,
                IfNotPresent,
                &[GET],
                &[REC_GET, INTENT_EXISTS],
                &[(Normal, "Pulled", PRESENT_OK)],
                None,
                PRESENT_OK,
            )],
        },
        Case {
            name: "preloaded, AlwaysVerify, no credentials: the pod must pull, fails, backs off",
            gate: true,
            verification: AlwaysVerify,
            present: true,
            record: Record::None,
            creds: Creds::None,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_ANON],
                    &[REC_GET, INTENT_EXISTS, INTENT_WRITE, INTENT_DELETE],
                    &[
                        (Normal, "Pulling", PULLING),
                        (Warning, "Failed", FAILED_ANON),
                    ],
                    Some(ErrImagePull),
                    ERR_ANON,
                ),
                step(
                    0,
                    IfNotPresent,
                    &[GET],
                    &[REC_GET, INTENT_EXISTS],
                    &[(Normal, "BackOff", BACKOFF)],
                    Some(ImagePullBackOff),
                    "Back-off pulling image \"registry.test/team/private:1\": ErrImagePull: failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for anonymous",
                ),
                // Never: the same answer as for an absent image; presence is not revealed.
                step(
                    0,
                    Never,
                    &[GET],
                    &[REC_GET, INTENT_EXISTS],
                    &[(Warning, "ErrImageNeverPull", NEVER)],
                    Some(ErrImageNeverPull),
                    NEVER,
                ),
            ],
        },
        Case {
            name: "pulled with secret a; a pod with other credentials must pull and is refused",
            gate: true,
            verification: NeverVerifyPreloadedImages,
            present: true,
            record: Record::BySecretA,
            creds: Creds::SecretC,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET, PULL_AS_C],
                    &[REC_GET, INTENT_WRITE, INTENT_DELETE],
                    &[(Normal, "Pulling", PULLING), (Warning, "Failed", FAILED_C)],
                    Some(ErrImagePull),
                    ERR_C,
                ),
                step(
                    0,
                    IfNotPresent,
                    &[GET],
                    &[REC_GET],
                    &[(Normal, "BackOff", BACKOFF)],
                    Some(ImagePullBackOff),
                    "Back-off pulling image \"registry.test/team/private:1\": ErrImagePull: failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for c",
                ),
            ],
        },
        Case {
            name: "pulled with secret a; the same secret uses it with IfNotPresent, re-pulls with Always",
            gate: true,
            verification: AlwaysVerify,
            present: true,
            record: Record::BySecretA,
            creds: Creds::SecretA,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET],
                    &[REC_GET],
                    &[(Normal, "Pulled", PRESENT_OK)],
                    None,
                    PRESENT_OK,
                ),
                // Always skips the lookup and the verification; the record already names the
                // secret, so it is read but not rewritten.
                step(
                    1,
                    Always,
                    &[PULL_AS_A, GET],
                    &[INTENT_WRITE, REC_GET, INTENT_DELETE],
                    &[(Normal, "Pulling", PULLING), (Normal, "Pulled", PULLED_NEW)],
                    None,
                    "",
                ),
            ],
        },
        Case {
            name: "NeverVerify: a present image pulled with a secret is used by a pod without credentials",
            gate: true,
            verification: NeverVerify,
            present: true,
            record: Record::BySecretA,
            creds: Creds::None,
            steps: vec![step(
                1,
                IfNotPresent,
                &[GET],
                &[REC_GET],
                &[(Normal, "Pulled", PRESENT_OK)],
                None,
                PRESENT_OK,
            )],
        },
        Case {
            name: "gate off: present is present, no records read or written, pulls record nothing",
            gate: false,
            verification: AlwaysVerify,
            present: true,
            record: Record::BySecretA,
            creds: Creds::None,
            steps: vec![
                step(
                    1,
                    IfNotPresent,
                    &[GET],
                    &[],
                    &[(Normal, "Pulled", PRESENT_GATE_OFF)],
                    None,
                    PRESENT_GATE_OFF,
                ),
                step(
                    1,
                    Always,
                    &[PULL_ANON],
                    &[],
                    &[
                        (Normal, "Pulling", PULLING),
                        (Warning, "Failed", FAILED_ANON),
                    ],
                    Some(ErrImagePull),
                    ERR_ANON,
                ),
                // In back-off for Always, but back-off is consulted only on the pull path: the
                // same image with IfNotPresent (another container of the pod) is used.
                step(
                    0,
                    IfNotPresent,
                    &[GET],
                    &[],
                    &[(Normal, "Pulled", PRESENT_GATE_OFF)],
                    None,
                    PRESENT_GATE_OFF,
                ),
                step(
                    0,
                    Always,
                    &[],
                    &[],
                    &[(Normal, "BackOff", BACKOFF)],
                    Some(ImagePullBackOff),
                    "Back-off pulling image \"registry.test/team/private:1\": ErrImagePull: failed to pull and unpack image \"registry.test/team/private:1\": 401 Unauthorized for anonymous",
                ),
            ],
        },
    ]
}

fn pod_creds(c: Creds) -> FakeCreds {
    FakeCreds(match c {
        Creds::None => vec![],
        Creds::SecretA => vec![secret_cred("a", "pull", "a")],
        Creds::SecretC => vec![secret_cred("b", "pull", "c")],
    })
}

fn pulled_record(r: Record) -> Option<ImagePulledRecord> {
    match r {
        Record::None => None,
        Record::BySecretA => Some(record_by_secret(
            ID,
            "registry.test/team/private",
            &secret_cred("a", "pull", "a"),
        )),
    }
}

async fn run_case(c: &Case, puller: PullerConfig) {
    let mut runtime = scripted(|r| {
        r.accepted_users = vec!["a".into()];
    });
    if c.present {
        runtime = runtime.with_image(IMAGE, ID);
    }
    let cfg = ManagerConfig {
        ensure_secret_pulled_images: c.gate,
        verification: VerificationConfig {
            policy: c.verification,
            allowlist: Allowlist::parse(&[]).unwrap(),
        },
    };
    let e = env(runtime, cfg, puller, 0.0, 0);
    if let Some(r) = pulled_record(c.record) {
        e.records.insert(r);
    }
    let creds = pod_creds(c.creds);
    for (i, s) in c.steps.iter().enumerate() {
        let what = format!("{}: step {i} ({puller:?})", c.name);
        e.runtime.clear_calls();
        e.records.clear_calls();
        e.clock.advance(Duration::from_secs(s.advance));
        let req = EnsureRequest {
            pod: "b/pod",
            pod_uid: "uid-b",
            container: "c",
            field_path: Some("spec.containers{c}"),
            image: IMAGE,
            policy: s.policy,
        };
        let out = e.manager.ensure_image_exists(&req, &creds).await;
        assert_eq!(e.runtime.calls(), s.calls, "runtime calls: {what}");
        assert_eq!(e.records.calls(), s.record_calls, "record calls: {what}");
        assert_eq!(out.reason, s.reason, "reason: {what}");
        assert_eq!(out.message, s.message, "message: {what}");
        assert_eq!(out.image_ref.is_some(), s.reason.is_none(), "{what}");
        let events = e.manager.take_events();
        assert_eq!(events.len(), s.events.len(), "events {events:?}: {what}");
        for (got, (ty, reason, msg)) in events.iter().zip(s.events) {
            assert_eq!(got.event_type, *ty, "{what}");
            assert_eq!(got.reason, *reason, "{what}");
            assert_eq!(got.field_path.as_deref(), Some("spec.containers{c}"));
            if *msg == PULLED_NEW {
                assert!(
                    got.message.starts_with(PULLED_NEW)
                        && got
                            .message
                            .contains(" including waiting). Image size: 1234 bytes."),
                    "{:?}: {what}",
                    got.message
                );
            } else {
                assert_eq!(got.message, *msg, "{what}");
            }
        }
        // An intent never outlives the pull that wrote it.
        assert!(e.records.intents().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn matrix_serialized_puller() {
    for c in cases() {
        run_case(&c, PullerConfig::default()).await;
    }
}

#[tokio::test]
async fn matrix_parallel_puller() {
    for c in cases() {
        run_case(&c, PullerConfig::defaulted(Some(false), None)).await;
    }
}
