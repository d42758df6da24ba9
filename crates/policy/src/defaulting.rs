//! Pull policy defaulting and the kubelet's default tag.
//!
//! Upstream: pkg/apis/core/v1/defaults.go (SetDefaults_Container), pkg/util/parsers/parsers.go
//! (ParseImageName), pkg/kubelet/images/image_manager.go (applyDefaultImageTag).

use std::borrow::Cow;

use pullsim_reference::{ParseError, parse_image_name};

use crate::messages;
use crate::vocab::{Event, EventReason, PullPolicy};

/// The policy the API server gives a container whose `imagePullPolicy` is empty:
/// `Always` when the image's tag is exactly `latest` (case-sensitive) — which includes an image
/// with neither tag nor digest — and `IfNotPresent` otherwise (a digest only, any other tag,
/// tag `latest` with a digest counts as `latest`, an unparsable image).
pub fn default_pull_policy(image: &str) -> PullPolicy {
    match parse_image_name(image) {
        Ok(n) if n.tag == "latest" => PullPolicy::Always,
        _ => PullPolicy::IfNotPresent,
    }
}

/// The image the kubelet hands to the runtime: the string as written, plus `:latest` when it has
/// neither tag nor digest (applyDefaultImageTag; the name is not normalized). Fails, as the
/// kubelet does (InvalidImageName), when the image cannot be parsed.
pub fn apply_default_image_tag(image: &str) -> Result<Cow<'_, str>, ParseError> {
    let parsed = parse_image_name(image)?;
    if parsed.digest.is_empty() && !parsed.tag.is_empty() {
        let suffix_len = parsed.tag.len() + 1;
        let has_suffix = image.len() >= suffix_len
            && image.ends_with(parsed.tag.as_str())
            && image.as_bytes()[image.len() - suffix_len] == b':';
        if !has_suffix {
            return Ok(Cow::Owned(format!("{image}:{}", parsed.tag)));
        }
    }
    Ok(Cow::Borrowed(image))
}

/// The Warning `InspectFailed` event (and InvalidImageName waiting message) for an image the
/// kubelet cannot parse: `Failed to apply default image tag "IMAGE": couldn't parse image name
/// "IMAGE": …`.
pub fn invalid_image_event(image: &str, err: &ParseError) -> Event {
    Event::warning(
        EventReason::InspectFailed,
        messages::failed_default_tag(image, &err.upstream()),
    )
}
