//! Issue 11, item 9 at the CLI: terminal injection. Pod, namespace, container, image and pull
//! secret names holding ESC, CR and BEL (YAML `\e`, `\r`, `\a` escapes), raw control bytes in a
//! malformed manifest (shown in the error's source excerpt), and a file name with them: `pod run`,
//! `pod explain`, `pull` and `creds check` never write a raw control character (other than the
//! newline) to stdout or stderr; user strings are escaped as Go's `%q` escapes them (`\x1b`,
//! `\r`, `\a`), as the event messages already are.

mod pod_common;

use pod_common::{Node, Out};

/// Every control character written raw, other than the newline that ends a line.
fn raw_controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| (c.is_control() && *c != '\n') || *c == '\u{7f}')
        .collect()
}

fn assert_clean(what: &str, out: &Out) {
    assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let raw = raw_controls(text);
        assert!(
            raw.is_empty(),
            "{what}: raw {raw:?} on {stream}:\n{}",
            text.escape_debug()
        );
    }
}

const HOSTILE_POD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: "we\e[31mb\r\a", namespace: "n\e[0ms"}
spec:
  imagePullSecrets: [{name: "sec\e[31m\r"}]
  initContainers:
  - {name: "in\eit", image: "busybox\r"}
  containers:
  - {name: "ap\e]0;title\ap\r", image: "nginx:\e[2J\rv1\a", imagePullPolicy: Never}
  - {name: "c2", image: "r.example/a\e[1m:\av1", imagePullPolicy: IfNotPresent}
  - {name: "c3", image: "r.example/team/app:v1", imagePullPolicy: IfNotPresent}
"#;

#[test]
fn control_characters_in_names_are_escaped_in_pod_run_and_pod_explain() {
    let node = Node::new();
    let pod = node.write("pod.yaml", HOSTILE_POD).display().to_string();
    for args in [
        vec!["pod", "run", "--offline", &pod],
        vec!["pod", "run", "--offline", "-o", "json", &pod],
        vec!["pod", "explain", &pod],
        vec!["pod", "explain", "-o", "json", &pod],
    ] {
        let out = node.pullsim(&args);
        assert_clean(&format!("{args:?}"), &out);
        assert!(out.code == 0 || out.code == 1, "{args:?}: {}", out.stderr);
        if !args.contains(&"json") {
            // Escaped as %q escapes them, not dropped.
            for shown in [
                r"we\x1b[31mb\r\a",
                r"nginx:\x1b[2J\rv1\a",
                r"ap\x1b]0;title\ap\r",
            ] {
                assert!(
                    out.stdout.contains(shown),
                    "{args:?}: {shown} in\n{}",
                    out.stdout
                );
            }
        }
    }
}

