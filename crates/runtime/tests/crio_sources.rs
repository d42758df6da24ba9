//! `crio::pull_through_sources` without a network: the attempt is a script, so these tests pin
//! containers/image's loop (`docker/docker_image_src.go` `newImageSource` /
//! `newImageSourceAttempt` at v5.36.1, vendored unchanged by CRI-O v1.36.3), its texts
//! (`docker/docker_client.go`, `docker/errors.go`) and CRI-O's wrapping per release
//! (`server/image_pull.go`, `internal/storage/image.go`), against real CRI-O events where one
//! is known.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use pullsim_credentials::{AuthConfig, Secret};
use pullsim_reference::Reference;
use pullsim_registry::{NotFoundKind, Refuser, RegistryError};
use pullsim_runtime::crio::{
    CrioVersion, SourceFailure, insecure_hosts, pull_through_sources, request_credentials,
    source_error_text,
};
use pullsim_runtime::registries_conf::{PullSource, RegistriesConf};
use pullsim_runtime::{Code, RuntimeError};

fn conf(text: &str) -> RegistriesConf {
    let mut c =
        RegistriesConf::parse_str(text, Path::new("/etc/containers/registries.conf")).unwrap();
    c.config_dir_path = PathBuf::from("/etc/containers/registries.conf.d");
    c
}

fn named(s: &str) -> Reference {
    Reference::parse_named(s).unwrap()
}

fn manifest_unknown(reference: &str) -> RegistryError {
    RegistryError::NotFound {
        reference: reference.to_string(),
        what: NotFoundKind::Manifest,
        code: Some("MANIFEST_UNKNOWN".to_string()),
        message: format!("failed to resolve reference {reference:?}: {reference}: not found"),
    }
}

/// A transport failure as pullsim's client words it (containerd's `failed to do request`).
fn refused(reference: &str, url: &str, hostport: &str) -> RegistryError {
    RegistryError::Unavailable {
        reference: reference.to_string(),
        status: None,
        message: format!(
            "failed to resolve reference {reference:?}: failed to do request: Head {url:?}: dial tcp {hostport}: connect: connection refused"
        ),
    }
}

