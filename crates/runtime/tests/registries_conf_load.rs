//! `registries_conf`: parsing, validation and drop-in merging, ported from containers/image
//! `pkg/sysregistriesv2/system_registries_v2_test.go` (@df7e80d2) and its `testdata/` (the
//! files are reproduced below, comments dropped).

use std::path::{Path, PathBuf};

use pullsim_runtime::registries_conf::{
    ConfigError, FileKind, MainFile, PullFromMirror, RegistriesConf, RegistriesConfError,
    ShortNameMode,
};

/// testdata/find-registry.conf
const FIND_REGISTRY_CONF: &str = r#"
[[registry]]
location = "registry.com:5000"
prefix = "simple-prefix.com"
[[registry]]
location = "another-registry.com:5000"
prefix = "complex-prefix.com:4000/with/path"
[[registry]]
location = "registry.com:5000"
prefix = "another-registry.com"
[[registry]]
location = "no-prefix.com"
[[registry]]
location = "empty-prefix.com"
prefix = ""
[[registry]]
location = "subdomain-prefix.com"
prefix = "*.so.simple-prefix.com"
[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.simple-prefix.com"
[[registry]]
location = "subdomain-prefix-1.com"
prefix = "*.not.quite.simple-prefix.com"
[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.docker.io"
[[registry]]
location = "subdomain-prefix-3.com"
prefix = "*.bar.example.com"
[[registry]]
location = "subdomain-prefix-4.com"
prefix = "*.bar.docker.io"
[[registry]]
location = "subdomain-prefix-5.com"
prefix = "foo.bar.example.com:5000"
[[registry]]
prefix="*.internal.registry.com"
[[registry]]
prefix="*.com"
[[registry]]
prefix="*.foobar.io"
"#;

/// testdata/registries.conf.d/ (config-3.conf and config-3.ignore hold only comments; the
/// `[aliases]` and `credential-helpers` keys are not read by pullsim).
const CONF_D: &[(&str, &str)] = &[
    (
        "config-1.conf",
        r#"
unqualified-search-registries = ["example-overwrite.com"]
credential-helpers = ["we", "will", "be", "overridden", "later"]
[[registry]]
location = "1.com"
[aliases]
docker="docker.io/library/config1"
"#,
    ),
    (
        "config-2.conf",
        r#"
short-name-mode="permissive"
credential-helpers=["dropin-1", "dropin-2"]
[[registry]]
location = "1.com"
[[registry]]
location = "2.com"
[[registry]]
location = "base.com"
blocked = true
[aliases]
config2="config2.com/image"
"#,
    ),
    ("config-3.conf", "# only comments\n"),
    ("config-3.ignore", "this is not TOML and is not read\n"),
    (
        "subdomain-override-1.conf",
        r#"
[[registry]]
location = "subdomain-prefix-1-overridden-by-dropin-location.com"
prefix = "*.not.quite.simple-prefix.com"
"#,
    ),
    (
        "subdomain-override-2.conf",
        r#"
[[registry]]
location = "subdomain-prefix-2-overridden-by-dropin-location.com"
prefix = "*.docker.com"
"#,
    ),
    (
        "subdomain-override-3.conf",
        r#"
[[registry]]
location = "subdomain-prefix-3-overridden-by-dropin-location.com"
prefix = "*.bar.example.com"
"#,
    ),
];

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn conf_d(root: &Path) -> PathBuf {
    let d = root.join("registries.conf.d");
    std::fs::create_dir(&d).unwrap();
    for (name, text) in CONF_D {
        write(&d, name, text);
    }
    // A subdirectory is not descended into (filepath.WalkDir + SkipDir).
    std::fs::create_dir(d.join("sub.conf")).unwrap();
    write(&d.join("sub.conf"), "x.conf", "not toml [[[");
    d
}

fn load_text(text: &str) -> Result<RegistriesConf, RegistriesConfError> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "registries.conf", text);
    RegistriesConf::load(&p, None, MainFile::Explicit)
}

