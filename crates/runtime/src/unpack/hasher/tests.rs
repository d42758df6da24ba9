use std::io::Write;

use proptest::prelude::*;
use sha2::Digest as _;

use super::*;

fn sha(b: &[u8]) -> Digest {
    Digest::from_sha256_hex(&hex::encode(sha2::Sha256::digest(b))).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).unwrap()
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn text(n: usize) -> Vec<u8> {
    b"layer.tar of a container image, compressible text "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

/// Feed `bytes` cut at `cuts` (positions, any order).
fn run(bytes: &[u8], cuts: &[usize]) -> Result<Option<Uncompressed>, DecompressError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut h = DiffHasher::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([bytes.len()]) {
        h.update(&bytes[at..c]);
        at = c;
    }
    h.finish()
}

fn whole(bytes: &[u8]) -> Result<Option<Uncompressed>, DecompressError> {
    run(bytes, &[])
}

fn ok(data: &[u8]) -> Result<Option<Uncompressed>, DecompressError> {
    Ok(Some(Uncompressed {
        digest: sha(data),
        size: data.len() as u64,
    }))
}

#[test]
fn gzip_zstd_and_plain() {
    let data = [random(300_000, 1), text(500_000)].concat();
    assert_eq!(whole(&gzip(&data)), ok(&data));
    assert_eq!(whole(&zstd(&data)), ok(&data));
    // Not compressed: the diff ID is the blob's digest, nothing is hashed.
    assert_eq!(whole(&data), Ok(None));
    assert_eq!(whole(b"short"), Ok(None));
    assert_eq!(whole(b""), Ok(None));
    let mut h = DiffHasher::new();
    h.update(&gzip(b"x")[..4]);
    assert_eq!(h.compression(), None);
    h.update(&[0; 6]);
    assert_eq!(h.compression(), Some(Compression::Gzip));
    assert!(h.decodes());
}

#[test]
fn concatenated_members_and_frames() {
    // Go's gzip.Reader is multistream by default; zstd decoders read frame after frame.
    let (a, b) = (random(70_000, 2), text(90_000));
    let both = [a.clone(), b.clone()].concat();
    assert_eq!(whole(&[gzip(&a), gzip(&b)].concat()), ok(&both));
    assert_eq!(whole(&[zstd(&a), zstd(&b)].concat()), ok(&both));
    // A skippable frame first (magic 0x184D2A5?, little endian, then a 4-byte length).
    let skippable = [&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0][..], b"abc"].concat();
    assert_eq!(whole(&[skippable, zstd(&a)].concat()), ok(&a));
    // An empty member still counts.
    assert_eq!(whole(&[gzip(b""), gzip(&a)].concat()), ok(&a));
}

