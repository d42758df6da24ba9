//! One simulated node run: the image manager over the store and the registry, the sync loop in
//! real or virtual time, then image GC when a capacity is given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use pullsim_policy::{GcImage, GcPlan, GcPolicy, PullerConfig, Time};
use pullsim_reference::Reference;
use pullsim_store::Store;

use crate::image_manager::{ImageManager, ManagerConfig, RecordedEvent};
use crate::puller::{Puller, PullerLogEntry};
use crate::runtime::{StoreImageService, StoreRecords};
use crate::services::{Clock, FakeClock, RealClock};
use crate::sync::{ImageState, PodRun, SyncOptions, run_pods};

/// Images used within this interval keep their recorded last-used time.
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

/// What image GC did after the run.
#[derive(Clone, Debug)]
pub struct GcReport {
    /// Capacity and usage used for the plan.
    pub capacity: u64,
    /// Bytes used before GC (blobs in the store).
    pub used: u64,
    /// The plan (image IDs, bytes, warning).
    pub plan: GcPlan,
    /// Index keys removed.
    pub removed: Vec<String>,
    /// Bytes actually freed in the store.
    pub bytes_freed: u64,
    /// An error from the plan or the store.
    pub error: Option<String>,
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
    /// Offline runs: the images whose pull needed the network.
    pub needed_network: Vec<String>,
    /// Image GC, when a capacity was given.
    pub gc: Option<GcReport>,
    /// The order in which pulls started and finished in the runtime.
    pub puller_log: Vec<PullerLogEntry>,
}

impl SimReport {
    /// Every image of every pod is ready.
    pub fn all_ready(&self) -> bool {
        self.pods.iter().all(PodRun::ready)
    }
}

/// Run the pods on a node backed by `service` (store + registry client).
pub async fn simulate(service: StoreImageService, pods: Vec<PodRun>, cfg: &SimConfig) -> SimReport {
    let store = service.store().clone();
    let epoch_unix_ms = pullsim_store::now_ms();
    let fake = cfg
        .virtual_time
        .then(|| Arc::new(FakeClock::at(Duration::ZERO)));
    let clock: Arc<dyn Clock> = match &fake {
        Some(f) => f.clone(),
        None => Arc::new(RealClock::new()),
    };
    let puller = Puller::new(&cfg.puller, cfg.qps, cfg.burst, clock.clone());
    let records = StoreRecords::new(store.clone());
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
    let needed_network = manager.service().needed_network();
    let puller_log = manager.puller_log();

    // Images used by the simulated pods count as used now (GC's lastUsed).
    let now_ms = pullsim_store::now_ms();
    let mut in_use = BTreeSet::new();
    for pod in &pods {
        for (img, st) in pod.spec.images.iter().zip(&pod.states) {
            if let ImageState::Ready { image_id } = st {
                in_use.insert(image_id.clone());
                let tagged = crate::image_manager::apply_default_image_tag(&img.image)
                    .unwrap_or_else(|_| img.image.clone());
                // Last-used times are for GC, which works in minutes (the kubelet refreshes
                // them every 5 minutes): skip the synchronous write when recent.
                if let Ok(r) = Reference::parse_normalized(&tagged)
                    && let Ok(Some(rec)) = store.lookup(&r)
                    && now_ms.saturating_sub(rec.last_used_ms) > TOUCH_INTERVAL_MS
                {
                    let _ = store.touch(&r, now_ms);
                }
            }
        }
    }
    let gc = cfg
        .capacity
        .map(|capacity| run_gc(&store, capacity, &cfg.gc_policy, &in_use, now_ms));
    SimReport {
        pods,
        events,
        end,
        epoch_unix_ms,
        needed_network,
        gc,
        puller_log,
    }
}

/// One image GC pass over the store (image_gc_manager.go) with `in_use` image IDs protected.
pub fn run_gc(
    store: &Store,
    capacity: u64,
    policy: &GcPolicy,
    in_use: &BTreeSet<String>,
    now_ms: u64,
) -> GcReport {
    let mut report = GcReport {
        capacity,
        used: 0,
        plan: GcPlan::default(),
        removed: Vec::new(),
        bytes_freed: 0,
        error: None,
    };
    let records = match store.list() {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.used = match store.disk_usage() {
        Ok(u) => u.blob_bytes,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let mut by_id: BTreeMap<String, (GcImage, Vec<String>)> = BTreeMap::new();
    for r in &records {
        let id = r.id();
        let e = by_id.entry(id.clone()).or_insert_with(|| {
            (
                GcImage {
                    id: id.clone(),
                    size: r.size,
                    first_detected: Duration::from_millis(r.first_seen_ms),
                    last_used: Duration::from_millis(r.last_used_ms),
                    pinned: false,
                    in_use: in_use.contains(&id),
                },
                Vec::new(),
            )
        });
        e.0.first_detected =
            e.0.first_detected
                .min(Duration::from_millis(r.first_seen_ms));
        e.0.last_used = e.0.last_used.max(Duration::from_millis(r.last_used_ms));
        e.0.pinned |= r.pinned;
        e.1.push(r.key());
    }
    let images: Vec<GcImage> = by_id.values().map(|(g, _)| g.clone()).collect();
    let plan = match pullsim_policy::plan_gc(
        policy,
        capacity,
        report.used,
        &images,
        Duration::from_millis(now_ms),
    ) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let keys: Vec<String> = plan
        .to_delete
        .iter()
        .filter_map(|id| by_id.get(id))
        .flat_map(|(_, k)| k.iter().cloned())
        .collect();
    report.plan = plan;
    if !keys.is_empty() {
        match store.remove_images(&keys) {
            Ok(out) => {
                report.removed = out.removed;
                report.bytes_freed = out.bytes_freed;
            }
            Err(e) => report.error = Some(e.to_string()),
        }
    }
    report
}
