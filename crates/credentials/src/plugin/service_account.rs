//! Service-account tokens for plugins (KEP-4412), as pkg/credentialprovider/plugin/plugin.go
//! `serviceAccountProvider` and `perPodPluginProvider` do it: the pod's identity reaches the
//! plugin provider, which reads the pod's ServiceAccount (UID and the configured annotations),
//! asks for a token with the configured audience bound to the pod, and keys its cache (and its
//! single-flight group) on the account; with `cacheType: Token` also on the token's hash.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::Secret;

pub use crate::account::ServiceAccountRef;

/// What the kubelet reads of a ServiceAccount (`getServiceAccountFunc`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountData {
    /// metadata.uid.
    pub uid: String,
    /// metadata.annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The TokenRequest the kubelet makes for a plugin (`getServiceAccountToken`): audience the
/// configured one, bound to the pod, `metadata.uid` the account's UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The pod's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The ServiceAccount's UID.
    pub service_account_uid: String,
    /// `spec.audiences[0]`: the provider's `serviceAccountTokenAudience`.
    pub audience: String,
    /// `spec.boundObjectRef.name`: the pod.
    pub pod_name: String,
    /// `spec.boundObjectRef.uid`.
    pub pod_uid: String,
}

/// Where ServiceAccounts and their tokens come from: the API server on a live cluster, the
/// inputs and a token file offline. Errors are the text the kubelet would log.
pub trait ServiceAccounts: Send + Sync + fmt::Debug {
    /// The ServiceAccount `namespace/name`.
    fn get(&self, namespace: &str, name: &str) -> Result<ServiceAccountData, String>;
    /// A token for `request`.
    fn token(&self, request: &TokenRequest) -> Result<Secret, String>;
}

/// A pod as the kubelet hands it to the plugin keyring
/// (`NewExternalCredentialProviderDockerKeyring(podNamespace, podName, podUID, serviceAccountName)`).
#[derive(Clone)]
pub struct PodContext {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// `spec.serviceAccountName` (empty: none).
    pub service_account: String,
    /// Where its ServiceAccount and token come from.
    pub accounts: Arc<dyn ServiceAccounts>,
}

impl fmt::Debug for PodContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodContext")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("uid", &self.uid)
            .field("service_account", &self.service_account)
            .finish_non_exhaustive()
    }
}

/// golang.org/x/crypto/cryptobyte as plugin.go's `cacheKeyBuilder` uses it: strings with a
/// 2-byte length prefix, the annotation count as 4 bytes, annotations sorted by key. A string
/// longer than 65,535 bytes fails, as cryptobyte's builder does.
#[derive(Default)]
pub(crate) struct KeyBuilder {
    bytes: Vec<u8>,
    too_long: bool,
}

impl KeyBuilder {
    pub(crate) fn string(mut self, s: &[u8]) -> Self {
        match u16::try_from(s.len()) {
            Ok(n) => {
                self.bytes.extend_from_slice(&n.to_be_bytes());
                self.bytes.extend_from_slice(s);
            }
            Err(_) => self.too_long = true,
        }
        self
    }

    pub(crate) fn annotations(mut self, a: &BTreeMap<String, String>) -> Self {
        let n = u32::try_from(a.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&n.to_be_bytes());
        for (k, v) in a {
            self = self.string(k.as_bytes()).string(v.as_bytes());
        }
        self
    }

    pub(crate) fn build(self) -> Result<Vec<u8>, String> {
        if self.too_long {
            Err("cryptobyte: pending child length exceeds 2-byte length prefix".into())
        } else {
            Ok(self.bytes)
        }
    }
}

/// plugin.go `getHashIfNotEmpty`.
pub(crate) fn token_hash(token: &str) -> String {
    if token.is_empty() {
        return String::new();
    }
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// plugin.go `generateServiceAccountCacheKey`.
pub(crate) fn service_account_cache_key(
    account: &ServiceAccountRef,
    annotations: &BTreeMap<String, String>,
    token_hash_if_token_cache: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut b = KeyBuilder::default()
        .string(account.namespace.as_bytes())
        .string(account.name.as_bytes())
        .string(account.uid.as_bytes())
        .annotations(annotations);
    if let Some(h) = token_hash_if_token_cache {
        b = b.string(b"token").string(h.as_bytes());
    }
    b.build()
}

/// plugin.go `generateCacheKey`.
pub(crate) fn cache_key(base: &str, service_account_key: &[u8]) -> Result<Vec<u8>, String> {
    KeyBuilder::default()
        .string(base.as_bytes())
        .string(service_account_key)
        .build()
}

/// plugin.go `generateSingleFlightKey`.
pub(crate) fn single_flight_key(
    image: &str,
    token_hash: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, String> {
    KeyBuilder::default()
        .string(image.as_bytes())
        .string(token_hash.as_bytes())
        .annotations(annotations)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    // plugin.go: cryptobyte AddUint16LengthPrefixed / AddUint32, annotations in key order.
    #[test]
    fn keys_are_length_prefixed_and_sorted() {
        let mut a = BTreeMap::new();
        a.insert("b".to_string(), "2".to_string());
        a.insert("a".to_string(), "1".to_string());
        let sa = ServiceAccountRef {
            uid: "u".into(),
            namespace: "ns".into(),
            name: "sa".into(),
        };
        let k = service_account_cache_key(&sa, &a, None).unwrap();
        assert_eq!(
            k,
            b"\x00\x02ns\x00\x02sa\x00\x01u\x00\x00\x00\x02\x00\x01a\x00\x011\x00\x01b\x00\x012"
        );
        let with_token = service_account_cache_key(&sa, &a, Some("sha256:ab")).unwrap();
        assert!(with_token.starts_with(&k));
        assert!(with_token.ends_with(b"\x00\x05token\x00\x09sha256:ab"));
        // Namespace "a" + name "bc" differs from "ab" + "c": the prefixes keep them apart.
        let x = cache_key("a", b"bc").unwrap();
        let y = cache_key("ab", b"c").unwrap();
        assert_ne!(x, y);
        assert!(cache_key(&"x".repeat(70_000), b"").is_err());
        assert_eq!(token_hash(""), "");
        assert_eq!(
            token_hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
