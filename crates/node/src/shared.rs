//! Small items the image manager, the puller, the pull manager and the commands share (a leaf
//! module: it uses nothing else of this crate).

use std::time::Duration;

use pullsim_runtime::{Code, PullImageResponse, RuntimeError};

pub use pullsim_policy::apply_default_image_tag;

/// Go's `utilerrors.NewAggregate(errs).Error()` (k8s.io/apimachinery/pkg/util/errors/errors.go):
/// one message as is; several, duplicates dropped, joined with `, ` inside brackets; none: empty.
pub fn go_aggregate<I, S>(messages: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let all: Vec<S> = messages.into_iter().collect();
    let mut seen: Vec<&str> = Vec::with_capacity(all.len());
    for m in &all {
        if !seen.contains(&m.as_ref()) {
            seen.push(m.as_ref());
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The text of a failed `PullImage` as the kubelet's CRI client hands it on
/// (staging/src/k8s.io/cri-client/pkg/remote_image.go pullImageV1): a status with code
/// `Unknown` is stripped to its description ("they add no value … it also ensures that checking
/// custom error types … works in EnsureImageExists"), any other code keeps the whole
/// `rpc error: code = … desc = …` text ([`RuntimeError`]'s Display).
pub fn pull_error_text(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Pull {
            code: Code::Unknown,
            desc,
            ..
        }
        | RuntimeError::Store {
            code: Code::Unknown,
            desc,
            ..
        }
        | RuntimeError::Invalid {
            code: Code::Unknown,
            desc,
        } => desc.clone(),
        other => other.to_string(),
    }
}

/// What the puller returns for a successful pull.
#[derive(Clone, Debug)]
pub struct PullDone {
    /// The runtime's answer (the image reference).
    pub response: PullImageResponse,
    /// The image size, `ImageStatus(image).size` after the pull (the kubelet's GetImageSize,
    /// best effort: 0 when the status cannot be read).
    pub size: u64,
    /// Time in the runtime (excluding the wait for a pull slot).
    pub pull_duration: Duration,
    /// Index of the credential that worked (`None`: anonymous).
    pub credential: Option<usize>,
}

/// Wall-clock Unix seconds: records persist across runs, so they carry real time.
pub(crate) fn wall_clock_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Wall-clock Unix milliseconds.
pub(crate) fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_like_go() {
        // k8s.io/apimachinery/pkg/util/errors/errors.go aggregate.Error
        assert_eq!(go_aggregate::<_, &str>([]), "");
        assert_eq!(go_aggregate(["a"]), "a");
        assert_eq!(go_aggregate(["a", "a"]), "a");
        assert_eq!(go_aggregate(["a", "b"]), "[a, b]");
        assert_eq!(go_aggregate(["a", "b", "a"]), "[a, b]");
    }

    #[test]
    fn unknown_status_is_stripped_other_codes_kept() {
        // cri-client remote_image.go pullImageV1.
        let e = RuntimeError::pull(
            Code::Unknown,
            "x",
            "failed to pull and unpack image \"x\": boom",
        );
        assert_eq!(
            pull_error_text(&e),
            "failed to pull and unpack image \"x\": boom"
        );
        let e = RuntimeError::pull(
            Code::NotFound,
            "x",
            "failed to pull and unpack image \"x\": nf",
        );
        assert_eq!(
            pull_error_text(&e),
            "rpc error: code = NotFound desc = failed to pull and unpack image \"x\": nf"
        );
    }
}
