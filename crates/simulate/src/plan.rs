//! A scenario checked and compiled into what the engine runs: numbers instead of quantities,
//! indices instead of names, digests for every blob, the kubelet configuration of each pool
//! resolved by the node crate's rules (`pullsim_node::kubelet_config::resolve`), workloads
//! turned into pod specs (inline, or read by `pullsim_node::Manifests`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use pullsim_node::kubelet_config::{FlagOverrides, KubeletConfig, resolve};
use pullsim_node::pods::SecretSet;
use pullsim_node::{ImageSource, Manifests, Origin, PodImage, PodSpec};
use pullsim_policy::PullPolicy;
use pullsim_reference::Reference;
use pullsim_runtime::modelled::registry_endpoint;

use crate::error::ScenarioError;
use crate::scenario::{ScenarioFile, kubelet_file};
use crate::units::{parse_bandwidth, parse_duration, parse_size};

/// The kinds of registry request the model makes (and counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReqKind {
    /// `HEAD /v2/<repo>/manifests/<tag>` (the resolve; also the one answered 401).
    ManifestHead,
    /// `GET /v2/<repo>/manifests/<digest>` of an index.
    IndexGet,
    /// `GET /v2/<repo>/manifests/<digest>` of a platform manifest (Docker Hub's "pull").
    ManifestGet,
    /// `GET /v2/<repo>/blobs/<digest>` (config and layers).
    BlobGet,
    /// `GET <realm>?scope=…` on the token service.
    Token,
}

impl ReqKind {
    /// The scenario's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReqKind::ManifestHead => "manifest_head",
            ReqKind::IndexGet => "index_get",
            ReqKind::ManifestGet => "manifest_get",
            ReqKind::BlobGet => "blob_get",
            ReqKind::Token => "token",
        }
    }

    const ALL: [ReqKind; 5] = [
        ReqKind::ManifestHead,
        ReqKind::IndexGet,
        ReqKind::ManifestGet,
        ReqKind::BlobGet,
        ReqKind::Token,
    ];
}

/// What a rate limit counts per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// The node's address (shared by a pool behind `egressAddress`).
    Address,
    /// The credential's user name (anonymous requests: the address).
    Credential,
}

/// Whom a rate limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// Requests without a credential.
    Anonymous,
    /// Requests with one.
    Authenticated,
    /// Both.
    Any,
}

/// A compiled rate limit.
#[derive(Clone, Debug)]
pub struct Limit {
    /// Requests per window.
    pub requests: u32,
    /// The sliding window.
    pub window: Duration,
    /// Key.
    pub per: Per,
    /// Who.
    pub who: Who,
    /// Counted kinds.
    pub counts: Vec<ReqKind>,
    /// The 429's registry error body.
    pub body: String,
}

/// A compiled registry.
#[derive(Clone, Debug)]
pub struct Registry {
    /// The host as named in image references (`docker.io`).
    pub host: String,
    /// The endpoint containerd talks to (`https://registry-1.docker.io/v2`).
    pub endpoint: String,
    /// Egress bytes per second (`None`: unlimited).
    pub egress: Option<f64>,
    /// Per-request time.
    pub latency: Duration,
    /// Every pull meets 401 → token → retry.
    pub token: bool,
    /// Rate limits.
    pub limits: Vec<Limit>,
    /// Probability of a 500 per request.
    pub error_rate: f64,
    /// Outage windows.
    pub outages: Vec<(Duration, Duration)>,
}

/// A blob (manifest, index, config or layer) of the catalogue.
#[derive(Clone, Debug)]
pub struct Blob {
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// One platform of an image.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    /// Architecture (`amd64`).
    pub arch: String,
    /// The platform manifest.
    pub manifest: usize,
    /// The config blob (its digest is the image ID).
    pub config: usize,
    /// Layers.
    pub layers: Vec<usize>,
    /// Content size as containerd's CRI reports it (manifests, config, layers).
    pub size: u64,
}

/// An image of the catalogue.
#[derive(Clone, Debug)]
pub struct ImageModel {
    /// Normalized reference with tag (`docker.io/library/nginx:1.27`).
    pub reference: String,
    /// Repository path (`library/nginx`).
    pub repo: String,
    /// Tag.
    pub tag: String,
    /// The registry (index into [`Plan::registries`]) of its domain.
    pub registry: usize,
    /// The index blob, for multi-arch images.
    pub index: Option<usize>,
    /// Platforms.
    pub platforms: Vec<PlatformImage>,
}

