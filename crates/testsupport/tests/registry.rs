//! The test registry in each mode, checked with real HTTP requests.

use std::time::Duration;

use pullsim_testsupport::image::{self, ImageSpec, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use pullsim_testsupport::{Mode, RegistryConfig, RegistryHandle, TOKEN_SERVICE, shared};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn tls_client(reg: &RegistryHandle) -> Client {
    let pem = std::fs::read(reg.ca_file.as_ref().unwrap()).unwrap();
    Client::builder()
        .timeout(Duration::from_secs(20))
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap()
}

fn challenge(resp: &Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Generates a small image and pushes it as `repo:tag`; returns the image.
fn push_small(
    reg: &RegistryHandle,
    repo: &str,
    seed: u64,
) -> (tempfile::TempDir, image::GeneratedImage) {
    let dir = tempfile::tempdir().unwrap();
    let img = image::generate(dir.path(), &ImageSpec::simple("v1", 2, 3000, seed)).unwrap();
    reg.push_image(&img, &format!("{repo}:v1")).unwrap();
    (dir, img)
}

fn manifest_get(
    c: &Client,
    reg: &RegistryHandle,
    repo: &str,
    reference: &str,
    auth: Option<&str>,
) -> Response {
    let mut req = c
        .get(format!("{}/v2/{repo}/manifests/{reference}", reg.url()))
        .header("Accept", ACCEPT);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.send().unwrap()
}

fn token_for(
    reg: &RegistryHandle,
    user: Option<(&str, &str)>,
    scopes: &[&str],
) -> reqwest::blocking::Response {
    let mut url = reqwest::Url::parse(reg.token_realm.as_ref().unwrap()).unwrap();
    url.query_pairs_mut().append_pair("service", TOKEN_SERVICE);
    for s in scopes {
        url.query_pairs_mut().append_pair("scope", s);
    }
    let mut req = client().get(url);
    if let Some((u, p)) = user {
        req = req.basic_auth(u, Some(p));
    }
    req.send().unwrap()
}

fn bearer(reg: &RegistryHandle, user: Option<(&str, &str)>, scopes: &[&str]) -> String {
    let resp = token_for(reg, user, scopes);
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(body["token"], body["access_token"]);
    format!("Bearer {}", body["token"].as_str().unwrap())
}

#[test]
fn anonymous_mode_serves_pushed_images() {
    let reg = shared(Mode::Anonymous);
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    let (_dir, img) = push_small(reg, "anon/app", 1);
    let c = client();
    assert_eq!(
        c.get(format!("{}/v2/", reg.url())).send().unwrap().status(),
        StatusCode::OK
    );
    let resp = manifest_get(&c, reg, "anon/app", "v1", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["docker-content-digest"], img.top_digest());
    // a blob by digest.
    let layer = &img.manifests[0].layers[0];
    let blob = c
        .get(format!("{}/v2/anon/app/blobs/{}", reg.url(), layer.digest))
        .send()
        .unwrap();
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.bytes().unwrap().len() as u64, layer.size);
}

#[test]
fn multi_arch_index_is_pushed_with_its_digest() {
    let reg = shared(Mode::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let img = image::generate(dir.path(), &ImageSpec::multi_arch("multi", 1, 1000, 9)).unwrap();
    reg.push_image(&img, "anon/multi").unwrap();
    let c = client();
    let resp = manifest_get(&c, reg, "anon/multi", "multi", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], MEDIA_TYPE_INDEX);
    assert_eq!(
        resp.headers()["docker-content-digest"].to_str().unwrap(),
        img.index_digest.as_deref().unwrap()
    );
    for m in &img.manifests {
        let resp = manifest_get(&c, reg, "anon/multi", &m.digest, None);
        assert_eq!(resp.status(), StatusCode::OK, "{}", m.platform);
        assert_eq!(resp.headers()["content-type"], MEDIA_TYPE_MANIFEST);
    }
}

#[test]
fn htpasswd_mode_challenges_and_checks_passwords() {
    let reg = shared(Mode::Htpasswd);
    let (_dir, img) = push_small(reg, "team/htp", 2);
    let c = client();
    let v2 = format!("{}/v2/", reg.url());
    let resp = c.get(&v2).send().unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&resp), "Basic realm=\"pullsim-registry\"");
    let (user, pass) = reg.user().unwrap();
    assert_eq!(
        c.get(&v2)
            .basic_auth(user, Some(pass))
            .send()
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(&v2)
            .basic_auth(user, Some("wrong"))
            .send()
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.get(&v2)
            .basic_auth("nobody", Some(pass))
            .send()
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = c
        .get(format!("{}/v2/team/htp/manifests/v1", reg.url()))
        .header("Accept", ACCEPT)
        .basic_auth(user, Some(pass))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["docker-content-digest"], img.top_digest());
}

