//! Generation of OCI image layouts for tests.
//!
//! [`generate`] writes an [OCI image layout](https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) into a directory. The tag is recorded as the
//! `org.opencontainers.image.ref.name` annotation in `index.json`, so the layout can be pushed with
//! `skopeo copy --all --preserve-digests oci:DIR:TAG docker://...`.
//!
//! - One platform: the tag names an image manifest.
//! - Several platforms: the tag names an image index with one manifest per platform; each platform
//!   gets its own layers (the seed is mixed with the platform's position).
//!
//! Layers are real tar archives holding one file (`layer-<n>.bin`) of `size` bytes of random or
//! compressible content, gzip-compressed (`application/vnd.oci.image.layer.v1.tar+gzip`),
//! zstd-compressed (`application/vnd.oci.image.layer.v1.tar+zstd`) or not
//! (`application/vnd.oci.image.layer.v1.tar`). The config carries the correct `rootfs.diff_ids`,
//! unless [`generate_with`] is told to break them ([`Tamper`]).
//! Output is deterministic for a given [`ImageSpec`]. Generating into a directory that already holds
//! a layout adds the tag to it (an entry with the same tag is replaced).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};

use crate::content::{ContentReader, HashingWriter, SplitMix64};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Media type of an OCI image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a gzip-compressed OCI layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Media type of a zstd-compressed OCI layer.
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Media type of an uncompressed OCI layer.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Annotation that names a tag in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Errors of image generation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Reading or writing a file of the layout failed.
    #[error("image layout {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The spec is not usable.
    #[error("invalid image spec: field {field}: {reason}")]
    InvalidSpec {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An existing `index.json` could not be parsed.
    #[error("existing {path} is not a valid OCI index: {reason}")]
    BadIndex {
        /// Path of the index.json.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A platform string could not be parsed.
    #[error("invalid platform {value:?}: expected os/architecture[/variant]")]
    InvalidPlatform {
        /// The text given.
        value: String,
    },
}

/// An OCI platform: os, architecture and optional variant (`linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// Architecture in GOARCH spelling, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Optional variant, e.g. `v8`.
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64", None)
    }

    /// `linux/arm64/v8`.
    pub fn linux_arm64_v8() -> Self {
        Platform::new("linux", "arm64", Some("v8"))
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "architecture": self.architecture, "os": self.os });
        if let (Some(variant), Some(map)) = (&self.variant, v.as_object_mut()) {
            map.insert("variant".into(), Value::String(variant.clone()));
        }
        v
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || ImageError::InvalidPlatform {
            value: s.to_string(),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }
}

/// One layer to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    /// Size in bytes of the file inside the layer's tar (the tar adds headers and padding).
    pub size: usize,
    /// Gzip-compress the layer (`tar+gzip`), otherwise store it as plain `tar`.
    pub gzip: bool,
    /// Zstd-compress the layer (`tar+zstd`) instead (wins over `gzip`).
    pub zstd: bool,
    /// Fill the file with compressible text-like content instead of random bytes.
    pub compressible: bool,
}

impl LayerSpec {
    /// A gzip layer of `size` random bytes.
    pub fn gzip(size: usize) -> Self {
        LayerSpec {
            size,
            gzip: true,
            zstd: false,
            compressible: false,
        }
    }

    /// A zstd layer of `size` random bytes.
    pub fn zstd(size: usize) -> Self {
        LayerSpec {
            size,
            gzip: false,
            zstd: true,
            compressible: false,
        }
    }

    /// An uncompressed layer of `size` random bytes.
    pub fn plain(size: usize) -> Self {
        LayerSpec {
            size,
            gzip: false,
            zstd: false,
            compressible: false,
        }
    }
}

/// What image to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The layers of each platform's image, bottom first.
    pub layers: Vec<LayerSpec>,
    /// One platform: a single manifest; several: an index with one manifest per platform.
    pub platforms: Vec<Platform>,
    /// The tag recorded in the layout's `index.json`.
    pub tag: String,
    /// Seed of the content; the same spec always yields the same digests.
    pub seed: u64,
}

impl ImageSpec {
    /// A single-platform (linux/amd64) image of `layers` gzip layers of `layer_size` random bytes.
    pub fn simple(tag: &str, layers: usize, layer_size: usize, seed: u64) -> Self {
        ImageSpec {
            layers: vec![LayerSpec::gzip(layer_size); layers],
            platforms: vec![Platform::linux_amd64()],
            tag: tag.to_string(),
            seed,
        }
    }

