//! A scripted runtime for table tests (the style of the kubelet's `ctest.FakeRuntime` in
//! pkg/kubelet/container/testing): it answers as told and records every CRI call in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pullsim_credentials::AuthConfig;
use tokio::sync::Notify;

use crate::cri::{
    AuthTrace, Image, ImageFsInfo, ImageSpec, PodSandboxConfig, PullImageResponse, ResolveAttempt,
    Resolved,
};
use crate::error::{Code, RuntimeError};
use crate::service::ImageService;

/// A hook run at the start of every `PullImage` (e.g. to move a virtual clock forward).
pub type PullHook = Box<dyn Fn(&str) + Send + Sync>;

/// A runtime that answers from a script. Images are keyed by the exact string the kubelet
/// sends (the spec's image with the default tag applied) or by image ID.
#[derive(Default)]
pub struct ScriptedImageService {
    images: Mutex<BTreeMap<String, Image>>,
    calls: Mutex<Vec<String>>,
    /// `ImageStatus` fails with this description (ImageInspectError).
    pub status_error: Option<String>,
    /// Every `PullImage` fails with this description (code Unknown).
    pub pull_error: Option<String>,
    /// Usernames the registry accepts; empty: every pull (anonymous too) succeeds.
    pub accepted_users: Vec<String>,
    /// Pulls of this image wait for the notification.
    pub block: Option<(String, Arc<Notify>)>,
    /// Run at the start of every pull.
    pub on_pull: Option<PullHook>,
    /// Size reported for pulled images.
    pub pulled_size: u64,
}

impl std::fmt::Debug for ScriptedImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedImageService")
            .field("images", &self.images)
            .finish_non_exhaustive()
    }
}

/// A stable fake image ID for an image string.
pub fn fake_image_id(image: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    image.hash(&mut h);
    format!("sha256:{:064x}", h.finish())
}

impl ScriptedImageService {
    /// An empty runtime whose pulls succeed with size 1234.
    pub fn new() -> Self {
        ScriptedImageService {
            pulled_size: 1234,
            ..Default::default()
        }
    }

    /// Make `image` present with image ID `id`.
    pub fn with_image(self, image: &str, id: &str) -> Self {
        self.put(image, id);
        self
    }

    /// Make `image` present with image ID `id` (size [`Self::pulled_size`]).
    pub fn put(&self, image: &str, id: &str) {
        if let Ok(mut g) = self.images.lock() {
            g.insert(
                image.to_string(),
                Image {
                    id: id.to_string(),
                    repo_tags: vec![image.to_string()],
                    size: self.pulled_size,
                    ..Image::default()
                },
            );
        }
    }

    /// The calls so far, in order (`ImageStatus(IMAGE)`, `PullImage(IMAGE as USER)`, …).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Forget the calls so far.
    pub fn clear_calls(&self) {
        if let Ok(mut g) = self.calls.lock() {
            g.clear();
        }
    }

    fn call(&self, c: String) {
        if let Ok(mut g) = self.calls.lock() {
            g.push(c);
        }
    }

    fn who(auth: Option<&AuthConfig>) -> String {
        auth.map(|a| a.username.clone()).unwrap_or_default()
    }

    fn refused(&self, image: &str, who: &str) -> Option<RuntimeError> {
        if let Some(e) = &self.pull_error {
            return Some(RuntimeError::pull(Code::Unknown, image, e.clone()));
        }
        if !self.accepted_users.is_empty() && !self.accepted_users.iter().any(|u| u == who) {
            let who = if who.is_empty() { "anonymous" } else { who };
            return Some(RuntimeError::pull(
                Code::Unknown,
                image,
                format!("failed to pull and unpack image {image:?}: 401 Unauthorized for {who}"),
            ));
        }
        None
    }
}

impl ImageService for ScriptedImageService {
    async fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        _sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullImageResponse, RuntimeError> {
        let who = Self::who(auth);
        self.call(if who.is_empty() {
            format!("PullImage({})", image.image)
        } else {
            format!("PullImage({} as {who})", image.image)
        });
        if let Some(hook) = &self.on_pull {
            hook(&image.image);
        }
        if let Some((blocked, notify)) = &self.block
            && *blocked == image.image
        {
            notify.notified().await;
        }
        if let Some(e) = self.refused(&image.image, &who) {
            return Err(e);
        }
        let existing = self
            .images
            .lock()
            .ok()
            .and_then(|g| g.get(&image.image).map(|i| i.id.clone()));
        let id = existing.unwrap_or_else(|| fake_image_id(&image.image));
        self.put(&image.image, &id);
        Ok(PullImageResponse {
            image_ref: id,
            ..PullImageResponse::default()
        })
    }

    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        self.call(format!("ImageStatus({})", image.image));
        if let Some(e) = &self.status_error {
            return Err(RuntimeError::Invalid {
                code: Code::Unknown,
                desc: e.clone(),
            });
        }
        let g = self.images.lock().map_err(|_| RuntimeError::Invalid {
            code: Code::Internal,
            desc: "scripted runtime poisoned".into(),
        })?;
        Ok(g.get(&image.image)
            .or_else(|| g.values().find(|i| i.id == image.image))
            .cloned())
    }

    fn list_images(&self, filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError> {
        self.call("ListImages".into());
        let g = self.images.lock().map_err(|_| RuntimeError::Invalid {
            code: Code::Internal,
            desc: "scripted runtime poisoned".into(),
        })?;
        let mut by_id: BTreeMap<String, Image> = BTreeMap::new();
        for (name, img) in g.iter() {
            if filter.is_some_and(|f| f.image != *name && f.image != img.id) {
                continue;
            }
            let e = by_id.entry(img.id.clone()).or_insert_with(|| Image {
                repo_tags: Vec::new(),
                ..img.clone()
            });
            e.repo_tags.push(name.clone());
        }
        Ok(by_id.into_values().collect())
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<(), RuntimeError> {
        self.call(format!("RemoveImage({})", image.image));
        if let Ok(mut g) = self.images.lock() {
            let id = g
                .get(&image.image)
                .map(|i| i.id.clone())
                .unwrap_or_else(|| image.image.clone());
            g.retain(|_, i| i.id != id);
        }
        Ok(())
    }

    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError> {
        self.call("ImageFsInfo".into());
        let imgs = self.list_images(None)?;
        Ok(ImageFsInfo {
            used_bytes: imgs.iter().map(|i| i.size).sum(),
            inodes_used: imgs.len() as u64,
        })
    }

    async fn mark_used(&self, image_id: &str, at_unix_ms: u64) -> Result<(), RuntimeError> {
        if let Ok(mut g) = self.images.lock() {
            for i in g.values_mut().filter(|i| i.id == image_id) {
                i.last_used_unix_ms = i.last_used_unix_ms.max(at_unix_ms);
            }
        }
        Ok(())
    }

    async fn resolve_image(&self, image: &ImageSpec, auth: Option<&AuthConfig>) -> ResolveAttempt {
        let who = Self::who(auth);
        self.call(format!("ResolveImage({})", image.image));
        let result = match self.refused(&image.image, &who) {
            Some(e) => Err(e),
            None => Ok(Resolved {
                digest: fake_image_id(&format!("manifest {}", image.image)),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 0,
            }),
        };
        ResolveAttempt {
            result,
            trace: AuthTrace::default(),
        }
    }
}
