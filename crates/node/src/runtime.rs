//! The real implementations of the image manager's seams: the store (lookups, pull records),
//! the registry client (pulls) and the credentials keyring (a pod's pull secrets + the node's).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use pullsim_credentials::{AuthConfig, Keyring, PullSecret, Source};
use pullsim_reference::Reference;
use pullsim_registry::{Client, NoProgress};
use pullsim_store::{PulledRecord, Store};

use crate::manifest_objects::derived_uid;
use crate::services::{
    CredentialOrigin, ImageService, PodCredentials, PullFailure, PullRecords, PulledImage,
    TrackedCredential,
};

/// The runtime's image service over the store and the registry client.
pub struct StoreImageService {
    store: Arc<Store>,
    client: Option<Client>,
    offline: bool,
    needed_network: Mutex<BTreeSet<String>>,
    pulled: Mutex<Vec<String>>,
}

impl StoreImageService {
    /// Lookups in `store`; pulls through `client` (`None`: no registry client at all, every pull
    /// fails as offline). `offline` marks the client as created with `offline = true`.
    pub fn new(store: Arc<Store>, client: Option<Client>, offline: bool) -> Self {
        StoreImageService {
            store,
            client,
            offline,
            needed_network: Mutex::new(BTreeSet::new()),
            pulled: Mutex::new(Vec::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Images whose pull needed the network while offline.
    pub fn needed_network(&self) -> Vec<String> {
        self.needed_network
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Image IDs pulled during the run.
    pub fn pulled_ids(&self) -> Vec<String> {
        self.pulled.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl ImageService for StoreImageService {
    fn get_image_ref(&self, image: &str) -> Result<Option<String>, String> {
        let r = Reference::parse_normalized(image).map_err(|e| e.to_string())?;
        self.store
            .lookup(&r)
            .map(|rec| rec.map(|rec| rec.id()))
            .map_err(|e| e.to_string())
    }

    async fn pull_image(
        &self,
        image: &str,
        auth: Option<&AuthConfig>,
    ) -> Result<PulledImage, PullFailure> {
        let r = Reference::parse_normalized(image).map_err(|e| PullFailure {
            message: e.to_string(),
        })?;
        if self.offline
            && let Ok(mut g) = self.needed_network.lock()
        {
            g.insert(image.to_string());
        }
        let Some(client) = &self.client else {
            return Err(PullFailure {
                message: format!("no registry client: cannot pull {image}"),
            });
        };
        match client
            .pull_as(&r, image, auth, &self.store, &NoProgress)
            .await
        {
            Ok(p) => {
                let id = p.config_digest.to_string();
                if let Ok(mut g) = self.pulled.lock() {
                    g.push(id.clone());
                }
                Ok(PulledImage {
                    image_ref: id,
                    size: p.size,
                })
            }
            Err(e) => Err(PullFailure {
                message: e.cri_message(image),
            }),
        }
    }
}

/// KEP-2535 records kept in the store's index, behind an in-memory cache as the kubelet keeps
/// them (pullmanager's cached records accessor over the files): read once, written through.
pub struct StoreRecords {
    store: Arc<Store>,
    pulled: Mutex<Option<HashMap<String, PulledRecord>>>,
    intents: Mutex<Option<BTreeSet<String>>>,
}

impl StoreRecords {
    /// Records in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        StoreRecords {
            store,
            pulled: Mutex::new(None),
            intents: Mutex::new(None),
        }
    }

    fn with_pulled<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, PulledRecord>) -> T,
    ) -> Result<T, String> {
        let mut g = self.pulled.lock().map_err(|e| e.to_string())?;
        if g.is_none() {
            let all = self.store.pulled_records().map_err(|e| e.to_string())?;
            *g = Some(all.into_iter().map(|r| (r.image_ref.clone(), r)).collect());
        }
        match g.as_mut() {
            Some(m) => Ok(f(m)),
            None => Err("pull records unavailable".to_string()),
        }
    }

    fn with_intents<T>(&self, f: impl FnOnce(&mut BTreeSet<String>) -> T) -> Result<T, String> {
        let mut g = self.intents.lock().map_err(|e| e.to_string())?;
        if g.is_none() {
            let all = self.store.pull_intents().map_err(|e| e.to_string())?;
            *g = Some(all.into_iter().map(|i| i.image).collect());
        }
        match g.as_mut() {
            Some(m) => Ok(f(m)),
            None => Err("pull intents unavailable".to_string()),
        }
    }
}

impl PullRecords for StoreRecords {
    fn get_pulled_record(&self, image_ref: &str) -> Result<Option<PulledRecord>, String> {
        self.with_pulled(|m| m.get(image_ref).cloned())
    }
    fn write_pulled_record(&self, record: &PulledRecord) -> Result<(), String> {
        self.store
            .put_pulled_record(record)
            .map_err(|e| e.to_string())?;
        self.with_pulled(|m| {
            m.insert(record.image_ref.clone(), record.clone());
        })
    }
    fn write_pull_intent(&self, image: &str) -> Result<(), String> {
        self.store
            .put_pull_intent(image, pullsim_store::now_ms())
            .map_err(|e| e.to_string())?;
        self.with_intents(|s| {
            s.insert(image.to_string());
        })
    }
    fn delete_pull_intent(&self, image: &str) -> Result<(), String> {
        self.store
            .remove_pull_intent(image)
            .map_err(|e| e.to_string())?;
        self.with_intents(|s| {
            s.remove(image);
        })
    }
    fn pull_intent_exists(&self, image: &str) -> Result<bool, String> {
        self.with_intents(|s| s.contains(image))
    }
}

/// A pod's keyring: its pull secrets (in `imagePullSecrets` order) before the node's
/// credentials, with each secret's UID for the pull records.
#[derive(Clone, Debug)]
pub struct PodKeyring {
    keyring: Keyring,
    uids: HashMap<(String, String), String>,
}

impl PodKeyring {
    /// A keyring from the pod's secrets (already resolved, in order) over the node keyring.
    pub fn new(node: &Keyring, secrets: &[&PullSecret]) -> Self {
        // Secrets go to the pod ring of a copy of the node keyring: consulted first.
        let mut keyring = node.clone();
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
        self.keyring
            .lookup_explained(&name.repository)
            .misses
            .into_iter()
            .map(|m| {
                format!(
                    "{} ({}, user {:?}): {}",
                    m.key, m.source, m.username, m.why_not
                )
            })
            .collect()
    }

    fn lookup(&self, image: &str) -> Result<Vec<TrackedCredential>, String> {
        // makeLookupPullCredentialsFunc: the keyring is asked for repoToPull.
        let repo = pullsim_reference::parse_image_name(image)
            .map_err(|e| e.upstream())?
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