/// A gzip member whose header has every optional field (FEXTRA, FNAME, FCOMMENT, FHCRC).
fn gzip_full_header(data: &[u8]) -> Vec<u8> {
    let mut h = vec![0x1f, 0x8b, 0x08, 0x1e, 0, 0, 0, 0, 0, 3];
    h.extend_from_slice(&[4, 0, b'a', b'b', 2, 0]);
    h.extend_from_slice(b"layer.tar\0");
    h.extend_from_slice(b"a comment\0");
    let mut c = flate2::Crc::new();
    c.update(&h);
    h.extend_from_slice(&(c.sum() as u16).to_le_bytes());
    let mut d = flate2::write::DeflateEncoder::new(h, flate2::Compression::fast());
    d.write_all(data).unwrap();
    let mut out = d.finish().unwrap();
    let mut c = flate2::Crc::new();
    c.update(data);
    out.extend_from_slice(&c.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[test]
fn gzip_header_fields_as_go_reads_them() {
    let data = text(5000);
    let full = gzip_full_header(&data);
    for cut in 0..40 {
        assert_eq!(run(&full, &[cut, cut + 1, cut + 3]), ok(&data), "cut {cut}");
    }
    // A wrong header CRC: gzip.ErrHeader, met by gzip.NewReader (the processor's setup).
    let mut bad = full.clone();
    bad[36] ^= 1; // the header CRC (10 + 2 + 4 + 10 + 10 bytes in)
    let e = whole(&bad).unwrap_err();
    assert_eq!(e.to_string(), "gzip: invalid header");
    assert!(e.at_setup());
    // A name longer than Go's 512-byte buffer: ErrHeader.
    let mut long = vec![0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 3];
    long.extend(std::iter::repeat_n(b'n', 600));
    assert_eq!(
        whole(&long).unwrap_err(),
        DecompressError::GzipHeader {
            first: true,
            offset: 0
        }
    );
    // The first header cut short: io.ReadFull's ErrUnexpectedEOF, at setup.
    let e = whole(&full[..7]).unwrap_err();
    assert_eq!(e.to_string(), "unexpected EOF");
    assert!(e.at_setup());
}

#[test]
fn corrupt_gzip_as_go_reports_it() {
    let data = random(200_000, 3);
    let gz = gzip(&data);
    // Cut inside the deflate data, or inside the trailer: io.ErrUnexpectedEOF.
    for n in [20, gz.len() / 2, gz.len() - 3] {
        let e = whole(&gz[..n]).unwrap_err();
        assert_eq!(e.to_string(), "unexpected EOF", "cut at {n}");
        assert!(!e.at_setup());
    }
    // A wrong CRC: gzip.ErrChecksum.
    let mut bad = gz.clone();
    let l = bad.len();
    bad[l - 8] ^= 0xff;
    assert_eq!(
        whole(&bad).unwrap_err().to_string(),
        "gzip: invalid checksum"
    );
    // Wrong size in the trailer: ErrChecksum too.
    let mut bad = gz.clone();
    bad[l - 1] ^= 1;
    assert_eq!(
        whole(&bad).unwrap_err().to_string(),
        "gzip: invalid checksum"
    );
    // After a member: 10+ bytes that are not a header are ErrHeader; 1-9 bytes, ErrUnexpectedEOF.
    let e = whole(&[gz.clone(), vec![0; 16]].concat()).unwrap_err();
    assert_eq!(
        e,
        DecompressError::GzipHeader {
            first: false,
            offset: gz.len() as u64
        }
    );
    assert_eq!(e.to_string(), "gzip: invalid header");
    let e = whole(&[gz.clone(), vec![0; 5]].concat()).unwrap_err();
    assert_eq!(e.to_string(), "unexpected EOF");
    // Invalid deflate data (a reserved block type, BTYPE=11): flate.CorruptInputError.
    let mut bad = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0];
    bad.extend_from_slice(&[0; 8]);
    let e = whole(&bad).unwrap_err();
    assert!(matches!(e, DecompressError::FlateCorrupt { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("flate: corrupt input before offset "),
        "{e}"
    );
}

#[test]
fn corrupt_zstd_as_klauspost_reports_it() {
    let data = random(200_000, 4);
    let z = zstd(&data);
    let e = whole(&z[..z.len() / 2]).unwrap_err();
    assert_eq!(e.to_string(), "unexpected EOF");
    // Trailing bytes that are no frame: klauspost's ErrMagicMismatch.
    let e = whole(&[z.clone(), b"garbage!".to_vec()].concat()).unwrap_err();
    assert_eq!(e.to_string(), "invalid input: magic number mismatch");
    // A frame with a content checksum, its checksum broken: ErrCRCMismatch.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(&data).unwrap();
    let mut c = enc.finish().unwrap();
    let l = c.len();
    c[l - 1] ^= 0xff;
    assert_eq!(whole(&c).unwrap_err().to_string(), "CRC check failed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The digest does not depend on where the chunks are cut.
    #[test]
    fn chunk_boundaries_do_not_matter(
        seed in any::<u64>(),
        len in 0usize..200_000,
        compressible in any::<bool>(),
        codec in 0u8..3,
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let data = if compressible { text(len) } else { random(len, seed) };
        let bytes = match codec {
            0 => gzip(&data),
            1 => zstd(&data),
            _ => data.clone(),
        };
        let expect = if codec == 2 { whole(&bytes) } else { ok(&data) };
        prop_assert_eq!(run(&bytes, &cuts), expect);
    }

    /// Cutting a compressed stream anywhere fails the same way whatever the chunks.
    #[test]
    fn truncation_is_found_whatever_the_chunks(
        seed in any::<u64>(),
        keep in 0.0f64..1.0,
        zstd_codec in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let data = random(50_000, seed);
        let bytes = if zstd_codec { zstd(&data) } else { gzip(&data) };
        let n = ((bytes.len() - 1) as f64 * keep) as usize;
        let short = &bytes[..n];
        prop_assert_eq!(run(short, &cuts), whole(short));
    }
}

#[test]
fn long_highly_compressible_zstd_and_gzip_in_network_chunks() {
    // Found by the unpack bench: 4 MiB of repeated text at zstd level 3 ends its frame exactly
    // as the 128 KiB output buffer fills; one more call with no input read as a cut stream.
    let data = text(4 << 20);
    for bytes in [zstd::stream::encode_all(&data[..], 3).unwrap(), gzip(&data)] {
        let cuts: Vec<usize> = (1..bytes.len() / 65536 + 1).map(|i| i * 65536).collect();
        assert_eq!(run(&bytes, &cuts), ok(&data));
        assert_eq!(whole(&bytes), ok(&data));
    }
}
