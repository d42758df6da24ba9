//! KEP-4412 on a live cluster (the fake API server): with `--from-cluster`, a plugin whose
//! config has `tokenAttributes` gets a token minted through the TokenRequest API as the
//! kubelet asks for it (pkg/credentialprovider/plugin/plugin.go `getServiceAccountToken`:
//! audience the provider's, `metadata.uid` the ServiceAccount's, bound to the pod when there is
//! one). The token stays in memory and is never printed.

mod cluster_common;
mod pod_common;

use cluster_common::env;
use pullsim_testsupport::fake_apiserver::KubeAuth;
use serde_json::json;

const SA_UID: &str = "0b7f3f5e-2c59-4f43-a7ad-36b1f5a3c2d1";

#[test]
fn tokens_are_minted_per_pod_with_the_providers_audience() {
    let e = env(&KubeAuth::Token);
    e.server
        .add_object(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "job-1", "namespace": "shop", "uid": "5a0e9d4c-1111-4c2b-8f00-aa00bb11cc22"},
            "spec": {"serviceAccountName": "builder",
                     "containers": [{"name": "app", "image": "registry.test/team/app:v1"}]}
        }))
        .unwrap();
    let log = e.dir.path().join("plugin.log");
    let config = e.dir.path().join("provider.yaml");
    std::fs::write(
        &config,
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: test-provider
  matchImages: ["registry.test"]
  defaultCacheDuration: 1m
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  tokenAttributes:
    serviceAccountTokenAudience: registry.test
    cacheType: ServiceAccount
    requireServiceAccount: true
  env:
  - {{name: PLUGIN_LOG, value: "{}"}}
  - {{name: AUTH_PATTERN, value: registry.test}}
"#,
            log.display()
        ),
    )
    .unwrap();
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/plugins");
    for target in ["deployment/web", "pod/job-1"] {
        e.server.clear_requests();
        let out = e.pullsim(&[
            "pod",
            "explain",
            "--from-cluster",
            target,
            "-n",
            "shop",
            "--provider-config",
            config.to_str().unwrap(),
            "--provider-bin-dir",
            plugins.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{target}: {}{}", out.stdout, out.stderr);
        assert!(
            !out.stdout.contains("fake-sa-token") && !out.stderr.contains("fake-sa-token"),
            "the token is never printed"
        );
        let posts: Vec<_> = e
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert_eq!(posts.len(), 1, "{target}: one TokenRequest");
        assert_eq!(
            posts[0].path,
            "/api/v1/namespaces/shop/serviceaccounts/builder/token"
        );
        assert!(posts[0].authorized);
        let body = posts[0].body.clone().unwrap();
        assert_eq!(body["kind"], "TokenRequest");
        assert_eq!(body["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(body["spec"]["audiences"], json!(["registry.test"]));
        assert_eq!(body["metadata"]["uid"], SA_UID);
        if target.starts_with("pod/") {
            assert_eq!(
                body["spec"]["boundObjectRef"],
                json!({"apiVersion": "v1", "kind": "Pod", "name": "job-1",
                       "uid": "5a0e9d4c-1111-4c2b-8f00-aa00bb11cc22"})
            );
        } else {
            // A Deployment's template has no pod to bind the token to.
            assert!(body["spec"].get("boundObjectRef").is_none(), "{body}");
        }
    }
    // The plugin got the minted token (the fake server's token names account and audience).
    let runs = std::fs::read_to_string(&log).unwrap();
    assert!(
        runs.lines()
            .all(|l| l
                .contains(r#""serviceAccountToken":"fake-sa-token:shop:builder:registry.test""#)),
        "{runs}"
    );
    assert!(!runs.is_empty());
}
