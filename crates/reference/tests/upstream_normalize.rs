//! Ports of the test tables in distribution/reference `normalize_test.go`
//! (https://github.com/distribution/reference/blob/main/normalize_test.go). Each test names the Go
//! test it ports; every case of the upstream table is here, in the upstream order.

use pullsim_reference::{AnyReference, Digest, ParseError, Reference};

const LONG_NAMESPACE: &str = "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker";

/// normalize_test.go TestValidateReferenceName
#[test]
fn validate_reference_name() {
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "localhost/library/debian",
        "localhost/debian",
        "LOCALDOMAIN/library/debian",
        "LOCALDOMAIN/debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        // Moved from invalid to valid upstream: with a hostname the hex string is a name.
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
    ];
    let invalid = [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    ];
    for name in invalid {
        assert!(
            Reference::parse_normalized(name).is_err(),
            "expected invalid repo name for {name:?}"
        );
    }
    for name in valid {
        if let Err(e) = Reference::parse_normalized(name) {
            panic!("error parsing repo name {name}: {e}");
        }
    }
}

/// normalize_test.go TestValidateRemoteName
#[test]
fn validate_remote_name() {
    let valid = [
        "docker/docker",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];
    for name in valid {
        if let Err(e) = Reference::parse_normalized(name) {
            panic!("repository name should be valid: {name}: {e}");
        }
    }
    let invalid = [
        "docker/Docker",
        "docker///docker",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "-docker/docker",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        LONG_NAMESPACE,
    ];
    for name in invalid {
        assert!(
            Reference::parse_normalized(name).is_err(),
            "repository name should be invalid: {name}"
        );
    }
}

/// normalize_test.go TestParseRepositoryInfo:
/// (RemoteName, FamiliarName, FullName, AmbiguousName, Domain).
#[test]
fn parse_repository_info() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost",
        ),
        (
            "fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost",
        ),
        (
            "fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "fooo/bar",
            "docker.io/fooo/bar",
            "index.docker.io/fooo/bar",
            "docker.io",
        ),
        (
            "library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu",
            "library/ubuntu",
            "docker.io",
        ),
        (
            "nonlibrary/ubuntu",
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            "",
            "docker.io",
        ),
        (
            "other/library",
            "other/library",
            "docker.io/other/library",
            "",
            "docker.io",
        ),
        (
            "private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "privatebase",
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "",
            "example.com",
        ),
        (
            "privatebase",
            "example.com/privatebase",
            "example.com/privatebase",
            "",
            "example.com",
        ),
        (
            "private/moonbase",
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            "",
            "example.com:8000",
        ),
        (
            "privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "",
            "example.com:8000",
        ),
        (
            "library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "index.docker.io/library/ubuntu-12.04-base",
            "docker.io",
        ),
        (
            "library/foo",
            "foo",
            "docker.io/library/foo",
            "docker.io/foo",
            "docker.io",
        ),
        (
            "library/foo/bar",
            "library/foo/bar",
            "docker.io/library/foo/bar",
            "",
            "docker.io",
        ),
        (
            "store/foo/bar",
            "store/foo/bar",
            "docker.io/store/foo/bar",
            "",
            "docker.io",
        ),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for &(remote, familiar, full, ambiguous, domain) in cases {
        let mut inputs = vec![familiar, full];
        if !ambiguous.is_empty() {
            inputs.push(ambiguous);
        }
        for input in inputs {
            let r =
                Reference::parse_normalized(input).unwrap_or_else(|e| panic!("ref={input}: {e}"));
            assert_eq!(r.familiar_name(), familiar, "FamiliarName of {input}");
            assert_eq!(r.to_string(), full, "FullName of {input}");
            assert_eq!(r.domain(), domain, "Domain of {input}");
            assert_eq!(r.path(), remote, "RemoteName of {input}");
        }
    }
}

/// normalize_test.go TestParseReferenceWithTagAndDigest
#[test]
fn parse_reference_with_tag_and_digest() {
    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = Reference::parse_normalized(short).unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"), "should support tag");
    assert!(r.digest().is_some(), "should support digest");
    assert_eq!(r.familiar(), short);
}

