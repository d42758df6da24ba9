//! Random input never panics the secret parser, the linter or the keyring.

use std::path::Path;

use proptest::prelude::*;
use pullsim_credentials::lint::{lint_file, lint_text};
use pullsim_credentials::{Keyring, load_pull_secrets, parse_pull_secrets};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        // No panic, and every error names the file it is about.
        if let Err(e) = parse_pull_secrets(&text, Path::new("random")) {
            prop_assert!(e.to_string().starts_with("random"), "{}", e);
        }
        if let Err(e) = lint_text(&text, Path::new("random")) {
            prop_assert!(e.to_string().starts_with("random"), "{}", e);
        }
    }

    /// Raw bytes (not only valid UTF-8) read from a file: an error that names the file.
    #[test]
    fn random_bytes_in_a_file(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let shown = path.display().to_string();
        if let Err(e) = load_pull_secrets(&path) {
            prop_assert!(e.to_string().starts_with(&shown), "{}", e);
        }
        if let Err(e) = lint_file(&path) {
            prop_assert!(e.to_string().starts_with(&shown), "{}", e);
        }
    }

    #[test]
    fn random_payload_in_a_secret(payload in proptest::collection::vec(any::<u8>(), 0..256), ty in prop_oneof![Just("kubernetes.io/dockerconfigjson"), Just("kubernetes.io/dockercfg")]) {
        let yaml = format!("kind: Secret\nmetadata: {{name: s}}\ntype: {ty}\ndata:\n  .dockerconfigjson: {}\n  .dockercfg: {}\n", b64(&payload), b64(&payload));
        if let Err(e) = parse_pull_secrets(&yaml, Path::new("s.yaml")) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("s.yaml") && msg.contains("field "), "{}", msg);
        }
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
