//! The seams of the node tests: the scripted runtime of `pullsim_runtime::fake` (it records
//! every CRI call, in the style of the kubelet's ctest.FakeRuntime), `MemPullRecords` with a
//! call log, and a fixed list of pod credentials.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use pullsim_credentials::AuthConfig;
use pullsim_node::records::{ImagePullCredentials, ImagePullSecret, ImagePulledRecord};
use pullsim_node::services::{CredentialOrigin, PodCredentials, TrackedCredential};
use pullsim_node::{FakeClock, ImageManager, ManagerConfig, MemPullRecords, NodeError, Puller};
use pullsim_policy::{Backoff, PullerConfig};
pub use pullsim_runtime::fake::ScriptedImageService;

/// A scripted runtime whose every pull first moves `clock` forward by `d` (a pull that takes
/// time).
pub fn slow_runtime(clock: Arc<FakeClock>, d: Duration) -> ScriptedImageService {
    scripted(|r| {
        r.on_pull = Some(Box::new(move |_| clock.advance(d)));
    })
}

/// A scripted runtime (pulls succeed, size 1234) changed by `f`.
pub fn scripted(f: impl FnOnce(&mut ScriptedImageService)) -> ScriptedImageService {
    with_runtime(ScriptedImageService::new(), f)
}

/// `r` changed by `f`.
pub fn with_runtime(
    mut r: ScriptedImageService,
    f: impl FnOnce(&mut ScriptedImageService),
) -> ScriptedImageService {
    f(&mut r);
    r
}

/// The text the scripted runtime's registry refuses `user` with, as the kubelet receives it
/// (code Unknown, so the CRI client keeps the description only).
pub fn refused(image: &str, user: &str) -> String {
    format!("failed to pull and unpack image \"{image}\": 401 Unauthorized for {user}")
}

/// A pod's credentials: a fixed list.
#[derive(Default, Clone)]
pub struct FakeCreds(pub Vec<TrackedCredential>);

impl PodCredentials for FakeCreds {
    fn lookup(&self, _image: &str) -> Result<Vec<TrackedCredential>, NodeError> {
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

/// A pulled record for `image_ref`: `name` pulled with `secret`'s credential.
pub fn record_by_secret(
    image_ref: &str,
    name: &str,
    secret: &TrackedCredential,
) -> ImagePulledRecord {
    let CredentialOrigin::Secret {
        uid,
        namespace,
        name: secret_name,
    } = &secret.origin
    else {
        panic!("not a secret")
    };
    ImagePulledRecord {
        last_updated_time: Some(1),
        image_ref: image_ref.into(),
        credential_mapping: [(
            name.to_string(),
            ImagePullCredentials {
                kubernetes_secrets: vec![ImagePullSecret {
                    uid: uid.clone(),
                    namespace: namespace.clone(),
                    name: secret_name.clone(),
                    credential_hash: secret.hash.clone(),
                }],
                ..Default::default()
            },
        )]
        .into(),
    }
}

pub struct Env {
    pub manager: ImageManager<Arc<ScriptedImageService>, Arc<MemPullRecords>>,
    pub runtime: Arc<ScriptedImageService>,
    pub records: Arc<MemPullRecords>,
    pub clock: Arc<FakeClock>,
}

/// The kubelet test's environment: back-off 1 s → 60 s on a fake clock.
pub fn env(
    runtime: ScriptedImageService,
    cfg: ManagerConfig,
    puller: PullerConfig,
    qps: f64,
    burst: u32,
) -> Env {
    let clock = Arc::new(FakeClock::at(Duration::from_secs(1_000)));
    env_at(runtime, cfg, puller, qps, burst, clock)
}

/// [`env`] on a given clock.
pub fn env_at(
    runtime: ScriptedImageService,
    cfg: ManagerConfig,
    puller: PullerConfig,
    qps: f64,
    burst: u32,
    clock: Arc<FakeClock>,
) -> Env {
    let runtime = Arc::new(runtime);
    let records = Arc::new(MemPullRecords::with_call_log());
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
