//! The errors of the unpack check, worded as containerd words them.

use pullsim_reference::{Digest, go_quote};

use super::media::Compression;

/// A compressed layer that does not decompress, worded as Go's decoders that containerd uses
/// (`compress/gzip`, `compress/flate`, `github.com/klauspost/compress/zstd`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecompressError {
    /// A gzip member header that is not one (`gzip.ErrHeader`). `first`: the stream's first
    /// header, which `gzip.NewReader` reads when the stream processor is set up.
    #[error("gzip: invalid header")]
    GzipHeader {
        /// The stream's first header (else a later member's).
        first: bool,
        /// Offset of the member in the compressed stream.
        offset: u64,
    },
    /// A member's CRC-32 or size trailer does not match its data (`gzip.ErrChecksum`).
    #[error("gzip: invalid checksum")]
    GzipChecksum {
        /// Offset of the trailer in the compressed stream.
        offset: u64,
    },
    /// Deflate data that does not decode (`flate.CorruptInputError`). The offset counts the
    /// member's deflate bytes consumed when the decoder gave up (Go's counts bytes read up to
    /// the bad symbol: they can differ by the few bytes a decoder reads ahead).
    #[error("flate: corrupt input before offset {offset}")]
    FlateCorrupt {
        /// Bytes of the member's deflate data consumed.
        offset: u64,
    },
    /// The stream ends inside a gzip header, deflate data, trailer or zstd frame
    /// (`io.ErrUnexpectedEOF`).
    #[error("unexpected EOF")]
    UnexpectedEof {
        /// The stream's compression.
        compression: Compression,
        /// `true` when the stream ends inside its first gzip header.
        in_first_header: bool,
    },
    /// A zstd frame that does not decode. `message` is klauspost/compress's text where the
    /// failure maps onto one of its errors (`invalid input: magic number mismatch`,
    /// `CRC check failed`, `window size exceeded`), else libzstd's own.
    #[error("{message}")]
    Zstd {
        /// The decoder's message.
        message: String,
    },
}

impl DecompressError {
    /// Whether containerd meets it while setting up the stream processor (`gzip.NewReader`
    /// reads the first header): then `Apply` says `failed to get stream processor for …`.
    pub fn at_setup(&self) -> bool {
        matches!(
            self,
            DecompressError::GzipHeader { first: true, .. }
                | DecompressError::UnexpectedEof {
                    in_first_header: true,
                    ..
                }
        )
    }
}

/// Which containerd words the unpack errors (they changed in 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wording {
    /// containerd 2.x (`core/unpack/unpacker.go@v2.3.4`).
    V2,
    /// containerd 1.7 (`pkg/unpack/unpacker.go@v1.7.34`).
    V1_7,
}

/// The unpack check refused an image: containerd's unpacker error (`Display` is its text, which
/// the CRI plugin wraps as `failed to pull and unpack image "REF": …`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The manifest's layers and the config's `rootfs.diff_ids` differ in number.
    #[error("number of layers and diffIDs don't match: {layers} != {diff_ids}")]
    LayerCount {
        /// Layers in the manifest (entries of a layer media type).
        layers: usize,
        /// Entries of `rootfs.diff_ids`.
        diff_ids: usize,
    },
    /// The config is not JSON of the expected shape.
    #[error("unmarshal image config: {message}")]
    Config {
        /// The config's digest.
        config: Digest,
        /// The JSON decoder's message (serde_json's, not Go's `encoding/json` text).
        message: String,
    },
    /// A layer's uncompressed digest is not its diff ID.
    #[error("{text}")]
    WrongDiffId {
        /// containerd's text for the version.
        text: String,
        /// The layer (index in the manifest's layers, bottom first).
        index: usize,
        /// The layer blob's digest.
        layer: Digest,
        /// The config's diff ID for it.
        expected: String,
        /// The digest of the layer's uncompressed bytes.
        actual: Digest,
    },
    /// A layer could not be decompressed (or has a media type containerd cannot apply).
    #[error("{text}")]
    Extract {
        /// containerd's text for the version.
        text: String,
        /// The layer (index in the manifest's layers, bottom first).
        index: usize,
        /// The layer blob's digest.
        layer: Digest,
        /// The decoder's error, when decoding failed.
        #[source]
        source: Option<DecompressError>,
    },
    /// The manifest, config or a layer could not be read from the content store.
    #[error("{message}")]
    Store {
        /// What failed, and where.
        message: String,
    },
}

