//! CRI-O's pull through `registries.conf` sources against real registries (Debian's
//! `docker-registry`, distribution 2.8, through crates/testsupport), with skopeo 1.9.3 (built on
//! containers/image, whose `docker/docker_image_src.go` `newImageSource` CRI-O runs) as the
//! oracle for which source serves and for the combined error.
//!
//! Primary and mirror hold *different* images under one tag, so the manifest digest says who
//! served. The attempt is wired as the coordinator will: resolve (a failure is a manifest-stage
//! failure: next source), then pull from that source (a failure ends the pull).
//!
//! "Different domains" are 127.0.0.1:P and localhost:P: containers/image compares
//! `reference.Domain`, host and port. Every endpoint is `insecure = true` (plain HTTP):
//! containers/image treats loopback like any host and pings HTTPS first.
//!
//! skopeo 1.9.3 predates containers/image v5.24's shorter registry errors (commit 6fa5cda4,
//! `registryHTTPResponseToError`: a message equal to its code's default is printed alone), so
//! its `manifest unknown: manifest unknown` is compared as today's `manifest unknown`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use pullsim_credentials::AuthConfig;
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{Client, ClientOptions, NoProgress, PullOutcome};
use pullsim_runtime::StoreSink;
use pullsim_runtime::crio::{
    CrioPullError, CrioVersion, default_registry_message, insecure_hosts, pull_with_client,
};
use pullsim_runtime::registries_conf::{MainFile, PullSource, RegistriesConf};
use pullsim_store::Store;
use pullsim_testsupport::image::{GeneratedImage, ImageSpec};
use pullsim_testsupport::{Mode, RegistryConfig, RegistryHandle, free_loopback_port};

fn start(mode: Mode) -> RegistryHandle {
    RegistryHandle::start(mode, RegistryConfig::default()).unwrap()
}

fn push(reg: &RegistryHandle, seed: u64, repo_tag: &str) -> GeneratedImage {
    let tag = repo_tag.rsplit_once(':').unwrap().1;
    reg.push_generated(&ImageSpec::simple(tag, 2, 4096, seed), repo_tag)
        .unwrap()
}

/// A layout: `registries.conf` in a temporary directory, with `registries.conf.d` beside it
/// (empty), loaded as CRI-O would.
struct Layout {
    _dir: tempfile::TempDir,
    path: PathBuf,
    conf: RegistriesConf,
}

fn layout(text: &str) -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registries.conf");
    std::fs::write(&path, text).unwrap();
    let d = dir.path().join("registries.conf.d");
    std::fs::create_dir(&d).unwrap();
    let conf = RegistriesConf::load(&path, Some(&d), MainFile::Explicit).unwrap();
    Layout {
        _dir: dir,
        path,
        conf,
    }
}

/// pullsim's CRI-O pull ([`pull_with_client`]) into a fresh store. Returns the top manifest
/// digest and the source.
async fn crio_pull(
    l: &Layout,
    image: &str,
    auth: Option<&AuthConfig>,
    version: CrioVersion,
) -> Result<(Digest, PullSource), CrioPullError> {
    let mut opts = ClientOptions::default();
    opts.insecure_registries = insecure_hosts(&l.conf);
    let client = Client::new(opts).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let r = Reference::parse_normalized(image).unwrap();
    let sink = Arc::new(StoreSink::new(store));
    let (outcome, source) =
        pull_with_client(&l.conf, &client, &r, auth, version, sink, &NoProgress, None).await?;
    match outcome {
        PullOutcome::Pulled(p) => Ok((p.manifest_digest, source)),
        _ => panic!("nothing was current: the pull must pull"),
    }
}

/// What skopeo answered: the manifest digest, or its error text without skopeo's own prefix.
#[derive(Debug, PartialEq, Eq)]
enum Oracle {
    Served(String),
    Failed(String),
}

