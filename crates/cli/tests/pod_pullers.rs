//! Pull admission end to end (pkg/kubelet/images/puller.go, helpers.go): the serial puller
//! blocks a small image behind a big one, the parallel puller does not; registryPullQPS /
//! registryBurst refusals fail the pull at once and back off; image GC after the pulls keeps
//! the pods' images.

mod pod_common;

use pod_common::{Node, pod_yaml, seconds, secret_yaml};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

fn two_pods(node: &Node, big: &str, small: &str) -> std::path::PathBuf {
    let reg = shared(Mode::Htpasswd);
    let (user, pass) = reg.user().unwrap();
    node.write(
        "pods.yaml",
        &format!(
            "{}---\n{}---\n{}",
            secret_yaml("default", "regcred", &reg.host, user, pass),
            pod_yaml("default", "a-big", big, None, &["regcred"]),
            pod_yaml("default", "b-small", small, None, &["regcred"])
        ),
    )
}

fn pulled_order(out: &pod_common::Out) -> Vec<String> {
    out.events()
        .iter()
        .filter(|e| e["reason"] == "Pulling" || e["reason"] == "Pulled")
        .map(|e| {
            format!(
                "{} {}",
                e["reason"].as_str().unwrap(),
                e["pod"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn serial_puller_blocks_head_of_line_parallel_does_not() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 4, 6 << 20, 41), "hol/big:v1")
        .unwrap();
    reg.push_generated(&ImageSpec::simple("v1", 1, 512, 42), "hol/small:v1")
        .unwrap();
    let big = reg.reference("hol/big:v1");
    let small = reg.reference("hol/small:v1");

    // Serial (the default): the small pull waits for the big one.
    let node = Node::new();
    let pods = two_pods(&node, &big, &small);
    let out = node.run(&[&pods], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        pulled_order(&out),
        [
            "Pulling default/a-big",
            "Pulling default/b-small",
            "Pulled default/a-big",
            "Pulled default/b-small"
        ]
    );

    // Parallel, up to 3 at once: the small image is not blocked.
    let node = Node::new();
    let pods = two_pods(&node, &big, &small);
    let out = node.run(&[&pods], &["--max-parallel-image-pulls", "3"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        pulled_order(&out),
        [
            "Pulling default/a-big",
            "Pulling default/b-small",
            "Pulled default/b-small",
            "Pulled default/a-big"
        ]
    );
}

#[test]
fn qps_refusal_fails_at_once_then_backs_off() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 1, 512, 43), "qps/one:v1")
        .unwrap();
    reg.push_generated(&ImageSpec::simple("v1", 1, 512, 44), "qps/two:v1")
        .unwrap();
    let node = Node::new();
    let pods = two_pods(
        &node,
        &reg.reference("qps/one:v1"),
        &reg.reference("qps/two:v1"),
    );
    let out = node.run(
        &[&pods],
        &[
            "--registry-pull-qps",
            "1",
            "--registry-burst",
            "1",
            "--virtual-time",
            "--until",
            "30s",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let ev: Vec<_> = out
        .events()
        .into_iter()
        .filter(|e| e["pod"] == "default/b-small")
        .collect();
    let t0 = seconds(ev[0]["time"].as_str().unwrap());
    let seq: Vec<(String, f64)> = ev
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_string(),
                (seconds(e["time"].as_str().unwrap()) - t0).round(),
            )
        })
        .collect();
    assert_eq!(
        seq,
        [
            ("Pulling".to_string(), 0.0),
            ("Failed".to_string(), 0.0),
            ("Failed".to_string(), 0.0),
            ("Pulling".to_string(), 10.0),
            ("Pulled".to_string(), 10.0)
        ]
    );
    assert_eq!(
        ev[1]["message"],
        format!(
            "Failed to pull image \"{}\": pull QPS exceeded",
            reg.reference("qps/two:v1")
        )
    );
    assert_eq!(ev[2]["message"], "Error: ErrImagePull");
    // Validation of the limits is the kubelet's.
    let bad = node.pullsim(&[
        "pod",
        "run",
        pods.to_str().unwrap(),
        "--registry-burst",
        "-1",
    ]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("registryBurst (--registry-burst) -1 must not be a negative number"),
        "{}",
        bad.stderr
    );
}

#[test]
fn image_gc_after_pulls_keeps_the_pods_images() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 1, 4096, 45), "gc/used:v1")
        .unwrap();
    let node = Node::new();
    let layout = node.dir.path().join("old");
    pullsim_testsupport::image::generate(&layout, &ImageSpec::simple("v1", 1, 8192, 46)).unwrap();
    assert_eq!(
        node.pullsim(&[
            "images",
            "load",
            layout.to_str().unwrap(),
            "--name",
            "gc/unused"
        ])
        .code,
        0
    );
    let (user, pass) = reg.user().unwrap();
    let pod = node.write(
        "pod.yaml",
        &format!(
            "{}---\n{}",
            secret_yaml("default", "regcred", &reg.host, user, pass),
            pod_yaml(
                "default",
                "p",
                &reg.reference("gc/used:v1"),
                None,
                &["regcred"]
            )
        ),
    );
    let out = node.pullsim(&[
        "pod",
        "run",
        pod.to_str().unwrap(),
        "--capacity",
        "16Ki",
        "--image-minimum-gc-age",
        "0s",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Image GC: capacity 16384 bytes"),
        "{}",
        out.stdout
    );
    let ls = node.pullsim(&["images", "ls", "-o", "json"]).stdout;
    assert!(ls.contains("gc/used"), "{ls}");
    assert!(!ls.contains("gc/unused"), "{ls}");
}
