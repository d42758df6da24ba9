//! Property tests for the kubelet configuration (issue 11): `KubeletConfigFile::parse` on
//! random text and on `KubeletConfiguration` documents with random field values (wrong types,
//! out-of-range numbers, odd strings) never panics and names the file in its errors; integer
//! fields outside int32 are decode errors, as Go's decoder makes them; and `resolve` with random
//! file values and flags accepts exactly the valid configurations: every invalid value is an
//! error, and what is accepted is what was asked for. The rules checked here are
//! pkg/kubelet/apis/config/validation/validation.go (ValidateKubeletConfiguration) and the
//! defaults of pkg/kubelet/apis/config/v1beta1/defaults.go.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use pullsim_node::kubelet_config::{
    API_VERSION, FlagOverrides, GATE_ENSURE_SECRET_PULLED_IMAGES, GATE_IMAGE_MAXIMUM_GC_AGE, KIND,
    KNOWN_GATES, KubeletConfigError, KubeletConfigFile, parse_feature_gates, resolve,
};
use serde_json::{Value, json};

const PATH: &str = "/etc/kubernetes/kubelet-config.yaml";
const INT_FIELDS: [&str; 5] = [
    "maxParallelImagePulls",
    "registryPullQPS",
    "registryBurst",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
];

/// Parse; an error must name the file and stay bounded (`None` then).
fn parse(text: &str) -> Result<Option<KubeletConfigFile>, TestCaseError> {
    match KubeletConfigFile::parse(text, Path::new(PATH)) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.contains(PATH), "error does not name the file: {msg}");
            prop_assert!(
                msg.len() <= 8192 + 3 * text.len(),
                "{} bytes of error",
                msg.len()
            );
            Ok(None)
        }
    }
}

fn policy_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NeverVerify".to_string()),
        Just("NeverVerifyPreloadedImages".to_string()),
        Just("NeverVerifyAllowlistedImages".to_string()),
        Just("AlwaysVerify".to_string()),
        Just("neververify".to_string()),
        Just(String::new()),
        "\\PC{0,12}",
    ]
}

fn allowlist() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            Just("docker.io/library/*".to_string()),
            Just("registry.k8s.io/pause".to_string()),
            Just("*".to_string()),
            Just("docker.io/library/nginx:1.25".to_string()),
            Just(String::new()),
            "\\PC{0,16}",
        ],
        0..3,
    )
}

fn gate_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(GATE_ENSURE_SECRET_PULLED_IMAGES.to_string()),
        3 => Just(GATE_IMAGE_MAXIMUM_GC_AGE.to_string()),
        1 => "[A-Za-z]{1,12}",
    ]
}

fn gates() -> impl Strategy<Value = BTreeMap<String, bool>> {
    proptest::collection::btree_map(gate_name(), any::<bool>(), 0..3)
}

/// Small integers around the boundaries, and any i32.
fn int32() -> impl Strategy<Value = i32> {
    prop_oneof![3 => -3i32..=110, 1 => any::<i32>()]
}

/// Signed nanoseconds around the interesting ages, and any int64.
fn nanos() -> impl Strategy<Value = i128> {
    prop_oneof![
        Just(0i128),
        Just(120_000_000_000),
        Just(-1),
        (-5i128..600).prop_map(|s| s * 1_000_000_000),
        any::<i64>().prop_map(i128::from),
    ]
}

fn go_duration(n: i128) -> String {
    pullsim_credentials::plugin::duration::format_go_duration(n)
}

