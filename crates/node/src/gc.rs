//! The image GC manager (pkg/kubelet/images/image_gc_manager.go): the images and the image
//! filesystem's usage from the runtime (`ListImages`, `ImageFsInfo`), the selection by
//! `pullsim_policy::plan_gc`, and `RemoveImage` for each chosen image ID. `pod run --capacity`
//! and `pullsim images gc` both run this one routine.

use std::collections::BTreeSet;
use std::time::Duration;

use pullsim_policy::{Event, EventReason, GcImage, GcPlan, GcPolicy, PolicyError, plan_gc};
use pullsim_runtime::{Image, ImageService, ImageSpec, RuntimeError};

use crate::error::NodeError;
use crate::shared::go_aggregate;

/// One GC pass to run.
#[derive(Clone, Debug)]
pub struct GcRequest<'a> {
    /// imageGCHighThresholdPercent, imageGCLowThresholdPercent, imageMinimumGCAge,
    /// imageMaximumGCAge.
    pub policy: GcPolicy,
    /// The image filesystem's capacity in bytes (the caller's: pullsim has no real disk).
    pub capacity: u64,
    /// Image IDs used by running containers: never collected.
    pub in_use: &'a BTreeSet<String>,
    /// Now, in Unix milliseconds (the runtime's first-seen and last-used times are Unix ms).
    pub now_unix_ms: u64,
    /// Plan only: remove nothing.
    pub dry_run: bool,
}

/// What one GC pass planned and did.
#[derive(Debug, Default)]
pub struct GcReport {
    /// The capacity planned with.
    pub capacity: u64,
    /// Bytes used before GC (`ImageFsInfo`).
    pub used: u64,
    /// The plan (image IDs in deletion order, causes, bytes, the warning).
    pub plan: GcPlan,
    /// The runtime's images in the plan, in plan order (their names, for reports).
    pub planned: Vec<Image>,
    /// Image IDs `RemoveImage` removed.
    pub removed: Vec<String>,
    /// Sizes (`Image.size`) of the removed images.
    pub bytes_freed: u64,
    /// `RemoveImage` failures, by image ID.
    pub removal_errors: Vec<(String, RuntimeError)>,
    /// The events the kubelet records on the node (Warning `FreeDiskSpaceFailed`).
    pub events: Vec<Event>,
}

impl GcReport {
    /// The kubelet's error when removals failed (freeSpace: `wanted to free %d bytes, but freed
    /// %d bytes space with errors in image deletion: %v`).
    pub fn deletion_error(&self) -> Option<String> {
        if self.removal_errors.is_empty() {
            return None;
        }
        Some(format!(
            "wanted to free {} bytes, but freed {} bytes space with errors in image deletion: {}",
            self.plan.amount_to_free.max(0),
            self.bytes_freed,
            go_aggregate(self.removal_errors.iter().map(|(_, e)| e.to_string()))
        ))
    }
}

fn ms(t: u64) -> Duration {
    Duration::from_millis(t)
}

/// GarbageCollect: plan over the runtime's images and remove what the plan selects.
///
/// A zero capacity is the kubelet's `invalid capacity 0 on image filesystem` (Warning
/// `InvalidDiskCapacity`): returned as [`NodeError::Policy`].
pub async fn collect<S: ImageService>(
    service: &S,
    req: &GcRequest<'_>,
) -> Result<GcReport, NodeError> {
    let images = service.list_images(None)?;
    let used = service.image_fs_info()?.used_bytes;
    let gc_images: Vec<GcImage> = images
        .iter()
        .map(|i| GcImage {
            id: i.id.clone(),
            size: i.size,
            first_detected: ms(i.first_seen_unix_ms),
            last_used: ms(i.last_used_unix_ms),
            pinned: i.pinned,
            in_use: req.in_use.contains(&i.id),
        })
        .collect();
    let plan = plan_gc(
        &req.policy,
        req.capacity,
        used,
        &gc_images,
        ms(req.now_unix_ms),
    )?;
    let mut report = GcReport {
        capacity: req.capacity,
        used,
        planned: plan
            .to_delete
            .iter()
            .filter_map(|id| images.iter().find(|i| &i.id == id).cloned())
            .collect(),
        events: plan.warning_event().into_iter().collect(),
        plan,
        ..GcReport::default()
    };
    if req.dry_run {
        return Ok(report);
    }
    for image in &report.planned {
        match service
            .remove_image(&ImageSpec::new(image.id.as_str()))
            .await
        {
            Ok(()) => {
                report.removed.push(image.id.clone());
                report.bytes_freed += image.size;
            }
            Err(e) => report.removal_errors.push((image.id.clone(), e)),
        }
    }
    Ok(report)
}

/// The Warning event the kubelet records for a GC error that has one (`InvalidDiskCapacity`).
pub fn error_event(e: &NodeError) -> Option<Event> {
    match e {
        NodeError::Policy(p @ PolicyError::InvalidCapacity) => Some(Event::warning(
            EventReason::InvalidDiskCapacity,
            p.to_string(),
        )),
        _ => None,
    }
}
