//! A ServiceAccount's coordinates, as the kubelet tracks the source of a credential
//! (credentialprovider.ServiceAccountCoordinates).

use std::fmt;

/// A ServiceAccount that provided credentials (the kubelet records it in KEP-2535 pull records
/// as `kubernetesServiceAccounts`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ServiceAccountRef {
    /// The account's UID.
    pub uid: String,
    /// Its namespace (the pod's).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
