//! The fake API server's answers, in the API's shapes.

use serde_json::{Value, json};

use super::FakeApiServer;

const TOKEN: &str = "t0k";

fn call(
    s: &FakeApiServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: &str,
) -> (u16, String) {
    let ca = reqwest::Certificate::from_pem(s.ca_pem().as_bytes()).unwrap();
    let c = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let url = format!("{}{path}", s.url());
    let mut r = match method {
        "POST" => c.post(url),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    };
    r = r.bearer_auth(token);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn get(s: &FakeApiServer, path: &str) -> (u16, Value) {
    let (code, text) = call(s, "GET", path, None, TOKEN);
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn discovery_objects_and_status_errors() {
    let s = FakeApiServer::start(TOKEN).unwrap();
    s.add_object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c", "namespace": "n"}, "type": "Opaque"}))
        .unwrap();
    let (code, d) = get(&s, "/apis/apps/v1");
    assert_eq!(code, 200);
    assert_eq!(d["kind"], "APIResourceList");
    assert!(
        d["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "daemonsets" && r["namespaced"] == true)
    );
    let (code, o) = get(&s, "/api/v1/namespaces/n/secrets/c");
    assert_eq!((code, o["metadata"]["name"].clone()), (200, json!("c")));
    let (code, st) = get(&s, "/apis/apps/v1/namespaces/n/deployments/web");
    assert_eq!(code, 404);
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["reason"], "NotFound");
    assert_eq!(st["message"], "deployments.apps \"web\" not found");
    s.forbid_secrets(true);
    let (code, st) = get(&s, "/api/v1/namespaces/n/secrets/c");
    assert_eq!(code, 403);
    assert_eq!(
        st["message"],
        "secrets \"c\" is forbidden: User \"tester\" cannot get resource \"secrets\" in API group \"\" in the namespace \"n\""
    );
    let (code, _) = call(&s, "GET", "/api/v1/namespaces/n/secrets/c", None, "wrong");
    assert_eq!(code, 401);
    let reqs = s.requests();
    assert!(reqs[0].authorized && !reqs.last().unwrap().authorized);
}

#[test]
fn token_requests_daemonset_pods_logs_and_cascading_deletes() {
    let s = FakeApiServer::start(TOKEN).unwrap();
    s.add_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "n"}}))
        .unwrap();
    let (code, t) = call(
        &s,
        "POST",
        "/api/v1/namespaces/n/serviceaccounts/app/token",
        Some(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": ["reg.example"]}}),
        ),
        TOKEN,
    );
    assert_eq!(code, 201);
    let t: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(t["status"]["token"], "fake-sa-token:n:app:reg.example");
    s.set_nodes(&[("n1", "hello\n")]);
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"initContainers": [{"name": "ic", "image": "i"}], "containers": [{"name": "c", "image": "p"}]}}}});
    let (code, _) = call(
        &s,
        "POST",
        "/apis/apps/v1/namespaces/n/daemonsets",
        Some(ds.clone()),
        TOKEN,
    );
    assert_eq!(code, 201);
    let (code, _) = call(
        &s,
        "POST",
        "/apis/apps/v1/namespaces/n/daemonsets",
        Some(ds),
        TOKEN,
    );
    assert_eq!(code, 409);
    let (_, pods) = get(&s, "/api/v1/namespaces/n/pods?labelSelector=a%3Db");
    assert_eq!(pods["kind"], "PodList");
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["spec"]["nodeName"], "n1");
    let name = items[0]["metadata"]["name"].as_str().unwrap().to_string();
    let (code, log) = call(
        &s,
        "GET",
        &format!("/api/v1/namespaces/n/pods/{name}/log?container=ic"),
        None,
        TOKEN,
    );
    assert_eq!((code, log.as_str()), (200, "hello\n"));
    let (_, none) = get(&s, "/api/v1/namespaces/n/pods?labelSelector=a%3Dc");
    assert!(none["items"].as_array().unwrap().is_empty());
    let (code, _) = call(
        &s,
        "DELETE",
        "/apis/apps/v1/namespaces/n/daemonsets/d",
        None,
        TOKEN,
    );
    assert_eq!(code, 200);
    assert!(
        s.object(&format!("/api/v1/namespaces/n/pods/{name}"))
            .is_none(),
        "the pods go with it"
    );
}