type Calls = RefCell<Vec<(String, Option<String>)>>;
type Outcome = Result<(&'static str, PullSource), pullsim_runtime::crio::CrioPullError>;

/// Run the loop with a scripted attempt: `script(source ref)` gives the outcome; every call
/// is recorded with the user name it was given.
fn run(
    conf: &RegistriesConf,
    image: &str,
    auth: Option<&AuthConfig>,
    version: CrioVersion,
    script: impl Fn(&str) -> Result<&'static str, SourceFailure>,
) -> (Outcome, Vec<(String, Option<String>)>) {
    let calls: Calls = RefCell::new(Vec::new());
    let r = futures_executor(pull_through_sources(
        conf,
        &named(image),
        auth,
        version,
        |source: &PullSource, cred: Option<&AuthConfig>| {
            let s = source.reference.to_string();
            calls
                .borrow_mut()
                .push((s.clone(), cred.map(|c| c.username.clone())));
            let out = script(&s);
            async move { out }
        },
    ));
    (r, calls.into_inner())
}

fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

const TWO_MIRRORS: &str = r#"
[[registry]]
prefix = "registry.example.com/team"
location = "registry.example.com/team"
[[registry.mirror]]
location = "mirror.example.net:5000/cache/team"
[[registry.mirror]]
location = "registry.example.com/mirror/team"
"#;

/// Sources in order, the first success wins, the request's credentials only to a source on
/// the logical reference's domain ("we must not blindly send the credentials intended for the
/// primary endpoint to mirrors", `newImageSourceAttempt`).
#[test]
fn order_success_and_credentials_per_source() {
    let c = conf(TWO_MIRRORS);
    let auth = AuthConfig::basic("alice", "alice-pass");
    let (r, calls) = run(
        &c,
        "registry.example.com/team/app:v1",
        Some(&auth),
        CrioVersion::V1_36,
        |s| {
            if s.starts_with("mirror.example.net") {
                Err(SourceFailure::Manifest(manifest_unknown(s)))
            } else {
                Ok("served")
            }
        },
    );
    let (v, source) = r.unwrap();
    assert_eq!(v, "served");
    assert_eq!(
        source.reference.as_str(),
        "registry.example.com/mirror/team/app:v1"
    );
    assert_eq!(
        calls,
        vec![
            (
                "mirror.example.net:5000/cache/team/app:v1".to_string(),
                None
            ),
            (
                "registry.example.com/mirror/team/app:v1".to_string(),
                Some("alice".to_string())
            ),
        ]
    );
}

/// Every source fails: `(Mirrors also failed: [REF: ERR]\n[REF: ERR]): PRIMARY: ERR`; the
/// mirrors' errors in order, the primary's last; `code = Unknown`; the primary's registry
/// error kept as the cause.
#[test]
fn all_sources_fail_combined_text() {
    let c = conf(TWO_MIRRORS);
    let (r, calls) = run(
        &c,
        "registry.example.com/team/app:v1",
        None,
        CrioVersion::V1_30,
        |s| {
            if s.starts_with("mirror.example.net") {
                Err(SourceFailure::Manifest(refused(
                    s,
                    "https://mirror.example.net:5000/v2/cache/team/app/manifests/v1",
                    "10.0.0.7:5000",
                )))
            } else {
                Err(SourceFailure::Manifest(manifest_unknown(s)))
            }
        },
    );
    assert_eq!(calls.len(), 3);
    let e = r.unwrap_err();
    let want = "(Mirrors also failed: [mirror.example.net:5000/cache/team/app:v1: pinging container registry mirror.example.net:5000: Get \"https://mirror.example.net:5000/v2/\": dial tcp 10.0.0.7:5000: connect: connection refused]\n[registry.example.com/mirror/team/app:v1: reading manifest v1 in registry.example.com/mirror/team/app: manifest unknown]): registry.example.com/team/app:v1: reading manifest v1 in registry.example.com/team/app: manifest unknown";
    assert_eq!(e.desc, want);
    assert_eq!(e.code, Code::Unknown);
    assert_eq!(e.attempts.len(), 3);
    assert!(matches!(
        e.cause.as_deref(),
        Some(RegistryError::NotFound { .. })
    ));
    let rt: RuntimeError = e.into();
    assert_eq!(
        rt.to_string(),
        format!("rpc error: code = Unknown desc = {want}")
    );
    assert_eq!(rt.outcome(), "not-found");
}

/// The real event of a blocked primary behind a mirror without the tag (CRI-O ≤ 1.30 on
/// OpenShift, 2025): the primary is refused without a request, the text is containers/image's
/// `registry PREFIX is blocked in CONF or CONF.D`.
#[test]
fn blocked_primary_real_event() {
    let mut c = conf(
        r#"
[[registry]]
prefix = "quay.io/ibmmas"
location = "quay.io/ibmmas"
blocked = true
[[registry.mirror]]
location = "ml-registry1.fyre.ibm.com:5000/ibmmas"
"#,
    );
    c.config_dir_path = PathBuf::from("/root/.config/containers/registries.conf.d");
    let (r, calls) = run(
        &c,
        "quay.io/ibmmas/cli:13.13.0",
        None,
        CrioVersion::V1_30,
        |s| Err(SourceFailure::Manifest(manifest_unknown(s))),
    );
    assert_eq!(calls.len(), 1, "the blocked primary is never contacted");
    let e = r.unwrap_err();
    // ibm-mas/cli issue notes: `Failed to pull image "quay.io/ibmmas/cli:13.13.0": <desc>`.
    assert_eq!(
        e.desc,
        "(Mirrors also failed: [ml-registry1.fyre.ibm.com:5000/ibmmas/cli:13.13.0: reading manifest 13.13.0 in ml-registry1.fyre.ibm.com:5000/ibmmas/cli: manifest unknown]): quay.io/ibmmas/cli:13.13.0: registry quay.io/ibmmas is blocked in /etc/containers/registries.conf or /root/.config/containers/registries.conf.d"
    );
    assert!(e.cause.is_none(), "a blocked source has no registry cause");
}

/// A blocked mirror is one failed source among others: the next source is tried.
#[test]
fn blocked_mirror_is_skipped() {
    let c = conf(
        r#"
[[registry]]
prefix = "registry.example.com/team"
location = "registry.example.com/team"
[[registry.mirror]]
location = "banned.example.org/team"
[[registry]]
location = "banned.example.org"
blocked = true
"#,
    );
    let (r, calls) = run(
        &c,
        "registry.example.com/team/app:v1",
        None,
        CrioVersion::V1_36,
        |_| Ok("served"),
    );
    assert_eq!(
        r.unwrap().1.reference.as_str(),
        "registry.example.com/team/app:v1"
    );
    assert_eq!(calls.len(), 1);
}

/// One source: its error passes through unchanged ("If no mirrors are used, perfectly preserve
/// the error type and add no noise"); a reference without a tag pulls `latest`.
#[test]
fn single_source_passes_through() {
    let c = conf("");
    let (r, calls) = run(
        &c,
        "registry.example.com/app",
        None,
        CrioVersion::V1_30,
        |s| Err(SourceFailure::Manifest(manifest_unknown(s))),
    );
    assert_eq!(calls[0].0, "registry.example.com/app:latest");
    assert_eq!(
        r.unwrap_err().desc,
        "reading manifest latest in registry.example.com/app: manifest unknown"
    );
}

/// A failure after the manifest ends the pull at once: no fallback to the next source. The
/// copy's words (`copy/single.go` `reading blob %s: %w`, `docker_client.go` `getBlob`
/// `fetching blob: %w`, `copy/copy.go` `copying system image from manifest list: %w`).
#[test]
fn content_failure_does_not_fall_back() {
    let c = conf(TWO_MIRRORS);
    let d = "sha256:59fabc3041d2d1b7e696e475210591e99cb5fd3b7163cf2d849dd139ed0f6e95";
    let blob_404 = |s: &str| RegistryError::NotFound {
        reference: s.to_string(),
        what: NotFoundKind::Blob,
        code: Some("BLOB_UNKNOWN".to_string()),
        message: format!(
            "failed to copy: httpReadSeeker: failed open: content at http://mirror.example.net:5000/v2/cache/team/app/blobs/{d} not found: not found"
        ),
    };
    let (r, calls) = run(
        &c,
        "registry.example.com/team/app:v1",
        None,
        CrioVersion::V1_33,
        |s| Err(SourceFailure::Content(blob_404(s))),
    );
    assert_eq!(calls.len(), 1);
    let e = r.unwrap_err();
    assert_eq!(
        e.desc,
        format!("reading blob {d}: fetching blob: blob unknown to registry")
    );
    assert!(e.attempts.is_empty());
    let (r, _) = run(
        &c,
        "registry.example.com/team/app:v1",
        None,
        CrioVersion::V1_30,
        |s| Err(SourceFailure::ContentThroughIndex(blob_404(s))),
    );
    assert_eq!(
        r.unwrap_err().desc,
        format!(
            "copying system image from manifest list: reading blob {d}: fetching blob: blob unknown to registry"
        )
    );
    // CRI-O 1.36: a network failure while copying is `unable to pull image: …`.
    let (r, _) = run(
        &c,
        "registry.example.com/team/app:v1",
        None,
        CrioVersion::V1_36,
        |s| {
            Err(SourceFailure::Content(RegistryError::Unavailable {
                reference: s.to_string(),
                status: None,
                message: format!(
                    "failed to copy: failed to do request: Get \"https://mirror.example.net:5000/v2/cache/team/app/blobs/{d}\": dial tcp 10.0.0.7:5000: connect: connection refused"
                ),
            }))
        },
    );
    assert_eq!(
        r.unwrap_err().desc,
        format!(
            "RegistryUnavailable: unable to pull image: reading blob {d}: Get \"https://mirror.example.net:5000/v2/cache/team/app/blobs/{d}\": dial tcp 10.0.0.7:5000: connect: connection refused"
        )
    );
}

/// CRI-O 1.34's wording, from a real event (an OpenShift pod on Docker Hub, the token not
/// allowing the repository): `Failed to pull image "sispl-canal-webhook-pix-tqs:2.2.0.10":
/// unable to pull image or OCI artifact: pull image err: …; artifact err: get manifest: build
/// image source: …`.
#[test]
fn crio_1_34_artifact_fallback_real_event() {
    let c = conf("");
    let (r, _) = run(
        &c,
        "docker.io/library/sispl-canal-webhook-pix-tqs:2.2.0.10",
        None,
        CrioVersion::V1_34,
        |s| {
            Err(SourceFailure::Manifest(RegistryError::Denied {
                reference: s.to_string(),
                status: 401,
                code: Some("insufficient_scope".to_string()),
                message: "pull access denied".to_string(),
            }))
        },
    );
    assert_eq!(
        r.unwrap_err().desc,
        "unable to pull image or OCI artifact: pull image err: initializing source docker://sispl-canal-webhook-pix-tqs:2.2.0.10: reading manifest 2.2.0.10 in docker.io/library/sispl-canal-webhook-pix-tqs: requested access to the resource is denied; artifact err: get manifest: build image source: reading manifest 2.2.0.10 in docker.io/library/sispl-canal-webhook-pix-tqs: requested access to the resource is denied"
    );
}

/// CRI-O 1.31–1.33, a refused connection (a real event behind a dead proxy): the
/// `RegistryUnavailable: ` prefix (`crierrors.ErrRegistryUnavailable`, `errors.Is(err,
/// syscall.ECONNREFUSED)`) and the ping's text on `registry-1.docker.io`.
#[test]
fn crio_1_33_registry_unavailable_real_event() {
    let c = conf("");
    let (r, _) = run(
        &c,
        "docker.io/library/httpd:latest",
        None,
        CrioVersion::V1_33,
        |s| {
            Err(SourceFailure::Manifest(RegistryError::Unavailable {
                reference: s.to_string(),
                status: None,
                message: format!(
                    "failed to resolve reference {s:?}: failed to do request: Head \"https://registry-1.docker.io/v2/library/httpd/manifests/latest\": proxyconnect tcp: dial tcp [::1]:7890: connect: connection refused"
                ),
            }))
        },
    );
    assert_eq!(
        r.unwrap_err().desc,
        "RegistryUnavailable: initializing source docker://httpd:latest: pinging container registry registry-1.docker.io: Get \"https://registry-1.docker.io/v2/\": proxyconnect tcp: dial tcp [::1]:7890: connect: connection refused"
    );
}

/// CRI-O 1.36 (`internal/storage/image.go@v1.36.3` `shouldTryArtifact`): a network failure
/// skips the OCI-artifact attempt (`unable to pull image: …`); an HTTP answer does not
/// (`… artifact err: image reference: get manifest from ref: create image source: …`,
/// `internal/ociartifact/store.go` `EnsureNotContainerImage`, `impl.go`
/// `GetManifestFromRef`). The 5xx text is a real event's (`received unexpected HTTP status:
/// 500 Internal Server Error`).
#[test]
fn crio_1_36_network_and_http_failures() {
    let c = conf("");
    let image = "rcr.example.nl/ghcr-rig/app:pr-186";
    let (r, _) = run(&c, image, None, CrioVersion::V1_36, |s| {
        Err(SourceFailure::Manifest(RegistryError::Unavailable {
            reference: s.to_string(),
            status: Some(500),
            message: "unexpected status".to_string(),
        }))
    });
    let e500 = "reading manifest pr-186 in rcr.example.nl/ghcr-rig/app: received unexpected HTTP status: 500 Internal Server Error";
    assert_eq!(
        r.unwrap_err().desc,
        format!(
            "unable to pull image or OCI artifact: pull image err: initializing source docker://{image}: {e500}; artifact err: image reference: get manifest from ref: create image source: {e500}"
        )
    );
    let (r, _) = run(&c, image, None, CrioVersion::V1_36, |s| {
        Err(SourceFailure::Manifest(refused(
            s,
            "https://rcr.example.nl/v2/ghcr-rig/app/manifests/pr-186",
            "192.0.2.1:443",
        )))
    });
    assert_eq!(
        r.unwrap_err().desc,
        format!(
            "RegistryUnavailable: unable to pull image: initializing source docker://{image}: pinging container registry rcr.example.nl: Get \"https://rcr.example.nl/v2/\": dial tcp 192.0.2.1:443: connect: connection refused"
        )
    );
}

/// Texts per registry failure (`registryHTTPResponseToError`, `httpResponseToError`), with an
/// `insecure` endpoint's ping over `http://`.
#[test]
fn source_texts_per_failure() {
    let c = conf(
        r#"
[[registry]]
location = "127.0.0.1:5000"
insecure = true
"#,
    );
    let image = "127.0.0.1:5000/team/app@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let d = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let table: Vec<(RegistryError, String)> = vec![
        (
            refused(image, "http://127.0.0.1:5000/v2/team/app/manifests/x", "127.0.0.1:5000"),
            "pinging container registry 127.0.0.1:5000: Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused".to_string(),
        ),
        (
            RegistryError::Unauthorized {
                reference: image.into(),
                by: Refuser::Registry,
                status: 401,
                code: None,
                message: String::new(),
            },
            format!("reading manifest {d} in 127.0.0.1:5000/team/app: authentication required"),
        ),
        (
            RegistryError::Unauthorized {
                reference: image.into(),
                by: Refuser::TokenEndpoint,
                status: 401,
                code: Some("UNAUTHORIZED".into()),
                message: String::new(),
            },
            "unable to retrieve auth token: invalid username/password: authentication required".to_string(),
        ),
        (
            RegistryError::Denied {
                reference: image.into(),
                status: 403,
                code: Some("DENIED".into()),
                message: String::new(),
            },
            // No detail with DENIED: errcode.Errors.UnmarshalJSON keeps the bare code.
            format!("reading manifest {d} in 127.0.0.1:5000/team/app: denied"),
        ),
        (
            RegistryError::NotFound {
                reference: image.into(),
                what: NotFoundKind::Repository,
                code: Some("NAME_UNKNOWN".into()),
                message: String::new(),
            },
            format!("reading manifest {d} in 127.0.0.1:5000/team/app: repository name not known to registry"),
        ),
    ];
    let sources = c.pull_sources(&named(image)).unwrap();
    assert_eq!(sources.len(), 1);
    for (err, want) in table {
        assert_eq!(source_error_text(&sources[0], &err), want);
    }
}

