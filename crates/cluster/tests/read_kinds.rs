//! Every TYPE pullsim reads, from the fake API server: the object's API path, its pod
//! template's images, the ServiceAccount read for it, and what is left out when missing.

use pullsim_cluster::{Cluster, ConnectOptions, Target};
use pullsim_testsupport::fake_apiserver::{FakeApiServer, KubeAuth};
use serde_json::{Value, json};

fn template(image: &str, sa: &str) -> Value {
    json!({"metadata": {"labels": {"app": "x"}}, "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": image}]}})
}

fn objects() -> Vec<(Value, &'static str, &'static str)> {
    let t = |i: &str| template(i, "runner");
    vec![
        (
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": t("img/pod:1")["spec"].clone()}),
            "po/p",
            "/api/v1/namespaces/ns/pods/p",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "ns"}, "spec": {"template": t("img/sts:1")}}),
            "statefulsets/s",
            "/apis/apps/v1/namespaces/ns/statefulsets/s",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "ns"}, "spec": {"template": t("img/ds:1")}}),
            "ds/d",
            "/apis/apps/v1/namespaces/ns/daemonsets/d",
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": t("img/job:1")}}),
            "job/j",
            "/apis/batch/v1/namespaces/ns/jobs/j",
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "ns"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": t("img/cj:1")}}}}),
            "cj/c",
            "/apis/batch/v1/namespaces/ns/cronjobs/c",
        ),
    ]
}

#[tokio::test]
async fn every_kind_by_its_path_with_its_service_account_and_secrets() {
    let s = FakeApiServer::start("tok").unwrap();
    for (o, _, _) in objects() {
        s.add_object(o).unwrap();
    }
    s.add_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "runner", "namespace": "ns"}, "imagePullSecrets": [{"name": "gone"}, {"name": "there"}]}))
        .unwrap();
    s.add_object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "there", "namespace": "ns"}, "type": "Opaque"}))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    s.write_kubeconfig(&kc, "ns", &KubeAuth::Token).unwrap();
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kc),
        ..ConnectOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(cluster.namespace(), "ns", "the context's namespace");
    for (_, arg, path) in objects() {
        s.clear_requests();
        let t: Target = arg.parse().unwrap();
        let read = cluster
            .read_workloads(std::slice::from_ref(&t))
            .await
            .unwrap();
        let paths: Vec<String> = s.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            [
                path,
                "/api/v1/namespaces/ns/serviceaccounts/runner",
                "/api/v1/namespaces/ns/secrets/gone",
                "/api/v1/namespaces/ns/secrets/there",
            ],
            "{arg}"
        );
        assert_eq!(read.manifests.pods.len(), 1);
        assert!(read.manifests.pods[0].images[0].image.starts_with("img/"));
        assert_eq!(read.manifests.service_accounts.len(), 1);
        // The missing secret is left out, the present one read; nothing denied.
        let names: Vec<&str> = read
            .manifests
            .secrets
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["there"]);
        assert!(read.denied.is_empty() && read.hints().is_empty());
    }
    // 403: denied, listed once per namespace with every name.
    s.forbid_secrets(true);
    let read = cluster
        .read_workloads(&["po/p".parse().unwrap()])
        .await
        .unwrap();
    assert_eq!(read.denied.len(), 1);
    assert_eq!(read.denied[0].names, ["gone", "there"]);
    assert_eq!(read.denied[0].pods, ["ns/p"]);
    let h = read.hints();
    assert_eq!(h[0].code, "cannot-read-secrets");
    assert!(
        h[0].why.contains("pull secrets \"gone\", \"there\""),
        "{}",
        h[0].why
    );
    // A kind without pods under a name pullsim reads is refused before any request.
    assert!("service/x".parse::<Target>().is_err());
}
