//! Pull admission: the serial and parallel pullers and the registry QPS token bucket.
//!
//! Upstream: pkg/kubelet/images/puller.go (serialImagePuller with maxImagePullRequests,
//! parallelImagePuller, throttleImagePulling), pkg/kubelet/images/image_manager.go
//! (NewImageManager), pkg/kubelet/apis/config/validation/validation.go and
//! pkg/kubelet/apis/config/v1beta1/defaults.go (serializeImagePulls, maxParallelImagePulls,
//! registryPullQPS, registryBurst).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{PolicyError, Time};

/// Capacity of the serial puller's request queue (`maxImagePullRequests`).
pub const MAX_IMAGE_PULL_REQUESTS: usize = 10;
/// Default `registryPullQPS`.
pub const DEFAULT_REGISTRY_PULL_QPS: f64 = 5.0;
/// Default `registryBurst`.
pub const DEFAULT_REGISTRY_BURST: u32 = 10;

/// `serializeImagePulls` and `maxParallelImagePulls`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullerConfig {
    /// One pull at a time, through a FIFO of [`MAX_IMAGE_PULL_REQUESTS`].
    pub serialize: bool,
    /// Bound on concurrent pulls of the parallel puller (`None` = unbounded).
    pub max_parallel: Option<u32>,
}

impl Default for PullerConfig {
    /// The kubelet default: serialized, no parallel limit.
    fn default() -> Self {
        PullerConfig {
            serialize: true,
            max_parallel: None,
        }
    }
}

/// Which puller the image manager builds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullerMode {
    /// serialImagePuller: one worker, a queue of `queue` requests (senders block when full).
    Serial {
        /// Queue capacity.
        queue: usize,
    },
    /// parallelImagePuller: one goroutine per pull, at most `max` at once when set.
    Parallel {
        /// Concurrency bound.
        max: Option<u32>,
    },
}

impl PullerConfig {
    /// The v1beta1 defaulting of `serializeImagePulls`: when unset, true unless
    /// `maxParallelImagePulls` is set to 2 or more.
    pub fn defaulted(serialize: Option<bool>, max_parallel: Option<u32>) -> PullerConfig {
        let serialize = serialize.unwrap_or(!matches!(max_parallel, Some(n) if n >= 2));
        PullerConfig {
            serialize,
            max_parallel,
        }
    }

    /// The kubelet's validation: `maxParallelImagePulls` must be positive, and may not be larger
    /// than 1 while pulls are serialized.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut errors = Vec::new();
        if let Some(n) = self.max_parallel {
            if n < 1 {
                errors.push(format!(
                    "invalid configuration: maxParallelImagePulls {n} must be a positive number"
                ));
            }
            if self.serialize && n > 1 {
                errors.push(
                    "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false"
                        .to_string(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::InvalidConfiguration { errors })
        }
    }

    /// The puller NewImageManager builds for this configuration.
    pub fn mode(&self) -> PullerMode {
        if self.serialize {
            PullerMode::Serial {
                queue: MAX_IMAGE_PULL_REQUESTS,
            }
        } else {
            PullerMode::Parallel {
                max: self.max_parallel,
            }
        }
    }
}

/// The kubelet's validation of `registryPullQPS` and `registryBurst`.
pub fn validate_registry_limits(qps: f64, burst: i64) -> Result<(), PolicyError> {
    let mut errors = Vec::new();
    if burst < 0 {
        errors.push(format!(
            "invalid configuration: registryBurst (--registry-burst) {burst} must not be a negative number"
        ));
    }
    if qps < 0.0 || qps.is_nan() {
        errors.push(format!(
            "invalid configuration: registryPullQPS (--registry-qps) {qps} must not be a negative number"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::InvalidConfiguration { errors })
    }
}

/// client-go's token bucket rate limiter (`flowcontrol.NewTokenBucketRateLimiter`, over
/// golang.org/x/time/rate) used for `registryPullQPS` / `registryBurst`: it starts full with
/// `burst` tokens and refills at `qps` tokens per second up to `burst`; each pull takes one.
/// `qps == 0` means no limit (the kubelet does not wrap the image service at all).
///
/// When the bucket refuses, the kubelet does not wait: the pull fails at once with
/// [`crate::messages::PULL_QPS_EXCEEDED`] (then ErrImagePull and back-off).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: u32,
    tokens: f64,
    last: Option<Time>,
}

impl TokenBucket {
    /// A bucket with `qps` tokens per second and room for `burst`; `qps <= 0` is unlimited.
    pub fn new(qps: f64, burst: u32) -> Self {
        TokenBucket {
            qps,
            burst,
            tokens: 0.0,
            last: None,
        }
    }

    /// The kubelet default: 5 QPS, burst 10.
    pub fn kubelet() -> Self {
        Self::new(DEFAULT_REGISTRY_PULL_QPS, DEFAULT_REGISTRY_BURST)
    }

    /// Whether this bucket never refuses: no limit (`qps <= 0`), or an infinite rate, which
    /// x/time/rate allows whatever the burst (`reserveN`: `if lim.limit == Inf`).
    pub fn is_unlimited(&self) -> bool {
        self.qps <= 0.0 || self.qps.is_nan() || self.qps == f64::INFINITY
    }

    /// Tokens available at `now` (x/time/rate `advance`).
    fn advance(&self, now: Time) -> f64 {
        let burst = f64::from(self.burst);
        match self.last {
            None => burst,
            Some(last) => {
                let last = last.min(now);
                let elapsed = now.saturating_sub(last).as_secs_f64();
                (self.tokens + elapsed * self.qps).min(burst)
            }
        }
    }

    /// `TryAccept()` at `now`: takes a token when one is available (true), otherwise leaves the
    /// bucket unchanged (false).
    pub fn try_accept(&mut self, now: Time) -> bool {
        if self.is_unlimited() {
            return true;
        }
        let tokens = self.advance(now) - 1.0;
        if tokens < 0.0 || self.burst < 1 {
            return false;
        }
        self.tokens = tokens;
        self.last = Some(now);
        true
    }

    /// How long from `now` until a token will be available (zero when one is).
    pub fn wait_time(&self, now: Time) -> Duration {
        if self.is_unlimited() {
            return Duration::ZERO;
        }
        let tokens = self.advance(now);
        if tokens >= 1.0 {
            return Duration::ZERO;
        }
        // Without room for one token none ever comes (x/time/rate: n > burst is never
        // allowed); a tiny qps makes the wait longer than a Duration holds (from_secs_f64
        // panics): both wait as long as can be. A wait shorter than a nanosecond is one.
        if self.burst < 1 {
            return Duration::MAX;
        }
        Duration::try_from_secs_f64((1.0 - tokens) / self.qps)
            .unwrap_or(Duration::MAX)
            .max(Duration::from_nanos(1))
    }
}
