//! Credentials in `pullsim pod run` on real registries: token auth (a secret for a user without
//! access to the repository fails, the right one pulls), several secrets tried in order, and
//! node credentials (`--node-config`), which make a pulled image usable by every pod (KEP-2535
//! nodePodsAccessible).

mod pod_common;

use pod_common::{Node, base64, pod_yaml, secret_yaml};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

#[test]
fn token_registry_secrets_tried_in_order() {
    let reg = shared(Mode::Token);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, 61), "team/tok:v1")
        .unwrap();
    let image = reg.reference("team/tok:v1");
    let node = Node::new();
    // bob may pull other/* only; alice may pull team/*.
    let yaml = format!(
        "{}---\n{}---\n{}---\n{}",
        secret_yaml("default", "bob", &reg.host, "bob", "bob-pass"),
        secret_yaml("default", "alice", &reg.host, "alice", "alice-pass"),
        pod_yaml("default", "bob-only", &image, None, &["bob"]),
        pod_yaml(
            "default",
            "bob-then-alice",
            &image,
            Some("Always"),
            &["bob", "alice"]
        ),
    );
    let file = node.write("pods.yaml", &yaml);
    let out = node.run(&[&file], &["--max-parallel-image-pulls", "2"]);
    let st = out.statuses();
    assert_eq!(st[0]["reason"], "ErrImagePull", "{}", out.stdout);
    assert_eq!(st[1]["state"], "ready", "{}", out.stdout);
    assert!(!out.stdout.contains("bob-pass") && !out.stdout.contains("alice-pass"));
}

#[test]
fn node_credentials_make_the_image_usable_by_every_pod() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, 62), "nodecred/app:v1")
        .unwrap();
    let (user, pass) = reg.user().unwrap();
    let image = reg.reference("nodecred/app:v1");
    let node = Node::new();
    let config = node.write(
        "config.json",
        &format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.host,
            base64(format!("{user}:{pass}").as_bytes())
        ),
    );
    let first = node.write("first.yaml", &pod_yaml("ns-a", "first", &image, None, &[]));
    let out = node.run(&[&first], &["--node-config", config.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.reasons(None), ["Pulling", "Pulled"]);
    // Another namespace, no credentials at all, no node config: the record says
    // nodePodsAccessible, so the default policy lets it use the image.
    let second = node.write(
        "second.yaml",
        &pod_yaml("ns-b", "second", &image, None, &[]),
    );
    let out = node.run(&[&second], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.events()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("already present on machine and can be accessed by the pod")
    );
}
