//! KEP-4412 end to end: a credential provider plugin with `tokenAttributes` gets the pod's
//! ServiceAccount token and annotations, answers credentials for a real htpasswd registry, and
//! the pull is recorded for the ServiceAccount (kubernetesServiceAccounts in the kubelet's
//! KEP-2535 record). Rules from kubernetes pkg/credentialprovider/plugin/plugin.go `provide`,
//! pkg/kubelet/images/image_manager.go (the pod's ServiceAccount credential) and
//! pullmanager/image_pull_manager.go `trackedToImagePullCreds`.

mod pod_common;

use std::path::{Path, PathBuf};

use pod_common::Node;
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

const SA_UID: &str = "7d0c4b56-0f1e-4f5e-9c55-3b1f0b4b1a11";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.kep4412-test-token.sig";

fn plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/plugins")
}

struct Setup {
    node: Node,
    image: String,
    config: PathBuf,
    token: PathBuf,
    log: PathBuf,
}

fn setup(repo: &str, seed: u64, extra_env: &str, cache_type: &str) -> Setup {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(
        &ImageSpec::simple("v1", 1, 2048, seed),
        &format!("{repo}:v1"),
    )
    .unwrap();
    let (user, pass) = reg.user().unwrap();
    let node = Node::new();
    let log = node.root().with_file_name("plugin.log");
    let config = node.write(
        "provider.yaml",
        &format!(
            r#"apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: test-provider
  matchImages: ["{host}"]
  defaultCacheDuration: 10m
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  tokenAttributes:
    serviceAccountTokenAudience: registry.example.com
    cacheType: {cache_type}
    requireServiceAccount: true
    requiredServiceAccountAnnotationKeys: ["registry.example.com/role"]
    optionalServiceAccountAnnotationKeys: ["registry.example.com/team"]
  env:
  - {{name: PLUGIN_LOG, value: "{log}"}}
  - {{name: AUTH_PATTERN, value: "{host}"}}
  - {{name: PLUGIN_USER, value: "{user}"}}
  - {{name: PLUGIN_PASSWORD, value: "{pass}"}}
{extra_env}"#,
            host = reg.host,
            log = log.display(),
        ),
    );
    let token = node.write("token", &format!("{TOKEN}\n"));
    Setup {
        node,
        image: reg.reference(&format!("{repo}:v1")),
        config,
        token,
        log,
    }
}

fn manifests(s: &Setup, pod: &str, sa: &str, policy: &str) -> PathBuf {
    s.node.write(
        &format!("{pod}.yaml"),
        &format!(
            r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
  namespace: ci
  uid: {SA_UID}
  annotations:
    registry.example.com/role: puller
    registry.example.com/team: build
    unrelated: x
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: plain
  namespace: ci
---
apiVersion: v1
kind: Pod
metadata:
  name: {pod}
  namespace: ci
spec:
  serviceAccountName: {sa}
  containers:
  - name: app
    image: {image}
    imagePullPolicy: {policy}
"#,
            image = s.image
        ),
    )
}

fn flags(s: &Setup, token: bool) -> Vec<&str> {
    let mut f = vec![
        "--provider-config",
        s.config.to_str().unwrap(),
        "--provider-bin-dir",
        plugins_str(),
    ];
    if token {
        f.extend(["--service-account-token", s.token.to_str().unwrap()]);
    }
    f
}

fn plugins_str() -> &'static str {
    Box::leak(plugins().display().to_string().into_boxed_str())
}

