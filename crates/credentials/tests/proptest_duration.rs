//! Go durations (`time.ParseDuration` / `Duration.String`), used by the kubelet configuration
//! file and the credential plugin config: any string parses or fails without panicking, within
//! Go's int64 range, and every int64 formats to a string that parses back to it.

use proptest::prelude::*;
use pullsim_credentials::plugin::duration::{format_go_duration, parse_go_duration};

/// Found by `duration_like_strings_never_panic` (issue 11): a fraction of 30 digits times the
/// hour overflowed (`attempt to multiply with overflow`), and a fraction added to an integer part
/// near the limit overflowed the sum; both panicked in debug builds. Go keeps the fraction's
/// first 18 digits and scales them in float64 (`leadingFraction`, then
/// `uint64(float64(f) * (float64(unit) / scale))` in go/src/time/format.go), so 0.999…h is
/// exactly one hour.
#[test]
fn long_fractions_do_not_overflow() {
    let thirty_nines = "9".repeat(30);
    assert_eq!(
        parse_go_duration(&format!("0.{thirty_nines}h")),
        Ok(3_600_000_000_000)
    );
    assert_eq!(
        parse_go_duration(&format!("1.{}h", "9".repeat(400))),
        Ok(7_200_000_000_000)
    );
    let near_max = (i128::MAX / 1000).to_string();
    assert!(parse_go_duration(&format!("{near_max}.999us")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_string_never_panics(s in "\\PC{0,40}") {
        // Never panics; a value is an int64 of nanoseconds by its type, as Go's.
        let _ = parse_go_duration(&s);
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
        // Never panics, however long the digits (overflow is Go's `invalid duration`).
        if let Err(e) = parse_go_duration(&s) {
            prop_assert!(e.to_string().starts_with("time: "), "{} -> {}", s, e);
        }
    }

    #[test]
    fn every_int64_round_trips(n in any::<i64>()) {
        let s = format_go_duration(i128::from(n));
        prop_assert_eq!(parse_go_duration(&s), Ok(n), "{}", s);
    }
}
