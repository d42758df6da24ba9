//! The discrete-event loop: one virtual clock for the fleet, a kubelet image manager per node
//! (`pullsim_node::ImageManager`: the decision step, KEP-2535 records, the back-off, the
//! serial or parallel puller with its QPS throttle, the events) over the node's modelled
//! runtime, pod workers syncing pods with `pullsim_node::sync::sync_pod` and requeueing them
//! `POD_WORKER_BACKOFF` after a failed sync, image GC every 5 minutes
//! (`pullsim_node::gc::collect`), a scheduler spreading pods over nodes.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use pullsim_credentials::Keyring;
use pullsim_node::gc::{GcRequest, collect};
use pullsim_node::pods::build_pod;
use pullsim_node::sync::{POD_WORKER_BACKOFF, sync_pod};
use pullsim_node::{
    Clock, FakeClock, ImageManager, ImageState, ManagerConfig, MemPullRecords, Puller,
};

use crate::exec::{Executor, fire};
use crate::model::ModelRuntime;
use crate::plan::Plan;
use crate::stats::VariantResult;
use crate::world::{Ev, World, WorldRef, sleep, sleep_or_change};

/// The kubelet's image GC period (kubelet.go `ImageGCPeriod`).
pub const IMAGE_GC_PERIOD: Duration = Duration::from_secs(300);

/// How to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// The seed of the scheduler and of the failure injection.
    pub seed: u64,
    /// Recompute every download's rate at every start and end (exact max-share fluid model,
    /// O(downloads) per event) instead of the node's downloads only.
    pub exact_sharing: bool,
    /// Run every sync of a pod in back-off, even those that repeat the previous one (by
    /// default they are skipped and their events counted: same results, less work).
    pub every_sync: bool,
}

type Manager = ImageManager<ModelRuntime, MemPullRecords>;

struct Fleet {
    plan: Rc<Plan>,
    world: WorldRef,
    clock: Arc<FakeClock>,
    managers: Vec<Option<Rc<Manager>>>,
    keyring: Keyring,
    pods_on: Vec<u32>,
    pool_start: Vec<usize>,
    images_removed: Rc<RefCell<u64>>,
}

impl Fleet {
    fn manager(&mut self, node: usize, exec: &mut Executor) -> Rc<Manager> {
        if let Some(m) = &self.managers[node] {
            return m.clone();
        }
        let pool = &self.plan.pools[self.world.borrow().nodes[node].pool];
        let k = &pool.kubelet;
        let clock: Arc<dyn Clock> = self.clock.clone();
        let puller = Puller::new(&k.puller, k.qps, k.burst, clock.clone());
        let cfg: ManagerConfig = k.manager.clone();
        let rt = ModelRuntime {
            world: self.world.clone(),
            node,
        };
        let m = Rc::new(ImageManager::new(
            rt,
            MemPullRecords::new(),
            cfg,
            puller,
            clock,
        ));
        if let Some(capacity) = pool.disk {
            exec.spawn(gc_loop(
                m.clone(),
                self.world.clone(),
                node,
                capacity,
                k.gc,
                self.images_removed.clone(),
            ));
        }
        self.managers[node] = Some(m.clone());
        m
    }

    /// Power of two choices over the workload's nodes: two seeded draws, the one with fewer
    /// pods (kube-scheduler's spreading, approximated).
    fn schedule(&mut self, pools: &[usize]) -> usize {
        let sizes: Vec<usize> = pools
            .iter()
            .map(|p| self.plan.pools[*p].count as usize)
            .collect();
        let total: usize = sizes.iter().sum();
        let pick = || {
            let r = (self.world.borrow_mut().random() * total as f64) as usize;
            let mut r = r.min(total.saturating_sub(1));
            for (p, s) in pools.iter().zip(&sizes) {
                if r < *s {
                    return self.pool_start[*p] + r;
                }
                r -= s;
            }
            0
        };
        let a = pick();
        let b = pick();
        if self.pods_on[b] < self.pods_on[a] {
            b
        } else {
            a
        }
    }
}

async fn gc_loop(
    m: Rc<Manager>,
    world: WorldRef,
    node: usize,
    capacity: u64,
    policy: pullsim_policy::GcPolicy,
    removed: Rc<RefCell<u64>>,
) {
    loop {
        sleep(&world, IMAGE_GC_PERIOD).await;
        let (used, in_use, now_ms) = {
            let w = world.borrow();
            let n = &w.nodes[node];
            (n.used, n.in_use.clone(), w.now_ms())
        };
        // The kubelet's GarbageCollect frees nothing below the high threshold unless
        // imageMaximumGCAge is set: skip the pass then (same outcome, no work).
        let over = u128::from(used) * 100
            >= u128::from(capacity) * u128::from(policy.high_threshold_percent);
        if !over && policy.max_age.is_zero() {
            continue;
        }
        let req = GcRequest {
            policy,
            capacity,
            in_use: &in_use,
            now_unix_ms: now_ms,
            dry_run: false,
        };
        if let Ok(report) = collect(m.service(), &req).await {
            *removed.borrow_mut() += report.removed.len() as u64;
        }
    }
}

