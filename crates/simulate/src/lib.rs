//! pullsim-simulate: a fleet of nodes in virtual time (`pullsim simulate`).
//!
//! A scenario ([`scenario`]: node pools, registries, images, workloads, variants) is compiled
//! ([`plan`]) and run ([`engine`]): every node runs the kubelet's image path from
//! `pullsim-node` (image manager, pullers, QPS, back-off, KEP-2535 records, GC) in one virtual
//! clock, over a model of containerd behind `pullsim_runtime::ImageService` ([`model`]: the
//! request sequence, per-layer dedupe, the download limiter) and of the registries (latency,
//! rate limits, outages, failures; bandwidth shared by a fluid model). Results ([`stats`]) are
//! per variant; [`report`] draws them as one self-contained HTML page.
#![deny(missing_docs)]

pub mod engine;
pub mod error;
mod exec;
mod model;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod synthetic;
pub mod units;
mod world;

use std::path::Path;

pub use engine::{RunOptions, run_variant};
pub use error::ScenarioError;
pub use scenario::{LoadedScenario, load, parse};
pub use stats::{HostCounters, Percentiles, Sample, VariantResult};

/// Compile every variant of `loaded` (all scenario errors first), then run each.
pub fn simulate(
    loaded: &LoadedScenario,
    opts: RunOptions,
) -> Result<Vec<VariantResult>, ScenarioError> {
    let plans = loaded
        .variants
        .iter()
        .map(|(name, s)| plan::compile(s, &loaded.path).map(|p| (name.clone(), p)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(plans
        .into_iter()
        .map(|(name, p)| run_variant(&name, p, opts))
        .collect())
}

/// Read `path` and simulate it.
pub fn simulate_file(path: &Path, opts: RunOptions) -> Result<Vec<VariantResult>, ScenarioError> {
    simulate(&load(path)?, opts)
}
