//! Pull admission as the kubelet's pullers (pkg/kubelet/images/puller.go, helpers.go):
//! the serial puller (one pull at a time, FIFO), the parallel puller (bounded by
//! maxParallelImagePulls when set), the QPS throttle in front of the runtime
//! (registryPullQPS / registryBurst; a refused token fails the pull at once with
//! `pull QPS exceeded`), and the runtime's credential loop (kuberuntime_image.go PullImage:
//! each credential in order, first success wins, errors aggregated, no anonymous retry).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pullsim_policy::{PullerConfig, TokenBucket};
use tokio::sync::Semaphore;

use pullsim_runtime::{ImageService, ImageSpec, PodSandboxConfig, RuntimeError};

use crate::services::{Clock, TrackedCredential};
use crate::shared::{PullDone, go_aggregate, pull_error_text};

/// The text of the throttled image service's error (helpers.go throttledImageService).
pub const PULL_QPS_EXCEEDED: &str = "pull QPS exceeded";

/// A pull that failed, as the image manager sees it. `Display` is the error text the kubelet
/// puts in its events and waiting messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The QPS throttle refused the pull (helpers.go throttledImageService).
    #[error("{}", PULL_QPS_EXCEEDED)]
    Throttled,
    /// Every attempt failed in the runtime; one error per attempt, in order, shown as the
    /// kubelet aggregates them (kuberuntime_image.go PullImage: `utilerrors.NewAggregate`).
    #[error("{}", go_aggregate(.errors.iter().map(pull_error_text)))]
    Runtime {
        /// The runtime's errors.
        errors: Vec<RuntimeError>,
    },
    /// The pull slot could not be acquired (the puller was shut down).
    #[error("image puller closed: {message}")]
    Closed {
        /// Why.
        message: String,
    },
}

impl PullError {
    /// The registry host of the last runtime error (the one that ended the pull), when the
    /// runtime reached one.
    pub fn host(&self) -> Option<&str> {
        match self {
            PullError::Runtime { errors } => errors.last().and_then(RuntimeError::host),
            _ => None,
        }
    }
}

/// Serial or parallel puller with an optional QPS throttle.
pub struct Puller {
    lanes: Option<Semaphore>,
    bucket: Option<Mutex<TokenBucket>>,
    clock: Arc<dyn Clock>,
    log: Mutex<Vec<PullerLogEntry>>,
}

/// A pull started or finished (for tests and reports: shows head-of-line blocking).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullerLogEntry {
    /// The runtime started pulling this image.
    Started(String),
    /// The runtime finished (successfully or not).
    Finished(String),
    /// The throttle refused the pull.
    Throttled(String),
}

impl Puller {
    /// A puller for a validated kubelet configuration: serial when `serialize`, otherwise
    /// parallel bounded by `max_parallel` (unbounded when `None`); `qps` 0 disables throttling.
    pub fn new(cfg: &PullerConfig, qps: f64, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let lanes = if cfg.serialize {
            Some(Semaphore::new(1))
        } else {
            cfg.max_parallel
                .map(|n| Semaphore::new(usize::try_from(n.max(1)).unwrap_or(1)))
        };
        // throttleImagePulling: qps == 0 means no throttle at all.
        let bucket = if qps > 0.0 {
            Some(Mutex::new(TokenBucket::new(qps, burst)))
        } else {
            None
        };
        Puller {
            lanes,
            bucket,
            clock,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The order in which pulls started and finished.
    pub fn log(&self) -> Vec<PullerLogEntry> {
        self.log.lock().map(|g| g.clone()).unwrap_or_default()
    }

    fn note(&self, e: PullerLogEntry) {
        if let Ok(mut g) = self.log.lock() {
            g.push(e);
        }
    }

    /// Pull `image` (the default-tagged spec image) through the admission and the runtime.
    pub async fn pull<S: ImageService>(
        &self,
        service: &S,
        image: &str,
        credentials: &[TrackedCredential],
        sandbox: Option<&PodSandboxConfig>,
    ) -> Result<PullDone, PullError> {
        // Serial puller: a FIFO (tokio's semaphore is fair); parallel: bounded or not.
        let _permit = match &self.lanes {
            Some(s) => Some(s.acquire().await.map_err(|e| PullError::Closed {
                message: e.to_string(),
            })?),
            None => None,
        };
        let start = Instant::now();
        if let Some(bucket) = &self.bucket {
            let ok = bucket
                .lock()
                .map(|mut b| b.try_accept(self.clock.now()))
                .unwrap_or(false);
            if !ok {
                self.note(PullerLogEntry::Throttled(image.to_string()));
                return Err(PullError::Throttled);
            }
        }
        self.note(PullerLogEntry::Started(image.to_string()));
        let spec = ImageSpec::new(image);
        let result = pull_with_credentials(service, &spec, credentials, sandbox).await;
        self.note(PullerLogEntry::Finished(image.to_string()));
        let (response, credential) = result?;
        let pull_duration = start.elapsed();
        // puller.go: "Getting the image size with best effort, ignoring the error" —
        // GetImageSize is ImageStatus(image).size (kuberuntime_image.go).
        let size = service
            .image_status(&spec)
            .ok()
            .flatten()
            .map_or(0, |i| i.size);
        Ok(PullDone {
            response,
            size,
            pull_duration,
            credential,
        })
    }
}

/// kuberuntime_image.go PullImage: no credentials, one anonymous pull; otherwise each
/// credential in order until one works; all errors aggregated.
async fn pull_with_credentials<S: ImageService>(
    service: &S,
    image: &ImageSpec,
    credentials: &[TrackedCredential],
    sandbox: Option<&PodSandboxConfig>,
) -> Result<(pullsim_runtime::PullImageResponse, Option<usize>), PullError> {
    if credentials.is_empty() {
        return match service.pull_image(image, None, sandbox).await {
            Ok(p) => Ok((p, None)),
            Err(e) => Err(PullError::Runtime { errors: vec![e] }),
        };
    }
    let mut errors = Vec::new();
    for (i, c) in credentials.iter().enumerate() {
        match service.pull_image(image, Some(&c.auth), sandbox).await {
            Ok(p) => return Ok((p, Some(i))),
            Err(e) => errors.push(e),
        }
    }
    Err(PullError::Runtime { errors })
}
