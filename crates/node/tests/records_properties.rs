//! Property tests for the kubelet's record files (issue 11): `decode_pull_intent` and
//! `decode_pulled_record` on random bytes and on valid records with random edits never panic,
//! fail only with a typed `Decode` error naming the file, bounded; what they accept re-encodes to
//! the same record; and RFC 3339 parsing never panics and round-trips.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use pullsim_node::RecordsError;
use pullsim_node::records::{
    ImagePullCredentials, ImagePullIntent, ImagePullSecret, ImagePullServiceAccount,
    ImagePulledRecord, decode_pull_intent, decode_pulled_record, encode_pull_intent,
    encode_pulled_record, format_rfc3339, parse_rfc3339,
};
use serde_json::{Value, json};

const PATH: &str = "/var/lib/kubelet/image_manager/pulled/sha256-abc";

/// The decoders' failures are `Decode` errors naming the file and the kind, bounded by the
/// input (the message may quote a kind, version or time found in it).
fn check_error(e: &RecordsError, input_len: usize) -> Result<(), TestCaseError> {
    match e {
        RecordsError::Decode { path, kind, .. } => {
            prop_assert_eq!(path.as_path(), Path::new(PATH));
            prop_assert!(*kind == "ImagePullIntent" || *kind == "ImagePulledRecord");
        }
        other => prop_assert!(false, "not a decode error: {other:?}"),
    }
    let msg = e.to_string();
    prop_assert!(
        msg.starts_with("failed to deserialize content of file"),
        "{}",
        msg
    );
    prop_assert!(msg.len() <= 1024 + 8 * input_len, "{} bytes", msg.len());
    Ok(())
}

/// Decode both kinds; whatever decodes re-encodes and decodes to the same value.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new(PATH);
    match decode_pull_intent(path, bytes) {
        Ok(intent) => {
            let again = encode_pull_intent(&intent).unwrap();
            prop_assert_eq!(decode_pull_intent(path, &again).unwrap(), intent);
        }
        Err(e) => check_error(&e, bytes.len())?,
    }
    match decode_pulled_record(path, bytes) {
        Ok(record) => {
            prop_assert!(record.credential_mapping.values().all(|c| !c.preloaded));
            // Times the RFC 3339 layout can write (years 0000-9999) round-trip; Go's
            // metav1.Time writes other years too, in a form its parser refuses.
            let writable = record
                .last_updated_time
                .is_none_or(|t| (-62_167_219_200..=253_402_300_799).contains(&t));
            let again = encode_pulled_record(&record).unwrap();
            if writable {
                prop_assert_eq!(decode_pulled_record(path, &again).unwrap(), record);
            }
        }
        Err(e) => check_error(&e, bytes.len())?,
    }
    Ok(())
}

fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,20}",
        Just(String::new()),
        Just("<script>&\u{2028}\u{2029}".to_string()),
        Just("\u{0}\u{1b}\u{7f}\u{feff}\u{10ffff}".to_string()),
        Just("docker.io/library/nginx".to_string()),
        Just("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string()),
    ]
}

fn record() -> impl Strategy<Value = ImagePulledRecord> {
    let secret = (odd_string(), odd_string(), odd_string(), odd_string()).prop_map(
        |(uid, namespace, name, credential_hash)| ImagePullSecret {
            uid,
            namespace,
            name,
            credential_hash,
        },
    );
    let sa = (odd_string(), odd_string(), odd_string()).prop_map(|(uid, namespace, name)| {
        ImagePullServiceAccount {
            uid,
            namespace,
            name,
        }
    });
    let creds = (
        any::<bool>(),
        proptest::collection::vec(secret, 0..3),
        proptest::collection::vec(sa, 0..3),
    )
        .prop_map(
            |(node_pods_accessible, kubernetes_secrets, kubernetes_service_accounts)| {
                ImagePullCredentials {
                    preloaded: false,
                    node_pods_accessible,
                    kubernetes_secrets,
                    kubernetes_service_accounts,
                }
            },
        );
    (
        proptest::option::of(-62_167_219_200i64..=253_402_300_799),
        odd_string(),
        proptest::collection::btree_map(odd_string(), creds, 0..3),
    )
        .prop_map(
            |(last_updated_time, image_ref, credential_mapping)| ImagePulledRecord {
                last_updated_time,
                image_ref,
                credential_mapping,
            },
        )
}

/// Values that are wrong or extreme in place of any field.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"unknownField": 1})),
        Just(json!("ImagePullIntent")),
        Just(json!("ImagePulledRecord")),
        Just(json!("kubelet.config.k8s.io/v1beta1")),
        Just(json!("kubelet.config.k8s.io/v1")),
        Just(json!("2024-02-30T00:00:00Z")),
        Just(json!("9999-12-31T23:59:59.999999999-23:59")),
        Just(json!("0000-01-01T00:00:00+23:59")),
        Just(json!("2024-10-21T12:26:40")),
        Just(json!("2024-10-21t12:26:40z")),
        odd_string().prop_map(Value::String),
        (1usize..200).prop_map(|d| {
            let mut v = json!(1);
            for _ in 0..d {
                v = json!([v]);
            }
            v
        }),
    ]
}

fn all_paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(k.clone());
                all_paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(i.to_string());
                all_paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

