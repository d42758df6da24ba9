//! Matching a reference to its `[[registry]]`, rewriting it, and the sources of a pull
//! (`refMatchingPrefix`, `refMatchingSubdomainPrefix`, `findRegistryWithParsedConfig`,
//! `rewriteReference`, `PullSourcesFromReference` in
//! `pkg/sysregistriesv2/system_registries_v2.go`; the blocked check of
//! `docker/docker_client.go` `newDockerClient`; the credential rule of
//! `docker/docker_image_src.go` `newImageSourceAttempt`).

use pullsim_reference::Reference;

use super::error::PullSourceError;
use super::types::{Endpoint, PullFromMirror, PullSource, RegistriesConf, Registry};

/// `refMatchingSubdomainPrefix`: `prefix` is `*.example.com`; the match must lie in the host
/// part and end the host (at `:`, `/`, `@` or the end). Returns the matched length.
fn ref_matching_subdomain_prefix(reference: &str, prefix: &str) -> Option<usize> {
    let suffix = prefix.get(1..)?;
    let index = reference.find(suffix)?;
    if reference[..index].contains('/') {
        return None;
    }
    let end = index + suffix.len();
    match reference.as_bytes().get(end) {
        None => Some(end),
        Some(b':' | b'/' | b'@') => Some(end),
        Some(_) => None,
    }
}

/// `refMatchingPrefix`: the length of `reference` matched by `prefix`, or `None`.
///
/// A plain prefix matches the whole reference or a leading part followed by `:`, `/` or `@`;
/// a wildcard prefix (`*.example.com`) matches subdomains (see the upstream table in the tests).
pub fn ref_matching_prefix(reference: &str, prefix: &str) -> Option<usize> {
    if prefix.starts_with("*.") {
        return ref_matching_subdomain_prefix(reference, prefix);
    }
    if reference.len() < prefix.len() || !reference.starts_with(prefix) {
        return None;
    }
    match reference.as_bytes().get(prefix.len()) {
        None => Some(prefix.len()),
        Some(b':' | b'/' | b'@') => Some(prefix.len()),
        Some(_) => None,
    }
}

/// Whether the credentials of the pull request (CRI `AuthConfig`, containers/image
/// `DockerAuthConfig`) are sent to the source `physical` of a pull of `logical`: only when both
/// have the same domain. "we must not blindly send the credentials intended for the primary
/// endpoint to mirrors" (`docker/docker_image_src.go` `newImageSourceAttempt`). Credentials
/// looked up per registry (auth files) are not affected by this rule.
pub fn sends_request_credentials(logical: &Reference, physical: &Reference) -> bool {
    physical.domain() == logical.domain()
}

impl Endpoint {
    /// `rewriteReference`: replace the part of `reference` matched by `prefix` with this
    /// endpoint's location. An empty location (wildcard prefix only) keeps the reference.
    pub fn rewrite_reference(
        &self,
        reference: &Reference,
        prefix: &str,
    ) -> Result<Reference, PullSourceError> {
        let s = reference.as_str();
        let Some(prefix_len) = ref_matching_prefix(s, prefix) else {
            return Err(PullSourceError::PrefixMismatch {
                prefix: prefix.to_owned(),
                reference: s.to_owned(),
            });
        };
        if self.location.is_empty() {
            if !prefix.starts_with("*.") {
                return Err(PullSourceError::EmptyLocation {
                    prefix: prefix.to_owned(),
                });
            }
            return Ok(reference.clone());
        }
        let rewritten = format!("{}{}", self.location, &s[prefix_len..]);
        Reference::parse_named(&rewritten)
            .map_err(|source| PullSourceError::Rewrite { rewritten, source })
    }
}

impl Registry {
    /// A registry entry for a reference no `[[registry]]` matches: the reference itself as
    /// prefix and location (`docker/docker_image_src.go` `newImageSource`).
    pub fn implicit(reference: &Reference) -> Registry {
        Registry {
            prefix: reference.as_str().to_owned(),
            endpoint: Endpoint {
                location: reference.as_str().to_owned(),
                insecure: false,
                pull_from_mirror: PullFromMirror::All,
            },
            mirrors: Vec::new(),
            blocked: false,
            mirror_by_digest_only: false,
        }
    }

    /// `PullSourcesFromReference`: the sources to try, in order. Mirrors come first, in file
    /// order: with `mirror-by-digest-only` only for a digest reference; otherwise each mirror's
    /// `pull-from-mirror` keeps it for digest references (`digest-only`), tag references
    /// (`tag-only`) or both (`all`). The primary location is always last. A reference with a
    /// digest (with or without a tag) counts as a digest reference (`reference.Canonical`).
    pub fn pull_sources(&self, reference: &Reference) -> Result<Vec<PullSource>, PullSourceError> {
        let is_digested = reference.digest().is_some();
        let mirrors = self.mirrors.iter().filter(|m| {
            if self.mirror_by_digest_only {
                return is_digested;
            }
            match m.pull_from_mirror {
                PullFromMirror::All => true,
                PullFromMirror::DigestOnly => is_digested,
                PullFromMirror::TagOnly => !is_digested,
            }
        });
        mirrors
            .chain(std::iter::once(&self.endpoint))
            .map(|ep| {
                Ok(PullSource {
                    reference: ep.rewrite_reference(reference, &self.prefix)?,
                    endpoint: ep.clone(),
                })
            })
            .collect()
    }
}

impl RegistriesConf {
    /// `FindRegistry`: the entry whose prefix matches `reference` (a name such as
    /// `Reference::name_str`, or a full reference) with the longest prefix; on equal lengths
    /// the first in prefix order. `None` when nothing matches.
    pub fn find_registry(&self, reference: &str) -> Option<&Registry> {
        let mut best: Option<&Registry> = None;
        for r in &self.registries {
            if ref_matching_prefix(reference, &r.prefix).is_some()
                && best.is_none_or(|b| r.prefix.len() > b.prefix.len())
            {
                best = Some(r);
            }
        }
        best
    }

    /// The sources of a pull of `reference` (`newImageSource`): the sources of the registry
    /// [`RegistriesConf::find_registry`] finds for its name, or of [`Registry::implicit`].
    /// Each source must still pass [`RegistriesConf::check_not_blocked`] when it is tried.
    pub fn pull_sources(&self, reference: &Reference) -> Result<Vec<PullSource>, PullSourceError> {
        match self.find_registry(reference.name_str()) {
            Some(r) => r.pull_sources(reference),
            None => Registry::implicit(reference).pull_sources(reference),
        }
    }

    /// Refuse a source whose name lies in a `blocked` registry (`newDockerClient`, run for each
    /// source as it is tried): `registry <prefix> is blocked in <conf> or <conf.d>`.
    pub fn check_not_blocked(&self, source: &Reference) -> Result<(), PullSourceError> {
        match self.find_registry(source.name_str()) {
            Some(r) if r.blocked => Err(PullSourceError::Blocked {
                prefix: r.prefix.clone(),
                config_path: self.config_path.clone(),
                config_dir_path: self.config_dir_path.clone(),
            }),
            _ => Ok(()),
        }
    }
}
