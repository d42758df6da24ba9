//! `registries_conf`: prefix matching, reference rewriting, pull sources, blocked registries
//! and the mirror credential rule, ported from containers/image
//! `pkg/sysregistriesv2/system_registries_v2_test.go` (@df7e80d2: TestRefMatchingPrefix,
//! TestRefMatchingSubdomainPrefix, TestRewriteReferenceSuccess,
//! TestRewriteReferenceFailedDuringParseNamed, TestPullSourcesFromReference) and
//! `docker/docker_image_src.go` / `docker/docker_client.go`.

use std::path::Path;

use pullsim_reference::Reference;
use pullsim_runtime::registries_conf::{
    Endpoint, PullFromMirror, PullSourceError, RegistriesConf, ref_matching_prefix,
};

const A64: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn named(s: &str) -> Reference {
    Reference::parse_named(s).unwrap()
}

fn ep(location: &str) -> Endpoint {
    Endpoint {
        location: location.to_owned(),
        insecure: false,
        pull_from_mirror: PullFromMirror::All,
    }
}

/// TestRefMatchingPrefix (the `-1` cases are `None`).
#[test]
fn ref_matching_prefix_table() {
    let d = format!("@sha256:{A64}");
    let b = "@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let cases: Vec<(String, String, Option<usize>)> = vec![
        ("docker.io".into(), "docker.io".into(), Some(9)),
        ("docker.io".into(), "example.com".into(), None),
        (
            "example.com:5000".into(),
            "example.com:5000".into(),
            Some(16),
        ),
        ("example.com:50000".into(), "example.com:5000".into(), None),
        ("example.com:5000".into(), "example.com".into(), Some(11)), // upstream FIXME, kept
        ("example.com/foo".into(), "example.com".into(), Some(11)),
        ("example.com/foo/bar".into(), "example.com".into(), Some(11)),
        (
            "example.com/foo/bar:baz".into(),
            "example.com".into(),
            Some(11),
        ),
        (
            format!("example.com/foo/bar{d}"),
            "example.com".into(),
            Some(11),
        ),
        ("docker.io".into(), "docker.io/library".into(), None),
        (
            "docker.io/library".into(),
            "docker.io/library".into(),
            Some(17),
        ),
        (
            "example.com/library".into(),
            "docker.io/library".into(),
            None,
        ),
        (
            "docker.io/libraryy".into(),
            "docker.io/library".into(),
            None,
        ),
        (
            "docker.io/library/busybox".into(),
            "docker.io/library".into(),
            Some(17),
        ),
        ("docker.io".into(), "docker.io/library/busybox".into(), None),
        (
            "docker.io/library/busybox".into(),
            "docker.io/library/busybox".into(),
            Some(25),
        ),
        (
            "example.com/library/busybox".into(),
            "docker.io/library/busybox".into(),
            None,
        ),
        (
            "docker.io/library/busybox2".into(),
            "docker.io/library/busybox".into(),
            None,
        ),
        ("example.com".into(), "example.com/foo:bar".into(), None),
        ("example.com/foo".into(), "example.com/foo:bar".into(), None),
        (
            "example.com/foo:bar".into(),
            "example.com/foo:bar".into(),
            Some(19),
        ),
        (
            "example.com/foo:bar2".into(),
            "example.com/foo:bar".into(),
            None,
        ),
        ("example.com".into(), format!("example.com/foo{d}"), None),
        (
            "example.com/foo".into(),
            format!("example.com/foo{d}"),
            None,
        ),
        (
            format!("example.com/foo{d}"),
            format!("example.com/foo{d}"),
            Some(15 + d.len()),
        ),
        (
            format!("example.com/foo{b}"),
            format!("example.com/foo{d}"),
            None,
        ),
        ("example.com/foo".into(), "*".into(), None),
    ];
    for (r, p, want) in cases {
        assert_eq!(ref_matching_prefix(&r, &p), want, "{r} vs. {p}");
    }
}