fn runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_plugin_gets_the_token_and_the_pull_is_recorded_for_the_service_account() {
    let s = setup("kep4412/app", 41, "", "ServiceAccount");
    let m = manifests(&s, "build-1", "builder", "IfNotPresent");
    let out = s.node.run(&[&m], &flags(&s, true));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.reasons(None), ["Pulling", "Pulled"]);
    // The request: the token file's token, the configured annotations that are present.
    let r = runs(&s.log);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].contains(&format!(
            r#""serviceAccountToken":"{TOKEN}","serviceAccountAnnotations":{{"registry.example.com/role":"puller","registry.example.com/team":"build"}}"#
        )),
        "{}",
        r[0]
    );
    // The token never reaches pullsim's output.
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
    // The kubelet's record names the ServiceAccount, not the node.
    let pulled = s.node.root().join("kubelet/image_manager/pulled");
    let record: String = std::fs::read_dir(&pulled)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        record.contains(&format!(
            r#""kubernetesServiceAccounts":[{{"uid":"{SA_UID}","namespace":"ci","name":"builder"}}]"#
        )),
        "{record}"
    );
    assert!(!record.contains("nodePodsAccessible"), "{record}");

    // Another pod of the same account: the image is present and its account is in the record.
    // (A new pullsim process is a restarted kubelet: its plugin cache starts empty, so the
    // plugin runs again for the verification lookup.)
    let m2 = manifests(&s, "build-2", "builder", "IfNotPresent");
    let out = s.node.run(&[&m2], &flags(&s, true));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.reasons(None), ["Pulled"]);
    assert!(
        out.events()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("already present on machine and can be accessed by the pod"),
        "{}",
        out.stdout
    );
    assert_eq!(runs(&s.log).len(), 2);

    // A pod of an account without the required annotation: the plugin is not called, the pod
    // has no credential the record knows, so the kubelet pulls to verify — and fails.
    let m3 = manifests(&s, "other", "plain", "IfNotPresent");
    let out = s.node.run(&[&m3], &flags(&s, true));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.reasons(None)[0], "Pulling");
    assert_eq!(out.statuses()[0]["reason"], "ErrImagePull");
    assert_eq!(runs(&s.log).len(), 2, "the plugin never ran for ci/plain");
    // pod explain says why (the kubelet's log line).
    let out = s.node.pullsim(&[
        "pod",
        "explain",
        m3.to_str().unwrap(),
        "--provider-config",
        s.config.to_str().unwrap(),
        "--provider-bin-dir",
        plugins_str(),
        "--service-account-token",
        s.token.to_str().unwrap(),
    ]);
    assert!(
        out.stdout.contains(
            "Failed to get service account data ci/plain: required annotation registry.example.com/role not found"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn without_a_token_the_plugin_gets_nothing_and_explain_says_how_to_give_one() {
    let s = setup("kep4412/notoken", 42, "", "ServiceAccount");
    let m = manifests(&s, "build-1", "builder", "IfNotPresent");
    let out = s.node.run(&[&m], &flags(&s, false));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(runs(&s.log).is_empty());
    let mut args = vec!["pod", "explain", m.to_str().unwrap()];
    args.extend(flags(&s, false));
    let out = s.node.pullsim(&args);
    assert!(
        out.stdout
            .contains("Error getting service account token ci/builder")
            && out.stdout.contains(
                "kubectl create token builder -n ci --audience registry.example.com > FILE"
            ),
        "{}",
        out.stdout
    );
}

#[test]
fn a_plugin_echoing_the_token_is_refused_unless_cache_type_is_token() {
    let echo = "  - {name: PLUGIN_ECHO_TOKEN, value: \"1\"}\n";
    let s = setup("kep4412/echo", 43, echo, "ServiceAccount");
    let m = manifests(&s, "build-1", "builder", "IfNotPresent");
    let mut args = vec!["pod", "explain", m.to_str().unwrap()];
    args.extend(flags(&s, true));
    let out = s.node.pullsim(&args);
    assert!(
        out.stdout.contains("Credential provider plugin returned the service account token as the password for image"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(TOKEN), "the token is never printed");
    // With cacheType Token the same answer is taken (the registry then refuses the token as a
    // password: it is not the htpasswd user's).
    let t = setup("kep4412/echo-token", 44, echo, "Token");
    let m = manifests(&t, "build-1", "builder", "IfNotPresent");
    let mut args = vec!["pod", "explain", m.to_str().unwrap()];
    args.extend(flags(&t, true));
    let out = t.node.pullsim(&args);
    assert!(
        !out.stdout
            .contains("Credential provider plugin returned the service account token"),
        "{}",
        out.stdout
    );
    assert_eq!(runs(&t.log).len(), 1);
}

#[test]
fn the_feature_gate_off_rejects_token_attributes_as_the_kubelet_does() {
    let s = setup("kep4412/gate", 45, "", "ServiceAccount");
    let m = manifests(&s, "build-1", "builder", "IfNotPresent");
    let mut extra = flags(&s, true);
    extra.extend([
        "--feature-gates",
        "KubeletServiceAccountTokenForCredentialProviders=false",
    ]);
    let out = s.node.run(&[&m], &extra);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("providers.tokenAttributes: Forbidden: tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled"),
        "{}",
        out.stderr
    );
}
