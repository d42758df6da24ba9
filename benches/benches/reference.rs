//! Reference parsing on the hot path: parse + normalize (ParseNormalizedNamed), the familiar
//! form, and the kubelet's ParseImageName. Target: a parse under 300 ns on the 2-core machine.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pullsim_reference::{Reference, parse_image_name};

const SHORT: &str = "nginx";
const FULL: &str = "registry.example.com:5000/team/app:v1.2.3";
const DIGEST: &str =
    "quay.io/coreos/etcd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("reference/parse_normalized");
    for (name, input) in [
        ("short", SHORT),
        ("full_port_tag", FULL),
        ("digest", DIGEST),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| Reference::parse_normalized(black_box(input)))
        });
    }
    g.finish();
}

fn familiar(c: &mut Criterion) {
    let mut g = c.benchmark_group("reference/familiar");
    for (name, input) in [
        ("short", "docker.io/library/nginx:1.25"),
        ("full_port_tag", FULL),
    ] {
        let r = Reference::parse_normalized(input).expect("valid benchmark input");
        g.bench_function(name, |b| b.iter(|| black_box(&r).familiar()));
    }
    g.finish();
}

fn image_name(c: &mut Criterion) {
    let mut g = c.benchmark_group("reference/parse_image_name");
    for (name, input) in [
        ("short", SHORT),
        ("full_port_tag", FULL),
        ("digest", DIGEST),
    ] {
        g.bench_function(name, |b| b.iter(|| parse_image_name(black_box(input))));
    }
    g.finish();
}

fn invalid(c: &mut Criterion) {
    c.bench_function("reference/parse_normalized/invalid", |b| {
        b.iter(|| Reference::parse_normalized(black_box("aa/asdf$$^/aa")))
    });
}

criterion_group!(benches, parse, familiar, image_name, invalid);
criterion_main!(benches);
