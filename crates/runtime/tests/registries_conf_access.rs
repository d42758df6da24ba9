//! `registries_conf`: which sources a pull may use and with which credentials —
//! containers/image's blocked-registry refusal (`docker/docker_client.go` `newDockerClient`)
//! and its rule that the request's credentials never go to a mirror on another domain
//! (`docker/docker_image_src.go` `newImageSourceAttempt`).

use std::path::Path;

use pullsim_reference::Reference;
use pullsim_runtime::registries_conf::{
    MainFile, PullSourceError, RegistriesConf, sends_request_credentials,
};

fn named(s: &str) -> Reference {
    Reference::parse_named(s).unwrap()
}

/// Blocked registries: containers/image refuses each source whose own registry entry is
/// blocked, with `registry <prefix> is blocked in <conf> or <conf.d>`
/// (`docker/docker_client.go` `newDockerClient`). A mirror outside the blocked entry is not
/// refused.
#[test]
fn blocked_sources_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("registries.conf");
    std::fs::write(
        &main,
        r#"
[[registry]]
location = "blocked.registry.com"
blocked = true
[[registry.mirror]]
location = "mirror.example.com"
[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
blocked = true
"#,
    )
    .unwrap();
    let dir = tmp.path().join("registries.conf.d");
    let conf = RegistriesConf::load(&main, Some(&dir), MainFile::Explicit).unwrap();
    let r = named("blocked.registry.com/app:1");
    let sources = conf.pull_sources(&r).unwrap();
    assert_eq!(sources.len(), 2);
    assert!(conf.check_not_blocked(&sources[0].reference).is_ok());
    let err = conf.check_not_blocked(&sources[1].reference).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "registry blocked.registry.com is blocked in {} or {}",
            main.display(),
            dir.display()
        )
    );
    assert!(
        matches!(err, PullSourceError::Blocked { ref prefix, .. } if prefix == "blocked.registry.com")
    );
    // docker.io/library blocked; docker.io/other not.
    assert!(
        conf.check_not_blocked(&named("docker.io/library/busybox:latest"))
            .is_err()
    );
    assert!(
        conf.check_not_blocked(&named("docker.io/other/busybox:latest"))
            .is_ok()
    );
}

/// The request's credentials go only to sources on the logical reference's domain
/// (`docker/docker_image_src.go` `newImageSourceAttempt`): not to mirrors on another domain,
/// but to a rewritten location on the same domain.
#[test]
fn request_credentials_never_go_to_other_domain_mirrors() {
    let conf = RegistriesConf::parse_str(
        r#"
[[registry]]
prefix = "registry.example.com/team"
location = "registry.example.com/mirrored/team"
[[registry.mirror]]
location = "mirror.other.com/team"
[[registry.mirror]]
location = "registry.example.com:5000/team"
[[registry.mirror]]
location = "registry.example.com/cache/team"
"#,
        Path::new("r.conf"),
    )
    .unwrap();
    let logical = named("registry.example.com/team/app:1");
    let sources = conf.pull_sources(&logical).unwrap();
    let got: Vec<(&str, bool)> = sources
        .iter()
        .map(|s| {
            (
                s.reference.as_str(),
                sends_request_credentials(&logical, &s.reference),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("mirror.other.com/team/app:1", false),
            ("registry.example.com:5000/team/app:1", false), // another port is another domain
            ("registry.example.com/cache/team/app:1", true),
            ("registry.example.com/mirrored/team/app:1", true),
        ]
    );
}
