//! Fixtures and floors for `scripts/bench-pull` (issue 14):
//!
//! - `pullsim-bench store DIR N`: a store at DIR with N images recorded (preloaded, all
//!   sharing one small image's blobs), for the peak RSS of `pullsim images ls` over it.
//! - `pullsim-bench pods FILE N`: a manifest of N one-container pods whose images the store
//!   of `store` holds (`IfNotPresent`), for the peak RSS of `pullsim pod run` on it.
//! - `pullsim-bench floor BLOB...`: the unpack floor. Reads the blobs into memory, then
//!   decompresses (gzip through flate2 on zlib-rs, zstd through libzstd; other blobs are
//!   skipped) and SHA-256-hashes every layer, the layers spread over as many threads as the
//!   machine has cores. Prints one JSON line: seconds (decoding only, not the file reads),
//!   compressed and uncompressed bytes, layers, threads.
//!
//! Panics on I/O errors: this is benchmark set-up, not product code.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use pullsim_store::Origin;
use sha2::{Digest as _, Sha256};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn usage() -> ! {
    eprintln!("usage: pullsim-bench store DIR N | pods FILE N | floor BLOB...");
    std::process::exit(2)
}

fn count(arg: Option<&String>) -> usize {
    arg.and_then(|a| a.parse().ok()).unwrap_or_else(|| usage())
}

/// Decode one layer into SHA-256; the uncompressed size.
fn decode_hash(layer: &[u8], buf: &mut [u8]) -> u64 {
    let mut h = Sha256::new();
    let mut total = 0u64;
    let mut feed = |r: &mut dyn Read| loop {
        let n = r.read(buf).expect("decode");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    };
    if layer.starts_with(&GZIP_MAGIC) {
        feed(&mut flate2::read::MultiGzDecoder::new(layer));
    } else {
        feed(&mut zstd::stream::read::Decoder::with_buffer(layer).expect("zstd"));
    }
    std::hint::black_box(h.finalize());
    total
}

fn floor(paths: &[String]) {
    let layers: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read blob"))
        .filter(|b| b.starts_with(&GZIP_MAGIC) || b.starts_with(&ZSTD_MAGIC))
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let uncompressed: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; 128 << 10];
                    let mut sum = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(l) = layers.get(i) else { break sum };
                        sum += decode_hash(l, &mut buf);
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    let secs = started.elapsed().as_secs_f64();
    let compressed: usize = layers.iter().map(Vec::len).sum();
    println!(
        "{{\"seconds\":{secs:.6},\"compressed\":{compressed},\"uncompressed\":{uncompressed},\
         \"layers\":{},\"threads\":{threads}}}",
        layers.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("store") => {
            let dir = args.get(1).unwrap_or_else(|| usage());
            let n = count(args.get(2));
            pullsim_benches::fill_store(std::path::Path::new(dir), n, Origin::Preloaded);
        }
        Some("pods") => {
            let file = args.get(1).unwrap_or_else(|| usage());
            let n = count(args.get(2));
            std::fs::write(file, pullsim_benches::pods_yaml(n)).expect("write pods");
        }
        Some("floor") if args.len() > 1 => floor(&args[1..]),
        _ => usage(),
    }
}