    /// A multi-arch image (index of linux/amd64 and linux/arm64/v8).
    pub fn multi_arch(tag: &str, layers: usize, layer_size: usize, seed: u64) -> Self {
        ImageSpec {
            platforms: vec![Platform::linux_amd64(), Platform::linux_arm64_v8()],
            ..ImageSpec::simple(tag, layers, layer_size, seed)
        }
    }
}

/// A blob written to the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedLayer {
    /// `sha256:<hex>` of the blob as stored (compressed when gzip).
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar (the config's diff_id).
    pub diff_id: String,
    /// Size in bytes of the blob as stored.
    pub size: u64,
    /// Media type recorded in the manifest.
    pub media_type: String,
}

/// One platform's manifest of a generated image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedManifest {
    /// The platform of this manifest.
    pub platform: Platform,
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// Size of the manifest JSON in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the config blob.
    pub config_digest: String,
    /// Size of the config blob in bytes.
    pub config_size: u64,
    /// The layers, bottom first.
    pub layers: Vec<GeneratedLayer>,
    /// Sum of the sizes of config and layers (what a pull of this platform downloads besides the manifest).
    pub total_size: u64,
}

/// The result of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// The layout directory.
    pub dir: PathBuf,
    /// The tag in the layout.
    pub tag: String,
    /// `sha256:<hex>` of the index when several platforms were generated.
    pub index_digest: Option<String>,
    /// Size in bytes of the index when there is one.
    pub index_size: Option<u64>,
    /// One entry per platform, in the order of the spec.
    pub manifests: Vec<GeneratedManifest>,
}

impl GeneratedImage {
    /// The digest the tag resolves to: the index when there is one, otherwise the manifest.
    pub fn top_digest(&self) -> &str {
        match (&self.index_digest, self.manifests.first()) {
            (Some(d), _) => d,
            (None, Some(m)) => &m.digest,
            (None, None) => "",
        }
    }

    /// The manifest generated for `platform`.
    pub fn manifest_for(&self, platform: &Platform) -> Option<&GeneratedManifest> {
        self.manifests.iter().find(|m| &m.platform == platform)
    }

    /// Total bytes of all blobs (config and layers of all platforms).
    pub fn total_size(&self) -> u64 {
        self.manifests.iter().map(|m| m.total_size).sum()
    }

