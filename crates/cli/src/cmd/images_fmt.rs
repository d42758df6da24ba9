//! Formatting and parsing helpers of `pullsim images`: kubectl ages, crictl sizes, byte
//! quantities and Go durations.

use std::time::Duration;

/// kubectl's AGE column: `HumanDuration` of
/// staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go.
pub fn human_duration(d_ms: i64) -> String {
    let seconds = d_ms / 1000;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Go's `%.3g` of a non-negative number.
fn go_g3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let e = v.log10().floor() as i32;
    let scale = 10f64.powi(e - 2);
    let r = (v / scale).round() * scale;
    let e2 = r.log10().floor() as i32;
    if !(-4..3).contains(&e2) {
        let m = r / 10f64.powi(e2);
        let ms = trim_zeros(format!("{m:.2}"));
        let sign = if e2 < 0 { '-' } else { '+' };
        return format!("{ms}e{sign}{:02}", e2.abs());
    }
    let decimals = (2 - e2).max(0) as usize;
    trim_zeros(format!("{r:.decimals$}"))
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// crictl's SIZE column: go-units `HumanSizeWithPrecision(size, 3)` (decimal units).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g3(size), UNITS[i])
}

/// Parse a byte quantity: `1000`, `10k`/`10K`, `5M`, `2G`, `1T` (powers of 1000), `10Ki`,
/// `5Mi`, `2Gi`, `1Ti` (powers of 1024); a trailing `B` is accepted (`5MiB`, `5MB`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid byte quantity {s:?}: expected a number with an optional unit (k, M, G, T, Ki, Mi, Gi, Ti)"))?;
    let mult: f64 = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "invalid byte quantity {s:?}: unknown unit {other:?}"
            ));
        }
    };
    Ok((n * mult).round() as u64)
}

/// Parse a Go duration (`2m`, `1h30m`, `90s`, `500ms`, `0`) as Go's `time.ParseDuration` does
/// (the kubelet's flags); negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let n =
        pullsim_reference::go_duration::parse_go_duration(s.trim()).map_err(|e| e.to_string())?;
    let n =
        u64::try_from(n).map_err(|_| format!("invalid duration {s:?}: must not be negative"))?;
    Ok(Duration::from_nanos(n))
}

/// First 12 hex digits of an image ID (`sha256:` dropped), as crictl and docker show it.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values follow the branches of HumanDuration in
    // staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go (kubectl's AGE column).
    #[test]
    fn human_duration_matches_apimachinery() {
        let cases: &[(i64, &str)] = &[
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (70 * 60, "70m"),
            (47 * 60, "47m"),
            (8 * 3600, "8h"),
            (3 * 3600 + 10 * 60, "3h10m"),
            (4 * 86400 + 3 * 3600, "4d3h"),
            (7 * 86400, "7d"),
            (8 * 86400, "8d"),
            (367 * 86400, "367d"),
            (365 * 2 * 86400 + 86400, "2y1d"),
            (365 * 9 * 86400, "9y"),
            (-2, "<invalid>"),
            (-1, "0s"),
        ];
        for (secs, want) in cases {
            let got = if *secs == -1 {
                human_duration(-1500)
            } else if *secs == -2 {
                human_duration(-2500)
            } else {
                human_duration(secs * 1000)
            };
            assert_eq!(&got, want, "{secs}s");
        }
    }

    // go-units HumanSizeWithPrecision(size, 3) as crictl prints it (github.com/docker/go-units
    // size.go: divide by 1000 while >= 1000, then Go's "%.3g" and the decimal unit).
    #[test]
    fn human_size_matches_go_units() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1, "1B"),
            (999, "999B"),
            (1000, "1kB"),
            (1024, "1.02kB"),
            (1_500_000, "1.5MB"),
            (12_345_678, "12.3MB"),
            (123_456_789, "123MB"),
            (999_600, "1e+03kB"),
            (7_000_000_000, "7GB"),
        ];
        for (n, want) in cases {
            assert_eq!(&human_size(*n), want, "{n}");
        }
    }

    #[test]
    fn parses_quantities_and_durations() {
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("10Mi").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2_000_000_000);
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("5Xi").is_err());
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("2 minutes").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1m").is_err());
    }
}