/// Run one variant of a scenario.
pub fn run_variant(name: &str, plan: Plan, opts: RunOptions) -> VariantResult {
    let plan = Rc::new(plan);
    let world: WorldRef = Rc::new(RefCell::new(World::new(plan.clone(), opts.seed)));
    world.borrow_mut().exact_sharing = opts.exact_sharing;
    let nodes = world.borrow().nodes.len();
    let mut pool_start = Vec::new();
    let mut acc = 0;
    for p in &plan.pools {
        pool_start.push(acc);
        acc += p.count as usize;
    }
    let mut fleet = Fleet {
        plan: plan.clone(),
        world: world.clone(),
        clock: Arc::new(FakeClock::at(Duration::ZERO)),
        managers: vec![None; nodes],
        keyring: Keyring::new(),
        pods_on: vec![0; nodes],
        pool_start,
        images_removed: Rc::new(RefCell::new(0)),
    };
    let mut exec = Executor::new();

    {
        let mut w = world.borrow_mut();
        for node in 0..nodes {
            let pool = w.nodes[node].pool;
            for &im in &plan.pools[pool].preloaded {
                drop(w);
                ModelRuntime {
                    world: world.clone(),
                    node,
                }
                .preload(im);
                w = world.borrow_mut();
            }
        }
        for (wi, wl) in plan.workloads.iter().enumerate() {
            let mut k = 0u32;
            if wl.daemonset {
                for &p in &wl.pools {
                    for i in 0..plan.pools[p].count as usize {
                        for t in 0..wl.templates.len() {
                            let at = wl.at + wl.every * k;
                            w.queue.push(
                                at,
                                Ev::Arrive {
                                    workload: wi,
                                    template: t,
                                    replica: i as u32,
                                    node: fleet.pool_start[p] + i,
                                },
                            );
                            k += 1;
                        }
                    }
                }
            } else {
                for r in 0..wl.replicas {
                    for t in 0..wl.templates.len() {
                        let at = wl.at + wl.every * k;
                        w.queue.push(
                            at,
                            Ev::Arrive {
                                workload: wi,
                                template: t,
                                replica: r,
                                node: usize::MAX,
                            },
                        );
                        k += 1;
                    }
                }
            }
        }
        let mut t = plan.sample_interval;
        while t <= plan.duration {
            w.queue.push(t, Ev::Sample);
            t += plan.sample_interval;
        }
    }

    loop {
        exec.run_until_stalled();
        let next = world.borrow_mut().queue.pop();
        let Some((t, ev)) = next else {
            break;
        };
        if t > plan.duration {
            break;
        }
        world.borrow_mut().now = t;
        fleet.clock.set(t);
        match ev {
            Ev::Wake(s) => fire(&s),
            Ev::FlowEnd { flow, generation } => world.borrow_mut().flow_end(flow, generation),
            Ev::Sample => world.borrow_mut().stats.sample(t),
            Ev::Arrive {
                workload,
                template,
                replica,
                node,
            } => {
                let wl = &plan.workloads[workload];
                let node = if node == usize::MAX {
                    fleet.schedule(&wl.pools)
                } else {
                    node
                };
                fleet.pods_on[node] += 1;
                let (tpl, names) = &wl.templates[template];
                let mut spec = tpl.clone();
                spec.name = if wl.daemonset {
                    format!("{}-{}", tpl.name, node)
                } else {
                    format!("{}-{replica}", tpl.name)
                };
                spec.uid = pullsim_node::derived_uid(&format!(
                    "{}/{}#{template}",
                    spec.namespace, spec.name
                ));
                let pod = build_pod(spec, names, &plan.secrets, &fleet.keyring);
                let m = fleet.manager(node, &mut exec);
                world.borrow_mut().stats.pods += 1;
                exec.spawn(pod_worker(m, world.clone(), node, pod, opts.every_sync));
            }
        }
    }
    let removed = *fleet.images_removed.borrow();
    let stats = std::mem::replace(
        &mut world.borrow_mut().stats,
        crate::stats::Stats::new(&plan),
    );
    let mut r = stats.finish(name, nodes as u64, plan.duration);
    r.images_removed = removed;
    r
}

