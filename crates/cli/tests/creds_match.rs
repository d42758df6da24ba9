//! `pullsim creds match` through the binary: a representative subset of
//! pkg/credentialprovider/keyring_test.go (the full tables run in-process in
//! crates/credentials/tests/keyring_upstream.rs), the Docker Hub fallback on normalized
//! repositories, pod secrets before node credentials, plugins after both, --explain, and the
//! anonymous note.

use std::path::{Path, PathBuf};
use std::process::Command;

fn pullsim(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A dockerconfigjson Secret with one entry (user foo, password bar) under `registry`.
fn secret_file(dir: &Path, name: &str, registry: &str, user: &str) -> PathBuf {
    let json = serde_json::json!({"auths": {registry: {"username": user, "password": "bar", "email": "foo@bar.baz"}}});
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: ns\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{json}'\n"
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, yaml).unwrap();
    p
}

// keyring_test.go TestDockerKeyringForGlob / TestKeyringMiss (the cases whose targets are
// valid image references), TestKeyringHitWithUnqualifiedDockerHub,
// TestKeyringHitWithUnqualifiedLibraryDockerHub, TestKeyringMissWithDockerHubCredentials.
#[test]
fn keyring_cases_through_the_binary() {
    let t = tempfile::tempdir().unwrap();
    // (secret key, image, expected matching key or None)
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "https://hello.kubernetes.io",
            "hello.kubernetes.io/foo/bar",
            Some("hello.kubernetes.io"),
        ),
        (
            "https://*.docker.io",
            "prefix.docker.io/foo/bar",
            Some("*.docker.io"),
        ),
        (
            "https://prefix.*.io",
            "prefix.docker.io/foo/bar",
            Some("prefix.*.io"),
        ),
        (
            "https://prefix.docker.*/path",
            "prefix.docker.io/path/foo/bar",
            Some("prefix.docker.*/path"),
        ),
        (
            "https://prefix.*.io/path",
            "prefix.docker.io/path/subpath/foo/bar",
            Some("prefix.*.io/path"),
        ),
        (
            "https://*.docker.io:8888",
            "prefix.docker.io:8888/foo/bar",
            Some("*.docker.io:8888"),
        ),
        (
            "https://*.docker.io/v2/",
            "prefix.docker.io/path/foo/bar",
            Some("*.docker.io"),
        ),
        (
            "prefix.docker.io:1111",
            "prefix.docker.io:1111/path/foo/bar",
            Some("prefix.docker.io:1111"),
        ),
        (
            "https://hello.kubernetes.io",
            "world.mesos.org/foo/bar",
            None,
        ),
        ("https://*.docker.com", "prefix.docker.io/foo/bar", None),
        ("https://suffix.*.io", "prefix.docker.io/foo/bar", None),
        ("https://prefix.docker.c*", "prefix.docker.io/foo/bar", None),
        (
            "https://index.docker.io/v1/",
            "google/docker-registry",
            Some("index.docker.io"),
        ),
        (
            "https://index.docker.io/v1/",
            "jenkins",
            Some("index.docker.io"),
        ),
        (
            "https://index.docker.io/v1/",
            "world.mesos.org/foo/bar",
            None,
        ),
        ("https://quay.io/v1/", "quay.io/foo/bar", Some("quay.io")),
    ];
    for (i, (key, image, want)) in cases.iter().enumerate() {
        let file = secret_file(t.path(), &format!("s{i}"), key, "foo");
        let (out, _, code) = pullsim(&[
            "creds",
            "match",
            image,
            "--secret",
            file.to_str().unwrap(),
            "-o",
            "json",
        ]);
        assert_eq!(code, 0);
        let lines = json_lines(&out);
        match want {
            Some(k) => {
                assert_eq!(lines.len(), 1, "{key} vs {image}: {out}");
                assert_eq!(lines[0]["key"], *k, "{key} vs {image}");
                assert_eq!(lines[0]["source"], format!("secret:ns/s{i}"));
                assert_eq!(lines[0]["username"], "foo");
                assert!(lines[0]["why"].as_str().is_some_and(|w| !w.is_empty()));
            }
            None => assert!(lines.is_empty(), "{key} should not match {image}: {out}"),
        }
    }
}

