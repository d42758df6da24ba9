//! RFC 3339 times as Go writes and reads them (`time.RFC3339`): the kubelet's record files
//! (`metav1.Time`), token answers (`issued_at`), and pullsim's JSON event times. One
//! implementation for every crate.
//!
//! Upstream: go/src/time/format_rfc3339.go (appendFormatRFC3339, parseRFC3339), calendar
//! arithmetic after Howard Hinnant's `days_from_civil` / `civil_from_days`.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn date_time(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `t.UTC().Format(time.RFC3339)`: `2024-10-21T12:26:40Z`.
pub fn format_rfc3339(unix_secs: i64) -> String {
    format!("{}Z", date_time(unix_secs))
}

/// UTC with milliseconds, `2026-11-28T17:00:00.123Z` (Go's `2006-01-02T15:04:05.000Z07:00`).
pub fn format_rfc3339_millis(unix_ms: i64) -> String {
    format!(
        "{}.{:03}Z",
        date_time(unix_ms.div_euclid(1000)),
        unix_ms.rem_euclid(1000)
    )
}

/// Go's `time.Parse(time.RFC3339, s)`: `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or `±HH:MM`,
/// a real calendar date. Returns Unix seconds and the nanoseconds of the fraction (digits past
/// the ninth dropped).
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let mut scale = 100_000_000;
        for digit in &b[start..i.min(start + 9)] {
            nanos += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    let offset = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some((
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset,
        nanos,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_as_go() {
        for (s, t) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2024-10-21T12:26:40Z", 1_729_513_600),
            ("2000-02-29T23:59:59Z", 951_868_799),
            ("1969-12-31T23:59:59Z", -1),
            ("2024-01-02T03:04:05Z", 1_704_164_645),
        ] {
            assert_eq!(parse_rfc3339(s), Some((t, 0)), "{s}");
            assert_eq!(format_rfc3339(t), s);
        }
        assert_eq!(
            parse_rfc3339("2024-10-21T14:26:40.123+02:00"),
            Some((1_729_513_600, 123_000_000))
        );
        assert_eq!(
            parse_rfc3339("2024-01-02T03:04:05.5+01:00"),
            Some((1_704_161_045, 500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2024-01-02T03:04:05.1234567891Z"),
            Some((1_704_164_645, 123_456_789))
        );
        for bad in [
            "2024-10-21 12:26:40Z",
            "2024-02-30T00:00:00Z",
            "2024-10-21T12:26:40",
            "2024-10-21T12:26:40.Z",
            "2024-10-21t12:26:40Z",
            "x",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn millis_format() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_rfc3339_millis(1_796_000_000_123),
            "2026-11-30T00:53:20.123Z"
        );
    }
}
