//! containerd's host directory, read with no network: directory lookup, hosts.toml keys and
//! order, defaults, the certificate-file fallback. Expected values are containerd v2.3.4's
//! (`core/remotes/docker/config/hosts.go`, `config_unix.go`, `hosts_test.go`, docs/hosts.md).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pullsim_runtime::hosts_dir::{
    Capability, ConfigPathMode, HostEntry, HostsFileError, check_hosts_toml, find_host_dir,
    host_directory, load_hosts,
};

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn urls(hosts: &[HostEntry]) -> Vec<String> {
    hosts.iter().map(HostEntry::url).collect()
}

fn root_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// hosts.go@v2.3.4 hostDirectory; hosts_test.go TestHostDirectory-like cases.
#[test]
fn host_directory_replaces_the_last_colon() {
    assert_eq!(host_directory("myregistry.io:5000"), "myregistry.io_5000_");
    assert_eq!(host_directory("docker.io"), "docker.io");
    assert_eq!(host_directory("[::1]:5000"), "[::1]_5000_");
    assert_eq!(host_directory(":5000"), ":5000");
}

// config_unix.go@v2.3.4 hostPaths + image_pull.go hostDirFromRoots.
#[test]
fn lookup_order_host_port_dir_then_host_then_default_then_next_root() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let cp = format!("{}:{}", root_str(a.path()), root_str(b.path()));
    let h = "reg.example:5000";
    assert_eq!(find_host_dir(&cp, ConfigPathMode::SplitRoots, h), None);

    fs::create_dir_all(b.path().join("reg.example_5000_")).unwrap();
    assert_eq!(
        find_host_dir(&cp, ConfigPathMode::SplitRoots, h),
        Some(b.path().join("reg.example_5000_"))
    );
    // The first root's _default wins over the second root's exact directory.
    fs::create_dir_all(a.path().join("_default")).unwrap();
    assert_eq!(
        find_host_dir(&cp, ConfigPathMode::SplitRoots, h),
        Some(a.path().join("_default"))
    );
    fs::create_dir_all(a.path().join("reg.example:5000")).unwrap();
    assert_eq!(
        find_host_dir(&cp, ConfigPathMode::SplitRoots, h),
        Some(a.path().join("reg.example:5000"))
    );
    fs::create_dir_all(a.path().join("reg.example_5000_")).unwrap();
    assert_eq!(
        find_host_dir(&cp, ConfigPathMode::SplitRoots, h),
        Some(a.path().join("reg.example_5000_"))
    );
    // The transfer service (2.x) does not split: "a:b" is one directory that does not exist.
    assert_eq!(find_host_dir(&cp, ConfigPathMode::WholeString, h), None);
    assert_eq!(
        find_host_dir(root_str(b.path()), ConfigPathMode::WholeString, h),
        Some(b.path().join("reg.example_5000_"))
    );
    // An empty config_path has no roots.
    assert_eq!(find_host_dir("", ConfigPathMode::SplitRoots, h), None);
}

// hosts.go@v2.3.4 ConfigureHosts: the default entry when no directory matches.
#[test]
fn defaults_without_a_directory() {
    let r = load_hosts("", ConfigPathMode::SplitRoots, "docker.io").unwrap();
    assert_eq!(r.dir, None);
    assert_eq!(urls(&r.hosts), ["https://registry-1.docker.io/v2"]);
    assert_eq!(r.hosts[0].capabilities, Capability::ALL);
    assert!(r.hosts[0].from_server);
    assert!(r.warnings.is_empty());

    let r = load_hosts("", ConfigPathMode::SplitRoots, "quay.io").unwrap();
    assert_eq!(urls(&r.hosts), ["https://quay.io/v2"]);
    assert_eq!(r.hosts[0].skip_verify, None);

    // Loopback with a port other than 443/80: http + skip_verify, which makes it HTTPS-first
    // with HTTP fallback, logged at info.
    let r = load_hosts("", ConfigPathMode::SplitRoots, "127.0.0.1:5000").unwrap();
    let h = &r.hosts[0];
    assert_eq!(
        (
            h.scheme.as_str(),
            h.host.as_str(),
            h.http_fallback,
            h.skip_verify
        ),
        ("https", "127.0.0.1:5000", true, Some(true))
    );
    assert_eq!(
        r.warnings,
        [
            "level=info msg=\"host will try HTTPS first since it is configured for HTTP with a TLS configuration, consider changing host to HTTPS or removing unused TLS configuration\" host=\"127.0.0.1:5000\""
        ]
    );
    // Port 80: plain http, no TLS settings, no fallback.
    let r = load_hosts("", ConfigPathMode::SplitRoots, "localhost:80").unwrap();
    let h = &r.hosts[0];
    assert_eq!(
        (h.scheme.as_str(), h.http_fallback, h.skip_verify),
        ("http", false, None)
    );
    // No port: https, verification skipped.
    let r = load_hosts("", ConfigPathMode::SplitRoots, "localhost").unwrap();
    let h = &r.hosts[0];
    assert_eq!(
        (h.scheme.as_str(), h.http_fallback, h.skip_verify),
        ("https", false, Some(true))
    );
}