/// A compiled node pool.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Name.
    pub name: String,
    /// Nodes.
    pub count: u32,
    /// Architecture.
    pub arch: String,
    /// Downlink bytes per second.
    pub downlink: f64,
    /// Image filesystem capacity.
    pub disk: Option<u64>,
    /// Shared egress address.
    pub egress_address: Option<String>,
    /// The kubelet's configuration, resolved and validated.
    pub kubelet: KubeletConfig,
    /// containerd's `max_concurrent_downloads`.
    pub max_downloads: usize,
    /// Hosts tried per registry namespace (registry indices), mirrors first.
    pub mirrors: BTreeMap<usize, Vec<usize>>,
    /// Images present at start (catalogue indices).
    pub preloaded: Vec<usize>,
}

/// A compiled workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name.
    pub name: String,
    /// Pools its pods may run on.
    pub pools: Vec<usize>,
    /// A pod per node.
    pub daemonset: bool,
    /// Pods per template (not for DaemonSets).
    pub replicas: u32,
    /// First arrival.
    pub at: Duration,
    /// Gap between arrivals.
    pub every: Duration,
    /// Pod templates, with the pull secret names each uses.
    pub templates: Vec<(PodSpec, Vec<String>)>,
}

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Virtual time simulated.
    pub duration: Duration,
    /// Sample period.
    pub sample_interval: Duration,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Registries.
    pub registries: Vec<Registry>,
    /// Blobs.
    pub blobs: Vec<Blob>,
    /// Images.
    pub images: Vec<ImageModel>,
    /// Normalized reference → image.
    pub image_by_ref: HashMap<String, usize>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Pull secrets.
    pub secrets: SecretSet,
}

/// A reference as the catalogue keys it: normalized, default tag applied.
pub fn catalogue_key(image: &str) -> Option<String> {
    let r = Reference::parse_normalized(image).ok()?;
    Some(r.with_default_tag().as_str().to_string())
}

fn digest_of(what: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(what.as_bytes())))
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            field: field.into(),
            message: message.into(),
        }
    }
    fn dur(
        &self,
        field: &str,
        v: Option<&String>,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        v.map_or(Ok(default), |s| {
            parse_duration(s).map_err(|m| self.err(field, m))
        })
    }
}

const MANIFEST_SIZE: u64 = 1_500;
const INDEX_SIZE: u64 = 1_000;

