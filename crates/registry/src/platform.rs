//! Platforms and the choice of a manifest from an index, as containerd's platform matcher
//! (`github.com/containerd/platforms`: `database.go` normalization, `compare.go` `Only`).

use std::fmt;
use std::str::FromStr;

/// `os/architecture[/variant]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`, ...
    pub os: String,
    /// `amd64`, `arm64`, `arm`, `386`, ...
    pub architecture: String,
    /// `v7`, `v8`, ... (empty when none).
    pub variant: Option<String>,
}

/// An invalid `--platform` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// Not `os/arch[/variant]`.
    #[error("invalid platform {value:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    Invalid {
        /// The value given.
        value: String,
    },
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || PlatformError::Invalid {
            value: s.to_string(),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }
}

impl Platform {
    /// A platform, as given (not normalized).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// The platform this program runs on (containerd's `DefaultSpec`: `linux` and the Go name
    /// of the CPU architecture).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        let variant = if arch == "arm" { Some("v7") } else { None };
        Platform::new("linux", arch, variant).normalize()
    }

    /// containerd's `Normalize`: lower-case, architecture aliases, and variant defaults
    /// (arm64 `v8`/`8`/`v8.0` → no variant; arm default `v7`; amd64 `v1` → none).
    pub fn normalize(&self) -> Platform {
        let os = self.os.to_lowercase();
        let os = if os == "macos" {
            "darwin".to_string()
        } else {
            os
        };
        let mut arch = self.architecture.to_lowercase();
        let mut variant = self.variant.clone().unwrap_or_default().to_lowercase();
        match arch.as_str() {
            "i386" => {
                arch = "386".into();
                variant.clear();
            }
            "x86_64" | "x86-64" | "amd64" => {
                arch = "amd64".into();
                if variant == "v1" {
                    variant.clear();
                }
            }
            "aarch64" | "arm64" => {
                arch = "arm64".into();
                let (major, minor) = match variant.split_once('.') {
                    Some((a, b)) => (a.trim_start_matches('v').to_string(), Some(b.to_string())),
                    None => (variant.trim_start_matches('v').to_string(), None),
                };
                let minor = minor.filter(|m| m != "0");
                variant = if (major.is_empty() || major == "8") && minor.is_none() {
                    String::new()
                } else {
                    match minor {
                        Some(m) => format!("v{major}.{m}"),
                        None => format!("v{major}"),
                    }
                };
            }
            "armhf" => {
                arch = "arm".into();
                variant = "v7".into();
            }
            "armel" => {
                arch = "arm".into();
                variant = "v6".into();
            }
            "arm" => {
                variant = match variant.as_str() {
                    "" | "7" => "v7".into(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
            }
            _ => {}
        }
        Platform {
            os,
            architecture: arch,
            variant: if variant.is_empty() {
                None
            } else {
                Some(variant)
            },
        }
    }

    /// containerd's `platformVector`: this platform and the ones it can also run, best first
    /// (amd64 → 386; arm64/v8.x → lower v8 minors and arm/v8..v5; arm/vN → arm/vN-1..v5).
    pub fn compatible(&self) -> Vec<Platform> {
        let p = self.normalize();
        let mut out = vec![p.clone()];
        let with = |arch: &str, variant: Option<String>| Platform {
            os: p.os.clone(),
            architecture: arch.to_string(),
            variant,
        };
        match p.architecture.as_str() {
            "amd64" => {
                if let Some(n) = p.variant.as_deref().and_then(variant_number) {
                    for k in (1..n).rev() {
                        out.push(with("amd64", Some(format!("v{k}"))));
                    }
                }
                out.push(with("386", None));
            }
            "arm" => {
                if let Some(n) = p.variant.as_deref().and_then(variant_number) {
                    for k in (5..n).rev() {
                        out.push(with("arm", Some(format!("v{k}"))));
                    }
                }
            }
            "arm64" => {
                let variant = p.variant.clone().unwrap_or_else(|| "v8".to_string());
                let (major, minor) = match variant.trim_start_matches('v').split_once('.') {
                    Some((a, b)) => (
                        a.parse::<u32>().ok(),
                        b.parse::<u32>()
                            .ok()
                            .filter(|m| *m <= MAX_VARIANT_NUMBER)
                            .unwrap_or(0),
                    ),
                    None => (variant.trim_start_matches('v').parse::<u32>().ok(), 0),
                };
                if let Some(mut major) = major.filter(|m| *m >= 8) {
                    let mut minor = minor;
                    if major == 9 {
                        for m in (0..minor).rev() {
                            let v = if m == 0 {
                                "v9".to_string()
                            } else {
                                format!("v9.{m}")
                            };
                            out.push(with("arm64", Some(v)).normalize());
                        }
                        // v9.x is compatible with v8.(x+5)
                        minor += 5;
                        major = 8;
                        out.push(with("arm64", Some(format!("v8.{minor}"))).normalize());
                    }
                    for m in (0..minor).rev() {
                        let v = if m == 0 {
                            format!("v{major}")
                        } else {
                            format!("v{major}.{m}")
                        };
                        out.push(with("arm64", Some(v)).normalize());
                    }
                }
                for k in (5..=8).rev() {
                    out.push(with("arm", Some(format!("v{k}"))));
                }
            }
            _ => {}
        }
        out
    }

    /// containerd's matcher `Match`: equal after normalizing the candidate.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let a = self.normalize();
        let b = candidate.normalize();
        a.os == b.os && a.architecture == b.architecture && a.variant == b.variant
    }
}

