//! Property tests for the registry protocol decoders (issue 11): `WWW-Authenticate`
//! challenges, the JSON error envelope and its text, and platforms (`--platform` parsing,
//! normalization, the compatibility vector and the choice from an index with many entries).
//! Random and structured input never panics, outputs stay proportional to the input, and
//! well-formed input decodes to what was encoded.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use pullsim_registry::auth::challenge::{Challenge, Scheme, parse_challenges};
use pullsim_registry::error::{envelope_text, parse_error_envelope};
use pullsim_registry::platform::{MAX_VARIANT_NUMBER, choose};
use pullsim_registry::{MAX_ERROR_BODY_SIZE, Platform};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate.

fn tchar_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~/:-]{1,12}"
}

fn param_value() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        tchar_token().prop_map(|v| (v, false)),
        "\\PC{0,20}".prop_map(|v| (v, true)),
        Just(("https://auth.example.com/token?a=1,b=2".to_string(), true)),
        Just(("a \"quoted\" \\ value, with commas".to_string(), true)),
        Just((
            "repository:a/b:pull,push repository:c:pull".to_string(),
            true
        )),
    ]
}

/// A scheme and its parameters: key, value, whether the value is written quoted.
type RawChallenge = (String, Vec<(String, String, bool)>);

fn challenge() -> impl Strategy<Value = RawChallenge> {
    (
        prop_oneof![
            Just("Bearer".to_string()),
            Just("basic".to_string()),
            Just("BEARER".to_string()),
            "[A-Za-z][A-Za-z0-9-]{0,10}",
        ],
        proptest::collection::vec(
            ("[A-Za-z][A-Za-z0-9_-]{0,8}", param_value()).prop_map(|(k, (v, q))| (k, v, q)),
            0..4,
        ),
    )
}

