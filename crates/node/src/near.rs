//! Images in the node's store whose names come close to one a pod asks for: another tag or
//! digest of the same repository, or the same last path element in another repository (a
//! name without a registry means `docker.io/library/`). `pod explain` lists them; the hints
//! `near-match-name` and `digest-changed-by-import` are drawn from them.

use pullsim_reference::Reference;
use pullsim_runtime::Image;

/// How a stored image's name is near the one asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NearKind {
    /// The same repository under another tag.
    OtherTag,
    /// The same repository under another digest (`repo@sha256:…`).
    OtherDigest,
    /// The same last path element in another repository; `docker_io_default`: the name asked
    /// for has no registry, so it meant `docker.io/library/` (or `docker.io/`).
    OtherRepository {
        /// The reference asked for was defaulted to docker.io.
        docker_io_default: bool,
    },
}

/// One stored name near the one asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearMatch {
    /// How it is near.
    pub kind: NearKind,
    /// The stored name (`registry.test/team/app:v1`, `…@sha256:…`).
    pub shown: String,
    /// The stored image's ID.
    pub id: String,
}

impl std::fmt::Display for NearMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (shown, id) = (&self.shown, &self.id);
        match self.kind {
            NearKind::OtherTag => {
                write!(
                    f,
                    "another tag of the same repository: {shown} (image {id})"
                )
            }
            NearKind::OtherDigest => write!(
                f,
                "another digest of the same repository: {shown} (image {id})"
            ),
            NearKind::OtherRepository { docker_io_default } => {
                write!(
                    f,
                    "the same name in another repository: {shown} (image {id})"
                )?;
                if docker_io_default {
                    f.write_str(
                        " — a name without a registry means docker.io/library/ (or docker.io/)",
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// The repository of a CRI image name (`repo:tag` or `repo@digest`).
fn repository_of(name: &str) -> &str {
    if let Some((repo, _)) = name.split_once('@') {
        return repo;
    }
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}

/// Stored names near `r`, in the store's order.
pub fn near_matches(images: &[Image], r: &Reference) -> Vec<NearMatch> {
    let last = r.path().rsplit('/').next().unwrap_or("").to_string();
    let mut out: Vec<NearMatch> = Vec::new();
    for img in images {
        for shown in img.repo_tags.iter().chain(img.repo_digests.iter()) {
            let repo = repository_of(shown);
            let kind = if repo == r.name() {
                if shown.contains('@') {
                    NearKind::OtherDigest
                } else {
                    NearKind::OtherTag
                }
            } else if repo.rsplit('/').next() == Some(last.as_str()) {
                NearKind::OtherRepository {
                    docker_io_default: r.domain() == "docker.io" && !r.to_string().contains(repo),
                }
            } else {
                continue;
            };
            let m = NearMatch {
                kind,
                shown: shown.clone(),
                id: img.id.clone(),
            };
            if out.last() != Some(&m) {
                out.push(m);
            }
        }
    }
    out
}