/// `skopeo inspect --raw` through the layout, with `creds` as the request's credentials (no
/// other credentials: an empty auth file).
fn skopeo(l: &Layout, image: &str, creds: Option<(&str, &str)>) -> Oracle {
    let auth = l.path.with_file_name("auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let mut cmd = Command::new("skopeo");
    cmd.arg("--registries-conf")
        .arg(&l.path)
        .args(["inspect", "--raw", "--authfile"])
        .arg(&auth);
    if let Some((u, p)) = creds {
        cmd.arg("--creds").arg(format!("{u}:{p}"));
    }
    let out = cmd.arg(format!("docker://{image}")).output().unwrap();
    if out.status.success() {
        return Oracle::Served(format!("sha256:{}", sha256_hex(&out.stdout)));
    }
    // level=fatal msg="Error parsing image name \"docker://IMAGE\": TEXT"
    let unquoted = fatal_text(&out.stderr);
    let prefix = format!("Error parsing image name \"docker://{image}\": ");
    let text = unquoted.strip_prefix(&prefix).unwrap_or(&unquoted);
    Oracle::Failed(newer_cimage_wording(text))
}

/// skopeo 1.9.3's registry errors as containers/image ≥ v5.24 prints them (a blob 404 is
/// `fetching blob: <the body's error>` since commit 5b6c858c, distribution's body being
/// `BLOB_UNKNOWN`): `CODE: MESSAGE`
/// becomes `MESSAGE` when the message is the code's default (commit 6fa5cda4).
/// Likewise only the first error of a list is kept (commit 5283de11, also v5.24): skopeo's
/// trailing `errors:\nE1\nE2\n` becomes `E1`.
fn newer_cimage_wording(text: &str) -> String {
    let mut out = match text.find("errors:\n") {
        Some(i) if text.ends_with('\n') => {
            let first = text[i + "errors:\n".len()..].lines().next().unwrap_or("");
            format!("{}{first}", &text[..i])
        }
        _ => text.to_string(),
    };
    for code in [
        "UNAUTHORIZED",
        "DENIED",
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
        "BLOB_UNKNOWN",
    ] {
        let message = default_registry_message(code).unwrap();
        let long = format!("{}: {message}", code.to_lowercase().replace('_', " "));
        out = out.replace(&long, message);
    }
    out.replace(
        "Error fetching blob: invalid status code from registry 404 (Not Found)",
        "fetching blob: blob unknown to registry",
    )
}

/// The drop-in directory named in a blocked refusal replaced by `DIR` (skopeo names
/// containers/image's default for the user it runs as; pullsim the layout's own).
fn dropin_dir_as_placeholder(text: &str) -> String {
    let Some(i) = text.find("registries.conf or ") else {
        return text.to_string();
    };
    let start = i + "registries.conf or ".len();
    let end = text[start..]
        .find("registries.conf.d")
        .map_or(text.len(), |j| start + j + "registries.conf.d".len());
    format!("{}DIR{}", &text[..start], &text[end..])
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

/// The message of skopeo's `level=fatal` log line, unquoted.
fn fatal_text(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("level=fatal"))
        .unwrap_or_else(|| panic!("skopeo: {stderr}"));
    go_unquote(line.split_once("msg=").unwrap().1)
}

/// logrus quotes `msg` with Go's `%q`: undo `\"`, `\\` and `\n`.
fn go_unquote(s: &str) -> String {
    let inner = s
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap();
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn have_skopeo() -> bool {
    let ok = Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: skopeo is not installed (scripts/setup installs it)");
    }
    ok
}

fn served(r: &Result<(Digest, PullSource), CrioPullError>) -> (String, String) {
    match r {
        Ok((d, s)) => (d.to_string(), s.reference.to_string()),
        Err(e) => panic!("pull failed: {e}"),
    }
}

/// Mirror serves: the first mirror that has the tag serves it, ahead of the primary; a mirror
/// without the repository (404) is passed over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_serves() {
    if !have_skopeo() {
        return;
    }
    let (a, b) = (start(Mode::Anonymous), start(Mode::Anonymous));
    push(&a, 1, "team/app:v1");
    let img2 = push(&b, 2, "mirror/team/app:v1");
    let l = layout(&format!(
        r#"
[[registry]]
prefix = "example.com/team"
location = "{a}/team"
insecure = true
[[registry.mirror]]
location = "{b}/absent"
insecure = true
[[registry.mirror]]
location = "{b}/mirror/team"
insecure = true
"#,
        a = a.host,
        b = b.host
    ));
    let image = "example.com/team/app:v1";
    let r = crio_pull(&l, image, None, CrioVersion::default()).await;
    let (digest, source) = served(&r);
    assert_eq!(digest, img2.top_digest());
    assert_eq!(source, format!("{}/mirror/team/app:v1", b.host));
    assert_eq!(skopeo(&l, image, None), Oracle::Served(digest));
}

