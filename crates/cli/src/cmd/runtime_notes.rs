//! What the container runtime said beside the kubelet's words: the hints pullsim draws from
//! its configuration, and the runtime's own log lines (containerd's logrus text), after a
//! command's events.

use pullsim_reference::terminal_safe as safe;
use pullsim_runtime::{ContainerdImageService, RuntimeHint};
use serde_json::json;

use crate::flags::Format;
use crate::output::{self, Kind, outln};

/// One hint line (`pod` and `container` unknown at the runtime: null).
pub fn print_hint(format: Format, image: &str, h: &RuntimeHint) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(
            Kind::Hint,
            &json!({
                "code": h.code,
                "pod": null,
                "container": null,
                "image": image,
                "why": h.why,
                "fix": h.fix,
            }),
        ),
        Format::Text => {
            outln!("Hint [{}] {}: {}", h.code, safe(image), safe(&h.why));
            outln!("  fix: {}", safe(&h.fix));
            Ok(())
        }
    }
}

/// The runtime's hints and log lines so far.
pub fn print(
    service: &ContainerdImageService,
    format: Format,
    runtime: &str,
) -> anyhow::Result<()> {
    let hints = service.hints();
    let log = service.runtime_log();
    if format == Format::Text && !(hints.is_empty() && log.is_empty()) {
        outln!();
    }
    for (image, h) in &hints {
        print_hint(format, image, h)?;
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
