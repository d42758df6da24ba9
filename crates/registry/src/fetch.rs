//! Verified, streaming blob fetch into the blob sink.
//!
//! Each chunk goes from the socket to the sink's [`BlobWrite`] on a blocking thread (the
//! writer hashes it once, as it arrives) and comes back to be freed before the next read, so
//! hyper reads every chunk of a download into the same buffer; the downloads of a pull run
//! side by side, one hashing while another reads. The chunks held by all the client's
//! downloads are bounded by one budget ([`crate::ClientOptions::download_buffer_budget`]): a
//! download whose chunk finds it spent waits before reading its socket again. The sink
//! verifies size and digest at commit; nothing unverified becomes visible.
//! An interrupted ingest is resumed with `Range: bytes=OFFSET-`. Between two chunks (and
//! before the response headers) at most the no-progress deadline may pass, or the fetch ends
//! with [`RegistryError::Stalled`]; no more than the descriptor's size is accepted. The sink's
//! writer is opened on a blocking thread too (it may wait for another writer of the ref).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
use reqwest::{Method, StatusCode};

use pullsim_reference::Digest;

use crate::auth::Session;
use crate::body::{Stage, status_error};
use crate::error::RegistryError;
use crate::inflight::Charged;
use crate::progress::Progress;
use crate::sink::{BlobSink, BlobWrite, Committed, SinkError};

/// One blob to fetch.
#[derive(Clone, Debug)]
pub(crate) struct BlobSpec {
    pub digest: Digest,
    pub size: u64,
    /// Its media type (named in containerd's not-found error).
    pub media_type: String,
}

/// What fetching one blob did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlobOutcome {
    /// Bytes received from the network.
    pub downloaded: u64,
    /// The blob was already in the sink (no download).
    pub skipped: bool,
}

/// Why the blocking writer stopped.
enum WriterStop {
    Sink(SinkError),
    Interrupted,
}

enum Msg {
    /// A network chunk, holding its slot of the client's budget until it is written.
    Data(Charged),
    Finish,
}

/// Run blocking sink work (opening a writer, a put, a read) on a blocking thread.
pub(crate) async fn on_blocking_thread<T: Send + 'static>(
    reference: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RegistryError::Protocol {
            reference: reference.to_string(),
            status: None,
            message: format!("{what}: blocking task failed: {e}"),
        })
}

/// Fetch one blob into the sink (skipping it when present, resuming a partial ingest).
pub(crate) async fn fetch_blob(
    session: &Session<'_>,
    sink: &Arc<dyn BlobSink>,
    blob: &BlobSpec,
    progress: &dyn Progress,
) -> Result<BlobOutcome, RegistryError> {
    let reference = session.reference.as_str();
    if sink.has(&blob.digest) {
        progress.layer_started(&blob.digest, blob.size);
        progress.layer_progress(&blob.digest, blob.size);
        progress.layer_done(&blob.digest);
        return Ok(BlobOutcome {
            downloaded: 0,
            skipped: true,
        });
    }
    let ingest_ref = format!("{}@{}", session.repository, blob.digest);
    let opener = (sink.clone(), blob.digest.clone(), blob.size);
    let mut writer: Box<dyn BlobWrite> =
        on_blocking_thread(reference, &ingest_ref.clone(), move || {
            let (sink, digest, size) = opener;
            sink.writer(&ingest_ref, &digest, size)
        })
        .await?
        .map_err(|e| RegistryError::from_sink(e, reference))?;
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
    let path = session.object_path("blobs", blob.digest.as_ref());
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
        let deadline = &session.deadline;
        return Err(status_error(
            resp,
            deadline,
            &Method::GET,
            &url,
            reference,
            (Stage::Fetch, session.resolver),
        )
        .await);
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
            writer
                .truncate()
                .map_err(|e| RegistryError::from_sink(e, reference))?;
        }
        0
    };
    progress.layer_progress(&blob.digest, received);

    // One chunk at a time per download, each holding a slot of the client's budget: the
    // writer hands the written chunk back through `spent` and this task drops it before it
    // reads the next one. hyper then finds its read buffer unshared and reads the next chunk
    // into the same memory; with chunks still queued it allocated a fresh ~400 KiB buffer
    // per read, and the allocator's delayed reuse of the freed ones made most of the pull's
    // peak RSS (mimalloc: 50 MiB committed for 8 MiB live). The downloads of a pull overlap
    // network and hashing with each other instead (the kernel keeps receiving meanwhile).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let (spent_tx, mut spent) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let writer_task = tokio::task::spawn_blocking(move || -> Result<Committed, WriterStop> {
        let mut writer = writer;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                // The network buffer is handed over as is: the writer hashes it (the store's
                // copies it into aligned buffers that its file-writer thread writes).
                Msg::Data(c) => {
                    let bytes = c.written();
                    writer
                        .write_bytes(bytes.clone())
                        .map_err(WriterStop::Sink)?;
                    // Back to the reader, which frees it (gone only when it failed).
                    let _ = spent_tx.send(bytes);
                }
                Msg::Finish => return writer.commit().map_err(WriterStop::Sink),
            }
        }
        // Sender dropped without Finish: keep the partial ingest for a later resume.
        drop(writer);
        Err(WriterStop::Interrupted)
    });
    let started_at = received;
    let deadline = &session.deadline;
    let what = format!("{reference}: blob {}", blob.digest);
    let read_result: Result<(), RegistryError> = async {
        loop {
            match deadline.run(resp.chunk()).await {
                Err(timeout) => {
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
                    let Some(charged) = session.inner.chunks.charge(chunk).await else {
                        return Err(RegistryError::Protocol {
                            reference: reference.to_string(),
                            status: None,
                            message: format!("failed to copy: {what}: the download budget closed"),
                        });
                    };
                    if tx.send(Msg::Data(charged)).is_err() {
                        // The writer failed; its error is reported below.
                        return Ok(());
                    }
                    match spent.recv().await {
                        Some(written) => drop(written),
                        // The writer failed; its error is reported below.
                        None => return Ok(()),
                    }
                    progress.layer_progress(&blob.digest, received);
                }
            }
        }
    }
    .await;
    if read_result.is_ok() {
        let _ = tx.send(Msg::Finish);
    }
    drop(tx);
    let commit = writer_task.await.map_err(|e| RegistryError::Protocol {
        reference: reference.to_string(),
        status: None,
        message: format!("blob writer task failed: {e}"),
    })?;
    read_result?;
    match commit {
        Ok(_) => {}
        Err(WriterStop::Sink(SinkError::Write { source, .. })) => {
            return Err(RegistryError::Protocol {
                reference: reference.to_string(),
                status: None,
                message: format!("failed to copy: {what}: writing to the store: {source}"),
            });
        }
        Err(WriterStop::Sink(e)) => return Err(RegistryError::from_sink(e, reference)),
        Err(WriterStop::Interrupted) => {
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