/// TestRefMatchingSubdomainPrefix (through `ref_matching_prefix`, which dispatches on `*.`;
/// the `**.` cases are not `*.` prefixes there and go to the plain rule, which also fails).
#[test]
fn ref_matching_subdomain_prefix_table() {
    let d = format!("@sha256:{A64}");
    let l = |s: &str| Some(s.len());
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        ("docker.io".into(), "*.io", l("docker.io")),
        ("docker.io/foo".into(), "*.com", None),
        ("example.com/foo".into(), "*.co", None),
        ("example.com/foo".into(), "*.example.com", None),
        ("example.com/foo".into(), "*.com", l("example.com")),
        ("example.com/foo:bar".into(), "*.com", l("example.com")),
        ("example.com/foo/bar:baz".into(), "*.com", l("example.com")),
        ("yet.another.example.com/foo".into(), "**.example.com", None),
        (
            "yet.another.example.com/foo".into(),
            "***.another.example.com",
            None,
        ),
        (
            "yet.another.example.com/foo".into(),
            "**********.another.example.com",
            None,
        ),
        (
            "yet.another.example.com/foo/bar".into(),
            "**********.another.example.com",
            None,
        ),
        (
            "yet.another.example.com/foo/bar".into(),
            "*.another.example.com",
            l("yet.another.example.com"),
        ),
        (
            "another.example.com/namespace.com/foo/bar/bbq:baz".into(),
            "*.example.com",
            l("another.example.com"),
        ),
        (
            "example.net/namespace-ends-in.com/foo/bar/bbq:baz".into(),
            "*.com",
            None,
        ),
        (
            "another.example.com/namespace.com/foo/bar/bbq:baz".into(),
            "*.namespace.com",
            None,
        ),
        (
            "sub.example.com/foo/bar".into(),
            "*.com",
            l("sub.example.com"),
        ),
        (
            "sub.example.com/foo/bar".into(),
            "*.example.com",
            l("sub.example.com"),
        ),
        (
            "another.sub.example.com/foo/bar/bbq:baz".into(),
            "*.example.com",
            l("another.sub.example.com"),
        ),
        (
            "another.sub.example.com/foo/bar/bbq:baz".into(),
            "*.sub.example.com",
            l("another.sub.example.com"),
        ),
        (
            format!("yet.another.example.com/foo/bar{d}"),
            "*.example.com",
            l("yet.another.example.com"),
        ),
        (
            format!("yet.another.sub.example.com/foo/bar{d}"),
            "*.sub.example.com",
            l("yet.another.sub.example.com"),
        ),
    ];
    for (r, p, want) in cases {
        assert_eq!(ref_matching_prefix(&r, p), want, "{r} vs. {p}");
    }
}

