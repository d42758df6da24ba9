//! The kubelet-side seams of the image manager: the pod's credentials and the clock. The
//! container runtime is reached through `pullsim_runtime::ImageService`, the pull records
//! through [`crate::records::PullRecordsAccessor`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pullsim_credentials::AuthConfig;
use pullsim_policy::Time;

use crate::error::NodeError;
use crate::records::{ImagePullSecret, ImagePullServiceAccount};

/// Where a credential came from, as the kubelet tracks it (credentialprovider.TrackedAuthConfig).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialOrigin {
    /// A pod pull secret: its coordinates (the credential hash is kept beside).
    Secret {
        /// Secret UID.
        uid: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A plugin's credential got with a token for the pod's ServiceAccount (KEP-4412): the
    /// kubelet's `CredentialSource.ServiceAccount`; a pull with it records the account.
    ServiceAccount {
        /// ServiceAccount UID.
        uid: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The plugin that answered.
        plugin: String,
    },
    /// A node credential (config file or plugin): `Source == nil` in the kubelet, so a pull with
    /// it makes the image accessible to every pod on the node.
    Node {
        /// Where, e.g. `node:/root/.docker/config.json`.
        description: String,
    },
}

/// One credential to try, in the keyring's order.
#[derive(Clone, Debug)]
pub struct TrackedCredential {
    /// The credential itself (redacted by type).
    pub auth: AuthConfig,
    /// Where it came from.
    pub origin: CredentialOrigin,
    /// sha256 of the credential (the kubelet's AuthConfigHash); never the credential.
    pub hash: String,
    /// The keyring key that matched, e.g. `127.0.0.1:5000`.
    pub key: String,
    /// Why it matched, in words.
    pub why: String,
}

impl TrackedCredential {
    /// `secret:ns/name` or the node description, for reports.
    pub fn label(&self) -> String {
        match &self.origin {
            CredentialOrigin::Secret {
                namespace, name, ..
            } => format!("secret:{namespace}/{name}"),
            CredentialOrigin::ServiceAccount {
                namespace,
                name,
                plugin,
                ..
            } => format!("plugin:{plugin} (serviceaccount:{namespace}/{name})"),
            CredentialOrigin::Node { description } => description.clone(),
        }
    }

    /// The kubelet's ImagePullServiceAccount for this credential, when a plugin got it with a
    /// token for the pod's ServiceAccount.
    pub fn service_account_coordinates(&self) -> Option<ImagePullServiceAccount> {
        match &self.origin {
            CredentialOrigin::ServiceAccount {
                uid,
                namespace,
                name,
                ..
            } => Some(ImagePullServiceAccount {
                uid: uid.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
            }),
            _ => None,
        }
    }

    /// The kubelet's ImagePullSecret for this credential, when it is a pod secret.
    pub fn secret_coordinates(&self) -> Option<ImagePullSecret> {
        match &self.origin {
            CredentialOrigin::Secret {
                uid,
                namespace,
                name,
            } => Some(ImagePullSecret {
                uid: uid.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                credential_hash: self.hash.clone(),
            }),
            CredentialOrigin::ServiceAccount { .. } | CredentialOrigin::Node { .. } => None,
        }
    }
}

/// A pod's credentials: the keyring made of its pull secrets and the node's credentials.
pub trait PodCredentials {
    /// Credentials for a repository (the kubelet looks up `repoToPull`, the normalized
    /// repository without tag or digest), in try order.
    fn lookup(&self, image: &str) -> Result<Vec<TrackedCredential>, NodeError>;

    /// Keys that did not match the image, each with why (for `pod explain`).
    fn misses(&self, _image: &str) -> Vec<String> {
        Vec::new()
    }
}

/// The clock the image manager and the sync loop read. Real or virtual.
pub trait Clock: Send + Sync {
    /// Now, since the run's epoch.
    fn now(&self) -> Time;
}

/// Real time since the clock was made.
#[derive(Debug)]
pub struct RealClock {
    start: Instant,
}

impl RealClock {
    /// A clock starting at zero now.
    pub fn new() -> Self {
        RealClock {
            start: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Time {
        self.start.elapsed()
    }
}

/// A virtual clock: time moves only when told (the sync loop, or a test).
#[derive(Debug, Default)]
pub struct FakeClock {
    now: Mutex<Duration>,
}

impl FakeClock {
    /// A clock at `t`.
    pub fn at(t: Duration) -> Self {
        FakeClock { now: Mutex::new(t) }
    }

    /// Set the time.
    pub fn set(&self, t: Duration) {
        if let Ok(mut g) = self.now.lock() {
            *g = t;
        }
    }

    /// Move the time forward.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut g) = self.now.lock() {
            *g += d;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Time {
        self.now.lock().map(|g| *g).unwrap_or_default()
    }
}
