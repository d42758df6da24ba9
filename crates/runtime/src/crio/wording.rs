//! How CRI-O wraps what containers/image returns into the `PullImage` error, per CRI-O version.
//!
//! CRI-O answers `PullImage` with a plain Go error, which gRPC sends as `code = Unknown`
//! (`server/image_pull.go` `PullImage`). The text around containers/image's error changed
//! across releases (each read at the tag named):
//!
//! | version | manifest stage (all sources failed) |
//! |---|---|
//! | ≤ 1.30 (v1.30.0) | containers/image's error unchanged: `PrepareImage` opens the source first (`internal/storage/image.go`) |
//! | 1.31–1.33 (v1.33.0) | `initializing source docker://REF: ERR` (`copy.Image`, c/image `copy/copy.go`) |
//! | 1.34 (v1.34.0) | `unable to pull image or OCI artifact: pull image err: initializing source docker://REF: ERR; artifact err: get manifest: build image source: ERR` |
//! | 1.36 (v1.36.3) | a network failure (`net.Error`): `unable to pull image: initializing source docker://REF: ERR`; else `unable to pull image or OCI artifact: pull image err: initializing source docker://REF: ERR; artifact err: image reference: get manifest from ref: create image source: ERR` |
//!
//! Since 1.28 (`bf23f5c0`), an error that wraps `ECONNREFUSED` is prefixed `RegistryUnavailable: `
//! (`crierrors.ErrRegistryUnavailable`). `REF` is the familiar form of the requested image with
//! its tag (`docker://httpd:latest`, c/image `transports.ImageName`). The OCI-artifact attempt of
//! 1.34+ opens the same sources again (the same loop, the same requests); pullsim does not send
//! them twice and prints the first attempt's error in both places, as a deterministic registry
//! answers the same way twice.
//!
//! Real events: `Failed to pull image "quay.io/ibmmas/cli:13.13.0": (Mirrors also failed: [...])
//! ...` (≤ 1.30, OpenShift), `RegistryUnavailable: initializing source docker://httpd:latest:
//! pinging container registry registry-1.docker.io: ...` (1.31–1.33), `unable to pull image or
//! OCI artifact: pull image err: initializing source docker://…: reading manifest … ; artifact
//! err: get manifest: build image source: reading manifest …` (1.34); pinned in the tests.

/// The CRI-O release whose wording a pull error takes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CrioVersion {
    /// CRI-O 1.30 and older: containers/image's error as is.
    V1_30,
    /// CRI-O 1.31 to 1.33: `initializing source docker://REF: …`.
    V1_33,
    /// CRI-O 1.34: the OCI-artifact fallback, `unable to pull image or OCI artifact: …`.
    V1_34,
    /// CRI-O 1.36 (the default): the fallback skipped for network errors.
    #[default]
    V1_36,
}

impl CrioVersion {
    /// The version as written on the command line (`1.30`, `1.33`, `1.34`, `1.36`).
    pub fn as_str(self) -> &'static str {
        match self {
            CrioVersion::V1_30 => "1.30",
            CrioVersion::V1_33 => "1.33",
            CrioVersion::V1_34 => "1.34",
            CrioVersion::V1_36 => "1.36",
        }
    }

    /// Parse `1.30` … `1.36`; older releases share 1.30's wording, 1.31–1.32 share 1.33's, 1.35
    /// is not modelled (`None`).
    pub fn from_name(s: &str) -> Option<CrioVersion> {
        let minor: u32 = s.strip_prefix("1.")?.parse().ok()?;
        match minor {
            28..=30 => Some(CrioVersion::V1_30),
            31..=33 => Some(CrioVersion::V1_33),
            34 => Some(CrioVersion::V1_34),
            36 => Some(CrioVersion::V1_36),
            _ => None,
        }
    }
}

/// What the primary (last) source's failure was, as far as CRI-O's wrapping cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureKind {
    /// A transport failure (Go `net.Error`: the error wraps a `*url.Error`).
    pub network: bool,
    /// The transport failure is a refused connection (`errors.Is(err, syscall.ECONNREFUSED)`).
    pub refused: bool,
}

/// CRI-O's `PullImage` description for containers/image's error `err` (the error of
/// `newImageSource`, i.e. while opening the sources) for the requested image `familiar`
/// (familiar form with tag or digest).
pub fn manifest_stage_desc(
    version: CrioVersion,
    familiar: &str,
    err: &str,
    kind: FailureKind,
) -> String {
    let init = format!("initializing source docker://{familiar}: {err}");
    let desc = match version {
        CrioVersion::V1_30 => err.to_string(),
        CrioVersion::V1_33 => init,
        CrioVersion::V1_34 => format!(
            "unable to pull image or OCI artifact: pull image err: {init}; artifact err: get manifest: build image source: {err}"
        ),
        CrioVersion::V1_36 if kind.network => format!("unable to pull image: {init}"),
        CrioVersion::V1_36 => format!(
            "unable to pull image or OCI artifact: pull image err: {init}; artifact err: image reference: get manifest from ref: create image source: {err}"
        ),
    };
    registry_unavailable(desc, kind)
}

/// CRI-O's `PullImage` description for a failure after a source was chosen (its content): the
/// copy error as CRI-O ≤ 1.33 returns it; 1.36 adds `unable to pull image: ` for a network
/// failure. The OCI-artifact fallback text of 1.34+ for other content failures is not
/// modelled (the copy error is given alone).
pub fn content_stage_desc(version: CrioVersion, err: &str, kind: FailureKind) -> String {
    let desc = match version {
        CrioVersion::V1_36 if kind.network => format!("unable to pull image: {err}"),
        _ => err.to_string(),
    };
    registry_unavailable(desc, kind)
}

fn registry_unavailable(desc: String, kind: FailureKind) -> String {
    if kind.refused {
        format!("RegistryUnavailable: {desc}")
    } else {
        desc
    }
}