fn invalid(text: &str) -> (ConfigError, String) {
    match load_text(text) {
        Err(e @ RegistriesConfError::Invalid { .. }) => {
            let msg = e.to_string();
            match e {
                RegistriesConfError::Invalid { source, kind, .. } => {
                    assert_eq!(kind, FileKind::Main);
                    (source, msg)
                }
                _ => unreachable!(),
            }
        }
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

/// TestFindRegistry (registry count and the drop-in overrides).
#[test]
fn find_registry_with_drop_ins() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "find-registry.conf", FIND_REGISTRY_CONF);
    let d = conf_d(tmp.path());
    let conf = RegistriesConf::load(&main, Some(&d), MainFile::Explicit).unwrap();
    assert_eq!(conf.registries.len(), 19);

    let loc = |r: &str| conf.find_registry(r).map(|r| r.endpoint.location.clone());
    let reg = conf
        .find_registry("simple-prefix.com/foo/bar:latest")
        .unwrap();
    assert_eq!(reg.prefix, "simple-prefix.com");
    assert_eq!(reg.endpoint.location, "registry.com:5000");
    assert!(conf.find_registry("simple-prefix.com/").is_some()); // path match
    assert!(conf.find_registry("simple-prefix.com").is_some()); // hostname match
    assert_eq!(
        loc("not.so.simple-prefix.com/").as_deref(),
        Some("subdomain-prefix.com")
    );
    assert_eq!(
        loc("not.quite.simple-prefix.com/").as_deref(),
        Some("subdomain-prefix-2.com")
    );
    assert_eq!(
        loc("not.quite.simple-prefix.com:5000/with/path/and/beyond:tag").as_deref(),
        Some("subdomain-prefix-2.com")
    );
    // Overridden by subdomain-override-1.conf.
    assert_eq!(
        loc("really.not.quite.simple-prefix.com:5000/with/path/and/beyond:tag").as_deref(),
        Some("subdomain-prefix-1-overridden-by-dropin-location.com")
    );
    // The drop-in's "*.docker.com" does not match.
    assert_eq!(
        loc("foo.docker.io:5000/omg/wtf/bbq:foo").as_deref(),
        Some("subdomain-prefix-2.com")
    );
    assert_eq!(
        loc("foo.bar.example.com:6000/omg/wtf/bbq@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").as_deref(),
        Some("subdomain-prefix-3-overridden-by-dropin-location.com")
    );
    // Longer wildcard wins over *.docker.io.
    assert_eq!(
        loc("foo.bar.docker.io:5000/omg/wtf/bbq:foo").as_deref(),
        Some("subdomain-prefix-4.com")
    );
    // A longer plain prefix wins over *.bar.example.com.
    assert_eq!(
        loc("foo.bar.example.com:5000/omg/wtf/bbq:foo").as_deref(),
        Some("subdomain-prefix-5.com")
    );
    assert!(conf.find_registry("simple-prefix.comx").is_none());
    let reg = conf
        .find_registry("complex-prefix.com:4000/with/path/and/beyond:tag")
        .unwrap();
    assert_eq!(reg.prefix, "complex-prefix.com:4000/with/path");
    assert_eq!(reg.endpoint.location, "another-registry.com:5000");
    let reg = conf.find_registry("no-prefix.com/foo:tag").unwrap();
    assert_eq!(
        (reg.prefix.as_str(), reg.endpoint.location.as_str()),
        ("no-prefix.com", "no-prefix.com")
    );
    let reg = conf.find_registry("empty-prefix.com/foo:tag").unwrap();
    assert_eq!(
        (reg.prefix.as_str(), reg.endpoint.location.as_str()),
        ("empty-prefix.com", "empty-prefix.com")
    );
    // Wildcard entries without location keep an empty location.
    let reg = conf.find_registry("abc.internal.registry.com/foo").unwrap();
    assert_eq!(reg.prefix, "*.internal.registry.com");
    assert_eq!(reg.endpoint.location, "");
}

/// TestFindRegistry's last case and TestInvalidV2Configs' "no such file or directory".
#[test]
fn explicit_missing_main_file_is_an_error_default_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("this-does-not-exist.conf");
    let err = RegistriesConf::load(&missing, None, MainFile::Explicit).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "loading registries configuration \"{}\": ",
            missing.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert!(matches!(
        err,
        RegistriesConfError::Read {
            kind: FileKind::Main,
            ..
        }
    ));

    // TestEmptyConfig: no file at the default path → empty configuration, permissive mode.
    let conf =
        RegistriesConf::load(&missing, Some(&tmp.path().join("nodir")), MainFile::Default).unwrap();
    assert!(conf.registries.is_empty());
    assert!(conf.unqualified_search_registries.is_empty());
    assert_eq!(conf.short_name_mode, ShortNameMode::Permissive);
}