fn render(challenges: &[RawChallenge]) -> String {
    challenges
        .iter()
        .map(|(scheme, params)| {
            let ps: Vec<String> = params
                .iter()
                .map(|(k, v, quoted)| {
                    if *quoted {
                        let esc = v.replace('\\', "\\\\").replace('"', "\\\"");
                        format!("{k}=\"{esc}\"")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            if ps.is_empty() {
                scheme.clone()
            } else {
                format!("{scheme} {}", ps.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn expected(challenges: &[RawChallenge]) -> Vec<Challenge> {
    challenges
        .iter()
        .map(|(scheme, params)| Challenge {
            scheme: match scheme.to_ascii_lowercase().as_str() {
                "basic" => Scheme::Basic,
                "bearer" => Scheme::Bearer,
                other => Scheme::Other(other.to_string()),
            },
            params: params
                .iter()
                .map(|(k, v, _)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Platforms.

fn platform_like() -> impl Strategy<Value = String> {
    let os = prop_oneof![
        Just("linux"),
        Just("Linux"),
        Just("windows"),
        Just("macos"),
        Just("darwin")
    ];
    let arch = prop_oneof![
        Just("amd64"),
        Just("x86_64"),
        Just("386"),
        Just("i386"),
        Just("arm"),
        Just("armhf"),
        Just("armel"),
        Just("arm64"),
        Just("aarch64"),
        Just("AMD64"),
        Just("riscv64"),
        Just("s390x"),
    ];
    let variant = prop_oneof![
        Just(String::new()),
        "v[0-9]{1,2}",
        "[0-9]{1,2}",
        "v[89]\\.[0-9]{1,2}",
        "v?[0-9]{1,12}",
        "v9\\.[0-9]{1,12}",
        "v[89]\\.[0-9]{1,12}\\.[0-9]",
        "\\PC{1,8}",
    ];
    (os, arch, variant).prop_map(|(o, a, v)| {
        if v.is_empty() || v.contains('/') {
            format!("{o}/{a}")
        } else {
            format!("{o}/{a}/{v}")
        }
    })
}

/// A generous bound on the compatibility vector: every count-down stops at the maximum
/// variant number (arm64 v9.x adds five minors of v8).
const MAX_VECTOR: usize = 2 * (MAX_VARIANT_NUMBER as usize + 5) + 8;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn challenges_never_panic_and_stay_proportional(headers in proptest::collection::vec("\\PC{0,80}|[A-Za-z =,\"\\\\]{0,80}", 0..3)) {
        let all = parse_challenges(headers.iter().map(String::as_str));
        let input: usize = headers.iter().map(String::len).sum();
        prop_assert!(all.len() <= input, "{} challenges from {} bytes", all.len(), input);
        let out: usize = all
            .iter()
            .map(|c| c.scheme.as_str().len() + c.params.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
            .sum();
        // Lower-casing and U+FFFD for cut sequences keep it within a small factor.
        prop_assert!(out <= 3 * input, "{} bytes out of {}", out, input);
    }

    #[test]
    fn well_formed_challenges_round_trip(chs in proptest::collection::vec(challenge(), 1..4)) {
        // Within one challenge a repeated key keeps its last value (as in a map).
        let header = render(&chs);
        let got = parse_challenges([header.as_str()]);
        prop_assert_eq!(got, expected(&chs), "{}", header);
    }

    #[test]
    fn error_envelope_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let errors = parse_error_envelope(&body);
        prop_assert!(envelope_text(&errors).len() <= 3 * body.len() + 16);
    }

    #[test]
    fn error_envelopes_decode_and_print_as_containerd(
        entries in proptest::collection::vec(("[A-Z_]{0,20}|\\PC{0,10}", "\\PC{0,40}"), 0..5),
        extra in prop_oneof![Just(json!(null)), Just(json!({"detail": [1, {"a": null}]})), Just(json!(1e308))],
        wrong in proptest::option::of(prop_oneof![Just(json!(5)), Just(json!("text")), Just(json!({"code": 1}))]),
    ) {
        let mut errors: Vec<serde_json::Value> = entries
            .iter()
            .map(|(c, m)| json!({"code": c, "message": m, "detail": extra.clone()}))
            .collect();
        if let Some(w) = &wrong {
            errors.push(w.clone());
        }
        let body = json!({"errors": errors}).to_string();
        let parsed = parse_error_envelope(body.as_bytes());
        let text = envelope_text(&parsed);
        prop_assert!(text.len() <= 3 * body.len() + 16);
        if wrong.is_some() {
            // One malformed entry: not an envelope.
            prop_assert!(parsed.is_empty());
            return Ok(());
        }
        prop_assert_eq!(parsed.len(), entries.len());
        if let [(code, message)] = entries.as_slice() {
            let c = code.to_lowercase().replace('_', " ");
            let want = if message.is_empty() { c } else { format!("{c}: {message}") };
            prop_assert_eq!(text, want);
        }
    }

    #[test]
    fn platform_strings_never_panic(s in "\\PC{0,40}|[a-z0-9/v.]{0,30}") {
        if let Ok(p) = s.parse::<Platform>() {
            prop_assert_eq!(p.to_string().parse::<Platform>(), Ok(p.clone()));
            let _ = p.compatible();
        }
    }

    #[test]
    fn platforms_normalize_and_stay_bounded(s in platform_like()) {
        let p: Platform = s.parse().unwrap();
        let n = p.normalize();
        prop_assert_eq!(n.normalize(), n.clone(), "{}", s);
        prop_assert!(p.matches(&n));
        let v = p.compatible();
        prop_assert!(!v.is_empty() && v.len() <= MAX_VECTOR, "{} entries for {}", v.len(), s);
        prop_assert_eq!(&v[0], &n);
    }

    /// The choice is the first candidate matching the earliest platform of the vector.
    #[test]
    fn choice_is_the_best_compatible_entry(
        wanted in platform_like(),
        candidates in proptest::collection::vec(proptest::option::of(platform_like()), 0..40),
    ) {
        let wanted: Platform = wanted.parse().unwrap();
        let candidates: Vec<Option<Platform>> = candidates
            .into_iter()
            .map(|c| c.map(|s| s.parse().unwrap()))
            .collect();
        let vector = wanted.compatible();
        let rank = |c: &Option<Platform>| {
            c.as_ref().and_then(|c| vector.iter().position(|p| p.matches(c)))
        };
        match choose(&wanted, &candidates) {
            Some(i) => {
                let best = rank(&candidates[i]);
                prop_assert!(best.is_some());
                for (j, c) in candidates.iter().enumerate() {
                    if let Some(r) = rank(c) {
                        prop_assert!(r > best.unwrap() || (r == best.unwrap() && j >= i));
                    }
                }
            }
            None => prop_assert!(candidates.iter().all(|c| rank(c).is_none())),
        }
    }
}

/// Found reviewing the platform matcher for issue 11, pinned by
/// `platforms_normalize_and_stay_bounded`: containerd's platformVector counts down
/// from the variant number, so `linux/amd64/v4000000000` listed four billion platforms (hours
/// and gigabytes), and `linux/arm64/v9.4294967295` overflowed the minor (a panic in debug).
#[test]
fn huge_variant_numbers_list_no_lower_variants() {
    let start = Instant::now();
    for (s, want) in [
        (
            "linux/amd64/v4000000000",
            vec!["linux/amd64/v4000000000", "linux/386"],
        ),
        ("linux/arm/v4294967295", vec!["linux/arm/v4294967295"]),
        (
            "linux/arm64/v9.4294967295",
            vec![
                "linux/arm64/v9.4294967295",
                "linux/arm64/v8.5",
                "linux/arm64/v8.4",
                "linux/arm64/v8.3",
                "linux/arm64/v8.2",
                "linux/arm64/v8.1",
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5",
            ],
        ),
    ] {
        let v: Vec<String> = s
            .parse::<Platform>()
            .unwrap()
            .compatible()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(v, want, "{s}");
    }
    // Real variants keep containerd's vector.
    let v: Vec<String> = "linux/amd64/v3"
        .parse::<Platform>()
        .unwrap()
        .compatible()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        v,
        [
            "linux/amd64/v3",
            "linux/amd64/v2",
            "linux/amd64/v1",
            "linux/386"
        ]
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Large inputs: a 10,000-entry index, a 64 KB error body and 1 MB headers, in bounded time.
#[test]
fn large_inputs_stay_bounded() {
    let start = Instant::now();
    let mut candidates: Vec<Option<Platform>> = (0..10_000)
        .map(|i| Some(Platform::new("linux", "s390x", Some(&format!("v{i}")))))
        .collect();
    candidates.push(Some(Platform::new("linux", "arm", Some("v5"))));
    assert_eq!(
        choose(&"linux/arm64/v9.5".parse().unwrap(), &candidates),
        Some(10_000)
    );
    let max = usize::try_from(MAX_ERROR_BODY_SIZE).unwrap();
    let one = json!({"code": "DENIED", "message": "x"}).to_string();
    let many = format!(
        "{{\"errors\":[{}]}}",
        vec![one.as_str(); max / (one.len() + 1)].join(",")
    );
    let errors = parse_error_envelope(many.as_bytes());
    assert!(envelope_text(&errors).len() <= 3 * many.len());
    let header = "Bearer realm=\"".to_string() + &"a".repeat(1 << 20);
    let schemes = "x, ".repeat(300_000);
    let c = parse_challenges([header.as_str(), schemes.as_str()]);
    assert_eq!(c.len(), 300_001);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}
