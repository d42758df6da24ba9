//! Port of kubernetes `pkg/util/parsers/parsers_test.go` TestParseImageName
//! (https://github.com/kubernetes/kubernetes/blob/master/pkg/util/parsers/parsers_test.go),
//! every case in upstream order, plus the exact kubelet error text.

use pullsim_reference::parse_image_name;

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// parsers_test.go TestParseImageName: (Input, Repo, Tag, Digest) or an expected error substring.
#[test]
fn parse_image_name_table() {
    let ok: Vec<(String, &str, &str, &str)> = vec![
        ("root".into(), "docker.io/library/root", "latest", ""),
        ("root:tag".into(), "docker.io/library/root", "tag", ""),
        (format!("root@{D}"), "docker.io/library/root", "", D),
        ("user/repo".into(), "docker.io/user/repo", "latest", ""),
        ("user/repo:tag".into(), "docker.io/user/repo", "tag", ""),
        (format!("user/repo@{D}"), "docker.io/user/repo", "", D),
        ("url:5000/repo".into(), "url:5000/repo", "latest", ""),
        ("url:5000/repo:tag".into(), "url:5000/repo", "tag", ""),
        (format!("url:5000/repo@{D}"), "url:5000/repo", "", D),
        (
            format!("url:5000/repo:latest@{D}"),
            "url:5000/repo",
            "latest",
            D,
        ),
    ];
    for (input, repo, tag, digest) in ok {
        let n = parse_image_name(&input)
            .unwrap_or_else(|e| panic!("ParseImageName({input}) failed: {e}"));
        assert_eq!(
            (n.repository.as_str(), n.tag.as_str(), n.digest.as_str()),
            (repo, tag, digest),
            "{input}"
        );
    }
    let bad = [
        ("ROOT", "must be lowercase"),
        ("http://root", "invalid reference format"),
        (&D[7..], "cannot specify 64-byte hexadecimal strings"),
    ];
    for (input, want) in bad {
        let e = parse_image_name(input).unwrap_err();
        assert!(e.upstream().contains(want), "{input}: {}", e.upstream());
        assert!(e.to_string().contains(want), "{input}: {e}");
    }
}

/// The full kubelet text, as seen in `Failed to apply default image tag` events:
/// `couldn't parse image name "ACTOKEY": invalid reference format: repository name
/// (library/ACTOKEY) must be lowercase` (parsers.go wraps with `couldn't parse image name %q: %v`).
#[test]
fn image_name_error_text_is_the_kubelets() {
    let e = parse_image_name("ACTOKEY").unwrap_err();
    assert_eq!(
        e.upstream(),
        "couldn't parse image name \"ACTOKEY\": invalid reference format: repository name (library/ACTOKEY) must be lowercase"
    );
    let e = parse_image_name("ko://github.com/x").unwrap_err();
    assert_eq!(
        e.upstream(),
        "couldn't parse image name \"ko://github.com/x\": invalid reference format"
    );
    // Go %q escaping of the image inside the message.
    let e = parse_image_name("a\tb\"c").unwrap_err();
    assert!(
        e.upstream()
            .starts_with("couldn't parse image name \"a\\tb\\\"c\": "),
        "{}",
        e.upstream()
    );
}
