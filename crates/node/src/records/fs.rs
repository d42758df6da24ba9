//! `fsPullRecordsAccessor` (pkg/kubelet/images/pullmanager/fs_pullrecords.go): one file per
//! record under `<kubeletDir>/image_manager/pulling` (intents) and `…/pulled` (pulled records),
//! named `sha256-` + hex(sha256(image or imageRef)), written to `<name>.tmp` then renamed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::accessor::{
    ImagePullIntent, ImagePulledRecord, Listed, PullRecordsAccessor, RecordsError,
};
use super::wire::{
    decode_pull_intent, decode_pulled_record, encode_pull_intent, encode_pulled_record,
};

const PREFIX: &str = "sha256-";
const TMP_SUFFIX: &str = ".tmp";

/// `cacheFilename`: `sha256-` + the lowercase hex SHA-256 of the image (intents) or imageRef
/// (pulled records).
pub fn cache_filename(key: &str) -> String {
    format!("{PREFIX}{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// The kubelet's file-system records accessor.
#[derive(Clone, Debug)]
pub struct FsPullRecords {
    pulling: PathBuf,
    pulled: PathBuf,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RecordsError {
    let path = path.to_path_buf();
    move |source| RecordsError::Io { op, path, source }
}

/// `os.MkdirAll(dir, 0700)`.
fn mkdir_all(dir: &Path) -> Result<(), RecordsError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io("failed to create directory", dir))
}

/// Read a file; `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RecordsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("failed to read", path)(e)),
    }
}

/// `os.Remove`, absent being success.
fn remove_optional(path: &Path) -> Result<(), RecordsError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("failed to remove", path)(e)),
        _ => Ok(()),
    }
}

/// writeFile: the content goes to `<name>.tmp` (mode 0600), then is renamed over `<name>`; the
/// temporary file is removed on failure.
fn write_file(dir: &Path, name: &str, content: &[u8]) -> Result<(), RecordsError> {
    use std::io::Write as _;
    mkdir_all(dir)?;
    let target = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let write = || -> std::io::Result<()> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&tmp)?;
        f.write_all(content)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("failed to create temporary file", &tmp)(e));
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("failed to rename into", &target)(e));
    }
    Ok(())
}

/// processDirFiles: every regular file whose name starts with `sha256-` and does not end in
/// `.tmp` (directories are skipped, not descended), in name order; failures aggregated.
fn process_dir<T>(
    dir: &Path,
    mut decode: impl FnMut(&Path, &[u8]) -> Result<T, RecordsError>,
) -> Listed<T> {
    let mut out = Listed {
        items: Vec::new(),
        error: None,
    };
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.error = Some(io("failed to list directory", dir)(e));
            return out;
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().is_ok_and(|t| t.is_dir())
                    || !name.starts_with(PREFIX)
                    || name.ends_with(TMP_SUFFIX)
                {
                    continue;
                }
                files.push(e.path());
            }
            Err(e) => errors.push(io("failed to list directory", dir)(e)),
        }
    }
    files.sort();
    for path in files {
        match std::fs::read(&path) {
            Ok(bytes) => match decode(&path, &bytes) {
                Ok(v) => out.items.push(v),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(io("failed to read", &path)(e)),
        }
    }
    out.error = match errors.len() {
        0 => None,
        1 => errors.pop(),
        _ => Some(RecordsError::Aggregate(errors)),
    };
    out
}

impl FsPullRecords {
    /// NewFSPullRecordsAccessor: records under `<kubelet_dir>/image_manager`, both directories
    /// created (0700) when missing.
    pub fn new(kubelet_dir: impl AsRef<Path>) -> Result<Self, RecordsError> {
        let base = kubelet_dir.as_ref().join("image_manager");
        let r = FsPullRecords {
            pulling: base.join("pulling"),
            pulled: base.join("pulled"),
        };
        mkdir_all(&r.pulling)?;
        mkdir_all(&r.pulled)?;
        Ok(r)
    }

    /// `<kubeletDir>/image_manager/pulling`.
    pub fn pulling_dir(&self) -> &Path {
        &self.pulling
    }

    /// `<kubeletDir>/image_manager/pulled`.
    pub fn pulled_dir(&self) -> &Path {
        &self.pulled
    }
}

impl PullRecordsAccessor for FsPullRecords {
    fn list_image_pull_intents(&self) -> Listed<ImagePullIntent> {
        process_dir(&self.pulling, decode_pull_intent)
    }

    fn image_pull_intent_exists(&self, image: &str) -> Result<bool, RecordsError> {
        let path = self.pulling.join(cache_filename(image));
        match read_optional(&path)? {
            None => Ok(false),
            Some(bytes) => Ok(decode_pull_intent(&path, &bytes)?.image == image),
        }
    }

    fn write_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        let bytes = encode_pull_intent(&ImagePullIntent {
            image: image.to_string(),
        })?;
        write_file(&self.pulling, &cache_filename(image), &bytes)
    }

    fn delete_image_pull_intent(&self, image: &str) -> Result<(), RecordsError> {
        remove_optional(&self.pulling.join(cache_filename(image)))
    }

    fn list_image_pulled_records(&self) -> Listed<ImagePulledRecord> {
        process_dir(&self.pulled, decode_pulled_record)
    }

    fn get_image_pulled_record(
        &self,
        image_ref: &str,
    ) -> Result<Option<Arc<ImagePulledRecord>>, RecordsError> {
        let path = self.pulled.join(cache_filename(image_ref));
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let rec = decode_pulled_record(&path, &bytes)?;
        // A file whose record is for another imageRef (a hash collision or a hand-edited
        // file) counts as absent, as GetImagePulledRecord does.
        if rec.image_ref != image_ref {
            return Ok(None);
        }
        Ok(Some(Arc::new(rec)))
    }

    fn write_image_pulled_record(&self, record: &ImagePulledRecord) -> Result<(), RecordsError> {
        let bytes = encode_pulled_record(record)?;
        write_file(&self.pulled, &cache_filename(&record.image_ref), &bytes)
    }

    fn delete_image_pulled_record(&self, image_ref: &str) -> Result<(), RecordsError> {
        remove_optional(&self.pulled.join(cache_filename(image_ref)))
    }
}
