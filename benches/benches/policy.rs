//! The policy crate's hot paths: policy defaulting on typical references, the pull decision
//! (target: under 20 ns), back-off bookkeeping, KEP-2535 verification, and an image GC plan
//! over 1,000 images.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pullsim_policy::verification::{
    PodCredentials, PullRecords, RecordedCredentials, SecretCoordinates, verify,
};
use pullsim_policy::{
    Allowlist, Backoff, GcImage, GcPolicy, Presence, PullPolicy, VerificationPolicy, backoff_key,
    decide, default_pull_policy, plan_gc,
};

fn defaulting(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy/default_pull_policy");
    for (name, input) in [
        ("short", "nginx"),
        ("tag", "nginx:1.25"),
        ("full_port_tag", "registry.example.com:5000/team/app:v1.2.3"),
        (
            "digest",
            "quay.io/coreos/etcd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
    ] {
        g.bench_function(name, |b| b.iter(|| default_pull_policy(black_box(input))));
    }
    g.finish();
}

fn decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy/decide");
    let cases = [
        (
            "ifnotpresent_present",
            PullPolicy::IfNotPresent,
            Presence::Present { accessible: true },
        ),
        ("never_absent", PullPolicy::Never, Presence::Absent),
        (
            "ifnotpresent_unverified",
            PullPolicy::IfNotPresent,
            Presence::Present { accessible: false },
        ),
    ];
    for (name, policy, presence) in cases {
        g.bench_function(name, |b| {
            b.iter(|| decide(black_box(policy), black_box(presence)))
        });
    }
    g.finish();
}

fn backoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy/backoff");
    let key = backoff_key(
        "7f9c2ba4-e88f-11e3-a2a0-0242ac110002",
        "registry.example.com/team/app:1.0",
    );
    let mut b = Backoff::kubelet();
    for i in 0..1000 {
        b.next(&format!("pod-{i}_img"), Duration::from_secs(1));
    }
    b.next(&key, Duration::from_secs(1));
    g.bench_function("is_in_backoff", |bn| {
        bn.iter(|| b.is_in_backoff(black_box(&key), black_box(Duration::from_secs(5))))
    });
    let mut b2 = b.clone();
    let mut t = Duration::from_secs(2);
    g.bench_function("next", |bn| {
        bn.iter(|| {
            t += Duration::from_secs(1);
            b2.next(black_box(&key), t)
        })
    });
    g.bench_function("backoff_key", |bn| {
        bn.iter(|| backoff_key(black_box("7f9c2ba4-e88f-11e3"), black_box("nginx:1.25")))
    });
    g.finish();
}

fn verification(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy/verify");
    let mapping = BTreeMap::from([(
        "docker.io/library/app".to_string(),
        RecordedCredentials {
            kubernetes_secrets: vec![SecretCoordinates {
                uid: "u1".into(),
                namespace: "a".into(),
                name: "pull".into(),
                credential_hash: "h1".into(),
            }],
            ..Default::default()
        },
    )]);
    let pod = [SecretCoordinates {
        uid: "u1".into(),
        namespace: "a".into(),
        name: "pull".into(),
        credential_hash: "h1".into(),
    }];
    let records = PullRecords {
        pulled: Some(&mapping),
        intent_exists: false,
    };
    let creds = PodCredentials {
        secrets: &pod,
        service_account: None,
    };
    let allow = Allowlist::default();
    g.bench_function("secret_match", |b| {
        b.iter(|| {
            verify(
                VerificationPolicy::NeverVerifyPreloadedImages,
                &allow,
                black_box("app:1.0"),
                &records,
                &creds,
            )
        })
    });
    g.finish();
}

fn gc(c: &mut Criterion) {
    let images: Vec<GcImage> = (0..1000u64)
        .map(|i| GcImage {
            id: format!("sha256:{i:064x}"),
            size: 10_000_000 + (i * 7919) % 5_000_000,
            first_detected: Duration::from_secs(i),
            last_used: Duration::from_secs((i * 104_729) % 100_000),
            pinned: i % 50 == 0,
            in_use: i % 10 == 0,
        })
        .collect();
    let used: u64 = images.iter().map(|i| i.size).sum();
    let capacity = used * 100 / 90; // 90 % full: above the 85 % threshold
    let policy = GcPolicy::default();
    c.bench_function("policy/plan_gc/1000_images", |b| {
        b.iter(|| {
            plan_gc(
                &policy,
                capacity,
                used,
                black_box(&images),
                Duration::from_secs(200_000),
            )
        })
    });
}

criterion_group!(benches, defaulting, decision, backoff, verification, gc);
criterion_main!(benches);
