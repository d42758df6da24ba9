//! `pullsim simulate SCENARIO.yaml`: a fleet of nodes in virtual time (pullsim-simulate), one
//! summary per variant (text or `variant` JSON lines, then `sample` lines), and optionally the
//! HTML report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use pullsim_reference::go_duration::format_go_duration;
use pullsim_simulate::{RunOptions, VariantResult};
use serde::Serialize;

use crate::flags::{Format, OutputArgs};
use crate::output::{self, Kind};

/// `pullsim simulate …`
#[derive(Args, Debug)]
#[command(
    about = "Simulate a fleet of nodes pulling images in virtual time, and compare variants",
    long_about = "Run a scenario (node pools, registries with rate limits and outages, images, \
workloads over time, variants to compare) in virtual time. Every node runs the kubelet's image \
manager (pull policies, pullers, QPS, back-off, KEP-2535 records, image GC) over a model of \
containerd (its request sequence, per-layer dedupe, max_concurrent_downloads) and of the \
registries (latency, bandwidth shared fairly, 429s, outages). Prints, per variant, pods ready \
and failed, time to ready, and per registry host the requests by kind, bytes, 429s and 5xx. \
The scenario format is in the README (Simulate a fleet).\n\n\
Exit status: 0 after a run, 2 for a scenario that cannot be read or is invalid.",
    after_help = "Examples:\n  \
pullsim simulate testdata/scenarios/dockerhub-quota.yaml\n  \
pullsim simulate testdata/scenarios/air-gapped-mirror.yaml -o json --seed 3\n  \
pullsim simulate testdata/scenarios/dockerhub-quota.yaml --report /tmp/quota.html"
)]
pub struct SimulateArgs {
    /// The scenario file (YAML, apiVersion pullsim/v1alpha1, kind Scenario)
    scenario: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
    /// Also write the results as one self-contained HTML page with SVG charts
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Seed of the scheduler and of failure injection (same seed, same results)
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Serialize)]
struct SampleLine<'a> {
    variant: &'a str,
    #[serde(flatten)]
    sample: &'a pullsim_simulate::Sample,
}

