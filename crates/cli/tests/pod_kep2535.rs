//! KEP-2535 (ensure secret pulled images) end to end: namespace A pulls a private image with its
//! secret; namespace B, without credentials, wants the same image. The pull records live in the
//! store, so B's run (another process) sees what A's run recorded. Expected outcomes follow
//! pkg/kubelet/images/pullmanager/image_pull_policies.go and image_manager.go.

mod pod_common;

use pod_common::{Node, pod_yaml, secret_yaml};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

fn setup(repo: &str, seed: u64) -> (Node, String, std::path::PathBuf) {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(
        &ImageSpec::simple("v1", 1, 2048, seed),
        &format!("{repo}:v1"),
    )
    .unwrap();
    let (user, pass) = reg.user().unwrap();
    let node = Node::new();
    let image = reg.reference(&format!("{repo}:v1"));
    let a = format!(
        "{}---\n{}",
        secret_yaml("ns-a", "regcred", &reg.host, user, pass),
        pod_yaml("ns-a", "owner", &image, None, &["regcred"])
    );
    let a = node.write("a.yaml", &a);
    let out = node.run(&[&a], &[]);
    assert_eq!(
        out.code, 0,
        "namespace A pulls: {}{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.reasons(None), ["Pulling", "Pulled"]);
    (node, image, a)
}

fn b_wants(node: &Node, image: &str, policy: Option<&str>, flags: &[&str]) -> pod_common::Out {
    let b = node.write("b.yaml", &pod_yaml("ns-b", "intruder", image, policy, &[]));
    node.run(&[&b], flags)
}

const GRANTED: &str = "already present on machine and can be accessed by the pod";

#[test]
fn never_verify_lets_namespace_b_use_the_image() {
    let (node, image, _) = setup("kep/never", 21);
    let out = b_wants(
        &node,
        &image,
        None,
        &[
            "--image-pull-credentials-verification-policy",
            "NeverVerify",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.events()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with(GRANTED)
    );
}

#[test]
fn never_verify_preloaded_images_makes_namespace_b_pull_and_fail() {
    let (node, image, a) = setup("kep/default", 22);
    // The default policy.
    let out = b_wants(&node, &image, None, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.reasons(None), ["Pulling", "Failed", "Failed"]);
    assert_eq!(out.statuses()[0]["reason"], "ErrImagePull");
    assert!(
        out.events()[1]["message"]
            .as_str()
            .unwrap()
            .contains("pull access denied"),
        "{}",
        out.stdout
    );
    // With Never, presence is not revealed: the same answer as for an absent image.
    let out = b_wants(&node, &image, Some("Never"), &[]);
    assert_eq!(out.statuses()[0]["reason"], "ErrImageNeverPull");
    assert_eq!(
        out.statuses()[0]["message"],
        format!("Container image \"{image}\" is not present with pull policy of Never")
    );
    // Namespace A itself still may use it (its secret is in the record), in a third process.
    let out = node.run(&[&a], &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.events()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with(GRANTED)
    );
    // With the feature gate off, B uses it (the pre-KEP behaviour).
    let out = b_wants(
        &node,
        &image,
        None,
        &["--feature-gates", "KubeletEnsureSecretPulledImages=false"],
    );
    assert_eq!(out.code, 0);
    assert_eq!(
        out.events()[0]["message"],
        format!("Container image \"{image}\" already present on machine")
    );
}

#[test]
fn allowlisted_images_are_not_verified_others_are() {
    let (node, image, _) = setup("kep/allow", 23);
    let host = image.split('/').next().unwrap().to_string();
    let listed = format!("{host}/kep/*");
    let out = b_wants(
        &node,
        &image,
        None,
        &[
            "--image-pull-credentials-verification-policy",
            "NeverVerifyAllowlistedImages",
            "--preloaded-images-verification-allowlist",
            &listed,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.events()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with(GRANTED)
    );
    let other = format!("{host}/elsewhere/*");
    let out = b_wants(
        &node,
        &image,
        None,
        &[
            "--image-pull-credentials-verification-policy",
            "NeverVerifyAllowlistedImages",
            "--preloaded-images-verification-allowlist",
            &other,
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.statuses()[0]["reason"], "ErrImagePull");
    // The kubelet's validation of allowlist entries.
    let bad = node.pullsim(&[
        "pod",
        "run",
        "x.yaml",
        "--image-pull-credentials-verification-policy",
        "NeverVerifyAllowlistedImages",
        "--preloaded-images-verification-allowlist",
        "a*b",
    ]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("only patterns ending with '/*' are allowed"),
        "{}",
        bad.stderr
    );
}

#[test]
fn always_verify_checks_even_preloaded_images() {
    let (node, image, _) = setup("kep/always", 24);
    let out = b_wants(
        &node,
        &image,
        None,
        &[
            "--image-pull-credentials-verification-policy",
            "AlwaysVerify",
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.statuses()[0]["reason"], "ErrImagePull");

    // A preloaded image (no pull record): NeverVerifyPreloadedImages lets any pod use it,
    // AlwaysVerify does not.
    let layout = node.dir.path().join("pre");
    pullsim_testsupport::image::generate(&layout, &ImageSpec::simple("v1", 1, 1024, 25)).unwrap();
    let load = node.pullsim(&[
        "images",
        "load",
        layout.to_str().unwrap(),
        "--name",
        "kep/preloaded",
    ]);
    assert_eq!(load.code, 0, "{}", load.stderr);
    let out = b_wants(&node, "kep/preloaded:v1", Some("Never"), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = b_wants(
        &node,
        "kep/preloaded:v1",
        Some("Never"),
        &[
            "--image-pull-credentials-verification-policy",
            "AlwaysVerify",
        ],
    );
    assert_eq!(out.statuses()[0]["reason"], "ErrImageNeverPull");
}
