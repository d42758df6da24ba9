//! Content digests, validated exactly as opencontainers/go-digest v1.0.0 `Digest.Validate`
//! (digest.go, algorithm.go) with sha256, sha384 and sha512 available, as in the kubelet binary
//! (which links crypto/sha256 and crypto/sha512).

use std::fmt;
use std::str::FromStr;

pub use crate::algorithm::Algorithm;
use crate::error::ParseError;

/// A validated digest such as `sha256:<64 lowercase hex>`. Display is the digest string.
///
/// Contract: every `Digest` value passed go-digest's `Validate`: a supported algorithm and an
/// encoded part of exactly the algorithm's length in lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    value: String,
    algorithm: Algorithm,
}

impl Digest {
    /// Parse and validate a digest string (go-digest `Parse`).
    pub fn parse(s: &str) -> Result<Digest, ParseError> {
        let algorithm = validate(s)?;
        Ok(Digest {
            value: s.to_owned(),
            algorithm,
        })
    }

    /// A sha256 digest from its 64 lowercase hex characters.
    pub fn from_sha256_hex(hex: &str) -> Result<Digest, ParseError> {
        let mut s = String::with_capacity(7 + hex.len());
        s.push_str("sha256:");
        s.push_str(hex);
        let algorithm = validate(&s)?;
        Ok(Digest {
            value: s,
            algorithm,
        })
    }

    /// The digest's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded (hex) part after the ':'.
    pub fn encoded(&self) -> &str {
        &self.value[self.algorithm.as_str().len() + 1..]
    }

    /// The whole digest string, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.value)
    }
}

impl FromStr for Digest {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

/// go-digest's `DigestRegexpAnchored`: `^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`.
fn matches_go_digest_regexp(s: &str) -> bool {
    let Some((alg, enc)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['.', '+', '_', '-']).all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'=' || c == b'_' || c == b'-');
    alg_ok && enc_ok
}

/// go-digest v1.0.0 `Digest.Validate`, in the same order of checks.
pub(crate) fn validate(s: &str) -> Result<Algorithm, ParseError> {
    let colon = s.find(':');
    let Some(i) = colon.filter(|&i| i > 0 && i + 1 != s.len()) else {
        let reason = match colon {
            None => "no ':' between algorithm and encoded value",
            Some(0) => "the algorithm before ':' is empty",
            Some(_) => "the encoded value after ':' is empty",
        };
        return Err(ParseError::DigestInvalidFormat {
            digest: s.to_owned(),
            reason: reason.to_owned(),
        });
    };
    let (alg, enc) = (&s[..i], &s[i + 1..]);
    let Some(algorithm) = Algorithm::from_name(alg) else {
        if !matches_go_digest_regexp(s) {
            return Err(ParseError::DigestInvalidFormat {
                digest: s.to_owned(),
                reason: format!(
                    "algorithm {alg:?} is not lowercase letters and digits joined by '.', '+', '_' or '-', or the encoded value has characters outside [a-zA-Z0-9=_-]"
                ),
            });
        }
        return Err(ParseError::DigestUnsupported {
            digest: s.to_owned(),
            algorithm: alg.to_owned(),
        });
    };
    if enc.len() != algorithm.hex_len() {
        return Err(ParseError::DigestInvalidLength {
            digest: s.to_owned(),
            algorithm,
            expected: algorithm.hex_len(),
            actual: enc.len(),
        });
    }
    if let Some(pos) = enc
        .bytes()
        .position(|c| !(c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
    {
        let c = enc[pos..].chars().next().unwrap_or('\u{fffd}');
        return Err(ParseError::DigestInvalidFormat {
            digest: s.to_owned(),
            reason: format!(
                "character {c:?} at offset {} of the {algorithm} value is not lowercase hex",
                pos
            ),
        });
    }
    Ok(algorithm)
}
