//! A pod's keyring: its pull secrets (in `imagePullSecrets` order) before the node's
//! credentials, each credential tracked with where it came from (the kubelet's
//! credentialprovider.TrackedAuthConfig).

use std::collections::HashMap;

use pullsim_credentials::{Keyring, PullSecret, Source};

use crate::error::NodeError;
use crate::manifest::PodSpec;
use crate::manifest_objects::derived_uid;
use crate::services::{CredentialOrigin, PodCredentials, TrackedCredential};

/// A pod's keyring: its pull secrets (in `imagePullSecrets` order) before the node's
/// credentials, with each secret's UID for the pull records.
#[derive(Clone, Debug)]
pub struct PodKeyring {
    keyring: Keyring,
    uids: HashMap<(String, String), String>,
}

impl PodKeyring {
    /// A keyring for `pod` from its secrets (already resolved, in order) over the node
    /// keyring; the plugins learn the pod's identity and ServiceAccount (KEP-4412).
    pub fn new(node: &Keyring, secrets: &[&PullSecret], pod: &PodSpec) -> Self {
        // Secrets go to the pod ring of a copy of the node keyring: consulted first.
        let mut keyring = node.clone();
        keyring.set_pod(&pod.namespace, &pod.name, &pod.uid, &pod.service_account);
        let mut uids = HashMap::new();
        for s in secrets {
            keyring.add_secret(s);
            uids.insert((s.namespace.clone(), s.name.clone()), secret_uid(s));
        }
        PodKeyring { keyring, uids }
    }

    /// The underlying keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
}

/// A secret's UID: metadata.uid, or one derived from its namespace and name.
pub fn secret_uid(s: &PullSecret) -> String {
    s.uid
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| derived_uid(&format!("Secret/{}/{}", s.namespace, s.name)))
}

impl PodCredentials for PodKeyring {
    fn misses(&self, image: &str) -> Vec<String> {
        let Ok(name) = pullsim_reference::parse_image_name(image) else {
            return Vec::new();
        };
        let l = self.keyring.lookup_explained(&name.repository);
        // A plugin that gave nothing says why (what the kubelet logs), after the keys.
        l.misses
            .into_iter()
            .map(|m| {
                format!(
                    "{} ({}, user {:?}): {}",
                    m.key, m.source, m.username, m.why_not
                )
            })
            .chain(l.warnings)
            .collect()
    }

    fn lookup(&self, image: &str) -> Result<Vec<TrackedCredential>, NodeError> {
        // makeLookupPullCredentialsFunc: the keyring is asked for repoToPull.
        let repo = pullsim_reference::parse_image_name(image)
            .map_err(|e| NodeError::invalid_image(image, &e))?
            .repository;
        Ok(self
            .keyring
            .lookup_name(&repo)
            .into_iter()
            .map(|m| {
                let origin = match &m.source {
                    Source::Secret { namespace, name } => CredentialOrigin::Secret {
                        uid: self
                            .uids
                            .get(&(namespace.clone(), name.clone()))
                            .cloned()
                            .unwrap_or_else(|| derived_uid(&format!("Secret/{namespace}/{name}"))),
                        namespace: namespace.clone(),
                        name: name.clone(),
                    },
                    Source::Plugin {
                        name,
                        service_account: Some(sa),
                    } => CredentialOrigin::ServiceAccount {
                        uid: sa.uid.clone(),
                        namespace: sa.namespace.clone(),
                        name: sa.name.clone(),
                        plugin: name.clone(),
                    },
                    other => CredentialOrigin::Node {
                        description: other.to_string(),
                    },
                };
                TrackedCredential {
                    hash: m.auth.credential_hash(),
                    auth: m.auth,
                    origin,
                    key: m.key,
                    why: m.why,
                }
            })
            .collect())
    }
}
