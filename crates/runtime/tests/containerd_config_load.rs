//! containerd's config.toml: where the pull settings live in each config version, 2.x's
//! migration and defaults, validation errors, CheckLocalImagePullConfigs and ParseAuth.
//! Sources: containerd v2.3.4 `internal/cri/config/config.go`, `plugins/cri/images/plugin.go`,
//! `cmd/containerd/server/config/config.go`, `internal/cri/server/images/image_pull.go`;
//! v1.7.34 `pkg/cri/config/config.go`.

use std::path::Path;
use std::time::Duration;

use pullsim_runtime::AuthConfig;
use pullsim_runtime::containerd_config::{
    ContainerdConfig, ContainerdConfigError, ContainerdGeneration, DEFAULT_CONFIG_PATH_2X,
    ParseAuthError, parse_auth,
};
use pullsim_runtime::hosts_dir::{ConfigPathMode, find_host_dir};

fn parse(text: &str) -> ContainerdConfig {
    ContainerdConfig::parse_str(text, Path::new("/etc/containerd/config.toml")).unwrap()
}

fn parse_err(text: &str) -> String {
    ContainerdConfig::parse_str(text, Path::new("/etc/containerd/config.toml"))
        .unwrap_err()
        .to_string()
}

const V3: &str = r#"
version = 3
[plugins."io.containerd.cri.v1.images"]
  max_concurrent_downloads = 3
  image_pull_progress_timeout = "1m30s"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "/etc/containerd/certs.d"
[plugins."io.containerd.transfer.v1.local"]
  max_concurrent_downloads = 5
"#;

#[test]
fn version_3_keys_under_the_images_plugin() {
    let c = parse(V3);
    assert_eq!(c.version, 3);
    assert_eq!(c.generation, ContainerdGeneration::V2);
    assert_eq!(c.config_path.as_deref(), Some("/etc/containerd/certs.d"));
    assert_eq!(
        c.effective_config_path().as_deref(),
        Some("/etc/containerd/certs.d")
    );
    assert_eq!(c.max_concurrent_downloads, Some(3));
    assert_eq!(c.transfer_max_concurrent_downloads, Some(5));
    assert_eq!(c.image_pull_progress_timeout, Some(Duration::from_secs(90)));
    assert!(c.local_pull_reasons().is_empty());
    assert!(!c.uses_local_image_pull());
    assert_eq!(c.effective_max_concurrent_downloads(), 5);
    // Version 3 is migrated to 4 by containerd 2.3 (serviceMigrate), which logs it.
    assert_eq!(
        c.warnings,
        [
            "level=warning msg=\"Configuration migrated from version 3, use `containerd config migrate` to avoid migration\""
        ]
    );
}

