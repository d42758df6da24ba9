//! Go formatting the kubelet's messages depend on: `%q` (strconv.Quote, from pullsim-reference)
//! and `time.Duration.String()`.
//!
//! Upstream: go/src/strconv/quote.go (appendQuotedWith, appendEscapedRune),
//! go/src/unicode/graphic.go (IsPrint), go/src/time/time.go (Duration.format).

use std::time::Duration;

pub use pullsim_reference::go_quote;

/// Go's `time.Duration.String()`: `0s`, `1ns`, `1.5µs`, `500ms`, `1.2s`, `1m30s`, `2h0m0s`.
///
/// Go durations are signed 64-bit nanosecond counts; a longer Rust `Duration` is clamped to
/// Go's maximum (`2562047h47m16.854775807s`).
pub fn go_duration(d: Duration) -> String {
    let nanos = i128::try_from(d.as_nanos())
        .unwrap_or(i128::MAX)
        .min(i128::from(i64::MAX));
    pullsim_reference::go_duration::format_go_duration(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TestDurationString, go/src/time/time_test.go (durationTests; Rust durations are unsigned,
    /// so the negative cases do not apply).
    #[test]
    fn duration_string_go_table() {
        let table: &[(&str, u64)] = &[
            ("0s", 0),
            ("1ns", 1),
            ("1.1µs", 1_100),
            ("2.2ms", 2_200_000),
            ("3.3s", 3_300_000_000),
            ("4m5s", (4 * 60 + 5) * 1_000_000_000),
            ("4m5.001s", 4 * 60 * 1_000_000_000 + 5_001_000_000),
            (
                "5h6m7.001s",
                (5 * 3600 + 6 * 60) * 1_000_000_000 + 7_001_000_000,
            ),
            ("8m0.000000001s", 8 * 60 * 1_000_000_000 + 1),
            ("2562047h47m16.854775807s", i64::MAX as u64),
        ];
        for (want, nanos) in table {
            assert_eq!(
                go_duration(Duration::from_nanos(*nanos)),
                *want,
                "{nanos}ns"
            );
        }
    }

    /// Values seen in kubelet events (`Successfully pulled image ... in 1.2s`).
    #[test]
    fn duration_string_kubelet_values() {
        let table: &[(&str, Duration)] = &[
            ("1.2s", Duration::from_millis(1200)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5µs", Duration::from_nanos(1500)),
            ("2h0m0s", Duration::from_secs(7200)),
            ("1m0s", Duration::from_secs(60)),
            ("308ms", Duration::from_millis(308)),
            ("10s", Duration::from_secs(10)),
            ("5m0s", Duration::from_secs(300)),
        ];
        for (want, d) in table {
            assert_eq!(go_duration(*d), *want);
        }
    }

    #[test]
    fn duration_beyond_go_range_is_clamped() {
        assert_eq!(
            go_duration(Duration::from_secs(u64::MAX)),
            "2562047h47m16.854775807s"
        );
    }

    /// Quote cases from go/src/strconv/quote_test.go (quotetests) that are valid UTF-8, plus
    /// `ÿ` (printable, kept).
    #[test]
    fn quote_go_table() {
        let table: &[(&str, &str)] = &[
            ("\u{07}\u{08}\u{0C}\r\n\t\u{0B}", r#""\a\b\f\r\n\t\v""#),
            ("\\", r#""\\""#),
            ("abc\u{FF}def", "\"abc\u{FF}def\""),
            ("\u{263a}", "\"\u{263a}\""),
            ("\u{10ffff}", r#""\U0010ffff""#),
            ("\u{04}", r#""\x04""#),
            (
                "!\u{00a0}!\u{2000}!\u{3000}!",
                r#""!\u00a0!\u2000!\u3000!""#,
            ),
            ("\u{7f}", r#""\x7f""#),
        ];
        for (input, want) in table {
            assert_eq!(go_quote(input), *want, "{input:?}");
        }
    }

    #[test]
    fn quote_image_names() {
        assert_eq!(go_quote("nginx:1.25"), r#""nginx:1.25""#);
        assert_eq!(go_quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(go_quote("a b"), r#""a b""#);
        assert_eq!(go_quote("ünïcödé"), "\"ünïcödé\"");
        assert_eq!(go_quote("zero\u{200b}width"), r#""zero\u200bwidth""#);
        assert_eq!(go_quote(""), r#""""#);
    }
}