/// A mirror on another domain never gets the pod's credentials (`newImageSourceAttempt`): the
/// htpasswd mirror at localhost:P answers 401, the primary at 127.0.0.1:P (the logical
/// reference's domain) gets them and serves. The same mirror under the primary's own domain
/// gets them and serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_refuses_pod_credentials_primary_serves() {
    if !have_skopeo() {
        return;
    }
    let h = start(Mode::Htpasswd);
    let img1 = push(&h, 3, "team/app:v1");
    let img2 = push(&h, 4, "mirror/team/app:v1");
    let port = h.host.rsplit_once(':').unwrap().1.to_string();
    let (user, pass) = h.user().unwrap();
    let pod = AuthConfig::basic(user, pass);
    let image = format!("{}/team/app:v1", h.host);
    let cases = [(format!("localhost:{port}"), false), (h.host.clone(), true)];
    for (mirror_domain, want_mirror) in cases {
        let l = layout(&format!(
            r#"
[[registry]]
location = "{primary}/team"
insecure = true
[[registry.mirror]]
location = "{mirror_domain}/mirror/team"
insecure = true
"#,
            primary = h.host,
        ));
        let r = crio_pull(&l, &image, Some(&pod), CrioVersion::default()).await;
        let (digest, source) = served(&r);
        if want_mirror {
            assert_eq!(digest, img2.top_digest());
            assert_eq!(source, format!("{mirror_domain}/mirror/team/app:v1"));
        } else {
            assert_eq!(digest, img1.top_digest());
            assert_eq!(source, image);
        }
        assert_eq!(
            skopeo(&l, &image, Some((user, pass))),
            Oracle::Served(digest),
            "mirror {mirror_domain}"
        );
    }
    // With the primary blocked, the refused mirror's error is containers/image's 401 text.
    let l = layout(&format!(
        r#"
[[registry]]
location = "{h}/team"
insecure = true
blocked = true
[[registry.mirror]]
location = "localhost:{port}/mirror/team"
insecure = true
"#,
        h = h.host
    ));
    let e = crio_pull(&l, &image, Some(&pod), CrioVersion::V1_30)
        .await
        .unwrap_err();
    assert_eq!(
        e.attempts[0].text,
        format!("reading manifest v1 in localhost:{port}/mirror/team/app: authentication required")
    );
    let Oracle::Failed(sk) = skopeo(&l, &image, Some((user, pass))) else {
        panic!("skopeo pulled through a blocked primary")
    };
    assert_eq!(
        dropin_dir_as_placeholder(&sk),
        dropin_dir_as_placeholder(&e.desc)
    );
}