fn file() -> impl Strategy<Value = KubeletConfigFile> {
    (
        (
            proptest::option::of(gates()),
            proptest::option::of(policy_name()),
            proptest::option::of(allowlist()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(int32()),
        ),
        (
            proptest::option::of(int32()),
            proptest::option::of(int32()),
            proptest::option::of(int32()),
            proptest::option::of(int32()),
            proptest::option::of(nanos()),
            proptest::option::of(nanos()),
        ),
    )
        .prop_map(
            |((g, p, a, s, mp), (qps, burst, high, low, min, max))| KubeletConfigFile {
                api_version: Some(API_VERSION.into()),
                kind: Some(KIND.into()),
                feature_gates: g,
                image_pull_credentials_verification_policy: p,
                preloaded_images_verification_allowlist: a,
                serialize_image_pulls: s,
                max_parallel_image_pulls: mp,
                registry_pull_qps: qps,
                registry_burst: burst,
                image_gc_high_threshold_percent: high,
                image_gc_low_threshold_percent: low,
                image_minimum_gc_age: min.map(go_duration),
                image_maximum_gc_age: max.map(go_duration),
            },
        )
}

fn flags() -> impl Strategy<Value = FlagOverrides> {
    let qps = prop_oneof![
        (-2.0f64..20.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e-300),
        Just(-0.0),
        any::<f64>(),
    ];
    (
        (
            gates(),
            proptest::option::of(policy_name()),
            proptest::option::of(allowlist()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(int32()),
        ),
        (
            proptest::option::of(qps),
            proptest::option::of(int32()),
            proptest::option::of(int32()),
            proptest::option::of(int32()),
            proptest::option::of(nanos()),
            proptest::option::of(nanos()),
        ),
    )
        .prop_map(
            |((g, p, a, s, mp), (qps, burst, high, low, min, max))| FlagOverrides {
                feature_gates: g,
                image_pull_credentials_verification_policy: p,
                preloaded_images_verification_allowlist: a,
                serialize_image_pulls: s,
                max_parallel_image_pulls: mp,
                registry_pull_qps: qps,
                registry_burst: burst,
                image_gc_high_threshold_percent: high,
                image_gc_low_threshold_percent: low,
                image_minimum_gc_age: min,
                image_maximum_gc_age: max,
            },
        )
}

/// The effective values (file defaulted as v1beta1 does, flags on top) and whether
/// ValidateKubeletConfiguration accepts them; `None` when a feature gate is unknown.
struct Expected {
    valid: bool,
    kep2535: bool,
    serialize: bool,
    max_parallel: Option<i32>,
    qps: f64,
    burst: i32,
    high: i32,
    low: i32,
    min_age: i128,
    max_age: i128,
}

fn expected(f: &KubeletConfigFile, fl: &FlagOverrides) -> Option<Expected> {
    let mut gates: BTreeMap<String, bool> = KNOWN_GATES
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    for (k, v) in f.feature_gates.iter().flatten().chain(&fl.feature_gates) {
        *gates.get_mut(k)? = *v;
    }
    let kep2535 = gates[GATE_ENSURE_SECRET_PULLED_IMAGES];
    let dur = |s: &Option<String>| {
        s.as_deref().map(|d| {
            i128::from(pullsim_credentials::plugin::duration::parse_go_duration(d).unwrap())
        })
    };
    let min_age = fl
        .image_minimum_gc_age
        .or(dur(&f.image_minimum_gc_age).filter(|n| *n != 0))
        .unwrap_or(120_000_000_000);
    let max_age = fl
        .image_maximum_gc_age
        .or(dur(&f.image_maximum_gc_age))
        .unwrap_or(0);
    let max_parallel = fl.max_parallel_image_pulls.or(f.max_parallel_image_pulls);
    let serialize = fl
        .serialize_image_pulls
        .or(f.serialize_image_pulls)
        .unwrap_or(!matches!(max_parallel, Some(n) if n >= 2));
    let qps = fl
        .registry_pull_qps
        .unwrap_or(f64::from(f.registry_pull_qps.unwrap_or(5)));
    let burst = fl
        .registry_burst
        .unwrap_or(f.registry_burst.filter(|b| *b != 0).unwrap_or(10));
    let high = fl
        .image_gc_high_threshold_percent
        .or(f.image_gc_high_threshold_percent)
        .unwrap_or(85);
    let low = fl
        .image_gc_low_threshold_percent
        .or(f.image_gc_low_threshold_percent)
        .unwrap_or(80);
    let policy = fl
        .image_pull_credentials_verification_policy
        .clone()
        .or(f
            .image_pull_credentials_verification_policy
            .clone()
            .filter(|p| !p.is_empty()))
        .or_else(|| kep2535.then(|| "NeverVerifyPreloadedImages".to_string()))
        .unwrap_or_default();
    let allow = fl
        .preloaded_images_verification_allowlist
        .clone()
        .or(f.preloaded_images_verification_allowlist.clone())
        .unwrap_or_default();

    let mut valid = (0..=100).contains(&high) && (0..=100).contains(&low) && low < high;
    valid &= min_age >= 0 && max_age >= 0;
    valid &= max_age == 0 || (gates[GATE_IMAGE_MAXIMUM_GC_AGE] && max_age > min_age);
    valid &= burst >= 0 && qps >= 0.0; // NaN is not >= 0
    if let Some(n) = max_parallel {
        valid &= n >= 1 && !(serialize && n > 1);
    }
    if kep2535 {
        valid &= [
            "NeverVerify",
            "NeverVerifyPreloadedImages",
            "NeverVerifyAllowlistedImages",
            "AlwaysVerify",
        ]
        .contains(&policy.as_str());
        if !allow.is_empty() {
            valid &= policy == "NeverVerifyAllowlistedImages"
                && pullsim_policy::Allowlist::parse(&allow).is_ok();
        }
    } else {
        valid &= policy.is_empty() && allow.is_empty();
    }
    Some(Expected {
        valid,
        kep2535,
        serialize,
        max_parallel,
        qps,
        burst,
        high,
        low,
        min_age,
        max_age,
    })
}

fn to_duration(n: i128) -> Duration {
    let n = u128::try_from(n).unwrap();
    Duration::new(
        u64::try_from(n / 1_000_000_000).unwrap(),
        u32::try_from(n % 1_000_000_000).unwrap(),
    )
}

/// A file as YAML or JSON text (JSON is YAML too).
fn text_of(f: &KubeletConfigFile, json: bool, extra: &[(String, Value)]) -> String {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("apiVersion", f.api_version.clone().map(Value::from));
    put("kind", f.kind.clone().map(Value::from));
    put("featureGates", f.feature_gates.as_ref().map(|g| json!(g)));
    put(
        "imagePullCredentialsVerificationPolicy",
        f.image_pull_credentials_verification_policy
            .clone()
            .map(Value::from),
    );
    put(
        "preloadedImagesVerificationAllowlist",
        f.preloaded_images_verification_allowlist
            .as_ref()
            .map(|a| json!(a)),
    );
    put(
        "serializeImagePulls",
        f.serialize_image_pulls.map(Value::from),
    );
    put(
        "maxParallelImagePulls",
        f.max_parallel_image_pulls.map(Value::from),
    );
    put("registryPullQPS", f.registry_pull_qps.map(Value::from));
    put("registryBurst", f.registry_burst.map(Value::from));
    put(
        "imageGCHighThresholdPercent",
        f.image_gc_high_threshold_percent.map(Value::from),
    );
    put(
        "imageGCLowThresholdPercent",
        f.image_gc_low_threshold_percent.map(Value::from),
    );
    put(
        "imageMinimumGCAge",
        f.image_minimum_gc_age.clone().map(Value::from),
    );
    put(
        "imageMaximumGCAge",
        f.image_maximum_gc_age.clone().map(Value::from),
    );
    for (k, v) in extra {
        m.insert(k.clone(), v.clone());
    }
    let v = Value::Object(m);
    if json {
        serde_json::to_string_pretty(&v).unwrap()
    } else {
        // Block YAML: one `key: <JSON value>` line per field.
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect()
    }
}

/// Wrong or extreme values for any field.
fn odd_field() -> impl Strategy<Value = (String, Value)> {
    let key = proptest::sample::select(vec![
        "featureGates",
        "imagePullCredentialsVerificationPolicy",
        "preloadedImagesVerificationAllowlist",
        "serializeImagePulls",
        "maxParallelImagePulls",
        "registryPullQPS",
        "registryBurst",
        "imageGCHighThresholdPercent",
        "imageGCLowThresholdPercent",
        "imageMinimumGCAge",
        "imageMaximumGCAge",
        "kind",
        "apiVersion",
        "unknownField",
    ]);
    let value = prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(2_147_483_648u64)),
        Just(json!(-2_147_483_649i64)),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!(1e308)),
        Just(json!("5")),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"KubeletEnsureSecretPulledImages": "yes"})),
        Just(json!("1h2m3.5s")),
        Just(json!("-1s")),
        Just(json!("9999999999999999999h")),
        Just(json!("0.999999999999999999999999999999h")),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    (key.prop_map(str::to_string), value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random text: no panic, errors name the file.
    #[test]
    fn random_text(text in "\\PC{0,200}|[a-zA-Z:{}\\[\\]\"', \n\t0-9.-]{0,200}") {
        parse(&text)?;
        parse(&format!("apiVersion: {API_VERSION}\nkind: {KIND}\n{text}"))?;
    }

    /// A configuration with wrong or extreme values: no panic, the file named; an int32 field
    /// holding anything but an int32 is a decode error.
    #[test]
    fn odd_field_values(f in file(), json in any::<bool>(), extra in proptest::collection::vec(odd_field(), 1..3)) {
        let text = text_of(&f, json, &extra);
        let out = KubeletConfigFile::parse(&text, Path::new(PATH));
        if let Err(e) = &out {
            prop_assert!(e.to_string().contains(PATH), "{}", e);
        }
        for (k, v) in &extra {
            let last = extra.iter().rev().find(|(k2, _)| k2 == k).map(|(_, v)| v);
            if INT_FIELDS.contains(&k.as_str()) && last == Some(v) {
                let int32 = v.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
                if !int32 && !v.is_null() {
                    prop_assert!(out.is_err(), "{} = {} accepted:\n{}", k, v, text);
                }
            }
        }
        if let Ok(file) = out {
            let _ = resolve(Some(&file), &FlagOverrides::default());
        }
    }

    /// `resolve` accepts exactly the valid configurations, and what it accepts is what was
    /// asked for.
    #[test]
    fn resolve_accepts_exactly_the_valid(f in file(), fl in flags(), json in any::<bool>()) {
        // The file goes through its text, as the kubelet reads it.
        let text = text_of(&f, json, &[]);
        let parsed = parse(&text)?;
        prop_assert_eq!(parsed.as_ref(), Some(&f), "{}", text);
        let parsed = f;
        let got = resolve(Some(&parsed), &fl);
        let Some(want) = expected(&parsed, &fl) else {
            prop_assert!(matches!(got, Err(KubeletConfigError::FeatureGate { .. })), "{:?}", got);
            return Ok(());
        };
        match got {
            Ok(cfg) => {
                prop_assert!(want.valid, "invalid configuration accepted: {:?} {:?}", parsed, fl);
                prop_assert_eq!(cfg.manager.ensure_secret_pulled_images, want.kep2535);
                prop_assert_eq!(cfg.puller.serialize, want.serialize);
                prop_assert_eq!(cfg.puller.max_parallel, want.max_parallel.map(|n| n as u32));
                prop_assert_eq!(cfg.qps.to_bits(), want.qps.to_bits());
                prop_assert_eq!(i64::from(cfg.burst), i64::from(want.burst));
                prop_assert_eq!(i32::from(cfg.gc.high_threshold_percent), want.high);
                prop_assert_eq!(i32::from(cfg.gc.low_threshold_percent), want.low);
                prop_assert_eq!(cfg.gc.min_age, to_duration(want.min_age));
                prop_assert_eq!(cfg.gc.max_age, to_duration(want.max_age));
            }
            Err(KubeletConfigError::Invalid { errors }) => {
                prop_assert!(!want.valid, "valid configuration refused: {:?}", errors);
                prop_assert!(errors.iter().all(|e| e.starts_with("invalid configuration: ")), "{:?}", errors);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// `--feature-gates` values: no panic; what parses is what was written.
    #[test]
    fn feature_gate_flags(items in proptest::collection::vec((gate_name(), prop_oneof![
        Just("true".to_string()), Just("false".to_string()), Just("T".to_string()), Just("0".to_string()),
        Just("yes".to_string()), Just(String::new()), "\\PC{0,5}",
    ], any::<bool>()), 0..4)) {
        let text = items
            .iter()
            .map(|(k, v, eq)| if *eq { format!(" {k} = {v} ") } else { k.clone() })
            .collect::<Vec<_>>()
            .join(",");
        match parse_feature_gates(&text) {
            Ok(map) => {
                for (k, v) in map {
                    prop_assert!(text.contains(&k));
                    let _ = v;
                }
            }
            Err(e) => {
                let typed = matches!(e, KubeletConfigError::FeatureGate { .. });
                prop_assert!(typed, "{:?}", e);
            }
        }
    }
}

/// Large inputs (MBs): bounded time, an error naming the file.
#[test]
fn large_configuration_files() {
    let start = std::time::Instant::now();
    let head = format!("apiVersion: {API_VERSION}\nkind: {KIND}\n");
    for text in [
        format!("{head}featureGates: {}", "{".repeat(100_000)),
        format!("{head}imageMinimumGCAge: \"{}s\"\n", "9".repeat(2 << 20)),
        format!(
            "{head}imagePullCredentialsVerificationPolicy: {}\n",
            "x".repeat(4 << 20)
        ),
        "[".repeat(1 << 20),
        format!("{head}{}", "unknownField: 1\n".repeat(100_000)),
    ] {
        if let Err(e) = KubeletConfigFile::parse(&text, Path::new(PATH)) {
            assert!(e.to_string().contains(PATH));
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}

/// Found by `odd_field_values`: a quoted number was read into an int32 field (the YAML
/// reader converted the string); the kubelet converts YAML to JSON first and its decoder
/// refuses a string for an int32 (`json: cannot unmarshal string into Go struct field
/// KubeletConfiguration.maxParallelImagePulls of type int32`), as it refuses 1.5.
#[test]
fn a_quoted_number_is_not_an_int32() {
    let head = format!("apiVersion: {API_VERSION}\nkind: {KIND}\n");
    for body in [
        "maxParallelImagePulls: \"5\"\n",
        "registryBurst: '10'\n",
        "imageGCHighThresholdPercent: 1.5\n",
        "featureGates: {KubeletEnsureSecretPulledImages: \"true\"}\n",
    ] {
        let e =
            KubeletConfigFile::parse(&format!("{head}{body}"), Path::new(PATH)).expect_err(body);
        assert!(
            matches!(&e, KubeletConfigError::Decode { .. }),
            "{body}: {e:?}"
        );
    }
    let f = KubeletConfigFile::parse(
        &format!("{head}maxParallelImagePulls: 5\n"),
        Path::new(PATH),
    )
    .unwrap();
    assert_eq!(f.max_parallel_image_pulls, Some(5));
}