#[test]
fn token_mode_grants_per_repository() {
    let reg = shared(Mode::Token);
    let (_dir, img) = push_small(reg, "team/tok", 3);
    push_small(reg, "other/tok", 4);
    let c = client();
    let realm = reg.token_realm.clone().unwrap();

    let resp = c.get(format!("{}/v2/", reg.url())).send().unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&resp),
        format!("Bearer realm=\"{realm}\",service=\"{TOKEN_SERVICE}\"")
    );
    let resp = manifest_get(&c, reg, "team/tok", "v1", None);
    assert!(
        challenge(&resp).contains("scope=\"repository:team/tok:pull\""),
        "{}",
        challenge(&resp)
    );

    // alice may pull team/*: the registry accepts the token.
    let alice = Some(("alice", "alice-pass"));
    let token = bearer(reg, alice, &["repository:team/tok:pull"]);
    let resp = manifest_get(&c, reg, "team/tok", "v1", Some(&token));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["docker-content-digest"], img.top_digest());

    // the same token on another repository: insufficient scope.
    let resp = manifest_get(&c, reg, "other/tok", "v1", Some(&token));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&resp).contains("error=\"insufficient_scope\""),
        "{}",
        challenge(&resp)
    );

    // alice asking for other/tok gets a token without access.
    let token = bearer(reg, alice, &["repository:other/tok:pull"]);
    assert_eq!(
        manifest_get(&c, reg, "other/tok", "v1", Some(&token)).status(),
        StatusCode::UNAUTHORIZED
    );
    // bob may pull other/*.
    let token = bearer(
        reg,
        Some(("bob", "bob-pass")),
        &["repository:other/tok:pull"],
    );
    assert_eq!(
        manifest_get(&c, reg, "other/tok", "v1", Some(&token)).status(),
        StatusCode::OK
    );
    // anonymous tokens carry no access by default.
    let token = bearer(reg, None, &["repository:team/tok:pull"]);
    assert_eq!(
        manifest_get(&c, reg, "team/tok", "v1", Some(&token)).status(),
        StatusCode::UNAUTHORIZED
    );
    // Basic credentials are not accepted by the registry in token mode.
    let resp = c
        .get(format!("{}/v2/team/tok/manifests/v1", reg.url()))
        .header("Accept", ACCEPT)
        .basic_auth("alice", Some("alice-pass"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn token_endpoint_rejects_bad_credentials_and_counts_requests() {
    let reg = RegistryHandle::start(
        Mode::Token,
        RegistryConfig {
            token_ttl: Duration::from_secs(2),
            ..RegistryConfig::default()
        },
    )
    .unwrap();
    assert_eq!(reg.token_requests(), 0);
    let resp = token_for(&reg, Some(("alice", "wrong")), &["repository:team/x:pull"]);
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    assert!(
        !body.to_string().contains("wrong"),
        "the password is not echoed"
    );
    assert_eq!(
        token_for(&reg, Some(("mallory", "x")), &[]).status(),
        StatusCode::UNAUTHORIZED
    );

    let resp = token_for(
        &reg,
        Some(("alice", "alice-pass")),
        &["repository:team/x:pull,push", "repository:other/y:pull"],
    );
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(body["expires_in"], 2);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(reg.token_requests(), 3);
    let log = reg.token_log();
    assert_eq!(log[0].user.as_deref(), Some("alice"));
    assert_eq!(log[0].status, 401);
    assert_eq!(
        log[2].scopes,
        vec!["repository:team/x:pull,push", "repository:other/y:pull"]
    );
    assert_eq!(log[2].granted, vec!["repository:team/x:pull"]);
}

#[test]
fn anonymous_pull_and_oauth_post_flow() {
    let reg = RegistryHandle::start(
        Mode::Token,
        RegistryConfig {
            anonymous_acl: vec!["public/*".into()],
            ..RegistryConfig::default()
        },
    )
    .unwrap();
    reg.push_generated(&ImageSpec::simple("v1", 1, 100, 10), "public/app")
        .unwrap();
    reg.push_generated(&ImageSpec::simple("v1", 1, 100, 11), "team/app")
        .unwrap();
    let c = client();
    let token = bearer(&reg, None, &["repository:public/app:pull"]);
    assert_eq!(
        manifest_get(&c, &reg, "public/app", "v1", Some(&token)).status(),
        StatusCode::OK
    );
    let token = bearer(&reg, None, &["repository:team/app:pull"]);
    assert_eq!(
        manifest_get(&c, &reg, "team/app", "v1", Some(&token)).status(),
        StatusCode::UNAUTHORIZED
    );

    // containerd's OAuth2 password grant.
    let form = format!(
        "grant_type=password&username=alice&password=alice-pass&service={TOKEN_SERVICE}&scope=repository%3Ateam%2Fapp%3Apull&client_id=containerd-client"
    );
    let resp = c
        .post(reg.token_realm.clone().unwrap())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    let token = format!("Bearer {}", body["access_token"].as_str().unwrap());
    assert_eq!(
        manifest_get(&c, &reg, "team/app", "v1", Some(&token)).status(),
        StatusCode::OK
    );
    let bad = c
        .post(reg.token_realm.clone().unwrap())
        .body(
            "grant_type=password&username=alice&password=nope&scope=repository%3Ateam%2Fapp%3Apull",
        )
        .send()
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let last = reg.token_log().pop().unwrap();
    assert_eq!(
        (last.method, last.user.as_deref(), last.status),
        ("POST", Some("alice"), 401)
    );
}

#[test]
fn jwt_claims_follow_the_registry_rules() {
    use base64::Engine;
    let reg = shared(Mode::Token);
    let token = bearer(
        reg,
        Some(("alice", "alice-pass")),
        &["repository:team/claims:pull,push"],
    );
    let jwt = token.trim_start_matches("Bearer ");
    let parts: Vec<&str> = jwt.split('.').collect();
    let decode = |p: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"].as_str().unwrap().split(':').count(), 12);
    let claims = decode(parts[1]);
    assert_eq!(claims["iss"], pullsim_testsupport::TOKEN_ISSUER);
    assert_eq!(
        claims["aud"], TOKEN_SERVICE,
        "aud is a string, not an array"
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "team/claims", "actions": ["pull"]}])
    );
}