/// Regression: `pod explain` printed the names of missing pull secrets (and the pod) raw in its
/// "Unable to retrieve some image pull secrets" warning.
#[test]
fn pod_explain_missing_secret_warning_escapes_control_characters() {
    let node = Node::new();
    let pod = node.write("pod.yaml", HOSTILE_POD).display().to_string();
    let out = node.pullsim(&["pod", "explain", &pod]);
    assert_clean("pod explain", &out);
    assert!(
        out.stderr
            .contains(r"Unable to retrieve some image pull secrets (sec\x1b[31m\r)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(r"n\x1b[0ms/we\x1b[31mb\r\a"),
        "{}",
        out.stderr
    );
}

/// Regression: a manifest syntax error printed the offending source lines raw, control bytes
/// included (YAML refuses raw ESC, so the excerpt is exactly where they show up), and an error
/// naming a file printed its name raw.
#[test]
fn error_excerpts_and_file_names_escape_control_characters() {
    let node = Node::new();
    let raw_yaml = node.write(
        "raw.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"p\u{1b}[31mq\u{7}\"}\nspec:\n  containers: [{name: c, image: \"nginx:v1\r\"}]\n",
    );
    let raw_json = node.write(
        "raw.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\u{1b}[31m\"},\"spec\":{}}\n",
    );
    let evil_name = node.write("evil\u{1b}[31m\r.yaml", "kind: Pod\nmetadata: {name: [}\n");
    let good = node.write(
        "good.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx:v1}]\n",
    );
    let p = |x: &std::path::PathBuf| x.display().to_string();
    for file in [&raw_yaml, &raw_json, &evil_name] {
        for args in [
            vec!["pod", "run", "--offline", &p(file)],
            vec!["pod", "explain", &p(file)],
            vec!["pod", "run", "--offline", "--secret", &p(file), &p(&good)],
            vec!["pull", "--offline", "--secret", &p(file), "nginx:v1"],
            vec![
                "creds",
                "check",
                "--offline",
                "--secret",
                &p(file),
                "nginx:v1",
            ],
        ] {
            let out = node.pullsim(&args);
            assert_clean(&format!("{args:?}"), &out);
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        }
    }
    let out = node.pullsim(&["pod", "run", "--offline", &p(&evil_name)]);
    assert!(
        out.stderr.contains(r"evil\x1b[31m\r.yaml"),
        "{}",
        out.stderr
    );
    let out = node.pullsim(&["pod", "explain", &p(&raw_yaml)]);
    assert!(out.stderr.contains(r"p\x1b[31mq\a"), "{}", out.stderr);
}

/// Regression: `creds check` printed its `image:` line raw.
#[test]
fn control_characters_in_the_image_argument_are_escaped_in_pull_and_creds_check() {
    let node = Node::new();
    for image in [
        "nginx:\u{1b}[2J\rv1\u{7}",
        "r.example/a/b\u{1b}[1m",
        "\r\u{1b}c",
    ] {
        for args in [
            vec!["pull", "--offline", image],
            vec!["pull", "--offline", "--policy", "Never", image],
            vec!["pull", "--offline", "-o", "json", image],
            vec!["creds", "check", "--offline", image],
            vec!["creds", "check", "--offline", "-o", "json", image],
        ] {
            let out = node.pullsim(&args);
            assert_clean(&format!("{args:?}"), &out);
            // InvalidImageName is a "no" (README "Exit codes").
            assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        }
    }
}

/// Regression: `secret lint` printed its error line, its findings and its `ok` line with the file
/// name raw, and `secret decode` the file, namespace, name, key and (with --show-secrets)
/// password raw.
#[test]
fn secret_lint_and_decode_escape_control_characters() {
    let node = Node::new();
    let cfg = r#"{"auths":{"r.example\u001b[1m":{"username":"u","password":"p\u001b[2J"},"r2.example":{"auth":"bm9jb2xvbg=="}}}"#;
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: \"s\\e[31m\", namespace: \"n\\r\"}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        pod_common::base64(cfg.as_bytes())
    );
    let faulty = node
        .write("sec\u{1b}[31m.yaml", &text)
        .display()
        .to_string();
    // The same without the faulty entry, for decode.
    let text = text.replace(
        &pod_common::base64(cfg.as_bytes()),
        &pod_common::base64(
            cfg.replace(r#","r2.example":{"auth":"bm9jb2xvbg=="}"#, "")
                .as_bytes(),
        ),
    );
    let secret = node
        .write("dec\u{1b}[31m.yaml", &text)
        .display()
        .to_string();
    let broken = node
        .write(
            "broken\u{1b}[31m\r.yaml",
            "kind: Secret\nmetadata: {name: [}\n",
        )
        .display()
        .to_string();
    let clean = node
        .write(
            "clean\u{7}.json",
            r#"{"auths":{"r.example":{"username":"u","password":"p"}}}"#,
        )
        .display()
        .to_string();
    for (args, code) in [
        (vec!["secret", "lint", &faulty], 1),
        (vec!["secret", "lint", &broken], 2),
        (vec!["secret", "lint", &clean], 0),
        (vec!["secret", "decode", &secret], 0),
        (vec!["secret", "decode", "--show-secrets", &secret], 0),
        (vec!["secret", "decode", &broken], 2),
    ] {
        let out = node.pullsim(&args);
        assert_clean(&format!("{args:?}"), &out);
        assert_eq!(out.code, code, "{args:?}: {}{}", out.stdout, out.stderr);
    }
    let out = node.pullsim(&["secret", "decode", "--show-secrets", &secret]);
    assert!(
        out.stdout.contains(r"secret n\r/s\x1b[31m"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(r"password p\x1b[2J"), "{}", out.stdout);
    let out = node.pullsim(&["secret", "lint", &clean]);
    assert!(out.stdout.contains(r"clean\a.json: ok"), "{}", out.stdout);
}