/// Blocked: a source whose own name lies in a blocked `[[registry]]` is refused without a
/// request, with containers/image's text; `blocked` on an entry whose `location` rewrites
/// elsewhere blocks nothing (the check is by the rewritten name, `newDockerClient`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_registry() {
    if !have_skopeo() {
        return;
    }
    let a = start(Mode::Anonymous);
    let img1 = push(&a, 5, "team/app:v1");
    let l = layout(&format!(
        r#"
[[registry]]
location = "{a}/team"
insecure = true
blocked = true
"#,
        a = a.host
    ));
    let image = format!("{}/team/app:v1", a.host);
    let e = crio_pull(&l, &image, None, CrioVersion::V1_30)
        .await
        .unwrap_err();
    let dir = l.path.with_file_name("registries.conf.d");
    let blocked = format!(
        "registry {}/team is blocked in {} or {}",
        a.host,
        l.path.display(),
        dir.display()
    );
    assert_eq!(e.desc, blocked);
    assert!(e.cause.is_none());
    let Oracle::Failed(sk) = skopeo(&l, &image, None) else {
        panic!("skopeo pulled a blocked image")
    };
    assert_eq!(
        dropin_dir_as_placeholder(&sk),
        dropin_dir_as_placeholder(&blocked)
    );
    // CRI-O 1.36 (`internal/storage/image.go@v1.36.3`): not a network error, so the
    // OCI-artifact attempt runs too and is refused the same way.
    let e = crio_pull(&l, &image, None, CrioVersion::V1_36)
        .await
        .unwrap_err();
    assert_eq!(
        e.desc,
        format!(
            "unable to pull image or OCI artifact: pull image err: initializing source docker://{image}: {blocked}; artifact err: image reference: get manifest from ref: create image source: {blocked}"
        )
    );

    let l = layout(&format!(
        r#"
[[registry]]
prefix = "example.com/team"
location = "{a}/team"
insecure = true
blocked = true
"#,
        a = a.host
    ));
    let r = crio_pull(&l, "example.com/team/app:v1", None, CrioVersion::default()).await;
    assert_eq!(served(&r).0, img1.top_digest());
    assert_eq!(
        skopeo(&l, "example.com/team/app:v1", None),
        Oracle::Served(img1.top_digest().to_string())
    );
}

/// `mirror-by-digest-only` and `pull-from-mirror`: a tag pull skips a digest-only mirror (the
/// primary serves), a digest pull uses it (the primary lacks that digest); a `tag-only` mirror
/// serves tag pulls and is skipped by digest pulls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_only_and_tag_only_mirrors() {
    if !have_skopeo() {
        return;
    }
    let (a, b) = (start(Mode::Anonymous), start(Mode::Anonymous));
    let img1 = push(&a, 6, "team/app:v1");
    let img2 = push(&b, 7, "mirror/team/app:v1");
    let by_digest = format!("example.com/team/app@{}", img2.top_digest());
    // (registry key, mirror key, tag pull served by the mirror, digest pull served by it)
    let cases = [
        ("mirror-by-digest-only = true", "", false, true),
        ("", "pull-from-mirror = \"digest-only\"", false, true),
        ("", "pull-from-mirror = \"tag-only\"", true, false),
    ];
    for (registry_key, mirror_key, tag_by_mirror, digest_by_mirror) in cases {
        let case = format!("{registry_key}{mirror_key}");
        let l = layout(&format!(
            r#"
[[registry]]
prefix = "example.com/team"
location = "{a}/team"
insecure = true
{registry_key}
[[registry.mirror]]
location = "{b}/mirror/team"
insecure = true
{mirror_key}
"#,
            a = a.host,
            b = b.host
        ));
        let r = crio_pull(&l, "example.com/team/app:v1", None, CrioVersion::default()).await;
        let (digest, _) = served(&r);
        let want = if tag_by_mirror { &img2 } else { &img1 };
        assert_eq!(digest, want.top_digest(), "{case}: tag pull");
        assert_eq!(
            skopeo(&l, "example.com/team/app:v1", None),
            Oracle::Served(digest),
            "{case}: tag pull"
        );
        let r = crio_pull(&l, &by_digest, None, CrioVersion::V1_30).await;
        let oracle = skopeo(&l, &by_digest, None);
        if digest_by_mirror {
            let (digest, source) = served(&r);
            assert_eq!(digest, img2.top_digest(), "{case}: digest pull");
            assert_eq!(
                source,
                format!("{}/mirror/team/app@{}", b.host, img2.top_digest())
            );
            assert_eq!(oracle, Oracle::Served(digest), "{case}: digest pull");
        } else {
            let e = r.unwrap_err();
            assert_eq!(e.attempts.len(), 1, "{case}: only the primary is tried");
            assert_eq!(
                e.desc,
                format!(
                    "reading manifest {d} in {a}/team/app: manifest unknown",
                    d = img2.top_digest(),
                    a = a.host
                )
            );
            assert_eq!(
                oracle,
                Oracle::Failed(e.desc.clone()),
                "{case}: digest pull"
            );
        }
    }
}

