//! Go durations (`time.ParseDuration` / `Duration.String`), used by the kubelet configuration
//! file and the credential plugin config: any string parses or fails without panicking, within
//! Go's int64 range, and every int64 formats to a string that parses back to it.

use proptest::prelude::*;
use pullsim_credentials::plugin::duration::{format_go_duration, parse_go_duration};

/// Found by `duration_like_strings_never_panic` (issue 11): a fraction of 30 digits times the
/// hour overflowed i128 (`attempt to multiply with overflow`), and a fraction added to an
/// integer part near i128::MAX overflowed the sum; both panicked in debug builds.
#[test]
fn long_fractions_do_not_overflow() {
    let thirty_nines = "9".repeat(30);
    assert_eq!(
        parse_go_duration(&format!("0.{thirty_nines}h")),
        Ok(3_599_999_999_999)
    );
    assert_eq!(
        parse_go_duration(&format!("1.{}h", "9".repeat(400))),
        Ok(7_199_999_999_999)
    );
    let near_max = (i128::MAX / 1000).to_string();
    assert!(parse_go_duration(&format!("{near_max}.999us")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_string_never_panics(s in "\\PC{0,40}") {
        if let Ok(n) = parse_go_duration(&s) {
            prop_assert!(i128::from(i64::MIN) <= n && n <= i128::from(i64::MAX), "{}", n);
        }
    }

    #[test]
    fn duration_like_strings_never_panic(
        parts in proptest::collection::vec(
            ("[0-9]{0,45}", proptest::option::of("[0-9]{0,45}"), proptest::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h", "", "x"])),
            1..4,
        ),
        sign in proptest::sample::select(vec!["", "-", "+"]),
    ) {
        let mut s = sign.to_string();
        for (int, frac, unit) in &parts {
            s.push_str(int);
            if let Some(f) = frac {
                s.push('.');
                s.push_str(f);
            }
            s.push_str(unit);
        }
        if let Ok(n) = parse_go_duration(&s) {
            prop_assert!(i128::from(i64::MIN) <= n && n <= i128::from(i64::MAX), "{} -> {}", s, n);
        }
    }

    #[test]
    fn every_int64_round_trips(n in any::<i64>()) {
        let s = format_go_duration(i128::from(n));
        prop_assert_eq!(parse_go_duration(&s), Ok(i128::from(n)), "{}", s);
    }
}
