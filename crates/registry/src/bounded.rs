//! Bounded network reads: every wait for the network has the no-progress deadline
//! (containerd's `image_pull_progress_timeout`), every body a size cap.
//!
//! - [`Deadline`]: the longest time a pull may receive nothing while it waits for the network
//!   (response headers, body chunks), as containerd's `image_pull_progress_timeout`; `0`
//!   disables it, as in containerd's CRI configuration. Real time (tokio's clock), also when
//!   the caller simulates time.
//! - [`read_capped`]: a body read chunk by chunk, each chunk under the deadline, stopping at a
//!   cap. Stopping early drops the response, which closes the connection: nothing past the cap
//!   is read from the socket.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Response;
use tokio::time::Instant;

/// How much of an error answer's body is read (containerd reads a bounded prefix of it:
/// `core/remotes/errors/errors.go` `NewUnexpectedStatusErr`, `io.LimitReader(resp.Body, 64000)`).
pub const MAX_ERROR_BODY_SIZE: u64 = 64_000;

/// The largest token endpoint answer accepted (a JSON object holding a token: a few KiB in
/// practice, a large JWT tens of KiB).
pub const MAX_TOKEN_RESPONSE_SIZE: u64 = 1 << 20;

/// The no-progress deadline of one pull (or resolve), as containerd's CRI
/// `pullProgressReporter` (`internal/cri/server/images/image_pull.go`) keeps it: the pull is
/// cancelled when none of its open requests received anything for `timeout`; while it has no
/// open request (waiting for another pull's download of a shared blob, writing to the store)
/// the clock does not run. Shared by the pull's concurrent requests.
#[derive(Debug)]
pub(crate) struct Deadline {
    /// `None`: disabled.
    timeout: Option<Duration>,
    /// Open requests and when one last received something (or the first one opened).
    state: Mutex<(usize, Instant)>,
}

/// An open request of a [`Deadline`]; closing the last one stops the clock.
struct Open<'a>(&'a Deadline);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.state.lock() {
            s.0 = s.0.saturating_sub(1);
            if s.0 == 0 {
                s.1 = Instant::now();
            }
        }
    }
}

impl Deadline {
    /// From `image_pull_progress_timeout`: zero disables the deadline.
    pub(crate) fn new(timeout: Duration) -> Deadline {
        Deadline {
            timeout: (!timeout.is_zero()).then_some(timeout),
            state: Mutex::new((0, Instant::now())),
        }
    }

    fn open(&self) -> Open<'_> {
        if let Ok(mut s) = self.state.lock() {
            if s.0 == 0 {
                s.1 = Instant::now();
            }
            s.0 += 1;
        }
        Open(self)
    }

    fn last_progress(&self) -> Instant {
        self.state
            .lock()
            .map(|s| s.1)
            .unwrap_or_else(|_| Instant::now())
    }

    fn progressed(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.1 = Instant::now();
        }
    }

    /// Await `f` (response headers, a body chunk) as an open request: its completion is
    /// progress; `Err(timeout)` when the pull received nothing for `timeout` meanwhile.
    pub(crate) async fn run<F: std::future::Future>(&self, f: F) -> Result<F::Output, Duration> {
        let Some(timeout) = self.timeout else {
            return Ok(f.await);
        };
        let _open = self.open();
        let mut f = std::pin::pin!(f);
        loop {
            let until = self.last_progress() + timeout;
            tokio::select! {
                out = &mut f => {
                    self.progressed();
                    return Ok(out);
                }
                _ = tokio::time::sleep_until(until) => {
                    // Another request of the pull may have received something meanwhile.
                    if self.last_progress() + timeout <= Instant::now() {
                        return Err(timeout);
                    }
                }
            }
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
pub(crate) async fn read_capped(mut resp: Response, cap: u64, deadline: &Deadline) -> Capped {
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
pub(crate) async fn read_error_body(resp: Response, deadline: &Deadline) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn zero_disables_the_deadline() {
        let d = Deadline::new(Duration::ZERO);
        let slow = tokio::time::sleep(Duration::from_millis(60));
        assert_eq!(d.run(slow).await, Ok(()));
        let d = Deadline::new(Duration::from_millis(20));
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(d.run(slow).await, Err(Duration::from_millis(20)));
    }

    #[tokio::test]
    async fn progress_of_any_open_request_keeps_the_pull_alive() {
        // containerd's pullProgressReporter: bytes read on any of the pull's requests reset
        // the clock; a request that alone receives nothing fails only once the others stop.
        let d = Deadline::new(Duration::from_millis(300));
        let stuck = d.run(std::future::pending::<()>());
        let busy = async {
            for _ in 0..8 {
                d.run(tokio::time::sleep(Duration::from_millis(100)))
                    .await
                    .unwrap();
            }
            Instant::now()
        };
        let start = Instant::now();
        let (stuck, busy_end) = tokio::join!(stuck, busy);
        assert_eq!(stuck, Err(Duration::from_millis(300)));
        let end = Instant::now();
        // The stuck request outlived its own 300 ms while the other one progressed (800 ms),
        // and failed 300 ms after the last progress.
        assert!(
            end - start >= Duration::from_millis(1000),
            "{:?}",
            end - start
        );
        assert!(
            end - busy_end >= Duration::from_millis(250),
            "{:?}",
            end - busy_end
        );
    }

    #[tokio::test]
    async fn the_clock_stops_without_open_requests() {
        // activeReqs == 0 resets containerd's clock: time spent outside the network (waiting
        // for another pull's download, writing to the store) never counts.
        let d = Deadline::new(Duration::from_millis(100));
        d.run(async {}).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            d.run(tokio::time::sleep(Duration::from_millis(50))).await,
            Ok(())
        );
    }
}
