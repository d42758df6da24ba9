//! Property tests for the manifest reader (issue 11): random bytes and valid manifests (Pods,
//! Deployments, Lists, Secrets, ServiceAccounts) with random edits — deep nesting, huge numbers,
//! wrong types, duplicated keys, odd Unicode, broken lines — never panic, every error names the
//! file, stays bounded, and never shows a Secret's password (the YAML excerpt is redacted).

use std::path::Path;

use proptest::prelude::*;
use pullsim_node::Manifests;
use pullsim_node::pods::SecretSet;
use serde_json::{Value, json};

const FILE: &str = "dir/manifests.yaml";
const MARKER: &str = "MARKERPASSWORD7f3e";
/// The base64 of the marker (and of a config holding it) must not show either.
const MARKER_B64: &str = "TUFSS0VSUEFTU1dPUkQ3ZjNl";

/// No panic; an error names the file and is bounded; the marker never shows. The secrets
/// found are handed to the credentials crate as `pod run` does, with the same checks.
fn check(text: &str, file: &Path) -> Result<(), TestCaseError> {
    let shown = file.display().to_string();
    let mut m = Manifests::default();
    let checked = |msg: String| -> Result<(), TestCaseError> {
        prop_assert!(
            msg.starts_with(&shown),
            "error does not name the file: {msg}"
        );
        prop_assert!(!msg.contains(MARKER), "password in error: {msg}");
        prop_assert!(!msg.contains(MARKER_B64), "base64 password in error: {msg}");
        // Bounded: the excerpt is five lines of at most 120 characters, the messages name
        // values the input holds.
        prop_assert!(
            msg.len() <= 8192 + 2 * text.len(),
            "error of {} bytes for {} bytes of input",
            msg.len(),
            text.len()
        );
        Ok(())
    };
    match m.add_text(file, text) {
        Err(e) => checked(e.to_string())?,
        Ok(()) => {
            if let Err(e) = SecretSet::from_manifests(&m) {
                checked(e.to_string())?;
            }
            let pods = pullsim_node::pods::build_pods(
                &m,
                &SecretSet::default(),
                &pullsim_credentials::Keyring::new(),
            );
            prop_assert_eq!(pods.len(), m.pods.len());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Documents.

fn pod(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "regcred"}],
            "initContainers": [{"name": "init", "image": "busybox:1.36"}],
            "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}],
            "volumes": [{"name": "v", "image": {"reference": "quay.io/x/data:1", "pullPolicy": "Always"}}]
        }
    })
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 3, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
        }}
    })
}

fn cronjob() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "job", "image": "registry.example.com/team/job@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]
        }}}}}
    })
}

fn service_account() -> Value {
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "default"},
        "imagePullSecrets": [{"name": "regcred"}, {"name": ""}]
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// A pull secret whose password is the marker, as JSON (for the structured mutations).
fn secret_value() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": dockerconfig()}
    })
}

fn dockerconfig() -> String {
    format!(r#"{{"auths":{{"registry.example.com":{{"username":"bob","password":"{MARKER}"}}}}}}"#)
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The documents a structured case starts from.
fn base_documents() -> Vec<Value> {
    vec![
        pod("api", "registry.example.com/team/api:1.0"),
        deployment("web"),
        cronjob(),
        service_account(),
        secret_value(),
        list(vec![pod("listed", "nginx"), secret_value()]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Structured mutations of the JSON value.

/// Values that are wrong, odd or extreme in place of any field.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        Just(json!("")),
        Just(json!("   ")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"name": 1}, null, "x"])),
        Just(json!({"kind": "Pod", "metadata": {"name": 5}})),
        Just(json!(
            "\u{0}\u{1b}[2J\r\u{202e}\u{feff}\u{2028}𝔘é\u{10ffff}"
        )),
        Just(json!("9".repeat(400))),
        Just(json!("Secret")),
        Just(json!("List")),
        "\\PC{0,40}".prop_map(Value::String),
        (1usize..300).prop_map(nested),
    ]
}

