//! Oracle: skopeo (built on containers/image) with `--registries-conf` agrees with
//! `RegistriesConf::pull_sources` on the order of pull sources and on the blocked refusal.
//!
//! Every source is a closed loopback port, so each attempt fails at once with "connection
//! refused" and containers/image's combined error (`docker/docker_image_src.go`
//! `newImageSource`: `(Mirrors also failed: [<ref>: <err>]\n[...]): <primary ref>: <err>`)
//! lists the sources in the order they were tried. No registry and no network beyond
//! 127.0.0.1. Needs `skopeo` on PATH (scripts/setup installs it); without it each test says so
//! and passes without checking.

use std::path::Path;
use std::process::Command;

use pullsim_reference::Reference;
use pullsim_runtime::registries_conf::{MainFile, RegistriesConf};

const CONF: &str = r#"
[[registry]]
prefix = "127.0.0.1:1/team"
location = "127.0.0.1:2/primary"
[[registry.mirror]]
location = "127.0.0.1:3/m1"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "127.0.0.1:4/m2"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "127.0.0.1:5/m3"
[[registry.mirror]]
location = "127.0.0.1:6/m4"
insecure = true

[[registry]]
prefix = "127.0.0.1:1/digest"
location = "127.0.0.1:2/d"
mirror-by-digest-only = true
[[registry.mirror]]
location = "127.0.0.1:7/dm1"
[[registry.mirror]]
location = "127.0.0.1:3/dm2"

[[registry]]
location = "127.0.0.1:9"
blocked = true
"#;

/// Whether skopeo is installed; says so on stderr when it is not.
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

fn skopeo_inspect(conf: &Path, image: &str) -> String {
    let out = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(conf)
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo on PATH");
    assert!(!out.status.success(), "inspect of {image} cannot succeed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn skopeo_tries_sources_in_our_order() {
    if !have_skopeo() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf_path = tmp.path().join("registries.conf");
    std::fs::write(&conf_path, CONF).unwrap();
    let conf = RegistriesConf::load(&conf_path, None, MainFile::Explicit).unwrap();
    let digest = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let images = [
        "127.0.0.1:1/team/app:v1".to_owned(),
        format!("127.0.0.1:1/team/app{digest}"),
        "127.0.0.1:1/digest/app:v1".to_owned(),
        format!("127.0.0.1:1/digest/app{digest}"),
    ];
    for image in images {
        let r = Reference::parse_named(&image).unwrap();
        let sources: Vec<String> = conf
            .pull_sources(&r)
            .unwrap()
            .iter()
            .map(|s| s.reference.as_str().to_owned())
            .collect();
        let stderr = skopeo_inspect(&conf_path, &image);
        assert_eq!(
            stderr.matches("connect: connection refused").count(),
            sources.len(),
            "{image}: {sources:?}\n{stderr}"
        );
        if sources.len() == 1 {
            // One source: its error passes through unchanged, with no reference in front.
            assert!(!stderr.contains("Mirrors also failed"), "{stderr}");
            let domain = Reference::parse_named(&sources[0])
                .unwrap()
                .domain()
                .to_owned();
            let needle = format!(": pinging container registry {domain}: ");
            assert!(
                stderr.contains(&format!("\\\"docker://{image}\\\"{needle}")),
                "{image}: {sources:?}\n{stderr}"
            );
            continue;
        }
        assert!(stderr.contains("(Mirrors also failed: ["), "{stderr}");
        let mut last = 0;
        for s in &sources {
            let needle = format!("{s}: pinging container registry");
            let at = stderr[last..]
                .find(&needle)
                .unwrap_or_else(|| panic!("{image}: {s} missing or out of order in\n{stderr}"));
            last += at + needle.len();
        }
    }

    // Blocked: the same refusal text (the drop-in directory skopeo names is its own default).
    let blocked = "127.0.0.1:9/app:v1";
    let err = conf
        .check_not_blocked(&Reference::parse_named(blocked).unwrap())
        .unwrap_err()
        .to_string();
    let want = format!(
        "registry 127.0.0.1:9 is blocked in {} or ",
        conf_path.display()
    );
    assert!(err.starts_with(&want), "{err}");
    let stderr = skopeo_inspect(&conf_path, blocked);
    assert!(stderr.contains(&want), "{want}\n{stderr}");
}

/// Validation errors: skopeo prints `loading registries configuration: ` (the caller's wrap in
/// `newImageSource`) and then exactly our error's text.
#[test]
fn skopeo_reports_our_validation_errors() {
    if !have_skopeo() {
        return;
    }
    let cases = [
        "[[registry]]\nprefix = \"*.example.com/foo\"\nlocation = \"x.io\"\n",
        "[[registry]]\nlocation = \"r.com\"\n[[registry.mirror]]\npull-from-mirror = \"x\"\nlocation = \"m.com\"\n",
        "short-name-mode=\"invalid\"\n",
        "[[registry]]\nlocation = \"r.com\"\n[[registry]]\nlocation = \"r.com\"\ninsecure = true\n",
        "[[registry]]\nlocation = \"r.com\"\n[[registry]]\nlocation = \"r.com\"\nblocked = true\n",
        "[[registry]]\nlocation = \"r.com\"\n[[registry.mirror]]\ninsecure = true\n",
        "[[registry]]\nlocation = \"https://r.com\"\n",
        "[[registry]]\nprefix = \"r.com\"\n",
        "[[registry]]\ninsecure = true\n",
        "unqualified-search-registries = [\"r.com/ns\"]\n",
        "[[registry]]\nlocation = \"r.com/a\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.com\"\npull-from-mirror = \"all\"\n",
        "[[registry]]\nlocation = \"r.com/a\"\npull-from-mirror = \"all\"\n",
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, text) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("c{i}.conf"));
        std::fs::write(&p, text).unwrap();
        let ours = RegistriesConf::load(&p, None, MainFile::Explicit)
            .unwrap_err()
            .to_string();
        let stderr = skopeo_inspect(&p, "127.0.0.1:1/a:v1").replace("\\\"", "\"");
        assert!(
            stderr.contains(&format!("loading registries configuration: {ours}\"")),
            "{text}\nours: {ours}\nskopeo: {stderr}"
        );
    }
}