/// TestRewriteReferenceSuccess.
#[test]
fn rewrite_reference_success() {
    let d = format!("@sha256:{A64}");
    let cases: Vec<(String, &str, &str, String)> = vec![
        (
            "example.com/image".into(),
            "example.com",
            "example.com",
            "example.com/image".into(),
        ),
        (
            "example.com/image:latest".into(),
            "example.com",
            "example.com",
            "example.com/image:latest".into(),
        ),
        (
            "example.com:5000/image".into(),
            "example.com:5000",
            "example.com:5000",
            "example.com:5000/image".into(),
        ),
        (
            "example.com:5000/image:latest".into(),
            "example.com:5000",
            "example.com:5000",
            "example.com:5000/image:latest".into(),
        ),
        (
            format!("example.com/foo{d}"),
            "example.com",
            "example.com",
            format!("example.com/foo{d}"),
        ),
        (
            "example.com/foo/image:latest".into(),
            "example.com/foo",
            "example.com",
            "example.com/image:latest".into(),
        ),
        (
            "example.com/foo/image:latest".into(),
            "example.com/foo",
            "example.com/path",
            "example.com/path/image:latest".into(),
        ),
        (
            "docker.io/library/image:latest".into(),
            "docker.io",
            "docker.io",
            "docker.io/library/image:latest".into(),
        ),
        (
            "docker.io/library/image".into(),
            "docker.io/library",
            "example.com",
            "example.com/image".into(),
        ),
        (
            "docker.io/library/image".into(),
            "docker.io",
            "example.com",
            "example.com/library/image".into(),
        ),
        (
            "docker.io/library/prefix/image".into(),
            "docker.io/library/prefix",
            "example.com",
            "example.com/image".into(),
        ),
        (
            "docker.io/namespace/image".into(),
            "*.io",
            "example.com",
            "example.com/namespace/image".into(),
        ),
        (
            "docker.io/library/prefix/image".into(),
            "*.io",
            "example.com",
            "example.com/library/prefix/image".into(),
        ),
        (
            "sub.example.io/library/prefix/image".into(),
            "*.example.io",
            "example.com",
            "example.com/library/prefix/image".into(),
        ),
        (
            "another.sub.example.io:5000/library/prefix/image:latest".into(),
            "*.sub.example.io",
            "example.com",
            "example.com:5000/library/prefix/image:latest".into(),
        ),
        (
            "foo.bar.io/ns1/ns2/ns3/ns4".into(),
            "*.bar.io",
            "omg.bbq.com/roflmao",
            "omg.bbq.com/roflmao/ns1/ns2/ns3/ns4".into(),
        ),
        (
            "abc.internal.registry.com/foo:bar".into(),
            "*.internal.registry.com",
            "",
            "abc.internal.registry.com/foo:bar".into(),
        ),
        (
            "blah.foo.bar.com/omg:bbq".into(),
            "*.com",
            "",
            "blah.foo.bar.com/omg:bbq".into(),
        ),
        (
            "alien.vs.predator.foobar.io:5000/omg".into(),
            "*.foobar.io",
            "",
            "alien.vs.predator.foobar.io:5000/omg".into(),
        ),
        (
            format!("alien.vs.predator.foobar.io:5000/foo{d}"),
            "*.foobar.io",
            "",
            format!("alien.vs.predator.foobar.io:5000/foo{d}"),
        ),
        (
            "alien.vs.predator.foobar.io:5000/omg:bbq".into(),
            "*.foobar.io",
            "",
            "alien.vs.predator.foobar.io:5000/omg:bbq".into(),
        ),
    ];
    for (input, prefix, location, want) in cases {
        let out = ep(location)
            .rewrite_reference(&named(&input), prefix)
            .unwrap();
        assert_eq!(out.as_str(), want, "{input} {prefix} {location}");
    }
}

/// TestRewriteReferenceFailedDuringParseNamed.
#[test]
fn rewrite_reference_failures() {
    let d = format!("@sha256:{A64}");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "example.com/foo/image:latest".into(),
            "example.com/foo",
            "example.com/path/",
        ),
        (
            format!("example.com/foo{d}"),
            "example.com/foo",
            "example.com",
        ),
        ("example.com:5000/image:latest".into(), "example.com", ""),
        (
            "example.com:5000/image:latest".into(),
            "example.com",
            "example.com:5000",
        ),
        (
            "example.com/foo/image:latest".into(),
            "example.com//foo",
            "example.com/path",
        ),
        ("example.com/image:latest".into(), "image", "anotherimage"),
        (
            "example.com/foo/image:latest".into(),
            "example.com/foo/",
            "example.com",
        ),
        (
            "example.com/foo/image".into(),
            "example.com/f",
            "example.com/foo",
        ),
        (
            "example.com/foo:latest".into(),
            "example.com/f",
            "example.com/foo",
        ),
        (
            format!("example.com/foo{d}"),
            "example.com/f",
            "example.com/foo",
        ),
        (
            "docker.io/library/image".into(),
            "example.com",
            "example.com",
        ),
        ("docker.io/library/image".into(), "*.com", "example.com"),
        (
            "foo.docker.io/library/image".into(),
            "*.example.com",
            "example.com/image",
        ),
        (
            "foo.docker.io/library/image".into(),
            "*.docker.com",
            "example.com/image",
        ),
    ];
    for (input, prefix, location) in cases {
        let r = ep(location).rewrite_reference(&named(&input), prefix);
        assert!(r.is_err(), "{input} {prefix} {location}: {r:?}");
    }
    let e = ep("").rewrite_reference(&named("example.com:5000/image:latest"), "example.com");
    assert_eq!(
        e.unwrap_err().to_string(),
        "invalid prefix 'example.com' for empty location, should be in the format: *.example.com"
    );
    let e = ep("x.io").rewrite_reference(&named("docker.io/library/image"), "example.com");
    assert_eq!(
        e.unwrap_err().to_string(),
        "invalid prefix 'example.com' for reference 'docker.io/library/image'"
    );
    let e = ep("example.com")
        .rewrite_reference(&named(&format!("example.com/foo{d}")), "example.com/foo");
    assert!(matches!(e, Err(PullSourceError::Rewrite { .. })));
}

