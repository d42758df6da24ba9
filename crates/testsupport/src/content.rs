//! Deterministic layer content and a hashing writer for [`crate::image`].

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// A writer that hashes and counts what passes through.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    pub(crate) fn finish_counted(self) -> (W, String, u64) {
        (
            self.inner,
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Words used for compressible content (text-like, compresses roughly 3-4x with gzip).
const WORDS: &[&str] = &[
    "the",
    "image",
    "layer",
    "pull",
    "node",
    "kubelet",
    "registry",
    "manifest",
    "digest",
    "secret",
    "policy",
    "container",
    "runtime",
    "sandbox",
    "blob",
    "index",
    "config",
    "platform",
    "amd64",
    "arm64",
    "linux",
    "usr",
    "lib",
    "bin",
    "share",
    "etc",
    "var",
    "log",
    "cache",
    "0",
    "1",
    "42",
    "ERROR",
    "INFO",
    "WARN",
    "=",
    "{",
    "}",
    "(",
    ")",
    ";",
    "return",
    "static",
    "const",
    "fn",
    "let",
];

/// Size of the text pool compressible content is cut from.
const POOL_SIZE: usize = 256 * 1024;

/// SplitMix64: a tiny generator whose output is fixed forever (digests stay stable across
/// dependency upgrades) and fast even in debug builds.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Produces `remaining` bytes of deterministic content: random bytes, or text-like bytes cut
/// from a pool of random words.
pub(crate) struct ContentReader {
    remaining: usize,
    rng: SplitMix64,
    pool: Vec<u8>,
    segment: (usize, usize),
}

impl ContentReader {
    pub(crate) fn new(size: usize, compressible: bool, seed: u64) -> Self {
        let mut rng = SplitMix64(seed);
        let mut pool = Vec::new();
        if compressible {
            pool.reserve(POOL_SIZE + 16);
            while pool.len() < POOL_SIZE {
                pool.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                pool.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
            }
        }
        ContentReader {
            remaining: size,
            rng,
            pool,
            segment: (0, 0),
        }
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.remaining);
        let out = &mut buf[..n];
        if self.pool.is_empty() {
            for chunk in out.chunks_mut(8) {
                let bytes = self.rng.next().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        } else {
            let mut filled = 0;
            while filled < n {
                let (mut pos, mut end) = self.segment;
                if pos == end {
                    let len = 64 + self.rng.below(4096);
                    pos = self.rng.below(self.pool.len() - len);
                    end = pos + len;
                }
                let take = (n - filled).min(end - pos);
                out[filled..filled + take].copy_from_slice(&self.pool[pos..pos + take]);
                self.segment = (pos + take, end);
                filled += take;
            }
        }
        self.remaining -= n;
        Ok(n)
    }
}
