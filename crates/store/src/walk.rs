//! Walking an image from its top-level descriptor (manifest or index) to its config and
//! layers: used by loads (fetching each blob from the archive first) and by the index rebuild
//! (checking each blob in the store).
//!
//! Children are memoized and every blob is counted once, so an index that lists the same child
//! many times, nested, costs one visit per distinct blob and records the true size; manifests,
//! indexes and configs are read with a size cap.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use pullsim_reference::Digest;
use serde::Deserialize;

use crate::{Store, StoreError, media};

/// Largest manifest, index or config read into memory.
pub(crate) const SMALL_LIMIT: u64 = 8 << 20;

/// Index nesting allowed below a top-level index.
const MAX_DEPTH: u32 = 4;

#[derive(Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Deserialize, Clone)]
pub(crate) struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    pub(crate) fn text(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct IndexDoc {
    #[serde(default)]
    pub(crate) manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ConfigDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

pub(crate) fn invalid(what: &str, path: String, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        what: what.into(),
        path,
        message: e.to_string(),
    }
}

/// What walking one descriptor found.
pub(crate) struct Tree {
    /// Distinct blobs, the descriptor's own first, with their sizes.
    pub(crate) blobs: Vec<(Digest, u64)>,
    pub(crate) config: Digest,
    pub(crate) platform: Option<String>,
}

impl Tree {
    /// Total size of the distinct blobs.
    pub(crate) fn size(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }

    /// The blobs' digests.
    pub(crate) fn digests(&self) -> Vec<Digest> {
        self.blobs.iter().map(|(d, _)| d.clone()).collect()
    }
}

pub(crate) fn parse_digest(text: &str, context: &str) -> Result<Digest, StoreError> {
    let d = Digest::parse(text).map_err(|e| StoreError::Invalid {
        what: "digest".into(),
        path: context.to_string(),
        message: format!("{text:?}: {e}"),
    })?;
    if d.algorithm() != pullsim_reference::Algorithm::Sha256 {
        return Err(StoreError::UnsupportedDigest {
            digest: d.to_string(),
        });
    }
    Ok(d)
}

/// The platform a multi-platform image resolves to on this machine.
fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    ("linux", arch)
}

/// Makes a blob present in the store (or checks that it is): `(digest, size, declared_in)`.
pub(crate) type Fetch<'a> = dyn FnMut(&Digest, u64, &str) -> Result<(), StoreError> + 'a;

/// A walk over one source of blobs, memoizing every manifest and index it has seen.
pub(crate) struct Walker<'a, 'f> {
    store: &'a Store,
    fetch: &'f mut Fetch<'f>,
    /// How to name a blob in messages (`ARCHIVE:blobs/sha256/<hex>`).
    describe: &'a dyn Fn(&Digest) -> String,
    memo: HashMap<Digest, Rc<Tree>>,
}

impl<'a, 'f> Walker<'a, 'f> {
    pub(crate) fn new(
        store: &'a Store,
        fetch: &'f mut Fetch<'f>,
        describe: &'a dyn Fn(&Digest) -> String,
    ) -> Self {
        Walker {
            store,
            fetch,
            describe,
            memo: HashMap::new(),
        }
    }

    fn read_small(&self, d: &Digest, what: &str, file: &str) -> Result<Vec<u8>, StoreError> {
        let size = self.store.blob_size(d)?;
        if size > SMALL_LIMIT {
            return Err(StoreError::TooLarge {
                what: what.into(),
                path: file.to_string(),
                limit: SMALL_LIMIT,
                detail: format!("it has {size} bytes"),
            });
        }
        self.store.read_blob(d)
    }

    fn check_small(
        &self,
        what: &str,
        file: &str,
        size: u64,
        declared_in: &str,
    ) -> Result<(), StoreError> {
        if size > SMALL_LIMIT {
            return Err(StoreError::TooLarge {
                what: what.into(),
                path: file.to_string(),
                limit: SMALL_LIMIT,
                detail: format!("its descriptor in {declared_in} declares {size} bytes"),
            });
        }
        Ok(())
    }

    /// Walk `desc` (declared in `declared_in`), fetching every blob it reaches.
    pub(crate) fn walk(
        &mut self,
        desc: &Descriptor,
        declared_in: &str,
    ) -> Result<Rc<Tree>, StoreError> {
        self.walk_at(desc, declared_in, 0)
    }