/// TestRegistriesConfDirectory.
#[test]
fn drop_in_directory_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(
        tmp.path(),
        "base-for-registries.d.conf",
        r#"
unqualified-search-registries = ["example.com"]
[[registry]]
location = "base.com"
insecure = true
"#,
    );
    let d = conf_d(tmp.path());
    let conf = RegistriesConf::load(&main, Some(&d), MainFile::Explicit).unwrap();
    assert_eq!(
        conf.unqualified_search_registries,
        vec!["example-overwrite.com"]
    );
    assert_eq!(
        conf.unqualified_search_registries_origin.as_deref(),
        Some(d.join("config-1.conf").as_path())
    );
    let locations: Vec<&str> = conf
        .registries
        .iter()
        .map(|r| r.endpoint.location.as_str())
        .collect();
    assert_eq!(
        locations,
        [
            "subdomain-prefix-3-overridden-by-dropin-location.com",
            "subdomain-prefix-2-overridden-by-dropin-location.com",
            "subdomain-prefix-1-overridden-by-dropin-location.com",
            "1.com",
            "2.com",
            "base.com"
        ]
    );
    // config-2.conf replaced the whole base.com entry: blocked, and no longer insecure.
    let reg = conf.find_registry("base.com/test:latest").unwrap();
    assert!(reg.blocked);
    assert!(!reg.endpoint.insecure);
    assert_eq!(conf.short_name_mode, ShortNameMode::Permissive);

    // unqualified-search-registries: a drop-in without the key keeps the base list; an
    // empty list overrides it.
    let main = write(
        tmp.path(),
        "unqualified-search.conf",
        r#"
unqualified-search-registries = ["registry-a.com", "registry-c.com", "registry-d.com"]
[[registry]]
location = "registry-a.com"
[[registry]]
location = "registry-b.com"
[[registry]]
location = "registry-c.com"
[[registry]]
location = "registry-d.com"
"#,
    );
    let usr1 = tmp.path().join("registries.conf.d-usr1");
    std::fs::create_dir(&usr1).unwrap();
    write(&usr1, "no-usr.conf", "# nothing\n");
    let conf = RegistriesConf::load(&main, Some(&usr1), MainFile::Explicit).unwrap();
    assert_eq!(
        conf.unqualified_search_registries,
        ["registry-a.com", "registry-c.com", "registry-d.com"]
    );
    assert_eq!(
        conf.unqualified_search_registries_origin.as_deref(),
        Some(main.as_path())
    );
    let usr2 = tmp.path().join("registries.conf.d-usr2");
    std::fs::create_dir(&usr2).unwrap();
    write(
        &usr2,
        "empty-usr.conf",
        "unqualified-search-registries = []\n",
    );
    let conf = RegistriesConf::load(&main, Some(&usr2), MainFile::Explicit).unwrap();
    assert!(conf.unqualified_search_registries.is_empty());
}

/// Later files override earlier ones by prefix, in file-name order (not creation order).
#[test]
fn drop_ins_apply_in_file_name_order() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "registries.conf", "");
    let d = tmp.path().join("d");
    std::fs::create_dir(&d).unwrap();
    write(
        &d,
        "20-b.conf",
        "short-name-mode = \"disabled\"\n[[registry]]\nprefix = \"x.io\"\nlocation = \"from-20.io\"\n",
    );
    write(
        &d,
        "10-a.conf",
        "short-name-mode = \"enforcing\"\n[[registry]]\nprefix = \"x.io\"\nlocation = \"from-10.io\"\n",
    );
    let conf = RegistriesConf::load(&main, Some(&d), MainFile::Explicit).unwrap();
    assert_eq!(conf.registries.len(), 1);
    assert_eq!(conf.registries[0].endpoint.location, "from-20.io");
    assert_eq!(conf.short_name_mode, ShortNameMode::Disabled);
}

