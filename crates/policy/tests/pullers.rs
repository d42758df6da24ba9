//! Pullers and the registry QPS token bucket.
//!
//! Upstream: pkg/kubelet/images/puller.go (maxImagePullRequests = 10, throttleImagePulling:
//! qps 0 = no throttling, a refused token fails the pull with "pull QPS exceeded"),
//! pkg/kubelet/apis/config/validation/validation.go and its validation_test.go ("invalid
//! MaxParallelImagePulls", "invalid MaxParallelImagePulls and SerializeImagePulls combination",
//! registryPullQPS/registryBurst), pkg/kubelet/apis/config/v1beta1/defaults.go
//! (serializeImagePulls defaulting), client-go util/flowcontrol/throttle.go over
//! golang.org/x/time/rate (bucket starts full, refills at qps).

use std::time::Duration;

use pullsim_policy::messages::PULL_QPS_EXCEEDED;
use pullsim_policy::pullers::{MAX_IMAGE_PULL_REQUESTS, validate_registry_limits};
use pullsim_policy::{PolicyError, PullerConfig, PullerMode, TokenBucket};

fn errors(r: Result<(), PolicyError>) -> Vec<String> {
    match r {
        Ok(()) => vec![],
        Err(PolicyError::InvalidConfiguration { errors }) => errors,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn puller_validation_table() {
    let table: &[(bool, Option<u32>, &[&str])] = &[
        (true, None, &[]),
        (true, Some(1), &[]),
        (false, Some(3), &[]),
        (false, None, &[]),
        (
            false,
            Some(0),
            &["invalid configuration: maxParallelImagePulls 0 must be a positive number"],
        ),
        (
            true,
            Some(3),
            &[
                "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false",
            ],
        ),
    ];
    for (serialize, max_parallel, want) in table {
        let c = PullerConfig {
            serialize: *serialize,
            max_parallel: *max_parallel,
        };
        assert_eq!(errors(c.validate()), *want, "{c:?}");
    }
}

#[test]
fn registry_limit_validation() {
    assert!(validate_registry_limits(5.0, 10).is_ok());
    assert!(validate_registry_limits(0.0, 0).is_ok());
    assert_eq!(
        errors(validate_registry_limits(-1.0, -1)),
        vec![
            "invalid configuration: registryBurst (--registry-burst) -1 must not be a negative number",
            "invalid configuration: registryPullQPS (--registry-qps) -1 must not be a negative number",
        ]
    );
}

#[test]
fn defaulting_and_mode() {
    assert_eq!(PullerConfig::default(), PullerConfig::defaulted(None, None));
    assert!(PullerConfig::defaulted(None, Some(1)).serialize);
    assert!(!PullerConfig::defaulted(None, Some(2)).serialize);
    assert!(PullerConfig::defaulted(Some(true), Some(5)).serialize);
    assert_eq!(MAX_IMAGE_PULL_REQUESTS, 10);
    assert_eq!(
        PullerConfig::default().mode(),
        PullerMode::Serial { queue: 10 }
    );
    assert_eq!(
        PullerConfig::defaulted(None, Some(3)).mode(),
        PullerMode::Parallel { max: Some(3) }
    );
}

#[test]
fn bucket_starts_full_then_refills_at_qps() {
    let mut b = TokenBucket::kubelet(); // 5 qps, burst 10
    let t0 = Duration::from_secs(100);
    for i in 0..10 {
        assert!(b.try_accept(t0), "token {i} of the burst");
    }
    assert!(!b.try_accept(t0));
    assert_eq!(b.wait_time(t0), Duration::from_millis(200));
    // 199 ms later: still no token
    assert!(!b.try_accept(t0 + Duration::from_millis(199)));
    // 200 ms: one token (5 per second)
    assert!(b.try_accept(t0 + Duration::from_millis(200)));
    assert!(!b.try_accept(t0 + Duration::from_millis(200)));
    // after 10 s the bucket is full again, but holds no more than the burst
    let later = t0 + Duration::from_secs(10);
    for _ in 0..10 {
        assert!(b.try_accept(later));
    }
    assert!(!b.try_accept(later));
}

#[test]
fn qps_zero_is_unlimited_and_burst_zero_refuses() {
    let mut b = TokenBucket::new(0.0, 0);
    assert!(b.is_unlimited());
    for _ in 0..1000 {
        assert!(b.try_accept(Duration::ZERO));
    }
    let mut b = TokenBucket::new(5.0, 0);
    assert!(!b.try_accept(Duration::from_secs(100)));
    assert_eq!(PULL_QPS_EXCEEDED, "pull QPS exceeded");
}