async fn pod_worker(
    m: Rc<Manager>,
    world: WorldRef,
    node: usize,
    mut pod: pullsim_node::PodRun,
    every_sync: bool,
) {
    let arrival = world.borrow().now;
    let key = pod.key();
    loop {
        sync_pod(&m, &mut pod).await;
        let events = m.take_events();
        let ready = pod.ready();
        // This pod's events of this sync, by reason, and whether it pulled.
        let mut mine: Vec<String> = Vec::new();
        {
            let mut w = world.borrow_mut();
            for e in events {
                if e.reason == "Failed" && e.message.starts_with("Failed to pull image") {
                    w.stats.note_error(&e.message);
                }
                if e.pod == key {
                    mine.push(e.reason.clone());
                }
                *w.stats.events.entry(e.reason).or_default() += 1;
            }
            if ready {
                let now = w.now;
                w.stats.ready += 1;
                w.stats.ttr.push((now - arrival).as_secs_f64());
                let ids: BTreeSet<String> = pod
                    .states
                    .iter()
                    .filter_map(|s| match s {
                        ImageState::Ready { image_id } => Some(image_id.clone()),
                        _ => None,
                    })
                    .collect();
                w.nodes[node].in_use.extend(ids);
            }
        }
        if ready {
            let now_ms = world.borrow().now_ms();
            pullsim_node::simulate::mark_ready_images_used(
                m.service(),
                std::slice::from_ref(&pod),
                now_ms,
            )
            .await;
            return;
        }
        let ahead = if every_sync {
            None
        } else {
            identical_syncs_ahead(&m, &pod, &mine)
        };
        match ahead {
            None => sleep(&world, POD_WORKER_BACKOFF).await,
            Some(remaining) => skip_backoff_syncs(&world, node, remaining, &mine).await,
        }
    }
}

/// A sync that pulled nothing and left every waiting image in `ImagePullBackOff` is repeated
/// identically (same decisions, same events) every `POD_WORKER_BACKOFF` until a back-off ends
/// or the node's images change. `Some(time until the first back-off ends)` for such a sync.
fn identical_syncs_ahead(
    m: &Manager,
    pod: &pullsim_node::PodRun,
    mine: &[String],
) -> Option<Duration> {
    if mine.iter().any(|r| r == "Pulling") {
        return None;
    }
    let mut least: Option<Duration> = None;
    for (img, st) in pod.spec.images.iter().zip(&pod.states) {
        match st {
            ImageState::Waiting { reason, .. } => {
                if *reason != pullsim_policy::Reason::ImagePullBackOff {
                    return None;
                }
                let r = m.backoff_remaining(&pod.spec.uid, &img.image)?;
                least = Some(least.map_or(r, |l| l.min(r)));
            }
            ImageState::Ready { .. } | ImageState::Pending => {}
        }
    }
    least
}

/// Skip the syncs that would repeat the last one, counting their events: the next real sync is
/// on the pod worker's 10 s grid, at the first point out of back-off, or the first point after
/// the node's images change.
async fn skip_backoff_syncs(world: &WorldRef, node: usize, remaining: Duration, mine: &[String]) {
    let (start, end) = {
        let w = world.borrow();
        (w.now, w.plan.duration)
    };
    let period = POD_WORKER_BACKOFF.as_nanos();
    // Grid points j·10 s (j ≥ 1) still in back-off: j·10 s < remaining.
    let in_backoff = remaining.as_nanos().div_ceil(period).saturating_sub(1);
    let in_backoff = u32::try_from(in_backoff).unwrap_or(u32::MAX);
    // Those within the run, counted now (the run may end during the wait).
    let within = u32::try_from(end.saturating_sub(start).as_nanos() / period)
        .unwrap_or(u32::MAX)
        .min(in_backoff);
    add_events(world, mine, i64::from(within));
    let target = start + POD_WORKER_BACKOFF * (in_backoff + 1);
    sleep_or_change(world, node, target).await;
    let now = world.borrow().now;
    // Woken early: the next real sync is the grid point at or after now.
    let elapsed = (now - start).as_nanos();
    let j = u32::try_from(elapsed.div_ceil(period).max(1)).unwrap_or(u32::MAX);
    let skipped = j.saturating_sub(1).min(in_backoff);
    add_events(world, mine, i64::from(skipped) - i64::from(within));
    let next = start + POD_WORKER_BACKOFF * j;
    if next > now {
        sleep(world, next - now).await;
    }
}

fn add_events(world: &WorldRef, reasons: &[String], n: i64) {
    if n == 0 {
        return;
    }
    let mut w = world.borrow_mut();
    for r in reasons {
        let c = w.stats.events.entry(r.clone()).or_default();
        *c = c.saturating_add_signed(n);
    }
}