// docs/hosts.md: hosts in file order, the upstream (server or default) always last.
#[test]
fn hosts_toml_tables_in_file_order_then_server() {
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "docker.io/hosts.toml",
        r#"
server = "https://registry-1.docker.io"

[host."https://zz-mirror.example"]
  capabilities = ["pull", "resolve"]
[host."mirror-b.example:8443"]
  capabilities = ["PULL"]
  skip_verify = true
[host."http://aa-mirror.example/v2/proxy"]
  override_path = true
  dial_timeout = "1m30s"
[host."https://zz-mirror.example".header]
  x-custom = ["a", "b"]
  authorization = "Basic abc"
"#,
    );
    let r = load_hosts(
        root_str(root.path()),
        ConfigPathMode::SplitRoots,
        "docker.io",
    )
    .unwrap();
    assert_eq!(r.dir, Some(root.path().join("docker.io")));
    assert_eq!(
        urls(&r.hosts),
        [
            "https://zz-mirror.example/v2",
            "https://mirror-b.example:8443/v2",
            "http://aa-mirror.example/v2/proxy",
            // getSortedHosts lists zz-mirror again for its later `.header` sub-table.
            "https://zz-mirror.example/v2",
            "https://registry-1.docker.io/v2",
        ]
    );
    let h = &r.hosts;
    assert_eq!(h[0].capabilities, [Capability::Pull, Capability::Resolve]);
    assert_eq!(
        h[0].header,
        [
            ("authorization".to_string(), "Basic abc".to_string()),
            ("x-custom".to_string(), "a".to_string()),
            ("x-custom".to_string(), "b".to_string()),
        ]
    );
    assert_eq!(h[1].capabilities, [Capability::Pull]);
    assert_eq!(h[1].skip_verify, Some(true));
    assert!(h[2].override_path);
    assert_eq!(h[2].dial_timeout, Some(Duration::from_secs(90)));
    assert_eq!(h[2].scheme, "http");
    assert!(!h[2].http_fallback, "no TLS settings: stays plain HTTP");
    assert_eq!(h[4].capabilities, Capability::ALL);
    assert!(h[4].from_server && !h[3].from_server);
    assert!(r.warnings.is_empty());
}

// hosts.go@v2.3.4 parseHostConfig: URL and path rules.
#[test]
fn url_and_path_rules() {
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "_default/hosts.toml",
        r#"
[host."mirror.example"]
[host."https://m2.example/"]
[host."https://m3.example/sub/path/"]
[host."https://m4.example/v2/"]
[host."https://m5.example"]
  override_path = true
[host."http://m6.example:5000"]
  ca = "ca.pem"
"#,
    );
    let r = load_hosts(root_str(root.path()), ConfigPathMode::SplitRoots, "quay.io").unwrap();
    assert_eq!(r.dir, Some(root.path().join("_default")));
    assert_eq!(
        urls(&r.hosts),
        [
            "https://mirror.example/v2",
            // path.Clean("/") is "/", which does not end in /v2: containerd appends "/v2".
            "https://m2.example//v2",
            "https://m3.example/sub/path/v2",
            "https://m4.example/v2",
            "https://m5.example",
            "https://m6.example:5000/v2",
            // No server: the registry itself, after every mirror.
            "https://quay.io/v2",
        ]
    );
    let m6 = &r.hosts[5];
    assert!(m6.http_fallback);
    assert_eq!(m6.ca, [root.path().join("_default/ca.pem")]);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].ends_with("host=\"m6.example:5000\""),
        "{:?}",
        r.warnings
    );
}

#[test]
fn tls_file_forms() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("r.example");
    write(
        root.path(),
        "r.example/hosts.toml",
        r#"
server = "https://r.example"
ca = ["/abs/ca.pem", "rel.pem"]
client = [["c.pem", "k.pem"], "both.pem"]

[host."https://m.example"]
  client = "single.pem"
"#,
    );
    let r = load_hosts(
        root_str(root.path()),
        ConfigPathMode::SplitRoots,
        "r.example",
    )
    .unwrap();
    assert_eq!(r.hosts[0].client, [(dir.join("single.pem"), None)]);
    let s = &r.hosts[1];
    assert_eq!(s.ca, [PathBuf::from("/abs/ca.pem"), dir.join("rel.pem")]);
    assert_eq!(
        s.client,
        [
            (dir.join("c.pem"), Some(dir.join("k.pem"))),
            (dir.join("both.pem"), None)
        ]
    );
}

