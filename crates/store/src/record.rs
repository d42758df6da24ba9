//! Records kept in the index: images.

use std::collections::BTreeMap;

use pullsim_reference::Digest;
use serde::{Deserialize, Serialize};

/// How an image came into the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Loaded from an archive or layout (`pullsim images load`): a preloaded image in the
    /// kubelet's sense (KEP-2535 `NeverVerifyPreloadedImages` does not verify it).
    Preloaded,
    /// Pulled from a registry.
    Pulled,
}

impl Origin {
    /// `"preloaded"` or `"pulled"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Preloaded => "preloaded",
            Origin::Pulled => "pulled",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One name of an image in the index: a normalized repository with a tag or a digest, and
/// what it points to. Several records may share a manifest and an image ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Normalized repository name, e.g. `docker.io/library/nginx`.
    pub name: String,
    /// The tag, when the image was named by tag.
    pub tag: Option<String>,
    /// The digest the image was named by, when it was named by digest.
    #[serde(with = "crate::serde_digest::opt")]
    pub digest: Option<Digest>,
    /// The reference as the user or pod spec wrote it (e.g. `nginx`).
    pub written_as: String,
    /// Digest of the top-level manifest (or index).
    #[serde(with = "crate::serde_digest")]
    pub manifest_digest: Digest,
    /// Media type of the top-level manifest.
    pub media_type: String,
    /// Digest of the image config: the image ID.
    #[serde(with = "crate::serde_digest")]
    pub config_digest: Digest,
    /// Platform (`os/arch[/variant]`), when known.
    pub platform: Option<String>,
    /// Total size of all blobs of the image (manifests, config, layers), in bytes.
    pub size: u64,
    /// Every blob of the image, top-level manifest first.
    #[serde(with = "crate::serde_digest::vec")]
    pub blobs: Vec<Digest>,
    /// When the store first saw this name (Unix ms).
    pub first_seen_ms: u64,
    /// When the image was last used (Unix ms).
    pub last_used_ms: u64,
    /// Pinned images are never garbage-collected.
    pub pinned: bool,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// Preloaded or pulled.
    pub origin: Origin,
}

impl ImageRecord {
    /// The index key of this record: `name:tag`, or `name@digest` when named by digest.
    pub fn key(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{}", self.name, d),
            (None, Some(t)) => format!("{}:{}", self.name, t),
            (None, None) => format!("{}@{}", self.name, self.manifest_digest),
        }
    }

    /// The image ID (`sha256:<hex>` of the config).
    pub fn id(&self) -> String {
        self.config_digest.to_string()
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