/// testdata/pull-sources-from-reference.conf
const PULL_SOURCES_CONF: &str = r#"
[[registry]]
prefix = "registry-a.com/foo"
location = "registry-a.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-a.com"
[[registry.mirror]]
location = "mirror-2.registry-a.com"
insecure = true
[[registry]]
prefix = "registry-b.com/foo"
location = "registry-b.com/bar"
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror-1.registry-b.com"
[[registry.mirror]]
location = "mirror-2.registry-b.com"
[[registry]]
prefix = "registry-a.com/baz"
location = "registry-a.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-a.com"
[[registry.mirror]]
location = "mirror-2.registry-a.com"
insecure = true
[[registry]]
prefix = "registry-b.com/baz"
location = "registry-b.com/bar"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-1.registry-b.com"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-2.registry-b.com"
[[registry]]
prefix = "registry-c.com/baz"
location = "registry-c.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-c.com"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-2.registry-c.com"
[[registry]]
prefix = "registry-d.com/baz"
location = "registry-d.com/bar"
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror-1.registry-d.com"
[[registry.mirror]]
location = "mirror-2.registry-d.com"
[[registry]]
prefix = "registry-e.com/baz"
location = "registry-e.com/bar"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-1.registry-e.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-e.com"
[[registry]]
prefix = "registry-f.com/baz"
location = "registry-f.com/bar"
[[registry.mirror]]
location = "mirror-1.registry-f.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-f.com"
[[registry]]
prefix = "registry-g.com/baz"
location = "registry-g.com/bar"
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-1.registry-g.com"
[[registry.mirror]]
pull-from-mirror = "tag-only"
location = "mirror-2.registry-g.com"
[[registry.mirror]]
location = "mirror-3.registry-g.com"
[[registry.mirror]]
pull-from-mirror = "all"
location = "mirror-4.registry-g.com"
"#;