/// normalize_test.go TestInvalidReferenceComponents
#[test]
fn invalid_reference_components() {
    assert!(Reference::parse_normalized("-foo").is_err());
    let r = Reference::parse_normalized("busybox").unwrap();
    assert!(matches!(
        r.with_tag("-foo"),
        Err(ParseError::TagInvalidFormat { .. })
    ));
    // WithDigest(ref, "foo"): a `Digest` cannot hold "foo"; the rejection happens at parse.
    assert!(Digest::parse("foo").is_err());
}

/// normalize_test.go TestParseAnyReference: (Reference, Equivalent, is a digest reference).
#[test]
fn parse_any_reference() {
    let d = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let cases: Vec<(String, String, bool)> = vec![
        ("redis".into(), "docker.io/library/redis".into(), false),
        (
            "redis:latest".into(),
            "docker.io/library/redis:latest".into(),
            false,
        ),
        (
            "docker.io/library/redis:latest".into(),
            "docker.io/library/redis:latest".into(),
            false,
        ),
        (
            format!("redis@sha256:{d}"),
            format!("docker.io/library/redis@sha256:{d}"),
            false,
        ),
        (
            format!("docker.io/library/redis@sha256:{d}"),
            format!("docker.io/library/redis@sha256:{d}"),
            false,
        ),
        (
            "dmcgowan/myapp".into(),
            "docker.io/dmcgowan/myapp".into(),
            false,
        ),
        (
            "dmcgowan/myapp:latest".into(),
            "docker.io/dmcgowan/myapp:latest".into(),
            false,
        ),
        (
            "docker.io/mcgowan/myapp:latest".into(),
            "docker.io/mcgowan/myapp:latest".into(),
            false,
        ),
        (
            format!("dmcgowan/myapp@sha256:{d}"),
            format!("docker.io/dmcgowan/myapp@sha256:{d}"),
            false,
        ),
        (
            format!("docker.io/dmcgowan/myapp@sha256:{d}"),
            format!("docker.io/dmcgowan/myapp@sha256:{d}"),
            false,
        ),
        (d.into(), format!("sha256:{d}"), true),
        (format!("sha256:{d}"), format!("sha256:{d}"), true),
        (
            d[..63].into(),
            format!("docker.io/library/{}", &d[..63]),
            false,
        ),
        ("dbcc1".into(), "docker.io/library/dbcc1".into(), false),
    ];
    for (input, equivalent, is_digest) in cases {
        let any = AnyReference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(any.to_string(), equivalent, "string of {input}");
        match (&any, is_digest) {
            (AnyReference::Digest(dg), true) => assert_eq!(dg.to_string(), equivalent),
            (AnyReference::Named(r), false) => {
                // Expected = Parse(Equivalent): the same reference, field by field.
                assert_eq!(*r, Reference::parse(&equivalent).unwrap(), "{input}");
            }
            _ => panic!("unexpected reference kind {any:?} for {input}"),
        }
    }
}

/// normalize_test.go TestNormalizedSplitHostname: (input, domain, path).
#[test]
fn normalized_split_hostname() {
    let cases = [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ];
    for (input, domain, path) in cases {
        let r = Reference::parse_normalized(input).unwrap();
        assert_eq!(r.domain(), domain, "{input}");
        assert_eq!(r.path(), path, "{input}");
    }
}

/// normalize_test.go TestParseDockerRef: (name, input, expected).
#[test]
fn parse_docker_ref() {
    let d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    let cases: Vec<(&str, String, String)> = vec![
        (
            "nothing",
            "busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "tag only",
            "busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "digest only",
            format!("busybox@{d}"),
            format!("docker.io/library/busybox@{d}"),
        ),
        (
            "path only",
            "library/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "hostname only",
            "docker.io/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "no tag",
            "docker.io/library/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "no path",
            "docker.io/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "no hostname",
            "library/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "full reference with tag",
            "docker.io/library/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "gcr reference without tag",
            "gcr.io/library/busybox".into(),
            "gcr.io/library/busybox:latest".into(),
        ),
        (
            "both tag and digest",
            format!("gcr.io/library/busybox:latest@{d}"),
            format!("gcr.io/library/busybox@{d}"),
        ),
    ];
    for (name, input, expected) in cases {
        let r = Reference::parse_docker_ref(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.to_string(), expected, "{name}");
        assert!(
            Reference::parse(&r.to_string()).is_ok(),
            "{name}: output must parse"
        );
    }
}
