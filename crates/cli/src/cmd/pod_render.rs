//! Output of `pullsim pod run`: `kubectl describe pod`-style text, or JSON lines (one `event`
//! per event, then one `container` per container status, then one `gc` when image GC ran).

use std::time::Duration;

use pullsim_node::describe::{describe_pod, human_duration};
use pullsim_node::simulate::SimReport;
use pullsim_node::{ImageSource, ImageState};
use serde_json::json;

use crate::output::{self, Kind, outln};

/// RFC 3339 UTC with milliseconds for a Unix time in ms (`2026-11-28T17:00:00.123Z`).
pub fn rfc3339_ms(unix_ms: u64) -> String {
    pullsim_reference::rfc3339::format_rfc3339_millis(i64::try_from(unix_ms).unwrap_or(i64::MAX))
}

fn event_time(report: &SimReport, t: Duration) -> String {
    rfc3339_ms(report.epoch_unix_ms + u64::try_from(t.as_millis()).unwrap_or(0))
}

/// Text: one describe block per pod, then the offline and GC summaries. `needed_network` is
/// `Some` on an offline node: the images whose pull needed the network.
pub fn print_text(report: &SimReport, needed_network: Option<&[String]>) -> anyhow::Result<()> {
    let mut first = true;
    for pod in &report.pods {
        if !first {
            outln!();
        }
        first = false;
        let events = pod_events(report, &pod.key());
        output::text(&describe_pod(pod, &events, report.end))?;
    }
    if let Some(needed) = needed_network {
        outln!();
        if needed.is_empty() {
            outln!("Offline: no image needed the network.");
        } else {
            outln!("Offline: these images needed the network:");
            for i in needed {
                outln!("  {}", pullsim_reference::terminal_safe(i));
            }
        }
    }
    match &report.gc {
        None => {}
        Some(Ok(gc)) => {
            outln!();
            outln!(
                "Image GC: capacity {} bytes, {} bytes used, {} images deleted, {} bytes freed",
                gc.capacity,
                gc.used,
                gc.removed.len(),
                gc.bytes_freed
            );
            for id in &gc.removed {
                outln!("  deleted {id}");
            }
            for e in &gc.events {
                outln!(
                    "  {}  {}  {}",
                    e.event_type.as_str(),
                    e.reason.as_str(),
                    e.message
                );
            }
            if let Some(e) = gc.deletion_error() {
                outln!("  error: {e}");
            }
        }
        Some(Err(e)) => {
            outln!();
            match pullsim_node::gc::error_event(e) {
                Some(ev) => outln!(
                    "Image GC: {}  {}  {}",
                    ev.event_type.as_str(),
                    ev.reason.as_str(),
                    ev.message
                ),
                None => outln!("Image GC: error: {e}"),
            }
        }
    }
    if report.end > Duration::ZERO && report.pods.iter().any(|p| p.syncs > 1) {
        outln!();
        outln!("Simulated {}.", human_duration(report.end));
    }
    Ok(())
}

/// The events of one pod, in order.
fn pod_events(report: &SimReport, key: &str) -> Vec<pullsim_node::image_manager::RecordedEvent> {
    report
        .events
        .iter()
        .filter(|e| e.pod == key)
        .cloned()
        .collect()
}

/// JSON lines: events, then container statuses, then the GC run (see [`print_text`] for
/// `needed_network`).
pub fn print_json(report: &SimReport, needed_network: Option<&[String]>) -> anyhow::Result<()> {
    for e in &report.events {
        output::json(
            Kind::Event,
            &json!({
                "time": event_time(report, e.time),
                "pod": e.pod,
                "container": e.container,
                "type": e.event_type.as_str(),
                "reason": e.reason,
                "message": e.message,
                "host": e.host,
            }),
        )?;
    }
    for pod in &report.pods {
        let events = pod_events(report, &pod.key());
        for (i, img) in pod.spec.images.iter().enumerate() {
            let (state, reason, message, id) = match &pod.states[i] {
                ImageState::Ready { image_id } => ("ready", None, None, Some(image_id.clone())),
                ImageState::Waiting { reason, message } => (
                    "waiting",
                    Some(reason.as_str().to_string()),
                    Some(message.clone()),
                    None,
                ),
                ImageState::Pending => ("waiting", Some("PodInitializing".to_string()), None, None),
            };
            output::json(
                Kind::Container,
                &json!({
                    "pod": pod.key(),
                    "container": img.name,
                    "container_type": container_type(img.source),
                    "image": img.image,
                    "policy": pod.policies[i].to_string(),
                    "state": state,
                    "reason": reason,
                    "message": message,
                    "image_id": id,
                    "host": pullsim_node::describe::last_pull_host(&events, &img.name),
                }),
            )?;
        }
    }
    match &report.gc {
        None => {}
        Some(Ok(gc)) => output::json(
            Kind::Gc,
            &json!({
                "capacity": gc.capacity,
                "used": gc.used,
                "usage_percent": gc.plan.usage_percent,
                "amount_to_free": gc.plan.amount_to_free,
                "deleted_image_ids": gc.plan.to_delete,
                "causes": gc.plan.causes,
                "deleted": gc.planned.iter().flat_map(crate::cmd::images_gc::image_names).collect::<Vec<_>>(),
                "bytes_freed": gc.bytes_freed,
                "warning": gc.plan.warning,
                "error": gc.deletion_error(),
            }),
        )?,
        Some(Err(e)) => output::json(
            Kind::Gc,
            &json!({
                "capacity": null,
                "error": e.to_string(),
                "event": pullsim_node::gc::error_event(e).map(|ev| json!({
                    "type": ev.event_type.as_str(),
                    "reason": ev.reason.as_str(),
                    "message": ev.message,
                })),
            }),
        )?,
    }
    if let Some(needed) = needed_network
        && !needed.is_empty()
    {
        eprintln!(
            "offline: these images needed the network: {}",
            needed.join(", ")
        );
    }
    Ok(())
}

/// The `container_type` of JSON lines: `init`, `container`, `ephemeral` or `volume`.
pub fn container_type(s: ImageSource) -> &'static str {
    match s {
        ImageSource::InitContainer => "init",
        ImageSource::Container => "container",
        ImageSource::EphemeralContainer => "ephemeral",
        ImageSource::ImageVolume => "volume",
    }
}

/// [`container_type`] of the source whose [`ImageSource::word`] is `word` (`init container`).
pub fn container_type_of_word(word: &str) -> &'static str {
    [
        ImageSource::InitContainer,
        ImageSource::Container,
        ImageSource::EphemeralContainer,
        ImageSource::ImageVolume,
    ]
    .into_iter()
    .find(|s| s.word() == word)
    .map_or("container", container_type)
}
