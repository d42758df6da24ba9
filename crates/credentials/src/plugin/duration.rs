//! Go's `time.ParseDuration` and `time.Duration.String`, for `metav1.Duration` fields
//! (`defaultCacheDuration`, `cacheDuration`). Ported from go/src/time/format.go.

/// Parse a Go duration string (`"1h30m"`, `"0"`, `"-1.5s"`) into signed nanoseconds.
/// Errors use Go's texts (`time: invalid duration "x"`, `time: missing unit in duration "1"`,
/// `time: unknown unit "x" in duration "1x"`).
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    let orig = s;
    let quoted = crate::gourl::go_quote(orig);
    let invalid = || format!("time: invalid duration {quoted}");
    let mut s = s;
    let mut neg = false;
    if let Some(c @ ('-' | '+')) = s.chars().next() {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        let mut had_dot = false;
        if let Some(rest) = s.strip_prefix('.') {
            had_dot = true;
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..n];
            s = &rest[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            // No digits at all (e.g. ".s" or "s").
            return Err(invalid());
        }
        let _ = had_dot;
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {quoted}",
                    crate::gourl::go_quote(unit)
                ));
            }
        };
        let int_val: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| invalid())?
        };
        let mut v = int_val.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Go's leadingFraction keeps the digits an int64 holds and drops the rest; 18
            // digits times the largest unit (an hour in ns) stays far within i128.
            let digits = frac_part.len().min(18);
            let frac: i128 = frac_part[..digits].parse().map_err(|_| invalid())?;
            let denom = 10i128.pow(digits as u32);
            v = v.checked_add(frac * scale / denom).ok_or_else(invalid)?;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as i128 + 1 {
            return Err(invalid());
        }
    }
    if neg {
        total = -total;
    }
    if total > i64::MAX as i128 {
        return Err(invalid());
    }
    Ok(total)
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

    // go/src/time/time_test.go parseDurationTests / durationTests (subset).
    #[test]
    fn parse_table() {
        let s = 1_000_000_000i128;
        let cases: &[(&str, i128)] = &[
            ("0", 0),
            ("5s", 5 * s),
            ("30s", 30 * s),
            ("1478s", 1478 * s),
            ("-5s", -5 * s),
            ("+5s", 5 * s),
            ("-0", 0),
            ("5.0s", 5 * s),
            ("5.6s", 5 * s + 600_000_000),
            ("5.s", 5 * s),
            (".5s", 500_000_000),
            ("1.004s", s + 4_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("13ms", 13_000_000),
            ("15m", 15 * 60 * s),
            ("16h", 16 * 3600 * s),
            ("3h30m", (3 * 3600 + 30 * 60) * s),
            ("10.5s4m", 4 * 60 * s + 10 * s + 500_000_000),
            ("-2m3.4s", -(2 * 60 * s + 3 * s + 400_000_000)),
            (
                "1h2m3s4ms5us6ns",
                3600 * s + 2 * 60 * s + 3 * s + 4_000_000 + 5_000 + 6,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text), Ok(*want), "{text}");
        }
        for bad in ["", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "3000000h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_go_duration("3").unwrap_err(),
            "time: missing unit in duration \"3\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_go_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
    }

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
