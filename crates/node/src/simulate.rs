//! One simulated node run: the image manager over a runtime and a records accessor, the sync loop in
//! real or virtual time, then image GC when a capacity is given.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use pullsim_policy::{GcPolicy, PullerConfig, Time};
use pullsim_runtime::{ImageService, ImageSpec};

use crate::error::NodeError;
use crate::gc::{GcReport, GcRequest, collect};
use crate::image_manager::{ImageManager, ManagerConfig, RecordedEvent};
use crate::puller::{Puller, PullerLogEntry};
use crate::records::PullRecordsAccessor;
use crate::services::{Clock, FakeClock, RealClock};
use crate::shared::wall_clock_ms;
use crate::sync::{ImageState, PodRun, SyncOptions, run_pods};

/// Images used within this interval keep their recorded last-used time (GC works in minutes;
/// the kubelet refreshes its in-memory last-used times every 5 minutes).
const TOUCH_INTERVAL_MS: u64 = 60_000;

/// Everything that shapes a run (the kubelet's configuration and the simulation's own knobs).
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Image manager settings (feature gate, verification policy).
    pub manager: ManagerConfig,
    /// serializeImagePulls / maxParallelImagePulls (validated by the caller).
    pub puller: PullerConfig,
    /// registryPullQPS (0 = unlimited).
    pub qps: f64,
    /// registryBurst.
    pub burst: u32,
    /// Run on a virtual clock.
    pub virtual_time: bool,
    /// Keep re-syncing pods that are not ready for this long; `None`: one sync per pod.
    pub until: Option<Duration>,
    /// Image filesystem capacity in bytes: run image GC after the pulls.
    pub capacity: Option<u64>,
    /// GC thresholds.
    pub gc_policy: GcPolicy,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            manager: ManagerConfig::default(),
            puller: PullerConfig::default(),
            qps: 5.0,
            burst: 10,
            virtual_time: false,
            until: None,
            capacity: None,
            gc_policy: GcPolicy::default(),
        }
    }
}

/// The result of a run.
pub struct SimReport {
    /// The pods with their final image states.
    pub pods: Vec<PodRun>,
    /// Every event, in recording order.
    pub events: Vec<RecordedEvent>,
    /// The time at the end of the run (ages are computed against it).
    pub end: Time,
    /// Wall-clock Unix ms of the run's epoch (time zero).
    pub epoch_unix_ms: u64,
    /// Image GC, when a capacity was given: its report, or why it could not run.
    pub gc: Option<Result<GcReport, NodeError>>,
    /// The order in which pulls started and finished in the runtime.
    pub puller_log: Vec<PullerLogEntry>,
}

impl SimReport {
    /// Every image of every pod is ready.
    pub fn all_ready(&self) -> bool {
        self.pods.iter().all(PodRun::ready)
    }
}

/// Run the pods on a node whose runtime is `service` and whose KEP-2535 records are
/// `records`: the sync loop (real or virtual time), then the images of ready containers are
/// marked used (`ImageService::mark_used`), then image GC when a capacity is given, protecting
/// those images.
pub async fn simulate<S: ImageService, R: PullRecordsAccessor>(
    service: S,
    records: R,
    pods: Vec<PodRun>,
    cfg: &SimConfig,
) -> SimReport {
    let epoch_unix_ms = wall_clock_ms();
    let fake = cfg
        .virtual_time
        .then(|| Arc::new(FakeClock::at(Duration::ZERO)));
    let clock: Arc<dyn Clock> = match &fake {
        Some(f) => f.clone(),
        None => Arc::new(RealClock::new()),
    };
    let puller = Puller::new(&cfg.puller, cfg.qps, cfg.burst, clock.clone());
    let manager = ImageManager::new(service, records, cfg.manager.clone(), puller, clock.clone());
    let mut pods = pods;
    let opts = SyncOptions {
        virtual_clock: fake.clone(),
        until: cfg.until,
    };
    run_pods(&manager, &mut pods, &opts).await;
    let end = match (&fake, cfg.until) {
        (Some(_), Some(u)) => u.max(clock.now()),
        _ => clock.now(),
    };
    let events = manager.take_events();
    let puller_log = manager.puller_log();

    let now_ms = wall_clock_ms();
    let in_use = mark_ready_images_used(manager.service(), &pods, now_ms).await;
    let gc = match cfg.capacity {
        Some(capacity) => Some(
            collect(
                manager.service(),
                &GcRequest {
                    policy: cfg.gc_policy,
                    capacity,
                    in_use: &in_use,
                    now_unix_ms: now_ms,
                    dry_run: false,
                },
            )
            .await,
        ),
        None => None,
    };
    SimReport {
        pods,
        events,
        end,
        epoch_unix_ms,
        gc,
        puller_log,
    }
}

/// The image IDs of ready containers, each marked used at `now_ms` through the runtime (skipped
/// when the runtime says it was used within the last minute: the write is for GC's order, which
/// works in minutes).
pub async fn mark_ready_images_used<S: ImageService>(
    service: &S,
    pods: &[PodRun],
    now_ms: u64,
) -> BTreeSet<String> {
    let in_use: BTreeSet<String> = pods
        .iter()
        .flat_map(|p| p.states.iter())
        .filter_map(|st| match st {
            ImageState::Ready { image_id } => Some(image_id.clone()),
            _ => None,
        })
        .collect();
    for id in &in_use {
        let recent = service
            .image_status(&ImageSpec::new(id.as_str()))
            .ok()
            .flatten()
            .is_some_and(|i| now_ms.saturating_sub(i.last_used_unix_ms) <= TOUCH_INTERVAL_MS);
        if !recent {
            // Best effort, as the kubelet's in-memory bookkeeping cannot fail.
            let _ = service.mark_used(id, now_ms).await;
        }
    }
    in_use
}
