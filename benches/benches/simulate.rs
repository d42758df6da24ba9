//! `pullsim simulate` at scale: cost as nodes and pods grow (synthetic scenarios, 6 virtual
//! hours, one variant). README "Simulate a fleet" has the table.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

// As the pullsim binary runs (crates/cli/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use pullsim_simulate::synthetic::synthetic;
use pullsim_simulate::{RunOptions, parse, simulate};

fn run(nodes: u32, pods: u32, images: u32) -> u64 {
    let yaml = synthetic(nodes, pods, images, 6);
    let l = parse(&yaml, Path::new("synthetic.yaml")).expect("synthetic scenario");
    let r = simulate(&l, RunOptions::default()).expect("compiles");
    r[0].ready
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    for (nodes, pods, images) in [
        (100, 1_000, 100),
        (1_000, 10_000, 1_000),
        (1_000, 100_000, 1_000),
        (10_000, 10_000, 1_000),
        (10_000, 100_000, 1_000),
    ] {
        g.bench_function(format!("{nodes}n_{pods}p_{images}i_6h"), |b| {
            b.iter(|| run(nodes, pods, images))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
