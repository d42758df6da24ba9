//! `pullsim images verify|du|load|save`.

use std::path::Path;
use std::process::ExitCode;

use pullsim_reference::Reference;
use pullsim_store::{ImageRecord, LoadOptions, Store};
use serde_json::json;

use super::images_fmt::{emit_json, human_size, outln, short_id};
use crate::output::Format;

fn familiar(key: &str) -> String {
    Reference::parse_normalized(key)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| key.to_string())
}

/// "1 blob", "2 blobs", "0 blobs".
fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(crate) fn verify(store: &Store, repair: bool, format: Format) -> anyhow::Result<ExitCode> {
    let report = store.verify(repair)?;
    match format {
        Format::Json => emit_json(&json!({
            "blobsChecked": report.blobs_checked,
            "bytesChecked": report.bytes_checked,
            "imagesChecked": report.images_checked,
            "unreferencedBlobs": report.unreferenced_blobs,
            "staleIngests": report.stale_ingests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "indexJsonStale": report.index_json_stale,
            "problems": report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "repaired": report.repaired,
            "clean": report.is_clean(),
        }))?,
        Format::Text => {
            for r in &report.repaired {
                outln!("repaired: {r}");
            }
            for p in &report.problems {
                outln!("problem: {p}");
            }
            if let Some(d) = &report.index_json_stale {
                outln!("note: index.json is stale ({d}); the next write or --repair rewrites it");
            }
            for i in &report.stale_ingests {
                outln!(
                    "stale ingest: {} (resumable; --repair deletes it)",
                    i.display()
                );
            }
            outln!(
                "verified {} ({}) and {}: {}, {}, {}",
                plural(report.blobs_checked, "blob"),
                human_size(report.bytes_checked),
                plural(report.images_checked, "image"),
                plural(report.problems.len() as u64, "problem"),
                plural(report.unreferenced_blobs, "unreferenced blob"),
                plural(report.stale_ingests.len() as u64, "stale ingest")
            );
        }
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn du(store: &Store, format: Format) -> anyhow::Result<ExitCode> {
    let du = store.disk_usage()?;
    match format {
        Format::Json => emit_json(&json!({
            "root": store.root().display().to_string(),
            "images": du.images,
            "blobs": du.blobs,
            "blobBytes": du.blob_bytes,
            "referencedBlobs": du.referenced,
            "referencedBytes": du.referenced_bytes,
            "unreferencedBlobs": du.blobs - du.referenced,
            "unreferencedBytes": du.blob_bytes - du.referenced_bytes,
            "ingestBytes": du.ingest_bytes,
        }))?,
        Format::Text => {
            outln!("root:          {}", store.root().display());
            outln!("images:        {}", du.images);
            outln!(
                "blobs:         {} ({})",
                du.blobs,
                human_size(du.blob_bytes)
            );
            outln!(
                "referenced:    {} ({})",
                du.referenced,
                human_size(du.referenced_bytes)
            );
            outln!(
                "unreferenced:  {} ({})",
                du.blobs - du.referenced,
                human_size(du.blob_bytes - du.referenced_bytes)
            );
            outln!("ingest:        {}", human_size(du.ingest_bytes));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn load(
    store: &Store,
    input: &Path,
    opts: &LoadOptions,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let loaded = store.load(input, opts)?;
    for l in &loaded {
        match format {
            Format::Json => emit_json(&json!({
                "loaded": l.key,
                "id": l.config_digest.to_string(),
                "manifestDigest": l.manifest_digest.to_string(),
                "size": l.size,
            }))?,
            Format::Text => outln!(
                "Loaded image: {} (ID {}, {})",
                familiar(&l.key),
                short_id(l.config_digest.as_str()),
                human_size(l.size)
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn save(
    store: &Store,
    recs: &[ImageRecord],
    out: &Path,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let bytes = store.save(recs, out)?;
    match format {
        Format::Json => emit_json(&json!({
            "saved": recs.iter().map(ImageRecord::key).collect::<Vec<_>>(),
            "file": out.display().to_string(),
            "blobBytes": bytes,
        }))?,
        Format::Text => outln!(
            "Saved {} images ({}) to {}",
            recs.len(),
            human_size(bytes),
            out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
