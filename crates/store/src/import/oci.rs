//! Loading an OCI image layout (directory or tar).

use std::collections::BTreeMap;

use pullsim_reference::Digest;
use serde::Deserialize;

use super::source::Source;
use super::{Ingested, named, parse_digest, parse_ref};
use crate::layout::{ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::{ImageRecord, LoadOptions, Origin, Store, StoreError, media};

/// Largest manifest, index or config read into memory.
const SMALL_LIMIT: u64 = 8 << 20;

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize, Clone)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn text(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Deserialize)]
struct IndexDoc {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ConfigDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

fn invalid(what: &str, path: String, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        what: what.into(),
        path,
        message: e.to_string(),
    }
}

/// What walking one top-level descriptor found.
struct Tree {
    blobs: Vec<Digest>,
    size: u64,
    config: Digest,
    platform: Option<String>,
}

fn blob_rel(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_str(), d.encoded())
}

/// The platform a multi-platform image resolves to on this machine.
fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    ("linux", arch)
}

fn walk(
    store: &Store,
    src: &Source,
    desc: &Descriptor,
    declared_in: &str,
    ingested: &mut Ingested,
    depth: u32,
) -> Result<Tree, StoreError> {
    let digest = parse_digest(&desc.digest, declared_in)?;
    let rel = blob_rel(&digest);
    let file = src.describe(&rel);
    if media::is_manifest(&desc.media_type) {
        store.ingest_from(src, &rel, &digest, desc.size, declared_in, ingested)?;
        let bytes = store.read_blob(&digest)?;
        let m: ManifestDoc = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("image manifest", file.clone(), e))?;
        if !media::is_config(&m.config.media_type) {
            return Err(StoreError::UnknownMediaType {
                media_type: m.config.media_type.clone(),
                digest: m.config.digest.clone(),
                path: file,
            });
        }
        let config = parse_digest(&m.config.digest, &file)?;
        let mut blobs = vec![digest.clone()];
        let mut size = desc.size;
        store.ingest_from(
            src,
            &blob_rel(&config),
            &config,
            m.config.size,
            &file,
            ingested,
        )?;
        blobs.push(config.clone());
        size += m.config.size;
        for l in &m.layers {
            if !media::is_layer(&l.media_type) {
                return Err(StoreError::UnknownMediaType {
                    media_type: l.media_type.clone(),
                    digest: l.digest.clone(),
                    path: file,
                });
            }
            let ld = parse_digest(&l.digest, &file)?;
            store.ingest_from(src, &blob_rel(&ld), &ld, l.size, &file, ingested)?;
            if !blobs.contains(&ld) {
                blobs.push(ld);
                size += l.size;
            }
        }
        let platform = match &desc.platform {
            Some(p) if !p.os.is_empty() => Some(p.text()),
            _ => {
                let cfg = store.read_blob(&config)?;
                serde_json::from_slice::<ConfigDoc>(&cfg)
                    .ok()
                    .filter(|c| !c.os.is_empty())
                    .map(|c| {
                        Platform {
                            os: c.os,
                            architecture: c.architecture,
                            variant: c.variant,
                        }
                        .text()
                    })
            }
        };
        Ok(Tree {
            blobs,
            size,
            config,
            platform,
        })
    } else if media::is_index(&desc.media_type) {
        if depth > 4 {
            return Err(invalid(
                "image index",
                file,
                "nested more than 4 levels deep",
            ));
        }
        store.ingest_from(src, &rel, &digest, desc.size, declared_in, ingested)?;
        let bytes = store.read_blob(&digest)?;
        let idx: IndexDoc =
            serde_json::from_slice(&bytes).map_err(|e| invalid("image index", file.clone(), e))?;
        let mut blobs = vec![digest.clone()];
        let mut size = desc.size;
        let mut chosen: Option<(bool, Digest, Option<String>)> = None;
        let (os, arch) = host_platform();
        for child in &idx.manifests {
            let t = walk(store, src, child, &file, ingested, depth + 1)?;
            for b in t.blobs {
                if !blobs.contains(&b) {
                    blobs.push(b);
                }
            }
            size += t.size;
            let is_host = child
                .platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == arch);
            if chosen.as_ref().is_none_or(|c| !c.0 && is_host) {
                chosen = Some((is_host, t.config, t.platform));
            }
        }
        let Some((_, config, platform)) = chosen else {
            return Err(invalid("image index", file, "lists no manifests"));
        };
        Ok(Tree {
            blobs,
            size,
            config,
            platform,
        })
    } else {
        Err(StoreError::UnknownMediaType {
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
            path: declared_in.to_string(),
        })
    }
}

