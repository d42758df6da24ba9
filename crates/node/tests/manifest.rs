//! Manifest input: every workload kind, Lists, JSON, directories, Secrets and ServiceAccounts,
//! and errors naming the file, the document and the field.

use std::path::{Path, PathBuf};

use pullsim_node::pods::{SecretSet, pull_secret_names};
use pullsim_node::{ImageSource, Manifests, derived_uid};
use pullsim_policy::PullPolicy;

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pods")
        .join(p)
}

fn images(m: &Manifests, pod: &str) -> Vec<(ImageSource, String, String, Option<PullPolicy>)> {
    m.pods
        .iter()
        .find(|p| p.name == pod)
        .unwrap()
        .images
        .iter()
        .map(|i| (i.source, i.name.clone(), i.image.clone(), i.pull_policy))
        .collect()
}

#[test]
fn workloads_of_every_kind() {
    let m = Manifests::load(&[testdata("workloads.yaml")]).unwrap();
    let names: Vec<(&str, &str)> = m
        .pods
        .iter()
        .map(|p| (p.namespace.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("shop", "web"),
            ("shop", "report"),
            ("default", "db"),
            ("kube-system", "agent"),
            ("default", "once"),
            ("default", "rs"),
        ]
    );
    assert_eq!(
        images(&m, "web"),
        [
            (
                ImageSource::InitContainer,
                "migrate".into(),
                "registry.example:5000/shop/migrate:2.0".into(),
                None
            ),
            (
                ImageSource::Container,
                "app".into(),
                "registry.example:5000/shop/web:1.4".into(),
                Some(PullPolicy::Always)
            ),
            (
                ImageSource::Container,
                "sidecar".into(),
                "busybox".into(),
                None
            ),
            (
                ImageSource::ImageVolume,
                "assets".into(),
                "registry.example:5000/shop/assets:7".into(),
                Some(PullPolicy::IfNotPresent)
            ),
        ]
    );
    let web = &m.pods[0];
    // Empty names are kept (the admission counts them) and skipped when resolving.
    assert_eq!(web.image_pull_secrets, ["regcred", ""]);
    assert_eq!(
        web.origin.to_string(),
        format!(
            "{}: document 3 (Deployment \"web\")",
            testdata("workloads.yaml").display()
        )
    );
    assert_eq!(web.uid, derived_uid("Deployment/shop/web"));
    let report = &m.pods[1];
    assert_eq!(report.service_account, "builder");
    assert!(report.images[0].image.contains("@sha256:"));
    assert_eq!(m.pods[4].images[0].pull_policy, Some(PullPolicy::Never));
    // The ServiceAccount admission copies the account's imagePullSecrets to a pod without any.
    assert_eq!(
        pull_secret_names(report, &m),
        (vec!["regcred".to_string()], true)
    );
    let set = SecretSet::from_manifests(&m).unwrap();
    assert_eq!(set.pull_secrets.len(), 1);
    assert_eq!(set.pull_secrets[0].namespace, "shop");
}

#[test]
fn json_list_with_ephemeral_containers() {
    let m = Manifests::load(&[testdata("debug-pod.json")]).unwrap();
    assert_eq!(m.pods.len(), 1);
    let p = &m.pods[0];
    assert_eq!(p.uid, "0b6b0c2e-7f0b-4a39-9d3e-1c2f3a4b5c6d");
    assert_eq!(p.namespace, "ops");
    assert_eq!(
        images(&m, "debugged"),
        [
            (
                ImageSource::Container,
                "app".into(),
                "registry.example:5000/ops/app:1".into(),
                None
            ),
            (
                ImageSource::EphemeralContainer,
                "debugger".into(),
                "busybox:1.36".into(),
                Some(PullPolicy::IfNotPresent)
            ),
        ]
    );
    assert_eq!(p.origin.object, "List item 0: Pod \"debugged\"");
    assert_eq!(
        p.images[1].field_path().as_deref(),
        Some("spec.ephemeralContainers{debugger}")
    );
}

#[test]
fn a_directory_reads_its_manifest_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(testdata("workloads.yaml"), dir.path().join("b.yaml")).unwrap();
    std::fs::copy(testdata("debug-pod.json"), dir.path().join("a.json")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let m = Manifests::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(m.pods[0].name, "debugged");
    assert_eq!(m.pods.len(), 7);
}

