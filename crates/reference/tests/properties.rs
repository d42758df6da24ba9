//! Property tests: no panics on any input, and normalized / familiar round trips.

use proptest::prelude::*;
use pullsim_reference::{AnyReference, Digest, Reference, parse_image_name};

/// Strings built from the characters that matter to the grammar, so that many are valid.
fn reference_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::sample::select(vec![
                "a", "b", "z", "0", "9", ".", "_", "__", "-", "--", "/", ":", "@", "sha256:",
                "library/", "docker.io/", "index.docker.io/", "localhost", ":5000", "[::1]",
                "latest", "A", "Z", "%", "$", " ", "\u{212a}", "\u{130}", "é",
            ]).prop_map(str::to_owned),
            1 => Just("0123456789abcdef".repeat(4)),
            1 => "[a-f0-9]{1,70}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Valid references: optional domain, 1-3 path components, optional tag and digest.
fn valid_reference() -> impl Strategy<Value = String> {
    let component = "[a-z0-9]{1,6}([._-][a-z0-9]{1,4}){0,2}";
    let domain = prop_oneof![
        Just(String::new()),
        Just("docker.io/".to_string()),
        Just("index.docker.io/".to_string()),
        Just("localhost/".to_string()),
        Just("localhost:5000/".to_string()),
        Just("[::1]:5000/".to_string()),
        "[a-z]{1,8}\\.(io|com)(:[0-9]{1,5})?/",
        "[A-Z][a-z]{0,5}/",
    ];
    let tag = prop_oneof![Just(String::new()), ":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"];
    let digest = prop_oneof![
        Just(String::new()),
        "@sha256:[a-f0-9]{64}",
        "@sha512:[a-f0-9]{128}",
    ];
    (
        domain,
        proptest::collection::vec(component, 1..4),
        tag,
        digest,
    )
        .prop_map(|(d, path, t, g)| format!("{d}{}{t}{g}", path.join("/")))
        .prop_filter("a 64-hex name is an image ID", |s| {
            !pullsim_reference::is_identifier(s)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = Reference::parse_normalized(&s).map(|r| (r.familiar(), r.with_default_tag()));
        let _ = Reference::parse(&s).map(|r| r.familiar_name());
        let _ = AnyReference::parse(&s);
        let _ = Reference::parse_named(&s);
        let _ = Reference::parse_docker_ref(&s);
        let _ = Reference::with_name(&s);
        let _ = parse_image_name(&s).map_err(|e| e.to_string());
        let _ = Digest::parse(&s).map_err(|e| e.to_string());
    }

    #[test]
    fn never_panics_on_reference_like_strings(s in reference_like()) {
        match Reference::parse_normalized(&s) {
            Ok(r) => {
                prop_assert_eq!(Reference::parse_normalized(&r.to_string()).ok(), Some(r.clone()));
            }
            Err(e) => {
                // Every message starts with the upstream sentence.
                let (msg, up) = (e.to_string(), e.upstream());
                let head = up.split(" (").next().unwrap_or(&up);
                prop_assert!(msg.starts_with(head), "{} / {}", msg, up);
            }
        }
        let _ = Reference::parse(&s);
        let _ = parse_image_name(&s);
    }

    #[test]
    fn normalized_and_familiar_forms_round_trip(s in valid_reference()) {
        let r = Reference::parse_normalized(&s)
            .map_err(|e| TestCaseError::fail(format!("{s:?} should be valid: {e}")))?;
        prop_assert_eq!(Reference::parse_normalized(&r.to_string()).ok(), Some(r.clone()));
        // The familiar form is ambiguous upstream when a Docker Hub path starts with something
        // that looks like a domain (`docker.io/a.b/c` → `a.b/c`, which names registry `a.b`);
        // everywhere else it round-trips.
        let familiar = r.familiar();
        let looks_like_domain = familiar
            .split_once('/')
            .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost");
        if r.is_docker_hub() && looks_like_domain {
            prop_assert_ne!(Reference::parse_normalized(&familiar).ok(), Some(r.clone()));
        } else {
            prop_assert_eq!(Reference::parse_normalized(&familiar).ok(), Some(r.clone()));
        }
        prop_assert_eq!(Reference::parse(&r.to_string()).ok(), Some(r.clone()));
        prop_assert_eq!(r.to_string(), format!(
            "{}{}{}",
            r.name(),
            r.tag().map(|t| format!(":{t}")).unwrap_or_default(),
            r.digest().map(|d| format!("@{d}")).unwrap_or_default()
        ));
        let with_default = r.with_default_tag();
        prop_assert!(with_default.tag().is_some() || with_default.digest().is_some());
        prop_assert_eq!(Reference::parse_normalized(&with_default.to_string()).ok(), Some(with_default.clone()));
    }
}