/// TestPullSourcesFromReference: the full list (upstream only checks a prefix of it; the
/// lengths are pinned here too, which is what "order preserved, nothing extra" means).
#[test]
fn pull_sources_table() {
    let conf = RegistriesConf::parse_str(PULL_SOURCES_CONF, Path::new("p.conf")).unwrap();
    assert_eq!(conf.registries.len(), 9);
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [bool],
        &'static [&'static str],
        &'static [bool],
    );
    let rows: &[Row] = &[
        (
            "registry-a.com/foo",
            &[
                "mirror-1.registry-a.com",
                "mirror-2.registry-a.com",
                "registry-a.com/bar",
            ],
            &[false, true, false],
            &[
                "mirror-1.registry-a.com",
                "mirror-2.registry-a.com",
                "registry-a.com/bar",
            ],
            &[false, true, false],
        ),
        (
            "registry-b.com/foo",
            &[
                "mirror-1.registry-b.com",
                "mirror-2.registry-b.com",
                "registry-b.com/bar",
            ],
            &[false, false, false],
            &["registry-b.com/bar"],
            &[false],
        ),
        (
            "registry-a.com/baz",
            &[
                "mirror-1.registry-a.com",
                "mirror-2.registry-a.com",
                "registry-a.com/bar",
            ],
            &[false, true, false],
            &[
                "mirror-1.registry-a.com",
                "mirror-2.registry-a.com",
                "registry-a.com/bar",
            ],
            &[false, true, false],
        ),
        (
            "registry-b.com/baz",
            &[
                "mirror-1.registry-b.com",
                "mirror-2.registry-b.com",
                "registry-b.com/bar",
            ],
            &[false, false, false],
            &["registry-b.com/bar"],
            &[false],
        ),
        (
            "registry-c.com/baz",
            &[
                "mirror-1.registry-c.com",
                "mirror-2.registry-c.com",
                "registry-c.com/bar",
            ],
            &[false, false, false],
            &["mirror-1.registry-c.com", "registry-c.com/bar"],
            &[false, false],
        ),
        (
            "registry-d.com/baz",
            &[
                "mirror-1.registry-d.com",
                "mirror-2.registry-d.com",
                "registry-d.com/bar",
            ],
            &[false, false, false],
            &["registry-d.com/bar"],
            &[false],
        ),
        (
            "registry-e.com/baz",
            &["registry-e.com/bar"],
            &[false],
            &[
                "mirror-1.registry-e.com",
                "mirror-2.registry-e.com",
                "registry-e.com/bar",
            ],
            &[false, false, false],
        ),
        (
            "registry-f.com/baz",
            &["mirror-1.registry-f.com", "registry-f.com/bar"],
            &[false, false],
            &[
                "mirror-1.registry-f.com",
                "mirror-2.registry-f.com",
                "registry-f.com/bar",
            ],
            &[false, false, false],
        ),
        (
            "registry-g.com/baz",
            &[
                "mirror-1.registry-g.com",
                "mirror-3.registry-g.com",
                "mirror-4.registry-g.com",
                "registry-g.com/bar",
            ],
            &[false; 4],
            &[
                "mirror-2.registry-g.com",
                "mirror-3.registry-g.com",
                "mirror-4.registry-g.com",
                "registry-g.com/bar",
            ],
            &[false; 4],
        ),
    ];
    let digest = format!("@sha256:{A64}");
    for (prefix, dl, di, tl, ti) in rows {
        for (suffix, locs, insecure) in [(digest.as_str(), dl, di), (":aaa", tl, ti)] {
            let r = named(&format!("{prefix}/image{suffix}"));
            let reg = conf.find_registry(r.name_str()).unwrap();
            let sources = reg.pull_sources(&r).unwrap();
            let got: Vec<(&str, String, bool)> = sources
                .iter()
                .map(|s| {
                    (
                        s.endpoint.location.as_str(),
                        s.reference.as_str().to_owned(),
                        s.endpoint.insecure,
                    )
                })
                .collect();
            let want: Vec<(&str, String, bool)> = locs
                .iter()
                .zip(insecure.iter())
                .map(|(l, i)| (*l, format!("{l}/image{suffix}"), *i))
                .collect();
            assert_eq!(got, want, "{prefix} {suffix}");
            // RegistriesConf::pull_sources finds the same registry.
            assert_eq!(conf.pull_sources(&r).unwrap(), sources);
        }
    }
}

/// A reference with both a tag and a digest counts as a digest reference
/// (`ref.(reference.Canonical)`); the tag is kept in the rewritten references.
#[test]
fn tag_and_digest_is_digested() {
    let conf = RegistriesConf::parse_str(PULL_SOURCES_CONF, Path::new("p.conf")).unwrap();
    let r = named(&format!("registry-e.com/baz/image:v1@sha256:{A64}"));
    let s = conf.pull_sources(&r).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].reference.as_str(),
        format!("registry-e.com/bar/image:v1@sha256:{A64}")
    );
}

/// No matching `[[registry]]`: one source, the reference itself (`newImageSource`).
#[test]
fn unmatched_reference_is_its_own_source() {
    let conf = RegistriesConf::parse_str(PULL_SOURCES_CONF, Path::new("p.conf")).unwrap();
    let r = named("docker.io/library/busybox:latest");
    let s = conf.pull_sources(&r).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].reference, r);
    assert_eq!(s[0].endpoint.location, "docker.io/library/busybox:latest");
    assert!(!s[0].endpoint.insecure);
}
