//! The fleet simulator's request counts follow the runtime's rules, quota exhaustion gives 429s,
//! ErrImagePull and back-off, outages and mirrors change which host serves, and a seed gives
//! one result.

use std::path::Path;

use pullsim_simulate::{RunOptions, VariantResult, parse, simulate};

fn run(yaml: &str) -> Vec<VariantResult> {
    let l = parse(yaml, Path::new("test.yaml")).unwrap();
    simulate(&l, RunOptions::default()).unwrap()
}

fn one_node(policy: &str, auth: &str, pods: u32) -> String {
    format!(
        r#"apiVersion: pullsim/v1alpha1
kind: Scenario
duration: 1h
pools:
  n:
    count: 1
    downlink: 100MiB/s
registries:
  reg.example:
    latency: 20ms
    auth: {auth}
images:
  reg.example/app:1:
    layers: [10MiB, 5MiB]
workloads:
  app:
    replicas: {pods}
    every: 1m
    containers: [{{image: reg.example/app:1, imagePullPolicy: {policy}}}]
"#
    )
}

#[test]
fn always_heads_every_start_with_the_auth_round_trip_and_fetches_once() {
    // containerd builds a new authorizer per pull (core/remotes/docker/resolver.go@v2.3.4):
    // HEAD → 401 → token → HEAD on every pull; the content store already has the manifest,
    // config and layers after the first pull, so no GET follows.
    let r = &run(&one_node("Always", "token", 5))[0];
    let c = r.registries["reg.example"];
    assert_eq!(r.ready, 5);
    assert_eq!(c.manifest_head, 10, "{c:?}");
    assert_eq!(c.token, 5);
    assert_eq!(c.manifest_get, 1);
    assert_eq!(c.blob_get, 3, "config + 2 layers, once");
    assert_eq!(c.bytes, 1_500 + 4096 + 15 * 1024 * 1024);
    assert_eq!(r.events["Pulling"], 5);

    let r = &run(&one_node("Always", "none", 5))[0];
    let c = r.registries["reg.example"];
    assert_eq!((c.manifest_head, c.token), (5, 0), "no auth, no round trip");
}

#[test]
fn if_not_present_makes_no_request_once_present() {
    let r = &run(&one_node("IfNotPresent", "token", 5))[0];
    let c = r.registries["reg.example"];
    assert_eq!(r.ready, 5);
    assert_eq!(
        (c.manifest_head, c.token, c.manifest_get, c.blob_get),
        (2, 1, 1, 3)
    );
    assert_eq!(r.events["Pulling"], 1);
    // 4 pods found it: "Container image … already present on machine".
    assert_eq!(r.events["Pulled"], 5);
}

#[test]
fn time_to_ready_is_latency_plus_transfer() {
    // One pod: HEAD (20 ms), GET manifest (20 ms), then config and the two layers in parallel
    // (3 slots): each 20 ms to the first byte, then 15 MiB shared on a 100 MiB/s downlink.
    let r = &run(&one_node("IfNotPresent", "none", 1))[0];
    let t = r.time_to_ready_seconds.unwrap().max;
    let expected = 0.02 * 3.0 + (15.0 * 1024.0 * 1024.0 + 4096.0) / (100.0 * 1024.0 * 1024.0);
    assert!((t - expected).abs() < 0.002, "{t} vs {expected}");
}

const QUOTA: &str = r#"apiVersion: pullsim/v1alpha1
kind: Scenario
duration: 30m
pools:
  nat:
    count: 10
    downlink: 1Gbps
    egressAddress: 203.0.113.7
registries:
  docker.io:
    latency: 30ms
    auth: token
    rateLimits:
      - requests: 4
        window: 6h
        who: anonymous
        message: "You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"
images:
  nginx:1.27:
    platforms: [linux/amd64, linux/arm64]
    layers: [30MiB]
workloads:
  web:
    kind: DaemonSet
    containers: [{image: nginx:1.27}]
"#;

#[test]
fn quota_exhaustion_gives_429_err_image_pull_and_back_off() {
    let r = &run(QUOTA)[0];
    let c = r.registries["docker.io"];
    // A pod on each of 10 nodes behind one address: 4 platform-manifest GETs pass.
    assert_eq!(r.pods, 10);
    assert_eq!(r.ready, 4, "{r:?}");
    assert_eq!(r.failed, 6);
    // fetcher.go: 429 retried at once, 5 requests in all, on every pull attempt.
    assert!(c.throttled >= 6 * 5, "{c:?}");
    assert_eq!(c.throttled % 5, 0);
    assert!(r.first_throttled_seconds.is_some());
    assert!(r.events["BackOff"] > 0, "{:?}", r.events);
    assert!(r.events["Failed"] > 0);
    let (msg, _) = r.errors.iter().next().unwrap();
    assert!(
        msg.starts_with("Failed to pull image \"nginx:1.27\": failed to pull and unpack image \"docker.io/library/nginx:1.27\": failed to copy: httpReadSeeker: failed open: unexpected status from GET request to https://registry-1.docker.io/v2/library/nginx/manifests/sha256:"),
        "{msg}"
    );
    assert!(
        msg.ends_with(": 429 Too Many Requests\ntoomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"),
        "{msg}"
    );
    // The kubelet's CRI client strips `rpc error: code = Unknown desc = ` (remote_image.go).
    // Index GETs are not counted: 10 index GETs + 4 platform manifest GETs + the 429s.
    assert_eq!(c.manifest_get, 10 + 4 + c.throttled);
}