/// Replace a value, add an unknown key, or rename a key, at a chosen path.
fn mutate(v: &mut Value, pick: usize, op: u8, value: Value) {
    let mut paths = Vec::new();
    all_paths(v, &mut Vec::new(), &mut paths);
    let path = &paths[pick % paths.len()];
    let Some(slot) = path.iter().try_fold(&mut *v, |v, k| match v {
        Value::Object(m) => m.get_mut(k),
        Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?),
        _ => None,
    }) else {
        return;
    };
    match (op % 3, slot) {
        (1, Value::Object(m)) => {
            m.insert("extraField".into(), value);
        }
        (2, Value::Object(m)) => {
            if let Some(k) = m.keys().next().cloned() {
                let c = m.remove(&k).unwrap_or(Value::Null);
                m.insert(k.to_uppercase(), c);
            }
        }
        (_, slot) => *slot = value,
    }
}

/// Text-level edits: duplicate a key (the first `"key":value` pair repeated), truncate, poke.
fn text_edit(mut text: String, op: u8, at: usize) -> String {
    match op % 4 {
        0 => {
            // Duplicate the first field: `{"kind":"X",` → `{"kind":"X","kind":"X",`.
            if let Some(end) = text.find(',') {
                let first = text[1..=end].to_string();
                text.insert_str(1, &first);
            }
            text
        }
        1 => {
            let mut end = at % (text.len() + 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text
        }
        2 => {
            let mut chars: Vec<char> = text.chars().collect();
            if !chars.is_empty() {
                let i = at % chars.len();
                chars[i] = ['"', '{', '}', ',', ':', '\\', '\u{0}', 'é'][at % 8];
            }
            chars.into_iter().collect()
        }
        _ => text,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes)?;
    }

    /// Text built from JSON's characters and the records' words, so that some parse.
    #[test]
    fn json_like_text(parts in proptest::collection::vec(proptest::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "1", "-1e400",
        "\"kind\":", "\"apiVersion\":", "\"ImagePullIntent\"", "\"ImagePulledRecord\"",
        "\"kubelet.config.k8s.io/v1alpha1\"", "\"kubelet.config.k8s.io/v1beta1\"",
        "\"image\":", "\"imageRef\":", "\"lastUpdatedTime\":", "\"2024-10-21T12:26:40Z\"",
        "\"credentialMapping\":", "\"kubernetesSecrets\":", "\"nodePodsAccessible\":",
        "\"\\u0000\"", "\"\\ud800\"", " ", "\n",
    ]), 0..40)) {
        check(parts.concat().as_bytes())?;
    }

    /// A valid record round-trips; with random edits it still decodes or fails typed.
    #[test]
    fn mutated_records(
        rec in record(),
        image in odd_string(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), odd_value()), 0..3),
        text_op in any::<u8>(),
        at in any::<usize>(),
    ) {
        let path = Path::new(PATH);
        let bytes = encode_pulled_record(&rec).unwrap();
        prop_assert_eq!(decode_pulled_record(path, &bytes).unwrap(), rec);
        let intent = ImagePullIntent { image };
        let ibytes = encode_pull_intent(&intent).unwrap();
        prop_assert_eq!(decode_pull_intent(path, &ibytes).unwrap(), intent);
        for bytes in [bytes, ibytes] {
            let mut v: Value = serde_json::from_slice(&bytes).unwrap();
            for (pick, op, value) in &edits {
                mutate(&mut v, *pick, *op, value.clone());
            }
            let text = text_edit(v.to_string(), text_op, at);
            check(text.as_bytes())?;
        }
    }

    /// Any string: no panic; a parsed time formats to a string that parses to it again.
    #[test]
    fn rfc3339_never_panics(s in "\\PC{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})?") {
        if let Some(t) = parse_rfc3339(&s).filter(|t| (-62_167_219_200..=253_402_300_799).contains(t)) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
    }

    #[test]
    fn rfc3339_formats_any_instant(t in any::<i64>()) {
        let s = format_rfc3339(t);
        if (-62_167_219_200..=253_402_300_799).contains(&t) {
            prop_assert_eq!(parse_rfc3339(&s), Some(t));
        }
    }
}

/// Large files (MBs): bounded time and error.
#[test]
fn large_records_stay_bounded() {
    let start = std::time::Instant::now();
    let big = "x".repeat(4 << 20);
    let mut mapping = BTreeMap::new();
    for i in 0..20_000 {
        mapping.insert(
            format!("docker.io/library/img{i}"),
            json!({"nodePodsAccessible": true}),
        );
    }
    let cases: Vec<Vec<u8>> = vec![
        "[".repeat(1 << 20).into_bytes(),
        format!(r#"{{"kind":"{big}","apiVersion":"kubelet.config.k8s.io/v1alpha1"}}"#).into_bytes(),
        format!(r#"{{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"{big}"}}"#).into_bytes(),
        json!({"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","imageRef":"sha256:x","credentialMapping": mapping}).to_string().into_bytes(),
        vec![0xff; 4 << 20],
    ];
    for bytes in cases {
        let path = Path::new(PATH);
        for r in [
            decode_pull_intent(path, &bytes).err(),
            decode_pulled_record(path, &bytes).err(),
        ]
        .into_iter()
        .flatten()
        {
            check_error(&r, bytes.len()).unwrap();
        }
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}