    /// The digests as JSON (used by `pullsim-testreg gen-image`).
    pub fn to_json(&self) -> Value {
        let manifests: Vec<Value> = self
            .manifests
            .iter()
            .map(|m| {
                json!({
                    "platform": m.platform.to_string(),
                    "digest": m.digest,
                    "size": m.size,
                    "config_digest": m.config_digest,
                    "config_size": m.config_size,
                    "total_size": m.total_size,
                    "layers": m.layers.iter().map(|l| json!({
                        "digest": l.digest,
                        "diff_id": l.diff_id,
                        "size": l.size,
                        "media_type": l.media_type,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "dir": self.dir.display().to_string(),
            "tag": self.tag,
            "digest": self.top_digest(),
            "index_digest": self.index_digest,
            "total_size": self.total_size(),
            "manifests": manifests,
        })
    }
}

/// How [`generate_with`] breaks the config's `rootfs.diff_ids` (the layers stay intact): an
/// image a registry serves and a fetch accepts, but that a runtime's unpack refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tamper {
    /// Replace the diff ID of this layer (index, bottom first) with the digest of other bytes.
    pub wrong_diff_id: Option<usize>,
    /// Leave the last diff ID out (one fewer diff ID than layers).
    pub drop_last_diff_id: bool,
}

impl Tamper {
    /// The diff ID of layer `i` is wrong.
    pub fn wrong_diff_id(i: usize) -> Self {
        Tamper {
            wrong_diff_id: Some(i),
            ..Tamper::default()
        }
    }

    /// The config lists one diff ID fewer than the manifest has layers.
    pub fn drop_last_diff_id() -> Self {
        Tamper {
            drop_last_diff_id: true,
            ..Tamper::default()
        }
    }

    /// The config's diff IDs for `layers`, broken as asked.
    fn diff_ids(&self, layers: &[GeneratedLayer]) -> Vec<String> {
        let mut ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        if let Some(id) = self.wrong_diff_id.and_then(|i| ids.get_mut(i)) {
            *id = sha256_digest(format!("not the layer behind {id}").as_bytes());
        }
        if self.drop_last_diff_id {
            ids.pop();
        }
        ids
    }
}

/// Writes the image described by `spec` as an OCI layout into `dir` (created if missing).
pub fn generate(dir: &Path, spec: &ImageSpec) -> Result<GeneratedImage, ImageError> {
    generate_with(dir, spec, &Tamper::default())
}

/// [`generate`], with the config's diff IDs broken as `tamper` says. The returned layers keep
/// their true diff IDs.
pub fn generate_with(
    dir: &Path,
    spec: &ImageSpec,
    tamper: &Tamper,
) -> Result<GeneratedImage, ImageError> {
    validate(spec)?;
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(|e| io_err(&blobs, e))?;
    write_file(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let mut manifests = Vec::with_capacity(spec.platforms.len());
    for (pi, platform) in spec.platforms.iter().enumerate() {
        let mut rng = SplitMix64(spec.seed ^ (pi as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (li, layer) in spec.layers.iter().enumerate() {
            layers.push(write_layer(&blobs, li, layer, &mut rng)?);
        }
        let history: Vec<Value> = (0..layers.len())
            .map(|i| json!({"created": "1970-01-01T00:00:00Z", "created_by": format!("pullsim-testsupport layer {i}")}))
            .collect();
        let mut config = platform.to_json();
        if let Some(map) = config.as_object_mut() {
            map.insert("created".into(), json!("1970-01-01T00:00:00Z"));
            map.insert(
                "config".into(),
                json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]}),
            );
            map.insert(
                "rootfs".into(),
                json!({"type": "layers", "diff_ids": tamper.diff_ids(&layers)}),
            );
            map.insert("history".into(), Value::Array(history));
        }
        let config_bytes = to_json_bytes(&config);
        let config_digest = write_blob(&blobs, &config_bytes)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": config_digest, "size": config_bytes.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size})).collect::<Vec<_>>(),
        });
        let manifest_bytes = to_json_bytes(&manifest);
        let digest = write_blob(&blobs, &manifest_bytes)?;
        let total_size = config_bytes.len() as u64 + layers.iter().map(|l| l.size).sum::<u64>();
        manifests.push(GeneratedManifest {
            platform: platform.clone(),
            digest,
            size: manifest_bytes.len() as u64,
            config_digest,
            config_size: config_bytes.len() as u64,
            layers,
            total_size,
        });
    }

    let (top, index_digest, index_size) = if manifests.len() == 1 {
        let m = &manifests[0];
        (
            json!({"mediaType": MEDIA_TYPE_MANIFEST, "digest": m.digest, "size": m.size}),
            None,
            None,
        )
    } else {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_INDEX,
            "manifests": manifests.iter().map(|m| json!({
                "mediaType": MEDIA_TYPE_MANIFEST, "digest": m.digest, "size": m.size, "platform": m.platform.to_json(),
            })).collect::<Vec<_>>(),
        });
        let bytes = to_json_bytes(&index);
        let digest = write_blob(&blobs, &bytes)?;
        let size = bytes.len() as u64;
        (
            json!({"mediaType": MEDIA_TYPE_INDEX, "digest": digest, "size": size}),
            Some(digest),
            Some(size),
        )
    };
    add_to_layout_index(dir, &spec.tag, top)?;
    Ok(GeneratedImage {
        dir: dir.to_path_buf(),
        tag: spec.tag.clone(),
        index_digest,
        index_size,
        manifests,
    })
}

fn validate(spec: &ImageSpec) -> Result<(), ImageError> {
    if spec.platforms.is_empty() {
        return Err(ImageError::InvalidSpec {
            field: "platforms",
            reason: "at least one platform is needed".into(),
        });
    }
    for (i, p) in spec.platforms.iter().enumerate() {
        if spec.platforms[..i].contains(p) {
            return Err(ImageError::InvalidSpec {
                field: "platforms",
                reason: format!("{p} is listed twice"),
            });
        }
    }
    let tag_ok = !spec.tag.is_empty()
        && spec.tag.len() <= 128
        && spec
            .tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !spec.tag.starts_with(['.', '-']);
    if !tag_ok {
        return Err(ImageError::InvalidSpec {
            field: "tag",
            reason: format!(
                "{:?} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})",
                spec.tag
            ),
        });
    }
    Ok(())
}

fn add_to_layout_index(dir: &Path, tag: &str, mut descriptor: Value) -> Result<(), ImageError> {
    let path = dir.join("index.json");
    let mut index = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|e| ImageError::BadIndex {
            path: path.clone(),
            reason: e.to_string(),
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            json!({"schemaVersion": 2, "manifests": []})
        }
        Err(e) => return Err(io_err(&path, e)),
    };
    if let Some(map) = descriptor.as_object_mut() {
        map.insert("annotations".into(), json!({ ANNOTATION_REF_NAME: tag }));
    }
    let list = index
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ImageError::BadIndex {
            path: path.clone(),
            reason: "no \"manifests\" array".into(),
        })?;
    list.retain(|d| {
        d.pointer("/annotations/org.opencontainers.image.ref.name")
            .and_then(Value::as_str)
            != Some(tag)
    });
    list.push(descriptor);
    write_file(&path, &to_json_bytes(&index))
}

