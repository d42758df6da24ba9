//! Hostile and oversized manifests (issue 11): a syntax error near a Secret never shows its
//! credentials (the excerpt is redacted, line and column kept), large real dumps are accepted,
//! and YAML bombs are still refused in bounded time.

use std::path::PathBuf;

use pullsim_node::Manifests;

const MARKER: &str = "MARKER-PASSWORD-7f3e";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "m.yaml", text);
    match Manifests::load(&[p]) {
        Ok(_) => panic!("expected a syntax error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn yaml_syntax_error_near_secret_never_shows_the_password() {
    let b64 = "eyJhdXRocyI6eyJyIjp7InBhc3N3b3JkIjoiTUFSS0VSLVBBU1NXT1JELTdmM2UifX19";
    let cases = [
        // stringData with the config inline, the error on the next line of the block.
        format!(
            "kind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{{\"auths\":{{\"r\":{{\"password\":\"{MARKER}\"}}}}}}'\n  x: [unclosed\n"
        ),
        // data (base64) followed by a broken line.
        format!("kind: Secret\ndata:\n  .dockerconfigjson: {b64}{MARKER}\n  bad: \"unterminated\n"),
        // a block scalar under stringData.
        format!(
            "kind: Secret\nstringData:\n  .dockerconfigjson: |\n    {{\"auths\": {{\"r\": {{\"auth\": \"{MARKER}\"}}}}}}\n  y: {{unclosed\n"
        ),
        // a password key outside any data block (a ConfigMap-like mistake), error right after.
        format!("kind: Pod\nmetadata:\n  password: {MARKER}\n  z: ]\n"),
        // an identity token in flow style.
        format!("kind: Secret\nstringData: {{identitytoken: {MARKER}}}\nw: [\n"),
    ];
    for text in cases {
        let err = load_error(&text);
        assert!(!err.contains(MARKER), "password in error:\n{err}");
        assert!(
            !err.contains("TUFSS0VS"),
            "base64 of the password in error:\n{err}"
        );
        assert!(
            err.contains("<redacted>"),
            "excerpt kept (redacted):\n{err}"
        );
        assert!(err.contains("m.yaml:"), "names the file:\n{err}");
    }
}

#[test]
fn three_thousand_documents_are_accepted() {
    let docs: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers: [{{name: a, image: nginx:1.25}}]\n"
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "many.yaml", &docs.join("---\n"));
    let m = Manifests::load(&[p]).unwrap();
    assert_eq!(m.pods.len(), 3000);
}

#[test]
fn billion_laughs_is_still_refused() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, prev) in ('b'..='j').zip('a'..='i') {
        text.push_str(&format!(
            "{i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let start = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "laughs.yaml", &text);
    assert!(Manifests::load(&[p]).is_err());
    // Bounded: refused by the alias budget, not by running out of memory (generous bound for a
    // loaded 2-core machine; it takes milliseconds).
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

/// Terminal injection (issue 11 item 9): an image, container or pod name with ESC and CR is
/// printed escaped in the describe text, as the event messages escape it.
#[test]
fn terminal_injection_in_names_is_escaped_in_describe() {
    use pullsim_node::describe::describe_pod;
    use pullsim_node::sync::PodRun;
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "evil.json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p\u001b[2J","namespace":"default"},
            "spec":{"containers":[{"name":"c\r","image":"evil\u001b]0;owned\u0007:1\rnginx"}]}}"#,
    );
    let m = Manifests::load(&[p]).unwrap();
    let pods = pullsim_node::pods::build_pods(
        &m,
        &pullsim_node::pods::SecretSet::default(),
        &pullsim_credentials::Keyring::new(),
    );
    let pod: &PodRun = &pods[0];
    let text = describe_pod(pod, &[], std::time::Duration::ZERO);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains(r"evil\x1b]0;owned\a:1\rnginx"), "{text}");
    assert!(text.contains(r"p\x1b[2J"), "{text}");
}
