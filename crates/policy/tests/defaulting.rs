//! Pull policy defaulting and the default tag, against the kubelet's rules.
//!
//! Upstream: pkg/apis/core/v1/defaults.go (SetDefaults_Container: tag exactly `latest` →
//! Always, else IfNotPresent, parse errors ignored), pkg/util/parsers/parsers.go (ParseImageName:
//! no tag and no digest → tag `latest`), pkg/kubelet/images/image_manager.go
//! (applyDefaultImageTag). The rows cover latest / no tag / digest / tag+digest / case / ports /
//! unparsable inputs.

use pullsim_policy::{
    PullPolicy, apply_default_image_tag, default_pull_policy, invalid_image_event,
};

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn default_pull_policy_table() {
    use PullPolicy::*;
    let digest_only = format!("nginx@{D}");
    let latest_and_digest = format!("nginx:latest@{D}");
    let tag_and_digest = format!("nginx:1.25@{D}");
    let port_digest = format!("localhost:5000/x@{D}");
    let table: Vec<(&str, PullPolicy)> = vec![
        // no tag, no digest: the tag defaults to latest
        ("busybox", Always),
        ("nginx", Always),
        ("library/nginx", Always),
        ("docker.io/library/nginx", Always),
        ("registry.example.com/team/app", Always),
        // exact tag latest
        ("busybox:latest", Always),
        ("docker.io/library/nginx:latest", Always),
        // any other tag
        ("busybox:1.0", IfNotPresent),
        ("nginx:1.25", IfNotPresent),
        ("nginx:latest-alpine", IfNotPresent),
        ("nginx:stable", IfNotPresent),
        // case: only the exact lowercase tag counts
        ("nginx:LATEST", IfNotPresent),
        ("nginx:Latest", IfNotPresent),
        // digest only: no tag
        (&digest_only, IfNotPresent),
        // tag + digest: the tag counts
        (&latest_and_digest, Always),
        (&tag_and_digest, IfNotPresent),
        // ports
        ("localhost:5000/x", Always),
        ("localhost:5000/x:latest", Always),
        ("localhost:5000/x:5000", IfNotPresent),
        ("127.0.0.1:5000/team/app:v1", IfNotPresent),
        (&port_digest, IfNotPresent),
        ("[::1]:5000/x", Always),
        // unparsable: the tag is empty
        ("", IfNotPresent),
        ("Nginx", IfNotPresent),
        ("nginx:", IfNotPresent),
        ("nginx::latest", IfNotPresent),
        ("a/b/:latest", IfNotPresent),
        ("nginx@sha256:abc", IfNotPresent),
        (" nginx", IfNotPresent),
        ("-nginx", IfNotPresent),
    ];
    for (image, want) in table {
        assert_eq!(default_pull_policy(image), want, "{image:?}");
    }
}

/// applyDefaultImageTag: the string as written plus `:latest` when it has neither tag nor digest.
#[test]
fn apply_default_image_tag_table() {
    let with_digest = format!("nginx@{D}");
    let table: Vec<(&str, String)> = vec![
        ("busybox", "busybox:latest".into()),
        ("busybox:latest", "busybox:latest".into()),
        ("busybox:1.0", "busybox:1.0".into()),
        ("library/busybox", "library/busybox:latest".into()),
        ("localhost:5000/x", "localhost:5000/x:latest".into()),
        ("localhost:5000/x:1", "localhost:5000/x:1".into()),
        (&with_digest, with_digest.clone()),
    ];
    for (image, want) in table {
        assert_eq!(apply_default_image_tag(image).unwrap(), want, "{image:?}");
    }
}

/// An unparsable image gives the kubelet's InspectFailed event text.
#[test]
fn invalid_image_message() {
    let err = apply_default_image_tag("Nginx").unwrap_err();
    let event = invalid_image_event("Nginx", &err);
    assert_eq!(event.event_type.as_str(), "Warning");
    assert_eq!(event.reason.as_str(), "InspectFailed");
    assert_eq!(
        event.message,
        r#"Failed to apply default image tag "Nginx": couldn't parse image name "Nginx": invalid reference format: repository name (library/Nginx) must be lowercase"#
    );
    let err = apply_default_image_tag("nginx:").unwrap_err();
    assert_eq!(
        invalid_image_event("nginx:", &err).message,
        r#"Failed to apply default image tag "nginx:": couldn't parse image name "nginx:": invalid reference format"#
    );
}
