//! A synthetic scenario of a given size (for the scale bench and its tests): one pool of
//! `nodes` nodes (1 Gbps, own addresses), one registry (token auth, 20 ms, 100 Gbps), `images`
//! images of a shared 30 MiB base (10 bases) plus a 20 MiB and a 5 MiB layer, and `pods` pods
//! in one Deployment per image (IfNotPresent), arriving evenly over the first 5/6 of `hours`.

use std::fmt::Write as _;

/// The scenario's YAML.
pub fn synthetic(nodes: u32, pods: u32, images: u32, hours: u32) -> String {
    let images = images.max(1);
    let mut s = format!(
        "apiVersion: pullsim/v1alpha1\nkind: Scenario\nduration: {hours}h\nsampleInterval: 10m\n\
pools:\n  fleet:\n    count: {nodes}\n    downlink: 1Gbps\n\
registries:\n  registry.example:\n    latency: 20ms\n    egress: 100Gbps\n    auth: token\n\
sharedLayers:\n"
    );
    for b in 0..10 {
        let _ = writeln!(s, "  base{b}: 30MiB");
    }
    s.push_str("images:\n");
    for i in 0..images {
        let _ = writeln!(
            s,
            "  registry.example/app{i}:v1: {{layers: [base{}, 20MiB, 5MiB]}}",
            i % 10
        );
    }
    s.push_str("workloads:\n");
    let spread_ms = u64::from(hours) * 3_600_000 * 5 / 6;
    for i in 0..images {
        let replicas = pods / images + u32::from(i < pods % images);
        if replicas == 0 {
            continue;
        }
        let every = spread_ms / u64::from(replicas);
        let at = spread_ms * u64::from(i) / u64::from(images) / u64::from(replicas.max(1));
        let _ = writeln!(
            s,
            "  app{i}: {{replicas: {replicas}, at: {at}ms, every: {every}ms, containers: [{{image: registry.example/app{i}:v1, imagePullPolicy: IfNotPresent}}]}}"
        );
    }
    s
}
