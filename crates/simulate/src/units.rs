//! Quantities written in a scenario: sizes (`30MiB`, `1.5GB`, `512`), bandwidths (`1Gbps`,
//! `100Mbps`, `50MiB/s`) and durations (Go's `time.ParseDuration`: `6h`, `1m30s`, `40ms`).

use std::time::Duration;

use pullsim_reference::go_duration::parse_go_duration;

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    Some((n, s[end..].trim()))
}

fn size_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "" | "B" => 1.0,
        "kB" | "KB" | "k" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KiB" | "Ki" => 1024.0,
        "MiB" | "Mi" => 1024.0 * 1024.0,
        "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        "TiB" | "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

/// A size in bytes: a number with an optional unit (`B`, `kB`, `MB`, `GB`, `TB`, `KiB`, `MiB`,
/// `GiB`, `TiB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = split_number(s).ok_or_else(|| format!("invalid size {s:?}"))?;
    let m = size_unit(unit).ok_or_else(|| {
        format!("invalid size {s:?}: unknown unit {unit:?} (use B, kB, MB, GB, KiB, MiB, GiB)")
    })?;
    Ok((n * m).round() as u64)
}

/// A bandwidth in bytes per second: bits (`bps`, `kbps`, `Mbps`, `Gbps`) or bytes per second
/// (`MB/s`, `MiB/s`, …).
pub fn parse_bandwidth(s: &str) -> Result<f64, String> {
    let (n, unit) = split_number(s).ok_or_else(|| format!("invalid bandwidth {s:?}"))?;
    let bits = match unit {
        "bps" => Some(1.0),
        "kbps" | "Kbps" => Some(1e3),
        "Mbps" => Some(1e6),
        "Gbps" => Some(1e9),
        "Tbps" => Some(1e12),
        _ => None,
    };
    let v = match bits {
        Some(m) => n * m / 8.0,
        None => {
            let per = unit.strip_suffix("/s").ok_or_else(|| {
                format!("invalid bandwidth {s:?}: use Mbps, Gbps or a size per second (MiB/s)")
            })?;
            n * size_unit(per).ok_or_else(|| format!("invalid bandwidth {s:?}: unknown unit"))?
        }
    };
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("invalid bandwidth {s:?}: must be more than zero"))
    }
}

/// A non-negative Go duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s).map_err(|e| e.to_string())?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| format!("negative duration {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_bandwidths_durations() {
        assert_eq!(parse_size("30MiB").unwrap(), 30 * 1024 * 1024);
        assert_eq!(parse_size("1.5GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(
            parse_size("3 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(parse_bandwidth("1Gbps").unwrap(), 125_000_000.0);
        assert_eq!(parse_bandwidth("2MiB/s").unwrap(), 2.0 * 1024.0 * 1024.0);
        assert!(parse_bandwidth("0Mbps").is_err());
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("6x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"6x\""
        );
    }
}