#[test]
fn errors_name_file_document_and_field() {
    let cases: &[(&str, String)] = &[
        (
            "bad/empty-image.yaml",
            format!(
                "{}: document 2 (Deployment \"web\"): spec.template.spec.containers[1].image: must be a non-empty string, got \"\"",
                testdata("bad/empty-image.yaml").display()
            ),
        ),
        (
            "bad/policy.yaml",
            format!(
                "{}: document 1 (Pod \"p\"): spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                testdata("bad/policy.yaml").display()
            ),
        ),
    ];
    for (file, want) in cases {
        let err = Manifests::load(&[testdata(file)]).unwrap_err();
        assert_eq!(err.to_string(), *want);
    }
    let err = Manifests::load(&[testdata("bad/syntax.yaml")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}: not valid YAML: ",
            testdata("bad/syntax.yaml").display()
        )),
        "{err}"
    );
}

#[test]
fn field_validation_table() {
    let f = Path::new("m.yaml");
    let cases: &[(&str, &str)] = &[
        // YAML 1.1, as sigs.k8s.io/yaml reads it: `n` is a boolean (kubectl rejects it too).
        (
            "kind: Pod\nmetadata: {name: p, namespace: n}\nspec: {containers: [{name: a, image: x}]}\n",
            "m.yaml: document 1 (Pod \"p\"): metadata.namespace: must be a string, got a boolean",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
            "m.yaml: document 1 (Pod \"p\"): spec.containers: must have at least one container",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\n",
            "m.yaml: document 1 (Pod \"p\"): spec: is required",
        ),
        (
            "kind: Pod\nmetadata: {}\nspec: {containers: [{name: a, image: x}]}\n",
            "m.yaml: document 1 (Pod): metadata.name: must be a non-empty string",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: 5}]}\n",
            "m.yaml: document 1 (Pod \"p\"): spec.containers[0].image: must be a string, got a number",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: x}]}\n",
            "m.yaml: document 1 (Pod \"p\"): spec.containers[0].name: must be a non-empty string",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: {a: b}}\n",
            "m.yaml: document 1 (Pod \"p\"): spec.containers: must be a list, got a mapping",
        ),
        (
            "kind: Deployment\nmetadata: {name: d}\nspec: {}\n",
            "m.yaml: document 1 (Deployment \"d\"): spec.template: is required",
        ),
        (
            "kind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: x}], volumes: [{name: v, image: {pullPolicy: Always}}]}}}}}\n",
            "m.yaml: document 1 (CronJob \"c\"): spec.jobTemplate.spec.template.spec.volumes[0].image.reference: must be a non-empty string",
        ),
        (
            "---\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: a, image: x}]}\n---\nmetadata: {name: nokind}\n",
            "m.yaml: document 2 (object \"nokind\"): kind: must be a non-empty string",
        ),
        (
            "- a\n- b\n",
            "m.yaml: document 1 (object): (document): must be a mapping (an object), got a list",
        ),
        (
            "kind: List\nitems: [{kind: Pod, metadata: {name: q}, spec: {containers: [{name: a, image: ''}]}}]\n",
            "m.yaml: document 1 (List item 0: Pod \"q\"): spec.containers[0].image: must be a non-empty string, got \"\"",
        ),
    ];
    for (text, want) in cases {
        let mut m = Manifests::default();
        let err = m.add_text(f, text).unwrap_err();
        assert_eq!(err.to_string(), *want, "{text}");
    }
}

#[test]
fn service_account_secrets_only_when_the_pod_lists_none() {
    // plugin/pkg/admission/serviceaccount/admission.go: `if len(pod.Spec.ImagePullSecrets) == 0`.
    let text = "kind: ServiceAccount\nmetadata: {name: sa, namespace: ns1}\nimagePullSecrets: [{name: from-sa}]\n---\nkind: Pod\nmetadata: {name: none, namespace: ns1}\nspec: {serviceAccountName: sa, containers: [{name: a, image: x}]}\n---\nkind: Pod\nmetadata: {name: own, namespace: ns1}\nspec: {serviceAccountName: sa, imagePullSecrets: [{name: mine}], containers: [{name: a, image: x}]}\n---\nkind: Pod\nmetadata: {name: empty, namespace: ns1}\nspec: {serviceAccountName: sa, imagePullSecrets: [{name: ''}], containers: [{name: a, image: x}]}\n---\nkind: Pod\nmetadata: {name: other-ns, namespace: ns2}\nspec: {serviceAccountName: sa, containers: [{name: a, image: x}]}\n";
    let mut m = Manifests::default();
    m.add_text(Path::new("sa.yaml"), text).unwrap();
    let got: Vec<(Vec<String>, bool)> = m.pods.iter().map(|p| pull_secret_names(p, &m)).collect();
    assert_eq!(
        got,
        [
            (vec!["from-sa".to_string()], true),
            (vec!["mine".to_string()], false),
            (vec![String::new()], false),
            (vec![], false),
        ]
    );
}
