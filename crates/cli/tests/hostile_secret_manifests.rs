//! Issue 11, item 2 at the CLI: malformed manifests holding a Secret whose password is a unique
//! marker (in `stringData`, `data`, `.dockerconfigjson`, `auth`, `identitytoken`; plain and
//! base64), with the syntax error in several positions (on the secret's lines, before them, after
//! them, in the next document, in a List, with CRLF line ends, in JSON). `pod run`, `pod explain`,
//! and `--secret FILE` of `pod run`, `pull` and `creds check`, in text and JSON: the marker and its
//! base64 forms never appear on stdout or stderr, the exit code is 2 (invalid input), and the
//! error names the file and, for a syntax error, its line.

mod pod_common;

use pod_common::{Node, base64};

const MARKER: &str = "PULLSIM-HOSTILE-MARKER-PW-c41d";

/// The strings that must never be printed.
fn forbidden() -> Vec<String> {
    vec![
        MARKER.to_string(),
        base64(MARKER.as_bytes()),
        base64(format!("u:{MARKER}").as_bytes()),
        base64(config_json().as_bytes()),
    ]
}

fn config_json() -> String {
    format!(
        r#"{{"auths":{{"r.example":{{"username":"u","password":"{MARKER}","auth":"{}"}}}}}}"#,
        base64(format!("u:{MARKER}").as_bytes())
    )
}

/// (file name, text, line of the syntax error or None for a semantic error).
fn cases() -> Vec<(&'static str, String, Option<u32>)> {
    let m = MARKER;
    let b = base64(MARKER.as_bytes());
    let auth = base64(format!("u:{m}").as_bytes());
    let cfg = config_json();
    let cfg_b64 = base64(cfg.as_bytes());
    vec![
        (
            "string-data-next-line.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {m}\n  token: [unclosed\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: c, image: nginx}}]\n"
            ),
            Some(7),
        ),
        (
            "data-bad-indent.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: {b}\n bad: indent\n"
            ),
            Some(7),
        ),
        (
            "same-line.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{password: {m}, auth: {auth}, x: [}}\n"
            ),
            Some(4),
        ),
        (
            "dockerconfigjson-quoted.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{cfg}'\n  other: \"unterminated\n"
            ),
            Some(7),
        ),
        (
            "error-before.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: {{a: [}}\nstringData:\n  password: {m}\ndata:\n  x: {b}\n"
            ),
            Some(5),
        ),
        (
            "data-before-kind.yaml",
            format!(
                "apiVersion: v1\ndata:\n  .dockerconfigjson: {cfg_b64}\n  password: |\n    {m}\n    {b}\nkind: Secret\nmetadata: {{name: s, : : x}}\n"
            ),
            Some(8),
        ),
        (
            "next-document.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {cfg_b64}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p\nspec: {{}}\n"
            ),
            Some(11),
        ),
        (
            "block-json.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: |\n    {{\"auths\": {{\"r\": {{\n      \"username\": \"u\",\n      \"password\": \"{m}\",\n      \"auth\": \"{auth}\"\n    }}}}}}\n  x: [\n"
            ),
            Some(12),
        ),
        (
            "list.yaml",
            format!(
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: s}}\n  stringData: {{password: {m}, auth: {b}}}\n- {{kind: Pod, metadata: {{name: p}}, spec: {{containers: [}}\n"
            ),
            Some(8),
        ),
        (
            "crlf.yaml",
            format!(
                "apiVersion: v1\r\nkind: Secret\r\nmetadata: {{name: s}}\r\nstringData:\r\n  password: {m}\r\n  x: [\r\n"
            ),
            Some(6),
        ),
        (
            "multi-line-quoted.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: \"{m}\n    continued {m}\"\n  token: '{m}\n  '\n : bad\n"
            ),
            Some(9),
        ),
        (
            "identitytoken.yaml",
            format!(
                "kind: Secret\napiVersion: v1\nmetadata: {{name: s}}\nstringData:\n  identitytoken: {m}\n  password:\n    {m}\n  x: {{\n"
            ),
            Some(8),
        ),
        (
            "pod-annotations.yaml",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    auth: {auth}\n    password: {m}\nspec:\n  containers: [{{name: c, image: nginx}}\n"
            ),
            Some(9),
        ),
        (
            "trailing-comma.json",
            format!(
                "{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{{\"name\":\"s\"}},\"type\":\"kubernetes.io/dockerconfigjson\",\n\"stringData\":{{\".dockerconfigjson\":{}}},\n\"data\": {{\"x\": \"{b}\",}}\n}}\n",
                serde_json::to_string(&cfg).unwrap()
            ),
            Some(3),
        ),
        (
            "eof.json",
            format!(
                "{{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{{\"name\":\"s\"}},\n \"stringData\":{{\"password\":\"{m}\"}},\n \"data\":{{\"auth\":\"{b}\"}}\n"
            ),
            Some(4),
        ),
        // Valid YAML, invalid Secret: the value is not base64, not JSON, not a string.
        (
            "not-base64.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: \"{m}\"}}\n"
            ),
            None,
        ),
        (
            "not-json.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{{\"auths\":{{\"r\":{{\"username\":\"u\",\"password\":\"{m}\",}}}}}}'\n"
            ),
            None,
        ),
        (
            "password-array.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{{\"auths\":{{\"r\":{{\"username\":\"u\",\"password\":[\"{m}\"]}}}}}}'\n"
            ),
            None,
        ),
        (
            "auth-not-base64.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{{\"auths\":{{\"r\":{{\"auth\":\"{m}!\"}}}}}}'\n"
            ),
            None,
        ),
    ]
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c, image: \"r.example/team/app:v1\"}]\n";

