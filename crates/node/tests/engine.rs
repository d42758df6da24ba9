//! The engine API the commands use: `creds check` (the keyring in the kubelet's order, one
//! resolve per credential), `pull` as a one-container pod through the very same image manager
//! as `pod run` (`single_container_pod`, `build_pod`, `simulate`), and GC after a run.

mod common;

use std::sync::Arc;

use common::{FakeCreds, refused, scripted, secret_cred};
use pullsim_credentials::{Keyring, parse_pull_secrets};
use pullsim_node::creds_check::check_credentials;
use pullsim_node::pods::{SecretSet, build_pod, secrets_namespace, single_container_pod};
use pullsim_node::simulate::{SimConfig, simulate};
use pullsim_node::{ImageState, MemPullRecords, NodeError};
use pullsim_policy::{GcPolicy, PullPolicy, Reason};
use pullsim_runtime::fake::fake_image_id;

const IMAGE: &str = "registry.test/team/private:1";

#[tokio::test]
async fn creds_check_tries_credentials_in_order_and_stops_at_the_first_success() {
    let rt = scripted(|r| r.accepted_users = vec!["a".into()]);
    let creds = FakeCreds(vec![
        secret_cred("ns", "wrong", "c"),
        secret_cred("ns", "right", "a"),
        secret_cred("ns", "never-tried", "a"),
    ]);
    let c = check_credentials(&rt, IMAGE, &creds).await.unwrap();
    assert!(c.pullable);
    assert_eq!(c.reason, None);
    assert_eq!(c.reference, IMAGE);
    let sources: Vec<(&str, &str)> = c
        .attempts
        .iter()
        .map(|a| (a.source.as_str(), a.outcome.as_str()))
        .collect();
    assert_eq!(
        sources,
        [("secret:ns/wrong", "error"), ("secret:ns/right", "ok")]
    );
    assert_eq!(c.attempts[0].username.as_deref(), Some("c"));
    assert_eq!(c.attempts[0].key.as_deref(), Some("registry.test"));
    assert_eq!(
        c.attempts[0].error.as_deref(),
        Some(refused(IMAGE, "c").as_str())
    );
    let digest = fake_image_id(&format!("manifest {IMAGE}"));
    assert_eq!(c.attempts[1].digest.as_deref(), Some(digest.as_str()));
    assert_eq!(
        c.message,
        format!("{IMAGE} resolves to {digest} with secret:ns/right")
    );
    assert_eq!(
        rt.calls(),
        [
            format!("ResolveImage({IMAGE})"),
            format!("ResolveImage({IMAGE})")
        ]
    );
}

#[tokio::test]
async fn creds_check_without_credentials_is_one_anonymous_attempt() {
    let rt = scripted(|r| r.accepted_users = vec!["a".into()]);
    let c = check_credentials(&rt, "registry.test/team/private", &FakeCreds::default())
        .await
        .unwrap();
    assert!(!c.pullable);
    assert_eq!(c.image, "registry.test/team/private:latest");
    assert_eq!(c.attempts.len(), 1);
    assert_eq!(c.attempts[0].source, "anonymous");
    assert_eq!(c.attempts[0].username, None);
    assert_eq!(c.reason, Some(Reason::ErrImagePull));
    let image = "registry.test/team/private:latest";
    assert_eq!(
        c.message,
        format!(
            "Failed to pull image \"{image}\": {}",
            refused(image, "anonymous")
        )
    );
}

#[tokio::test]
async fn creds_check_aggregates_every_failure_as_the_kubelet_does() {
    let rt = scripted(|r| r.accepted_users = vec!["a".into()]);
    let creds = FakeCreds(vec![
        secret_cred("ns", "one", "c"),
        secret_cred("ns", "two", "d"),
    ]);
    let c = check_credentials(&rt, IMAGE, &creds).await.unwrap();
    assert!(!c.pullable);
    assert_eq!(
        c.message,
        format!(
            "Failed to pull image \"{IMAGE}\": [{}, {}]",
            refused(IMAGE, "c"),
            refused(IMAGE, "d")
        )
    );
    // An unparsable image: the kubelet's InvalidImageName text.
    let err = check_credentials(&rt, "Bad/Image", &creds)
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::InvalidImage { .. }));
    assert!(
        err.to_string().starts_with(
            "Failed to apply default image tag \"Bad/Image\": couldn't parse image name"
        ),
        "{err}"
    );
}

fn secret(ns: &str, name: &str, user: &str) -> pullsim_credentials::PullSecret {
    use std::fmt::Write as _;
    let cfg = format!(
        r#"{{"auths":{{"registry.test":{{"username":"{user}","password":"{user}-pass"}}}}}}"#
    );
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(cfg)
    };
    let mut yaml = String::new();
    write!(
        yaml,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {b64}\n"
    )
    .unwrap();
    parse_pull_secrets(&yaml, std::path::Path::new("s.yaml"))
        .unwrap()
        .remove(0)
}

