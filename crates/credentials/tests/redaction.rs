//! Every credential-bearing type, formatted every way it can be (Debug, pretty Debug, Display,
//! serde JSON), never shows the secret text.

use std::path::Path;
use std::sync::Arc;

use pullsim_credentials::auth::{RawEntry, parse_entry};
use pullsim_credentials::keyring::{BasicKeyring, Source};
use pullsim_credentials::kubectl::DockerRegistryOptions;
use pullsim_credentials::lint::lint_text;
use pullsim_credentials::plugin::exec::decode_response;
use pullsim_credentials::plugin::{PluginProvider, ProviderConfig};
use pullsim_credentials::{AuthConfig, Keyring, Secret, parse_pull_secrets};

const M: &str = "PULLSIM-MARKER-PASSWORD-7f3a";

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn check(what: &str, rendered: &[String]) {
    for r in rendered {
        assert!(!r.contains(M), "{what} shows the secret: {r}");
        assert!(
            !r.contains(&b64(&format!("u:{M}"))),
            "{what} shows the auth value: {r}"
        );
    }
}

fn all_debug<T: std::fmt::Debug>(v: &T) -> Vec<String> {
    vec![format!("{v:?}"), format!("{v:#?}")]
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn every_credential_type_is_redacted() {
    let secret = Secret::new(M);
    check(
        "Secret",
        &[
            format!("{secret}"),
            format!("{secret:?}"),
            format!("{secret:#?}"),
            json(&secret),
        ],
    );

    let auth = AuthConfig {
        username: "u".into(),
        password: Secret::new(M),
        auth: Some(Secret::new(b64(&format!("u:{M}")))),
        server_address: Some("r.io".into()),
        identity_token: Some(Secret::new(M)),
        registry_token: Some(Secret::new(M)),
        email: Some("e@x".into()),
    };
    check(
        "AuthConfig",
        &[all_debug(&auth), vec![json(&auth)]].concat(),
    );

    let value = serde_json::json!({"username": "u", "password": M, "auth": b64(&format!("u:{M}")), "identitytoken": M, "registrytoken": M});
    let entry = parse_entry(&value, "x").unwrap();
    assert_eq!(entry.password.expose(), M);
    check(
        "DockerConfigEntry",
        &[all_debug(&entry), vec![json(&entry)]].concat(),
    );
    check(
        "RawEntry",
        &[all_debug(&entry.raw), vec![json(&entry.raw)]].concat(),
    );
    let _: &RawEntry = &entry.raw;

    let cfg = format!(
        r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
        b64(&format!("u:{M}"))
    );
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        b64(&cfg)
    );
    let secrets = parse_pull_secrets(&yaml, Path::new("s.yaml")).unwrap();
    assert_eq!(secrets[0].entries[0].1.password.expose(), M);
    check("PullSecret", &all_debug(&secrets));

    let mut ring = BasicKeyring::default();
    ring.add(
        &Source::Secret {
            namespace: "ns".into(),
            name: "s".into(),
        },
        &secrets[0].entries,
    );
    check("BasicKeyring", &all_debug(&ring));
    let mut keyring = Keyring::new();
    keyring.add_secret(&secrets[0]);
    check("Keyring", &all_debug(&keyring));
    let lookup = keyring.lookup_explained("r.io/app");
    assert_eq!(lookup.matches.len(), 1);
    check(
        "Lookup",
        &[all_debug(&lookup), vec![json(&lookup)]].concat(),
    );
    for m in &lookup.matches {
        check("Match", &[all_debug(m), vec![json(m)]].concat());
    }
    let misses = keyring.lookup_explained("other.io/app");
    check(
        "Miss",
        &[all_debug(&misses.misses), vec![json(&misses.misses)]].concat(),
    );

    let resp = decode_response(
        "p",
        "v1",
        format!(r#"{{"kind":"CredentialProviderResponse","apiVersion":"v1","cacheKeyType":"Image","auth":{{"r.io":{{"username":"u","password":"{M}"}}}}}}"#).as_bytes(),
    )
    .unwrap();
    check("plugin Response", &all_debug(&resp));
    let provider = PluginProvider::new(
        ProviderConfig {
            name: "p".into(),
            match_images: vec!["r.io".into()],
            default_cache_duration: Some(0),
            api_version: "credentialprovider.kubelet.k8s.io/v1".into(),
            args: vec![],
            env: vec![],
            token_attributes: None,
        },
        Path::new("/nonexistent"),
    );
    check("PluginProvider", &all_debug(&Arc::new(provider)));

    let opts = DockerRegistryOptions {
        name: "s".into(),
        password: Secret::new(M),
        ..Default::default()
    };
    check("DockerRegistryOptions", &all_debug(&opts));
}

#[test]
fn errors_and_findings_never_show_values() {
    // An auth field that is not base64, one without a colon, data that is not base64, JSON
    // that does not parse: every error names the field, never the value.
    let cases = [
        format!(r#"{{"auths":{{"r.io":{{"auth":"{M}!"}}}}}}"#),
        format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64(M)),
        format!(r#"{{"auths":{{"r.io":{{"password":{{"nested":"{M}"}}}}}}}}"#),
        format!(r#"{{"auths":{{"r.io":{{"password":"{M}" "#),
    ];
    for cfg in &cases {
        let yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
            b64(cfg)
        );
        let err = parse_pull_secrets(&yaml, Path::new("s.yaml")).unwrap_err();
        check(
            "CredentialsError",
            &[format!("{err}"), format!("{err:?}"), format!("{err:#?}")],
        );
        assert!(
            err.to_string().contains("s.yaml") && err.to_string().contains(".dockerconfigjson"),
            "{err}"
        );
        let findings = lint_text(&yaml, Path::new("s.yaml")).unwrap();
        assert!(!findings.is_empty());
        for f in &findings {
            check("Finding", &[format!("{f}"), format!("{f:?}"), json(f)]);
        }
    }
    let raw = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: '{{\"auths\":{{\"r.io\":{{\"password\":\"{M}\"}}}}}}'\n"
    );
    let err = parse_pull_secrets(&raw, Path::new("s.yaml")).unwrap_err();
    check("CredentialsError", &[format!("{err}"), format!("{err:?}")]);
    let yaml_err =
        parse_pull_secrets(&format!("a: [{M}\nb: c: d\n"), Path::new("y.yaml")).unwrap_err();
    check(
        "CredentialsError (YAML)",
        &[format!("{yaml_err}"), format!("{yaml_err:?}")],
    );
    let json_err =
        parse_pull_secrets(&format!("{{\"a\": \"{M}\" \"b\"}}"), Path::new("j.json")).unwrap_err();
    check(
        "CredentialsError (JSON)",
        &[format!("{json_err}"), format!("{json_err:?}")],
    );
}
