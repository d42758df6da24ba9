//! The kubelet's exact message strings. `IMAGE` is always the image as written in the pod spec
//! (`requestedImage`), quoted with Go's `%q` where the kubelet uses `%q`.
//!
//! Each function names the upstream file its format string comes from. The image manager
//! strings are from pkg/kubelet/images/image_manager.go (EnsureImageExists, imagePullPrecheck,
//! imageNotPresentOnNeverPolicyError, pullImage, evalCRIPullErr) at the release that has the
//! KEP-2535 pull manager (1.33+).

use std::time::Duration;

pub use crate::go::{go_duration, go_quote};
use crate::vocab::Reason;

/// The error text of the kubelet's throttled image service when the registry QPS token bucket
/// refuses a pull (throttleImagePulling in pkg/kubelet/images/puller.go). The pull fails at once
/// with it; the image manager then reports it like any pull error (`Failed to pull image …:
/// pull QPS exceeded`, reason ErrImagePull) and backs off.
pub const PULL_QPS_EXCEEDED: &str = "pull QPS exceeded";

/// The suffix appended to [`already_present`] when KEP-2535 verification applies.
pub const ACCESSIBLE_SUFFIX: &str = " and can be accessed by the pod";

/// Normal `Pulled`: the image is present and will be used.
///
/// `accessible` selects the KEP-2535 form. The kubelet appends
/// ` and can be accessed by the pod` exactly when the feature gate
/// KubeletEnsureSecretPulledImages is enabled and the pull manager's MustAttemptImagePull said
/// no pull is needed (which includes policies that exempt the image from verification). With
/// the gate disabled the short form is used. Upstream: pkg/kubelet/images/image_manager.go
/// (EnsureImageExists).
pub fn already_present(image: &str, accessible: bool) -> String {
    let mut msg = format!(
        "Container image {} already present on machine",
        go_quote(image)
    );
    if accessible {
        msg.push_str(ACCESSIBLE_SUFFIX);
    }
    msg
}

/// Warning `ErrImageNeverPull`: `Never` and the image is absent, or present but not accessible to
/// the pod (the same message, so presence is not revealed).
/// Upstream: pkg/kubelet/images/image_manager.go (imageNotPresentOnNeverPolicyError).
pub fn never_pull(image: &str) -> String {
    format!(
        "Container image {} is not present with pull policy of Never",
        go_quote(image)
    )
}

/// Normal `Pulling`. Upstream: pkg/kubelet/images/image_manager.go (pullImage).
pub fn pulling(image: &str) -> String {
    format!("Pulling image {}", go_quote(image))
}

/// Normal `BackOff` event message. Upstream: pkg/kubelet/images/image_manager.go (pullImage).
pub fn back_off(image: &str) -> String {
    format!("Back-off pulling image {}", go_quote(image))
}

/// The waiting message returned with ImagePullBackOff: the event message, followed by
/// `: ` and the previous pull error (see [`previous_pull_error`]) when the kubelet remembers one.
/// Upstream: pkg/kubelet/images/image_manager.go (pullImage, prevPullErrMsg).
pub fn back_off_status(image: &str, previous_error: Option<&str>) -> String {
    let msg = back_off(image);
    match previous_error {
        Some(prev) => format!("{msg}: {prev}"),
        None => msg,
    }
}

/// What the kubelet remembers of a failed pull for the back-off message: `REASON: MESSAGE`,
/// where MESSAGE is the waiting message of the failure (see [`eval_pull_error`]).
/// Upstream: pkg/kubelet/images/image_manager.go (pullImage, `prevPullErrMsg.Store`).
pub fn previous_pull_error(reason: Reason, message: &str) -> String {
    format!("{reason}: {message}")
}

/// Warning `Failed`: the pull failed with `err` (the runtime's error text).
/// Upstream: pkg/kubelet/images/image_manager.go (pullImage).
pub fn failed_to_pull(image: &str, err: &str) -> String {
    format!("Failed to pull image {}: {err}", go_quote(image))
}

/// Normal `Pulled` after a successful pull: `pull` is the puller's own time, `total` includes
/// waiting in the puller queue; both are truncated to milliseconds, as the kubelet does.
/// Upstream: pkg/kubelet/images/image_manager.go (pullImage).
pub fn successfully_pulled(image: &str, pull: Duration, total: Duration, size: u64) -> String {
    format!(
        "Successfully pulled image {} in {} ({} including waiting). Image size: {size} bytes.",
        go_quote(image),
        go_duration(truncate_to_millis(pull)),
        go_duration(truncate_to_millis(total)),
    )
}