/// Every source fails: a mirror without the repository (404), a mirror that refuses the
/// connection, the primary without the tag (404). The combined text equals skopeo's; the CRI-O
/// event text is pinned per release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_sources_fail_combined_error() {
    if !have_skopeo() {
        return;
    }
    let (a, b) = (start(Mode::Anonymous), start(Mode::Anonymous));
    push(&a, 8, "team/other:v1");
    let closed = free_loopback_port().unwrap();
    let l = layout(&format!(
        r#"
[[registry]]
prefix = "example.com/team"
location = "{a}/team"
insecure = true
[[registry.mirror]]
location = "{b}/absent"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:{closed}/m"
insecure = true
"#,
        a = a.host,
        b = b.host
    ));
    let image = "example.com/team/app:v1";
    let combined = format!(
        "(Mirrors also failed: [{b}/absent/app:v1: reading manifest v1 in {b}/absent/app: manifest unknown]\n\
         [127.0.0.1:{closed}/m/app:v1: pinging container registry 127.0.0.1:{closed}: Get \"http://127.0.0.1:{closed}/v2/\": dial tcp 127.0.0.1:{closed}: connect: connection refused]): \
         {a}/team/app:v1: reading manifest v1 in {a}/team/app: manifest unknown",
        a = a.host,
        b = b.host
    );
    let e = crio_pull(&l, image, None, CrioVersion::V1_30)
        .await
        .unwrap_err();
    assert_eq!(e.desc, combined);
    assert_eq!(skopeo(&l, image, None), Oracle::Failed(combined.clone()));
    assert_eq!(e.attempts.len(), 3);
    assert_eq!(
        pullsim_runtime::RuntimeError::from(e).to_string(),
        format!("rpc error: code = Unknown desc = {combined}")
    );
    // CRI-O 1.33 and 1.36: the primary's error is an HTTP answer, not a network error.
    let e = crio_pull(&l, image, None, CrioVersion::V1_33)
        .await
        .unwrap_err();
    assert_eq!(
        e.desc,
        format!("initializing source docker://{image}: {combined}")
    );
    let e = crio_pull(&l, image, None, CrioVersion::V1_36)
        .await
        .unwrap_err();
    assert_eq!(
        e.desc,
        format!(
            "unable to pull image or OCI artifact: pull image err: initializing source docker://{image}: {combined}; artifact err: image reference: get manifest from ref: create image source: {combined}"
        )
    );
}

/// A refused primary: CRI-O's `RegistryUnavailable: ` prefix and, in 1.36, no OCI-artifact
/// attempt (a network error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_primary_registry_unavailable() {
    if !have_skopeo() {
        return;
    }
    let closed = free_loopback_port().unwrap();
    let l = layout(&format!(
        r#"
[[registry]]
location = "127.0.0.1:{closed}"
insecure = true
"#
    ));
    let image = format!("127.0.0.1:{closed}/team/app:v1");
    let text = format!(
        "pinging container registry 127.0.0.1:{closed}: Get \"http://127.0.0.1:{closed}/v2/\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
    );
    assert_eq!(skopeo(&l, &image, None), Oracle::Failed(text.clone()));
    let e = crio_pull(&l, &image, None, CrioVersion::V1_36)
        .await
        .unwrap_err();
    assert_eq!(
        e.desc,
        format!(
            "RegistryUnavailable: unable to pull image: initializing source docker://{image}: {text}"
        )
    );
}

