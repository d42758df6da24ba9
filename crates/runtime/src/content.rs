//! The registry client's blob sink over the content store (containerd's content store behind
//! its `Provider` / `Ingester` interfaces, `core/content/content.go`).
//!
//! [`StoreSink`] hands the store's own [`BlobWriter`] to the fetcher: the fetcher moves it to
//! a blocking thread, where it hashes the network buffers as they arrive and commits them
//! verified. Nothing is copied or buffered here.
//!
//! With unpack on ([`StoreSink::unpacking`]), a writer that starts at offset 0 also tees each
//! chunk into a [`DiffHasher`] (decompress + SHA-256, in the same blocking thread), and after
//! its commit the store remembers the layer's uncompressed digest: the unpack check after the
//! pull then reads that record instead of decompressing the layer again.

use std::sync::Arc;

use bytes::Bytes;
use pullsim_reference::Digest;
use pullsim_registry::{BlobSink, BlobWrite, Committed, SinkError};
use pullsim_store::{BlobWriter, CommitOutcome, Store, StoreError};

use crate::unpack::{DiffHasher, UnpackStats};

/// A [`BlobSink`] over a [`Store`], shared with the registry client's blocking threads.
#[derive(Clone, Debug)]
pub struct StoreSink {
    store: Arc<Store>,
    /// Unpack on: the counters of the layers decompressed while they stream in.
    unpack: Option<Arc<UnpackStats>>,
}

impl StoreSink {
    /// A sink writing into `store`, fetch only (no decompression).
    pub fn new(store: Arc<Store>) -> Self {
        StoreSink {
            store,
            unpack: None,
        }
    }

    /// A sink writing into `store` that decompresses and hashes compressed blobs as they
    /// stream in, recording their uncompressed digests in the store (counted in `stats`).
    pub fn unpacking(store: Arc<Store>, stats: Arc<UnpackStats>) -> Self {
        StoreSink {
            store,
            unpack: Some(stats),
        }
    }
}

/// The store's error as a sink error: size and digest mismatches keep their typed fields.
pub fn sink_error(e: StoreError) -> SinkError {
    match e {
        StoreError::DigestMismatch {
            what,
            expected,
            actual,
        } => match (Digest::parse(&expected), Digest::parse(&actual)) {
            (Ok(expected), Ok(actual)) => SinkError::DigestMismatch {
                what,
                expected,
                actual,
            },
            _ => SinkError::Store {
                source: Box::new(StoreError::DigestMismatch {
                    what,
                    expected,
                    actual,
                }),
            },
        },
        StoreError::SizeMismatch {
            what,
            digest,
            expected,
            actual,
        } => match Digest::parse(&digest) {
            Ok(d) => SinkError::SizeMismatch {
                what,
                digest: d,
                expected,
                actual,
            },
            Err(_) => SinkError::Store {
                source: Box::new(StoreError::SizeMismatch {
                    what,
                    digest,
                    expected,
                    actual,
                }),
            },
        },
        other => SinkError::Store {
            source: Box::new(other),
        },
    }
}

fn committed(o: CommitOutcome) -> Committed {
    match o {
        CommitOutcome::Stored => Committed::Stored,
        CommitOutcome::AlreadyExists => Committed::AlreadyExists,
    }
}

/// The store's [`BlobWriter`] behind [`BlobWrite`].
struct StoreWrite {
    writer: BlobWriter,
    ingest_ref: String,
    /// Unpack on: the blob, the store and the counters the uncompressed digest goes to.
    unpack: Option<Tee>,
}

/// What a writer with unpack on keeps beside the store's writer.
struct Tee {
    blob: Digest,
    store: Arc<Store>,
    stats: Arc<UnpackStats>,
    /// Decoding since offset 0; `None` for a resumed write (decompressed from the store after
    /// the pull instead).
    hasher: Option<DiffHasher>,
    /// Time spent in the hasher.
    busy: std::time::Duration,
}

impl BlobWrite for StoreWrite {
    fn offset(&self) -> u64 {
        self.writer.offset()
    }

    fn already_exists(&self) -> bool {
        self.writer.already_exists()
    }

    fn write_bytes(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        if let Some(t) = self.unpack.as_mut()
            && let Some(h) = t.hasher.as_mut()
        {
            let started = std::time::Instant::now();
            h.update(&chunk);
            t.busy += started.elapsed();
        }
        self.writer
            .write_bytes(chunk)
            .map_err(|source| SinkError::Write {
                what: self.ingest_ref.clone(),
                source,
            })
    }