/// Go's `d.Truncate(time.Millisecond)`.
pub fn truncate_to_millis(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Warning `InspectFailed` (and the InvalidImageName waiting message): the image name could not
/// be parsed. `err` is the parser's error text, e.g.
/// `couldn't parse image name "Nginx": invalid reference format: repository name (library/Nginx) must be lowercase`.
/// Upstream: pkg/kubelet/images/image_manager.go (EnsureImageExists).
pub fn failed_default_tag(image: &str, err: &str) -> String {
    format!(
        "Failed to apply default image tag {}: {err}",
        go_quote(image)
    )
}

/// Warning `InspectFailed` (reason ImageInspectError): the local lookup failed.
///
/// Note: the newest kubelet formats this with the image *reference* returned by the failed
/// lookup, not the image name, so the quoted part is normally `""`; pass what the lookup
/// returned (usually `""`). Upstream: pkg/kubelet/images/image_manager.go (imagePullPrecheck).
pub fn failed_to_inspect(image_ref: &str, err: &str) -> String {
    format!("Failed to inspect image {}: {err}", go_quote(image_ref))
}

/// The waiting message when a pull intent cannot be recorded (KEP-2535).
/// Upstream: pkg/kubelet/images/image_manager.go (pullImage).
pub fn failed_to_record_intent(image: &str, err: &str) -> String {
    format!(
        "Failed to record image pull intent for container image {}: {err}",
        go_quote(image)
    )
}

/// The reason and waiting message for a failed pull, as evalCRIPullErr derives them from the
/// runtime's error text: a text starting with `RegistryUnavailable` gives RegistryUnavailable and
/// `image pull failed for IMAGE because the registry is unavailable` + the rest of the text
/// (IMAGE unquoted); `SignatureValidationFailed` likewise; anything else is ErrImagePull with the
/// error text unchanged. Upstream: pkg/kubelet/images/image_manager.go (evalCRIPullErr).
pub fn eval_pull_error(image: &str, err: &str) -> (Reason, String) {
    if let Some(rest) = err.strip_prefix(Reason::RegistryUnavailable.as_str()) {
        return (
            Reason::RegistryUnavailable,
            format!("image pull failed for {image} because the registry is unavailable{rest}"),
        );
    }
    if let Some(rest) = err.strip_prefix(Reason::SignatureValidationFailed.as_str()) {
        return (
            Reason::SignatureValidationFailed,
            format!("image pull failed for {image} because the signature validation failed{rest}"),
        );
    }
    (Reason::ErrImagePull, err.to_string())
}

/// Warning `FreeDiskSpaceFailed` from image GC.
/// Upstream: pkg/kubelet/images/image_gc_manager.go (GarbageCollect).
pub fn gc_not_enough_freed(attempted: i64, freed: i64) -> String {
    format!(
        "Failed to garbage collect required amount of images. Attempted to free {attempted} bytes, but only found {freed} bytes eligible to free."
    )
}

/// Warning `InvalidDiskCapacity` from image GC.
/// Upstream: pkg/kubelet/images/image_gc_manager.go (GarbageCollect).
pub const GC_INVALID_CAPACITY: &str = "invalid capacity 0 on image filesystem";

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden strings from pkg/kubelet/images/image_manager.go and its tests
    /// (image_manager_test.go expects these event messages).
    #[test]
    fn golden_messages() {
        assert_eq!(
            already_present("nginx:1.25", false),
            r#"Container image "nginx:1.25" already present on machine"#
        );
        assert_eq!(
            already_present("nginx:1.25", true),
            r#"Container image "nginx:1.25" already present on machine and can be accessed by the pod"#
        );
        assert_eq!(
            never_pull("x"),
            r#"Container image "x" is not present with pull policy of Never"#
        );
        assert_eq!(back_off("x"), r#"Back-off pulling image "x""#);
        assert_eq!(pulling("busybox"), r#"Pulling image "busybox""#);
        assert_eq!(
            failed_to_pull("x", "rpc error: not found"),
            r#"Failed to pull image "x": rpc error: not found"#
        );
        assert_eq!(
            successfully_pulled(
                "x",
                Duration::from_millis(1200),
                Duration::from_millis(1300),
                123
            ),
            r#"Successfully pulled image "x" in 1.2s (1.3s including waiting). Image size: 123 bytes."#
        );
        assert_eq!(
            successfully_pulled(
                "ghcr.io/a/b:latest",
                Duration::from_nanos(308_999_999),
                Duration::from_nanos(308_000_001),
                64753325
            ),
            r#"Successfully pulled image "ghcr.io/a/b:latest" in 308ms (308ms including waiting). Image size: 64753325 bytes."#
        );
        assert_eq!(
            failed_default_tag(
                "Nginx",
                "couldn't parse image name \"Nginx\": invalid reference format"
            ),
            r#"Failed to apply default image tag "Nginx": couldn't parse image name "Nginx": invalid reference format"#
        );
        assert_eq!(
            failed_to_inspect("", "rpc error"),
            r#"Failed to inspect image "": rpc error"#
        );
    }

    #[test]
    fn back_off_status_carries_previous_error() {
        let prev = previous_pull_error(Reason::ErrImagePull, "pull QPS exceeded");
        assert_eq!(
            back_off_status("x", Some(&prev)),
            r#"Back-off pulling image "x": ErrImagePull: pull QPS exceeded"#
        );
        assert_eq!(back_off_status("x", None), r#"Back-off pulling image "x""#);
    }

    /// evalCRIPullErr, pkg/kubelet/images/image_manager.go (cases from image_manager_test.go
    /// TestEvalCRIPullErr).
    #[test]
    fn eval_pull_error_table() {
        let table = [
            ("test", (Reason::ErrImagePull, "test")),
            (
                "RegistryUnavailable",
                (
                    Reason::RegistryUnavailable,
                    "image pull failed for test because the registry is unavailable",
                ),
            ),
            (
                "RegistryUnavailable: foo",
                (
                    Reason::RegistryUnavailable,
                    "image pull failed for test because the registry is unavailable: foo",
                ),
            ),
            (
                "SignatureValidationFailed",
                (
                    Reason::SignatureValidationFailed,
                    "image pull failed for test because the signature validation failed",
                ),
            ),
            (
                "SignatureValidationFailed: foo",
                (
                    Reason::SignatureValidationFailed,
                    "image pull failed for test because the signature validation failed: foo",
                ),
            ),
        ];
        for (err, (reason, msg)) in table {
            assert_eq!(
                eval_pull_error("test", err),
                (reason, msg.to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn gc_texts() {
        assert_eq!(
            gc_not_enough_freed(450, 50),
            "Failed to garbage collect required amount of images. Attempted to free 450 bytes, but only found 50 bytes eligible to free."
        );
    }
}
