//! kubernetes `pkg/util/parsers/parsers.go` `ParseImageName`.

use crate::error::ParseError;
use crate::reference::{DEFAULT_TAG, Reference};

/// The three parts the kubelet splits an image string into (`ParseImageName`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// The normalized repository (`docker.io/library/nginx`).
    pub repository: String,
    /// The tag; `latest` when the image has neither tag nor digest; empty when it has only a digest.
    pub tag: String,
    /// The digest string, or empty.
    pub digest: String,
}

/// kubernetes `parsers.ParseImageName`: normalize `image` (`ParseNormalizedNamed`) and split it
/// into repository, tag and digest, defaulting the tag to `latest` when there is neither.
///
/// Errors are [`ParseError::ImageName`], whose [`ParseError::upstream`] text is the kubelet's
/// `couldn't parse image name "<image>": <reason>`.
pub fn parse_image_name(image: &str) -> Result<ImageName, ParseError> {
    let named = Reference::parse_normalized(image).map_err(|e| ParseError::ImageName {
        image: image.to_owned(),
        cause: Box::new(e),
    })?;
    let mut tag = named.tag().unwrap_or("").to_owned();
    let digest = named.digest().map(|d| d.to_string()).unwrap_or_default();
    if tag.is_empty() && digest.is_empty() {
        tag = DEFAULT_TAG.to_owned();
    }
    Ok(ImageName {
        repository: named.name(),
        tag,
        digest,
    })
}
