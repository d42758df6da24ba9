//! Go's `time.ParseDuration` (`src/time/format.go`, go1.22+) and `time.Duration.String()`
//! (`src/time/time.go`): durations as Go programs read and print them — the kubelet's
//! configuration (`imageMinimumGCAge`), credential provider configs (`defaultCacheDuration`),
//! containerd's hosts.toml (`dial_timeout`) and config.toml (`image_pull_progress_timeout`).
//!
//! A duration is an optionally signed sequence of decimal numbers, each with an optional
//! fraction and a unit suffix: `300ms`, `-1.5h`, `2h45m`. Units: `ns`, `us` (or `µs` U+00B5,
//! `μs` U+03BC), `ms`, `s`, `m`, `h`. `0` alone needs no unit. The error texts are Go's.

use crate::go_quote;

/// Why a string is not a Go duration. Display: Go's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// `time: invalid duration "X"` (empty, bad character, no digits, or overflow).
    #[error("time: invalid duration {}", go_quote(.input))]
    Invalid {
        /// The whole input.
        input: String,
    },
    /// `time: missing unit in duration "X"`.
    #[error("time: missing unit in duration {}", go_quote(.input))]
    MissingUnit {
        /// The whole input.
        input: String,
    },
    /// `time: unknown unit "u" in duration "X"`.
    #[error("time: unknown unit {} in duration {}", go_quote(.unit), go_quote(.input))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

/// `leadingInt`: the leading digits, `None` on overflow.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// `leadingFraction`: the digits after the dot; digits past the precision are dropped.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1.0_f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let c = u64::from(s[i] - b'0');
        i += 1;
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + c;
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}

/// Go's `time.ParseDuration`: the duration in nanoseconds (negative allowed, as in Go).
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid {
        input: input.to_string(),
    };
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let before = s.len();
        let (mut v, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let pre = before != s.len();
        let mut post = false;
        let (mut f, mut scale) = (0_u64, 1.0_f64);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (ff, sc, rest) = leading_fraction(s);
            (f, scale, s) = (ff, sc, rest);
            post = before != s.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(DurationError::MissingUnit {
                input: input.to_string(),
            });
        }
        // The unit ends at an ASCII byte (or the end), so this is a char boundary.
        let unit = String::from_utf8_lossy(&s[..i]).into_owned();
        s = &s[i..];
        let Some(unit_ns) = unit_nanos(&unit) else {
            return Err(DurationError::UnknownUnit {
                unit,
                input: input.to_string(),
            });
        };
        if v > LIMIT / unit_ns {
            return Err(invalid());
        }
        v *= unit_ns;
        if f > 0 {
            // Go: v += uint64(float64(f) * (float64(unit) / scale))
            v += (f as f64 * (unit_ns as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // d <= 1<<63 here, so the negation fits (i64::MIN for exactly 1<<63).
        return Ok((d as i128).wrapping_neg() as i64);
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `time.Duration.String()` for signed nanoseconds (`"1m0s"`, `"-1.5s"`, `"0s"`).
pub fn format_go_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_str(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        let sec_nanos = u % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_str(sec_nanos, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac_str(v: u128, div: u128) -> String {
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from go/src/time/time_test.go (parseDurationTests, parseDurationErrorTests).
    #[test]
    fn go_parse_duration_table() {
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5_000_000_000),
            ("30s", 30_000_000_000),
            ("1478s", 1_478_000_000_000),
            ("-5s", -5_000_000_000),
            ("+5s", 5_000_000_000),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5_000_000_000),
            ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000),
            (".5s", 500_000_000),
            ("1.0s", 1_000_000_000),
            ("1.00s", 1_000_000_000),
            ("1.004s", 1_004_000_000),
            ("1.0040s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14_000_000_000),
            ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000),
            ("3h30m", 12_600_000_000_000),
            ("10.5s4m", 250_500_000_000),
            ("-2m3.4s", -123_400_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
        ];
        for (s, want) in ok {
            assert_eq!(parse_go_duration(s), Ok(*want), "{s}");
        }
        let bad: &[(&str, &str)] = &[
            ("", r#"time: invalid duration """#),
            ("3", r#"time: missing unit in duration "3""#),
            ("-", r#"time: invalid duration "-""#),
            ("s", r#"time: invalid duration "s""#),
            (".", r#"time: invalid duration ".""#),
            ("-.", r#"time: invalid duration "-.""#),
            (".s", r#"time: invalid duration ".s""#),
            ("+.s", r#"time: invalid duration "+.s""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            (
                "9223372036854775810ns",
                r#"time: invalid duration "9223372036854775810ns""#,
            ),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            (
                "-9223372036854775809ns",
                r#"time: invalid duration "-9223372036854775809ns""#,
            ),
            (
                "9223372036854776us",
                r#"time: invalid duration "9223372036854776us""#,
            ),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            (
                "9223372036854775.808us",
                r#"time: invalid duration "9223372036854775.808us""#,
            ),
            (
                "9223372036854ms775us808ns",
                r#"time: invalid duration "9223372036854ms775us808ns""#,
            ),
        ];
        for (s, want) in bad {
            let err = parse_go_duration(s).expect_err(s);
            assert_eq!(err.to_string(), *want, "{s:?}");
        }
    }

    // go/src/time/time_test.go durationTests (subset).
    #[test]
    fn format_table() {
        let s = 1_000_000_000i128;
        let cases: &[(i128, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3 * s + 300_000_000, "3.3s"),
            (4 * 60 * s + 5 * s, "4m5s"),
            (4 * 60 * s + 5 * s + 1_000_000, "4m5.001s"),
            (5 * 3600 * s + 6 * 60 * s + 7 * s + 1_000_000, "5h6m7.001s"),
            (8 * 60 * s + 1, "8m0.000000001s"),
            (-60 * s, "-1m0s"),
            (3600 * s, "1h0m0s"),
        ];
        for (n, want) in cases {
            assert_eq!(format_go_duration(*n), *want);
        }
    }
}