#[test]
fn docker_hub_fallback_and_docker_io_key() {
    let t = tempfile::tempdir().unwrap();
    let hub = secret_file(t.path(), "hub", "https://index.docker.io/v1/", "hubuser");
    let (out, _, _) = pullsim(&[
        "creds",
        "match",
        "busybox",
        "--secret",
        hub.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["key"], "index.docker.io");
    assert!(
        lines[0]["why"]
            .as_str()
            .unwrap()
            .contains("Docker Hub fallback"),
        "{out}"
    );
    // A docker.io key matches docker.io/library/busybox directly; the fallback is then unused.
    let dio = secret_file(t.path(), "dio", "docker.io", "diouser");
    let (out, _, _) = pullsim(&[
        "creds",
        "match",
        "busybox:1.36",
        "--secret",
        hub.to_str().unwrap(),
        "--secret",
        dio.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["username"], "diouser");
    assert!(lines[0]["why"].as_str().unwrap().contains("exact host"));
}

#[test]
fn pod_secrets_before_node_then_plugins() {
    let t = tempfile::tempdir().unwrap();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/plugins");
    let a = secret_file(t.path(), "a", "a.registry.io", "pod-a");
    let b = secret_file(t.path(), "b", "a.registry.io/team", "pod-b");
    let node = t.path().join("config.json");
    std::fs::write(
        &node,
        r#"{"auths":{"https://a.registry.io/v1/":{"username":"node-user","password":"x"}}}"#,
    )
    .unwrap();
    let (out, _, code) = pullsim(&[
        "creds",
        "match",
        "a.registry.io/team/app:v1",
        "--secret",
        a.to_str().unwrap(),
        "--secret",
        b.to_str().unwrap(),
        "--node-config",
        node.to_str().unwrap(),
        "--provider-config",
        plugins.join("config.yaml").to_str().unwrap(),
        "--provider-bin-dir",
        plugins.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let got: Vec<(String, String, String)> = json_lines(&out)
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().into(),
                l["source"].as_str().unwrap().into(),
                l["username"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = vec![
        (
            "a.registry.io/team".to_string(),
            "secret:ns/b".to_string(),
            "pod-b".to_string(),
        ),
        (
            "a.registry.io".to_string(),
            "secret:ns/a".to_string(),
            "pod-a".to_string(),
        ),
        (
            "a.registry.io".to_string(),
            format!("node:{}", node.display()),
            "node-user".to_string(),
        ),
        (
            "*.registry.io".to_string(),
            "plugin:test-provider".to_string(),
            "plugin-user".to_string(),
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn anonymous_note_and_explain() {
    let t = tempfile::tempdir().unwrap();
    let s = secret_file(t.path(), "hub", "registry-1.docker.io", "u");
    let (out, _, code) = pullsim(&["creds", "match", "nginx", "--secret", s.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("no credentials: the kubelet pulls anonymously"),
        "{out}"
    );
    assert!(out.contains("docker.io/library/nginx"), "{out}");
    let (out, err, _) = pullsim(&[
        "creds",
        "match",
        "nginx",
        "--secret",
        s.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out, "", "no JSON lines when nothing matches");
    assert!(err.contains("no credentials: the kubelet pulls anonymously"));
    let (out, _, _) = pullsim(&[
        "creds",
        "match",
        "nginx",
        "--secret",
        s.to_str().unwrap(),
        "--explain",
        "-o",
        "json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["match"], false);
    assert_eq!(lines[0]["key"], "registry-1.docker.io");
    assert!(
        lines[0]["why_not"]
            .as_str()
            .unwrap()
            .contains("label count"),
        "{out}"
    );
    let (out, _, _) = pullsim(&[
        "creds",
        "match",
        "nginx",
        "--secret",
        s.to_str().unwrap(),
        "--explain",
    ]);
    assert!(
        out.contains("not matched: host label count differs"),
        "{out}"
    );
}

#[test]
fn malformed_secret_fails_with_file_and_field() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("bad.yaml");
    std::fs::write(
        &p,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: '%%%'\n",
    )
    .unwrap();
    let (_, err, code) = pullsim(&["creds", "match", "nginx", "--secret", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.yaml")
            && err.contains("data[\".dockerconfigjson\"]")
            && err.contains("base64"),
        "{err}"
    );
    let (_, err, code) = pullsim(&[
        "creds",
        "match",
        "UPPER/case",
        "--secret",
        p.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

// pkg/credentialprovider/config.go ReadDockerConfigFile: config.json in the kubelet root dir,
// the working dir, $HOME/.docker, /.docker; invalid files are skipped; .dockercfg only when no
// config.json is usable.
#[test]
fn node_search_order() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let cwd = t.path().join("cwd");
    let root = t.path().join("kubelet");
    for d in [&home.join(".docker"), &cwd, &root] {
        std::fs::create_dir_all(d).unwrap();
    }
    let write = |p: &Path, user: &str| {
        std::fs::write(
            p,
            format!(r#"{{"auths":{{"r.io":{{"username":"{user}","password":"x"}}}}}}"#),
        )
        .unwrap()
    };
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
            .args(["creds", "match", "r.io/app", "--node-search", "-o", "json"])
            .args(extra)
            .env("HOME", &home)
            .current_dir(&cwd)
            .output()
            .unwrap();
        (
            json_lines(&String::from_utf8(out.stdout).unwrap()),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    std::fs::write(
        home.join(".dockercfg"),
        r#"{"r.io":{"username":"legacy","password":"x"}}"#,
    )
    .unwrap();
    let (lines, _) = run(&[]);
    assert_eq!(lines[0]["username"], "legacy", "only .dockercfg present");
    write(&home.join(".docker/config.json"), "home");
    let (lines, _) = run(&[]);
    assert_eq!(lines[0]["username"], "home");
    assert_eq!(
        lines[0]["source"],
        format!("node:{}", home.join(".docker/config.json").display())
    );
    write(&cwd.join("config.json"), "cwd");
    let (lines, _) = run(&[]);
    assert_eq!(lines[0]["username"], "cwd");
    std::fs::write(root.join("config.json"), "not json").unwrap();
    let (lines, err) = run(&["--kubelet-root", root.to_str().unwrap(), "--explain"]);
    assert_eq!(lines[0]["username"], "cwd", "an invalid file is skipped");
    assert!(err.contains("skipped"), "{err}");
    write(&root.join("config.json"), "root");
    let (lines, _) = run(&["--kubelet-root", root.to_str().unwrap()]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["username"], "root");
}

#[test]
fn help_teaches_with_examples_fields_and_exit_status() {
    for cmd in [
        &["creds", "match", "--help"][..],
        &["secret", "lint", "--help"][..],
        &["secret", "decode", "--help"][..],
    ] {
        let (out, _, code) = pullsim(cmd);
        assert_eq!(code, 0, "{cmd:?}");
        for want in ["Examples:", "JSON fields", "Exit status"] {
            assert!(out.contains(want), "{cmd:?} --help lacks {want:?}:\n{out}");
        }
    }
}

#[test]
fn a_missing_file_is_named_once_with_the_os_reason_once() {
    let missing = "/nonexistent/pullsim-missing-secret.yaml";
    for cmd in [
        &["creds", "match", "nginx", "--secret", missing][..],
        &["secret", "decode", missing][..],
        &["secret", "lint", missing][..],
    ] {
        let (_, err, code) = pullsim(cmd);
        assert_ne!(code, 0, "{cmd:?}");
        assert!(err.contains(missing), "{cmd:?}: {err}");
        assert_eq!(
            err.matches("No such file or directory").count(),
            1,
            "{cmd:?}: the OS reason must be said once: {err}"
        );
    }
}