/// The largest variant number (`amd64/vN`, `arm/vN`, the minor of `arm64/v8.N`) whose lower
/// variants [`Platform::compatible`] lists. containerd's `platformVector` counts down from any
/// number `strconv.Atoi` accepts, so `--platform linux/amd64/v4000000000` would list four
/// billion platforms (and `arm64/v9.4294967295` overflowed the minor here): above this bound a
/// variant number counts as unparseable (no lower variants), as one `Atoi` rejects does. Real
/// variants stop at amd64 v4, arm v8 and arm64 v9.5.
pub const MAX_VARIANT_NUMBER: u32 = 64;

/// The number of a `vN` (or `N`) variant, when it is one within [`MAX_VARIANT_NUMBER`].
fn variant_number(v: &str) -> Option<u32> {
    v.trim_start_matches('v')
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_VARIANT_NUMBER)
}

/// Index of the best entry for `wanted` among `candidates` (`Only(wanted)` ordering: the first
/// compatible platform in preference order; among equals, the first in the index).
pub fn choose(wanted: &Platform, candidates: &[Option<Platform>]) -> Option<usize> {
    for pref in wanted.compatible() {
        if let Some(i) = candidates
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| pref.matches(c)))
        {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn normalize_table() {
        // github.com/containerd/platforms database.go normalizeArch / platforms_test.go
        for (input, want) in [
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/i386", "linux/386"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64"),
            ("linux/arm64/v8.0", "linux/arm64"),
            ("linux/arm64/v8.2", "linux/arm64/v8.2"),
            ("linux/arm64/v9", "linux/arm64/v9"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/6", "linux/arm/v6"),
            ("Linux/AMD64", "linux/amd64"),
        ] {
            assert_eq!(p(input).normalize().to_string(), want, "{input}");
        }
    }

    #[test]
    fn compatible_vectors() {
        // github.com/containerd/platforms compare.go platformVector / compare_test.go
        let v: Vec<String> = p("linux/amd64")
            .compatible()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(v, ["linux/amd64", "linux/386"]);
        let v: Vec<String> = p("linux/arm64")
            .compatible()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(
            v,
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        let v: Vec<String> = p("linux/arm/v7")
            .compatible()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(v, ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]);
    }

    #[test]
    fn choose_table() {
        let idx = vec![
            Some(p("linux/amd64")),
            Some(p("linux/arm64/v8")),
            Some(p("linux/arm/v7")),
            None,
        ];
        assert_eq!(choose(&p("linux/amd64"), &idx), Some(0));
        assert_eq!(choose(&p("linux/arm64"), &idx), Some(1));
        assert_eq!(choose(&p("linux/arm64/v8"), &idx), Some(1));
        assert_eq!(choose(&p("linux/arm/v7"), &idx), Some(2));
        assert_eq!(choose(&p("linux/arm/v6"), &idx), None);
        assert_eq!(choose(&p("windows/amd64"), &idx), None);
        // amd64 falls back to 386
        let only386 = vec![Some(p("linux/386"))];
        assert_eq!(choose(&p("linux/amd64"), &only386), Some(0));
        // arm64 host can run arm/v7 when no arm64 entry exists
        let armonly = vec![Some(p("linux/arm/v7"))];
        assert_eq!(choose(&p("linux/arm64"), &armonly), Some(0));
    }

    #[test]
    fn parse_errors() {
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }
}
