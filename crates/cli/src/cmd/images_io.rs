//! `pullsim images verify|du|load|save`.

use std::path::Path;
use std::process::ExitCode;

use pullsim_reference::Reference;
use pullsim_store::{ImageRecord, LoadOptions, Store};
use serde_json::json;

use super::images_fmt::{human_size, short_id};
use crate::flags::Format;
use crate::output::{self, Kind, outln};

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
        Format::Json => output::json(
            Kind::Verify,
            &json!({
                "blobs_checked": report.blobs_checked,
                "bytes_checked": report.bytes_checked,
                "images_checked": report.images_checked,
                "unreferenced_blobs": report.unreferenced_blobs,
                "stale_ingests": report.stale_ingests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "index_json_stale": report.index_json_stale,
                "problems": report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "repaired": report.repaired,
                "clean": report.is_clean(),
            }),
        )?,
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
    Ok(crate::exit::answer(report.is_clean()))
}

pub(crate) fn du(store: &Store, format: Format) -> anyhow::Result<ExitCode> {
    let du = store.disk_usage()?;
    match format {
        Format::Json => output::json(
            Kind::DiskUsage,
            &json!({
                "root": store.root().display().to_string(),
                "images": du.images,
                "blobs": du.blobs,
                "blob_bytes": du.blob_bytes,
                "referenced_blobs": du.referenced,
                "referenced_bytes": du.referenced_bytes,
                "unreferenced_blobs": du.blobs - du.referenced,
                "unreferenced_bytes": du.blob_bytes - du.referenced_bytes,
                "ingest_bytes": du.ingest_bytes,
            }),
        )?,
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
            Format::Json => output::json(
                Kind::Loaded,
                &json!({
                    "loaded": l.key,
                    "id": l.config_digest.to_string(),
                    "manifest_digest": l.manifest_digest.to_string(),
                    "size": l.size,
                }),
            )?,
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
        Format::Json => output::json(
            Kind::Saved,
            &json!({
                "saved": recs.iter().map(ImageRecord::key).collect::<Vec<_>>(),
                "file": out.display().to_string(),
                "blob_bytes": bytes,
            }),
        )?,
        Format::Text => outln!(
            "Saved {} images ({}) to {}",
            recs.len(),
            human_size(bytes),
            out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
