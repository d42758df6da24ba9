//! From manifests to pods ready to simulate: pull secrets resolved as the kubelet does
//! (kubelet_pods.go getPullSecretsForPod), with the ServiceAccount admission's defaulting of
//! `imagePullSecrets` (plugin/pkg/admission/serviceaccount: a pod without imagePullSecrets gets
//! its service account's).

use std::collections::HashSet;

use pullsim_credentials::{Keyring, OtherSecret, PullSecret, SecretsRead};
use pullsim_policy::PullPolicy;

use crate::error::NodeError;
use crate::keyring::PodKeyring;
use crate::manifest::{ImageSource, ManifestError, Manifests, Origin, PodImage, PodSpec};
use crate::manifest_objects::derived_uid;
use crate::sync::PodRun;

/// Secrets known to the simulated node: pull secrets parsed by the credentials crate, Secrets
/// of other types, and the coordinates of every Secret present. Secrets from manifests and
/// from `--secret` files go through the same rule: a Secret of a type the kubelet does not
/// read for pulls (`Opaque`, …) is present and carries no credentials (secrets.go
/// `MakeDockerKeyring` skips it), and the hint `secret-wrong-type` says so.
#[derive(Clone, Debug, Default)]
pub struct SecretSet {
    /// Parsed pull secrets (dockerconfigjson / dockercfg).
    pub pull_secrets: Vec<PullSecret>,
    /// Secrets of other types.
    pub other: Vec<OtherSecret>,
    /// `(namespace, name)` of every Secret in the inputs.
    pub present: HashSet<(String, String)>,
}

impl SecretSet {
    /// Secret documents from manifests, read with `pullsim_credentials::manifest::read_secrets_in`.
    pub fn from_manifests(m: &Manifests) -> Result<SecretSet, ManifestError> {
        let mut set = SecretSet::default();
        for doc in &m.secrets {
            set.present
                .insert((doc.namespace.clone(), doc.name.clone()));
            let parsed =
                pullsim_credentials::manifest::read_secrets_in(&doc.text, &doc.origin.file, None)
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
            set.add_read(parsed);
        }
        Ok(set)
    }

    /// Add pull secrets read elsewhere.
    pub fn add(&mut self, secrets: Vec<PullSecret>) {
        self.add_read(SecretsRead {
            pull: secrets,
            other: Vec::new(),
        });
    }

    /// Add everything a secrets file held (`--secret FILE`).
    pub fn add_read(&mut self, read: SecretsRead) {
        for s in read.pull {
            self.present.insert((s.namespace.clone(), s.name.clone()));
            self.pull_secrets.push(s);
        }
        for s in read.other {
            self.present.insert((s.namespace.clone(), s.name.clone()));
            self.other.push(s);
        }
    }

    /// The Secret of another type at `namespace/name`, unless a pull secret of that name is
    /// there too (the later document wins, as the API server keeps one object per name).
    pub fn other_type(&self, namespace: &str, name: &str) -> Option<&OtherSecret> {
        if self.get(namespace, name).is_some() {
            return None;
        }
        self.other
            .iter()
            .rev()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// The pull secret at `namespace/name`.
    pub fn pull_secret(&self, namespace: &str, name: &str) -> Option<&PullSecret> {
        self.get(namespace, name)
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
            build_pod(pod.clone(), &names, secrets, node)
        })
        .collect()
}

/// One pod ready to simulate: its pull secrets (`names`, in order) resolved in its namespace
/// over the node keyring; names of absent secrets become the kubelet's
/// `FailedToRetrieveImagePullSecret` warning on every sync.
pub fn build_pod(pod: PodSpec, names: &[String], secrets: &SecretSet, node: &Keyring) -> PodRun {
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
    let keyring = PodKeyring::new(node, &found, &pod);
    let mut run = PodRun::new(pod, Box::new(keyring));
    run.missing_secrets = missing;
    run
}

/// The name of the pod and of its container in [`single_container_pod`].
pub const SINGLE_POD_NAME: &str = "pull";

/// `pullsim pull IMAGE`: a pod with one container `pull` running `image` under `policy`
/// (`None`: the API server's defaulting), in `namespace`, listing `secret_names` as its
/// imagePullSecrets. Give it to [`build_pod`] and the sync loop as any pod: the same image
/// manager, events, records and exit decision as `pod run`.
pub fn single_container_pod(
    image: &str,
    policy: Option<PullPolicy>,
    namespace: &str,
    secret_names: &[String],
) -> PodSpec {
    PodSpec {
        namespace: namespace.to_string(),
        name: SINGLE_POD_NAME.to_string(),
        uid: derived_uid(&format!("{namespace}/{SINGLE_POD_NAME}")),
        service_account: "default".to_string(),
        image_pull_secrets: secret_names.to_vec(),
        images: vec![PodImage {
            source: ImageSource::Container,
            name: SINGLE_POD_NAME.to_string(),
            image: image.to_string(),
            pull_policy: policy,
        }],
        origin: Origin {
            file: "<command line>".into(),
            document: 1,
            object: format!("Pod {SINGLE_POD_NAME:?}"),
        },
    }
}

/// The namespace of a one-container pod using `secrets`: theirs (they must share it), or
/// `default` when there are none.
pub fn secrets_namespace(secrets: &SecretsRead) -> Result<String, NodeError> {
    let all: Vec<(&str, &str)> = secrets
        .pull
        .iter()
        .map(|s| (s.namespace.as_str(), s.name.as_str()))
        .chain(
            secrets
                .other
                .iter()
                .map(|s| (s.namespace.as_str(), s.name.as_str())),
        )
        .collect();
    let Some((first, _)) = all.first() else {
        return Ok("default".to_string());
    };
    if let Some((ns, name)) = all.iter().find(|(ns, _)| ns != first) {
        return Err(NodeError::SecretNamespace {
            name: name.to_string(),
            found: ns.to_string(),
            expected: first.to_string(),
        });
    }
    Ok(first.to_string())
}
