//! Properties over arbitrary input: nothing panics, and the Go formatting stays well-formed.

use std::time::Duration;

use proptest::prelude::*;
use pullsim_policy::messages::{go_duration, go_quote};
use pullsim_policy::{
    Backoff, Presence, PullPolicy, apply_default_image_tag, decide, default_pull_policy,
};

proptest! {
    /// Defaulting and the default tag accept any string without panicking, and agree: an image
    /// whose default tag cannot be applied is never defaulted to Always.
    #[test]
    fn defaulting_never_panics(s in ".{0,300}") {
        let policy = default_pull_policy(&s);
        if apply_default_image_tag(&s).is_err() {
            prop_assert_eq!(policy, PullPolicy::IfNotPresent);
        }
    }

    /// A name the kubelet would send with `:latest` appended is always defaulted to Always.
    #[test]
    fn appended_latest_means_always(s in "[a-z0-9]{1,10}(/[a-z0-9]{1,10}){0,2}") {
        let applied = apply_default_image_tag(&s).unwrap();
        prop_assert_eq!(applied.as_ref(), format!("{s}:latest"));
        prop_assert_eq!(default_pull_policy(&s), PullPolicy::Always);
    }

    /// %q output is quoted, has no raw control characters, and is the identity inside the quotes
    /// for printable ASCII without `"` and `\`.
    #[test]
    fn quote_is_well_formed(s in "\\PC{0,50}|[\\x00-\\x7f]{0,50}") {
        let q = go_quote(&s);
        prop_assert!(q.starts_with('"') && q.ends_with('"') && q.len() >= 2);
        prop_assert!(!q.chars().any(|c| c.is_control()));
        if s.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\') {
            prop_assert_eq!(q, format!("\"{s}\""));
        }
    }

    /// Go duration strings end in a unit and round-trip whole seconds below an hour.
    #[test]
    fn duration_strings(n in 0u64..u64::MAX, secs in 1u64..3600) {
        let d = go_duration(Duration::from_nanos(n));
        prop_assert!(d.ends_with('s'));
        let m = secs / 60;
        let s = secs % 60;
        let want = if m > 0 { format!("{m}m{s}s") } else { format!("{s}s") };
        prop_assert_eq!(go_duration(Duration::from_secs(secs)), want);
    }

    /// Back-off delays are always between the initial delay and the cap, whatever the timing.
    #[test]
    fn backoff_bounded(steps in proptest::collection::vec(0u64..2000, 1..40)) {
        let mut b = Backoff::kubelet();
        let mut now = Duration::ZERO;
        for step in steps {
            now += Duration::from_secs(step);
            b.next("k", now);
            let d = b.get("k").unwrap();
            prop_assert!(d >= Duration::from_secs(10) && d <= Duration::from_secs(300));
            prop_assert!(b.is_in_backoff("k", now));
        }
    }

    /// `Always` always pulls; a present, accessible image is never an error.
    #[test]
    fn decision_invariants(p in 0usize..3, present in any::<bool>(), accessible in any::<bool>()) {
        let policy = PullPolicy::ALL[p];
        let presence = if present { Presence::Present { accessible } } else { Presence::Absent };
        let d = decide(policy, presence);
        if policy == PullPolicy::Always {
            prop_assert_eq!(d, pullsim_policy::Decision::Pull);
        }
        if present && accessible && policy != PullPolicy::Always {
            prop_assert_eq!(d, pullsim_policy::Decision::UseLocal);
        }
    }
}
