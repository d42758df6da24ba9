//! The shared state of one simulated fleet in virtual time: the event queue, the nodes' content,
//! the registries' rate-limit windows, the bandwidth model and the request counters.
//!
//! Bandwidth is a fluid model: a download's rate is `min(node downlink / downloads on the node,
//! registry egress / downloads from the registry)`, recomputed for every download of a node when
//! one starts or ends on that node (the registry's share is read at that moment). With
//! [`World::exact_sharing`] every download in the fleet is recomputed at every start and end
//! (the reference the approximation's error is measured against; cost O(downloads) per event).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use crate::exec::{Queue, SignalRef, Wait, fire};
use crate::plan::{Plan, ReqKind, Who};
use crate::stats::{HostCounters, Stats};

/// An event of the loop.
pub(crate) enum Ev {
    /// Wake a waiting task (a request's latency, a timer).
    Wake(SignalRef),
    /// A download may have finished (stale when `generation` moved on).
    FlowEnd { flow: usize, generation: u64 },
    /// A pod arrives on a node.
    Arrive {
        workload: usize,
        template: usize,
        replica: u32,
        node: usize,
    },
    /// Take a time-series sample.
    Sample,
}

/// An image on a node.
#[derive(Clone, Debug)]
pub(crate) struct NodeImage {
    pub first_seen_ms: u64,
    pub last_used_ms: u64,
}

/// One node's runtime state.
pub(crate) struct NodeState {
    pub pool: usize,
    pub address: String,
    /// Blobs in the content store.
    pub content: HashSet<usize>,
    /// Bytes of content.
    pub used: u64,
    /// Images (catalogue index) present.
    pub images: BTreeMap<usize, NodeImage>,
    /// Blobs being fetched, with the signal fired when the fetch ends.
    pub inflight: HashMap<usize, SignalRef>,
    /// Free download slots (`max_concurrent_downloads`).
    pub dl_free: usize,
    /// Fetches waiting for a slot.
    pub dl_waiters: VecDeque<SignalRef>,
    /// Active downloads.
    pub flows: Vec<usize>,
    /// Image IDs of running containers (protected from GC).
    pub in_use: BTreeSet<String>,
    /// Pod workers waiting for the node's images to change (see [`World::node_changed`]).
    pub change_waiters: Vec<SignalRef>,
}

struct Flow {
    node: usize,
    registry: usize,
    remaining: f64,
    rate: f64,
    last: Duration,
    generation: u64,
    done: SignalRef,
}

/// Everything the model shares.
pub(crate) struct World {
    pub plan: Rc<Plan>,
    pub now: Duration,
    pub queue: Queue<Ev>,
    rng: u64,
    pub nodes: Vec<NodeState>,
    flows: Vec<Option<Flow>>,
    free_flows: Vec<usize>,
    reg_flows: Vec<usize>,
    windows: HashMap<(usize, usize, String), VecDeque<Duration>>,
    pub stats: Stats,
    pub exact_sharing: bool,
    /// Image ID → catalogue image.
    pub image_by_id: HashMap<String, usize>,
    /// Image as the kubelet writes it → catalogue image (the reference parsed once).
    names: HashMap<String, Option<usize>>,
}

/// A registry's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    Unauthorized,
    TooMany(usize),
    Status(u16),
}

impl World {
    pub(crate) fn new(plan: Rc<Plan>, seed: u64) -> World {
        let mut nodes = Vec::new();
        for (pi, p) in plan.pools.iter().enumerate() {
            for i in 0..p.count {
                nodes.push(NodeState {
                    pool: pi,
                    address: p
                        .egress_address
                        .clone()
                        .unwrap_or_else(|| format!("{}-{i}", p.name)),
                    content: HashSet::new(),
                    used: 0,
                    images: BTreeMap::new(),
                    inflight: HashMap::new(),
                    dl_free: p.max_downloads,
                    dl_waiters: VecDeque::new(),
                    flows: Vec::new(),
                    in_use: BTreeSet::new(),
                    change_waiters: Vec::new(),
                });
            }
        }
        let mut image_by_id = HashMap::new();
        for (i, im) in plan.images.iter().enumerate() {
            for p in &im.platforms {
                image_by_id.insert(plan.blobs[p.config].digest.clone(), i);
            }
        }
        let stats = Stats::new(&plan);
        World {
            reg_flows: vec![0; plan.registries.len()],
            plan,
            now: Duration::ZERO,
            queue: Queue::new(),
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
            nodes,
            flows: Vec::new(),
            free_flows: Vec::new(),
            windows: HashMap::new(),
            stats,
            exact_sharing: false,
            image_by_id,
            names: HashMap::new(),
        }
    }

