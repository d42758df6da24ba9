//! Reading workloads from a live cluster: the objects named, their pods' ServiceAccounts and the
//! pull secrets those name, fed through the same manifest reader as exported files
//! ([`pullsim_node::Manifests::add_text_in`] on the API's own JSON text), so the engine sees
//! exactly what `kubectl get -o json` exports would give it. Secrets stay in memory.

use std::path::PathBuf;

use pullsim_node::Manifests;
use pullsim_node::hints::Hint;
use pullsim_node::pods::pull_secret_names;

use crate::client::Cluster;
use crate::error::ClusterError;
use crate::target::{Target, check_name, namespaced_path};

/// Secrets the API refused to show (403 Forbidden), per namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretsDenied {
    /// The namespace.
    pub namespace: String,
    /// The secret names asked, in the order the pods name them.
    pub names: Vec<String>,
    /// The pods (`namespace/name`) that name them.
    pub pods: Vec<String>,
    /// The API server's message for the first refusal (it names the user).
    pub message: String,
}

/// What was read: the objects as manifests, and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct ClusterRead {
    /// The workloads, ServiceAccounts and Secrets, read as from exported files.
    pub manifests: Manifests,
    /// Secrets the API refused to show; the check goes on without them.
    pub denied: Vec<SecretsDenied>,
}

impl ClusterRead {
    /// One `cannot-read-secrets` hint per namespace with refused secrets.
    pub fn hints(&self) -> Vec<Hint> {
        self.denied.iter().map(cannot_read_secrets).collect()
    }
}

/// The `cannot-read-secrets` hint.
pub fn cannot_read_secrets(d: &SecretsDenied) -> Hint {
    let quoted: Vec<String> = d.names.iter().map(|n| format!("{n:?}")).collect();
    Hint {
        code: "cannot-read-secrets",
        pod: (d.pods.len() == 1).then(|| d.pods[0].clone()),
        container: None,
        image: None,
        why: format!(
            "the API server refused to show the pull secret{} {} in namespace {:?} ({}): pullsim went on without {}, so credentials the kubelet would have are missing here",
            if d.names.len() == 1 { "" } else { "s" },
            quoted.join(", "),
            d.namespace,
            d.message,
            if d.names.len() == 1 { "it" } else { "them" },
        ),
        fix: format!(
            "run with a context allowed to get secrets in {ns:?} (kubectl auth can-i get secrets -n {ns}), or export them and pass --secret FILE",
            ns = d.namespace
        ),
    }
}

impl Cluster {
    /// Read `targets` in this cluster's namespace, with their ServiceAccounts and pull secrets.
    /// A ServiceAccount or Secret that does not exist is left out (the engine then reports it as
    /// the kubelet would); secrets the API refuses are listed in [`ClusterRead::denied`].
    pub async fn read_workloads(&self, targets: &[Target]) -> Result<ClusterRead, ClusterError> {
        let ns = self.namespace().to_string();
        let mut out = ClusterRead::default();
        for t in targets {
            let path = t.path(&ns);
            let text = self.get_text(&path).await?;
            let before = out.manifests.pods.len();
            out.manifests
                .add_text_in(&self.origin(&format!("{t}")), &text, Some(&ns))?;
            if out.manifests.pods.len() == before {
                return Err(ClusterError::Decode {
                    method: "GET",
                    path,
                    expected: "an object with a pod template",
                    message: "no pod in it".into(),
                });
            }
        }
        // ServiceAccounts first: a pod without imagePullSecrets takes its account's.
        let mut accounts: Vec<String> = Vec::new();
        for p in &out.manifests.pods {
            if !accounts.contains(&p.service_account) {
                accounts.push(p.service_account.clone());
            }
        }
        for sa in accounts {
            if check_name(&sa).is_err() {
                continue;
            }
            let path = namespaced_path("/api/v1", &ns, "serviceaccounts", &sa);
            match self.get_text(&path).await {
                Ok(text) => {
                    let origin = self.origin(&format!("serviceaccount/{sa}"));
                    out.manifests.add_text_in(&origin, &text, Some(&ns))?;
                }
                Err(e) if e.api_code() == Some(404) => {}
                Err(e) => return Err(e),
            }
        }
        // The pull secrets, each once, in the order the pods name them.
        let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
        for p in &out.manifests.pods {
            let (names, _) = pull_secret_names(p, &out.manifests);
            let key = format!("{}/{}", p.namespace, p.name);
            for n in names {
                match wanted.iter_mut().find(|(w, _)| *w == n) {
                    Some((_, pods)) => {
                        if !pods.contains(&key) {
                            pods.push(key.clone());
                        }
                    }
                    None => wanted.push((n, vec![key.clone()])),
                }
            }
        }
        let mut denied: Option<SecretsDenied> = None;
        for (name, pods) in wanted {
            if check_name(&name).is_err() {
                continue;
            }
            let path = namespaced_path("/api/v1", &ns, "secrets", &name);
            match self.get_text(&path).await {
                Ok(text) => {
                    let origin = self.origin(&format!("secret/{name}"));
                    out.manifests.add_text_in(&origin, &text, Some(&ns))?;
                }
                Err(e) if e.api_code() == Some(404) => {}
                Err(ClusterError::Api {
                    code: 403, message, ..
                }) => {
                    let d = denied.get_or_insert_with(|| SecretsDenied {
                        namespace: ns.clone(),
                        names: Vec::new(),
                        pods: Vec::new(),
                        message,
                    });
                    d.names.push(name);
                    for p in pods {
                        if !d.pods.contains(&p) {
                            d.pods.push(p);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        out.denied.extend(denied);
        Ok(out)
    }

    /// The origin shown in manifest errors: `<cluster SERVER>/NAMESPACE/TYPE/NAME`.
    fn origin(&self, what: &str) -> PathBuf {
        PathBuf::from(format!(
            "<cluster {}>/{}/{what}",
            self.server(),
            self.namespace()
        ))
    }
}
