//! The fake API server's request handling: discovery, get/list/create/delete of objects, pod
//! logs, the DaemonSet controller, RBAC 403 on secrets, and the request log.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::discovery::{self, Resource, qualified, status};
use super::state::{ApiRequest, State};

type Shared = Arc<Mutex<State>>;

pub(crate) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn json_response(code: u16, body: &Value) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn status_response(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    json_response(code, &status(code, reason, message, details))
}

/// The API path of an object: `/api/v1/namespaces/NS/pods/NAME`, `/api/v1/namespaces/NAME`.
pub(crate) fn object_path(object: &Value) -> Option<String> {
    let kind = object.get("kind")?.as_str()?;
    let r = discovery::by_kind(kind)?;
    let name = object.pointer("/metadata/name")?.as_str()?;
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    Some(path_of(r, ns, name))
}

fn prefix(r: &Resource) -> String {
    if r.group.is_empty() {
        "/api/v1".into()
    } else {
        format!("/apis/{}/v1", r.group)
    }
}

fn path_of(r: &Resource, ns: &str, name: &str) -> String {
    if r.namespaced {
        format!("{}/namespaces/{ns}/{}/{name}", prefix(r), r.plural)
    } else {
        format!("{}/{}/{name}", prefix(r), r.plural)
    }
}

/// A parsed resource path.
struct Route {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] => (*g, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (Some(ns.to_string()), more),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    let resource = discovery::by_plural(group, plural)?;
    Some(Route {
        resource,
        namespace,
        name,
        sub,
    })
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    AxState(state): AxState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    let authorized = given.as_deref() == Some(format!("Bearer {}", st.token).as_str());
    st.requests.push(ApiRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        body: serde_json::from_slice(&body).ok(),
        authorized,
    });
    if !authorized {
        return status_response(401, "Unauthorized", "Unauthorized", None);
    }
    let path = uri.path().trim_end_matches('/');
    let query = uri.query();
    if method == Method::GET {
        let doc = match path {
            "/version" => Some(discovery::version()),
            "/api" => Some(discovery::core_versions()),
            "/apis" => Some(discovery::group_list()),
            "/api/v1" => discovery::resource_list(""),
            "/apis/apps/v1" => discovery::resource_list("apps"),
            "/apis/batch/v1" => discovery::resource_list("batch"),
            _ => None,
        };
        if let Some(d) = doc {
            return json_response(200, &d);
        }
    }
    let Some(route) = parse_route(path) else {
        return status_response(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    };
    let ns = route.namespace.clone().unwrap_or_default();
    let r = route.resource;
    if r.plural == "secrets" && st.forbid_secrets {
        let what = match &route.name {
            Some(n) => format!("secrets {n:?} is forbidden"),
            None => "secrets is forbidden".into(),
        };
        return status_response(
            403,
            "Forbidden",
            &format!(
                "{what}: User \"tester\" cannot {} resource \"secrets\" in API group \"\" in the namespace \"{ns}\"",
                if route.name.is_some() { "get" } else { "list" }
            ),
            Some(json!({"name": route.name.clone().unwrap_or_default(), "kind": "secrets"})),
        );
    }
    let not_found = |name: &str| {
        status_response(
            404,
            "NotFound",
            &format!("{} {name:?} not found", qualified(r)),
            Some(json!({"name": name, "group": r.group, "kind": r.plural})),
        )
    };
    match (&method, &route.name, &route.sub) {
        (&Method::GET, Some(name), None) => match st.objects.get(&path_of(r, &ns, name)) {
            Some(o) => json_response(200, o),
            None => not_found(name),
        },
        (&Method::GET, Some(name), Some(sub)) if sub == "log" && r.plural == "pods" => {
            if !st.objects.contains_key(&path_of(r, &ns, name)) {
                return not_found(name);
            }
            let container = query_param(query, "container").unwrap_or_default();
            if query_param(query, "previous").as_deref() == Some("true") {
                return status_response(
                    400,
                    "BadRequest",
                    &format!(
                        "previous terminated container {container:?} in pod {name:?} not found"
                    ),
                    None,
                );
            }
            match st.logs.get(&(ns.clone(), name.clone(), container.clone())) {
                Some(text) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain")],
                    text.clone(),
                )
                    .into_response(),
                None => status_response(
                    400,
                    "BadRequest",
                    &format!(
                        "container {container:?} in pod {name:?} is waiting to start: PodInitializing"
                    ),
                    None,
                ),
            }
        }
        (&Method::GET, None, None) => {
            let selector = query_param(query, "labelSelector");
            let items: Vec<Value> = st
                .objects
                .iter()
                .filter(|(p, o)| {
                    p.starts_with(&format!("{}/", prefix(r)))
                        && o.get("kind").and_then(Value::as_str) == Some(r.kind)
                        && (!r.namespaced
                            || route.namespace.is_none()
                            || o.pointer("/metadata/namespace").and_then(Value::as_str)
                                == Some(ns.as_str()))
                        && selector.as_deref().is_none_or(|s| matches_selector(o, s))
                })
                .map(|(_, o)| o.clone())
                .collect();
            st.serial += 1;
            json_response(
                200,
                &json!({
                    "kind": format!("{}List", r.kind),
                    "apiVersion": discovery::api_version(r.group),
                    "metadata": {"resourceVersion": st.serial.to_string()},
                    "items": items,
                }),
            )
        }
        (&Method::POST, None, None) => create(&mut st, r, &ns, query, &body),
        (&Method::POST, Some(name), Some(sub))
            if sub == "token" && r.plural == "serviceaccounts" =>
        {
            if !st.objects.contains_key(&path_of(r, &ns, name)) {
                return not_found(name);
            }
            token_request(&ns, name, &body)
        }
        (&Method::DELETE, Some(name), None) => {
            let p = path_of(r, &ns, name);
            let Some(mut obj) = st.objects.remove(&p) else {
                return not_found(name);
            };
            // What goes with it: the DaemonSet's pods, a namespace's objects.
            if r.kind == "DaemonSet" {
                let owned: Vec<String> = st
                    .objects
                    .iter()
                    .filter(|(_, o)| {
                        o.pointer("/metadata/ownerReferences/0/name")
                            .and_then(Value::as_str)
                            == Some(name.as_str())
                            && o.get("kind").and_then(Value::as_str) == Some("Pod")
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in owned {
                    st.objects.remove(&k);
                }
            }
            if r.kind == "Namespace" {
                let inside = format!("/namespaces/{name}/");
                st.objects.retain(|k, _| !k.contains(&inside));
            }
            obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            json_response(200, &obj)
        }
        _ => status_response(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        ),
    }
}

/// TokenRequest (authentication.k8s.io/v1) on `serviceaccounts/NAME/token`: the request with
/// `status.token` and `status.expirationTimestamp`; the token names the account and audiences
/// (`fake-sa-token:NS:NAME:AUD1,AUD2`) so tests can check which one a plugin got.
fn token_request(ns: &str, name: &str, body: &[u8]) -> Response {
    let Ok(mut req) = serde_json::from_slice::<Value>(body) else {
        return status_response(
            400,
            "BadRequest",
            "the body of the request was in an unknown format",
            None,
        );
    };
    let audiences: Vec<String> = req
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    req["metadata"]["name"] = json!(name);
    req["metadata"]["namespace"] = json!(ns);
    req["status"] = json!({
        "token": format!("fake-sa-token:{ns}:{name}:{}", audiences.join(",")),
        "expirationTimestamp": "2026-01-01T01:00:00Z",
    });
    json_response(201, &req)
}

/// `k=v[,k=v]` equality selectors.
fn matches_selector(o: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        let v = v.trim_start_matches('=');
        o.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            == Some(v)
    })
}

