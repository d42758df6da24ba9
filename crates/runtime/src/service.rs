//! The CRI ImageService trait (`cri-api/pkg/apis/services.go`, `ImageManagerService`).

use std::future::Future;

use pullsim_credentials::AuthConfig;

use crate::cri::{
    Image, ImageFsInfo, ImageSpec, PodSandboxConfig, PullImageResponse, PullRoute, ResolveAttempt,
};
use crate::error::RuntimeError;

/// The container runtime's image service, as the kubelet calls it over CRI.
///
/// Contracts:
/// - `image_status`, `list_images` and `image_fs_info` never touch the network.
/// - `pull_image` is one CRI `PullImage` with one credential (or none: anonymous). The kubelet's
///   credential loop (each credential in keyring order) is the caller's, not the runtime's.
/// - Errors are gRPC statuses whose text is the runtime's own (`rpc error: code = NotFound desc =
///   failed to pull and unpack image "REF": …`); credentials never appear in them.
/// - Implementations do their disk writes off the async threads.
pub trait ImageService {
    /// `PullImage(image, auth, sandbox_config)`: pull `image` (a reference as the kubelet sends
    /// it: the spec's image with the default tag applied) and return the image reference (the
    /// image ID, `sha256:<config digest>`).
    fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        sandbox: Option<&PodSandboxConfig>,
    ) -> impl Future<Output = Result<PullImageResponse, RuntimeError>>;

    /// `ImageStatus(image)`: the image when present, `None` when absent (CRI answers a nil
    /// image, not an error). `Err` when the lookup itself failed (the kubelet's
    /// ImageInspectError).
    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError>;

    /// The kubelet's `GetImageRef` (kuberuntime_image.go): `ImageStatus(image).id`, `None` when
    /// absent. Runtimes may answer it without building the whole [`Image`] (it is the
    /// cache-hit path of every container start); the answer must be the same.
    fn image_ref(&self, image: &ImageSpec) -> Result<Option<String>, RuntimeError> {
        self.image_status(image).map(|i| i.map(|i| i.id))
    }

    /// `ListImages(filter)`: every image (one entry per image ID, with all its tags and
    /// digests), or those matching `filter`.
    fn list_images(&self, filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError>;

    /// `RemoveImage(image)`: remove the image (by reference or image ID) and the content no other
    /// image uses. Removing an absent image is not an error (CRI: idempotent).
    fn remove_image(&self, image: &ImageSpec) -> impl Future<Output = Result<(), RuntimeError>>;

    /// `ImageFsInfo()`: usage of the image filesystem (bytes used by image content).
    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError>;

    /// pullsim extension, not in CRI: a container started from `image_id` at `at_unix_ms`.
    /// Stands in for the kubelet's in-memory last-used time (image GC's order), which a
    /// one-shot process must persist. Best effort; absent images are ignored.
    fn mark_used(
        &self,
        image_id: &str,
        at_unix_ms: u64,
    ) -> impl Future<Output = Result<(), RuntimeError>>;

    /// pullsim extension, not in CRI: the first stage of a pull alone — the auth flow and the
    /// resolution of the reference to its manifest — with the same hosts, credentials and error
    /// wording as `pull_image`, and no layer download. `pullsim creds check` is made of it.
    fn resolve_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> impl Future<Output = ResolveAttempt>;

    /// pullsim extension, not in CRI: the registry endpoints a pull of `image` would try, in
    /// order, and the credential each would be offered when the kubelet sends `auth` (no
    /// network). Empty when the runtime has no registry (a scripted runtime).
    fn pull_route(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> Result<PullRoute, RuntimeError> {
        let _ = (image, auth);
        Ok(PullRoute::default())
    }
}

impl<T: ImageService> ImageService for std::sync::Arc<T> {
    fn pull_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
        sandbox: Option<&PodSandboxConfig>,
    ) -> impl Future<Output = Result<PullImageResponse, RuntimeError>> {
        self.as_ref().pull_image(image, auth, sandbox)
    }
    fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>, RuntimeError> {
        self.as_ref().image_status(image)
    }
    fn image_ref(&self, image: &ImageSpec) -> Result<Option<String>, RuntimeError> {
        self.as_ref().image_ref(image)
    }
    fn list_images(&self, filter: Option<&ImageSpec>) -> Result<Vec<Image>, RuntimeError> {
        self.as_ref().list_images(filter)
    }
    fn remove_image(&self, image: &ImageSpec) -> impl Future<Output = Result<(), RuntimeError>> {
        self.as_ref().remove_image(image)
    }
    fn image_fs_info(&self) -> Result<ImageFsInfo, RuntimeError> {
        self.as_ref().image_fs_info()
    }
    fn mark_used(
        &self,
        image_id: &str,
        at_unix_ms: u64,
    ) -> impl Future<Output = Result<(), RuntimeError>> {
        self.as_ref().mark_used(image_id, at_unix_ms)
    }
    fn resolve_image(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> impl Future<Output = ResolveAttempt> {
        self.as_ref().resolve_image(image, auth)
    }
    fn pull_route(
        &self,
        image: &ImageSpec,
        auth: Option<&AuthConfig>,
    ) -> Result<PullRoute, RuntimeError> {
        self.as_ref().pull_route(image, auth)
    }
}
