//! Bounded network reads: every wait for the network has the no-progress deadline
//! (containerd's `image_pull_progress_timeout`), every body a size cap.
//!
//! - [`Deadline`]: the longest time without progress (response headers, or the next chunk of a
//!   body); `0` disables it, as in containerd's CRI configuration. Real time (tokio's clock),
//!   also when the caller simulates time.
//! - [`read_capped`]: a body read chunk by chunk, each chunk under the deadline, stopping at a
//!   cap. Stopping early drops the response, which closes the connection: nothing past the cap
//!   is read from the socket.

use std::time::Duration;

use reqwest::Response;

/// How much of an error answer's body is read (containerd reads a bounded prefix of it:
/// `core/remotes/errors/errors.go` `NewUnexpectedStatusErr`, `io.LimitReader(resp.Body, 64000)`).
pub const MAX_ERROR_BODY_SIZE: u64 = 64_000;

/// The largest token endpoint answer accepted (a JSON object holding a token: a few KiB in
/// practice, a large JWT tens of KiB).
pub const MAX_TOKEN_RESPONSE_SIZE: u64 = 1 << 20;

/// The no-progress deadline; `None` when disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Duration>);

impl Deadline {
    /// From `image_pull_progress_timeout`: zero disables the deadline.
    pub(crate) fn new(timeout: Duration) -> Deadline {
        Deadline((!timeout.is_zero()).then_some(timeout))
    }

    /// Await `f`; `Err(timeout)` when the deadline passed first.
    pub(crate) async fn run<F: std::future::Future>(self, f: F) -> Result<F::Output, Duration> {
        match self.0 {
            None => Ok(f.await),
            Some(t) => tokio::time::timeout(t, f).await.map_err(|_| t),
        }
    }
}

/// How a bounded body read ended.
#[derive(Debug)]
pub(crate) enum BodyEnd {
    /// The whole body was read.
    Complete,
    /// The body is longer than the cap: `bytes` holds the first `cap` bytes.
    Capped,
    /// No byte arrived within the deadline.
    Stalled {
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The connection failed.
    Failed(reqwest::Error),
}

impl BodyEnd {
    /// One word for logs (a connection error's text may carry the URL).
    fn word(&self) -> &'static str {
        match self {
            BodyEnd::Complete => "complete",
            BodyEnd::Capped => "capped",
            BodyEnd::Stalled { .. } => "stalled",
            BodyEnd::Failed(_) => "failed",
        }
    }
}

/// What [`read_capped`] read.
#[derive(Debug)]
pub(crate) struct Capped {
    /// At most `cap` bytes.
    pub bytes: Vec<u8>,
    /// Why the read stopped.
    pub end: BodyEnd,
}

/// Read at most `cap` bytes of `resp`'s body, each chunk within `deadline`.
pub(crate) async fn read_capped(mut resp: Response, cap: u64, deadline: Deadline) -> Capped {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut bytes = Vec::new();
    loop {
        match deadline.run(resp.chunk()).await {
            Err(timeout) => {
                return Capped {
                    bytes,
                    end: BodyEnd::Stalled { timeout },
                };
            }
            Ok(Err(e)) => {
                return Capped {
                    bytes,
                    end: BodyEnd::Failed(e),
                };
            }
            Ok(Ok(None)) => {
                return Capped {
                    bytes,
                    end: BodyEnd::Complete,
                };
            }
            Ok(Ok(Some(chunk))) => {
                let room = cap - bytes.len();
                if chunk.len() > room {
                    bytes.extend_from_slice(&chunk[..room]);
                    return Capped {
                        bytes,
                        end: BodyEnd::Capped,
                    };
                }
                bytes.extend_from_slice(&chunk);
            }
        }
    }
}

/// An error answer's body, for the registry's error envelope: at most
/// [`MAX_ERROR_BODY_SIZE`] bytes, and what arrived before a stall or a failure (containerd
/// ignores the read error of an error body: `b, _ = io.ReadAll(...)`, the status makes the
/// error).
pub(crate) async fn read_error_body(resp: Response, deadline: Deadline) -> Vec<u8> {
    let url = resp.url().clone();
    let c = read_capped(resp, MAX_ERROR_BODY_SIZE, deadline).await;
    match &c.end {
        BodyEnd::Complete => {}
        // Log the host only: URLs may carry signed query parameters.
        end => tracing::debug!(
            host = url.host_str().unwrap_or(""),
            read = c.bytes.len(),
            end = end.word(),
            "error body not read to its end"
        ),
    }
    c.bytes
}
