//! Image garbage collection: which images the kubelet's image GC manager deletes, as a pure plan.
//!
//! Upstream: pkg/kubelet/images/image_gc_manager.go (GarbageCollect, freeOldImages, freeSpace,
//! imagesInEvictionOrder, byLastUsedAndDetected, NewImageGCManager) and
//! pkg/kubelet/apis/config/validation/validation.go (threshold and age validation).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::messages;
use crate::vocab::{Event, EventReason};
use crate::{PolicyError, Time};

/// The kubelet's image GC policy (imageGCHighThresholdPercent, imageGCLowThresholdPercent,
/// imageMinimumGCAge, imageMaximumGCAge).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcPolicy {
    /// Disk usage (percent) at or above which GC runs. Default 85.
    pub high_threshold_percent: u8,
    /// Disk usage (percent) GC frees down to. Default 80.
    pub low_threshold_percent: u8,
    /// Images first detected less than this long ago are kept. Default 2m.
    pub min_age: Duration,
    /// Unused images idle longer than this are deleted regardless of usage; 0 = off (default).
    pub max_age: Duration,
}

impl Default for GcPolicy {
    /// The kubelet defaults: 85 %, 80 %, 2m, 0.
    fn default() -> Self {
        GcPolicy {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
            min_age: Duration::from_secs(120),
            max_age: Duration::ZERO,
        }
    }
}

impl GcPolicy {
    /// The kubelet configuration validation of these fields, in its order and with its texts
    /// (ValidateKubeletConfiguration): both thresholds in 0..=100, low strictly below high,
    /// maximum age (when set) greater than minimum age. Returns every failure.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut errors = Vec::new();
        if self.high_threshold_percent > 100 {
            errors.push(format!(
                "invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) {} must be between 0 and 100, inclusive",
                self.high_threshold_percent
            ));
        }
        if self.low_threshold_percent > 100 {
            errors.push(format!(
                "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) {} must be between 0 and 100, inclusive",
                self.low_threshold_percent
            ));
        }
        if self.low_threshold_percent >= self.high_threshold_percent {
            errors.push(format!(
                "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) {} must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) {}",
                self.low_threshold_percent, self.high_threshold_percent
            ));
        }
        if !self.max_age.is_zero() && self.max_age <= self.min_age {
            errors.push(format!(
                "invalid configuration: imageMaximumGCAge {} must be greater than imageMinimumGCAge {}",
                messages::go_duration(self.max_age),
                messages::go_duration(self.min_age)
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::InvalidConfiguration { errors })
        }
    }

    /// The kubelet does not start image GC at all when the high threshold is 100 % and there is
    /// no maximum age (Kubelet.StartGarbageCollection, pkg/kubelet/kubelet.go).
    pub fn is_disabled(&self) -> bool {
        self.high_threshold_percent == 100 && self.max_age.is_zero()
    }
}

/// One image as image GC sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcImage {
    /// The image ID (what is deleted).
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// When GC first detected the image.
    pub first_detected: Time,
    /// When a container last used it.
    pub last_used: Time,
    /// Pinned by the runtime: never collected.
    pub pinned: bool,
    /// Used by a running container: never collected.
    pub in_use: bool,
}

/// Why an image is in the plan.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GcCause {
    /// Unused for longer than the maximum age.
    Age,
    /// Deleted to bring disk usage down to the low threshold.
    Space,
}

/// The result of one GC pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcPlan {
    /// Image IDs to delete, in deletion order.
    pub to_delete: Vec<String>,
    /// Why each of `to_delete` is deleted (same order).
    pub causes: Vec<GcCause>,
    /// Bytes the deletions free.
    pub bytes_freed: u64,
    /// Disk usage in percent after age-based deletion, as the kubelet computes it.
    pub usage_percent: i64,
    /// Bytes the kubelet tried to free for space (`amountToFree`); 0 when below the threshold.
    pub amount_to_free: i64,
    /// GC did not run (high threshold 100 % and no maximum age).
    pub disabled: bool,
    /// The FreeDiskSpaceFailed warning text when not enough could be freed.
    pub warning: Option<String>,
}

