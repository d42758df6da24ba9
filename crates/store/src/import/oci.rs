//! Loading an OCI image layout (directory or tar).

use std::collections::BTreeMap;

use pullsim_reference::Digest;

use super::source::Source;
use super::{Ingested, named, parse_ref};
use crate::layout::{ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::walk::{Descriptor, IndexDoc, SMALL_LIMIT, Walker, invalid, parse_digest};
use crate::{ImageRecord, LoadOptions, Origin, Store, StoreError};

fn blob_rel(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_str(), d.encoded())
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
    if src.exists("oci-layout")? {
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
    let mut names = Vec::with_capacity(index.manifests.len());
    for (i, desc) in index.manifests.iter().enumerate() {
        names.push(entry_name(desc, i, src, opts)?);
    }
    let mut fetch = |d: &Digest, size: u64, declared_in: &str| {
        store.ingest_from(src, &blob_rel(d), d, size, declared_in, ingested)
    };
    let describe = |d: &Digest| src.describe(&blob_rel(d));
    let mut walker = Walker::new(store, &mut fetch, &describe);
    let mut recs = Vec::new();
    for (i, (desc, (reference, written))) in index.manifests.iter().zip(names).enumerate() {
        let tree = walker.walk(desc, &index_file)?;
        let digest = parse_digest(&desc.digest, &index_file)?;
        let rec = ImageRecord {
            name: String::new(),
            tag: None,
            digest: None,
            written_as: String::new(),
            manifest_digest: digest,
            media_type: desc.media_type.clone(),
            config_digest: tree.config.clone(),
            platform: tree.platform.clone(),
            size: tree.size(),
            blobs: tree.digests(),
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
