//! The registries of one [`crate::containerd::LayoutCase`]: an upstream and a mirror (started
//! as the case's [`MirrorState`] says), each with its own image under one tag, so the image a
//! pull ends with says which host served it. Shared by the `ctr` oracle test and the tests that
//! run the same layouts through pullsim.

use crate::containerd::{LayoutCase, MirrorState, Side};
use crate::error::RegistryError;
use crate::image::ImageSpec;
use crate::registry::{Mode, RegistryConfig, RegistryHandle};

/// The repository and tag every layout case pulls.
pub const LAYOUT_REPO: &str = "team/app:v1";

/// The two registries of a case and what they hold.
pub struct LayoutSetup {
    /// The registry the image names.
    pub upstream: RegistryHandle,
    /// The mirror, `None` when the case wants it down (its port then refuses connections).
    pub mirror: Option<RegistryHandle>,
    /// The mirror's `host:port` (also when it is down).
    pub mirror_host: String,
    /// The upstream image's top-level digest.
    pub upstream_digest: String,
    /// The upstream image's config digest (its image ID).
    pub upstream_config: String,
    /// The mirror image's top-level digest, when the mirror serves the case's repository.
    pub mirror_digest: Option<String>,
    /// The mirror image's config digest, when the mirror serves the case's repository.
    pub mirror_config: Option<String>,
}

impl LayoutSetup {
    /// Start and fill the registries of `case` (images generated from `seed`).
    pub fn start(case: &LayoutCase, seed: u64) -> Result<LayoutSetup, RegistryError> {
        let upstream = RegistryHandle::start(Mode::Anonymous, RegistryConfig::default())?;
        let up = upstream.push_generated(&ImageSpec::simple("v1", 2, 2048, seed), LAYOUT_REPO)?;
        let mode = match case.mirror {
            MirrorState::Htpasswd => Mode::Htpasswd,
            _ => Mode::Anonymous,
        };
        let mirror = RegistryHandle::start(mode, RegistryConfig::default())?;
        let mirror_host = mirror.host.clone();
        let mirror_image = ImageSpec::simple("v1", 2, 2048, seed + 1000);
        let (mirror, mirror_image) = match case.mirror {
            MirrorState::Serves | MirrorState::Htpasswd => {
                let m = mirror.push_generated(&mirror_image, LAYOUT_REPO)?;
                (Some(mirror), Some(m))
            }
            MirrorState::MissingRepo => {
                mirror.push_generated(&mirror_image, "elsewhere/app:v1")?;
                (Some(mirror), None)
            }
            MirrorState::Down => {
                mirror.stop();
                (None, None)
            }
        };
        Ok(LayoutSetup {
            upstream_digest: up.top_digest().to_string(),
            upstream_config: up.manifests[0].config_digest.clone(),
            upstream,
            mirror,
            mirror_host,
            mirror_digest: mirror_image.as_ref().map(|m| m.top_digest().to_string()),
            mirror_config: mirror_image.map(|m| m.manifests[0].config_digest.clone()),
        })
    }

    /// Which registry `host` (`host:port`) is; `None` for neither.
    pub fn side_of(&self, host: &str) -> Option<Side> {
        if host == self.mirror_host {
            Some(Side::Mirror)
        } else if host == self.upstream.host {
            Some(Side::Upstream)
        } else {
            None
        }
    }

    /// The image ID (config digest) of `side`'s image.
    pub fn config_of(&self, side: Side) -> Option<&str> {
        match side {
            Side::Upstream => Some(&self.upstream_config),
            Side::Mirror => self.mirror_config.as_deref(),
        }
    }
}
