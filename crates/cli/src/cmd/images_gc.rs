//! `pullsim images gc`: the kubelet's image GC (selection by `pullsim_policy::plan_gc`,
//! deletion by the store) on a simulated image filesystem of `--capacity` bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pullsim_policy::{GcImage, GcPlan, GcPolicy, plan_gc};
use pullsim_reference::Digest;
use pullsim_store::{GcOutcome, ImageRecord, RemoveOutcome, Store};
use serde_json::json;

use super::images::FormatArgs;
use super::images_fmt::{human_size, parse_bytes, parse_duration, short_id};
use crate::output::{Format, json_line};

/// `pullsim images gc`.
#[derive(Args, Debug)]
pub struct GcArgs {
    /// Size of the simulated image filesystem (e.g. 10G, 512Mi, 1000000).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    capacity: u64,
    /// imageGCHighThresholdPercent: GC runs at or above this usage.
    #[arg(long, default_value_t = 85, value_name = "PERCENT")]
    high: u8,
    /// imageGCLowThresholdPercent: GC frees down to this usage.
    #[arg(long, default_value_t = 80, value_name = "PERCENT")]
    low: u8,
    /// imageMinimumGCAge: images first seen more recently are kept.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    min_age: Duration,
    /// imageMaximumGCAge: images unused for longer are deleted whatever the usage (0 = off).
    #[arg(long, default_value = "0", value_parser = parse_duration, value_name = "DURATION")]
    max_age: Duration,
    /// Images used by running containers (never collected). Repeatable.
    #[arg(long = "in-use", value_name = "IMAGE")]
    in_use: Vec<String>,
    /// Unreferenced blobs younger than this are kept (a pull may be about to record them).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    orphan_grace: Duration,
    /// Only print what would be deleted.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    format: FormatArgs,
}

/// What one GC run planned and did.
#[derive(Debug, Default)]
pub struct GcRun {
    /// Unreferenced blobs deleted before planning.
    pub orphans: GcOutcome,
    /// Bytes of blobs in use when planning.
    pub used: u64,
    /// The policy's plan.
    pub plan: GcPlan,
    /// (image ID, index key) of every name of the planned images, in plan order.
    pub deleted: Vec<(String, String)>,
    /// What the removal deleted.
    pub removed: RemoveOutcome,
}

/// One [`GcImage`] per image ID: sizes of the union of its blobs, first seen = earliest,
/// last used = latest, pinned when any name is pinned, in use when any name is in `in_use`.
pub fn gc_images(
    store: &Store,
    records: &[ImageRecord],
    in_use: &BTreeSet<String>,
) -> anyhow::Result<Vec<GcImage>> {
    let mut by_id: BTreeMap<String, Vec<&ImageRecord>> = BTreeMap::new();
    for r in records {
        by_id.entry(r.id()).or_default().push(r);
    }
    let mut out = Vec::new();
    for (id, recs) in by_id {
        let blobs: BTreeSet<&Digest> = recs.iter().flat_map(|r| r.blobs.iter()).collect();
        let mut size = 0;
        for b in blobs {
            size += store.blob_size(b).unwrap_or(0);
        }
        out.push(GcImage {
            in_use: in_use.contains(&id),
            pinned: recs.iter().any(|r| r.pinned),
            first_detected: Duration::from_millis(
                recs.iter().map(|r| r.first_seen_ms).min().unwrap_or(0),
            ),
            last_used: Duration::from_millis(
                recs.iter().map(|r| r.last_used_ms).max().unwrap_or(0),
            ),
            size,
            id,
        });
    }
    Ok(out)
}

/// Run image GC on `store` at `now_ms`: delete unreferenced blobs older than `orphan_grace`,
/// plan with the policy on `capacity` bytes, then remove the planned images (every name of
/// each image ID) and the blobs nothing else uses.
pub fn collect(
    store: &Store,
    policy: &GcPolicy,
    capacity: u64,
    in_use: &BTreeSet<String>,
    orphan_grace: Duration,
    now_ms: u64,
    dry_run: bool,
) -> anyhow::Result<GcRun> {
    let mut run = GcRun::default();
    if !dry_run {
        run.orphans = store.delete_unreferenced_blobs(orphan_grace)?;
    }
    run.used = store.disk_usage()?.blob_bytes;
    let records = store.list()?;
    let images = gc_images(store, &records, in_use)?;
    run.plan = plan_gc(
        policy,
        capacity,
        run.used,
        &images,
        Duration::from_millis(now_ms),
    )?;
    let mut keys = Vec::new();
    for id in &run.plan.to_delete {
        for r in records.iter().filter(|r| &r.id() == id) {
            keys.push(r.key());
            run.deleted.push((id.clone(), r.key()));
        }
    }
    if !dry_run && !keys.is_empty() {
        run.removed = store.remove_images(&keys)?;
    }
    Ok(run)
}

pub(crate) fn run(store: &Store, a: GcArgs) -> anyhow::Result<ExitCode> {
    let policy = GcPolicy {
        high_threshold_percent: a.high,
        low_threshold_percent: a.low,
        min_age: a.min_age,
        max_age: a.max_age,
    };
    policy.validate()?;
    let mut in_use = BTreeSet::new();
    for i in &a.in_use {
        for r in super::images::resolve(store, i).with_context(|| format!("--in-use {i}"))? {
            in_use.insert(r.id());
        }
    }
    let run = collect(
        store,
        &policy,
        a.capacity,
        &in_use,
        a.orphan_grace,
        pullsim_store::now_ms(),
        a.dry_run,
    )?;
    match a.format.output {
        Format::Json => json_line(&json!({
            "capacity": a.capacity,
            "used": run.used,
            "usagePercent": run.plan.usage_percent,
            "amountToFree": run.plan.amount_to_free,
            "deletedImageIds": run.plan.to_delete,
            "causes": run.plan.causes,
            "deleted": run.deleted.iter().map(|(_, k)| k).collect::<Vec<_>>(),
            "bytesFreed": run.plan.bytes_freed,
            "blobsDeleted": run.removed.blobs_deleted.len() + run.orphans.blobs_deleted.len(),
            "unreferencedBlobsDeleted": run.orphans.blobs_deleted.len(),
            "dryRun": a.dry_run,
            "warning": run.plan.warning,
        }))?,
        Format::Text => {
            if run.orphans.bytes_freed > 0 {
                println!(
                    "Deleted {} unreferenced blobs ({})",
                    run.orphans.blobs_deleted.len(),
                    human_size(run.orphans.bytes_freed)
                );
            }
            println!(
                "image filesystem: {} of {} used ({}%), high threshold {}%, low {}%",
                human_size(run.used),
                human_size(a.capacity),
                run.plan.usage_percent,
                a.high,
                a.low
            );
            let verb = if a.dry_run { "Would delete" } else { "Deleted" };
            for (id, cause) in run.plan.to_delete.iter().zip(&run.plan.causes) {
                let names: Vec<&str> = run
                    .deleted
                    .iter()
                    .filter(|(i, _)| i == id)
                    .map(|(_, k)| k.as_str())
                    .collect();
                println!("{verb}: {} ({cause:?}) {}", short_id(id), names.join(", "));
            }
            println!(
                "{} images, {} eligible to free",
                run.plan.to_delete.len(),
                human_size(run.plan.bytes_freed)
            );
        }
    }
    if let Some(w) = &run.plan.warning {
        eprintln!("Warning  FreeDiskSpaceFailed  {w}");
    }
    Ok(ExitCode::SUCCESS)
}
