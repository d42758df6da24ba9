//! The pods' ServiceAccounts and their tokens for credential provider plugins (KEP-4412), as
//! the kubelet gets them from the API server: here from the inputs (ServiceAccount objects in
//! the manifests, or read from a live cluster) and a token — one given offline
//! (`--service-account-token FILE`), or minted per pod through the TokenRequest API when a live
//! cluster was read.

use std::collections::HashMap;

use pullsim_credentials::Secret;
use pullsim_credentials::plugin::{ServiceAccountData, ServiceAccounts, TokenRequest};

use crate::manifest::Manifests;
use crate::manifest_objects::derived_uid;
use crate::manifest_types::ServiceAccount;

/// The key of a minted token: namespace, ServiceAccount, audience, pod name.
pub type TokenKey = (String, String, String, String);

/// Where tokens come from.
#[derive(Debug, Clone, Default)]
pub enum Tokens {
    /// None was given: a plugin that wants one gets nothing, with the way to give one.
    #[default]
    None,
    /// One token for every pod (`--service-account-token FILE`).
    Fixed(Secret),
    /// Minted per pod through TokenRequest; a failure keeps the API server's message.
    Minted(HashMap<TokenKey, Result<Secret, String>>),
}

/// ServiceAccounts from the inputs, with tokens.
#[derive(Debug, Clone, Default)]
pub struct InputAccounts {
    /// The inputs' ServiceAccounts only (looked up with [`Manifests::service_account`]).
    accounts: Manifests,
    tokens: Tokens,
}

impl InputAccounts {
    /// The ServiceAccounts of `manifests`, with `tokens`.
    pub fn new(manifests: &Manifests, tokens: Tokens) -> Self {
        InputAccounts {
            accounts: Manifests {
                service_accounts: manifests.service_accounts.clone(),
                ..Manifests::default()
            },
            tokens,
        }
    }
}

/// The UID of a ServiceAccount: its `metadata.uid`, or one derived from its namespace and name.
pub fn service_account_uid(sa: &ServiceAccount) -> String {
    sa.uid
        .clone()
        .unwrap_or_else(|| derived_uid(&format!("ServiceAccount/{}/{}", sa.namespace, sa.name)))
}

impl ServiceAccounts for InputAccounts {
    fn get(&self, namespace: &str, name: &str) -> Result<ServiceAccountData, String> {
        if let Some(sa) = self.accounts.service_account(namespace, name) {
            return Ok(ServiceAccountData {
                uid: service_account_uid(sa),
                annotations: sa.annotations.clone(),
            });
        }
        // Every namespace has its `default` ServiceAccount (the ServiceAccount controller
        // creates it); without it among the inputs it is taken as bare: no annotations.
        if name == "default" {
            return Ok(ServiceAccountData {
                uid: derived_uid(&format!("ServiceAccount/{namespace}/{name}")),
                annotations: Default::default(),
            });
        }
        Err(format!(
            "serviceaccount {name:?} is not among the inputs (the kubelet reads it from the API server: add it, kubectl get serviceaccount {name} -n {namespace} -o yaml, or read the cluster with --from-cluster)"
        ))
    }

    fn token(&self, r: &TokenRequest) -> Result<Secret, String> {
        match &self.tokens {
            Tokens::Fixed(t) => Ok(t.clone()),
            Tokens::Minted(map) => map
                .get(&(
                    r.namespace.clone(),
                    r.service_account.clone(),
                    r.audience.clone(),
                    r.pod_name.clone(),
                ))
                .cloned()
                .unwrap_or_else(|| Err("no token was minted for this pod".to_string())),
            Tokens::None => Err(format!(
                "no service-account token to give the plugin: pass --service-account-token FILE (kubectl create token {} -n {} --audience {} > FILE), or read the cluster with --from-cluster",
                r.service_account, r.namespace, r.audience
            )),
        }
    }
}

/// One token a live cluster must mint for the plugins: the request, and whether it can be
/// bound to the pod (a Pod object read from the cluster; a workload's template has no pod yet,
/// so its token is not bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNeed {
    /// What the kubelet would ask for. `service_account_uid` is empty when the ServiceAccount
    /// was not read (the request then does not pin it).
    pub request: TokenRequest,
    /// Bind it to the pod (`spec.boundObjectRef`).
    pub bind_to_pod: bool,
}

/// The tokens the node's plugins would ask for, for every pod of `manifests`: one per pod,
/// plugin audience and ServiceAccount, for plugins with `tokenAttributes` matching one of the
/// pod's images (plugin.go `provide`: `isImageAllowed` comes first). Each once.
pub fn token_needs(manifests: &Manifests, node: &pullsim_credentials::Keyring) -> Vec<TokenNeed> {
    let mut out: Vec<TokenNeed> = Vec::new();
    for pod in &manifests.pods {
        if pod.service_account.is_empty() {
            continue;
        }
        let repos: Vec<String> = pod
            .images
            .iter()
            .filter_map(|i| pullsim_reference::parse_image_name(&i.image).ok())
            .map(|n| n.repository)
            .collect();
        let uid = manifests
            .service_account(&pod.namespace, &pod.service_account)
            .and_then(|sa| sa.uid.clone())
            .unwrap_or_default();
        let kind = pod.origin.object.rsplit(": ").next().unwrap_or("");
        for p in node.plugins() {
            let Some(attrs) = p.token_attributes() else {
                continue;
            };
            if !repos.iter().any(|r| p.is_image_allowed(r)) {
                continue;
            }
            let need = TokenNeed {
                request: TokenRequest {
                    namespace: pod.namespace.clone(),
                    service_account: pod.service_account.clone(),
                    service_account_uid: uid.clone(),
                    audience: attrs.audience.clone(),
                    pod_name: pod.name.clone(),
                    pod_uid: pod.uid.clone(),
                },
                bind_to_pod: kind.starts_with("Pod \""),
            };
            if !out.contains(&need) {
                out.push(need);
            }
        }
    }
    out
}
