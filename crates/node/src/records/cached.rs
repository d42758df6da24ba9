//! `cachedPullRecordsAccessor` (pkg/kubelet/images/pullmanager/mem_pullrecords.go): a
//! write-through cache over another accessor. Both kinds are listed once at construction; when
//! a listing succeeds and fits the cache (1024 intents, 2000 pulled records — the kubelet's
//! caps), the cache is authoritative and a miss is an answer; otherwise misses fall through
//! to the delegate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::accessor::{
    ImagePullIntent, ImagePulledRecord, Listed, PullRecordsAccessor, RecordsError,
};

/// The kubelet's cap on cached intents.
pub const INTENTS_CACHE_SIZE: usize = 1024;
/// The kubelet's cap on cached pulled records.
pub const PULLED_RECORDS_CACHE_SIZE: usize = 2000;

#[derive(Debug, Default)]
struct Cache<V> {
    entries: HashMap<String, V>,
    authoritative: bool,
}

/// A write-through cache over `A`.
#[derive(Debug)]
pub struct CachedPullRecords<A> {
    delegate: A,
    intents: Mutex<Cache<()>>,
    pulled: Mutex<Cache<Arc<ImagePulledRecord>>>,
}

impl<A: PullRecordsAccessor> CachedPullRecords<A> {
    /// NewCachedPullRecordsAccessor: warm both caches by listing the delegate (a failed listing
    /// leaves the cache non-authoritative, as the kubelet logs and carries on).
    pub fn new(delegate: A) -> Self {
        let c = Self::lazy(delegate);
        let _ = c.list_image_pull_intents();
        let _ = c.list_image_pulled_records();
        c
    }

    /// The same cache, not warmed: it starts non-authoritative, so each lookup falls through to
    /// the delegate once and is remembered. For a one-shot process (one `pullsim` command) that
    /// asks about a few images, reading every record file at start would be work that grows
    /// with the node's records and buys nothing.
    pub fn lazy(delegate: A) -> Self {
        CachedPullRecords {
            delegate,
            intents: Mutex::new(Cache::default()),
            pulled: Mutex::new(Cache::default()),
        }
    }

    /// The accessor behind the cache.
    pub fn delegate(&self) -> &A {
        &self.delegate
    }

    /// Whether both caches are authoritative (for tests and reports).
    pub fn is_authoritative(&self) -> bool {
        self.intents.lock().is_ok_and(|g| g.authoritative)
            && self.pulled.lock().is_ok_and(|g| g.authoritative)
    }
}

/// cacheRefreshingList: list through; a non-authoritative cache is refilled when the result
/// would make it authoritative, or when it is empty.
fn refresh<V, T>(
    cache: &Mutex<Cache<V>>,
    listed: Listed<T>,
    max: usize,
    key: impl Fn(&T) -> String,
    value: impl Fn(&T) -> V,
) -> Listed<T> {
    let Ok(mut g) = cache.lock() else {
        return listed;
    };
    if g.authoritative {
        return listed;
    }
    let authoritative = listed.error.is_none() && listed.items.len() < max;
    if authoritative || g.entries.is_empty() {
        g.entries = listed
            .items
            .iter()
            .take(max)
            .map(|t| (key(t), value(t)))
            .collect();
        g.authoritative = authoritative;
    }
    listed
}

impl<A: PullRecordsAccessor> PullRecordsAccessor for CachedPullRecords<A> {
    fn list_image_pull_intents(&self) -> Listed<ImagePullIntent> {
        refresh(
            &self.intents,
            self.delegate.list_image_pull_intents(),
            INTENTS_CACHE_SIZE,
            |i| i.image.clone(),
            |_| (),
        )
    }

    fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError> {
        {
            let g = self
                .intents
                .lock()
                .map_err(|_| RecordsError::Poisoned { what: "intents" })?;
            if g.entries.contains_key(image) {
                return Ok(true);
            }
            if g.authoritative {
                return Ok(false);
            }
        }
        let exists = self.delegate.image_pull_intent_exists(image)?;
        if exists && let Ok(mut g) = self.intents.lock() {
            g.entries.insert(image.to_string(), ());
        }
        Ok(exists)
    }

    fn write_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        self.delegate.write_image_pull_intent(image)?;
        if let Ok(mut g) = self.intents.lock() {
            g.entries.insert(image.to_string(), ());
            if g.entries.len() > INTENTS_CACHE_SIZE {
                g.authoritative = false;
            }
        }
        Ok(())
    }

    fn delete_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        self.delegate.delete_image_pull_intent(image)?;
        if let Ok(mut g) = self.intents.lock() {
            g.entries.remove(image);
        }
        Ok(())
    }

    fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord> {
        refresh(
            &self.pulled,
            self.delegate.list_image_pulled_records(),
            PULLED_RECORDS_CACHE_SIZE,
            |r| r.image_ref.clone(),
            |r| Arc::new(r.clone()),
        )
    }

    fn get_image_pulled_record(
        &self,
        image_ref: &str,
    ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError> {
        {
            let g = self.pulled.lock().map_err(|_| RecordsError::Poisoned {
                what: "pulled records",
            })?;
            if let Some(r) = g.entries.get(image_ref) {
                return Ok(Some(r.clone()));
            }
            if g.authoritative {
                return Ok(None);
            }
        }
        let found = self.delegate.get_image_pulled_record(image_ref)?;
        if let Some(r) = &found
            && let Ok(mut g) = self.pulled.lock()
        {
            g.entries.insert(image_ref.to_string(), r.clone());
        }
        Ok(found)
    }

    fn write_image_pulled_record(&self, record: &ImagePulledRecord) -> Result<(), RecordsError> {
        self.delegate.write_image_pulled_record(record)?;
        if let Ok(mut g) = self.pulled.lock() {
            g.entries
                .insert(record.image_ref.clone(), Arc::new(record.clone()));
            if g.entries.len() > PULLED_RECORDS_CACHE_SIZE {
                g.authoritative = false;
            }
        }
        Ok(())
    }

    fn delete_image_pulled_record(&self, image_ref: &str) -> Result<(), RecordsError> {
        self.delegate.delete_image_pulled_record(image_ref)?;
        if let Ok(mut g) = self.pulled.lock() {
            g.entries.remove(image_ref);
        }
        Ok(())
    }
}