/// CRI-O sends credentials only when the request names a user (`PullImage`: "Specifying a
/// username indicates the user intends to send authentication"); `auth` is decoded first
/// (`decodeDockerAuth`: padded base64, no `:` means no user, NULs trimmed from the password);
/// an `auth` that is not base64 fails the pull before any request.
#[test]
fn request_credentials_need_a_user() {
    let with_auth = |a: &str| AuthConfig {
        auth: Some(Secret::new(a)),
        ..AuthConfig::default()
    };
    assert!(request_credentials(None).unwrap().is_none());
    assert!(
        request_credentials(Some(&AuthConfig::default()))
            .unwrap()
            .is_none()
    );
    let c = request_credentials(Some(&with_auth("Ym9iOmJvYi1wYXNz"))) // bob:bob-pass
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.expose()),
        ("bob", "bob-pass")
    );
    // "bob:pw\0\0" padded
    let c = request_credentials(Some(&with_auth("Ym9iOnB3AAA=")))
        .unwrap()
        .unwrap();
    assert_eq!(c.password.expose(), "pw");
    // "nocolon": "if it's invalid just skip, as docker does"
    assert!(
        request_credentials(Some(&with_auth("bm9jb2xvbg==")))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        request_credentials(Some(&with_auth("!!!"))).unwrap_err(),
        "illegal base64 data at input byte 0"
    );
    let plain = AuthConfig::basic("alice", "pw");
    assert_eq!(
        request_credentials(Some(&plain)).unwrap().unwrap().username,
        "alice"
    );
    let c = conf("");
    let (r, calls) = run(
        &c,
        "registry.example.com/app:v1",
        Some(&with_auth("!!!")),
        CrioVersion::V1_36,
        |_| Ok("served"),
    );
    assert!(calls.is_empty());
    assert_eq!(
        r.unwrap_err().to_string(),
        "rpc error: code = Unknown desc = illegal base64 data at input byte 0"
    );
}

/// The client's insecure hosts: every `insecure` endpoint's host, once.
#[test]
fn insecure_hosts_of_a_conf() {
    let c = conf(
        r#"
[[registry]]
prefix = "example.com/a"
location = "127.0.0.1:5000/a"
insecure = true
[[registry.mirror]]
location = "[::1]:5001/m"
insecure = true
[[registry.mirror]]
location = "secure.example.com/m"
[[registry]]
location = "127.0.0.1:5000/b"
insecure = true
"#,
    );
    assert_eq!(insecure_hosts(&c), vec!["127.0.0.1:5000", "[::1]:5001"]);
}

/// `--crio-version` names: the releases sharing one wording map to it; 1.35 is not modelled.
#[test]
fn version_names() {
    assert_eq!(CrioVersion::from_name("1.29"), Some(CrioVersion::V1_30));
    assert_eq!(CrioVersion::from_name("1.32"), Some(CrioVersion::V1_33));
    assert_eq!(CrioVersion::from_name("1.35"), None);
    assert_eq!(CrioVersion::default().as_str(), "1.36");
}
