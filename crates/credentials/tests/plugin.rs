//! Exec credential-provider plugins, run as the kubelet runs them
//! (pkg/credentialprovider/plugin/plugin.go), with testdata/plugins/test-provider: matching,
//! the request on stdin, caching by cacheKeyType, cacheDuration 0 / absent, the apiVersion
//! check, failures, the timeout, and identical concurrent requests sharing one run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use pullsim_credentials::plugin::{PluginProvider, load_plugins};
use pullsim_credentials::{CredentialsError, Keyring};

mod plugin_common;

use plugin_common::{Fixture, bin_dir};

trait Provider {
    fn provider(&self, env: &[(&str, &str)], default_cache: Option<i128>) -> PluginProvider;
}

impl Provider for Fixture {
    fn provider(&self, env: &[(&str, &str)], default_cache: Option<i128>) -> PluginProvider {
        PluginProvider::new(self.config(env, default_cache), &bin_dir())
    }
}

const MINUTE: i128 = 60_000_000_000;

#[test]
fn match_images_gate_the_plugin() {
    let f = Fixture::new();
    let p = f.provider(&[], Some(MINUTE));
    assert!(p.provide("other.io/app").unwrap().is_empty());
    assert!(
        p.provide("registry.io/app").unwrap().is_empty(),
        "one label fewer than *.registry.io"
    );
    assert_eq!(f.runs(), 0);
    let cfg = p.provide("a.registry.io/app").unwrap();
    assert_eq!(cfg.len(), 1);
    assert_eq!(cfg[0].0, "*.registry.io");
    assert_eq!(cfg[0].1.username, "plugin-user");
    assert_eq!(cfg[0].1.password.expose(), "plugin-pass");
    assert!(!p.provide("registry.io:5000/x").unwrap().is_empty());
    assert_eq!(f.runs(), 2);
}

#[test]
fn request_on_stdin_is_the_versioned_json() {
    let f = Fixture::new();
    let p = f.provider(&[], Some(0));
    p.provide("a.registry.io/team/app").unwrap();
    let log = std::fs::read_to_string(&f.log).unwrap();
    assert_eq!(
        log,
        "{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"a.registry.io/team/app\"}\n"
    );
}

#[test]
fn cache_key_type_image() {
    let f = Fixture::new();
    let p = f.provider(
        &[("CACHE_KEY_TYPE", "Image"), ("CACHE_DURATION", "1h")],
        Some(0),
    );
    p.provide("a.registry.io/one").unwrap();
    p.provide("a.registry.io/one").unwrap();
    assert_eq!(f.runs(), 1);
    p.provide("a.registry.io/two").unwrap();
    assert_eq!(
        f.runs(),
        2,
        "another image of the same registry is not cached by Image"
    );
}

#[test]
fn cache_key_type_registry() {
    let f = Fixture::new();
    let p = f.provider(
        &[("CACHE_KEY_TYPE", "Registry"), ("CACHE_DURATION", "1h")],
        Some(0),
    );
    p.provide("a.registry.io/one").unwrap();
    p.provide("a.registry.io/two").unwrap();
    assert_eq!(f.runs(), 1);
    p.provide("b.registry.io/one").unwrap();
    assert_eq!(f.runs(), 2);
}

#[test]
fn cache_key_type_global() {
    let f = Fixture::new();
    let p = f.provider(
        &[("CACHE_KEY_TYPE", "Global"), ("CACHE_DURATION", "1h")],
        Some(0),
    );
    p.provide("a.registry.io/one").unwrap();
    p.provide("b.registry.io/two").unwrap();
    p.provide("registry.io:5000/three").unwrap();
    assert_eq!(f.runs(), 1);
}

#[test]
fn cache_duration_zero_is_not_cached() {
    let f = Fixture::new();
    let p = f.provider(
        &[("CACHE_KEY_TYPE", "Global"), ("CACHE_DURATION", "0s")],
        Some(MINUTE),
    );
    p.provide("a.registry.io/one").unwrap();
    p.provide("a.registry.io/one").unwrap();
    assert_eq!(f.runs(), 2);
}

#[test]
fn absent_cache_duration_uses_default_and_expires() {
    let f = Fixture::new();
    let now = Arc::new(AtomicU64::new(0));
    let clock_now = Arc::clone(&now);
    let p = f
        .provider(&[("CACHE_KEY_TYPE", "Image")], Some(MINUTE))
        .with_clock(Arc::new(move || {
            Duration::from_secs(clock_now.load(Ordering::SeqCst))
        }));
    p.provide("a.registry.io/one").unwrap();
    now.store(59, Ordering::SeqCst);
    p.provide("a.registry.io/one").unwrap();
    assert_eq!(f.runs(), 1, "within defaultCacheDuration");
    now.store(61, Ordering::SeqCst);
    p.provide("a.registry.io/one").unwrap();
    assert_eq!(f.runs(), 2, "expired after defaultCacheDuration");

    // defaultCacheDuration 0 and no cacheDuration: not cached.
    let g = Fixture::new();
    let q = g.provider(&[("CACHE_KEY_TYPE", "Image")], Some(0));
    q.provide("a.registry.io/one").unwrap();
    q.provide("a.registry.io/one").unwrap();
    assert_eq!(g.runs(), 2);
}

// plugin.go ExecPlugin: the exact apiVersion mismatch text.
#[test]
fn api_version_mismatch() {
    let f = Fixture::new();
    let p = f.provider(
        &[(
            "RESPONSE_API_VERSION",
            "credentialprovider.kubelet.k8s.io/v1beta1",
        )],
        Some(0),
    );
    let err = p.provide("a.registry.io/one").unwrap_err();
    assert_eq!(
        err.message,
        "apiVersion from credential plugin response did not match expected apiVersion:credentialprovider.kubelet.k8s.io/v1, actual apiVersion:credentialprovider.kubelet.k8s.io/v1beta1"
    );
}

