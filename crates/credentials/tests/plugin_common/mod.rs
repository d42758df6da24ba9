//! testdata/plugins/test-provider with a log of the requests it got, shared by the plugin
//! tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use pullsim_credentials::plugin::ProviderConfig;

/// The directory holding test-provider.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/plugins")
}

/// A temporary directory with the plugin's request log.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs.log");
        Fixture { _dir: dir, log }
    }

    /// The requests the plugin got, one per run.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// How many times the plugin ran.
    pub fn runs(&self) -> usize {
        self.requests().len()
    }

    /// test-provider for `*.registry.io` and `registry.io:5000`, logging here, with `env`.
    pub fn config(&self, env: &[(&str, &str)], default_cache: Option<i128>) -> ProviderConfig {
        let mut e: Vec<(String, String)> =
            vec![("PLUGIN_LOG".into(), self.log.display().to_string())];
        e.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ProviderConfig {
            name: "test-provider".into(),
            match_images: vec!["*.registry.io".into(), "registry.io:5000".into()],
            default_cache_duration: default_cache,
            api_version: "credentialprovider.kubelet.k8s.io/v1".into(),
            args: vec![],
            env: e,
            token_attributes: None,
        }
    }
}
