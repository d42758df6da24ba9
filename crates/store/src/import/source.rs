//! Where an import reads from: a directory, or a tar archive indexed once for random access.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Files of an OCI layout or docker-archive, by relative path.
pub(crate) enum Source {
    /// A directory.
    Dir(PathBuf),
    /// A tar archive: relative path → (data offset, size).
    Tar {
        path: PathBuf,
        /// What to call the archive in messages (the user's file, when `path` is a
        /// decompressed copy).
        display: String,
        entries: HashMap<String, (u64, u64)>,
    },
}

fn clean(p: &str) -> String {
    let mut s = p.trim_start_matches("./").to_string();
    while s.starts_with('/') {
        s.remove(0);
    }
    s
}

/// The tar crate's reason, without the raw header bytes some of its messages quote (the
/// garbage would otherwise be echoed into the error): up to " when getting cksum for", its
/// first line, at most 100 characters, control characters dropped.
fn tar_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" when getting cksum").next().unwrap_or("");
    let first = text.lines().next().unwrap_or("");
    let mut out: String = first
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    if first.chars().count() > 100 {
        out.push_str("...");
    }
    out
}

impl Source {
    pub(crate) fn open(path: &Path) -> Result<Source, StoreError> {
        Source::open_named(path, path.display().to_string())
    }

    /// Open `path`, naming it `display` in messages.
    pub(crate) fn open_named(path: &Path, display: String) -> Result<Source, StoreError> {
        let md = std::fs::metadata(path).map_err(|e| StoreError::io("stat", path, e))?;
        if md.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
        let file_len = md.len();
        let bad = |message: String| StoreError::Invalid {
            what: "tar archive".into(),
            path: display.clone(),
            message,
        };
        let mut ar = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = ar
            .entries_with_seek()
            .map_err(|e| bad(format!("cannot read entries: {e}")))?;
        let mut any = false;
        let mut last = String::new();
        for ent in iter {
            let ent = ent.map_err(|e| {
                if any {
                    let reason = tar_reason(&e);
                    bad(format!("corrupt or truncated after entry {last}: {reason}"))
                } else {
                    bad(
                        "not a tar archive (its first block is no valid tar header); expected an \
                         OCI image layout (directory or tar) or a docker-archive tar, optionally \
                         gzip-compressed"
                            .into(),
                    )
                }
            })?;
            any = true;
            last = String::from_utf8_lossy(&ent.path_bytes()).into_owned();
            let et = ent.header().entry_type();
            if !(et.is_file() || et == tar::EntryType::Continuous) {
                continue;
            }
            let name = ent
                .path()
                .map_err(|e| bad(format!("bad entry name: {e}")))?
                .to_string_lossy()
                .into_owned();
            let offset = ent.raw_file_position();
            let size = ent.size();
            let end = offset.saturating_add(size);
            if end > file_len {
                return Err(bad(format!(
                    "truncated: entry {name} needs bytes up to {end} but the file has {file_len}"
                )));
            }
            entries.insert(clean(&name), (offset, size));
        }
        if !any {
            return Err(bad("no entries (empty or not a tar archive)".into()));
        }
        Ok(Source::Tar {
            path: path.to_path_buf(),
            display,
            entries,
        })
    }

    /// `ARCHIVE:rel` or `DIR/rel`, for error messages.
    pub(crate) fn describe(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Tar { display, .. } => format!("{display}:{rel}"),
        }
    }

    /// The archive or directory itself.
    pub(crate) fn origin(&self) -> String {
        match self {
            Source::Dir(d) => d.display().to_string(),
            Source::Tar { display, .. } => display.clone(),
        }
    }

    /// The file `rel` of a directory source, refusing paths that leave the directory and
    /// symbolic links (on the file or on a directory on the way); `None` when it is missing.
    fn dir_file(&self, d: &Path, rel: &str) -> Result<Option<PathBuf>, StoreError> {
        use std::path::Component;
        let unsafe_path = |reason: &str| StoreError::UnsafePath {
            path: self.describe(rel),
            reason: reason.to_string(),
        };
        let mut cur = d.to_path_buf();
        for comp in Path::new(rel).components() {
            match comp {
                Component::CurDir => continue,
                Component::Normal(c) => cur.push(c),
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(unsafe_path("leaves the directory"));
                }
            }
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(unsafe_path("is a symbolic link"));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::io("stat", &cur, e)),
            }
        }
        Ok(Some(cur))
    }

    /// Whether the layout has a regular file `rel` (an error for a path that is not safe to
    /// read: see [`Source::dir_file`]).
    pub(crate) fn exists(&self, rel: &str) -> Result<bool, StoreError> {
        match self {
            Source::Dir(d) => Ok(self.dir_file(d, rel)?.is_some_and(|p| p.is_file())),
            Source::Tar { entries, .. } => Ok(entries.contains_key(&clean(rel))),
        }
    }

    /// The size of file `rel`.
    pub(crate) fn size(&self, rel: &str) -> Result<u64, StoreError> {
        Ok(self.reader(rel)?.1)
    }

    /// Open a file; returns the reader and its size.
    pub(crate) fn reader(&self, rel: &str) -> Result<(Box<dyn Read>, u64), StoreError> {
        match self {
            Source::Dir(d) => {
                let p = match self.dir_file(d, rel)? {
                    Some(p) => p,
                    None => d.join(rel),
                };
                let mut oo = std::fs::OpenOptions::new();
                oo.read(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    // The last component may have become a link since it was checked.
                    oo.custom_flags(libc::O_NOFOLLOW);
                }
                let f = oo.open(&p).map_err(|e| StoreError::io("open", &p, e))?;
                let size = f
                    .metadata()
                    .map_err(|e| StoreError::io("stat", &p, e))?
                    .len();
                Ok((Box::new(BufReader::with_capacity(1 << 20, f)), size))
            }
            Source::Tar { path, entries, .. } => {
                let Some(&(offset, size)) = entries.get(&clean(rel)) else {
                    return Err(StoreError::io(
                        "open",
                        PathBuf::from(self.describe(rel)),
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no such entry"),
                    ));
                };
                let mut f = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| StoreError::io("seek", path, e))?;
                Ok((
                    Box::new(BufReader::with_capacity(1 << 20, f).take(size)),
                    size,
                ))
            }
        }
    }

    /// Read a small file (index.json, manifest.json, ...) whole, up to `limit` bytes.
    pub(crate) fn read_small(&self, rel: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        let (r, size) = self.reader(rel)?;
        if size > limit {
            return Err(StoreError::Invalid {
                what: rel.to_string(),
                path: self.describe(rel),
                message: format!("{size} bytes is more than the limit of {limit}"),
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io("read", PathBuf::from(self.describe(rel)), e))?;
        Ok(buf)
    }
}