/// The name an index.json entry is recorded under.
fn entry_name(
    desc: &Descriptor,
    i: usize,
    src: &Source,
    opts: &LoadOptions,
) -> Result<(pullsim_reference::Reference, String), StoreError> {
    let where_ = format!("{} manifests[{i}]", src.describe("index.json"));
    if let Some(full) = desc.annotations.get(ANNOTATION_CONTAINERD_NAME) {
        return Ok((parse_ref(full, &where_)?, full.clone()));
    }
    let ref_name = desc.annotations.get(ANNOTATION_REF_NAME);
    match (ref_name, &opts.name) {
        (Some(r), _) if r.contains('/') || r.contains('@') => {
            Ok((parse_ref(r, &where_)?, r.clone()))
        }
        (Some(tag), Some(repo)) => {
            let text = format!("{repo}:{tag}");
            Ok((parse_ref(&text, &where_)?, text))
        }
        (None, Some(repo)) => {
            let text = format!("{repo}@{}", desc.digest);
            Ok((parse_ref(&text, &where_)?, text))
        }
        (Some(tag), None) => Err(invalid(
            "index.json entry",
            where_,
            format!(
                "{ANNOTATION_REF_NAME} is {tag:?}, a tag without a repository: pass --name REPOSITORY"
            ),
        )),
        (None, None) => Err(invalid(
            "index.json entry",
            where_,
            format!(
                "{} has no {ANNOTATION_REF_NAME} annotation: pass --name REPOSITORY",
                desc.digest
            ),
        )),
    }
}

pub(super) fn load(
    store: &Store,
    src: &Source,
    opts: &LoadOptions,
    now: u64,
    ingested: &mut Ingested,
) -> Result<Vec<ImageRecord>, StoreError> {
    if src.exists("oci-layout") {
        let bytes = src.read_small("oci-layout", 4096)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("oci-layout", src.describe("oci-layout"), e))?;
        if v.get("imageLayoutVersion")
            .and_then(|v| v.as_str())
            .is_none()
        {
            return Err(invalid(
                "oci-layout",
                src.describe("oci-layout"),
                "no imageLayoutVersion",
            ));
        }
    }
    let index_file = src.describe("index.json");
    let bytes = src.read_small("index.json", SMALL_LIMIT)?;
    let index: IndexDoc =
        serde_json::from_slice(&bytes).map_err(|e| invalid("index.json", index_file.clone(), e))?;
    if index.manifests.is_empty() {
        return Err(invalid("index.json", index_file, "lists no images"));
    }
    let mut recs = Vec::new();
    for (i, desc) in index.manifests.iter().enumerate() {
        let (reference, written) = entry_name(desc, i, src, opts)?;
        let tree = walk(store, src, desc, &index_file, ingested, 0)?;
        let digest = parse_digest(&desc.digest, &index_file)?;
        let rec = ImageRecord {
            name: String::new(),
            tag: None,
            digest: None,
            written_as: String::new(),
            manifest_digest: digest,
            media_type: desc.media_type.clone(),
            config_digest: tree.config,
            platform: tree.platform,
            size: tree.size,
            blobs: tree.blobs,
            first_seen_ms: now,
            last_used_ms: now,
            pinned: false,
            labels: BTreeMap::new(),
            origin: Origin::Preloaded,
        };
        let rec = named(rec, &reference, &written);
        if let Some(d) = &rec.digest
            && *d != rec.manifest_digest
        {
            return Err(StoreError::DigestMismatch {
                what: format!("{index_file} manifests[{i}] name {written}"),
                expected: d.to_string(),
                actual: rec.manifest_digest.to_string(),
            });
        }
        recs.push(rec);
    }
    Ok(recs)
}
