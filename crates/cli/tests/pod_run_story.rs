//! `pullsim pod run` end to end on a real registry with htpasswd auth (docker-registry via
//! pullsim-testsupport): the demo's story, each step checked.

mod pod_common;

use pod_common::{Node, pod_yaml, seconds, secret_yaml};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, shared};

#[test]
fn first_pod_pulls_second_finds_it_always_re_resolves() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 2, 4096, 11), "story/app:v1")
        .unwrap();
    let (user, pass) = reg.user().unwrap();
    let node = Node::new();
    let secret = node.write(
        "secret.yaml",
        &secret_yaml("default", "regcred", &reg.host, user, pass),
    );
    let image = reg.reference("story/app:v1");
    let pod = node.write(
        "pod.yaml",
        &pod_yaml("default", "web", &image, None, &["regcred"]),
    );

    // 1. IfNotPresent (defaulted from the tag), absent: pull.
    let out = node.run(&[&pod], &["--secret", secret.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.reasons(None), ["Pulling", "Pulled"]);
    let ev = out.events();
    assert_eq!(ev[0]["message"], format!("Pulling image \"{image}\""));
    let pulled = ev[1]["message"].as_str().unwrap();
    assert!(
        pulled.starts_with(&format!("Successfully pulled image \"{image}\" in ")),
        "{pulled}"
    );
    assert!(pulled.ends_with(" bytes."), "{pulled}");
    let st = &out.statuses()[0];
    assert_eq!(st["state"], "ready");
    assert_eq!(st["policy"], "IfNotPresent");
    let id = st["image_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"));

    // 2. A second pod (another process, same store) finds it present.
    let pod2 = node.write(
        "pod2.yaml",
        &pod_yaml("default", "web2", &image, None, &["regcred"]),
    );
    let out = node.run(&[&pod2], &["--secret", secret.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.reasons(None), ["Pulled"]);
    assert_eq!(
        out.events()[0]["message"],
        format!(
            "Container image \"{image}\" already present on machine and can be accessed by the pod"
        )
    );
    assert_eq!(out.statuses()[0]["image_id"], id.as_str());

    // 3. Always: re-resolves and pulls (layers already stored), same image ID.
    let pod3 = node.write(
        "pod3.yaml",
        &pod_yaml("default", "web3", &image, Some("Always"), &["regcred"]),
    );
    let out = node.run(&[&pod3], &["--secret", secret.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.reasons(None), ["Pulling", "Pulled"]);
    assert_eq!(out.statuses()[0]["image_id"], id.as_str());

    // The text form is kubectl describe's.
    let text = node.pullsim(&[
        "pod",
        "run",
        pod2.to_str().unwrap(),
        "--secret",
        secret.to_str().unwrap(),
    ]);
    assert!(text.stdout.contains("Events:\n  Type    Reason  Age   From     Message\n  ----    ------  ----  ----     -------\n  Normal  Pulled  0s    kubelet  Container image"), "{}", text.stdout);
}

#[test]
fn wrong_secret_backs_off_in_virtual_time() {
    let reg = shared(Mode::Htpasswd);
    reg.push_generated(&ImageSpec::simple("v1", 1, 1024, 12), "story/private:v1")
        .unwrap();
    let (user, _) = reg.user().unwrap();
    let node = Node::new();
    let secret = node.write(
        "bad.yaml",
        &secret_yaml("default", "regcred", &reg.host, user, "Wr0ng-Passw0rd"),
    );
    let image = reg.reference("story/private:v1");
    let pod = node.write(
        "pod.yaml",
        &pod_yaml("default", "web", &image, None, &["regcred"]),
    );
    let out = node.run(
        &[&pod],
        &[
            "--secret",
            secret.to_str().unwrap(),
            "--virtual-time",
            "--until",
            "2m",
        ],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let ev = out.events();
    let t0 = seconds(ev[0]["time"].as_str().unwrap());
    let pulls: Vec<f64> = ev
        .iter()
        .filter(|e| e["reason"] == "Pulling")
        .map(|e| (seconds(e["time"].as_str().unwrap()) - t0).round())
        .collect();
    // Image back-off 10s doubling; the pod worker re-syncs every 10s: pulls at 0, 10, 30, 70.
    assert_eq!(pulls, [0.0, 10.0, 30.0, 70.0]);
    let backoffs = ev.iter().filter(|e| e["reason"] == "BackOff").count();
    assert_eq!(
        backoffs, 9,
        "syncs at 20, 40, 50, 60, 80, 90, 100, 110, 120"
    );
    let failed = ev
        .iter()
        .find(|e| e["reason"] == "Failed" && e["type"] == "Warning")
        .unwrap();
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("401 Unauthorized"),
        "{failed}"
    );
    assert!(
        !out.stdout.contains("Wr0ng-Passw0rd") && !out.stderr.contains("Wr0ng-Passw0rd"),
        "the password must not appear"
    );
    let st = &out.statuses()[0];
    assert_eq!(st["reason"], "ImagePullBackOff");
    assert!(st["message"].as_str().unwrap().starts_with(&format!(
        "Back-off pulling image \"{image}\": ErrImagePull: "
    )));
}

#[test]
fn offline_never_uses_preloaded_image_and_missing_fails_without_network() {
    let reg = shared(Mode::Htpasswd);
    let node = Node::new();
    // Preload an image from an OCI layout (no registry involved).
    let layout = node.dir.path().join("layout");
    pullsim_testsupport::image::generate(&layout, &ImageSpec::simple("v1", 1, 2048, 13)).unwrap();
    let load = node.pullsim(&[
        "images",
        "load",
        layout.to_str().unwrap(),
        "--name",
        "airgap/tool",
    ]);
    assert_eq!(load.code, 0, "{}{}", load.stdout, load.stderr);

    // A listener that counts connections stands in for a registry.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();

    let pods = format!(
        "{}---\n{}---\n{}",
        pod_yaml("default", "preloaded", "airgap/tool:v1", Some("Never"), &[]),
        pod_yaml("default", "missing", "airgap/other:v1", Some("Never"), &[]),
        pod_yaml(
            "default",
            "needs-net",
            &format!("127.0.0.1:{port}/team/app:v1"),
            None,
            &[]
        )
    );
    let file = node.write("pods.yaml", &pods);
    let out = node.run(&[&file], &["--offline"]);
    assert_eq!(out.code, 1);
    let st = out.statuses();
    assert_eq!(st[0]["state"], "ready", "{st:?}");
    assert_eq!(st[1]["reason"], "ErrImageNeverPull");
    assert_eq!(
        st[1]["message"],
        "Container image \"airgap/other:v1\" is not present with pull policy of Never"
    );
    assert_eq!(st[2]["reason"], "ErrImagePull");
    assert!(
        out.stderr
            .contains(&format!("127.0.0.1:{port}/team/app:v1")),
        "{}",
        out.stderr
    );
    let mut accepted = 0;
    while listener.accept().is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 0, "an offline node must not connect");
    // The text report names the image that needed the network.
    let text = node.pullsim(&["pod", "run", file.to_str().unwrap(), "--offline"]);
    assert!(
        text.stdout
            .contains("Offline: these images needed the network:"),
        "{}",
        text.stdout
    );
    while listener.accept().is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 0);
    let _ = reg;
}
