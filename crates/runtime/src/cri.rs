//! The CRI messages of the image service (`cri-api/pkg/apis/runtime/v1/api.proto`), reduced to
//! the fields the kubelet reads, plus a few pullsim extensions marked as such.

use serde::Serialize;

/// `ImageSpec`: an image reference as the kubelet sends it (the spec's image with the default
/// tag applied), or an image ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageSpec {
    /// The reference or image ID.
    pub image: String,
}

impl ImageSpec {
    /// An image spec for `image`.
    pub fn new(image: impl Into<String>) -> Self {
        ImageSpec {
            image: image.into(),
        }
    }
}

/// `PodSandboxConfig`, the metadata the kubelet sends with `PullImage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PodSandboxConfig {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod UID.
    pub uid: String,
}

/// `Image`: one image ID with every name it has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Image {
    /// The image ID (`sha256:<config digest>`).
    pub id: String,
    /// `repo:tag` names (normalized).
    pub repo_tags: Vec<String>,
    /// `repo@digest` names (normalized).
    pub repo_digests: Vec<String>,
    /// Size of the image's content in bytes (manifests, config and layers, each blob once):
    /// what containerd's CRI reports and what image GC counts.
    pub size: u64,
    /// Pinned images are never garbage-collected.
    pub pinned: bool,
    /// pullsim extension: the platform (`os/arch[/variant]`), when known.
    pub platform: Option<String>,
    /// pullsim extension: when the runtime first stored any name of this image (Unix ms). The
    /// kubelet keeps first-detected times in memory; a one-shot process needs them persisted.
    pub first_seen_unix_ms: u64,
    /// pullsim extension: when a container last used the image (Unix ms), see
    /// [`crate::ImageService::mark_used`].
    pub last_used_unix_ms: u64,
    /// pullsim extension: the image came from an archive (`images load`), not a registry.
    pub preloaded: bool,
}

/// `PullImageResponse`: the image reference, plus what the pull did (pullsim extension).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PullImageResponse {
    /// The image reference (image ID) of the pulled image.
    pub image_ref: String,
    /// pullsim extension: bytes received from the network for blobs.
    pub bytes_downloaded: u64,
    /// pullsim extension: blobs that were already present.
    pub blobs_skipped: usize,
    /// pullsim extension: the registry host that served the image.
    pub host: Option<String>,
}

/// `ImageFsInfo`: usage of the image filesystem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImageFsInfo {
    /// Bytes used by image content.
    pub used_bytes: u64,
    /// Number of content files (inodes) used.
    pub inodes_used: u64,
}

/// What the registry's auth flow met during one attempt (pullsim extension, for
/// `creds check`). Never holds a credential or a token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuthTrace {
    /// The scheme the registry asked for (`basic`, `bearer`), `None` when it asked for none.
    pub scheme: Option<String>,
    /// Whether a bearer token was obtained.
    pub token_obtained: bool,
    /// Status of the last registry answer.
    pub status: Option<u16>,
    /// The registry endpoint that resolved the reference, or whose error is reported
    /// (`https://mirror.example.com/v2`; for CRI-O, the source's reference).
    pub host: Option<String>,
}

/// The manifest (or index) a reference resolves to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// Digest of the manifest or index.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The credential a registry endpoint would be offered on a pull (pullsim extension, for
/// `pod explain`). Never holds the credential itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OfferedCredential {
    /// The credential the kubelet sent with the pull (the pod's secret or the node's keyring).
    Kubelet,
    /// The runtime's own configuration for this host (containerd's `registry.configs.<host>.auth`).
    RuntimeConfig,
    /// None: the host is asked anonymously.
    Anonymous,
}

impl OfferedCredential {
    /// In words, for text output.
    pub fn as_words(self) -> &'static str {
        match self {
            OfferedCredential::Kubelet => "the kubelet's credential",
            OfferedCredential::RuntimeConfig => "the runtime's own credential for this host",
            OfferedCredential::Anonymous => "no credential (anonymous)",
        }
    }
}

/// One registry endpoint a pull would try, in the runtime's order (pullsim extension, for
/// `pod explain`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteHost {
    /// The endpoint as the runtime reaches it (`https://mirror.example.com/v2`), or for CRI-O the
    /// reference it pulls from that source.
    pub endpoint: String,
    /// `mirror`, `server` (containerd's upstream or `server`), `primary` (CRI-O).
    pub role: &'static str,
    /// What the endpoint is used for (`pull`, `resolve`, …); empty when the runtime has no such
    /// notion.
    pub capabilities: Vec<&'static str>,
    /// The credential the endpoint would be offered.
    pub credential: OfferedCredential,
    /// Why the endpoint is skipped for this reference, when it is (a pull-only mirror for a tag,
    /// a digest-only mirror).
    pub skipped: Option<String>,
}

/// Something the runtime's configuration does that a user would not expect, with the fix
/// (pullsim extension: a hint, printed beside the kubelet's words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuntimeHint {
    /// A stable code (`containerd-config-path-ignored`).
    pub code: &'static str,
    /// One sentence of why.
    pub why: String,
    /// What to change.
    pub fix: String,
}

/// Where a pull of an image would go (pullsim extension, for `pod explain` and the hints of a
/// pull): the endpoints in order, and what the runtime's configuration does on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PullRoute {
    /// The endpoints in the order the runtime tries them.
    pub hosts: Vec<RouteHost>,
    /// Where the route came from (`/etc/containerd/certs.d/docker.io/hosts.toml`), when a file.
    pub source: Option<String>,
    /// What the runtime logs while working the route out (containerd's `failed to decode
    /// hosts.toml`, …), in its own log format.
    pub log: Vec<String>,
    /// Hints about the configuration.
    pub hints: Vec<RuntimeHint>,
}

/// One [`crate::ImageService::resolve_image`] attempt: the result and what the auth flow met.
#[derive(Debug)]
pub struct ResolveAttempt {
    /// The resolved manifest, or the runtime's error.
    pub result: Result<Resolved, crate::RuntimeError>,
    /// What the auth flow met.
    pub trace: AuthTrace,
}