/// `depth` levels of alternating lists and mappings.
fn nested(depth: usize) -> Value {
    let mut v = json!("leaf");
    for i in 0..depth {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

/// Every path (object keys and array indexes) in `v`.
fn paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(k.clone());
                paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(i.to_string());
                paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| match v {
        Value::Object(m) => m.get_mut(k),
        Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Replace the values at a few chosen paths (chosen by index modulo the number of paths).
fn mutate(mut doc: Value, edits: &[(usize, Value)]) -> Value {
    for (pick, value) in edits {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let path = &all[pick % all.len()];
        // The Secret's password stays where it is: the property is about errors elsewhere.
        if path.iter().any(|k| k == "stringData") {
            continue;
        }
        if let Some(slot) = at_mut(&mut doc, path) {
            *slot = value.clone();
        }
    }
    doc
}

// ---------------------------------------------------------------------------------------------
// Text: a block-style YAML emitter (JSON scalars are valid YAML scalars), whose lines are
// marked when they belong to a Secret's data.

#[derive(Clone, Debug)]
struct Line {
    text: String,
    /// Part of a Secret's `stringData` / `data` block (or its key line): not edited.
    secret: bool,
}

fn scalar(v: &Value) -> String {
    v.to_string()
}

fn emit(v: &Value, indent: usize, in_secret: bool, out: &mut Vec<Line>) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let secret = in_secret || k == "stringData" || k == "data";
                let key = scalar(&Value::String(k.clone()));
                match c {
                    Value::Object(cm) if !cm.is_empty() => {
                        out.push(Line {
                            text: format!("{pad}{key}:"),
                            secret,
                        });
                        emit(c, indent + 2, secret, out);
                    }
                    Value::Array(ca) if !ca.is_empty() => {
                        out.push(Line {
                            text: format!("{pad}{key}:"),
                            secret,
                        });
                        emit(c, indent, secret, out);
                    }
                    _ => out.push(Line {
                        text: format!("{pad}{key}: {}", scalar(c)),
                        secret,
                    }),
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for c in a {
                let mut sub = Vec::new();
                emit(c, indent + 2, in_secret, &mut sub);
                // `- ` replaces the first line's indentation.
                if let Some(first) = sub.first_mut() {
                    let body = first.text.trim_start().to_string();
                    first.text = format!("{pad}- {body}");
                }
                out.extend(sub);
            }
        }
        other => out.push(Line {
            text: format!("{pad}{}", scalar(other)),
            secret: in_secret,
        }),
    }
}

/// How a Secret's data is written in YAML, each style with the marker inside.
fn secret_yaml(style: u8) -> Vec<Line> {
    let cfg = dockerconfig();
    let quoted = serde_json::to_string(&cfg).unwrap_or_default();
    let head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson";
    let data: String = match style % 8 {
        0 => format!("stringData:\n  .dockerconfigjson: {quoted}\n  filler: x"),
        1 => format!("stringData:\n  .dockerconfigjson: |\n    {cfg}\n  filler: x"),
        2 => format!("data:\n  .dockerconfigjson: {}\n  filler: eA==", b64(&cfg)),
        3 => format!("stringData: {{.dockerconfigjson: {quoted}, filler: x}}"),
        4 => format!("stringData: {{\n  .dockerconfigjson: {quoted},\n  filler: x\n}}"),
        5 => format!("stringData: &creds\n  .dockerconfigjson: {quoted}\n  filler: x"),
        6 => format!(
            "stringData:\n  filler: x\n  other: |\n    #{MARKER}\n    {MARKER}:x\n  last: y"
        ),
        _ => format!(
            "data:\n  password: {}\n  filler: eA==\nstringData:\n  username: bob\n  password: {MARKER}",
            b64(MARKER)
        ),
    };
    let mut lines: Vec<Line> = head
        .lines()
        .map(|l| Line {
            text: l.to_string(),
            secret: false,
        })
        .collect();
    lines.extend(data.lines().map(|l| Line {
        text: l.to_string(),
        // Filler entries may be broken: they stay lines of the block.
        secret: !l.trim_start().starts_with("filler:"),
    }));
    lines
}

/// Garbage lines and fragments that break YAML in different ways.
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x: [unclosed".to_string()),
        Just("y: {a: 1".to_string()),
        Just("z: \"unterminated".to_string()),
        Just("\tkey: tab".to_string()),
        Just("- ]".to_string()),
        Just("*undefined_alias".to_string()),
        Just("&a &b x".to_string()),
        Just("!!binary x: y".to_string()),
        Just("%YAML 1.1".to_string()),
        Just("? [complex]".to_string()),
        Just("key: value: other".to_string()),
        Just("@reserved".to_string()),
        Just("`reserved".to_string()),
        Just("kind: Secret".to_string()),
        Just("kind: kind: kind".to_string()),
        Just("n: 99999999999999999999999999999999999999".to_string()),
        Just("f: 1e99999".to_string()),
        Just("\u{feff}bom: x".to_string()),
        Just("\u{1b}[31mred: x".to_string()),
        Just("\r".to_string()),
        Just("---".to_string()),
        Just("...".to_string()),
        "[\\PC:{}\\[\\]\"'&*!|>#%@ \t-]{0,30}",
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    /// Insert a garbage line before line `at` (unless inside a Secret's data block).
    Insert(usize, String),
    /// Replace one character of a line outside the Secret's data.
    Poke(usize, usize, char),
    /// Duplicate a line outside the Secret's data (duplicated keys).
    Duplicate(usize),
    /// Delete a line outside the Secret's data.
    Delete(usize),
    /// Break the value of a Secret's filler entry.
    Filler(String),
    /// Re-indent a line outside the Secret's data.
    Indent(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let poke_char = proptest::sample::select(vec![
        ':', '{', '}', '[', ']', '"', '\'', '\t', '&', '*', '!', '|', '>', '-', '#', '%', '@', '`',
        '\r', ' ', ',', '?', '\u{0}', '\u{85}', '\u{2028}', 'é', '\u{feff}',
    ]);
    prop_oneof![
        3 => (any::<usize>(), garbage()).prop_map(|(a, g)| Edit::Insert(a, g)),
        3 => (any::<usize>(), any::<usize>(), poke_char).prop_map(|(a, b, c)| Edit::Poke(a, b, c)),
        1 => any::<usize>().prop_map(Edit::Duplicate),
        1 => any::<usize>().prop_map(Edit::Delete),
        2 => garbage().prop_map(Edit::Filler),
        1 => (any::<usize>(), 0usize..6).prop_map(|(a, n)| Edit::Indent(a, n)),
    ]
}

fn apply(lines: &mut Vec<Line>, e: &Edit) {
    if lines.is_empty() {
        return;
    }
    let n = lines.len();
    match e {
        Edit::Insert(at, g) => {
            let at = at % (n + 1);
            // Not between two lines of the same data block.
            if at > 0 && at < n && lines[at - 1].secret && lines[at].secret {
                return;
            }
            lines.insert(
                at,
                Line {
                    text: g.clone(),
                    secret: false,
                },
            );
        }
        Edit::Poke(at, col, c) => {
            let l = &mut lines[at % n];
            if l.secret {
                return;
            }
            let mut chars: Vec<char> = l.text.chars().collect();
            if chars.is_empty() {
                chars.push(*c);
            } else {
                let i = col % chars.len();
                chars[i] = *c;
            }
            l.text = chars.into_iter().collect();
        }
        Edit::Duplicate(at) => {
            let at = at % n;
            if !lines[at].secret {
                let copy = lines[at].clone();
                lines.insert(at, copy);
            }
        }
        Edit::Delete(at) => {
            if !lines[at % n].secret {
                lines.remove(at % n);
            }
        }
        Edit::Filler(g) => {
            if let Some(l) = lines
                .iter_mut()
                .find(|l| l.text.trim_start().starts_with("filler:"))
            {
                let indent = l.text.len() - l.text.trim_start().len();
                l.text = format!("{}filler: {g}", " ".repeat(indent));
            }
        }
        Edit::Indent(at, k) => {
            let l = &mut lines[at % n];
            if !l.secret {
                l.text = format!("{}{}", " ".repeat(*k), l.text.trim_start());
            }
        }
    }
}

fn join(lines: &[Line]) -> String {
    let mut s: String = lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    s.push('\n');
    s
}

/// A multi-document YAML file: some documents (mutated), a Secret in the given style, more
/// documents; then text edits.
fn yaml_case() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(
            (
                0usize..6,
                proptest::collection::vec((any::<usize>(), odd_value()), 0..3),
            ),
            1..4,
        ),
        any::<u8>(),
        any::<usize>(),
        proptest::collection::vec(edit(), 0..6),
    )
        .prop_map(|(docs, style, secret_at, edits)| {
            let base = base_documents();
            let mut lines: Vec<Line> = Vec::new();
            let secret_at = secret_at % (docs.len() + 1);
            for (i, (which, muts)) in docs.iter().enumerate() {
                if i == secret_at {
                    lines.extend(secret_yaml(style));
                    lines.push(Line {
                        text: "---".into(),
                        secret: false,
                    });
                }
                let doc = mutate(base[*which].clone(), muts);
                emit(&doc, 0, false, &mut lines);
                lines.push(Line {
                    text: "---".into(),
                    secret: false,
                });
            }
            if secret_at == docs.len() {
                lines.extend(secret_yaml(style));
            }
            for e in &edits {
                apply(&mut lines, e);
            }
            join(&lines)
        })
}

