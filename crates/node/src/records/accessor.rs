//! The record types of `kubelet.config.k8s.io` and the `PullRecordsAccessor` interface (a leaf
//! of the records module: every accessor uses it).

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::error::RecordsError;

/// `ImagePullCredentials`: the credentials recorded for one image name. The same type as the
/// policy crate verifies against (its `preloaded` flag has no field in
/// `kubelet.config.k8s.io/v1alpha1` and must stay false in written records).
pub type ImagePullCredentials = pullsim_policy::verification::RecordedCredentials;
/// `ImagePullSecret`: a secret's coordinates and the hash of the credential it provided.
pub type ImagePullSecret = pullsim_policy::verification::SecretCoordinates;
/// `ImagePullServiceAccount`: a service account's coordinates.
pub type ImagePullServiceAccount = pullsim_policy::verification::ServiceAccountCoordinates;

/// `ImagePullIntent`: an image (as written in a pod spec) whose pull started and has not
/// finished.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImagePullIntent {
    /// The container's `image` field.
    pub image: String,
}

/// `ImagePulledRecord`: which credentials pulled an image ID, by image name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImagePulledRecord {
    /// `lastUpdatedTime` in Unix seconds (the kubelet writes RFC 3339 seconds); `None` is Go's
    /// zero time, written as `null`.
    pub last_updated_time: Option<i64>,
    /// `imageRef`: the image ID as the runtime returned it.
    pub image_ref: String,
    /// `credentialMapping`: normalized image name without tag or digest → credentials.
    pub credential_mapping: BTreeMap<String, ImagePullCredentials>,
}

/// A listing that may have partly failed (interfaces.go: "a list of records that were
/// successfully read and an aggregated error is returned in that case").
#[derive(Debug, Default)]
pub struct Listed<T> {
    /// What could be read.
    pub items: Vec<T>,
    /// What could not, aggregated.
    pub error: Option<RecordsError>,
}

/// `PullRecordsAccessor` (pkg/kubelet/images/pullmanager/interfaces.go): unified access to
/// ImagePullIntents and ImagePulledRecords whatever the backing store.
pub trait PullRecordsAccessor {
    /// `ListImagePullIntents`: every intent that decodes; undecodable ones are reported in
    /// [`Listed::error`].
    fn list_image_pull_intents(&self) -> Listed<ImagePullIntent>;
    /// `ImagePullIntentExists`: whether a valid intent exists for `image`.
    fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError>;
    /// `WriteImagePullIntent`.
    fn write_image_pull_intent(&self, image: &str) -> Result<(), RecordsError>;
    /// `DeleteImagePullIntent` (absent: not an error).
    fn delete_image_pull_intent(&self, image: &str) -> Result<(), RecordsError>;
    /// `ListImagePulledRecords`.
    fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord>;
    /// `GetImagePulledRecord`: `Ok(None)` when there is no record (or the file's record is for
    /// another imageRef); `Err` when a record exists but cannot be read.
    fn get_image_pulled_record(
        &self,
        image_ref: &str,
    ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError>;
    /// `WriteImagePulledRecord` (replaces the record for its imageRef).
    fn write_image_pulled_record(&self, record: &ImagePulledRecord) -> Result<(), RecordsError>;
    /// `DeleteImagePulledRecord` (absent: not an error).
    fn delete_image_pulled_record(&self, image_ref: &str) -> Result<(), RecordsError>;
}

macro_rules! forward_accessor {
    ($($t:tt)*) => {
        $($t)* {
            fn list_image_pull_intents(&self) -> Listed<ImagePullIntent> {
                (**self).list_image_pull_intents()
            }
            fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError> {
                (**self).image_pull_intent_exists(image)
            }
            fn write_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
                (**self).write_image_pull_intent(image)
            }
            fn delete_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
                (**self).delete_image_pull_intent(image)
            }
            fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord> {
                (**self).list_image_pulled_records()
            }
            fn get_image_pulled_record(
                &self,
                image_ref: &str,
            ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError> {
                (**self).get_image_pulled_record(image_ref)
            }
            fn write_image_pulled_record(
                &self,
                record: &ImagePulledRecord,
            ) -> Result<(), RecordsError> {
                (**self).write_image_pulled_record(record)
            }
            fn delete_image_pulled_record(&self, image_ref: &str) -> Result<(), RecordsError> {
                (**self).delete_image_pulled_record(image_ref)
            }
        }
    };
}

forward_accessor!(impl<T: PullRecordsAccessor + ?Sized> PullRecordsAccessor for Arc<T>);
forward_accessor!(impl<T: PullRecordsAccessor + ?Sized> PullRecordsAccessor for &T);
forward_accessor!(impl<T: PullRecordsAccessor + ?Sized> PullRecordsAccessor for Box<T>);