    /// A pull ended or an image was removed on `node`: what a pod's next sync decides may
    /// differ, so pod workers skipping identical back-off syncs sync again.
    pub(crate) fn node_changed(&mut self, node: usize) {
        for s in std::mem::take(&mut self.nodes[node].change_waiters) {
            fire(&s);
        }
    }

    /// splitmix64: a uniform number in [0, 1).
    pub(crate) fn random(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The catalogue image `image` (a reference as written) names.
    pub(crate) fn catalogue_index(&mut self, image: &str) -> Option<usize> {
        if let Some(i) = self.names.get(image) {
            return *i;
        }
        let i =
            crate::plan::catalogue_key(image).and_then(|k| self.plan.image_by_ref.get(&k).copied());
        self.names.insert(image.to_string(), i);
        i
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.now.as_millis() as u64
    }

    /// The registry's answer to a request of `kind` from `node` (credential user `user`) now,
    /// counted.
    pub(crate) fn answer(
        &mut self,
        node: usize,
        registry: usize,
        kind: ReqKind,
        user: Option<&str>,
        authorized: bool,
        bytes: u64,
    ) -> Answer {
        let plan = self.plan.clone();
        let reg = &plan.registries[registry];
        let now = self.now;
        let c: &mut HostCounters = &mut self.stats.hosts[registry];
        c.count(kind);
        let ans = if reg.outages.iter().any(|(a, b)| *a <= now && now < *b) {
            Answer::Status(503)
        } else if reg.token && !authorized && kind != ReqKind::Token {
            Answer::Unauthorized
        } else if let Some(l) = self.over_limit(node, registry, kind, user) {
            Answer::TooMany(l)
        } else if reg.error_rate > 0.0 && self.random() < reg.error_rate {
            Answer::Status(500)
        } else {
            Answer::Ok
        };
        let c = &mut self.stats.hosts[registry];
        match ans {
            Answer::Ok => c.bytes += bytes,
            Answer::TooMany(_) => {
                c.throttled += 1;
                self.stats.first_throttled.get_or_insert(now);
            }
            Answer::Status(_) => c.failed += 1,
            Answer::Unauthorized => {}
        }
        ans
    }

    fn over_limit(
        &mut self,
        node: usize,
        registry: usize,
        kind: ReqKind,
        user: Option<&str>,
    ) -> Option<usize> {
        let plan = self.plan.clone();
        let reg = &plan.registries[registry];
        let mut keys = Vec::new();
        for (li, l) in reg.limits.iter().enumerate() {
            let applies = match l.who {
                Who::Any => true,
                Who::Anonymous => user.is_none(),
                Who::Authenticated => user.is_some(),
            };
            if !applies || !l.counts.contains(&kind) {
                continue;
            }
            let key = match (l.per, user) {
                (crate::plan::Per::Credential, Some(u)) => format!("user:{u}"),
                _ => format!("addr:{}", self.nodes[node].address),
            };
            let w = self.windows.entry((registry, li, key.clone())).or_default();
            while w.front().is_some_and(|t| *t + l.window <= self.now) {
                w.pop_front();
            }
            if w.len() >= l.requests as usize {
                return Some(li);
            }
            keys.push((li, key));
        }
        // Counted only when every applicable limit let it through.
        for (li, key) in keys {
            if let Some(w) = self.windows.get_mut(&(registry, li, key)) {
                w.push_back(self.now);
            }
        }
        None
    }

    fn rate_of(&self, f: &Flow) -> f64 {
        let plan = &self.plan;
        let node = &self.nodes[f.node];
        let down = plan.pools[node.pool].downlink / node.flows.len().max(1) as f64;
        match plan.registries[f.registry].egress {
            Some(e) => down.min(e / self.reg_flows[f.registry].max(1) as f64),
            None => down,
        }
    }

    fn reschedule(&mut self, id: usize) {
        let now = self.now;
        let Some(f) = self.flows[id].as_ref() else {
            return;
        };
        let rate = self.rate_of(f);
        let Some(f) = self.flows[id].as_mut() else {
            return;
        };
        let dt = (now - f.last).as_secs_f64();
        f.remaining = (f.remaining - f.rate * dt).max(0.0);
        f.last = now;
        f.rate = rate;
        f.generation += 1;
        let eta = if rate > 0.0 {
            Duration::from_secs_f64(f.remaining / rate)
        } else {
            Duration::MAX / 4
        };
        let generation = f.generation;
        self.queue.push(
            now + eta,
            Ev::FlowEnd {
                flow: id,
                generation,
            },
        );
    }

    fn recompute(&mut self, node: usize) {
        if self.exact_sharing {
            let ids: Vec<usize> = (0..self.flows.len())
                .filter(|i| self.flows[*i].is_some())
                .collect();
            for id in ids {
                self.reschedule(id);
            }
        } else {
            let ids = self.nodes[node].flows.clone();
            for id in ids {
                self.reschedule(id);
            }
        }
    }

    /// Start a download of `bytes` from `registry` to `node`; the signal fires at its end.
    pub(crate) fn start_flow(&mut self, node: usize, registry: usize, bytes: u64, done: SignalRef) {
        if bytes == 0 {
            fire(&done);
            return;
        }
        let f = Flow {
            node,
            registry,
            remaining: bytes as f64,
            rate: 0.0,
            last: self.now,
            generation: 0,
            done,
        };
        let id = match self.free_flows.pop() {
            Some(id) => {
                self.flows[id] = Some(f);
                id
            }
            None => {
                self.flows.push(Some(f));
                self.flows.len() - 1
            }
        };
        self.nodes[node].flows.push(id);
        self.reg_flows[registry] += 1;
        self.recompute(node);
    }

    /// A `FlowEnd` event: finish the download if it is still current.
    pub(crate) fn flow_end(&mut self, id: usize, generation: u64) {
        let current = self
            .flows
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|f| f.generation == generation);
        if !current {
            return;
        }
        let Some(f) = self.flows[id].take() else {
            return;
        };
        self.free_flows.push(id);
        self.nodes[f.node].flows.retain(|x| *x != id);
        self.reg_flows[f.registry] -= 1;
        fire(&f.done);
        self.recompute(f.node);
    }
}

/// Shared handle.
pub(crate) type WorldRef = Rc<RefCell<World>>;

/// Sleep `d` of virtual time.
pub(crate) async fn sleep(w: &WorldRef, d: Duration) {
    if d.is_zero() {
        return;
    }
    let s: SignalRef = Rc::default();
    {
        let mut g = w.borrow_mut();
        let at = g.now + d;
        g.queue.push(at, Ev::Wake(s.clone()));
    }
    Wait(s).await;
}

/// Sleep until `until`, or until the node's images change, whichever comes first.
pub(crate) async fn sleep_or_change(w: &WorldRef, node: usize, until: Duration) {
    let s: SignalRef = Rc::default();
    {
        let mut g = w.borrow_mut();
        g.queue.push(until, Ev::Wake(s.clone()));
        g.nodes[node].change_waiters.push(s.clone());
    }
    Wait(s).await;
}

/// Download `bytes` from `registry` to `node` through the bandwidth model.
pub(crate) async fn transfer(w: &WorldRef, node: usize, registry: usize, bytes: u64) {
    let s: SignalRef = Rc::default();
    w.borrow_mut().start_flow(node, registry, bytes, s.clone());
    Wait(s).await;
}
