//! The node a command runs on, built once: the container runtime (containerd's image service
//! over the content store at `--root`) and the kubelet's KEP-2535 records, kept as the kubelet
//! keeps them under `ROOT/kubelet/image_manager/`. Every command that asks the kubelet a
//! question (`pull`, `pod run`, `pod explain`, `creds check`, `images gc`) goes through this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use pullsim_node::records::{
    CachedPullRecords, DryRunRecords, FsPullRecords, MemPullRecords, PullRecordsAccessor,
    migrate_legacy,
};
use pullsim_runtime::containerd_config::{ContainerdConfig, ContainerdGeneration};
use pullsim_runtime::{ContainerdImageService, RuntimeConfig, RuntimeKind, load_registries_conf};
use pullsim_store::{LegacyNodeRecords, Store, StoreOptions};

use crate::flags::RegistryFlags;

/// The kubelet's root directory inside a pullsim root: where the kubelet's own files live
/// (`image_manager/pulling`, `image_manager/pulled`), beside the runtime's content store.
pub fn kubelet_dir(root: &Path) -> PathBuf {
    root.join("kubelet")
}

/// The root the command uses: `--root`, else the default.
/// Named once on stderr (`pullsim: node store DIR`), so a result never depends on a store the
/// user did not know about (an `--ephemeral` node is named by `main`).
pub fn root_dir(root: Option<&Path>) -> PathBuf {
    let dir = root
        .map(Path::to_path_buf)
        .unwrap_or_else(Store::default_root);
    if !STORE_NAMED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("pullsim: node store {}", dir.display());
    }
    dir
}

/// The store was named on stderr already.
pub static STORE_NAMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The runtime's configuration from the registry flags (`tune` sets the rest). Fails on a
/// runtime flag that is not the chosen runtime's (a usage error, exit 2).
pub fn runtime_config(
    root: &Path,
    registry: &RegistryFlags,
    tune: impl FnOnce(&mut RuntimeConfig),
) -> anyhow::Result<RuntimeConfig> {
    registry.runtime.check_runtime()?;
    let mut cfg = RuntimeConfig::new(root);
    cfg.kind = registry.runtime.runtime.kind();
    cfg.insecure_registries = registry.insecure_registry.clone();
    cfg.ca_files = registry.ca_file.clone();
    cfg.offline = registry.offline;
    let rt = &registry.runtime;
    cfg.registry_config_path = rt.registry_config_path.clone();
    if let Some(file) = &rt.containerd_config {
        let generation = match cfg.kind {
            RuntimeKind::Containerd17 => ContainerdGeneration::V1,
            _ => ContainerdGeneration::V2,
        };
        let (text, origin) = match crate::stdin::text_if_stdin(file, "--containerd-config")? {
            Some(read) => read,
            None => (
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading the containerd config {}", file.display()))?,
                file.clone(),
            ),
        };
        let c = ContainerdConfig::parse_str_as(&text, &origin, generation)?;
        if let Some(t) = c.image_pull_progress_timeout {
            cfg.image_pull_progress_timeout = t;
        }
        cfg.max_concurrent_downloads = c.effective_max_concurrent_downloads();
        cfg.containerd = Some(Arc::new(c));
    }
    if let Some(file) = &rt.registries_conf {
        // From standard input: the one file, no registries.conf.d beside it.
        let conf = match crate::stdin::text_if_stdin(file, "--registries-conf")? {
            Some((text, origin)) => {
                pullsim_runtime::registries_conf::RegistriesConf::parse_str(&text, &origin)?
            }
            None => load_registries_conf(file)?,
        };
        cfg.registries_conf = Some(Arc::new(conf));
    }
    // A flag wins over the containerd config.
    if let Some(t) = registry.image_pull_progress_timeout {
        cfg.image_pull_progress_timeout = t;
    }
    cfg.on_store_wait = Some(Arc::new(|p: &Path| {
        eprintln!(
            "waiting for the store lock held by another pullsim process ({})",
            p.display()
        )
    }));
    tune(&mut cfg);
    Ok(cfg)
}

/// The runtime (opens the store).
pub fn open_runtime(cfg: RuntimeConfig) -> anyhow::Result<Arc<ContainerdImageService>> {
    Ok(Arc::new(ContainerdImageService::new(cfg)?))
}

/// The kubelet's records for a command that runs the node: the files under `ROOT/kubelet`
/// behind the kubelet's write-through cache. Records an older pullsim kept in the store's index
/// are moved into those files once (what the kubelet already has for an image wins), then
/// dropped from the index.
pub fn records(
    runtime: &ContainerdImageService,
    root: &Path,
) -> anyhow::Result<CachedPullRecords<FsPullRecords>> {
    let dir = kubelet_dir(root);
    let fs = FsPullRecords::new(&dir)
        .with_context(|| format!("opening the kubelet's records in {}", dir.display()))?;
    let store = runtime.store();
    let legacy = store.legacy_node_records()?;
    if !legacy.is_empty() {
        migrate_legacy(&legacy.pulled, &legacy.intents, &fs)
            .context("moving the store's old KEP-2535 records into the kubelet's files")?;
        store.drop_legacy_node_records()?;
    }
    Ok(CachedPullRecords::lazy(fs))
}

/// The records a dry run (`pod explain`) reads: exactly what a run would read — the kubelet's
/// files and, when the store still holds records of an older pullsim, those as the migration
/// would add them — with every write discarded. Creates and changes nothing.
pub fn dry_run_records(
    runtime: &ContainerdImageService,
    root: &Path,
) -> anyhow::Result<DryRunRecords<Box<dyn PullRecordsAccessor>>> {
    let dir = kubelet_dir(root);
    let legacy = match runtime.store().legacy_node_records() {
        // A read-only command works from the layout when the index is unusable (issue 11): the
        // old records only ever lived in the index, and a rebuilt index has none either.
        Err(e) if e.is_index_unusable() => {
            eprintln!(
                "warning: {e}; explaining without the KEP-2535 records an older pullsim kept in it"
            );
            LegacyNodeRecords::default()
        }
        other => other?,
    };
    let files = dir
        .is_dir()
        .then(|| FsPullRecords::new(&dir))
        .transpose()
        .with_context(|| format!("opening the kubelet's records in {}", dir.display()))?;
    let inner: Box<dyn PullRecordsAccessor> = match files {
        Some(fs) if legacy.is_empty() => Box::new(CachedPullRecords::lazy(fs)),
        files => {
            let mem = MemPullRecords::new();
            if let Some(fs) = files {
                for r in fs.list_image_pulled_records().items {
                    mem.write_image_pulled_record(&r)?;
                }
                for i in fs.list_image_pull_intents().items {
                    mem.write_image_pull_intent(&i.image)?;
                }
            }
            migrate_legacy(&legacy.pulled, &legacy.intents, &mem)
                .context("reading the store's old KEP-2535 records")?;
            Box::new(mem)
        }
    };
    Ok(DryRunRecords(inner))
}

/// Open the store at `--root` (or the default root), reporting lock waits on stderr.
pub fn open_store(root: Option<&Path>) -> anyhow::Result<Store> {
    let root = root_dir(root);
    let opts = StoreOptions {
        on_wait: Some(Arc::new(|p: &Path| {
            eprintln!(
                "waiting for the store lock held by another pullsim process ({})",
                p.display()
            )
        })),
        ..StoreOptions::default()
    };
    Store::open_with(&root, opts)
        .with_context(|| format!("opening the store at {}", root.display()))
}
