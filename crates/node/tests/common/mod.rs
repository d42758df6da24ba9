//! Fakes for the image manager's seams, recording every call (the style of the kubelet's
//! ctest.FakeRuntime in pkg/kubelet/container/testing).

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_node::services::{
    CredentialOrigin, ImageService, PodCredentials, PullFailure, PullRecords, PulledImage,
    TrackedCredential,
};
use pullsim_node::{FakeClock, ImageManager, ManagerConfig, Puller};
use pullsim_policy::{Backoff, PullerConfig};
use pullsim_store::PulledRecord;
use tokio::sync::Notify;

/// A container runtime's image service.
#[derive(Default)]
pub struct FakeRuntime {
    /// default-tagged image → image ID.
    pub images: Mutex<HashMap<String, String>>,
    pub inspect_err: Option<String>,
    /// Error for every pull.
    pub pull_err: Option<String>,
    /// Users whose credentials the registry accepts (empty: anonymous pulls work).
    pub accepted_users: Vec<String>,
    pub calls: Mutex<Vec<String>>,
    /// Pulls of this image wait for the notify.
    pub block: Option<(String, Arc<Notify>)>,
    /// Every pull moves this virtual clock forward by this much (a pull that takes time).
    pub pull_takes: Option<(Arc<FakeClock>, Duration)>,
}

impl FakeRuntime {
    pub fn with_image(self, image: &str, id: &str) -> Self {
        self.images
            .lock()
            .unwrap()
            .insert(image.to_string(), id.to_string());
        self
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }
}

pub fn image_id(image: &str) -> String {
    format!("sha256:{:0>64}", image.len())
}

impl ImageService for FakeRuntime {
    fn get_image_ref(&self, image: &str) -> Result<Option<String>, String> {
        self.calls.lock().unwrap().push("GetImageRef".into());
        if let Some(e) = &self.inspect_err {
            return Err(e.clone());
        }
        Ok(self.images.lock().unwrap().get(image).cloned())
    }

    async fn pull_image(
        &self,
        image: &str,
        auth: Option<&AuthConfig>,
    ) -> Result<PulledImage, PullFailure> {
        let who = auth.map(|a| a.username.clone()).unwrap_or_default();
        self.calls.lock().unwrap().push(format!(
            "PullImage({image}{})",
            if who.is_empty() {
                String::new()
            } else {
                format!(" as {who}")
            }
        ));
        if let Some((blocked, notify)) = &self.block
            && blocked == image
        {
            notify.notified().await;
        }
        if let Some((clock, d)) = &self.pull_takes {
            clock.advance(*d);
        }
        if let Some(e) = &self.pull_err {
            return Err(PullFailure { message: e.clone() });
        }
        if !self.accepted_users.is_empty() && !self.accepted_users.contains(&who) {
            return Err(PullFailure {
                message: format!(
                    "401 Unauthorized for {}",
                    if who.is_empty() { "anonymous" } else { &who }
                ),
            });
        }
        let id = self
            .images
            .lock()
            .unwrap()
            .get(image)
            .cloned()
            .unwrap_or_else(|| image_id(image));
        self.images
            .lock()
            .unwrap()
            .insert(image.to_string(), id.clone());
        Ok(PulledImage {
            image_ref: id,
            size: 1234,
        })
    }
}

/// KEP-2535 records in memory.
#[derive(Default)]
pub struct FakeRecords {
    pub pulled: Mutex<HashMap<String, PulledRecord>>,
    pub intents: Mutex<BTreeSet<String>>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeRecords {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl PullRecords for FakeRecords {
    fn get_pulled_record(&self, image_ref: &str) -> Result<Option<PulledRecord>, String> {
        self.calls
            .lock()
            .unwrap()
            .push("GetImagePulledRecord".into());
        Ok(self.pulled.lock().unwrap().get(image_ref).cloned())
    }
    fn write_pulled_record(&self, record: &PulledRecord) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push("WriteImagePulledRecord".into());
        self.pulled
            .lock()
            .unwrap()
            .insert(record.image_ref.clone(), record.clone());
        Ok(())
    }
    fn write_pull_intent(&self, image: &str) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push("WriteImagePullIntent".into());
        self.intents.lock().unwrap().insert(image.to_string());
        Ok(())
    }
    fn delete_pull_intent(&self, image: &str) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push("DeleteImagePullIntent".into());
        self.intents.lock().unwrap().remove(image);
        Ok(())
    }
    fn pull_intent_exists(&self, image: &str) -> Result<bool, String> {
        self.calls
            .lock()
            .unwrap()
            .push("ImagePullIntentExists".into());
        Ok(self.intents.lock().unwrap().contains(image))
    }
}

/// A pod's credentials: a fixed list.
#[derive(Default, Clone)]
pub struct FakeCreds(pub Vec<TrackedCredential>);

impl PodCredentials for FakeCreds {
    fn lookup(&self, _image: &str) -> Result<Vec<TrackedCredential>, String> {
        Ok(self.0.clone())
    }
}

pub fn secret_cred(ns: &str, name: &str, user: &str) -> TrackedCredential {
    let auth = AuthConfig::basic(user, format!("{user}-pass"));
    TrackedCredential {
        hash: auth.credential_hash(),
        auth,
        origin: CredentialOrigin::Secret {
            uid: format!("uid-{ns}-{name}"),
            namespace: ns.into(),
            name: name.into(),
        },
        key: "registry.test".into(),
        why: "test".into(),
    }
}

pub fn node_cred(user: &str) -> TrackedCredential {
    let auth = AuthConfig::basic(user, format!("{user}-pass"));
    TrackedCredential {
        hash: auth.credential_hash(),
        auth,
        origin: CredentialOrigin::Node {
            description: "node:/config.json".into(),
        },
        key: "registry.test".into(),
        why: "test".into(),
    }
}

pub struct Env {
    pub manager: ImageManager<Arc<FakeRuntime>, Arc<FakeRecords>>,
    pub runtime: Arc<FakeRuntime>,
    pub records: Arc<FakeRecords>,
    pub clock: Arc<FakeClock>,
}

/// The kubelet test's environment: back-off 1 s → 60 s on a fake clock.
pub fn env(
    runtime: FakeRuntime,
    cfg: ManagerConfig,
    puller: PullerConfig,
    qps: f64,
    burst: u32,
) -> Env {
    let clock = Arc::new(FakeClock::at(Duration::from_secs(1_000)));
    let runtime = Arc::new(runtime);
    let records = Arc::new(FakeRecords::default());
    let puller = Puller::new(&puller, qps, burst, clock.clone());
    let manager = ImageManager::new(runtime.clone(), records.clone(), cfg, puller, clock.clone())
        .with_backoff(Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ));
    Env {
        manager,
        runtime,
        records,
        clock,
    }
}
