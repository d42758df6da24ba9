//! `pullsim pod explain`: the decision path in words, without network and without writes.

mod pod_common;

use pod_common::{Node, pod_yaml, secret_yaml};
use pullsim_testsupport::image::{ImageSpec, generate};

#[test]
fn explains_policy_presence_near_matches_credentials_and_decision() {
    let node = Node::new();
    let layout = node.dir.path().join("layout");
    generate(&layout, &ImageSpec::simple("v1", 1, 1024, 51)).unwrap();
    let load = node.pullsim(&[
        "images",
        "load",
        layout.to_str().unwrap(),
        "--name",
        "registry.test/team/app",
    ]);
    assert_eq!(load.code, 0, "{}", load.stderr);
    let yaml = format!(
        "{}---\n{}---\n{}---\n{}",
        secret_yaml(
            "default",
            "regcred",
            "registry.test",
            "alice",
            "s3cr3t-pass"
        ),
        pod_yaml(
            "default",
            "present",
            "registry.test/team/app:v1",
            Some("Never"),
            &["regcred"]
        ),
        pod_yaml(
            "default",
            "other-tag",
            "registry.test/team/app:v2",
            None,
            &["regcred"]
        ),
        pod_yaml("default", "latest", "registry.test/team/app", None, &[]),
    ) + "---\n"
        + &pod_yaml("default", "short", "app:v1", None, &[])
        + "---\n"
        + &pod_yaml("default", "bad-name", "Team/App:v1", None, &[]);
    let file = node.write("pods.yaml", &yaml);
    let before = node.pullsim(&["images", "ls", "-o", "json"]).stdout;

    let out = node.pullsim(&["pod", "explain", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stdout.contains("s3cr3t-pass"),
        "no credentials in output"
    );
    let e = out.json();
    assert_eq!(e.len(), 5);

    assert_eq!(e[0]["policy"], "Never");
    assert_eq!(e[0]["policy_why"], "set in the pod spec");
    assert!(
        e[0]["presence"]
            .as_str()
            .unwrap()
            .starts_with("present as image sha256:")
    );
    assert!(
        e[0]["verification"]
            .as_str()
            .unwrap()
            .starts_with("not required"),
        "{}",
        e[0]
    );
    assert!(
        e[0]["decision"]
            .as_str()
            .unwrap()
            .starts_with("use the local image")
    );
    assert!(
        e[0]["credentials"][0]
            .as_str()
            .unwrap()
            .starts_with("secret:default/regcred (key registry.test)"),
        "{}",
        e[0]
    );

    assert_eq!(e[1]["policy"], "IfNotPresent");
    assert_eq!(
        e[1]["policy_why"],
        "defaulted: the tag \"v2\" is not \"latest\" (IfNotPresent)"
    );
    assert_eq!(e[1]["presence"], "absent");
    assert!(
        e[1]["near_matches"][0]
            .as_str()
            .unwrap()
            .starts_with("another tag of the same repository: registry.test/team/app:v1"),
        "{}",
        e[1]
    );
    assert_eq!(
        e[1]["decision"],
        "pull (trying 1 credential(s) in order, no anonymous retry)"
    );

    assert_eq!(e[2]["policy"], "Always");
    assert_eq!(
        e[2]["policy_why"],
        "defaulted: no tag and no digest means tag \"latest\", and \"latest\" means Always"
    );
    assert_eq!(e[2]["credentials"][0], "none: the pull is anonymous");
    assert_eq!(e[2]["decision"], "pull (anonymously)");

    // A short name means docker.io/library/: the loaded image is a near match, with the hint.
    assert_eq!(e[3]["presence"], "absent");
    let near = e[3]["near_matches"][0].as_str().unwrap();
    assert!(
        near.starts_with("the same name in another repository: registry.test/team/app:v1")
            && near.ends_with("a name without a registry means docker.io/library/ (or docker.io/)"),
        "{near}"
    );
    // An image name that does not parse ("Team" has an uppercase letter, so distribution takes it
    // for a registry host and checks "App"): the kubelet's InvalidImageName text, byte for byte
    // (pkg/kubelet/images/image_manager.go, pkg/util/parsers/parsers.go).
    assert_eq!(
        e[4]["decision"],
        "InvalidImageName: Failed to apply default image tag \"Team/App:v1\": couldn't parse image name \"Team/App:v1\": invalid reference format: repository name (App) must be lowercase"
    );

    let text = node.pullsim(&["pod", "explain", file.to_str().unwrap()]);
    assert!(text.stdout.contains("Pod default/present:\n  container app (registry.test/team/app:v1):\n    policy:        Never — set in the pod spec\n"), "{}", text.stdout);
    assert_eq!(
        before,
        node.pullsim(&["images", "ls", "-o", "json"]).stdout,
        "explain writes nothing"
    );
}