#[test]
fn version_2_keys_under_the_grpc_cri_plugin() {
    let text = r#"
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  max_concurrent_downloads = 10
  [plugins."io.containerd.grpc.v1.cri".containerd]
    disable_snapshot_annotations = true
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["https://mirror.example", "https://registry-1.docker.io"]
  [plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example".tls]
    insecure_skip_verify = true
"#;
    let c = parse(text);
    assert_eq!(c.generation, ContainerdGeneration::V1);
    assert_eq!(c.config_path, None);
    // 1.x: no default config_path; the legacy mirrors are used.
    assert_eq!(c.effective_config_path(), None);
    assert_eq!(
        c.registry_mirrors["docker.io"],
        ["https://mirror.example", "https://registry-1.docker.io"]
    );
    assert!(
        c.registry_configs["mirror.example"]
            .tls
            .as_ref()
            .unwrap()
            .insecure_skip_verify
    );
    assert_eq!(c.max_concurrent_downloads, Some(10));
    assert_eq!(c.effective_max_concurrent_downloads(), 10);
    assert!(c.uses_local_image_pull());
    assert!(
        c.local_pull_reasons().is_empty(),
        "1.x has no transfer service"
    );
    assert_eq!(
        c.warnings,
        [
            "level=warning msg=\"`mirrors` is deprecated, please use `config_path` instead\"",
            "level=warning msg=\"`configs.tls` is deprecated, please use `config_path` instead\"",
            "level=warning msg=\"`configs` is deprecated, please use `config_path` instead\"",
        ]
    );

    // The same file read by containerd 2.x: migrated; the mirrors make CRI pull locally.
    let c2 = ContainerdConfig::parse_str_as(
        text,
        Path::new("/etc/containerd/config.toml"),
        ContainerdGeneration::V2,
    )
    .unwrap();
    assert_eq!(c2.effective_config_path(), None, "mirrors set: no default");
    assert_eq!(
        c2.warnings[0],
        "level=warning msg=\"Configuration migrated from version 2, use `containerd config migrate` to avoid migration\""
    );
    assert_eq!(
        c2.local_pull_reasons(),
        [
            "level=warning msg=\"Found 'Registry.Mirrors' in CRI config which is incompatible with transfer service (not supported with transfer service (also deprecated)). Falling back to local image pull mode.\""
        ]
    );
    assert!(c2.uses_local_image_pull());
}

#[test]
fn version_1_bare_cri_plugin_name() {
    let text = "[plugins.cri.registry]\nconfig_path = \"/a:/b\"\n";
    let c = parse(text);
    assert_eq!(c.version, 0);
    assert_eq!(c.generation, ContainerdGeneration::V1);
    assert_eq!(c.config_path.as_deref(), Some("/a:/b"));
    // v1.7.34:services/server/config/config.go ValidateV2.
    assert_eq!(
        c.warnings,
        [
            "level=warning msg=\"containerd config version `1` has been deprecated and will be converted on each startup in containerd v2.0, use `containerd config migrate` after upgrading to containerd 2.0 to avoid conversion on startup\""
        ]
    );
    // containerd 2.x: v1Migrate renames `cri`, the images plugin migration moves `registry`.
    let c2 = ContainerdConfig::parse_str_as(text, Path::new("/c.toml"), ContainerdGeneration::V2)
        .unwrap();
    assert_eq!(c2.config_path.as_deref(), Some("/a:/b"));
    assert_eq!(
        c2.warnings,
        [
            "level=warning msg=\"Configuration migrated from version 0, use `containerd config migrate` to avoid migration\""
        ]
    );
    // containerd 1.x refuses a version 3 file.
    let e = ContainerdConfig::parse_str_as(
        "version = 3\n",
        Path::new("/c.toml"),
        ContainerdGeneration::V1,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to load TOML from /c.toml: unsupported config version `3`"
    );
}

// plugins/cri/images/plugin.go@v2.3.4: the Linux default.
#[test]
fn default_config_path_2x() {
    let c = parse("version = 3\n");
    assert_eq!(c.config_path, None);
    assert_eq!(
        c.effective_config_path().as_deref(),
        Some(DEFAULT_CONFIG_PATH_2X)
    );
    assert_eq!(
        DEFAULT_CONFIG_PATH_2X,
        "/etc/containerd/certs.d:/etc/docker/certs.d"
    );
    assert_eq!(c.effective_max_concurrent_downloads(), 3);
    assert!(!c.uses_local_image_pull());
    // The transfer service takes the default list as one directory: no mirror is ever found.
    assert_eq!(c.config_path_mode(), ConfigPathMode::WholeString);
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    std::fs::create_dir_all(a.join("docker.io")).unwrap();
    let listed = format!("{}:/nonexistent", a.display());
    assert_eq!(
        find_host_dir(&listed, c.config_path_mode(), "docker.io"),
        None
    );
    let local = parse(
        "version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\nuse_local_image_pull = true\n",
    );
    assert_eq!(local.config_path_mode(), ConfigPathMode::SplitRoots);
    assert_eq!(
        find_host_dir(&listed, local.config_path_mode(), "docker.io"),
        Some(a.join("docker.io"))
    );
}

// CheckLocalImagePullConfigs: the first reason only, in containerd's order.
#[test]
fn local_pull_reasons_in_containerds_order() {
    let base = "version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\n";
    let line = |name: &str, reason: &str| {
        format!(
            "level=warning msg=\"Found '{name}' in CRI config which is incompatible with transfer service ({reason}). Falling back to local image pull mode.\""
        )
    };
    let cases = [
        (
            "disable_snapshot_annotations = false\ndiscard_unpacked_layers = true\n",
            line(
                "DisableSnapshotAnnotations",
                "moved to snapshotter plugin when using transfer service",
            ),
        ),
        (
            "discard_unpacked_layers = true\nmax_concurrent_downloads = 4\n",
            line(
                "DiscardUnpackedLayers",
                "not supported with transfer service",
            ),
        ),
        (
            "max_concurrent_downloads = 4\n",
            line(
                "MaxConcurrentDownloads",
                "must be configured in transfer service plugin: plugins.\\\"io.containerd.transfer.v1.local\\\"",
            ),
        ),
        (
            "image_pull_with_sync_fs = true\n",
            line("ImagePullWithSyncFs", "not supported with transfer service"),
        ),
        (
            "[plugins.\"io.containerd.cri.v1.images\".registry.auths.\"https://r.example\"]\nusername = \"u\"\n",
            line(
                "Registry.Configs",
                "not supported with transfer service (also deprecated)",
            ),
        ),
    ];
    for (extra, want) in cases {
        let c = parse(&format!("{base}{extra}"));
        assert_eq!(c.local_pull_reasons(), [want], "{extra}");
        assert!(c.uses_local_image_pull());
    }
    // use_local_image_pull: local pull, nothing logged.
    let c = parse(&format!(
        "{base}use_local_image_pull = true\nmax_concurrent_downloads = 4\n"
    ));
    assert!(c.local_pull_reasons().is_empty());
    assert!(c.uses_local_image_pull());
    assert_eq!(c.effective_max_concurrent_downloads(), 4);
}

#[test]
fn auths_merge_into_configs_without_scheme() {
    let c = parse(
        r#"
version = 3
[plugins."io.containerd.cri.v1.images".registry.auths."https://r.example:5000"]
  username = "u"
  password = "p"
[plugins."io.containerd.cri.v1.images".registry.configs."other.example".auth]
  auth = "dXNlcjpwYXNz"
"#,
    );
    let creds = |kubelet: Option<&AuthConfig>, host: &str| {
        let (u, p) = c.cri_credentials(kubelet, host).unwrap();
        (u, p.expose().to_string())
    };
    let pair = |u: &str, p: &str| (u.to_string(), p.to_string());
    assert_eq!(creds(None, "r.example:5000"), pair("u", "p"));
    assert_eq!(creds(None, "other.example"), pair("user", "pass"));
    assert_eq!(creds(None, "third.example"), pair("", ""));
    // The kubelet's credential wins, for every host (mirrors included).
    let pod = AuthConfig::basic("pod-user", "pod-pass");
    assert_eq!(
        creds(Some(&pod), "other.example"),
        pair("pod-user", "pod-pass")
    );
    assert_eq!(
        creds(Some(&pod), "third.example"),
        pair("pod-user", "pod-pass")
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("`auths` is deprecated, please use `ImagePullSecrets` instead"))
    );
    // Debug output never shows a secret.
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("dXNlcjpwYXNz") && !debug.contains("\"p\""),
        "{debug}"
    );
}

