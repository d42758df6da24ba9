//! Records in memory (tests, the fleet simulator) and the dry-run wrapper of `pod explain`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::accessor::{
    ImagePullIntent, ImagePulledRecord, Listed, PullRecordsAccessor, RecordsError,
};

/// An accessor over plain maps. With [`MemPullRecords::with_call_log`] it records every call
/// by the kubelet's method name (`GetImagePulledRecord`, `WriteImagePullIntent`, …), in the
/// style of the kubelet's fakes.
#[derive(Debug, Default)]
pub struct MemPullRecords {
    pulled: Mutex<BTreeMap<String, Arc<ImagePulledRecord>>>,
    intents: Mutex<BTreeSet<String>>,
    calls: Option<Mutex<Vec<&'static str>>>,
}

fn lock<'a, T>(m: &'a Mutex<T>, what: &'static str) -> Result<MutexGuard<'a, T>, RecordsError> {
    m.lock().map_err(|_| RecordsError::Poisoned { what })
}

impl MemPullRecords {
    /// Empty, without a call log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty, logging every call.
    pub fn with_call_log() -> Self {
        MemPullRecords {
            calls: Some(Mutex::new(Vec::new())),
            ..Self::default()
        }
    }

    /// The calls so far (empty without a call log).
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls
            .as_ref()
            .and_then(|c| c.lock().ok().map(|g| g.clone()))
            .unwrap_or_default()
    }

    /// Forget the calls so far.
    pub fn clear_calls(&self) {
        if let Some(Ok(mut g)) = self.calls.as_ref().map(Mutex::lock) {
            g.clear();
        }
    }

    /// Put a record without logging a call (test set-up).
    pub fn insert(&self, record: ImagePulledRecord) {
        if let Ok(mut g) = self.pulled.lock() {
            g.insert(record.image_ref.clone(), Arc::new(record));
        }
    }

    /// Put an intent without logging a call (test set-up).
    pub fn insert_intent(&self, image: &str) {
        if let Ok(mut g) = self.intents.lock() {
            g.insert(image.to_string());
        }
    }

    /// The record for `image_ref`, without logging a call.
    pub fn record(&self, image_ref: &str) -> Option<ImagePulledRecord> {
        self.pulled
            .lock()
            .ok()
            .and_then(|g| g.get(image_ref).map(|r| (**r).clone()))
    }

    /// Every record, by imageRef, without logging a call.
    pub fn records(&self) -> Vec<ImagePulledRecord> {
        self.pulled
            .lock()
            .map(|g| g.values().map(|r| (**r).clone()).collect())
            .unwrap_or_default()
    }

    /// Every intent's image, sorted, without logging a call.
    pub fn intents(&self) -> Vec<String> {
        self.intents
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn call(&self, name: &'static str) {
        if let Some(Ok(mut g)) = self.calls.as_ref().map(Mutex::lock) {
            g.push(name);
        }
    }
}

impl PullRecordsAccessor for MemPullRecords {
    fn list_image_pull_intents(&self) -> Listed<ImagePullIntent> {
        self.call("ListImagePullIntents");
        match lock(&self.intents, "intents") {
            Ok(g) => Listed {
                items: g
                    .iter()
                    .map(|i| ImagePullIntent { image: i.clone() })
                    .collect(),
                error: None,
            },
            Err(e) => Listed {
                items: Vec::new(),
                error: Some(e),
            },
        }
    }

    fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError> {
        self.call("ImagePullIntentExists");
        Ok(lock(&self.intents, "intents")?.contains(image))
    }

    fn write_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        self.call("WriteImagePullIntent");
        lock(&self.intents, "intents")?.insert(image.to_string());
        Ok(())
    }

    fn delete_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        self.call("DeleteImagePullIntent");
        lock(&self.intents, "intents")?.remove(image);
        Ok(())
    }

    fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord> {
        self.call("ListImagePulledRecords");
        match lock(&self.pulled, "pulled records") {
            Ok(g) => Listed {
                items: g.values().map(|r| (**r).clone()).collect(),
                error: None,
            },
            Err(e) => Listed {
                items: Vec::new(),
                error: Some(e),
            },
        }
    }

    fn get_image_pulled_record(
        &self,
        image_ref: &str,
    ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError> {
        self.call("GetImagePulledRecord");
        Ok(lock(&self.pulled, "pulled records")?
            .get(image_ref)
            .cloned())
    }

    fn write_image_pulled_record(&self, record: &ImagePulledRecord) -> Result<(), RecordsError> {
        self.call("WriteImagePulledRecord");
        lock(&self.pulled, "pulled records")?
            .insert(record.image_ref.clone(), Arc::new(record.clone()));
        Ok(())
    }

    fn delete_image_pulled_record(&self, image_ref: &str) -> Result<(), RecordsError> {
        self.call("DeleteImagePulledRecord");
        lock(&self.pulled, "pulled records")?.remove(image_ref);
        Ok(())
    }
}

/// Reads through to another accessor and discards every write (reporting success): what
/// `pod explain` runs the image manager's decision over, so that a dry run reads exactly what a
/// run would read and changes nothing.
#[derive(Debug, Clone)]
pub struct DryRunRecords<R>(pub R);

impl<R: PullRecordsAccessor> PullRecordsAccessor for DryRunRecords<R> {
    fn list_image_pull_intents(&self) -> Listed<ImagePullIntent> {
        self.0.list_image_pull_intents()
    }
    fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError> {
        self.0.image_pull_intent_exists(image)
    }
    fn write_image_pull_intent(&self, _image: &str) -> Result<(), RecordsError> {
        Ok(())
    }
    fn delete_image_pull_intent(&self, _image: &str) -> Result<(), RecordsError> {
        Ok(())
    }
    fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord> {
        self.0.list_image_pulled_records()
    }
    fn get_image_pulled_record(
        &self,
        image_ref: &str,
    ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError> {
        self.0.get_image_pulled_record(image_ref)
    }
    fn write_image_pulled_record(&self, _record: &ImagePulledRecord) -> Result<(), RecordsError> {
        Ok(())
    }
    fn delete_image_pulled_record(&self, _image_ref: &str) -> Result<(), RecordsError> {
        Ok(())
    }
}