    fn walk_at(
        &mut self,
        desc: &Descriptor,
        declared_in: &str,
        depth: u32,
    ) -> Result<Rc<Tree>, StoreError> {
        let digest = parse_digest(&desc.digest, declared_in)?;
        if let Some(t) = self.memo.get(&digest) {
            return Ok(t.clone());
        }
        let file = (self.describe)(&digest);
        let tree = if media::is_manifest(&desc.media_type) {
            self.manifest(desc, &digest, &file, declared_in)?
        } else if media::is_index(&desc.media_type) {
            if depth > MAX_DEPTH {
                return Err(invalid(
                    "image index",
                    file,
                    format!("nested more than {MAX_DEPTH} levels deep"),
                ));
            }
            self.index(desc, &digest, &file, declared_in, depth)?
        } else {
            return Err(StoreError::UnknownMediaType {
                media_type: desc.media_type.clone(),
                digest: desc.digest.clone(),
                path: declared_in.to_string(),
            });
        };
        let tree = Rc::new(tree);
        self.memo.insert(digest, tree.clone());
        Ok(tree)
    }

    fn manifest(
        &mut self,
        desc: &Descriptor,
        digest: &Digest,
        file: &str,
        declared_in: &str,
    ) -> Result<Tree, StoreError> {
        self.check_small("image manifest", file, desc.size, declared_in)?;
        (self.fetch)(digest, desc.size, declared_in)?;
        let bytes = self.read_small(digest, "image manifest", file)?;
        let m: ManifestDoc = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("image manifest", file.to_string(), e))?;
        if !media::is_config(&m.config.media_type) {
            return Err(StoreError::UnknownMediaType {
                media_type: m.config.media_type.clone(),
                digest: m.config.digest.clone(),
                path: file.to_string(),
            });
        }
        let config = parse_digest(&m.config.digest, file)?;
        let config_file = (self.describe)(&config);
        self.check_small("image config", &config_file, m.config.size, file)?;
        (self.fetch)(&config, m.config.size, file)?;
        let mut seen = HashSet::new();
        let mut blobs = vec![(digest.clone(), desc.size)];
        seen.insert(digest.clone());
        if seen.insert(config.clone()) {
            blobs.push((config.clone(), m.config.size));
        }
        for l in &m.layers {
            if !media::is_layer(&l.media_type) {
                return Err(StoreError::UnknownMediaType {
                    media_type: l.media_type.clone(),
                    digest: l.digest.clone(),
                    path: file.to_string(),
                });
            }
            let ld = parse_digest(&l.digest, file)?;
            if seen.insert(ld.clone()) {
                (self.fetch)(&ld, l.size, file)?;
                blobs.push((ld, l.size));
            }
        }
        let platform = match &desc.platform {
            Some(p) if !p.os.is_empty() => Some(p.text()),
            _ => {
                let cfg = self.read_small(&config, "image config", &config_file)?;
                serde_json::from_slice::<ConfigDoc>(&cfg)
                    .ok()
                    .filter(|c| !c.os.is_empty())
                    .map(|c| {
                        Platform {
                            os: c.os,
                            architecture: c.architecture,
                            variant: c.variant,
                        }
                        .text()
                    })
            }
        };
        Ok(Tree {
            blobs,
            config,
            platform,
        })
    }

    fn index(
        &mut self,
        desc: &Descriptor,
        digest: &Digest,
        file: &str,
        declared_in: &str,
        depth: u32,
    ) -> Result<Tree, StoreError> {
        self.check_small("image index", file, desc.size, declared_in)?;
        (self.fetch)(digest, desc.size, declared_in)?;
        let bytes = self.read_small(digest, "image index", file)?;
        let idx: IndexDoc = serde_json::from_slice(&bytes)
            .map_err(|e| invalid("image index", file.to_string(), e))?;
        let mut seen_blobs: HashSet<Digest> = HashSet::new();
        let mut seen_children: HashSet<&str> = HashSet::new();
        let mut blobs = vec![(digest.clone(), desc.size)];
        seen_blobs.insert(digest.clone());
        let mut chosen: Option<(bool, Digest, Option<String>)> = None;
        let (os, arch) = host_platform();
        for child in &idx.manifests {
            let is_host = child
                .platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == arch);
            let fresh = seen_children.insert(child.digest.as_str());
            if !fresh && (!is_host || chosen.as_ref().is_some_and(|c| c.0)) {
                // Listed again: already walked and counted.
                continue;
            }
            let t = self.walk_at(child, file, depth + 1)?;
            if fresh {
                for (b, s) in &t.blobs {
                    if seen_blobs.insert(b.clone()) {
                        blobs.push((b.clone(), *s));
                    }
                }
            }
            if chosen.as_ref().is_none_or(|c| !c.0 && is_host) {
                chosen = Some((is_host, t.config.clone(), t.platform.clone()));
            }
        }
        let Some((_, config, platform)) = chosen else {
            return Err(invalid(
                "image index",
                file.to_string(),
                "lists no manifests",
            ));
        };
        Ok(Tree {
            blobs,
            config,
            platform,
        })
    }
}
