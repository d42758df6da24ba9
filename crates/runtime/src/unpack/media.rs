//! Which bytes containerd decompresses, and how it tells: the layer media types
//! (`core/images/mediatypes.go@v2.3.4` `IsLayerType`, `DiffCompression`) and the magic-byte
//! sniffing of `compression.DecompressStream` (`pkg/archive/compression/compression.go@v2.3.4`).

/// A compression as `compression.DetectCompression` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Neither gzip nor zstd magic: the bytes are used as they are.
    Uncompressed,
    /// gzip (`1F 8B 08`).
    Gzip,
    /// zstd (frame magic `28 B5 2F FD`, or a skippable frame `5? 2A 4D 18`).
    Zstd,
}

/// How many bytes `DecompressStream` peeks at before deciding (`buf.Peek(10)`).
pub const SNIFF_LEN: usize = 10;

const GZIP_MAGIC: [u8; 3] = [0x1F, 0x8B, 0x08];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const ZSTD_SKIPPABLE_START: u32 = 0x184D_2A50;
const ZSTD_SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;

/// `compression.DetectCompression` on the first bytes of a stream (up to [`SNIFF_LEN`]; fewer
/// when the stream is shorter): gzip magic, zstd magic, a zstd skippable frame (which needs 8
/// bytes), else uncompressed.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        return Compression::Gzip;
    }
    if head.starts_with(&ZSTD_MAGIC) {
        return Compression::Zstd;
    }
    if head.len() >= 8 {
        let m = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if m & ZSTD_SKIPPABLE_MASK == ZSTD_SKIPPABLE_START {
            return Compression::Zstd;
        }
    }
    Compression::Uncompressed
}

const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_FOREIGN_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_LAYER_NONDISTRIBUTABLE: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
const EROFS_LAYER: &str = "application/vnd.erofs.layer.v1";

/// `parseMediaTypes`: the base type and its `+` suffixes, sorted.
fn parse_media_type(mt: &str) -> (&str, Vec<&str>) {
    match mt.split_once('+') {
        None => (mt, Vec::new()),
        Some((base, ext)) => {
            let mut suffixes: Vec<&str> = ext.splitn(50, '+').collect();
            suffixes.sort_unstable();
            (base, suffixes)
        }
    }
}

/// `images.IsLayerType`: the manifest entries the unpacker counts as layers.
pub fn is_layer_type(mt: &str) -> bool {
    if mt.starts_with("application/vnd.oci.image.layer.") {
        return true;
    }
    matches!(
        parse_media_type(mt).0,
        DOCKER_LAYER
            | DOCKER_LAYER_GZIP
            | DOCKER_LAYER_FOREIGN
            | DOCKER_LAYER_FOREIGN_GZIP
            | DOCKER_LAYER_ZSTD
            | EROFS_LAYER
    )
}

/// What `images.DiffCompression` says of a layer media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffCompression {
    /// `""`: the blob is the diff (no decompression; its diff ID is its own digest).
    None,
    /// `gzip`, `zstd` or `unknown` (a Docker `tar` that may be compressed anyway): the blob
    /// goes through `DecompressStream`, which sniffs the bytes.
    Decompress,
    /// Not a media type containerd can apply (`unrecognised mediatype`): no stream processor.
    Unsupported,
}

/// `images.DiffCompression(mediaType)`.
pub fn diff_compression(mt: &str) -> DiffCompression {
    let (base, ext) = parse_media_type(mt);
    match base {
        DOCKER_LAYER
        | DOCKER_LAYER_FOREIGN
        | DOCKER_LAYER_GZIP
        | DOCKER_LAYER_FOREIGN_GZIP
        | DOCKER_LAYER_ZSTD => {
            if ext.is_empty() {
                DiffCompression::Decompress
            } else {
                // Wrapped (`+encrypted`, …): handed on as it is.
                DiffCompression::None
            }
        }
        OCI_LAYER | OCI_LAYER_NONDISTRIBUTABLE => match ext.last() {
            Some(&"gzip") | Some(&"zstd") => DiffCompression::Decompress,
            _ => DiffCompression::None,
        },
        _ => DiffCompression::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_as_detect_compression() {
        // compression.go@v2.3.4: gzipMagic {1F 8B 08}, zstdMagic {28 B5 2F FD}, skippable
        // frames 0x184D2A50..5F (little endian) with at least 8 bytes peeked.
        assert_eq!(
            detect_compression(&[0x1f, 0x8b, 0x08, 0]),
            Compression::Gzip
        );
        assert_eq!(detect_compression(&[0x1f, 0x8b, 0x08]), Compression::Gzip);
        // Deflate is the only gzip method Go's reader knows: another method byte is not gzip.
        assert_eq!(
            detect_compression(&[0x1f, 0x8b, 0x07, 0]),
            Compression::Uncompressed
        );
        assert_eq!(detect_compression(&[0x1f, 0x8b]), Compression::Uncompressed);
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f]),
            Compression::Uncompressed
        );
        let skippable = [0x5a, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2];
        assert_eq!(detect_compression(&skippable), Compression::Zstd);
        assert_eq!(detect_compression(&skippable[..8]), Compression::Zstd);
        assert_eq!(
            detect_compression(&skippable[..7]),
            Compression::Uncompressed
        );
        assert_eq!(
            detect_compression(&[0x60, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]),
            Compression::Uncompressed
        );
        assert_eq!(detect_compression(b"ustar\0"), Compression::Uncompressed);
        assert_eq!(detect_compression(b""), Compression::Uncompressed);
    }

    #[test]
    fn media_types_as_diff_compression() {
        // mediatypes.go@v2.3.4 DiffCompression and IsLayerType.
        use DiffCompression::*;
        let table = [
            ("application/vnd.oci.image.layer.v1.tar", None, true),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Decompress,
                true,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Decompress,
                true,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                Decompress,
                true,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+encrypted",
                None,
                true,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                Decompress,
                true,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar",
                Decompress,
                true,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Decompress,
                true,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.zstd",
                Decompress,
                true,
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                Decompress,
                true,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted",
                None,
                true,
            ),
            ("application/vnd.oci.image.layer.v1.tar+lz4", None, true),
            ("application/vnd.erofs.layer.v1", Unsupported, true),
            (
                "application/vnd.oci.image.config.v1+json",
                Unsupported,
                false,
            ),
            ("application/octet-stream", Unsupported, false),
            ("", Unsupported, false),
        ];
        for (mt, dc, layer) in table {
            assert_eq!(diff_compression(mt), dc, "{mt}");
            assert_eq!(is_layer_type(mt), layer, "{mt}");
        }
    }
}
