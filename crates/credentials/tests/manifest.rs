//! Reading pull secrets: formats, documents, List, data/stringData, and errors that name the
//! file, the document and the field.

use std::path::Path;

use pullsim_credentials::{CredentialsError, SecretFormat, parse_pull_secrets};

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

const CFG: &str = r#"{"auths":{"r.io":{"username":"u","password":"p"}}}"#;

#[test]
fn formats_and_documents() {
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: ns\n  uid: u-1\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ntype: kubernetes.io/dockercfg\nstringData:\n  .dockercfg: '{{\"q.io\":{{\"auth\":\"{}\"}}}}'\n",
        b64(CFG),
        b64("qu:qp")
    );
    let s = parse_pull_secrets(&yaml, Path::new("m.yaml")).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (
            s[0].namespace.as_str(),
            s[0].name.as_str(),
            s[0].uid.as_deref()
        ),
        ("ns", "a", Some("u-1"))
    );
    assert_eq!(s[0].format, SecretFormat::DockerConfigJson);
    assert_eq!(s[0].document, Some(2));
    assert_eq!(s[1].namespace, "default");
    assert_eq!(s[1].format, SecretFormat::Dockercfg);
    // Empty documents are not counted (serde-saphyr yields only non-empty ones).
    assert_eq!(s[1].document, Some(3));
    assert_eq!(s[1].entries[0].1.username, "qu");

    // stringData wins over data for the same key, as the API server merges them.
    let y = format!(
        "kind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\nstringData:\n  .dockerconfigjson: '{{\"auths\":{{\"w.io\":{{}}}}}}'\n",
        b64(CFG)
    );
    let s = parse_pull_secrets(&y, Path::new("m.yaml")).unwrap();
    assert_eq!(s[0].entries[0].0, "w.io");

    // Bare files.
    let s = parse_pull_secrets(CFG, Path::new("/x/config.json")).unwrap();
    assert_eq!(
        (s[0].format, s[0].name.as_str()),
        (SecretFormat::BareConfigJson, "config.json")
    );
    let s = parse_pull_secrets(r#"{"r.io":{"auth":"dTpw"}}"#, Path::new(".dockercfg")).unwrap();
    assert_eq!(s[0].format, SecretFormat::BareDockercfg);
    assert_eq!(s[0].entries[0].1.password.expose(), "p");

    // Missing or empty key: the kubelet uses nothing, no error.
    let y = "kind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\ndata: {}\n";
    assert!(
        parse_pull_secrets(y, Path::new("m.yaml")).unwrap()[0]
            .entries
            .is_empty()
    );
}

fn err(text: &str) -> String {
    parse_pull_secrets(text, Path::new("bad.yaml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_file_document_and_field() {
    let e = err(
        "kind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: '%%%'\n",
    );
    assert_eq!(
        e,
        "bad.yaml: field data[\".dockerconfigjson\"]: not valid base64: illegal base64 data at input byte 0"
    );
    let doc2 = format!(
        "kind: ConfigMap\n---\nkind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        b64(r#"{"auths":{"r.io":{"auth":"Zm9vYmFy"}}}"#)
    );
    assert_eq!(
        err(&doc2),
        "bad.yaml (document 2): field data[\".dockerconfigjson\"].auths[\"r.io\"].auth: unable to parse auth field, must be formatted as base64(username:password)"
    );
    let e = err(&format!(
        "kind: Secret\nmetadata: {{name: s}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        b64("{not json")
    ));
    assert!(e.starts_with("bad.yaml: field data[\".dockerconfigjson\"]: invalid JSON: syntax error at line 1 column 2"), "{e}");
    let e = err("kind: Secret\nmetadata: {name: s}\ntype: Opaque\n");
    assert!(e.contains("field type") && e.contains("\"Opaque\""), "{e}");
    assert!(matches!(
        parse_pull_secrets("kind: Secret\ntype: Opaque\n", Path::new("x")).unwrap_err(),
        CredentialsError::UnsupportedSecretType { .. }
    ));
    let e = err("a: [b\n");
    assert!(e.starts_with("bad.yaml: invalid YAML: syntax error"), "{e}");
    let e = err("{\"kind\": ");
    assert!(e.starts_with("bad.yaml: invalid JSON:"), "{e}");
    let e = err(
        "kind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockercfg\nstringData:\n  .dockercfg: '{\"r.io\": 5}'\n",
    );
    assert!(e.contains("field data[\".dockercfg\"][\"r.io\"]"), "{e}");
}

#[test]
fn list_items() {
    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{{"kind":"Secret","metadata":{{"name":"a"}},"type":"kubernetes.io/dockerconfigjson","data":{{".dockerconfigjson":"{}"}}}},{{"kind":"Secret","metadata":{{"name":"b"}},"type":"kubernetes.io/dockerconfigjson","data":{{".dockerconfigjson":"%"}}}}]}}"#,
        b64(CFG)
    );
    let e = parse_pull_secrets(&list, Path::new("l.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("l.json: field items[1].data[\".dockerconfigjson\"]"),
        "{e}"
    );
}