impl UnpackError {
    /// The 2.x text of a wrong diff ID (`unpacker.go@v2.3.4`: `wrong diff id %q calculated on
    /// extraction %q, desc %q` with the computed digest, the config's diff ID, the layer), or
    /// 1.7's (`unpacker.go@v1.7.34`: `wrong diff id calculated on extraction %q`, the diff ID).
    pub fn wrong_diff_id(
        wording: Wording,
        index: usize,
        layer: &Digest,
        expected: &str,
        actual: &Digest,
    ) -> Self {
        let text = match wording {
            Wording::V2 => format!(
                "wrong diff id {} calculated on extraction {}, desc {}",
                go_quote(actual.as_ref()),
                go_quote(expected),
                go_quote(layer.as_ref())
            ),
            Wording::V1_7 => format!(
                "wrong diff id calculated on extraction {}",
                go_quote(expected)
            ),
        };
        UnpackError::WrongDiffId {
            text,
            index,
            layer: layer.clone(),
            expected: expected.to_string(),
            actual: actual.clone(),
        }
    }

    /// A layer that does not extract. 2.x: `failed to extract layer (%s %s) to %s as %q: %w`
    /// (media type, layer digest, the snapshotter, the extraction key `extract-N-RAND CHAINID`);
    /// 1.7: `failed to extract layer %s: %w` (the diff ID). The cause is worded as
    /// `fsApplier.Apply` (`core/diff/apply/apply.go@v2.3.4`) returns it: a failure while setting
    /// up the decompressor (or a media type without one) is
    /// `failed to get stream processor for MEDIATYPE: …`.
    pub fn extract(
        wording: Wording,
        at: &LayerAt<'_>,
        cause: Result<DecompressError, String>,
    ) -> Self {
        let source = cause.as_ref().ok().cloned();
        let cause_text = match &cause {
            Ok(e) if e.at_setup() => {
                format!("failed to get stream processor for {}: {e}", at.media_type)
            }
            Ok(e) => e.to_string(),
            Err(text) => text.clone(),
        };
        let text = match wording {
            Wording::V2 => format!(
                "failed to extract layer ({} {}) to {} as {}: {cause_text}",
                at.media_type,
                at.layer,
                SNAPSHOTTER,
                go_quote(&extraction_key(at.chain_id))
            ),
            Wording::V1_7 => format!("failed to extract layer {}: {cause_text}", at.diff_id),
        };
        UnpackError::Extract {
            text,
            index: at.index,
            layer: at.layer.clone(),
            source,
        }
    }

    /// `Apply` on a media type no stream processor handles (`diff.ErrNoProcessor`).
    pub fn no_processor(wording: Wording, at: &LayerAt<'_>) -> Self {
        let text = format!(
            "failed to get stream processor for {}: no processor for media-type",
            at.media_type
        );
        let mut e = UnpackError::extract(wording, at, Err(text));
        if let UnpackError::Extract { source, .. } = &mut e {
            *source = None;
        }
        e
    }
}

/// Where a layer sits, for the extraction error.
#[derive(Clone, Copy, Debug)]
pub struct LayerAt<'a> {
    /// Index in the manifest's layers.
    pub index: usize,
    /// Its media type.
    pub media_type: &'a str,
    /// Its blob digest.
    pub layer: &'a Digest,
    /// The config's diff ID for it.
    pub diff_id: &'a str,
    /// Its chain ID (`identity.ChainIDs` over the diff IDs up to it).
    pub chain_id: &'a str,
}

/// containerd's default snapshotter on Linux, named in the 2.x extraction error.
const SNAPSHOTTER: &str = "overlayfs";

/// `fmt.Sprintf(snapshots.UnpackKeyFormat, uniquePart(), chainID)`: `extract-%s %s` with
/// `uniquePart()` = `<nanoseconds of now>-<base64url of 3 random bytes>`.
fn extraction_key(chain_id: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let nanos = now.subsec_nanos();
    // Three bytes that differ per call (Go reads them from crypto/rand; any will do here).
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mix = nanos
        .rotate_left(7)
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add(N.fetch_add(0x0101_0101, std::sync::atomic::Ordering::Relaxed));
    let b = mix.to_le_bytes();
    format!(
        "extract-{nanos}-{} {chain_id}",
        base64url3([b[0], b[1], b[2]])
    )
}

/// Base64 (URL alphabet, padded: Go's `base64.URLEncoding`) of three bytes: four characters.
fn base64url3(b: [u8; 3]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    (0..4)
        .map(|i| A[((n >> (18 - 6 * i)) & 63) as usize] as char)
        .collect()
}

