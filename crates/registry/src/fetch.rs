//! Verified, streaming blob fetch into the store.
//!
//! Bytes go from the socket to the store's [`BlobWriter`] through a small channel to a
//! blocking thread, so the network read and the hashing (done once, by the writer, as bytes
//! arrive) overlap. The store verifies size and digest at commit; nothing unverified becomes
//! visible. An interrupted ingest is resumed with `Range: bytes=OFFSET-`. Between two chunks
//! (and before the response headers) at most the no-progress deadline may pass, or the fetch
//! ends with [`RegistryError::Stalled`].

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
use reqwest::{Method, Response, StatusCode};

use pullsim_reference::Digest;
use pullsim_store::{BlobWriter, CommitOutcome, Store, StoreError};

use crate::auth::Session;
use crate::error::RegistryError;
use crate::progress::Progress;
use crate::resolve::{MAX_MANIFEST_SIZE, Stage, status_error};
use crate::transport::Transport;

/// Read a small body (manifest, token) whole, with the no-progress deadline and a size cap.
pub(crate) async fn read_small_body(
    mut resp: Response,
    transport: &Transport,
    reference: &str,
) -> Result<Vec<u8>, RegistryError> {
    let url = resp.url().to_string();
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(transport.progress_timeout, resp.chunk()).await {
            Err(_) => {
                return Err(RegistryError::Stalled {
                    what: format!("{reference}: reading {url}"),
                    timeout: transport.progress_timeout,
                    received: body.len() as u64,
                });
            }
            Ok(Err(e)) => {
                return Err(RegistryError::Unavailable {
                    reference: reference.to_string(),
                    status: None,
                    message: format!("failed to read {url}: {}", crate::transport::chain_text(&e)),
                });
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() as u64 > MAX_MANIFEST_SIZE {
                    return Err(RegistryError::Protocol {
                        reference: reference.to_string(),
                        status: None,
                        message: format!(
                            "rejecting manifest larger than {MAX_MANIFEST_SIZE} bytes for {reference}: not found"
                        ),
                    });
                }
            }
        }
    }
}

/// One blob to fetch.
#[derive(Clone, Debug)]
pub(crate) struct BlobSpec {
    pub digest: Digest,
    pub size: u64,
}

/// What fetching one blob did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlobOutcome {
    /// Bytes received from the network.
    pub downloaded: u64,
    /// The blob was already in the store (no download).
    pub skipped: bool,
}

/// Why the blocking writer stopped.
enum SinkError {
    Store(StoreError),
    Write(std::io::Error),
    Interrupted,
}

enum Msg {
    Data(Bytes),
    Finish,
}

fn store_err(e: StoreError, reference: &str) -> RegistryError {
    match e {
        StoreError::DigestMismatch {
            what,
            expected,
            actual,
        } => match (Digest::parse(&expected), Digest::parse(&actual)) {
            (Ok(expected), Ok(actual)) => RegistryError::DigestMismatch {
                what: format!("blob {what}"),
                expected,
                actual,
            },
            _ => RegistryError::Protocol {
                reference: reference.to_string(),
                status: None,
                message: format!(
                    "digest mismatch for {what}: got {actual} but expected {expected}"
                ),
            },
        },
        StoreError::SizeMismatch {
            what,
            digest,
            expected,
            actual,
        } => RegistryError::Protocol {
            reference: reference.to_string(),
            status: None,
            message: format!(
                "failed to copy: {what} ({digest}): got {actual} bytes but expected {expected}: failed precondition"
            ),
        },
        other => RegistryError::Store { source: other },
    }
}

