//! Our error messages: the upstream sentence first, then what is wrong and where.

use pullsim_reference::{Digest, ParseError, Reference};

fn err(s: &str) -> ParseError {
    Reference::parse_normalized(s).unwrap_err()
}

#[test]
fn invalid_format_names_the_character_and_offset() {
    let e = err("aa/asdf$$^/aa");
    let ParseError::InvalidFormat {
        offset, ref reason, ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(offset, 7);
    assert!(reason.contains("'$'"), "{reason}");
    assert!(
        e.to_string().starts_with("invalid reference format: "),
        "{e}"
    );
    assert!(
        e.to_string().contains("at offset 7 in \"aa/asdf$$^/aa\""),
        "{e}"
    );
}

#[test]
fn offsets_point_into_the_input_not_the_normalized_form() {
    // "nginx:bad tag" is parsed as "docker.io/library/nginx:bad tag"; the space is at 9 in the input.
    let ParseError::InvalidFormat { offset, .. } = err("nginx:bad tag") else {
        panic!()
    };
    assert_eq!(offset, 9);
    // A domain copied from the input keeps its offsets.
    let ParseError::InvalidFormat { offset, reason, .. } = err("[fe80::1%eth0]:5000/debian") else {
        panic!()
    };
    assert_eq!(offset, 8, "{reason}");
    let ParseError::InvalidFormat { offset, .. } = err("index.docker.io/a//b") else {
        panic!()
    };
    assert_eq!(offset, 18);
}

#[test]
fn each_rejection_says_what_is_wrong() {
    let cases = [
        (
            "docker/Docker",
            "invalid reference format: repository name (docker/Docker) must be lowercase",
        ),
        ("Nginx", "repository name (library/Nginx) must be lowercase"),
        ("nginx:", "empty tag after ':'"),
        ("nginx@", "empty digest after '@'"),
        (
            "-nginx",
            "must start with a lowercase letter or digit, not '-'",
        ),
        ("nginx-", "must end with a lowercase letter or digit"),
        ("a..b", "separator '.' cannot follow '.'"),
        ("a//b", "empty path component"),
        ("host:80a/x", "port must be digits only"),
        ("[fe80::1%eth0]:5000/x", "not allowed in an IPv6 address"),
        ("-a.com/x", "domain component must not start with '-'"),
        ("nginx:-x", "tag must start with a letter, digit or '_'"),
        ("nginx:a~b", "character '~' is not allowed in a tag"),
        ("nginx@sha256:abc", "at least 32 are required"),
        (
            "nginx@sha256:0123456789abcdef0123456789abcdef",
            "invalid checksum digest length: sha256 needs 64 hex characters, got 32",
        ),
        (
            "nginx@md5:0123456789abcdef0123456789abcdef",
            "unsupported digest algorithm: \"md5\"",
        ),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "cannot specify 64-byte hexadecimal strings",
        ),
    ];
    for (input, want) in cases {
        let e = err(input).to_string();
        assert!(e.contains(want), "{input:?}: {e}");
    }
    let long = format!("x.io/{}", "a".repeat(300));
    let e = err(&long);
    assert_eq!(
        e.upstream(),
        "repository name must not be more than 255 characters"
    );
    assert!(e.to_string().contains("the path has 300 characters"), "{e}");
    let long_tag = format!("nginx:{}", "t".repeat(129));
    assert!(
        err(&long_tag)
            .to_string()
            .contains("tag is 129 characters long, the limit is 128")
    );
}

#[test]
fn uppercase_from_parse_names_the_character() {
    let e = Reference::parse("Uppercase:tag").unwrap_err();
    assert_eq!(e.upstream(), "repository name must be lowercase");
    assert!(e.to_string().contains("uppercase 'U' at offset 0"), "{e}");
}

#[test]
fn digest_errors() {
    let upper = format!("sha256:{}", "A".repeat(64));
    let e = Digest::parse(&upper).unwrap_err();
    assert_eq!(e.upstream(), "invalid checksum digest format");
    assert!(
        e.to_string()
            .contains("'A' at offset 0 of the sha256 value is not lowercase hex"),
        "{e}"
    );
    assert!(
        Digest::parse("sha256")
            .unwrap_err()
            .to_string()
            .contains("no ':'")
    );
    assert!(
        Digest::parse(":abc")
            .unwrap_err()
            .to_string()
            .contains("algorithm before ':' is empty")
    );
    assert!(
        Digest::parse("sha256:")
            .unwrap_err()
            .to_string()
            .contains("encoded value after ':' is empty")
    );
    let ok = Digest::from_sha256_hex(&"a".repeat(64)).unwrap();
    assert_eq!(ok.encoded(), "a".repeat(64));
    assert_eq!(ok.algorithm().as_str(), "sha256");
}