/// `identity.ChainIDs`: chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i]).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    use sha2::Digest as _;
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(format!("{parent} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn wrong_diff_id_as_each_containerd() {
        let (layer, actual) = (d('a'), d('b'));
        let expected = format!("sha256:{}", "c".repeat(64));
        // core/unpack/unpacker.go@v2.3.4: fmt.Errorf("wrong diff id %q calculated on extraction
        // %q, desc %q", diff.Digest, diffIDs[i], desc.Digest)
        assert_eq!(
            UnpackError::wrong_diff_id(Wording::V2, 1, &layer, &expected, &actual).to_string(),
            format!(
                "wrong diff id \"sha256:{}\" calculated on extraction \"sha256:{}\", desc \"sha256:{}\"",
                "b".repeat(64),
                "c".repeat(64),
                "a".repeat(64)
            )
        );
        // pkg/unpack/unpacker.go@v1.7.34: fmt.Errorf("wrong diff id calculated on extraction
        // %q", diffIDs[i])
        assert_eq!(
            UnpackError::wrong_diff_id(Wording::V1_7, 1, &layer, &expected, &actual).to_string(),
            format!(
                "wrong diff id calculated on extraction \"sha256:{}\"",
                "c".repeat(64)
            )
        );
        // %q is Go's strconv.Quote: a config's diff ID is any JSON string.
        assert_eq!(
            UnpackError::wrong_diff_id(Wording::V1_7, 0, &layer, "sha256:\"x\u{7}é", &actual)
                .to_string(),
            "wrong diff id calculated on extraction \"sha256:\\\"x\\aé\""
        );
        // unpacker.go (both): "number of layers and diffIDs don't match: %d != %d"
        assert_eq!(
            UnpackError::LayerCount {
                layers: 3,
                diff_ids: 2
            }
            .to_string(),
            "number of layers and diffIDs don't match: 3 != 2"
        );
    }

    #[test]
    fn extraction_errors_as_each_containerd() {
        let layer = d('a');
        let diff = format!("sha256:{}", "c".repeat(64));
        let at = LayerAt {
            index: 0,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
            layer: &layer,
            diff_id: &diff,
            chain_id: &diff,
        };
        let e = UnpackError::extract(
            Wording::V2,
            &at,
            Ok(DecompressError::FlateCorrupt { offset: 12 }),
        )
        .to_string();
        // "failed to extract layer (%s %s) to %s as %q: %w", key "extract-%s %s".
        let prefix = format!(
            "failed to extract layer (application/vnd.oci.image.layer.v1.tar+gzip sha256:{}) to overlayfs as \"extract-",
            "a".repeat(64)
        );
        assert!(e.starts_with(&prefix), "{e}");
        let rest = &e[prefix.len()..];
        let (unique, tail) = rest.split_once(' ').unwrap();
        let (nanos, rand) = unique.split_once('-').unwrap();
        assert!(nanos.parse::<u32>().unwrap() < 1_000_000_000);
        assert_eq!(rand.len(), 4);
        assert!(
            rand.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(
            tail,
            format!("{diff}\": flate: corrupt input before offset 12")
        );
        // A first header that is not gzip fails in gzip.NewReader: the processor's setup.
        let e = UnpackError::extract(
            Wording::V1_7,
            &at,
            Ok(DecompressError::GzipHeader {
                first: true,
                offset: 0,
            }),
        );
        assert_eq!(
            e.to_string(),
            format!(
                "failed to extract layer {diff}: failed to get stream processor for application/vnd.oci.image.layer.v1.tar+gzip: gzip: invalid header"
            )
        );
        let e = UnpackError::no_processor(Wording::V1_7, &at);
        assert_eq!(
            e.to_string(),
            format!(
                "failed to extract layer {diff}: failed to get stream processor for application/vnd.oci.image.layer.v1.tar+gzip: no processor for media-type"
            )
        );
    }

    #[test]
    fn chain_ids_as_identity() {
        // identity.ChainID: digest.FromString(parent.String() + " " + diffID.String()).
        let ids = vec![
            format!("sha256:{}", "1".repeat(64)),
            format!("sha256:{}", "2".repeat(64)),
        ];
        let c = chain_ids(&ids);
        assert_eq!(c[0], ids[0]);
        use sha2::Digest as _;
        assert_eq!(
            c[1],
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(format!("{} {}", ids[0], ids[1])))
            )
        );
        assert_eq!(base64url3([0xfb, 0xff, 0x00]), "-_8A");
    }
}