#[test]
fn invalid_cache_key_type() {
    let f = Fixture::new();
    let p = f.provider(&[("CACHE_KEY_TYPE", "Sometimes")], Some(0));
    let err = p.provide("a.registry.io/one").unwrap_err();
    assert_eq!(
        err.message,
        "credential provider plugin did not return a valid cacheKeyType: \"Sometimes\""
    );
}

#[test]
fn failing_plugin_reports_exit_status_and_stderr() {
    let f = Fixture::new();
    let p = f.provider(&[("PLUGIN_FAIL", "no token for you")], Some(0));
    let err = p.provide("a.registry.io/one").unwrap_err();
    assert_eq!(
        err.message,
        "error execing credential provider plugin test-provider for image a.registry.io/one: exit status 1: no token for you\n"
    );
}

#[test]
fn timeout_kills_the_plugin() {
    let f = Fixture::new();
    let p = f
        .provider(&[("PLUGIN_SLEEP", "30")], Some(0))
        .with_timeout(Duration::from_millis(300));
    let err = p.provide("a.registry.io/one").unwrap_err();
    assert!(
        err.message.starts_with(
            "error execing credential provider plugin test-provider for image a.registry.io/one: context deadline exceeded"
        ),
        "{}",
        err.message
    );
}

#[test]
fn identical_concurrent_requests_share_one_run() {
    let f = Fixture::new();
    let p = Arc::new(f.provider(&[("PLUGIN_SLEEP", "1"), ("CACHE_DURATION", "0")], Some(0)));
    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let p = Arc::clone(&p);
            let b = Arc::clone(&barrier);
            std::thread::spawn(move || {
                b.wait();
                p.provide("a.registry.io/same").unwrap().len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1);
    }
    assert_eq!(f.runs(), 1);
    assert_eq!(p.runs(), 1);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn load_plugins_errors_as_upstream() {
    let t = tempfile::tempdir().unwrap();
    let good = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: test-provider\n    matchImages: [\"*.registry.io\"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n";
    let cfg = write(t.path(), "good.yaml", good);
    let msg = |r: Result<_, CredentialsError>| r.map(|_: Vec<_>| ()).unwrap_err().to_string();
    assert!(
        msg(load_plugins(&cfg, &t.path().join("nope"), true)).ends_with(&format!(
            "plugin binary directory {} did not exist",
            t.path().join("nope").display()
        ))
    );
    assert!(msg(load_plugins(&cfg, t.path(), true)).contains("plugin binary executable"));
    assert_eq!(load_plugins(&cfg, &bin_dir(), true).unwrap().len(), 1);

    let bad = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: test-provider\n    matchImages: []\n    apiVersion: credentialprovider.kubelet.k8s.io/v9\n";
    let cfg = write(t.path(), "bad.yaml", bad);
    let m = msg(load_plugins(&cfg, &bin_dir(), true));
    assert!(
        m.ends_with("failed to validate credential provider config: [providers.apiVersion: Unsupported value: \"credentialprovider.kubelet.k8s.io/v9\": supported values: \"credentialprovider.kubelet.k8s.io/v1\", \"credentialprovider.kubelet.k8s.io/v1alpha1\", \"credentialprovider.kubelet.k8s.io/v1beta1\", providers.matchImages: Required value: at least 1 item in matchImages is required, providers.defaultCacheDuration: Required value]"),
        "{m}"
    );
    for version in ["v1beta1", "v1alpha1"] {
        let text = good.replace(
            "kubelet.config.k8s.io/v1\n",
            &format!("kubelet.config.k8s.io/{version}\n"),
        );
        let cfg = write(t.path(), &format!("{version}.yaml"), &text);
        assert_eq!(
            load_plugins(&cfg, &bin_dir(), true).unwrap().len(),
            1,
            "{version}"
        );
    }
    let unknown = write(t.path(), "unknown.yaml", &format!("{good}    bogus: 1\n"));
    assert!(
        msg(load_plugins(&unknown, &bin_dir(), true))
            .contains("strict decoding error: unknown field \"providers[0].bogus\"")
    );
    // The shipped example config loads.
    assert_eq!(
        load_plugins(&bin_dir().join("config.yaml"), &bin_dir(), true)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn plugin_credentials_come_after_node_config_in_the_keyring() {
    let f = Fixture::new();
    let t = tempfile::tempdir().unwrap();
    let node = write(
        t.path(),
        "config.json",
        r#"{"auths":{"a.registry.io":{"auth":"bm9kZTpucA=="}}}"#,
    );
    let mut kr = Keyring::new();
    kr.add_plugin(Arc::new(f.provider(&[("CACHE_DURATION", "0")], Some(0))));
    kr.add_node_config(&node).unwrap();
    let got: Vec<(String, String, String)> = kr
        .lookup_name("a.registry.io/app")
        .into_iter()
        .map(|m| (m.key, m.source.to_string(), m.auth.username))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "a.registry.io".to_string(),
                format!("node:{}", node.display()),
                "node".to_string()
            ),
            (
                "*.registry.io".to_string(),
                "plugin:test-provider".to_string(),
                "plugin-user".to_string()
            ),
        ]
    );
    // A failing plugin contributes nothing and is reported as a warning, as the kubelet logs it.
    let g = Fixture::new();
    let mut kr = Keyring::new();
    kr.add_plugin(Arc::new(g.provider(&[("PLUGIN_FAIL", "boom")], Some(0))));
    let l = kr.lookup_explained("a.registry.io/app");
    assert!(l.matches.is_empty());
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].contains("exit status 1: boom"));
}