/// Whether `text` says `line N` (not `line N0`).
fn names_line(text: &str, line: u32) -> bool {
    let needle = format!("line {line}");
    text.match_indices(&needle).any(|(i, _)| {
        !text[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn marker_password_never_printed_from_malformed_manifests() {
    let node = Node::new();
    let pod = node.write("pod.yaml", POD).display().to_string();
    let forbidden = forbidden();
    let mut problems = Vec::new();
    let mut runs = 0;
    for (name, text, line) in cases() {
        let file = node.write(name, &text).display().to_string();
        assert!(
            text.contains(MARKER) || text.contains(&forbidden[1]) || text.contains(&forbidden[3])
        );
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut commands = Vec::new();
        for o in ["text", "json"] {
            commands.push(v(&["pod", "run", "--offline", "-o", o, &file]));
            commands.push(v(&["pod", "explain", "-o", o, &file]));
            commands.push(v(&[
                "pod",
                "run",
                "--offline",
                "-o",
                o,
                "--secret",
                &file,
                &pod,
            ]));
            commands.push(v(&["pod", "explain", "-o", o, "--secret", &file, &pod]));
            commands.push(v(&[
                "pull",
                "--offline",
                "-o",
                o,
                "--secret",
                &file,
                "r.example/team/app:v1",
            ]));
            commands.push(v(&[
                "creds",
                "check",
                "--offline",
                "-o",
                o,
                "--secret",
                &file,
                "r.example/team/app:v1",
            ]));
        }
        for args in commands {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = node.pullsim(&argv);
            runs += 1;
            let all = format!("{}{}", out.stdout, out.stderr);
            for f in &forbidden {
                if all.contains(f.as_str()) {
                    problems.push(format!("{name}: {args:?} printed {f:?}:\n{all}"));
                }
            }
            if out.code != 2 {
                problems.push(format!(
                    "{name}: {args:?}: exit {}, not 2:\n{all}",
                    out.code
                ));
            }
            assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
            if !out.stderr.contains(name) {
                problems.push(format!(
                    "{name}: {args:?}: the error does not name the file:\n{}",
                    out.stderr
                ));
            }
            if let Some(n) = line
                && !names_line(&out.stderr, n)
            {
                problems.push(format!(
                    "{name}: {args:?}: the error does not name line {n}:\n{}",
                    out.stderr
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {runs} runs:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// Control: the check sees the marker when a command does print it.
#[test]
fn control_the_marker_is_visible_when_printed() {
    let node = Node::new();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        base64(config_json().as_bytes())
    );
    let file = node.write("valid.yaml", &text).display().to_string();
    let out = node.pullsim(&["secret", "decode", "--show-secrets", &file]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(MARKER), "{}", out.stdout);
    // And the valid secret passes through pod run without printing it.
    let pod = node.write("pod.yaml", POD).display().to_string();
    let out = node.pullsim(&["pod", "run", "--offline", "--secret", &file, &pod]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for f in forbidden() {
        assert!(!out.stdout.contains(&f) && !out.stderr.contains(&f));
    }
}
