//! One download per blob per process.

use std::sync::Arc;

use pullsim_reference::Digest;

/// One download per blob per process: concurrent pulls needing the same blob wait for the
/// first and then find it in the store.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    map: std::sync::Mutex<std::collections::HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    /// The lock for a digest (created on first use).
    pub(crate) fn lock_for(&self, d: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        match self.map.lock() {
            Ok(mut m) => m.entry(d.clone()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Drop the entry when nobody else holds it.
    pub(crate) fn release(&self, d: &Digest) {
        if let Ok(mut m) = self.map.lock()
            && let Some(l) = m.get(d)
            && Arc::strong_count(l) == 1
        {
            m.remove(d);
        }
    }
}
