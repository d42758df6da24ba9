//! What a run counts: per registry host the requests by kind, bytes, 429s and failures; per pod
//! the time to ready; the kubelet's events by reason; time-series samples.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::plan::{Plan, ReqKind};

/// Requests one registry host received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostCounters {
    /// `HEAD …/manifests/<tag>` (including those answered 401).
    pub manifest_head: u64,
    /// `GET …/manifests/<digest>` (indexes and platform manifests).
    pub manifest_get: u64,
    /// `GET …/blobs/<digest>` (configs and layers).
    pub blob_get: u64,
    /// Token requests.
    pub token: u64,
    /// Bytes served (manifests and blobs).
    pub bytes: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Requests answered 5xx.
    pub failed: u64,
}

impl HostCounters {
    pub(crate) fn count(&mut self, kind: ReqKind) {
        match kind {
            ReqKind::ManifestHead => self.manifest_head += 1,
            ReqKind::IndexGet | ReqKind::ManifestGet => self.manifest_get += 1,
            ReqKind::BlobGet => self.blob_get += 1,
            ReqKind::Token => self.token += 1,
        }
    }

    fn minus(&self, o: &HostCounters) -> HostCounters {
        HostCounters {
            manifest_head: self.manifest_head - o.manifest_head,
            manifest_get: self.manifest_get - o.manifest_get,
            blob_get: self.blob_get - o.blob_get,
            token: self.token - o.token,
            bytes: self.bytes - o.bytes,
            throttled: self.throttled - o.throttled,
            failed: self.failed - o.failed,
        }
    }

    /// Every request.
    pub fn requests(&self) -> u64 {
        self.manifest_head + self.manifest_get + self.blob_get + self.token
    }
}

/// Distinct pull failure messages kept per variant.
pub const MAX_DISTINCT_ERRORS: usize = 20;

/// One time-series sample of one host: what happened in the interval ending at `t_seconds`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// End of the interval.
    pub t_seconds: f64,
    /// The registry host.
    pub host: String,
    /// The counters of the interval.
    #[serde(flatten)]
    pub counters: HostCounters,
    /// Pods ready so far (whole fleet).
    pub pods_ready: u64,
}

/// p50, p95, p99 and max of the times to ready, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// Nearest-rank percentiles of `sorted` (ascending); `None` when empty.
pub fn percentiles(sorted: &[f64]) -> Option<Percentiles> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let at = |p: f64| sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Percentiles {
        p50: at(50.0),
        p95: at(95.0),
        p99: at(99.0),
        max: sorted[n - 1],
    })
}

/// The result of one variant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantResult {
    /// The variant's name.
    pub variant: String,
    /// Pods that arrived within the simulated time.
    pub pods: u64,
    /// Pods whose every image became ready.
    pub ready: u64,
    /// Pods not ready at the end.
    pub failed: u64,
    /// Time from arrival to ready; `None` when nothing became ready.
    pub time_to_ready_seconds: Option<Percentiles>,
    /// Per registry host.
    pub registries: BTreeMap<String, HostCounters>,
    /// When the first 429 was answered.
    pub first_throttled_seconds: Option<f64>,
    /// The kubelet's events by reason (`Pulling`, `Pulled`, `Failed`, `BackOff`, …).
    pub events: BTreeMap<String, u64>,
    /// The kubelet's pull failure messages (`Failed to pull image …`) with their counts (the
    /// first [`MAX_DISTINCT_ERRORS`] distinct ones).
    pub errors: BTreeMap<String, u64>,
    /// Images removed by image GC.
    pub images_removed: u64,
    /// Nodes simulated.
    pub nodes: u64,
    /// Virtual seconds simulated.
    pub duration_seconds: f64,
    /// Time-series samples.
    #[serde(skip)]
    pub samples: Vec<Sample>,
    /// Every time to ready, ascending (for the report's CDF).
    #[serde(skip)]
    pub times_to_ready: Vec<f64>,
}

/// Accumulating counters of a run.
pub(crate) struct Stats {
    pub hosts: Vec<HostCounters>,
    pub first_throttled: Option<Duration>,
    pub ttr: Vec<f64>,
    pub pods: u64,
    pub ready: u64,
    pub events: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    samples: Vec<Sample>,
    last: Vec<HostCounters>,
    names: Vec<String>,
}

impl Stats {
    pub(crate) fn new(plan: &Plan) -> Stats {
        let n = plan.registries.len();
        Stats {
            hosts: vec![HostCounters::default(); n],
            first_throttled: None,
            ttr: Vec::new(),
            pods: 0,
            ready: 0,
            events: BTreeMap::new(),
            errors: BTreeMap::new(),
            samples: Vec::new(),
            last: vec![HostCounters::default(); n],
            names: plan.registries.iter().map(|r| r.host.clone()).collect(),
        }
    }

    pub(crate) fn note_error(&mut self, message: &str) {
        if let Some(n) = self.errors.get_mut(message) {
            *n += 1;
        } else if self.errors.len() < MAX_DISTINCT_ERRORS {
            self.errors.insert(message.to_string(), 1);
        }
    }

    pub(crate) fn sample(&mut self, t: Duration) {
        for (i, c) in self.hosts.iter().enumerate() {
            self.samples.push(Sample {
                t_seconds: t.as_secs_f64(),
                host: self.names[i].clone(),
                counters: c.minus(&self.last[i]),
                pods_ready: self.ready,
            });
        }
        self.last.clone_from(&self.hosts);
    }

    pub(crate) fn finish(mut self, variant: &str, nodes: u64, duration: Duration) -> VariantResult {
        self.ttr.sort_by(f64::total_cmp);
        VariantResult {
            variant: variant.to_string(),
            pods: self.pods,
            ready: self.ready,
            failed: self.pods - self.ready,
            time_to_ready_seconds: percentiles(&self.ttr),
            registries: self
                .names
                .iter()
                .cloned()
                .zip(self.hosts.iter().copied())
                .collect(),
            first_throttled_seconds: self.first_throttled.map(|d| d.as_secs_f64()),
            events: self.events,
            errors: self.errors,
            images_removed: 0,
            nodes,
            duration_seconds: duration.as_secs_f64(),
            samples: self.samples,
            times_to_ready: self.ttr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = percentiles(&v).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        let p = percentiles(&[3.0]).unwrap();
        assert_eq!((p.p50, p.max), (3.0, 3.0));
        assert!(percentiles(&[]).is_none());
    }
}
