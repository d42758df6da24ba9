//! The registry QPS token bucket (client-go's flowcontrol over x/time/rate) with any qps,
//! burst and clock: it never panics, and it refuses exactly when it says a wait is needed.

use std::time::Duration;

use proptest::prelude::*;
use pullsim_policy::TokenBucket;

/// Found by `any_qps_burst_and_clock`: with a tiny qps (`--registry-qps 1e-300`, which the
/// configuration accepts: it only must not be negative) the wait until the next token was
/// more seconds than a Duration holds, and `Duration::from_secs_f64` panicked.
#[test]
fn tiny_qps_waits_as_long_as_can_be() {
    let mut b = TokenBucket::new(1e-300, 1);
    assert!(b.try_accept(Duration::ZERO));
    assert!(!b.try_accept(Duration::ZERO));
    assert_eq!(b.wait_time(Duration::ZERO), Duration::MAX);
}

/// Found by `any_qps_burst_and_clock`: an infinite rate with burst 0 said no wait was needed
/// but refused every pull; x/time/rate allows every event at an infinite rate, whatever the
/// burst (rate.go reserveN: `if lim.limit == Inf`).
#[test]
fn infinite_rate_allows_everything() {
    let mut b = TokenBucket::new(f64::INFINITY, 0);
    assert!(b.is_unlimited());
    assert!(b.try_accept(Duration::ZERO));
    assert_eq!(b.wait_time(Duration::ZERO), Duration::ZERO);
}

/// Found by `any_qps_burst_and_clock`: with burst 0 (no token ever) or a huge qps (a wait
/// under a nanosecond) the wait was rounded to zero while the pull was refused.
#[test]
fn a_refusal_always_has_a_wait() {
    let b = TokenBucket::new(5.0, 0);
    assert_eq!(b.wait_time(Duration::ZERO), Duration::MAX);
    let mut b = TokenBucket::new(1e55, 1);
    assert!(b.try_accept(Duration::ZERO));
    assert!(!b.clone().try_accept(Duration::ZERO));
    assert_eq!(b.wait_time(Duration::ZERO), Duration::from_nanos(1));
    assert!(b.try_accept(Duration::from_nanos(1)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_qps_burst_and_clock(
        qps in prop_oneof![any::<f64>(), 0.0f64..50.0, Just(1e-300), Just(f64::MIN_POSITIVE), Just(f64::INFINITY), Just(f64::NAN)],
        burst in prop_oneof![0u32..20, any::<u32>()],
        steps in proptest::collection::vec(prop_oneof![0u64..2_000_000_000, any::<u64>()], 0..30),
    ) {
        let mut b = TokenBucket::new(qps, burst);
        let mut now = Duration::ZERO;
        for step in steps {
            // The clock may also go back (a step beyond u64 seconds wraps to an earlier time).
            now = now.checked_add(Duration::from_nanos(step)).unwrap_or(Duration::ZERO);
            let wait = b.wait_time(now);
            let accepted = b.clone().try_accept(now);
            prop_assert_eq!(accepted, wait.is_zero(), "qps {} burst {} at {:?}", qps, burst, now);
            prop_assert_eq!(b.try_accept(now), accepted);
        }
    }
}