    fn truncate(&mut self) -> Result<(), SinkError> {
        self.writer.truncate().map_err(sink_error)?;
        // At offset 0 again: the whole stream passes through a new hasher.
        if let Some(t) = self.unpack.as_mut() {
            t.hasher = Some(DiffHasher::new());
            t.busy = std::time::Duration::ZERO;
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<Committed, SinkError> {
        let out = self.writer.commit().map(committed).map_err(sink_error)?;
        if let Some(Tee {
            blob,
            store,
            stats,
            hasher: Some(h),
            busy,
        }) = self.unpack
        {
            let decoded = h.decodes();
            let started = std::time::Instant::now();
            // A stream that does not decode is left to the check after the pull, which reads
            // it again from the store and reports containerd's error.
            if let Ok(Some(u)) = h.finish() {
                if decoded {
                    stats.note_streamed(u.size, busy + started.elapsed());
                }
                crate::unpack::record(&store, &blob, &u);
            }
        }
        Ok(out)
    }

    fn abort(self: Box<Self>) {
        self.writer.abort();
    }
}

impl BlobSink for StoreSink {
    /// Present, and held (a lease, as containerd's pull holds what it will reference) until
    /// the image is recorded: a concurrent `images rm` or GC cannot delete a blob the pull
    /// skipped because it was there.
    fn has(&self, digest: &Digest) -> bool {
        self.store.hold_blob(digest).unwrap_or(false)
    }

    fn read_small(&self, digest: &Digest) -> Result<Option<Vec<u8>>, SinkError> {
        match self.store.read_blob(digest) {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::BlobNotFound { .. }) => Ok(None),
            Err(e) => Err(sink_error(e)),
        }
    }

    fn writer(
        &self,
        ingest_ref: &str,
        expected: &Digest,
        size: u64,
    ) -> Result<Box<dyn BlobWrite>, SinkError> {
        let writer = self
            .store
            .writer(ingest_ref, expected, Some(size))
            .map_err(sink_error)?;
        let unpack = self.unpack.as_ref().map(|stats| Tee {
            blob: expected.clone(),
            store: self.store.clone(),
            stats: stats.clone(),
            hasher: (writer.offset() == 0 && !writer.already_exists()).then(DiffHasher::new),
            busy: std::time::Duration::ZERO,
        });
        Ok(Box::new(StoreWrite {
            writer,
            ingest_ref: ingest_ref.to_string(),
            unpack,
        }))
    }

    fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<Committed, SinkError> {
        self.store
            .put_blob(digest, bytes)
            .map(committed)
            .map_err(sink_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn digest_of(b: &[u8]) -> Digest {
        Digest::from_sha256_hex(&hex::encode(sha2::Sha256::digest(b))).unwrap()
    }

    #[test]
    fn writes_resumes_and_verifies_through_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let sink = StoreSink::new(Arc::new(Store::open(dir.path()).unwrap()));
        let data = b"0123456789abcdef".repeat(1000);
        let d = digest_of(&data);
        assert!(!sink.has(&d));
        assert_eq!(sink.read_small(&d).unwrap(), None);
        // A partial write, dropped: the next writer of the same ref resumes at its offset.
        let mut w = sink.writer("repo@x", &d, data.len() as u64).unwrap();
        assert_eq!(w.offset(), 0);
        w.write_bytes(Bytes::copy_from_slice(&data[..5000]))
            .unwrap();
        drop(w);
        assert!(!sink.has(&d));
        let mut w = sink.writer("repo@x", &d, data.len() as u64).unwrap();
        assert_eq!(w.offset(), 5000);
        assert!(!w.already_exists());
        w.write_bytes(Bytes::copy_from_slice(&data[5000..]))
            .unwrap();
        assert_eq!(w.commit().unwrap(), Committed::Stored);
        assert!(sink.has(&d));
        assert_eq!(sink.read_small(&d).unwrap().as_deref(), Some(&data[..]));
        // Present: a new writer says so, and a put is a no-op.
        let w = sink.writer("repo@x", &d, data.len() as u64).unwrap();
        assert!(w.already_exists());
        assert_eq!(w.commit().unwrap(), Committed::AlreadyExists);
        assert_eq!(sink.put(&d, &data).unwrap(), Committed::AlreadyExists);
    }

    #[test]
    fn mismatches_are_typed_and_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sink = StoreSink::new(Arc::new(Store::open(dir.path()).unwrap()));
        let good = b"good bytes".to_vec();
        let d = digest_of(&good);
        let mut w = sink.writer("r@d", &d, good.len() as u64).unwrap();
        w.write_bytes(Bytes::from_static(b"evil bytes")).unwrap();
        match w.commit() {
            Err(SinkError::DigestMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, d);
                assert_eq!(actual, digest_of(b"evil bytes"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!sink.has(&d));
        let mut w = sink.writer("r@d", &d, good.len() as u64).unwrap();
        w.write_bytes(Bytes::from_static(b"good")).unwrap();
        match w.commit() {
            Err(SinkError::SizeMismatch {
                digest,
                expected,
                actual,
                ..
            }) => {
                assert_eq!(digest, d);
                assert_eq!(expected, good.len() as u64);
                assert_eq!(actual, 4);
            }
            other => panic!("{other:?}"),
        }
        assert!(!sink.has(&d));
        // A truncate starts again from zero; an abort discards the partial data.
        let mut w = sink.writer("r@d", &d, good.len() as u64).unwrap();
        w.write_bytes(Bytes::from_static(b"junk")).unwrap();
        w.truncate().unwrap();
        assert_eq!(w.offset(), 0);
        w.write_bytes(Bytes::from_static(b"good")).unwrap();
        w.abort();
        let w = sink.writer("r@d", &d, good.len() as u64).unwrap();
        assert_eq!(w.offset(), 0);
        drop(w);
        // A put of the wrong bytes is refused.
        assert!(matches!(
            sink.put(&d, b"other"),
            Err(SinkError::SizeMismatch { .. } | SinkError::DigestMismatch { .. })
        ));
        assert_eq!(sink.put(&d, &good).unwrap(), Committed::Stored);
        assert!(sink.has(&d));
    }
}
