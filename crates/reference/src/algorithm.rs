//! Digest algorithms (go-digest algorithm.go): the ones the kubelet binary links.

use std::fmt;

/// A digest algorithm that the kubelet can verify (go-digest `Algorithm` with its hash linked).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha256`: 64 lowercase hex characters. The canonical algorithm.
    Sha256,
    /// `sha384`: 96 lowercase hex characters.
    Sha384,
    /// `sha512`: 128 lowercase hex characters.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written in a digest (`"sha256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex characters in an encoded value of this algorithm (twice the hash size).
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm named `s`, if it is one the kubelet supports.
    pub fn from_name(s: &str) -> Option<Algorithm> {
        match s {
            "sha256" => Some(Algorithm::Sha256),
            "sha384" => Some(Algorithm::Sha384),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