#[test]
fn the_pull_pods_namespace_is_its_secrets() {
    let read = |pull: Vec<pullsim_credentials::PullSecret>| pullsim_credentials::SecretsRead {
        pull,
        other: Vec::new(),
    };
    assert_eq!(secrets_namespace(&read(vec![])).unwrap(), "default");
    let a = secret("shop", "a", "a");
    let b = secret("shop", "b", "b");
    assert_eq!(
        secrets_namespace(&read(vec![a.clone(), b])).unwrap(),
        "shop"
    );
    let err = secrets_namespace(&read(vec![a.clone(), secret("other", "c", "c")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pull secrets from different namespaces: \"c\" is in \"other\", expected \"shop\" (the namespace of the first secret)"
    );
    // A Secret of another type counts: it is one of the pod's imagePullSecrets too.
    let opaque = pullsim_credentials::OtherSecret {
        namespace: "other".into(),
        name: "o".into(),
        secret_type: "Opaque".into(),
        source_file: "o.yaml".into(),
        document: None,
    };
    let err = secrets_namespace(&pullsim_credentials::SecretsRead {
        pull: vec![a],
        other: vec![opaque],
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pull secrets from different namespaces: \"o\" is in \"other\", expected \"shop\" (the namespace of the first secret)"
    );
}

#[tokio::test]
async fn pull_is_a_one_container_pod_through_the_same_engine() {
    let s = secret("shop", "regcred", "a");
    let ns = secrets_namespace(&pullsim_credentials::SecretsRead {
        pull: vec![s.clone()],
        other: Vec::new(),
    })
    .unwrap();
    let mut secrets = SecretSet::default();
    secrets.add(vec![s]);
    let names = vec!["regcred".to_string(), "missing".to_string()];
    let spec = single_container_pod(IMAGE, Some(PullPolicy::IfNotPresent), &ns, &names);
    assert_eq!(
        spec.images[0].field_path().as_deref(),
        Some("spec.containers{pull}")
    );
    let pod = build_pod(spec, &names, &secrets, &Keyring::new());
    assert_eq!(pod.missing_secrets, ["missing"]);

    let rt = Arc::new(scripted(|r| r.accepted_users = vec!["a".into()]));
    let records = Arc::new(MemPullRecords::new());
    let cfg = SimConfig {
        capacity: Some(1_000_000),
        gc_policy: GcPolicy::default(),
        ..SimConfig::default()
    };
    let report = simulate(rt.clone(), records.clone(), vec![pod], &cfg).await;
    assert!(report.all_ready());
    let events: Vec<(Option<&str>, &str)> = report
        .events
        .iter()
        .map(|e| (e.container.as_deref(), e.reason.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (None, "FailedToRetrieveImagePullSecret"),
            (Some("pull"), "Pulling"),
            (Some("pull"), "Pulled")
        ]
    );
    // The record names the secret that pulled, as for any pod.
    let id = fake_image_id(IMAGE);
    let rec = records.record(&id).unwrap();
    assert_eq!(
        rec.credential_mapping["registry.test/team/private"].kubernetes_secrets[0].name,
        "regcred"
    );
    // The ready image was marked used, and GC (far below the threshold) removed nothing.
    let gc = report.gc.unwrap().unwrap();
    assert!(gc.plan.to_delete.is_empty());
    assert!(gc.removed.is_empty());
    let status = pullsim_runtime::ImageService::image_status(
        rt.as_ref(),
        &pullsim_runtime::ImageSpec::new(id.as_str()),
    )
    .unwrap()
    .unwrap();
    assert!(status.last_used_unix_ms > 0);
}

#[tokio::test]
async fn pull_with_never_on_an_absent_image_fails_as_pod_run_does() {
    let spec = single_container_pod(IMAGE, Some(PullPolicy::Never), "default", &[]);
    let pod = build_pod(spec, &[], &SecretSet::default(), &Keyring::new());
    let rt = Arc::new(scripted(|_| {}));
    let report = simulate(rt, MemPullRecords::new(), vec![pod], &SimConfig::default()).await;
    assert!(!report.all_ready());
    let events: Vec<(&str, &str)> = report
        .events
        .iter()
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (
                "ErrImageNeverPull",
                "Container image \"registry.test/team/private:1\" is not present with pull policy of Never"
            ),
            ("Failed", "Error: ErrImageNeverPull")
        ]
    );
    assert!(matches!(
        report.pods[0].states[0],
        ImageState::Waiting {
            reason: Reason::ErrImageNeverPull,
            ..
        }
    ));
}