#[test]
fn outages_and_mirrors_change_which_host_serves() {
    let yaml = r#"apiVersion: pullsim/v1alpha1
kind: Scenario
duration: 2h
pools:
  air:
    count: 2
    downlink: 1Gbps
    runtime:
      mirrors: {docker.io: [mirror.internal:5000]}
registries:
  docker.io: {latency: 30ms, auth: token}
  mirror.internal:5000:
    latency: 1ms
    outages: [{from: 30m, to: 90m}]
images:
  busybox:1.36: {layers: [2MiB]}
workloads:
  early: {replicas: 2, containers: [{image: busybox:1.36, imagePullPolicy: Always}]}
  late: {replicas: 2, at: 1h, containers: [{image: busybox:1.36, imagePullPolicy: Always}]}
"#;
    let r = &run(yaml)[0];
    let m = r.registries["mirror.internal:5000"];
    let d = r.registries["docker.io"];
    assert_eq!(r.ready, 4);
    // Before the outage the mirror serves everything; docker.io sees nothing.
    assert_eq!(m.blob_get, 2 * 2, "config + layer on each of 2 nodes");
    // During it, HEAD at the mirror gets 503, containerd tries the next host: docker.io.
    assert_eq!(m.failed, 2);
    assert_eq!(d.manifest_head, 2 * 2, "401 + retry per late pod");
    assert_eq!(d.token, 2);
    assert_eq!(d.blob_get, 0, "the content was already there");
}

#[test]
fn one_seed_one_result() {
    let yaml = QUOTA.replace("latency: 30ms", "latency: 30ms\n    errorRate: 0.2");
    let a = run(&yaml);
    let b = run(&yaml);
    assert_eq!(a, b);
    let l = parse(&yaml, Path::new("t.yaml")).unwrap();
    let c = simulate(
        &l,
        RunOptions {
            seed: 7,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        c,
        simulate(
            &l,
            RunOptions {
                seed: 7,
                ..RunOptions::default()
            }
        )
        .unwrap()
    );
}

#[test]
fn skipping_identical_back_off_syncs_changes_nothing() {
    // The quota rollout, as a Deployment (several pods per node: an image pulled by one pod
    // ends another's back-off wait early), and the DaemonSet form, with 5xx injected.
    let deployment = QUOTA.replace("kind: DaemonSet", "replicas: 25\n    every: 7s");
    let failing = QUOTA.replace("latency: 30ms", "latency: 30ms\n    errorRate: 0.3");
    for yaml in [QUOTA.to_string(), deployment, failing] {
        let l = parse(&yaml, Path::new("t.yaml")).unwrap();
        let fast = simulate(&l, RunOptions::default()).unwrap();
        let slow = simulate(
            &l,
            RunOptions {
                every_sync: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
        assert_eq!(fast, slow);
        assert!(fast[0].events["BackOff"] > 0);
    }
}

#[test]
fn node_local_rate_updates_stay_close_to_exact_fair_sharing() {
    // A registry whose egress is the bottleneck (20 nodes × 1 Gbps behind 400 Mbps): rates
    // recomputed only on the node of the download that starts or ends vs every download of
    // the fleet at every start and end. README "Simulate a fleet" quotes these numbers.
    let yaml = r#"apiVersion: pullsim/v1alpha1
kind: Scenario
duration: 1h
pools:
  n: {count: 20, downlink: 1Gbps}
registries:
  reg.example: {latency: 10ms, egress: 400Mbps}
sharedLayers: {base: 50MiB}
images:
  reg.example/a:1: {layers: [base, 30MiB, 10MiB]}
  reg.example/b:1: {layers: [base, 60MiB]}
  reg.example/c:1: {layers: [80MiB, 5MiB, 5MiB]}
workloads:
  a: {replicas: 20, every: 3s, containers: [{image: reg.example/a:1}]}
  b: {replicas: 20, at: 10s, every: 2s, containers: [{image: reg.example/b:1}]}
  c: {replicas: 20, at: 20s, every: 5s, containers: [{image: reg.example/c:1}]}
"#;
    let l = parse(yaml, Path::new("t.yaml")).unwrap();
    let fast = &simulate(&l, RunOptions::default()).unwrap()[0];
    let exact = &simulate(
        &l,
        RunOptions {
            exact_sharing: true,
            ..RunOptions::default()
        },
    )
    .unwrap()[0];
    // What is downloaded does not depend on the rates (when HEADs happen may).
    let (fr, er) = (
        fast.registries["reg.example"],
        exact.registries["reg.example"],
    );
    assert_eq!((fr.blob_get, fr.bytes), (er.blob_get, er.bytes));
    let (f, e) = (
        fast.time_to_ready_seconds.unwrap(),
        exact.time_to_ready_seconds.unwrap(),
    );
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "fast p50 {:.2} p95 {:.2} max {:.2} mean {:.2}; exact p50 {:.2} p95 {:.2} max {:.2} mean {:.2}",
        f.p50,
        f.p95,
        f.max,
        mean(&fast.times_to_ready),
        e.p50,
        e.p95,
        e.max,
        mean(&exact.times_to_ready)
    );
    assert!(rel(f.p50, e.p50) < 0.25, "{f:?} vs {e:?}");
    assert!(rel(f.p95, e.p95) < 0.25, "{f:?} vs {e:?}");
    assert!(
        rel(mean(&fast.times_to_ready), mean(&exact.times_to_ready)) < 0.15,
        "{f:?} vs {e:?}"
    );
}
