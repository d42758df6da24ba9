//! What the container runtime said beside the kubelet's words: the hints pullsim draws from
//! its configuration, the runtime's own log lines (containerd's logrus text) and what the
//! unpack check did, after a command's events.

use pullsim_node::hints::Hint;
use pullsim_reference::terminal_safe as safe;
use pullsim_runtime::{ContainerdImageService, RuntimeHint};
use serde_json::json;

use crate::flags::Format;
use crate::output::{self, Kind, outln};

/// A runtime's hint as a hint of the run (the runtime knows the image, not the pod).
pub fn from_runtime(image: &str, h: &RuntimeHint) -> Hint {
    Hint {
        code: h.code,
        pod: None,
        container: None,
        image: Some(image.to_string()),
        why: h.why.clone(),
        fix: h.fix.clone(),
    }
}

/// One hint line: JSON `{"kind":"hint","code","pod","container","image","why","fix"}`, or text
/// `Hint [code] WHERE: why` and `  fix: …`.
pub fn print_hint(format: Format, h: &Hint) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(
            Kind::Hint,
            &json!({
                "code": h.code,
                "pod": h.pod,
                "container": h.container,
                "image": h.image,
                "why": h.why,
                "fix": h.fix,
            }),
        ),
        Format::Text => {
            let mut at: Vec<String> = Vec::new();
            if let Some(p) = &h.pod {
                at.push(format!("pod {p}"));
            }
            if let Some(c) = &h.container {
                at.push(format!("container {c}"));
            }
            if let Some(i) = &h.image {
                at.push(i.clone());
            }
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" {}", at.join(", "))
            };
            outln!("Hint [{}]{}: {}", h.code, safe(&at), safe(&h.why));
            outln!("  fix: {}", safe(&h.fix));
            Ok(())
        }
    }
}

/// The node's hints for the pods of a run: its own (node credentials), then each pod's.
pub fn pod_hints(
    pods: &[pullsim_node::PodRun],
    inputs: &pullsim_node::hints::HintInputs<'_>,
    node: &pullsim_credentials::Keyring,
    service: &ContainerdImageService,
) -> Vec<Hint> {
    let mut out = pullsim_node::hints::node_hints(node);
    out.extend(
        pods.iter()
            .flat_map(|p| pullsim_node::hints::pod_hints(p, inputs, service)),
    );
    out
}

/// Whether a logrus line is shown: a warning or worse, or any line with `-v` (info lines, such
/// as containerd's `host will try HTTPS first` for every loopback registry, stay out of the way
/// otherwise).
fn worth_showing(line: &str) -> bool {
    if crate::verbosity::level() > 0 {
        return true;
    }
    ["level=warning", "level=error", "level=fatal"]
        .iter()
        .any(|lvl| line.starts_with(lvl) || line.contains(&format!(" {lvl}")))
}

/// The runtime's hints and its log lines of level warning and above so far.
pub fn print(
    service: &ContainerdImageService,
    format: Format,
    runtime: &str,
    node_hints: &[Hint],
) -> anyhow::Result<()> {
    let mut hints: Vec<Hint> = node_hints.to_vec();
    hints.extend(service.hints().iter().map(|(i, h)| from_runtime(i, h)));
    let log: Vec<String> = service
        .runtime_log()
        .into_iter()
        .filter(|l| worth_showing(l))
        .collect();
    if format == Format::Text && !(hints.is_empty() && log.is_empty()) {
        outln!();
    }
    for h in &hints {
        print_hint(format, h)?;
    }
    for line in &log {
        match format {
            Format::Json => output::json(
                Kind::RuntimeLog,
                &json!({ "runtime": runtime, "line": line }),
            )?,
            Format::Text => outln!("{runtime} log: {}", safe(line)),
        }
    }
    Ok(())
}

/// What the unpack check did: layers checked against the config's `rootfs.diff_ids` and the
/// decompress + hash throughput (nothing with `--no-unpack`, or when no layer was checked).
pub fn print_unpack(service: &ContainerdImageService, format: Format) -> anyhow::Result<()> {
    let Some(c) = service.unpack_counts() else {
        return Ok(());
    };
    // Each layer checked is read from its record or decompressed from the store; a layer
    // decompressed while downloading is recorded then, and read from that record.
    let layers = c.from_store + c.from_record;
    let recorded_before = c.from_record.saturating_sub(c.streamed);
    if layers == 0 {
        return Ok(());
    }
    let mb_s = c.throughput_mb_s();
    match format {
        Format::Json => output::json(
            Kind::Unpack,
            &json!({
                "layers": layers,
                "decompressed_while_downloading": c.streamed,
                "decompressed_from_store": c.from_store,
                "already_recorded": recorded_before,
                "uncompressed_bytes": c.uncompressed_bytes,
                "decode_seconds": c.decode_time.as_secs_f64(),
                "throughput_mb_s": mb_s,
            }),
        ),
        Format::Text => {
            let speed = match mb_s {
                Some(v) => format!(
                    ", {:.1} MB decoded in {:.3} s ({v:.0} MB/s)",
                    c.uncompressed_bytes as f64 / 1e6,
                    c.decode_time.as_secs_f64()
                ),
                None => String::new(),
            };
            outln!(
                "Unpack:  {layers} layer(s) checked against the config's diff_ids ({} decompressed while downloading, {} from the store, {} already recorded){speed}",
                c.streamed,
                c.from_store,
                recorded_before
            );
            Ok(())
        }
    }
}