/// Run the command.
pub fn run(args: SimulateArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut loaded = pullsim_simulate::load(&args.scenario)?;
    fill_from_store(&mut loaded, root)?;
    let results = pullsim_simulate::simulate(
        &loaded,
        RunOptions {
            seed: args.seed,
            ..RunOptions::default()
        },
    )?;
    if let Some(path) = &args.report {
        let title = args.scenario.display().to_string();
        std::fs::write(path, pullsim_simulate::report::html(&title, &results))
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    match args.output.output {
        Format::Json => {
            for r in &results {
                output::json(Kind::Variant, r)?;
            }
            for r in &results {
                for s in &r.samples {
                    output::json(
                        Kind::Sample,
                        &SampleLine {
                            variant: &r.variant,
                            sample: s,
                        },
                    )?;
                }
            }
        }
        Format::Text => {
            for r in &results {
                output::text(&text(r))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn secs(s: f64) -> String {
    format_go_duration((s * 1e9).round() as i128)
}

fn text(r: &VariantResult) -> String {
    let mut o = format!(
        "variant {}: {} pods on {} nodes over {}: {} ready, {} not ready\n",
        r.variant,
        r.pods,
        r.nodes,
        secs(r.duration_seconds),
        r.ready,
        r.failed
    );
    match &r.time_to_ready_seconds {
        Some(p) => o.push_str(&format!(
            "  time to ready: p50 {}  p95 {}  p99 {}  max {}\n",
            secs(p.p50),
            secs(p.p95),
            secs(p.p99),
            secs(p.max)
        )),
        None => o.push_str("  time to ready: no pod became ready\n"),
    }
    if let Some(t) = r.first_throttled_seconds {
        o.push_str(&format!("  first 429 at {}\n", secs(t)));
    }
    let w = r
        .registries
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    o.push_str(&format!(
        "  {:w$}  {:>8} {:>8} {:>8} {:>6} {:>12} {:>6} {:>6}\n",
        "host", "HEAD", "GET man", "GET blob", "token", "bytes", "429", "5xx"
    ));
    for (h, c) in &r.registries {
        o.push_str(&format!(
            "  {h:w$}  {:>8} {:>8} {:>8} {:>6} {:>12} {:>6} {:>6}\n",
            c.manifest_head, c.manifest_get, c.blob_get, c.token, c.bytes, c.throttled, c.failed
        ));
    }
    if !r.events.is_empty() {
        let ev: Vec<String> = r.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
        o.push_str(&format!("  events: {}\n", ev.join(", ")));
    }
    if r.images_removed > 0 {
        o.push_str(&format!("  image GC removed {} images\n", r.images_removed));
    }
    if let Some((m, n)) = r.errors.iter().max_by_key(|(_, n)| **n) {
        let first = m.lines().next().unwrap_or_default();
        o.push_str(&format!("  most frequent pull error ({n}x): {first}\n"));
    }
    o
}

/// `images.REF.fromStore: true`: the image's layers (by digest, as shared layers, so images
/// sharing a layer in the store share it in the model), config size and platform from the
/// pullsim store at `--root`.
fn fill_from_store(
    loaded: &mut pullsim_simulate::LoadedScenario,
    root: Option<&Path>,
) -> anyhow::Result<()> {
    let wanted = loaded
        .variants
        .iter()
        .any(|(_, s)| s.images.values().any(|i| i.from_store));
    if !wanted {
        return Ok(());
    }
    let store = crate::node::open_store(root)?;
    let file = loaded.path.display().to_string();
    for (_, scenario) in &mut loaded.variants {
        let mut shared: Vec<(String, String)> = Vec::new();
        for (name, img) in scenario.images.iter_mut().filter(|(_, i)| i.from_store) {
            let field = format!("{file}: images.{name}.fromStore");
            let r = pullsim_reference::Reference::parse_normalized(name)
                .with_context(|| field.clone())?;
            let rec = store
                .lookup(&r)?
                .ok_or_else(|| anyhow::anyhow!("{field}: {name} is not in the store (pullsim images ls lists it; pull or load it first)"))?;
            let manifest = platform_manifest(&store, &rec).with_context(|| field.clone())?;
            let size = |v: &serde_json::Value| v["size"].as_u64();
            let config = size(&manifest["config"])
                .ok_or_else(|| anyhow::anyhow!("{field}: the manifest has no config size"))?;
            let mut layers = Vec::new();
            for l in manifest["layers"].as_array().into_iter().flatten() {
                let (Some(d), Some(sz)) = (l["digest"].as_str(), size(l)) else {
                    anyhow::bail!("{field}: a layer of the manifest has no digest or size");
                };
                shared.push((d.to_string(), format!("{sz}B")));
                layers.push(d.to_string());
            }
            img.layers = layers;
            img.config = Some(format!("{config}B"));
            if let Some(p) = &rec.platform {
                img.platforms = Some(vec![p.clone()]);
            }
            img.from_store = false;
        }
        scenario.shared_layers.extend(shared);
    }
    Ok(())
}

/// The image manifest the store holds for the record (the pulled platform's, under an index).
fn platform_manifest(
    store: &pullsim_store::Store,
    rec: &pullsim_store::ImageRecord,
) -> anyhow::Result<serde_json::Value> {
    let top: serde_json::Value = serde_json::from_slice(&store.read_blob(&rec.manifest_digest)?)?;
    let Some(list) = top["manifests"].as_array() else {
        return Ok(top);
    };
    let digest = list
        .iter()
        .filter_map(|m| m["digest"].as_str())
        .find(|d| rec.blobs.iter().any(|b| b.as_str() == *d))
        .ok_or_else(|| anyhow::anyhow!("no platform manifest of the index is in the store"))?;
    let d = pullsim_reference::Digest::parse(digest)?;
    Ok(serde_json::from_slice(&store.read_blob(&d)?)?)
}
