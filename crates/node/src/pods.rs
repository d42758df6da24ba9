//! From manifests to pods ready to simulate: pull secrets resolved as the kubelet does
//! (kubelet_pods.go getPullSecretsForPod), with the ServiceAccount admission's defaulting of
//! `imagePullSecrets` (plugin/pkg/admission/serviceaccount: a pod without imagePullSecrets gets
//! its service account's).

use std::collections::HashSet;

use pullsim_credentials::{Keyring, PullSecret};

use crate::manifest::{ManifestError, Manifests, PodSpec};
use crate::runtime::PodKeyring;
use crate::sync::PodRun;

/// Secrets known to the simulated node: pull secrets parsed by the credentials crate, and the
/// coordinates of every Secret present (of any type).
#[derive(Clone, Debug, Default)]
pub struct SecretSet {
    /// Parsed pull secrets (dockerconfigjson / dockercfg).
    pub pull_secrets: Vec<PullSecret>,
    /// `(namespace, name)` of every Secret in the inputs.
    pub present: HashSet<(String, String)>,
}

impl SecretSet {
    /// Secret documents from manifests, parsed with `pullsim_credentials::parse_pull_secrets`.
    /// Secrets of other types are present but carry no credentials (MakeDockerKeyring ignores
    /// them).
    pub fn from_manifests(m: &Manifests) -> Result<SecretSet, ManifestError> {
        let mut set = SecretSet::default();
        for doc in &m.secrets {
            set.present
                .insert((doc.namespace.clone(), doc.name.clone()));
            if doc.secret_type != "kubernetes.io/dockerconfigjson"
                && doc.secret_type != "kubernetes.io/dockercfg"
            {
                continue;
            }
            let parsed = pullsim_credentials::parse_pull_secrets(&doc.text, &doc.origin.file)
                .map_err(|e| match e {
                    // The origin already names the file and document: keep the field alone.
                    pullsim_credentials::CredentialsError::Field { field, message, .. } => {
                        ManifestError::Invalid {
                            origin: doc.origin.clone(),
                            field,
                            message,
                        }
                    }
                    other => ManifestError::Secret {
                        origin: doc.origin.clone(),
                        message: other.to_string(),
                    },
                })?;
            set.pull_secrets.extend(parsed);
        }
        Ok(set)
    }

    /// Add secrets read elsewhere (`--secret FILE`).
    pub fn add(&mut self, secrets: Vec<PullSecret>) {
        for s in secrets {
            self.present.insert((s.namespace.clone(), s.name.clone()));
            self.pull_secrets.push(s);
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<&PullSecret> {
        self.pull_secrets
            .iter()
            .rev()
            .find(|s| s.namespace == namespace && s.name == name)
    }
}

/// The pull secret names a pod uses: its own, or (when it lists none) its ServiceAccount's
/// (plugin/pkg/admission/serviceaccount/admission.go). The bool says they came from the account.
pub fn pull_secret_names(pod: &PodSpec, m: &Manifests) -> (Vec<String>, bool) {
    if !pod.image_pull_secrets.is_empty() {
        return (pod.image_pull_secrets.clone(), false);
    }
    match m.service_account(&pod.namespace, &pod.service_account) {
        Some(sa) if !sa.image_pull_secrets.is_empty() => (sa.image_pull_secrets.clone(), true),
        _ => (Vec::new(), false),
    }
}

/// Build the pods to simulate, each with its keyring over `node`.
pub fn build_pods(m: &Manifests, secrets: &SecretSet, node: &Keyring) -> Vec<PodRun> {
    m.pods
        .iter()
        .map(|pod| {
            let (names, _) = pull_secret_names(pod, m);
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for n in names.iter().filter(|n| !n.is_empty()) {
                if let Some(s) = secrets.get(&pod.namespace, n) {
                    found.push(s);
                } else if !secrets
                    .present
                    .contains(&(pod.namespace.clone(), n.clone()))
                {
                    missing.push(n.clone());
                }
            }
            let keyring = PodKeyring::new(node, &found);
            let mut run = PodRun::new(pod.clone(), Box::new(keyring));
            run.missing_secrets = missing;
            run
        })
        .collect()
}