fn write_layer(
    blobs: &Path,
    index: usize,
    spec: &LayerSpec,
    rng: &mut SplitMix64,
) -> Result<GeneratedLayer, ImageError> {
    let tmp_path = blobs.join(format!(".tmp-{}-{}", std::process::id(), rng.next()));
    let file = File::create(&tmp_path).map_err(|e| io_err(&tmp_path, e))?;
    let stored = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let content_seed = rng.next();
    let data = ContentReader::new(spec.size, spec.compressible, content_seed);
    let name = format!("layer-{index}.bin");
    let result = if spec.zstd {
        // Level 1: random bytes stay as raw blocks, text compresses several times; fast.
        let enc = zstd::stream::write::Encoder::new(stored, 1).map_err(|e| io_err(&tmp_path, e))?;
        let (enc, diff_id, _) = write_tar(HashingWriter::new(enc), &name, spec.size, data)?;
        let stored = enc.finish().map_err(|e| io_err(&tmp_path, e))?;
        finish_blob(stored, &tmp_path, blobs).map(|(digest, size)| (digest, size, diff_id))
    } else if spec.gzip {
        // Random bytes do not compress: deflate at any level falls back to stored blocks, so
        // level 0 gives the same kind of stream, fast. Compressible content uses level 1
        // (about 4x on this text; generation stays quick even in debug builds).
        let level = if spec.compressible {
            Compression::fast()
        } else {
            Compression::none()
        };
        let gz = GzEncoder::new(stored, level);
        let (gz, diff_id, _) = write_tar(HashingWriter::new(gz), &name, spec.size, data)?;
        let stored = gz.finish().map_err(|e| io_err(&tmp_path, e))?;
        finish_blob(stored, &tmp_path, blobs).map(|(digest, size)| (digest, size, diff_id))
    } else {
        let (buf, diff_id, size) = write_tar(stored, &name, spec.size, data)?;
        persist(buf, &tmp_path, blobs, &diff_id).map(|()| (diff_id.clone(), size, diff_id))
    };
    match result {
        Ok((digest, size, diff_id)) => Ok(GeneratedLayer {
            digest,
            diff_id,
            size,
            media_type: if spec.zstd {
                MEDIA_TYPE_LAYER_ZSTD
            } else if spec.gzip {
                MEDIA_TYPE_LAYER_GZIP
            } else {
                MEDIA_TYPE_LAYER_TAR
            }
            .to_string(),
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            Err(e)
        }
    }
}

/// Writes a tar with one file to `w` (a hashing writer); returns the inner writer and the tar's digest.
fn write_tar<W: Write>(
    w: HashingWriter<W>,
    name: &str,
    size: usize,
    data: ContentReader,
) -> Result<(W, String, u64), ImageError> {
    let io = |e: io::Error| ImageError::Io {
        path: PathBuf::from(name),
        source: e,
    };
    let mut builder = tar::Builder::new(w);
    let mut header = tar::Header::new_ustar();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, data).map_err(io)?;
    let w = builder.into_inner().map_err(io)?;
    Ok(w.finish_counted())
}

fn finish_blob(
    w: HashingWriter<BufWriter<File>>,
    tmp: &Path,
    blobs: &Path,
) -> Result<(String, u64), ImageError> {
    let (buf, digest, size) = w.finish_counted();
    persist(buf, tmp, blobs, &digest)?;
    Ok((digest, size))
}

fn persist(buf: BufWriter<File>, tmp: &Path, blobs: &Path, digest: &str) -> Result<(), ImageError> {
    let file = buf.into_inner().map_err(|e| io_err(tmp, e.into_error()))?;
    drop(file);
    let dest = blobs.join(digest.trim_start_matches("sha256:"));
    fs::rename(tmp, &dest).map_err(|e| io_err(&dest, e))
}

fn write_blob(blobs: &Path, bytes: &[u8]) -> Result<String, ImageError> {
    let digest = sha256_digest(bytes);
    write_file(&blobs.join(digest.trim_start_matches("sha256:")), bytes)?;
    Ok(digest)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    fs::write(path, bytes).map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, source: io::Error) -> ImageError {
    ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn to_json_bytes(v: &Value) -> Vec<u8> {
    // Serializing a Value cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