// internal/cri/server/images/image_pull.go@v2.3.4 ParseAuth.
#[test]
fn parse_auth_like_cri() {
    assert_eq!(parse_auth(None, "h").unwrap().0, "");
    let mut a = AuthConfig::basic("u", "p");
    a.server_address = Some("https://other.example".into());
    assert_eq!(
        parse_auth(Some(&a), "h.example").unwrap().0,
        "",
        "other server: anonymous"
    );
    assert_eq!(parse_auth(Some(&a), "other.example").unwrap().0, "u");
    let token = AuthConfig {
        identity_token: Some("tok".into()),
        ..AuthConfig::default()
    };
    let (u, s) = parse_auth(Some(&token), "h").unwrap();
    assert_eq!((u.as_str(), s.expose()), ("", "tok"));
    let field = |v: &str| AuthConfig {
        auth: Some(v.into()),
        ..AuthConfig::default()
    };
    // Padded standard base64 only; trailing NULs trimmed from the password.
    let (u, s) = parse_auth(Some(&field("dTpwAA==")), "h").unwrap();
    assert_eq!((u.as_str(), s.expose()), ("u", "p"));
    assert_eq!(
        parse_auth(Some(&field("dTpw")), "h").unwrap().1.expose(),
        "p"
    );
    let err = parse_auth(Some(&field("dTp")), "h").unwrap_err();
    assert!(
        matches!(&err, ParseAuthError::Base64 { message } if message.starts_with("illegal base64 data at input byte ")),
        "{err:?}"
    );
    assert_eq!(
        parse_auth(Some(&field("bm9jb2xvbg==")), "h")
            .unwrap_err()
            .to_string(),
        "invalid decoded auth: <redacted>"
    );
}

#[test]
fn errors_name_the_file_and_key() {
    assert_eq!(
        parse_err("version = 5\n"),
        "failed to load TOML from /etc/containerd/config.toml: expected containerd config version equal to or less than `4`, got `5`"
    );
    assert_eq!(
        parse_err(
            "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\nconfig_path = \"/x\"\n[plugins.\"io.containerd.cri.v1.images\".registry.mirrors.\"docker.io\"]\nendpoint = [\"https://m\"]\n"
        ),
        "invalid cri image config: `mirrors` cannot be set when `config_path` is provided"
    );
    assert_eq!(
        parse_err(
            "version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\nimage_pull_progress_timeout = \"5\"\n"
        ),
        "invalid cri image config: invalid image pull progress timeout: time: missing unit in duration \"5\""
    );
    let e = ContainerdConfig::parse_str(
        "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\nconfig_path = 5\n",
        Path::new("/c.toml"),
    )
    .unwrap_err();
    assert!(
        matches!(&e, ContainerdConfigError::WrongType { key, .. } if key == "plugins.\"io.containerd.cri.v1.images\".registry.config_path"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("failed to load TOML from /c.toml: "),
        "{e}"
    );
    let e = ContainerdConfig::load(Path::new("/nonexistent/config.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("failed to read /nonexistent/config.toml: "),
        "{e}"
    );
}
