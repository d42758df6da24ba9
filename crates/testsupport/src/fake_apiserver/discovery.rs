//! Discovery documents and resource tables of the fake API server, in the shapes the API
//! serves them (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/GROUP/v1`).

use serde_json::{Value, json};

/// One resource the fake server knows: (group, plural, kind, namespaced, short names).
pub(crate) struct Resource {
    pub group: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
}

pub(crate) const RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false,
        short: &["ns"],
    },
    Resource {
        group: "",
        plural: "pods",
        kind: "Pod",
        namespaced: true,
        short: &["po"],
    },
    Resource {
        group: "",
        plural: "secrets",
        kind: "Secret",
        namespaced: true,
        short: &[],
    },
    Resource {
        group: "",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        namespaced: true,
        short: &["sa"],
    },
    Resource {
        group: "apps",
        plural: "deployments",
        kind: "Deployment",
        namespaced: true,
        short: &["deploy"],
    },
    Resource {
        group: "apps",
        plural: "statefulsets",
        kind: "StatefulSet",
        namespaced: true,
        short: &["sts"],
    },
    Resource {
        group: "apps",
        plural: "daemonsets",
        kind: "DaemonSet",
        namespaced: true,
        short: &["ds"],
    },
    Resource {
        group: "apps",
        plural: "replicasets",
        kind: "ReplicaSet",
        namespaced: true,
        short: &["rs"],
    },
    Resource {
        group: "batch",
        plural: "jobs",
        kind: "Job",
        namespaced: true,
        short: &[],
    },
    Resource {
        group: "batch",
        plural: "cronjobs",
        kind: "CronJob",
        namespaced: true,
        short: &["cj"],
    },
];

pub(crate) fn by_kind(kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.kind == kind)
}

pub(crate) fn by_plural(group: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// `apiVersion` of a group (`v1`, `apps/v1`).
pub(crate) fn api_version(group: &str) -> String {
    if group.is_empty() {
        "v1".into()
    } else {
        format!("{group}/v1")
    }
}

/// `/version` (version.Info).
pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": "v1.34.0",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-08-27T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api` (APIVersions).
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
    })
}

/// `/apis` (APIGroupList).
pub(crate) fn group_list() -> Value {
    let groups: Vec<Value> = ["apps", "batch"]
        .iter()
        .map(|g| {
            json!({
                "name": g,
                "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
                "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/api/v1` or `/apis/GROUP/v1` (APIResourceList), `None` for an unknown group.
pub(crate) fn resource_list(group: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        let singular = r.kind.to_ascii_lowercase();
        resources.push(json!({
            "name": r.plural, "singularName": singular, "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": r.short,
        }));
        if r.plural == "pods" {
            resources.push(json!({
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]
            }));
        }
        if r.plural == "serviceaccounts" {
            resources.push(json!({
                "name": "serviceaccounts/token", "singularName": "", "namespaced": true,
                "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group),
        "resources": resources,
    }))
}

/// A Status answer (metav1.Status) as the API server writes it.
pub(crate) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": if code < 400 { "Success" } else { "Failure" },
        "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

/// `deployments.apps "web"` / `secrets "x"`: how the API names a resource in messages.
pub(crate) fn qualified(r: &Resource) -> String {
    if r.group.is_empty() {
        r.plural.to_string()
    } else {
        format!("{}.{}", r.plural, r.group)
    }
}
