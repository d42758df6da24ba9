//! Service-account tokens for credential provider plugins (KEP-4412) minted through the
//! TokenRequest API, as the kubelet's token manager asks for them
//! (pkg/credentialprovider/plugin/plugin.go `getServiceAccountToken`): `spec.audiences` the
//! provider's audience, `spec.boundObjectRef` the pod, `metadata.uid` the ServiceAccount's UID,
//! `expirationSeconds` left to the API's default. Tokens stay in memory.

use std::collections::HashMap;

use pullsim_credentials::Secret;
use pullsim_node::accounts::{TokenKey, TokenNeed, Tokens};
use serde_json::{Value, json};

use crate::client::Cluster;
use crate::target::namespaced_path;

/// The TokenRequest body for `need`.
pub fn token_request_body(need: &TokenNeed) -> Value {
    let r = &need.request;
    let mut spec = json!({ "audiences": [r.audience] });
    if need.bind_to_pod {
        spec["boundObjectRef"] = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "name": r.pod_name,
            "uid": r.pod_uid,
        });
    }
    let mut body = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": spec,
    });
    if !r.service_account_uid.is_empty() {
        body["metadata"] = json!({ "uid": r.service_account_uid });
    }
    body
}

impl Cluster {
    /// Mint one token per need; a refusal (RBAC on `serviceaccounts/token`, a missing account)
    /// is kept as the API server's message for the plugin's log line.
    pub async fn mint_tokens(&self, needs: &[TokenNeed]) -> Tokens {
        let mut out: HashMap<TokenKey, Result<Secret, String>> = HashMap::new();
        for need in needs {
            let r = &need.request;
            let path = format!(
                "{}/token",
                namespaced_path(
                    "/api/v1",
                    &r.namespace,
                    "serviceaccounts",
                    &r.service_account
                )
            );
            let got = match self.post_json(&path, &token_request_body(need)).await {
                Ok(v) => match v.pointer("/status/token").and_then(Value::as_str) {
                    Some(t) if !t.is_empty() => Ok(Secret::new(t)),
                    _ => Err(format!("POST {path}: the answer has no status.token")),
                },
                Err(e) => Err(e.to_string()),
            };
            out.insert(
                (
                    r.namespace.clone(),
                    r.service_account.clone(),
                    r.audience.clone(),
                    r.pod_name.clone(),
                ),
                got,
            );
        }
        Tokens::Minted(out)
    }
}
