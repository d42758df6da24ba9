//! What the fake API server holds: its objects, logs and nodes, and the requests it got.

use std::collections::BTreeMap;

use serde_json::Value;

/// One request the fake server got.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    /// `GET`, `POST`, `DELETE`...
    pub method: String,
    /// The path.
    pub path: String,
    /// The raw query, if any.
    pub query: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// Whether `Authorization: Bearer TOKEN` came with it (401 otherwise).
    pub authorized: bool,
}

/// The fixtures and what happened, shared with the handler.
#[derive(Default)]
pub(crate) struct State {
    /// Objects by API path (`/apis/apps/v1/namespaces/ns/deployments/web`).
    pub objects: BTreeMap<String, Value>,
    /// Pod logs by (namespace, pod, container).
    pub logs: BTreeMap<(String, String, String), String>,
    /// Nodes the DaemonSet controller schedules on, with the check container's log text.
    pub nodes: Vec<(String, String)>,
    /// Answer 403 to every secret read.
    pub forbid_secrets: bool,
    /// The bearer token every request must carry (401 otherwise).
    pub token: String,
    /// Every request, in order.
    pub requests: Vec<ApiRequest>,
    /// Counter for uids and resourceVersions.
    pub serial: u64,
}
