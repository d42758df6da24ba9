//! The unpack check's decompress + diff_id throughput (issue 12 item 5, the floor of issue 14):
//! a 32 MiB layer tar (half random, half text, as real layers mix binaries and text), gzip
//! (level 6, docker's default) and zstd (level 3), fed to `DiffHasher` in 64 KiB chunks as the
//! content sink gets network buffers. Throughput is in bytes of *uncompressed* data (criterion's
//! MB/s of the tar), beside plain SHA-256 of the same tar (the hash alone) and one-shot decoders
//! into SHA-256 (flate2 `read::MultiGzDecoder`, `zstd::stream::copy_decode`): what the streaming
//! hasher costs above a decoder that owns the whole stream. `*_8_layers_parallel`: the same
//! 32 MiB as eight 4 MiB layers decoded on as many threads as the machine has cores, from
//! memory — the floor issue 14 measures the unpack pull against.

use std::hint::black_box;
use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pullsim_runtime::unpack::DiffHasher;
use sha2::{Digest as _, Sha256};

const TAR: usize = 32 << 20;
const CHUNK: usize = 64 << 10;

fn layer_tar() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v: Vec<u8> = (0..TAR / 2)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let text = b"usr/lib/x86_64-linux-gnu/libexample.so.1 -> libexample.so.1.2.3 # config line\n";
    v.extend(text.iter().copied().cycle().take(TAR - TAR / 2));
    v
}

/// Feed `bytes` in [`CHUNK`]s; the uncompressed digest.
fn stream(bytes: &[u8]) -> String {
    let mut h = DiffHasher::new();
    for c in bytes.chunks(CHUNK) {
        h.update(c);
    }
    match h.finish() {
        Ok(Some(u)) => u.digest.to_string(),
        other => panic!("{other:?}"),
    }
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn unpack(c: &mut Criterion) {
    let tar = layer_tar();
    let want = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let zst = zstd::stream::encode_all(&tar[..], 3).expect("zstd");
    assert_eq!(stream(&gz), want);
    assert_eq!(stream(&zst), want);

    let mut g = c.benchmark_group("unpack/decompress_hash_32MiB");
    g.throughput(Throughput::Bytes(TAR as u64));
    g.sample_size(10);
    g.bench_function("sha256_only", |b| {
        b.iter(|| Sha256::digest(black_box(&tar)))
    });
    g.bench_function("gzip_diffhasher_64k_chunks", |b| {
        b.iter(|| stream(black_box(&gz)))
    });
    g.bench_function("zstd_diffhasher_64k_chunks", |b| {
        b.iter(|| stream(black_box(&zst)))
    });
    g.bench_function("gzip_flate2_read_oneshot", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(black_box(&gz[..]));
            let mut h = HashWriter(Sha256::new());
            let mut buf = vec![0u8; 128 << 10];
            loop {
                let n = d.read(&mut buf).expect("gunzip");
                if n == 0 {
                    break;
                }
                h.write_all(&buf[..n]).expect("hash");
            }
            h.0.finalize()
        })
    });
    g.bench_function("zstd_copy_decode_oneshot", |b| {
        b.iter(|| {
            let mut h = HashWriter(Sha256::new());
            zstd::stream::copy_decode(black_box(&zst[..]), &mut h).expect("unzstd");
            h.0.finalize()
        })
    });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for (name, codec) in [("gzip", 0u8), ("zstd", 1u8)] {
        let layers: Vec<Vec<u8>> = tar
            .chunks(TAR / 8)
            .map(|part| {
                if codec == 0 {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                    e.write_all(part).expect("gzip");
                    e.finish().expect("gzip")
                } else {
                    zstd::stream::encode_all(part, 3).expect("zstd")
                }
            })
            .collect();
        g.bench_function(format!("{name}_8_layers_parallel_{threads}_threads"), |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    let per = layers.len().div_ceil(threads);
                    let handles: Vec<_> = layers
                        .chunks(per)
                        .map(|group| {
                            s.spawn(move || group.iter().map(|l| stream(l).len()).sum::<usize>())
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("thread"))
                        .sum::<usize>()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, unpack);
criterion_main!(benches);
