//! Random input never panics the secret parser, the linter or the keyring.

use std::path::Path;

use proptest::prelude::*;
use pullsim_credentials::lint::lint_text;
use pullsim_credentials::{Keyring, parse_pull_secrets};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_pull_secrets(&text, Path::new("random"));
        let _ = lint_text(&text, Path::new("random"));
    }

    #[test]
    fn random_payload_in_a_secret(payload in proptest::collection::vec(any::<u8>(), 0..256), ty in prop_oneof![Just("kubernetes.io/dockerconfigjson"), Just("kubernetes.io/dockercfg")]) {
        let yaml = format!("kind: Secret\nmetadata: {{name: s}}\ntype: {ty}\ndata:\n  .dockerconfigjson: {}\n  .dockercfg: {}\n", b64(&payload), b64(&payload));
        let _ = parse_pull_secrets(&yaml, Path::new("s.yaml"));
        let _ = lint_text(&yaml, Path::new("s.yaml"));
    }

    #[test]
    fn random_registry_keys_and_images(key in "\\PC{0,40}", auth in "\\PC{0,30}", image in "[a-z0-9.:/\\[\\]*?-]{0,40}") {
        let cfg = serde_json::json!({"auths": {key.clone(): {"auth": auth, "username": "u"}}}).to_string();
        if let Ok(secrets) = parse_pull_secrets(&cfg, Path::new("config.json")) {
            let mut k = Keyring::new();
            for s in &secrets {
                k.add_secret(s);
            }
            let _ = k.lookup_explained(&image);
        }
        let _ = lint_text(&cfg, Path::new("config.json"));
        let _ = pullsim_credentials::urlmatch::urls_match_str(&key, &image);
        let _ = pullsim_credentials::glob::path_match(&key, &image);
    }
}
