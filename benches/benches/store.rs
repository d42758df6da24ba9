//! The store's cache-hit path and ingest:
//! - lookup of a present image by reference in stores of 10, 1,000 and 10,000 images
//!   (target: under 2 µs warm, flat as the store grows);
//! - `Store::open` of an existing store (target: under 2 ms: every CLI call pays it), and open
//!   plus the first lookup (what a CLI cache hit pays in all);
//! - ingest of a 256 MiB blob in 1 MiB writes (hash, copy into the writer's aligned buffers,
//!   `O_DIRECT` write, commit with fsync) next to plain sha2 hashing of the same bytes (target:
//!   at least 80 % of sha2's throughput).

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pullsim_benches::store_with_images;
use pullsim_reference::{Digest, Reference};
use pullsim_store::{Origin, Store};
use sha2::{Digest as _, Sha256};

/// A store holding `n` image names (all sharing one small image's blobs).
fn store_with(n: usize) -> (tempfile::TempDir, Store) {
    store_with_images(n, Origin::Pulled)
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/lookup_warm");
    for n in [10usize, 1_000, 10_000] {
        let (_dir, store) = store_with(n);
        let r = Reference::parse_normalized(&format!("registry.example.com/team{}/app:v1", n / 2))
            .expect("reference");
        assert!(store.lookup(&r).expect("lookup").is_some());
        g.bench_function(format!("{n}_images"), |b| {
            b.iter(|| store.lookup(black_box(&r)))
        });
        let missing =
            Reference::parse_normalized("registry.example.com/absent/app:v1").expect("ref");
        g.bench_function(format!("{n}_images_absent"), |b| {
            b.iter(|| store.lookup(black_box(&missing)))
        });
    }
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/open");
    for n in [10usize, 10_000] {
        let (dir, _store) = store_with(n);
        let path = dir.path().to_path_buf();
        g.bench_function(format!("open_{n}_images"), |b| {
            b.iter(|| Store::open(black_box(&path)))
        });
        let r = Reference::parse_normalized("registry.example.com/team5/app:v1").expect("ref");
        g.bench_function(format!("open_and_first_lookup_{n}_images"), |b| {
            b.iter(|| {
                let s = Store::open(&path).expect("open");
                s.lookup(black_box(&r)).expect("lookup")
            })
        });
        drop(dir);
    }
    g.finish();
}

const BLOB: usize = 256 << 20;

fn ingest(c: &mut Criterion) {
    // Deterministic, incompressible-ish bytes.
    let mut data = vec![0u8; BLOB];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let digest = Digest::from_sha256_hex(&hex::encode(Sha256::digest(&data))).expect("digest");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");

    let mut g = c.benchmark_group("store/ingest_256MiB");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(BLOB as u64));
    g.bench_function("sha2_only", |b| {
        b.iter(|| {
            let mut h = Sha256::new();
            for chunk in data.chunks(1 << 20) {
                h.update(chunk);
            }
            black_box(h.finalize())
        })
    });
    g.bench_function("writer_commit_fsync", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let t = Instant::now();
                let mut w = store
                    .writer(&format!("bench-{i}"), &digest, Some(BLOB as u64))
                    .expect("writer");
                for chunk in data.chunks(1 << 20) {
                    w.write_all(chunk).expect("write");
                }
                w.commit().expect("commit");
                total += t.elapsed();
                std::fs::remove_file(store.blob_path(&digest)).expect("remove");
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, lookup, open, ingest);
criterion_main!(benches);
