//! Image GC plans against the kubelet's image GC manager.
//!
//! Upstream: pkg/kubelet/images/image_gc_manager.go and the cases of
//! pkg/kubelet/images/image_gc_manager_test.go (TestGarbageCollectBelowLowThreshold,
//! TestGarbageCollectBelowSuccess, TestGarbageCollectNotEnoughFreed,
//! TestGarbageCollectImageNotOldEnough, TestGarbageCollectImageTooOld, TestDoNotDeletePinnedImage,
//! TestAllPinnedImages, TestFreeSpaceImagesInUseContainersAreIgnored,
//! TestFreeSpaceRemoveByLeastRecentlyUsed, TestFreeSpaceTiesBrokenByDetectedTime), plus
//! pkg/kubelet/apis/config/validation/validation.go for the policy validation texts.

use std::time::Duration;

use pullsim_policy::{GcCause, GcImage, GcPolicy, PolicyError, plan_gc, plan_gc_since};

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn img(id: &str, size: u64, first_detected: u64, last_used: u64) -> GcImage {
    GcImage {
        id: id.into(),
        size,
        first_detected: s(first_detected),
        last_used: s(last_used),
        pinned: false,
        in_use: false,
    }
}

fn policy(high: u8, low: u8, min_age: u64, max_age: u64) -> GcPolicy {
    GcPolicy {
        high_threshold_percent: high,
        low_threshold_percent: low,
        min_age: s(min_age),
        max_age: s(max_age),
    }
}

#[test]
fn defaults_are_the_kubelets() {
    let p = GcPolicy::default();
    assert_eq!(
        (
            p.high_threshold_percent,
            p.low_threshold_percent,
            p.min_age,
            p.max_age
        ),
        (85, 80, s(120), s(0))
    );
    assert!(p.validate().is_ok());
}

/// TestGarbageCollectBelowLowThreshold: 40 % usage, nothing to do.
#[test]
fn below_threshold_does_nothing() {
    let plan = plan_gc(
        &policy(90, 80, 0, 0),
        1000,
        400,
        &[img("a", 400, 0, 0)],
        s(1000),
    )
    .unwrap();
    assert!(plan.to_delete.is_empty());
    assert_eq!(plan.usage_percent, 40);
    assert_eq!(plan.amount_to_free, 0);
    assert_eq!(plan.warning, None);
}

/// TestGarbageCollectBelowSuccess: 95 % usage, one 450-byte image frees enough (150 needed).
#[test]
fn frees_down_to_low_threshold() {
    let plan = plan_gc(
        &policy(90, 80, 0, 0),
        1000,
        950,
        &[img("0", 450, 10, 0)],
        s(10),
    )
    .unwrap();
    assert_eq!(plan.usage_percent, 95);
    assert_eq!(plan.amount_to_free, 150);
    assert_eq!(plan.to_delete, vec!["0"]);
    assert_eq!(plan.causes, vec![GcCause::Space]);
    assert_eq!(plan.bytes_freed, 450);
    assert_eq!(plan.warning, None);
}

/// TestGarbageCollectNotEnoughFreed: the kubelet's FreeDiskSpaceFailed text.
#[test]
fn not_enough_freed_warning() {
    let plan = plan_gc(
        &policy(90, 80, 0, 0),
        1000,
        950,
        &[img("0", 50, 10, 0)],
        s(10),
    )
    .unwrap();
    assert_eq!(plan.to_delete, vec!["0"]);
    assert_eq!(
        plan.warning.as_deref(),
        Some(
            "Failed to garbage collect required amount of images. Attempted to free 150 bytes, but only found 50 bytes eligible to free."
        )
    );
    let event = plan.warning_event().unwrap();
    assert_eq!(event.reason.as_str(), "FreeDiskSpaceFailed");
    assert_eq!(event.event_type.as_str(), "Warning");
}

#[test]
fn zero_capacity_is_the_kubelets_error() {
    let err = plan_gc(&GcPolicy::default(), 0, 0, &[], s(0)).unwrap_err();
    assert_eq!(err, PolicyError::InvalidCapacity);
    assert_eq!(err.to_string(), "invalid capacity 0 on image filesystem");
}

/// TestGarbageCollectImageNotOldEnough: in use is never collected; younger than minAge waits.
#[test]
fn min_age_and_in_use() {
    let mut used = img("1", 2048, 100, 100);
    used.in_use = true;
    let images = [img("0", 1024, 100, 0), used];
    let p = policy(90, 80, 60, 0);
    // 100 % full: everything eligible would go
    let plan = plan_gc(&p, 3072, 3072, &images, s(100)).unwrap();
    assert!(plan.to_delete.is_empty());
    assert!(plan.warning.is_some());
    let plan = plan_gc(&p, 3072, 3072, &images, s(160)).unwrap();
    assert_eq!(plan.to_delete, vec!["0"]);
}

