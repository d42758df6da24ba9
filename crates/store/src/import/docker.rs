//! Loading a docker-archive (`docker save`, `skopeo copy ... docker-archive:`): manifest.json
//! with Config, RepoTags and Layers. Config and layers become blobs; the image gets a Docker
//! schema 2 manifest built from their digests.

use std::collections::BTreeMap;
use std::io::Read;

use pullsim_reference::Digest;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::source::Source;
use super::{Capped, Ingested, gzip_bomb, gzip_limit, named, parse_ref};
use crate::walk::SMALL_LIMIT;
use crate::{ImageRecord, LoadOptions, Origin, Store, StoreError, media};

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    rootfs: RootFs,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

fn invalid(what: &str, path: String, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        what: what.into(),
        path,
        message: e.to_string(),
    }
}

/// The content digest a file name claims (`<hex>.json`, `<hex>.tar`, `blobs/sha256/<hex>`).
fn claimed_digest(rel: &str) -> Option<String> {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    let stem = base
        .strip_suffix(".json")
        .or_else(|| base.strip_suffix(".tar"))
        .unwrap_or(base);
    let is_blob_path = rel.starts_with("blobs/sha256/");
    let named_by_digest = base.ends_with(".json") || is_blob_path;
    (named_by_digest && stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{stem}"))
}

/// sha256 of the decompressed bytes of a gzip layer (its diff ID).
fn gunzip_digest(src: &Source, rel: &str) -> Result<String, StoreError> {
    let (r, compressed) = src.reader(rel)?;
    let mut gz = Capped {
        inner: flate2::read::GzDecoder::new(r),
        limit: gzip_limit(compressed),
        seen: 0,
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = gz.read(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::FileTooLarge {
                gzip_bomb("gzip layer", src.describe(rel), compressed)
            } else {
                invalid("gzip layer", src.describe(rel), e)
            }
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn is_gzip(src: &Source, rel: &str) -> Result<bool, StoreError> {
    let (mut r, size) = src.reader(rel)?;
    if size < 2 {
        return Ok(false);
    }
    let mut magic = [0u8; 2];
    r.read_exact(&mut magic)
        .map_err(|e| StoreError::io("read", src.describe(rel), e))?;
    Ok(magic == [0x1f, 0x8b])
}

pub(super) fn load(
    store: &Store,
    src: &Source,
    opts: &LoadOptions,
    now: u64,
    ingested: &mut Ingested,
) -> Result<Vec<ImageRecord>, StoreError> {
    let mf = src.describe("manifest.json");
    let bytes = src.read_small("manifest.json", SMALL_LIMIT)?;
    let entries: Vec<Entry> =
        serde_json::from_slice(&bytes).map_err(|e| invalid("manifest.json", mf.clone(), e))?;
    if entries.is_empty() {
        return Err(invalid("manifest.json", mf, "lists no images"));
    }
    let mut recs = Vec::new();
    for (i, ent) in entries.iter().enumerate() {
        let at = format!("{mf}[{i}]");
        // Config: stored under the digest of its content, which must match its file name.
        let cfg_file = src.describe(&ent.config);
        if !src.exists(&ent.config)? {
            return Err(StoreError::BlobNotFound {
                digest: claimed_digest(&ent.config).unwrap_or_else(|| ent.config.clone()),
                context: format!(" (config of {at}; expected at {cfg_file})"),
            });
        }
        let declared = src.size(&ent.config)?;
        if declared > SMALL_LIMIT {
            return Err(StoreError::TooLarge {
                what: "image config".into(),
                path: cfg_file,
                limit: SMALL_LIMIT,
                detail: format!("it has {declared} bytes"),
            });
        }
        let (config, config_size) = store.ingest_unknown_from(src, &ent.config, ingested)?;
        if let Some(claimed) = claimed_digest(&ent.config)
            && claimed != config.to_string()
        {
            return Err(StoreError::DigestMismatch {
                what: cfg_file,
                expected: claimed,
                actual: config.to_string(),
            });
        }
        let cfg_bytes = store.read_blob(&config)?;
        let cfg: ConfigDoc = serde_json::from_slice(&cfg_bytes)
            .map_err(|e| invalid("image config", cfg_file.clone(), e))?;
        if cfg.rootfs.diff_ids.len() != ent.layers.len() {
            return Err(invalid(
                "docker-archive image",
                at,
                format!(
                    "{} layers listed but the config {cfg_file} has {} diff_ids",
                    ent.layers.len(),
                    cfg.rootfs.diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (li, rel) in ent.layers.iter().enumerate() {
            let file = src.describe(rel);
            let expected_diff = &cfg.rootfs.diff_ids[li];
            if !src.exists(rel)? {
                return Err(StoreError::BlobNotFound {
                    digest: expected_diff.clone(),
                    context: format!(" (layer {li} of {at}; expected at {file})"),
                });
            }
            let gz = is_gzip(src, rel)?;
            let (d, size) = store.ingest_unknown_from(src, rel, ingested)?;
            if let Some(claimed) = claimed_digest(rel)
                && claimed != d.to_string()
            {
                return Err(StoreError::DigestMismatch {
                    what: file,
                    expected: claimed,
                    actual: d.to_string(),
                });
            }
            let diff = if gz {
                gunzip_digest(src, rel)?
            } else {
                d.to_string()
            };
            if &diff != expected_diff {
                return Err(StoreError::DigestMismatch {
                    what: format!("layer {file} (diff ID listed in {cfg_file})"),
                    expected: expected_diff.clone(),
                    actual: diff,
                });
            }
            let mt = if gz {
                media::DOCKER_LAYER_GZIP
            } else {
                media::DOCKER_LAYER_TAR
            };
            layers.push((d, size, mt));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::DOCKER_MANIFEST,
            "config": {
                "mediaType": media::DOCKER_CONFIG,
                "size": config_size,
                "digest": config.to_string(),
            },
            "layers": layers.iter().map(|(d, s, mt)| json!({
                "mediaType": mt, "size": s, "digest": d.to_string(),
            })).collect::<Vec<_>>(),
        });
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| invalid("generated manifest", at.clone(), e))?;
        let manifest_digest =
            Digest::from_sha256_hex(&hex::encode(Sha256::digest(&manifest_bytes)))
                .map_err(|e| invalid("generated manifest", at.clone(), e))?;
        let outcome = store.put_blob_in(&ingested.lease, &manifest_digest, &manifest_bytes)?;
        ingested.note(&manifest_digest, outcome);

        let mut blobs = vec![manifest_digest.clone(), config.clone()];
        let mut size = manifest_bytes.len() as u64 + config_size;
        for (d, s, _) in &layers {
            if !blobs.contains(d) {
                blobs.push(d.clone());
                size += s;
            }
        }
        let platform = (!cfg.os.is_empty()).then(|| match &cfg.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", cfg.os, cfg.architecture),
            _ => format!("{}/{}", cfg.os, cfg.architecture),
        });
        let base = ImageRecord {
            name: String::new(),
            tag: None,
            digest: None,
            written_as: String::new(),
            manifest_digest: manifest_digest.clone(),
            media_type: media::DOCKER_MANIFEST.to_string(),
            config_digest: config.clone(),
            platform,
            size,
            blobs,
            first_seen_ms: now,
            last_used_ms: now,
            pinned: false,
            labels: BTreeMap::new(),
            origin: Origin::Preloaded,
        };
        let tags = ent.repo_tags.clone().unwrap_or_default();
        if tags.is_empty() {
            let Some(repo) = &opts.name else {
                return Err(invalid(
                    "docker-archive image",
                    at,
                    "has no RepoTags: pass --name REPOSITORY",
                ));
            };
            let text = format!("{repo}@{manifest_digest}");
            let r = parse_ref(&text, &at)?;
            recs.push(named(base, &r, &text));
        } else {
            for t in tags {
                let r = parse_ref(&t, &at)?;
                recs.push(named(base.clone(), &r, &t));
            }
        }
    }
    Ok(recs)
}