/// TestMirrors; mirror order is file order.
#[test]
fn mirrors_in_file_order() {
    let conf = load_text(
        r#"
[[registry]]
location = "registry.com"
[[registry.mirror]]
location = "mirror-1.registry.com"
[[registry.mirror]]
location = "mirror-2.registry.com"
insecure = true
[[registry.mirror]]
location = "a-mirror-3.registry.com/"
pull-from-mirror = "tag-only"
[[registry]]
location = "blocked.registry.com"
blocked = true
"#,
    )
    .unwrap();
    assert_eq!(conf.registries.len(), 2);
    let reg = conf.find_registry("registry.com/image:tag").unwrap();
    let m: Vec<(&str, bool, PullFromMirror)> = reg
        .mirrors
        .iter()
        .map(|m| (m.location.as_str(), m.insecure, m.pull_from_mirror))
        .collect();
    assert_eq!(
        m,
        [
            ("mirror-1.registry.com", false, PullFromMirror::All),
            ("mirror-2.registry.com", true, PullFromMirror::All),
            ("a-mirror-3.registry.com", false, PullFromMirror::TagOnly),
        ]
    );
}

/// TestInvalidV2Configs, TestInvalidMirrorConfig, TestParseLocation, the search-registry,
/// short-name-mode and wildcard checks: exact containers/image messages, wrapped as
/// `tryUpdatingCache` wraps them.
#[test]
fn invalid_configs() {
    let (e, msg) = invalid(
        r#"
[[registry]]
location = "registry.com"
[[registry.mirror]]
location = "mirror-1.registry.com"
[[registry]]
location = "registry.com"
insecure = true
"#,
    );
    assert!(
        msg.starts_with("loading registries configuration \""),
        "{msg}"
    );
    assert!(msg.ends_with(": registry 'registry.com' is defined multiple times with conflicting 'insecure' setting"), "{msg}");
    assert!(matches!(
        e,
        ConfigError::ConflictingSetting {
            key: "insecure",
            ..
        }
    ));

    let (_, msg) = invalid(
        r#"
[[registry]]
location = "registry.com"
[[registry.mirror]]
location = "mirror-1.registry.com"
[[registry]]
location = "registry.com"
blocked = true
"#,
    );
    assert!(
        msg.ends_with(
            "registry 'registry.com' is defined multiple times with conflicting 'blocked' setting"
        ),
        "{msg}"
    );

    // missing-mirror-location.conf
    let (e, msg) = invalid(
        r#"
unqualified-search-registries = ["registry-a.com"]
[[registry]]
location = "registry-a.com"
[[registry]]
location = "registry-b.com"
[[registry.mirror]]
location = "mirror-b.com"
[[registry.mirror]]
"#,
    );
    assert!(
        msg.ends_with(": invalid condition: mirror location is unset"),
        "{msg}"
    );
    assert!(matches!(e, ConfigError::MirrorLocationUnset { prefix } if prefix == "registry-b.com"));

    // invalid-prefix.conf
    let (e, msg) = invalid(
        "[[registry]]\nlocation = \"registry.com:5000\"\nprefix = \"http://schema-is-invalid.com\"\n",
    );
    assert!(
        msg.ends_with(
            ": invalid location 'http://schema-is-invalid.com': URI schemes are not supported"
        ),
        "{msg}"
    );
    assert!(matches!(e, ConfigError::UriScheme { key: "prefix", .. }));
    let (e, _) = invalid("[[registry]]\nlocation = \"https://example.com\"\n");
    assert!(
        matches!(e, ConfigError::UriScheme { key: "location", value } if value == "https://example.com")
    );

    // invalid-config-level-mirror.conf
    let (_, msg) = invalid(
        r#"
[[registry]]
prefix = "registry-a.com/foo"
location = "registry-a.com/bar"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "mirror-1.registry-a.com"
"#,
    );
    assert!(
        msg.ends_with(
            ": pull-from-mirror must not be set for a non-mirror registry \"registry-a.com/foo\""
        ),
        "{msg}"
    );

    // invalid-conflict-mirror.conf
    let (_, msg) = invalid(
        r#"
[[registry]]
prefix = "registry-a.com/foo"
location = "registry-a.com/bar"
mirror-by-digest-only = true
[[registry.mirror]]
pull-from-mirror = "digest-only"
location = "mirror-1.registry-a.com"
[[registry.mirror]]
location = "mirror-2.registry-a.com"
insecure = true
"#,
    );
    assert!(msg.ends_with(": cannot set mirror usage mirror-by-digest-only for the registry (\"registry-a.com/foo\") and pull-from-mirror for per-mirror (\"mirror-1.registry-a.com\") at the same time"), "{msg}");

    // invalid-value-mirror.conf
    let (e, msg) = invalid(
        r#"
[[registry]]
prefix = "registry-a.com/foo"
location = "registry-a.com/bar"
[[registry.mirror]]
pull-from-mirror = "notvalid"
location = "mirror-1.registry-a.com"
"#,
    );
    assert!(msg.ends_with(": unsupported pull-from-mirror value \"notvalid\" for mirror \"mirror-1.registry-a.com\""), "{msg}");
    assert!(matches!(e, ConfigError::UnsupportedPullFromMirror { .. }));

    // invalid-search.conf (TestFindUnqualifiedSearchRegistries)
    let (_, msg) =
        invalid("unqualified-search-registries = [\"registry-a.com/namespace-is-forbidden\"]\n");
    assert!(msg.ends_with(": Invalid unqualified-search-registries entry \"registry-a.com/namespace-is-forbidden\""), "{msg}");

    // invalid-short-name-mode.conf (TestGetShortNameMode)
    let (_, msg) = invalid("short-name-mode=\"invalid\"\n");
    assert!(
        msg.ends_with(": invalid short-name mode: \"invalid\""),
        "{msg}"
    );

    // Both unset; location unset with a plain prefix.
    let (_, msg) = invalid("[[registry]]\ninsecure = true\n");
    assert!(
        msg.ends_with(": invalid condition: both location and prefix are unset"),
        "{msg}"
    );
    let (_, msg) = invalid("[[registry]]\nprefix = \"example.com\"\n");
    assert!(
        msg.ends_with(
            ": invalid condition: location is unset and prefix is not in the format: *.example.com"
        ),
        "{msg}"
    );

    // Wildcard prefix with more than a domain (loadConfigFile).
    for p in ["*.example.com/foo", "*.example.com:5000", "*.example.com@x"] {
        let (_, msg) = invalid(&format!(
            "[[registry]]\nprefix = \"{p}\"\nlocation = \"x.io\"\n"
        ));
        assert!(msg.ends_with(&format!(": Wildcarded prefix should be in the format: *.example.com. Current prefix \"{p}\" is incorrectly formatted")), "{msg}");
    }

    // A type error names the key.
    let (e, _) = invalid("[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"\n");
    match e {
        ConfigError::Toml { message } => assert!(message.contains("insecure"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// TestParseLocation: trailing slashes are stripped; a `@` is not a scheme.
#[test]
fn locations_are_trimmed() {
    let conf = load_text(
        r#"
[[registry]]
location = "example.com//////"
[[registry]]
location = "example.com:5000/with/path/"
[[registry]]
location = "john.doe@example.com"
"#,
    )
    .unwrap();
    let locs: Vec<&str> = conf.registries.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(
        locs,
        [
            "example.com",
            "example.com:5000/with/path",
            "john.doe@example.com"
        ]
    );
}

/// postProcessRegistries: one entry per prefix, the first one winning, sorted by prefix.
#[test]
fn duplicate_prefixes_first_wins_sorted() {
    let conf = load_text(
        r#"
[[registry]]
prefix = "z.io"
location = "first.io"
[[registry]]
prefix = "a.io"
location = "a.io"
[[registry]]
prefix = "z.io"
location = "second.io"
"#,
    )
    .unwrap();
    let v: Vec<(&str, &str)> = conf
        .registries
        .iter()
        .map(|r| (r.prefix.as_str(), r.endpoint.location.as_str()))
        .collect();
    assert_eq!(v, [("a.io", "a.io"), ("z.io", "first.io")]);
}

/// TestMixingV1andV2 / loadConfigFile: v1 in a drop-in is refused with containers/image's
/// text; pullsim refuses it in the main file too.
#[test]
fn v1_format() {
    let v1 = "[registries.search]\nregistries = [\"example.com\"]\n";
    let (e, _) = invalid(v1);
    assert!(matches!(e, ConfigError::V1NotSupported));
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "registries.conf", "");
    let d = tmp.path().join("d");
    std::fs::create_dir(&d).unwrap();
    let f = write(&d, "v1.conf", v1);
    let err = RegistriesConf::load(&main, Some(&d), MainFile::Explicit).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "loading drop-in registries configuration \"{}\": registry must be in v2 format but is in v1",
            f.display()
        )
    );
}