// hosts.go@v2.3.4 loadHostDir: a hosts.toml that does not decode is logged and the certificate
// files are used; so is a missing or empty one.
#[test]
fn undecodable_missing_or_empty_hosts_toml_falls_back_to_cert_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("r.example_5000_");
    write(root.path(), "r.example_5000_/ca.crt", "x");
    write(root.path(), "r.example_5000_/client.cert", "x");
    write(root.path(), "r.example_5000_/client.key", "x");
    write(root.path(), "r.example_5000_/other.cert", "x");
    let expect_certs = |r: &pullsim_runtime::hosts_dir::HostsResolution| {
        assert_eq!(urls(&r.hosts), ["https://r.example:5000/v2"]);
        assert_eq!(r.hosts[0].ca, [dir.join("ca.crt")]);
        assert_eq!(
            r.hosts[0].client,
            [
                (dir.join("client.cert"), Some(dir.join("client.key"))),
                (dir.join("other.cert"), None)
            ]
        );
    };
    let load = || {
        load_hosts(
            root_str(root.path()),
            ConfigPathMode::SplitRoots,
            "r.example:5000",
        )
        .unwrap()
    };
    let r = load();
    expect_certs(&r);
    assert!(r.warnings.is_empty());

    write(root.path(), "r.example_5000_/hosts.toml", "");
    expect_certs(&load());

    let file = dir.join("hosts.toml");
    for (text, error) in [
        (
            "[host.\"https://m\"]\ncapabilities = [\"pull\", \"fetch\"]\n",
            "unknown capability fetch",
        ),
        (
            "[host.\"https://m\"]\ndial_timeout = \"10\"\n",
            "time: missing unit in duration \\\"10\\\"",
        ),
        (
            "server = \"https://bad host\"\n",
            "unable to parse server https://bad host: parse \\\"https://bad host\\\": invalid character \\\" \\\" in host name",
        ),
        (
            "[host.\"https://m\"]\nca = 5\n",
            "invalid type 5 for \\\"ca\\\"",
        ),
        (
            "[host.\"https://m\"]\nclient = [[\"a\"]]\n",
            "invalid pair [a] for \\\"client\\\"",
        ),
        (
            "[host.\"https://m\"]\nclient = [5]\n",
            "invalid type int64 for \\\"client\\\"",
        ),
        (
            "[host.\"https://m\".header]\nx = 1\n",
            "invalid type 1 for header \\\"x\\\"",
        ),
    ] {
        fs::write(&file, text).unwrap();
        let r = load();
        expect_certs(&r);
        assert_eq!(
            r.warnings,
            [format!(
                "level=error msg=\"failed to decode {}\" error=\"{error}\"",
                file.display()
            )],
            "{text}"
        );
    }
    // TOML syntax errors take the same path.
    fs::write(&file, "[host.\"https://m\"\n").unwrap();
    let r = load();
    expect_certs(&r);
    assert!(r.warnings[0].starts_with("level=error msg=\"failed to decode"));
}

#[test]
fn check_hosts_toml_names_the_table() {
    let dir = Path::new("/etc/containerd/certs.d/docker.io");
    let err =
        check_hosts_toml(dir, "[host.\"https://m\"]\ncapabilities = [\"pul\"]\n").unwrap_err();
    assert_eq!(err.to_string(), "unknown capability pul");
    assert_eq!(err.table(), Some("host.\"https://m\""));
    let err = check_hosts_toml(dir, "skip_verify = \"yes\"\n").unwrap_err();
    assert!(
        matches!(&err, HostsFileError::WrongType { table, key, .. } if table == "root" && key == "skip_verify"),
        "{err:?}"
    );
    assert!(check_hosts_toml(dir, "server = \"https://x\"\n").is_ok());
}

#[test]
fn unreadable_hosts_toml_fails_the_lookup() {
    let root = tempfile::tempdir().unwrap();
    // hosts.toml is a directory: reading it fails with something other than "not found".
    fs::create_dir_all(root.path().join("r.example/hosts.toml")).unwrap();
    let err = load_hosts(
        root_str(root.path()),
        ConfigPathMode::SplitRoots,
        "r.example",
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("open "), "{err}");
    assert!(err.to_string().contains("r.example/hosts.toml"), "{err}");
}
