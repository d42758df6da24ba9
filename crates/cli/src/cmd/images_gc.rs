//! `pullsim images gc`: the kubelet's image GC manager (`pullsim_node::gc`, the routine `pod run
//! --capacity` runs) over the runtime's images, on a simulated image filesystem of `--capacity`
//! bytes, after the runtime's content GC.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use pullsim_node::gc::{GcReport, GcRequest, collect};
use pullsim_policy::GcPolicy;
use pullsim_runtime::{ContainerdImageService, Image, PruneOutcome};
use pullsim_store::Store;
use serde_json::json;

use super::images_fmt::{human_size, parse_bytes, parse_duration, short_id};
use super::images_list::resolve;
use crate::flags::{Format, OutputArgs, RegistryFlags};
use crate::node::runtime_config;
use crate::output::{self, Kind, outln};

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
    format: OutputArgs,
}

/// Run `pullsim images gc`: the runtime's content GC first (blobs no image uses, older than
/// `--orphan-grace`), then the kubelet's image GC manager — the same routine as `pod run
/// --capacity` ([`pullsim_node::gc::collect`]) — over the runtime's images.
pub(crate) fn run(store: Arc<Store>, a: GcArgs) -> anyhow::Result<ExitCode> {
    let policy = GcPolicy {
        high_threshold_percent: a.high,
        low_threshold_percent: a.low,
        min_age: a.min_age,
        max_age: a.max_age,
    };
    policy.validate()?;
    let mut in_use = BTreeSet::new();
    for i in &a.in_use {
        for r in resolve(&store, i).with_context(|| format!("--in-use {i}"))? {
            in_use.insert(r.id());
        }
    }
    let root = store.root().to_path_buf();
    let cfg = runtime_config(&root, &RegistryFlags::default(), |c| c.offline = true)?;
    let runtime = ContainerdImageService::with_store(store, &cfg)?;
    let run = collect_with_content(
        &runtime,
        &policy,
        a.capacity,
        &in_use,
        a.orphan_grace,
        a.dry_run,
    )?;
    let report = &run.report;
    let deleted: Vec<String> = report.planned.iter().flat_map(image_names).collect();
    match a.format.output {
        Format::Json => output::json(
            Kind::Gc,
            &json!({
                "capacity": a.capacity,
                "used": report.used,
                "usage_percent": report.plan.usage_percent,
                "amount_to_free": report.plan.amount_to_free,
                "deleted_image_ids": report.plan.to_delete,
                "causes": report.plan.causes,
                "deleted": deleted,
                "bytes_freed": report.plan.bytes_freed,
                "unreferenced_blobs_deleted": run.orphans.blobs_deleted.len(),
                "unreferenced_bytes_freed": run.orphans.bytes_freed,
                "dry_run": a.dry_run,
                "warning": report.plan.warning,
                "error": report.deletion_error(),
            }),
        )?,
        Format::Text => {
            if run.orphans.bytes_freed > 0 {
                outln!(
                    "Deleted {} unreferenced blobs ({})",
                    run.orphans.blobs_deleted.len(),
                    human_size(run.orphans.bytes_freed)
                );
            }
            outln!(
                "image filesystem: {} of {} used ({}%), high threshold {}%, low {}%",
                human_size(report.used),
                human_size(a.capacity),
                report.plan.usage_percent,
                a.high,
                a.low
            );
            let verb = if a.dry_run { "Would delete" } else { "Deleted" };
            for (img, cause) in report.planned.iter().zip(&report.plan.causes) {
                outln!(
                    "{verb}: {} ({cause:?}) {}",
                    short_id(&img.id),
                    image_names(img).join(", ")
                );
            }
            outln!(
                "{} images, {} eligible to free",
                report.plan.to_delete.len(),
                human_size(report.plan.bytes_freed)
            );
        }
    }
    if let Some(w) = &report.plan.warning {
        eprintln!("Warning  FreeDiskSpaceFailed  {w}");
    }
    if let Some(e) = report.deletion_error() {
        anyhow::bail!("{e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The names of an image as the store recorded them: its tags, or its digests when it was
/// only ever named by digest.
pub(crate) fn image_names(i: &Image) -> Vec<String> {
    if i.repo_tags.is_empty() {
        i.repo_digests.clone()
    } else {
        i.repo_tags.clone()
    }
}

/// What `images gc` did: the content GC, then the kubelet's image GC.
#[derive(Debug)]
pub struct GcRun {
    /// Unreferenced blobs deleted before planning (none on a dry run).
    pub orphans: PruneOutcome,
    /// The image GC manager's report.
    pub report: GcReport,
}

/// Content GC (unless `dry_run`), then [`pullsim_node::gc::collect`] at the current time.
pub fn collect_with_content(
    runtime: &ContainerdImageService,
    policy: &GcPolicy,
    capacity: u64,
    in_use: &BTreeSet<String>,
    orphan_grace: Duration,
    dry_run: bool,
) -> anyhow::Result<GcRun> {
    collect_at(
        runtime,
        policy,
        capacity,
        in_use,
        orphan_grace,
        pullsim_store::now_ms(),
        dry_run,
    )
}

fn collect_at(
    runtime: &ContainerdImageService,
    policy: &GcPolicy,
    capacity: u64,
    in_use: &BTreeSet<String>,
    orphan_grace: Duration,
    now_ms: u64,
    dry_run: bool,
) -> anyhow::Result<GcRun> {
    let orphans = if dry_run {
        PruneOutcome::default()
    } else {
        runtime.prune_content(orphan_grace)?
    };
    let req = GcRequest {
        policy: *policy,
        capacity,
        in_use,
        now_unix_ms: now_ms,
        dry_run,
    };
    let report = crate::flags::runtime()?.block_on(collect(runtime, &req))?;
    Ok(GcRun { orphans, report })
}

#[cfg(test)]
mod tests {
    //! The store side of image GC, as the kubelet's image GC manager behaves
    //! (pkg/kubelet/images/image_gc_manager.go, image_gc_manager_test.go): thresholds, minimum
    //! and maximum age, pinned and in-use images kept, eviction order by last used then first
    //! detected, the not-enough-freed warning, and deletion of unreferenced blobs only.

    use super::*;
    use std::collections::BTreeMap;

    use pullsim_store::{ImageRecord, Origin};

    const NOW: u64 = 10_000_000;
    const LAYER: usize = 10_000;

    struct Img {
        name: &'static str,
        first_seen: u64,
        last_used: u64,
        pinned: bool,
    }

    fn img(name: &'static str, first_seen: u64, last_used: u64) -> Img {
        Img {
            name,
            first_seen,
            last_used,
            pinned: false,
        }
    }

    /// Store the images (one distinct layer each, plus one layer shared by all) and return
    /// the store, its records by name, and the bytes used.
    fn setup(
        images: &[Img],
    ) -> (
        tempfile::TempDir,
        Arc<Store>,
        ContainerdImageService,
        BTreeMap<String, ImageRecord>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let shared = store.put_bytes(&[0xAA; 1000]).unwrap();
        let mut recs = BTreeMap::new();
        for (i, im) in images.iter().enumerate() {
            let layer = store.put_bytes(&vec![i as u8; LAYER]).unwrap();
            let config = store
                .put_bytes(format!(r#"{{"os":"linux","n":{i}}}"#).as_bytes())
                .unwrap();
            let manifest = store
                .put_bytes(
                    format!(r#"{{"config":"{config}","layers":["{shared}","{layer}"]}}"#)
                        .as_bytes(),
                )
                .unwrap();
            let rec = ImageRecord {
                name: format!("docker.io/library/{}", im.name),
                tag: Some("latest".into()),
                digest: None,
                written_as: im.name.into(),
                manifest_digest: manifest.clone(),
                media_type: pullsim_store::OCI_MANIFEST.into(),
                config_digest: config.clone(),
                platform: None,
                size: 0,
                blobs: vec![manifest, config, shared.clone(), layer],
                first_seen_ms: im.first_seen,
                last_used_ms: im.last_used,
                pinned: im.pinned,
                labels: BTreeMap::new(),
                origin: Origin::Pulled,
            };
            let mut rec = rec;
            // The image's size as a pull or a load records it: each of its blobs once.
            rec.size = rec.blobs.iter().map(|b| store.blob_size(b).unwrap()).sum();
            store.record_image(&rec).unwrap();
            recs.insert(im.name.to_string(), rec);
        }
        let cfg =
            runtime_config(dir.path(), &RegistryFlags::default(), |c| c.offline = true).unwrap();
        let runtime = ContainerdImageService::with_store(store.clone(), &cfg).unwrap();
        (dir, store, runtime, recs)
    }

    fn used(store: &Store) -> u64 {
        store.disk_usage().unwrap().blob_bytes
    }

    /// Capacity at which `used` is `percent` % of it.
    fn capacity_for(used: u64, percent: u64) -> u64 {
        used * 100 / percent
    }

    fn names(run: &GcRun, recs: &BTreeMap<String, ImageRecord>) -> Vec<String> {
        run.report
            .plan
            .to_delete
            .iter()
            .map(|id| {
                recs.iter()
                    .find(|(_, r)| &r.id() == id)
                    .map(|(n, _)| n.clone())
                    .unwrap()
            })
            .collect()
    }

    fn gc(
        runtime: &ContainerdImageService,
        policy: GcPolicy,
        capacity: u64,
        in_use: &[&ImageRecord],
    ) -> GcRun {
        let in_use: BTreeSet<String> = in_use.iter().map(|r| r.id()).collect();
        collect_at(
            runtime,
            &policy,
            capacity,
            &in_use,
            Duration::ZERO,
            NOW,
            false,
        )
        .unwrap()
    }

    fn low60() -> GcPolicy {
        GcPolicy {
            low_threshold_percent: 60,
            ..GcPolicy::default()
        }
    }

    fn four() -> Vec<Img> {
        vec![
            img("a", 1000, 4000),
            img("b", 1000, 1000),
            img("c", 2000, 3000),
            img("d", 500, 3000),
        ]
    }

    #[test]
    fn below_the_high_threshold_nothing_is_deleted() {
        let (_d, store, rt, _recs) = setup(&four());
        let cap = capacity_for(used(&store), 80);
        let run = gc(&rt, GcPolicy::default(), cap, &[]);
        assert!(run.report.plan.to_delete.is_empty());
        assert_eq!(store.list().unwrap().len(), 4);
    }

    #[test]
    fn frees_down_to_the_low_threshold_least_recently_used_first() {
        let (_d, store, rt, recs) = setup(&four());
        let before = used(&store);
        // 95 % used, low threshold 60 %: the kubelet frees (100-60) % of capacity minus what
        // is available, a bit more than one image here: b (oldest use), then d (same last use
        // as c but detected earlier).
        let run = gc(&rt, low60(), capacity_for(before, 95), &[]);
        assert_eq!(names(&run, &recs), vec!["b", "d"]);
        assert!(run.report.plan.warning.is_none());
        let left: Vec<String> = store
            .list()
            .unwrap()
            .iter()
            .map(|r| r.written_as.clone())
            .collect();
        assert_eq!(left, vec!["a", "c"]);
        // The deleted images' own blobs are gone; the shared layer stays.
        for n in ["b", "d"] {
            assert!(!store.has_blob(&recs[n].blobs[3]));
            assert!(!store.has_blob(&recs[n].manifest_digest));
        }
        assert!(store.has_blob(&recs["a"].blobs[2]));
        assert!(store.verify(false).unwrap().is_clean());
    }

    #[test]
    fn pinned_and_in_use_images_are_never_collected() {
        let mut imgs = four();
        imgs[1].pinned = true; // b
        let (_d, store, rt, recs) = setup(&imgs);
        let run = gc(&rt, low60(), capacity_for(used(&store), 95), &[&recs["d"]]);
        assert_eq!(names(&run, &recs), vec!["c", "a"]);
        assert!(
            store
                .list()
                .unwrap()
                .iter()
                .any(|r| r.written_as == "b" && r.pinned)
        );
    }

    #[test]
    fn images_younger_than_the_minimum_age_are_kept() {
        let mut imgs = four();
        imgs[1].first_seen = NOW - 60_000; // b: detected 1 minute ago
        let (_d, store, rt, recs) = setup(&imgs);
        let run = gc(&rt, low60(), capacity_for(used(&store), 95), &[]);
        assert_eq!(names(&run, &recs), vec!["d", "c"]);
    }

    #[test]
    fn maximum_age_deletes_unused_images_below_the_threshold() {
        let imgs = vec![img("old", 1000, 1000), img("fresh", 1000, NOW - 1000)];
        let (_d, store, rt, recs) = setup(&imgs);
        let policy = GcPolicy {
            max_age: Duration::from_secs(3600),
            ..GcPolicy::default()
        };
        let run = gc(&rt, policy, capacity_for(used(&store), 10), &[]);
        assert_eq!(names(&run, &recs), vec!["old"]);
        assert_eq!(run.report.plan.causes, vec![pullsim_policy::GcCause::Age]);
    }

    #[test]
    fn not_enough_freed_gives_the_kubelet_warning() {
        let mut imgs = four();
        for i in imgs.iter_mut() {
            i.pinned = true;
        }
        imgs[0].pinned = false; // only a is eligible
        let (_d, store, rt, recs) = setup(&imgs);
        let cap = capacity_for(used(&store), 99);
        let run = gc(&rt, low60(), cap, &[]);
        assert_eq!(names(&run, &recs), vec!["a"]);
        let w = run.report.plan.warning.clone().unwrap();
        assert!(
            w.starts_with(
                "Failed to garbage collect required amount of images. Attempted to free "
            ),
            "{w}"
        );
        assert!(w.ends_with(" bytes eligible to free."), "{w}");
    }

    #[test]
    fn zero_capacity_is_the_kubelet_error() {
        let (_d, store, rt, _recs) = setup(&four());
        let err = collect_at(
            &rt,
            &GcPolicy::default(),
            0,
            &BTreeSet::new(),
            Duration::ZERO,
            NOW,
            false,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid capacity 0 on image filesystem");
        assert_eq!(store.list().unwrap().len(), 4);
    }

    #[test]
    fn unreferenced_blobs_are_deleted_and_referenced_ones_kept() {
        let (d, store, rt, recs) = setup(&four());
        // Left by a pull that failed in another process, now gone (its lease went with it; a
        // blob this process wrote and has not recorded yet is leased, and kept).
        let orphan = {
            let other = Store::open(d.path()).unwrap();
            other.put_bytes(b"left by a failed pull").unwrap()
        };
        let in_flight = store.put_bytes(b"written, not yet recorded").unwrap();
        let run = gc(
            &rt,
            GcPolicy::default(),
            capacity_for(used(&store), 10),
            &[],
        );
        assert_eq!(run.orphans.blobs_deleted, vec![orphan.clone()]);
        assert!(!store.has_blob(&orphan));
        assert!(store.has_blob(&in_flight));
        for r in recs.values() {
            for b in &r.blobs {
                assert!(store.has_blob(b));
            }
        }
    }

    #[test]
    fn dry_run_changes_nothing() {
        let (_d, store, rt, recs) = setup(&four());
        let in_use = BTreeSet::new();
        let cap = capacity_for(used(&store), 95);
        let run = collect_at(&rt, &low60(), cap, &in_use, Duration::ZERO, NOW, true).unwrap();
        assert_eq!(names(&run, &recs), vec!["b", "d"]);
        assert_eq!(store.list().unwrap().len(), 4);
    }
}