/// TestDoNotDeletePinnedImage / TestAllPinnedImages.
#[test]
fn pinned_never_collected() {
    let mut pinned = img("1", 1024, 0, 0);
    pinned.pinned = true;
    let plan = plan_gc(
        &policy(50, 10, 0, 0),
        2048,
        2048,
        &[pinned.clone(), img("2", 1024, 0, 0)],
        s(10),
    )
    .unwrap();
    assert_eq!(plan.to_delete, vec!["2"]);
    let mut pinned2 = pinned.clone();
    pinned2.id = "2".into();
    let plan = plan_gc(&policy(50, 10, 0, 0), 2048, 2048, &[pinned, pinned2], s(10)).unwrap();
    assert!(plan.to_delete.is_empty());
    assert_eq!(plan.bytes_freed, 0);
}

/// TestFreeSpaceRemoveByLeastRecentlyUsed and TestFreeSpaceTiesBrokenByDetectedTime: order by
/// last used, then first detected.
#[test]
fn eviction_order() {
    let images = [
        img("recent", 100, 0, 50),
        img("old-used", 100, 5, 10),
        img("tie-later-detected", 100, 3, 20),
        img("tie-earlier-detected", 100, 1, 20),
    ];
    // need everything: 100 % of 400 used, free down to 0 %
    let plan = plan_gc(&policy(10, 0, 0, 0), 400, 400, &images, s(100)).unwrap();
    assert_eq!(
        plan.to_delete,
        vec![
            "old-used",
            "tie-earlier-detected",
            "tie-later-detected",
            "recent"
        ]
    );
    // only 150 bytes needed: stops after two
    let plan = plan_gc(&policy(50, 40, 0, 0), 400, 310, &images, s(100)).unwrap();
    assert_eq!(plan.amount_to_free, 150);
    assert_eq!(plan.to_delete, vec!["old-used", "tie-earlier-detected"]);
}

/// Images used at or after the GC time are skipped (freeSpace).
#[test]
fn used_now_is_skipped() {
    let plan = plan_gc(
        &policy(10, 0, 0, 0),
        100,
        100,
        &[img("a", 100, 0, 100)],
        s(100),
    )
    .unwrap();
    assert!(plan.to_delete.is_empty());
}

/// TestGarbageCollectImageTooOld: max age deletes unused images idle for longer than max age,
/// but only once max age has passed since GC began.
#[test]
fn max_age() {
    let p = policy(90, 80, 0, 60);
    let images = [img("0", 1024, 0, 1000)];
    // just used: kept
    let plan = plan_gc_since(&p, 10_000, 1024, &images, s(1000), s(0)).unwrap();
    assert!(plan.to_delete.is_empty());
    // 60 s idle: not more than max age
    let plan = plan_gc_since(&p, 10_000, 1024, &images, s(1060), s(0)).unwrap();
    assert!(plan.to_delete.is_empty());
    // 60 s + 1 ns idle: deleted for age, no space pressure
    let now = s(1060) + Duration::from_nanos(1);
    let plan = plan_gc_since(&p, 10_000, 1024, &images, now, s(0)).unwrap();
    assert_eq!(plan.to_delete, vec!["0"]);
    assert_eq!(plan.causes, vec![GcCause::Age]);
    assert_eq!(plan.usage_percent, 0);
    // GC began less than max age ago: nothing yet
    let plan = plan_gc_since(&p, 10_000, 1024, &images, now, s(1030)).unwrap();
    assert!(plan.to_delete.is_empty());
}

/// Age deletions count toward disk usage before the threshold check.
#[test]
fn age_deletions_lower_usage_first() {
    let p = policy(90, 80, 0, 60);
    let images = [img("old", 500, 0, 0), img("new", 450, 0, 990)];
    let plan = plan_gc_since(&p, 1000, 950, &images, s(1000), s(0)).unwrap();
    assert_eq!(plan.to_delete, vec!["old"]);
    assert_eq!(plan.usage_percent, 45);
    assert_eq!(plan.warning, None);
}

/// High threshold 100 % with no max age: the kubelet never starts image GC.
#[test]
fn disabled_at_100_percent() {
    let plan = plan_gc(
        &policy(100, 80, 0, 0),
        100,
        100,
        &[img("a", 100, 0, 0)],
        s(1000),
    )
    .unwrap();
    assert!(plan.disabled);
    assert!(plan.to_delete.is_empty());
}

/// ValidateKubeletConfiguration texts for the GC fields.
#[test]
fn validation_table() {
    let table: &[(GcPolicy, &[&str])] = &[
        (policy(85, 80, 120, 0), &[]),
        (
            policy(101, 80, 120, 0),
            &[
                "invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive",
            ],
        ),
        (
            policy(85, 101, 120, 0),
            &[
                "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 101 must be between 0 and 100, inclusive",
                "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 101 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 85",
            ],
        ),
        (
            policy(80, 80, 120, 0),
            &[
                "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 80 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 80",
            ],
        ),
        (
            policy(85, 80, 120, 60),
            &[
                "invalid configuration: imageMaximumGCAge 1m0s must be greater than imageMinimumGCAge 2m0s",
            ],
        ),
        (policy(85, 80, 120, 180), &[]),
    ];
    for (p, want) in table {
        match p.validate() {
            Ok(()) => assert!(want.is_empty(), "{p:?}"),
            Err(PolicyError::InvalidConfiguration { errors }) => assert_eq!(&errors, want, "{p:?}"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
}