/// A token registry as the primary (containers/image fetches the token before the manifest):
/// wrong pod credentials are refused by the token endpoint (`unable to retrieve auth token:
/// invalid username/password: …`, `docker/errors.go` `ErrUnauthorizedForCredentials`); a
/// user whose token lacks the repository meets the registry's `insufficient_scope`
/// (`requested access to the resource is denied`, `docker/distribution_error.go`
/// `handleErrorResponse`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_registry_refusals() {
    if !have_skopeo() {
        return;
    }
    let t = start(Mode::Token);
    push(&t, 9, "team/app:v1");
    let l = layout(&format!(
        r#"
[[registry]]
location = "{t}"
insecure = true
"#,
        t = t.host
    ));
    let image = format!("{}/team/app:v1", t.host);
    let cases = [
        (
            ("alice", "wrong"),
            "unable to retrieve auth token: invalid username/password: unauthorized: incorrect username or password".to_string(),
        ),
        (
            ("bob", "bob-pass"),
            format!("reading manifest v1 in {}/team/app: requested access to the resource is denied", t.host),
        ),
    ];
    for ((user, pass), want) in cases {
        let pod = AuthConfig::basic(user, pass);
        let e = crio_pull(&l, &image, Some(&pod), CrioVersion::V1_30)
            .await
            .unwrap_err();
        assert_eq!(e.desc, want, "{user}");
        assert_eq!(
            skopeo(&l, &image, Some((user, pass))),
            Oracle::Failed(want),
            "{user}"
        );
    }
    // No credentials: an anonymous token without access, the same refusal.
    let e = crio_pull(&l, &image, None, CrioVersion::V1_30)
        .await
        .unwrap_err();
    let want = format!(
        "reading manifest v1 in {}/team/app: requested access to the resource is denied",
        t.host
    );
    assert_eq!(e.desc, want);
    assert_eq!(skopeo(&l, &image, None), Oracle::Failed(want));
}

/// The chosen source serves every blob: a mirror whose manifest resolves but whose layer is
/// gone fails the pull, although the primary has a complete image (no per-blob fallback in
/// containers/image). The image is chosen from an index, so the copy's error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_mirror_serves_every_blob() {
    if !have_skopeo() {
        return;
    }
    let (a, b) = (start(Mode::Anonymous), start(Mode::Anonymous));
    push(&a, 10, "team/app:v1");
    let broken = b
        .push_generated(
            &ImageSpec::multi_arch("v1", 1, 4096, 11),
            "mirror/team/app:v1",
        )
        .unwrap();
    for m in &broken.manifests {
        let hex = m.layers[0].digest.strip_prefix("sha256:").unwrap();
        let data = b
            .dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        std::fs::remove_file(&data).unwrap();
    }
    let amd64 = broken
        .manifests
        .iter()
        .find(|m| m.platform.architecture == "amd64")
        .unwrap();
    let l = layout(&format!(
        r#"
[[registry]]
prefix = "example.com/team"
location = "{a}/team"
insecure = true
[[registry.mirror]]
location = "{b}/mirror/team"
insecure = true
"#,
        a = a.host,
        b = b.host
    ));
    let image = "example.com/team/app:v1";
    let e = crio_pull(&l, image, None, CrioVersion::V1_30)
        .await
        .unwrap_err();
    let want = format!(
        "copying system image from manifest list: reading blob {}: fetching blob: blob unknown to registry",
        amd64.layers[0].digest
    );
    assert_eq!(e.desc, want);
    assert!(e.attempts.is_empty(), "no source failed before the mirror");
    // skopeo copy (inspect --raw reads only the manifest).
    let out_dir = tempfile::tempdir().unwrap();
    let auth = l.path.with_file_name("auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let out = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(&l.path)
        .args(["copy", "--authfile"])
        .arg(&auth)
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", out_dir.path().join("out").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let sk = newer_cimage_wording(&fatal_text(&out.stderr));
    assert_eq!(sk, want);
}

/// The credential rule compares domains with the *requested* image, so a `location` that
/// rewrites `example.com/team` to an htpasswd registry gets none of the pod's credentials
/// (meant for example.com) even as the primary: containers/image answers 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_primary_gets_no_pod_credentials() {
    if !have_skopeo() {
        return;
    }
    let h = start(Mode::Htpasswd);
    push(&h, 12, "team/app:v1");
    let (user, pass) = h.user().unwrap();
    let l = layout(&format!(
        r#"
[[registry]]
prefix = "example.com/team"
location = "{h}/team"
insecure = true
"#,
        h = h.host
    ));
    let image = "example.com/team/app:v1";
    let want = format!(
        "reading manifest v1 in {}/team/app: authentication required",
        h.host
    );
    let pod = AuthConfig::basic(user, pass);
    let e = crio_pull(&l, image, Some(&pod), CrioVersion::V1_30)
        .await
        .unwrap_err();
    assert_eq!(e.desc, want);
    assert_eq!(skopeo(&l, image, Some((user, pass))), Oracle::Failed(want));
}