/// Check and compile one variant of a scenario read from `path`.
pub fn compile(s: &ScenarioFile, path: &Path) -> Result<Plan, ScenarioError> {
    let cx = Ctx { path };
    let duration = cx.dur("duration", s.duration.as_ref(), Duration::from_secs(3600))?;
    let sample_interval = cx.dur(
        "sampleInterval",
        s.sample_interval.as_ref(),
        Duration::from_secs(60),
    )?;
    if sample_interval.is_zero() {
        return Err(cx.err("sampleInterval", "must be more than 0s"));
    }

    let mut registries = Vec::new();
    let mut reg_index = HashMap::new();
    for (host, r) in &s.registries {
        let f = |k: &str| format!("registries.{host}.{k}");
        let egress = r
            .egress
            .as_ref()
            .map(|e| parse_bandwidth(e).map_err(|m| cx.err(f("egress"), m)))
            .transpose()?;
        let latency = cx.dur(&f("latency"), r.latency.as_ref(), Duration::ZERO)?;
        let token = match r.auth.as_deref() {
            None | Some("none") => false,
            Some("token") => true,
            Some(o) => return Err(cx.err(f("auth"), format!("must be token or none, not {o:?}"))),
        };
        let error_rate = r.error_rate.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(cx.err(f("errorRate"), "must be between 0 and 1"));
        }
        let mut limits = Vec::new();
        for (i, l) in r.rate_limits.iter().enumerate() {
            let lf = |k: &str| f(&format!("rateLimits[{i}].{k}"));
            let window = parse_duration(&l.window).map_err(|m| cx.err(lf("window"), m))?;
            if window.is_zero() {
                return Err(cx.err(lf("window"), "must be more than 0s"));
            }
            let per = match l.per.as_deref() {
                None | Some("address") => Per::Address,
                Some("credential") => Per::Credential,
                Some(o) => {
                    return Err(cx.err(
                        lf("per"),
                        format!("must be address or credential, not {o:?}"),
                    ));
                }
            };
            let who = match l.who.as_deref() {
                None | Some("any") => Who::Any,
                Some("anonymous") => Who::Anonymous,
                Some("authenticated") => Who::Authenticated,
                Some(o) => {
                    return Err(cx.err(
                        lf("who"),
                        format!("must be anonymous, authenticated or any, not {o:?}"),
                    ));
                }
            };
            let counts = match &l.counts {
                None => vec![ReqKind::ManifestGet],
                Some(c) => c
                    .iter()
                    .map(|k| {
                        ReqKind::ALL.into_iter().find(|r| r.as_str() == k).ok_or_else(|| {
                            cx.err(lf("counts"), format!("unknown request kind {k:?} (manifest_head, index_get, manifest_get, blob_get, token)"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            let message = l.message.clone().unwrap_or_else(|| {
                "You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit".to_string()
            });
            let body =
                serde_json::json!({"errors": [{"code": "TOOMANYREQUESTS", "message": message}]})
                    .to_string();
            limits.push(Limit {
                requests: l.requests,
                window,
                per,
                who,
                counts,
                body,
            });
        }
        let mut outages = Vec::new();
        for (i, o) in r.outages.iter().enumerate() {
            let from =
                parse_duration(&o.from).map_err(|m| cx.err(f(&format!("outages[{i}].from")), m))?;
            let to =
                parse_duration(&o.to).map_err(|m| cx.err(f(&format!("outages[{i}].to")), m))?;
            if to <= from {
                return Err(cx.err(f(&format!("outages[{i}].to")), "must be after from"));
            }
            outages.push((from, to));
        }
        let endpoint = format!("https://{}/v2", registry_endpoint(host));
        reg_index.insert(host.clone(), registries.len());
        registries.push(Registry {
            host: host.clone(),
            endpoint,
            egress,
            latency,
            token,
            limits,
            error_rate,
            outages,
        });
    }

    let mut blobs: Vec<Blob> = Vec::new();
    let mut blob_index: HashMap<String, usize> = HashMap::new();
    let mut blob = |key: String, size: u64| -> usize {
        *blob_index.entry(key.clone()).or_insert_with(|| {
            blobs.push(Blob {
                digest: digest_of(&key),
                size,
            });
            blobs.len() - 1
        })
    };
    let mut shared = HashMap::new();
    for (name, size) in &s.shared_layers {
        let size = parse_size(size).map_err(|m| cx.err(format!("sharedLayers.{name}"), m))?;
        shared.insert(name.clone(), size);
    }
    let mut images = Vec::new();
    let mut image_by_ref = HashMap::new();
    for (name, img) in &s.images {
        let f = |k: &str| format!("images.{name}.{k}");
        let Some(key) = catalogue_key(name) else {
            return Err(cx.err(format!("images.{name}"), "not a valid image reference"));
        };
        let r = Reference::parse_normalized(&key)
            .map_err(|e| cx.err(format!("images.{name}"), e.to_string()))?;
        let registry = *reg_index.get(r.domain()).ok_or_else(|| {
            cx.err(
                format!("images.{name}"),
                format!("its registry {:?} is not in registries", r.domain()),
            )
        })?;
        let tag = r.tag().unwrap_or("latest").to_string();
        let platforms_in = img
            .platforms
            .clone()
            .unwrap_or_else(|| vec!["linux/amd64".to_string()]);
        let config_size = match &img.config {
            Some(c) => parse_size(c).map_err(|m| cx.err(f("config"), m))?,
            None => 4096,
        };
        if img.from_store {
            return Err(cx.err(
                f("fromStore"),
                "the image is to be read from a pullsim store, which only `pullsim simulate` (with its --root) reads".to_string(),
            ));
        }
        if img.layers.is_empty() {
            return Err(cx.err(f("layers"), "required (or fromStore: true)".to_string()));
        }
        let mut sizes = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            match shared.get(l) {
                Some(sz) => sizes.push((format!("shared:{l}"), *sz)),
                None => {
                    let sz = parse_size(l).map_err(|m| {
                        cx.err(
                            f(&format!("layers[{i}]")),
                            format!("{m} (nor a name in sharedLayers)"),
                        )
                    })?;
                    sizes.push((format!("{key}#layer{i}"), sz));
                }
            }
        }
        let mut platforms = Vec::new();
        for p in &platforms_in {
            let arch = p.rsplit('/').next().unwrap_or(p).to_string();
            let layers: Vec<usize> = sizes
                .iter()
                .map(|(k, sz)| blob(format!("{k}@{arch}"), *sz))
                .collect();
            let config = blob(format!("{key}#config@{arch}"), config_size);
            let manifest = blob(format!("{key}#manifest@{arch}"), MANIFEST_SIZE);
            let size = MANIFEST_SIZE + config_size + sizes.iter().map(|(_, s)| s).sum::<u64>();
            platforms.push(PlatformImage {
                arch,
                manifest,
                config,
                layers,
                size,
            });
        }
        let index =
            (platforms_in.len() > 1 || img.index).then(|| blob(format!("{key}#index"), INDEX_SIZE));
        image_by_ref.insert(key.clone(), images.len());
        images.push(ImageModel {
            reference: key,
            repo: r.path().to_string(),
            tag,
            registry,
            index,
            platforms,
        });
    }

    let mut pools = Vec::new();
    let mut pool_index = HashMap::new();
    for (name, p) in &s.pools {
        let f = |k: &str| format!("pools.{name}.{k}");
        let downlink = parse_bandwidth(&p.downlink).map_err(|m| cx.err(f("downlink"), m))?;
        let disk = p
            .disk
            .as_ref()
            .map(|d| parse_size(d).map_err(|m| cx.err(f("disk"), m)))
            .transpose()?;
        let file = kubelet_file(p.kubelet.as_ref()).map_err(|m| cx.err(f("kubelet"), m))?;
        let kubelet = resolve(Some(&file), &FlagOverrides::default())
            .map_err(|e| cx.err(f("kubelet"), e.to_string()))?;
        let rt = p.runtime.clone().unwrap_or_default();
        let max_downloads = rt.max_concurrent_downloads.unwrap_or(3).max(1) as usize;
        let mut mirrors = BTreeMap::new();
        for (ns, hosts) in &rt.mirrors {
            let Some(&upstream) = reg_index.get(ns) else {
                return Err(cx.err(
                    f(&format!("runtime.mirrors.{ns}")),
                    format!("{ns:?} is not in registries"),
                ));
            };
            let mut list = Vec::new();
            for h in hosts {
                let i = *reg_index.get(h).ok_or_else(|| {
                    cx.err(
                        f(&format!("runtime.mirrors.{ns}")),
                        format!("mirror {h:?} is not in registries"),
                    )
                })?;
                list.push(i);
            }
            list.push(upstream);
            mirrors.insert(upstream, list);
        }
        let arch = p.arch.clone().unwrap_or_else(|| "amd64".to_string());
        let mut preloaded = Vec::new();
        for (i, im) in p.preloaded.iter().enumerate() {
            let idx = catalogue_key(im)
                .and_then(|k| image_by_ref.get(&k).copied())
                .ok_or_else(|| {
                    cx.err(
                        f(&format!("preloaded[{i}]")),
                        format!("image {im:?} is not in images"),
                    )
                })?;
            preloaded.push(idx);
        }
        pool_index.insert(name.clone(), pools.len());
        pools.push(Pool {
            name: name.clone(),
            count: p.count,
            arch,
            downlink,
            disk,
            egress_address: p.egress_address.clone(),
            kubelet,
            max_downloads,
            mirrors,
            preloaded,
        });
    }
    if pools.is_empty() {
        return Err(cx.err("pools", "at least one pool is needed"));
    }

    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut secrets = SecretSet::default();
    if !s.secrets.is_empty() {
        let paths: Vec<PathBuf> = s.secrets.iter().map(|p| base_dir.join(p)).collect();
        let m = Manifests::load(&paths).map_err(|e| ScenarioError::Manifest {
            path: path.to_path_buf(),
            field: "secrets".into(),
            message: e.to_string(),
        })?;
        let set = SecretSet::from_manifests(&m).map_err(|e| ScenarioError::Manifest {
            path: path.to_path_buf(),
            field: "secrets".into(),
            message: e.to_string(),
        })?;
        secrets.add(set.pull_secrets);
        secrets.present.extend(set.present);
    }

    let mut workloads = Vec::new();
    for (name, w) in &s.workloads {
        let f = |k: &str| format!("workloads.{name}.{k}");
        let mut daemonset = match w.kind.as_deref() {
            None | Some("Deployment") | Some("Job") => false,
            Some("DaemonSet") => true,
            Some(o) => {
                return Err(cx.err(
                    f("kind"),
                    format!("must be Deployment, Job or DaemonSet, not {o:?}"),
                ));
            }
        };
        let pools_of = match &w.pool {
            None => (0..pools.len()).collect(),
            Some(p) => vec![
                *pool_index
                    .get(p)
                    .ok_or_else(|| cx.err(f("pool"), format!("no pool {p:?}")))?,
            ],
        };
        let namespace = w.namespace.clone().unwrap_or_else(|| "default".to_string());
        let mut templates = Vec::new();
        match &w.manifest {
            Some(m) => {
                if !w.containers.is_empty() || !w.init_containers.is_empty() {
                    return Err(cx.err(f("manifest"), "give a manifest or containers, not both"));
                }
                let mpath = base_dir.join(m);
                let man = Manifests::load(std::slice::from_ref(&mpath)).map_err(|e| {
                    ScenarioError::Manifest {
                        path: path.to_path_buf(),
                        field: f("manifest"),
                        message: e.to_string(),
                    }
                })?;
                let set = SecretSet::from_manifests(&man).map_err(|e| ScenarioError::Manifest {
                    path: path.to_path_buf(),
                    field: f("manifest"),
                    message: e.to_string(),
                })?;
                secrets.add(set.pull_secrets);
                secrets.present.extend(set.present);
                for pod in &man.pods {
                    daemonset |= pod.origin.object.starts_with("DaemonSet ");
                    let (names, _) = pullsim_node::pods::pull_secret_names(pod, &man);
                    templates.push((pod.clone(), names));
                }
                if templates.is_empty() {
                    return Err(cx.err(
                        f("manifest"),
                        format!("{} has no pod or pod template", mpath.display()),
                    ));
                }
            }
            None => {
                if w.containers.is_empty() {
                    return Err(
                        cx.err(f("containers"), "a workload needs containers or a manifest")
                    );
                }
                let mut imgs = Vec::new();
                for (src, list, field) in [
                    (
                        ImageSource::InitContainer,
                        &w.init_containers,
                        "initContainers",
                    ),
                    (ImageSource::Container, &w.containers, "containers"),
                ] {
                    for (i, c) in list.iter().enumerate() {
                        let pull_policy = c
                            .image_pull_policy
                            .as_deref()
                            .map(|p| {
                                p.parse::<PullPolicy>().map_err(|e| {
                                    cx.err(
                                        f(&format!("{field}[{i}].imagePullPolicy")),
                                        e.to_string(),
                                    )
                                })
                            })
                            .transpose()?;
                        imgs.push(PodImage {
                            source: src,
                            name: c.name.clone().unwrap_or_else(|| format!("c{}", imgs.len())),
                            image: c.image.clone(),
                            pull_policy,
                        });
                    }
                }
                let spec = PodSpec {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    uid: pullsim_node::derived_uid(&format!("{namespace}/{name}")),
                    service_account: "default".into(),
                    image_pull_secrets: w.image_pull_secrets.clone(),
                    images: imgs,
                    origin: Origin {
                        file: path.to_path_buf(),
                        document: 1,
                        object: format!("workload {name:?}"),
                    },
                };
                templates.push((spec, w.image_pull_secrets.clone()));
            }
        }
        for (t, _) in &templates {
            for img in &t.images {
                let ok = catalogue_key(&img.image).is_some_and(|k| image_by_ref.contains_key(&k));
                if !ok {
                    return Err(cx.err(
                        f("containers"),
                        format!("image {:?} is not in images", img.image),
                    ));
                }
                let k = catalogue_key(&img.image).unwrap_or_default();
                let im = &images[image_by_ref[&k]];
                for &p in &pools_of {
                    if !im.platforms.iter().any(|pl| pl.arch == pools[p].arch) {
                        return Err(cx.err(
                            f("containers"),
                            format!(
                                "image {:?} has no {} platform for pool {:?}",
                                img.image, pools[p].arch, pools[p].name
                            ),
                        ));
                    }
                }
            }
        }
        workloads.push(Workload {
            name: name.clone(),
            pools: pools_of,
            daemonset,
            replicas: w.replicas.unwrap_or(1),
            at: cx.dur(&f("at"), w.at.as_ref(), Duration::ZERO)?,
            every: cx.dur(&f("every"), w.every.as_ref(), Duration::ZERO)?,
            templates,
        });
    }

    Ok(Plan {
        duration,
        sample_interval,
        pools,
        registries,
        blobs,
        images,
        image_by_ref,
        workloads,
        secrets,
    })
}