fn create(
    st: &mut State,
    r: &'static Resource,
    ns: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response {
    let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
        return status_response(
            400,
            "BadRequest",
            "the body of the request was in an unknown format",
            None,
        );
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return status_response(
            422,
            "Invalid",
            &format!(
                "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                r.kind
            ),
            None,
        );
    }
    let ns = if r.namespaced {
        ns.to_string()
    } else {
        String::new()
    };
    let p = path_of(r, if ns.is_empty() { "default" } else { &ns }, &name);
    if st.objects.contains_key(&p) {
        return status_response(
            409,
            "AlreadyExists",
            &format!("{} {name:?} already exists", qualified(r)),
            Some(json!({"name": name, "group": r.group, "kind": r.plural})),
        );
    }
    st.serial += 1;
    let serial = st.serial;
    if r.namespaced {
        obj["metadata"]["namespace"] = json!(ns);
    }
    obj["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{serial:012}"));
    obj["metadata"]["resourceVersion"] = json!(serial.to_string());
    obj["metadata"]["generation"] = json!(1);
    obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    if query_param(query, "dryRun").is_some() {
        return json_response(201, &obj);
    }
    if r.kind == "DaemonSet" {
        run_daemonset(st, &ns, &name, &mut obj);
    }
    st.objects.insert(p, obj.clone());
    json_response(201, &obj)
}

/// The DaemonSet controller and the kubelets: one pod per node, its init container done with
/// the node's fixture log.
fn run_daemonset(st: &mut State, ns: &str, name: &str, ds: &mut Value) {
    let nodes = st.nodes.clone();
    let n = nodes.len();
    ds["status"] = json!({
        "currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
        "numberReady": n, "numberAvailable": n, "updatedNumberScheduled": n, "observedGeneration": 1,
    });
    let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let inits: Vec<String> = template
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    for (i, (node, log)) in nodes.iter().enumerate() {
        let pod_name = format!("{name}-{:05x}", 0x1a2b0 + i);
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name, "namespace": ns,
                "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "controller": true}],
            },
            "spec": template.get("spec").cloned().unwrap_or(json!({})),
            "status": {
                "phase": "Running",
                "initContainerStatuses": inits.iter().map(|c| json!({
                    "name": c, "ready": true, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
                })).collect::<Vec<_>>(),
            },
        });
        pod["spec"]["nodeName"] = json!(node);
        for c in &inits {
            st.logs
                .insert((ns.to_string(), pod_name.clone(), c.clone()), log.clone());
        }
        st.objects
            .insert(format!("/api/v1/namespaces/{ns}/pods/{pod_name}"), pod);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = parse_route("/apis/apps/v1/namespaces/shop/deployments/web").unwrap();
        assert_eq!(r.resource.kind, "Deployment");
        assert_eq!(r.namespace.as_deref(), Some("shop"));
        assert_eq!(r.name.as_deref(), Some("web"));
        let r = parse_route("/api/v1/namespaces/x/pods/p/log").unwrap();
        assert_eq!(r.sub.as_deref(), Some("log"));
        let r = parse_route("/api/v1/namespaces").unwrap();
        assert_eq!(r.resource.kind, "Namespace");
        assert!(r.name.is_none());
        let r = parse_route("/api/v1/namespaces/pullsim-system").unwrap();
        assert_eq!(r.resource.kind, "Namespace");
        assert_eq!(r.name.as_deref(), Some("pullsim-system"));
        assert_eq!(percent_decode("a%2Fb%3Dc"), "a/b=c");
    }
}