#[test]
fn expired_tokens_are_rejected_by_the_registry() {
    let reg = shared(Mode::Token);
    push_small(reg, "team/expiry", 5);
    let server = reg.token_server().unwrap();
    let c = client();
    let fresh = server.mint(Some("alice"), &["repository:team/expiry:pull"], 300);
    let resp = manifest_get(
        &c,
        reg,
        "team/expiry",
        "v1",
        Some(&format!("Bearer {fresh}")),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    let expired = server.mint(Some("alice"), &["repository:team/expiry:pull"], -120);
    let resp = manifest_get(
        &c,
        reg,
        "team/expiry",
        "v1",
        Some(&format!("Bearer {expired}")),
    );
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&resp).contains("invalid_token"),
        "{}",
        challenge(&resp)
    );
}

#[test]
fn tls_mode_serves_https_with_the_test_ca() {
    let reg = shared(Mode::Tls);
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let (_dir, img) = push_small(reg, "secure/app", 6);
    let c = tls_client(reg);
    assert_eq!(
        c.get(format!("{}/v2/", reg.url())).send().unwrap().status(),
        StatusCode::OK
    );
    let resp = manifest_get(&c, reg, "secure/app", "v1", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["docker-content-digest"], img.top_digest());
    // the name localhost is in the certificate too.
    let url = format!(
        "https://localhost:{}/v2/",
        reg.host.rsplit(':').next().unwrap()
    );
    assert_eq!(c.get(url).send().unwrap().status(), StatusCode::OK);
    // without the CA the certificate is not trusted.
    let err = client()
        .get(format!("{}/v2/", reg.url()))
        .send()
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[test]
fn htpasswd_with_tls_is_available() {
    let reg = RegistryHandle::start(
        Mode::Htpasswd,
        RegistryConfig {
            tls: true,
            ..RegistryConfig::default()
        },
    )
    .unwrap();
    assert!(reg.tls);
    push_small(&reg, "team/both", 7);
    let c = tls_client(&reg);
    let resp = c.get(format!("{}/v2/", reg.url())).send().unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.get(format!("{}/v2/", reg.url()))
            .basic_auth("bob", Some("bob-pass"))
            .send()
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[test]
fn drop_stops_the_registry_and_removes_its_directory() {
    let reg = RegistryHandle::start(Mode::Anonymous, RegistryConfig::default()).unwrap();
    let pid = reg.registry_pid();
    let dir = reg.dir.clone();
    let url = format!("{}/v2/", reg.url());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.join("config.yml").exists());
    reg.stop();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "registry {pid} still running"
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(client().get(url).send().is_err());
}

#[test]
fn push_generated_keeps_the_layout_until_stop() {
    let reg = RegistryHandle::start(Mode::Anonymous, RegistryConfig::default()).unwrap();
    let img = reg
        .push_generated(&ImageSpec::simple("v2", 1, 100, 8), "gen/app")
        .unwrap();
    assert!(img.dir.starts_with(&reg.dir));
    assert_eq!(
        reg.reference("gen/app:v2"),
        format!("{}/gen/app:v2", reg.host)
    );
    let resp = manifest_get(&client(), &reg, "gen/app", "v2", None);
    assert_eq!(resp.headers()["docker-content-digest"], img.top_digest());
}

#[test]
fn shared_registries_are_started_once() {
    assert!(std::ptr::eq(
        shared(Mode::Anonymous),
        shared(Mode::Anonymous)
    ));
    assert_eq!(shared(Mode::Htpasswd).mode, Mode::Htpasswd);
}

#[test]
fn bad_configs_are_reported() {
    let err = RegistryHandle::start(
        Mode::Token,
        RegistryConfig {
            acl: vec![("carol".into(), "team/*".into())],
            ..RegistryConfig::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("carol"), "{err}");
    assert!("nope".parse::<Mode>().is_err());
    assert_eq!("tls".parse::<Mode>().unwrap(), Mode::Tls);
}