/// Fetch one blob into the store (skipping it when present, resuming a partial ingest).
pub(crate) async fn fetch_blob(
    session: &Session<'_>,
    store: &Store,
    blob: &BlobSpec,
    progress: &dyn Progress,
) -> Result<BlobOutcome, RegistryError> {
    let reference = session.reference.as_str();
    if store.has_blob(&blob.digest) {
        progress.layer_started(&blob.digest, blob.size);
        progress.layer_progress(&blob.digest, blob.size);
        progress.layer_done(&blob.digest);
        return Ok(BlobOutcome {
            downloaded: 0,
            skipped: true,
        });
    }
    let ingest_ref = format!("{}@{}", session.repository, blob.digest);
    let mut writer: BlobWriter = store
        .writer(&ingest_ref, &blob.digest, Some(blob.size))
        .map_err(|e| store_err(e, reference))?;
    if writer.already_exists() {
        progress.layer_started(&blob.digest, blob.size);
        progress.layer_done(&blob.digest);
        return Ok(BlobOutcome {
            downloaded: 0,
            skipped: true,
        });
    }
    let offset = writer.offset();
    progress.layer_started(&blob.digest, blob.size);
    let path = format!("/v2/{}/blobs/{}", session.repository, blob.digest);
    let mut headers = HeaderMap::new();
    if offset > 0
        && offset < blob.size
        && let Ok(v) = HeaderValue::from_str(&format!("bytes={offset}-"))
    {
        headers.insert(RANGE, v);
    }
    let mut resp = session.request(Method::GET, &path, headers).await?;
    let status = resp.status();
    if !status.is_success() {
        let url = resp.url().clone();
        return Err(status_error(resp, &Method::GET, &url, reference, Stage::Fetch).await);
    }
    let mut received = if status == StatusCode::PARTIAL_CONTENT {
        let cr = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !cr.starts_with(&format!("bytes {offset}-")) {
            return Err(RegistryError::Protocol {
                reference: reference.to_string(),
                status: Some(206),
                message: format!("unhandled content range in response: {cr:?}"),
            });
        }
        offset
    } else {
        // The server ignored the Range: start again from zero.
        if offset > 0 {
            writer.truncate().map_err(|e| store_err(e, reference))?;
        }
        0
    };
    progress.layer_progress(&blob.digest, received);

    // Up to 8 network buffers (~400 KiB each) wait for the hashing thread: deeper queues only
    // raised memory (measured), shallower ones stall the socket.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8);
    let sink = tokio::task::spawn_blocking(move || -> Result<CommitOutcome, SinkError> {
        let mut writer = writer;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                // The network buffer is hashed here and copied into the store's aligned
                // buffers, which its file-writer thread writes with direct I/O.
                Msg::Data(b) => writer.write_bytes(b).map_err(SinkError::Write)?,
                Msg::Finish => return writer.commit().map_err(SinkError::Store),
            }
        }
        // Sender dropped without Finish: keep the partial ingest for a later resume.
        drop(writer);
        Err(SinkError::Interrupted)
    });
    let started_at = received;
    let timeout = session.inner.transport.progress_timeout;
    let what = format!("{reference}: blob {}", blob.digest);
    let read_result: Result<(), RegistryError> = async {
        loop {
            match tokio::time::timeout(timeout, resp.chunk()).await {
                Err(_) => {
                    return Err(RegistryError::Stalled {
                        what: what.clone(),
                        timeout,
                        received,
                    });
                }
                Ok(Err(e)) => {
                    return Err(RegistryError::Unavailable {
                        reference: reference.to_string(),
                        status: None,
                        message: format!(
                            "failed to copy: {what}: {}",
                            crate::transport::chain_text(&e)
                        ),
                    });
                }
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(chunk))) => {
                    received += chunk.len() as u64;
                    if received > blob.size {
                        return Err(RegistryError::Protocol {
                            reference: reference.to_string(),
                            status: Some(status.as_u16()),
                            message: format!(
                                "failed to copy: {what}: received more than the expected {} bytes: failed precondition",
                                blob.size
                            ),
                        });
                    }
                    if tx.send(Msg::Data(chunk)).await.is_err() {
                        // The writer failed; its error is reported below.
                        return Ok(());
                    }
                    progress.layer_progress(&blob.digest, received);
                }
            }
        }
    }
    .await;
    if read_result.is_ok() {
        let _ = tx.send(Msg::Finish).await;
    }
    drop(tx);
    let commit = sink.await.map_err(|e| RegistryError::Protocol {
        reference: reference.to_string(),
        status: None,
        message: format!("blob writer task failed: {e}"),
    })?;
    read_result?;
    match commit {
        Ok(_) => {}
        Err(SinkError::Store(e)) => return Err(store_err(e, reference)),
        Err(SinkError::Write(e)) => {
            return Err(RegistryError::Protocol {
                reference: reference.to_string(),
                status: None,
                message: format!("failed to copy: {what}: writing to the store: {e}"),
            });
        }
        Err(SinkError::Interrupted) => {
            return Err(RegistryError::Protocol {
                reference: reference.to_string(),
                status: None,
                message: format!("failed to copy: {what}: the store writer stopped early"),
            });
        }
    }
    progress.layer_done(&blob.digest);
    Ok(BlobOutcome {
        downloaded: received - started_at,
        skipped: false,
    })
}

/// One download per blob per process: concurrent pulls needing the same blob wait for the
/// first and then find it in the store.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    map: std::sync::Mutex<std::collections::HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    /// The lock for a digest (created on first use).
    pub(crate) fn lock_for(&self, d: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        match self.map.lock() {
            Ok(mut m) => m.entry(d.clone()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Drop the entry when nobody else holds it.
    pub(crate) fn release(&self, d: &Digest) {
        if let Ok(mut m) = self.map.lock()
            && let Some(l) = m.get(d)
            && Arc::strong_count(l) == 1
        {
            m.remove(d);
        }
    }
}