/// A JSON file (one object, a bare array, or several concatenated), mutated as values, then
/// maybe truncated or poked.
fn json_case() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(
            (
                0usize..6,
                proptest::collection::vec((any::<usize>(), odd_value()), 0..3),
            ),
            1..4,
        ),
        0u8..3,
        any::<usize>(),
        proptest::option::of((
            any::<usize>(),
            proptest::sample::select(vec!['{', '}', '"', ',', ':', '\\', 'x']),
        )),
    )
        .prop_map(|(docs, shape, cut, poke)| {
            let base = base_documents();
            let values: Vec<Value> = docs
                .iter()
                .map(|(which, muts)| mutate(base[*which].clone(), muts))
                .collect();
            let mut text = match shape {
                0 => Value::Array(values).to_string(),
                1 => serde_json::to_string_pretty(&values[0]).unwrap_or_default(),
                _ => values
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            if let Some((at, c)) = poke {
                let mut chars: Vec<char> = text.chars().collect();
                let i = at % chars.len().max(1);
                if i < chars.len() {
                    chars[i] = c;
                }
                text = chars.into_iter().collect();
            }
            if cut % 3 == 0 {
                let mut end = cut % (text.len() + 1);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random text, YAML or JSON by its first character.
    #[test]
    fn random_text(text in "\\PC{0,300}|[\\[\\]{}:,\"'\\-#&*!|> \n\ta-z0-9]{0,300}") {
        check(&text, Path::new(FILE))?;
    }

    /// Mutated multi-document YAML with a Secret: no panic, the password never in an error.
    #[test]
    fn mutated_yaml(text in yaml_case()) {
        check(&text, Path::new(FILE))?;
    }

    /// Mutated JSON documents.
    #[test]
    fn mutated_json(text in json_case()) {
        check(&text, Path::new("dir/manifests.json"))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Raw bytes in a file, through `Manifests::load` (invalid UTF-8 included).
    #[test]
    fn random_bytes_in_a_file(bytes in proptest::collection::vec(any::<u8>(), 0..400), json in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if json { "m.json" } else { "m.yaml" });
        std::fs::write(&path, &bytes).unwrap();
        let shown = path.display().to_string();
        if let Err(e) = Manifests::load(std::slice::from_ref(&path)) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with(&shown), "{}", msg);
        }
    }
}

/// Large inputs (MBs), explicitly: bounded time, bounded error, no stack overflow.
#[test]
fn large_inputs_stay_bounded() {
    let start = std::time::Instant::now();
    let deep = 200_000;
    let cases: Vec<(&str, String)> = vec![
        ("deep JSON arrays", "[".repeat(deep)),
        ("deep JSON objects", "{\"a\":".repeat(deep)),
        (
            "deep YAML flow",
            format!("kind: Pod\nspec: {}", "[".repeat(deep)),
        ),
        (
            "deep YAML blocks",
            (0..1_500)
                .map(|i| format!("{}k{i}:", " ".repeat(i)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            "a 4 MB image name",
            format!(
                "kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: a, image: \"{}\"}}]\n",
                " ".repeat(4 << 20)
            ),
        ),
        (
            "a 4 MB scalar before a syntax error in a Secret",
            format!(
                "kind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: {MARKER}{}\n  x: [\n",
                "y".repeat(4 << 20)
            ),
        ),
        (
            "1 MB of one line",
            format!("a: {}\n]", "b ".repeat(1 << 19)),
        ),
        (
            "many documents",
            "kind: ServiceAccount\nmetadata: {name: a}\n---\n".repeat(20_000),
        ),
        (
            "a huge number",
            format!("kind: Pod\nmetadata: {{name: {}}}\n", "9".repeat(1 << 20)),
        ),
    ];
    for (what, text) in cases {
        let mut m = Manifests::default();
        if let Err(e) = m.add_text(Path::new(FILE), &text) {
            let msg = e.to_string();
            assert!(msg.starts_with(FILE), "{what}: {msg}");
            assert!(!msg.contains(MARKER), "{what}: password in error");
            // A syntax error shows five lines of at most 120 characters; a field error may
            // quote the value it refuses (the image string here), never more than the input.
            let bound = if msg.contains(": not valid ") {
                8192
            } else {
                8192 + 2 * text.len()
            };
            assert!(
                msg.len() <= bound,
                "{what}: error of {} bytes: {}",
                msg.len(),
                msg.chars().take(300).collect::<String>()
            );
        }
    }
    // Generous for a loaded 2-core machine in debug; it takes a few seconds.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(45),
        "{:?}",
        start.elapsed()
    );
}

/// Found by `large_inputs_stay_bounded`: the YAML parser quotes the scalar it refuses
/// (``non-finite float `…` ``), unbounded and outside the redacted excerpt; a Secret's
/// password that YAML reads as an infinite number was printed.
#[test]
fn a_password_quoted_by_the_parser_is_redacted() {
    let long = "9".repeat(400);
    for (value, eol) in [
        ("1e99999", "\n"),
        (".inf", "\n"),
        (long.as_str(), "\n"),
        ("1e99999", "\r\n"),
        ("1e99999", "\r"),
    ] {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: {value}\n"
        )
        .replace('\n', eol);
        let mut m = Manifests::default();
        let msg = m
            .add_text(Path::new(FILE), &text)
            .expect_err("a non-finite number is refused")
            .to_string();
        assert!(!msg.contains(value), "{msg}");
        assert!(msg.contains("<redacted>"), "{msg}");
    }
}
