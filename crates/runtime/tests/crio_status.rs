//! Status answers a real registry will not give on demand (5xx, a 403 `DENIED`), from an
//! in-process server, at a CRI-O pull source: containers/image's text for them
//! (`docker/docker_client.go` `fetchManifest`: `reading manifest TAG in NAME: …`,
//! `docker/errors.go` `registryHTTPResponseToError`) compared with skopeo 1.9.3's.
//!
//! The server answers `GET /v2/` with 200 (skopeo pings first; pullsim does not) and every
//! other request with the configured status and body.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use pullsim_reference::Reference;
use pullsim_registry::{Client, ClientOptions, NoProgress};
use pullsim_runtime::StoreSink;
use pullsim_runtime::crio::{CrioVersion, insecure_hosts, pull_with_client};
use pullsim_runtime::registries_conf::{MainFile, RegistriesConf};
use pullsim_store::Store;

/// Serves `status` with `body` (JSON when it starts with `{`) for everything but `/v2/`.
async fn serve(status: u16, body: &'static str) -> String {
    let app = Router::new().fallback(move |uri: Uri| async move {
        if uri.path() == "/v2/" {
            return Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
        }
        let content_type = if body.starts_with('{') {
            "application/json"
        } else {
            "text/plain"
        };
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header("Content-Type", content_type)
            .body(Body::from(body))
            .unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr.to_string()
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

/// skopeo's error for `image` through `conf`, without its own prefix. (A detail-less error
/// with its code's default message prints as the code's words in every containers/image
/// version: `errcode.Errors.UnmarshalJSON` keeps only the code.)
fn skopeo_error(conf: &Path, image: &str) -> String {
    let auth = conf.with_file_name("auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let out = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(conf)
        .args(["inspect", "--raw", "--authfile"])
        .arg(&auth)
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("level=fatal")).unwrap();
    let msg = line.split_once("msg=").unwrap().1.trim();
    let msg = msg[1..msg.len() - 1].replace("\\\"", "\"");
    let prefix = format!("Error parsing image name \"docker://{image}\": ");
    msg.strip_prefix(&prefix).unwrap_or(&msg).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_at_a_source() {
    if !have_skopeo() {
        return;
    }
    let cases: [(u16, &'static str, &str); 3] = [
        (
            500,
            "",
            "received unexpected HTTP status: 500 Internal Server Error",
        ),
        (
            503,
            "busy",
            "received unexpected HTTP status: 503 Service Unavailable",
        ),
        (
            403,
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
            "denied",
        ),
    ];
    for (status, body, want_tail) in cases {
        let host = serve(status, body).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registries.conf");
        std::fs::write(
            &path,
            format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"),
        )
        .unwrap();
        let conf = RegistriesConf::load(&path, None, MainFile::Explicit).unwrap();
        let image = format!("{host}/team/app:v1");
        let want = format!("reading manifest v1 in {host}/team/app: {want_tail}");
        assert_eq!(skopeo_error(&path, &image), want, "{status}");

        let mut opts = ClientOptions::default();
        opts.insecure_registries = insecure_hosts(&conf);
        let client = Client::new(opts).unwrap();
        let root = tempfile::tempdir().unwrap();
        let sink = Arc::new(StoreSink::new(Arc::new(Store::open(root.path()).unwrap())));
        let r = Reference::parse_normalized(&image).unwrap();
        let e = pull_with_client(
            &conf,
            &client,
            &r,
            None,
            CrioVersion::V1_30,
            sink,
            &NoProgress,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(e.desc, want, "{status}: {:?}", e.cause);
    }
}