impl GcPlan {
    /// The warning as the kubelet records it on the node (Warning FreeDiskSpaceFailed).
    pub fn warning_event(&self) -> Option<Event> {
        self.warning
            .as_ref()
            .map(|w| Event::warning(EventReason::FreeDiskSpaceFailed, w.clone()))
    }
}

/// [`plan_gc_since`] with the kubelet started at the epoch (`Time::ZERO`).
pub fn plan_gc(
    policy: &GcPolicy,
    capacity: u64,
    used: u64,
    images: &[GcImage],
    now: Time,
) -> Result<GcPlan, PolicyError> {
    plan_gc_since(policy, capacity, used, images, now, Time::ZERO)
}

/// One image GC pass at `now` on a filesystem of `capacity` bytes of which `used` are used, the
/// kubelet having started GC at `began_gc`:
///
/// 1. candidates: images neither in use nor pinned, ordered by last used, then first detected
///    (then ID, to be deterministic where Go's sort is not);
/// 2. maximum age (when set and more than `max_age` has passed since `began_gc`): delete every
///    candidate unused for more than `max_age`;
/// 3. capacity 0 → [`PolicyError::InvalidCapacity`] (`invalid capacity 0 on image filesystem`);
/// 4. usage = `100 - available*100/capacity` (integer division); at or above the high
///    threshold, free `capacity*(100-low)/100 - available` bytes: walk the candidates, skip
///    those used at or after `now` and those first detected less than `min_age` ago, delete
///    until enough is freed; if not enough, the FreeDiskSpaceFailed warning.
///
/// The deletions of step 2 are subtracted from `used` before step 4 (the kubelet re-reads the
/// filesystem stats after them).
pub fn plan_gc_since(
    policy: &GcPolicy,
    capacity: u64,
    used: u64,
    images: &[GcImage],
    now: Time,
    began_gc: Time,
) -> Result<GcPlan, PolicyError> {
    let mut plan = GcPlan::default();
    if policy.is_disabled() {
        plan.disabled = true;
        return Ok(plan);
    }
    let mut candidates: Vec<&GcImage> = images.iter().filter(|i| !i.in_use && !i.pinned).collect();
    candidates.sort_by(|a, b| {
        a.last_used
            .cmp(&b.last_used)
            .then(a.first_detected.cmp(&b.first_detected))
            .then_with(|| a.id.cmp(&b.id))
    });

    let mut used = used;
    if !policy.max_age.is_zero() && now.saturating_sub(began_gc) > policy.max_age {
        candidates.retain(|image| {
            if now.saturating_sub(image.last_used) > policy.max_age {
                plan.to_delete.push(image.id.clone());
                plan.causes.push(GcCause::Age);
                plan.bytes_freed = plan.bytes_freed.saturating_add(image.size);
                used = used.saturating_sub(image.size);
                false
            } else {
                true
            }
        });
    }

    if capacity == 0 {
        return Err(PolicyError::InvalidCapacity);
    }
    let capacity_i = i128::from(capacity);
    let available = capacity_i - i128::from(used).min(capacity_i);
    let usage_percent = 100 - available * 100 / capacity_i;
    plan.usage_percent = clamp_i64(usage_percent);
    if usage_percent >= i128::from(policy.high_threshold_percent) {
        let amount = capacity_i
            * i128::from(100i16 - i16::from(policy.low_threshold_percent.min(100)))
            / 100
            - available;
        plan.amount_to_free = clamp_i64(amount);
        let mut freed: i128 = 0;
        for image in candidates {
            if image.last_used >= now {
                continue;
            }
            if now.saturating_sub(image.first_detected) < policy.min_age {
                continue;
            }
            plan.to_delete.push(image.id.clone());
            plan.causes.push(GcCause::Space);
            plan.bytes_freed = plan.bytes_freed.saturating_add(image.size);
            freed += i128::from(image.size);
            if freed >= amount {
                break;
            }
        }
        if freed < amount {
            plan.warning = Some(messages::gc_not_enough_freed(
                clamp_i64(amount),
                clamp_i64(freed),
            ));
        }
    }
    Ok(plan)
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}
