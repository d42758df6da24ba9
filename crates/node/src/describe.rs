//! Rendering as `kubectl describe pod` does: Go's text/tabwriter alignment (minwidth 0,
//! padding 2, spaces), kubectl's event ages (apimachinery util/duration HumanDuration) and the
//! `(xN over AGE)` form of repeated events (the kubelet's event correlator counts identical
//! events; staging/src/k8s.io/kubectl/pkg/describe/describe.go DescribeEvents prints them).

use pullsim_reference::terminal_safe as safe;
use std::time::Duration;

use pullsim_policy::Time;

use crate::image_manager::RecordedEvent;
use crate::manifest::ImageSource;
use crate::sync::{ImageState, PodRun};

/// apimachinery's `duration.HumanDuration`, used by kubectl for ages.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

/// An event after aggregation of identical events (same object, type, reason, message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregatedEvent {
    /// The event (its time is the first occurrence).
    pub event: RecordedEvent,
    /// Number of occurrences.
    pub count: u32,
    /// First occurrence.
    pub first: Time,
    /// Last occurrence.
    pub last: Time,
}

/// Aggregate identical events, then order by last occurrence (kubectl sorts by
/// lastTimestamp; ties keep their recording order).
pub fn aggregate(events: &[RecordedEvent]) -> Vec<AggregatedEvent> {
    let mut out: Vec<AggregatedEvent> = Vec::new();
    for e in events {
        if let Some(a) = out.iter_mut().find(|a| {
            a.event.pod == e.pod
                && a.event.container == e.container
                && a.event.field_path == e.field_path
                && a.event.event_type == e.event_type
                && a.event.reason == e.reason
                && a.event.message == e.message
        }) {
            a.count += 1;
            a.last = e.time;
        } else {
            out.push(AggregatedEvent {
                event: e.clone(),
                count: 1,
                first: e.time,
                last: e.time,
            });
        }
    }
    out.sort_by_key(|a| a.last);
    out
}

/// Go text/tabwriter with minwidth 0, padding 2, padchar ' ', flags 0: a column is aligned
/// over a block of consecutive lines that all have a tab-terminated cell in it.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|l| vec![0; l.len()]).collect();
    format_block(&lines, &mut widths, 0, 0, lines.len());
    let mut out = String::with_capacity(text.len() + 64);
    for (l, w) in lines.iter().zip(&widths) {
        let mut line = String::new();
        for (i, cell) in l.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < l.len() {
                let pad = w[i].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn format_block(
    lines: &[Vec<&str>],
    widths: &mut [Vec<usize>],
    col: usize,
    start: usize,
    end: usize,
) {
    let mut i = start;
    while i < end {
        if lines[i].len() > col + 1 {
            let block = i;
            let mut w = 0;
            while i < end && lines[i].len() > col + 1 {
                w = w.max(lines[i][col].chars().count() + 2);
                i += 1;
            }
            for row in widths.iter_mut().take(i).skip(block) {
                row[col] = w;
            }
            format_block(lines, widths, col + 1, block, i);
        } else {
            i += 1;
        }
    }
}

/// The `Events:` section of `kubectl describe pod` (before tab expansion).
pub fn events_section(events: &[RecordedEvent], now: Time) -> String {
    if events.is_empty() {
        return "Events:\t<none>\n".to_string();
    }
    let mut s = String::from("Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    s.push_str("  ----\t------\t----\t----\t-------\n");
    for a in aggregate(events) {
        let first = human_duration(now.saturating_sub(a.first));
        let age = if a.count > 1 {
            format!(
                "{} (x{} over {})",
                human_duration(now.saturating_sub(a.last)),
                a.count,
                first
            )
        } else {
            first
        };
        s.push_str(&format!(
            "  {}\t{}\t{}\t{}\t{}\n",
            a.event.event_type.as_str(),
            a.event.reason,
            age,
            "kubelet",
            safe(a.event.message.trim())
        ));
    }
    s
}

/// The registry host of the last pull event (`Pulled` or `Failed`) of a container.
pub fn last_pull_host<'a>(events: &'a [RecordedEvent], container: &str) -> Option<&'a str> {
    events
        .iter()
        .rev()
        .filter(|e| e.container.as_deref() == Some(container))
        .find_map(|e| e.host.as_deref())
}

/// `describe`-style text for one pod: identity, each image's state (with the registry host of
/// its last pull), the events. Every string that comes from the input is escaped
/// ([`pullsim_reference::terminal_safe`]).
pub fn describe_pod(pod: &PodRun, events: &[RecordedEvent], now: Time) -> String {
    let mut s = String::new();
    s.push_str(&format!("Name:\t{}\n", safe(&pod.spec.name)));
    s.push_str(&format!("Namespace:\t{}\n", safe(&pod.spec.namespace)));
    s.push_str(&format!("UID:\t{}\n", safe(&pod.spec.uid)));
    s.push_str(&format!(
        "Service Account:\t{}\n",
        safe(&pod.spec.service_account)
    ));
    s.push_str(&format!(
        "Source:\t{}\n",
        safe(&pod.spec.origin.to_string())
    ));
    for (source, title) in [
        (ImageSource::InitContainer, "Init Containers"),
        (ImageSource::Container, "Containers"),
        (ImageSource::EphemeralContainer, "Ephemeral Containers"),
        (ImageSource::ImageVolume, "Image Volumes"),
    ] {
        let idx: Vec<usize> = (0..pod.spec.images.len())
            .filter(|&i| pod.spec.images[i].source == source)
            .collect();
        if idx.is_empty() {
            continue;
        }
        s.push_str(&format!("{title}:\n"));
        for i in idx {
            let img = &pod.spec.images[i];
            s.push_str(&format!("  {}:\n", safe(&img.name)));
            s.push_str(&format!("    Image:\t{}\n", safe(&img.image)));
            s.push_str(&format!("    Image Pull Policy:\t{}\n", pod.policies[i]));
            match &pod.states[i] {
                ImageState::Ready { image_id } => {
                    s.push_str(&format!("    Image ID:\t{image_id}\n"));
                    s.push_str("    State:\tImageReady\n");
                }
                ImageState::Waiting { reason, message } => {
                    s.push_str("    Image ID:\t\n");
                    s.push_str("    State:\tWaiting\n");
                    s.push_str(&format!("      Reason:\t{}\n", reason.as_str()));
                    if !message.is_empty() {
                        s.push_str(&format!("      Message:\t{}\n", safe(message)));
                    }
                }
                ImageState::Pending => {
                    s.push_str("    Image ID:\t\n");
                    s.push_str("    State:\tWaiting\n");
                    s.push_str("      Reason:\tPodInitializing\n");
                }
            }
            // pullsim's addition, beside kubectl's fields: where the last pull went.
            if let Some(host) = last_pull_host(events, &img.name) {
                s.push_str(&format!("    Host:\t{}\n", safe(host)));
            }
        }
    }
    s.push_str(&events_section(events, now));
    tabwrite(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    // apimachinery/pkg/util/duration/duration_test.go TestHumanDuration cases.
    #[test]
    fn human_duration_matches_apimachinery() {
        let cases = [
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (70 * 60, "70m"),
            (47 * 60, "47m"),
            (60 * 60 * 3, "3h"),
            (60 * 60 * 3 + 60 * 20, "3h20m"),
            (60 * 60 * 24 * 2, "2d"),
            (60 * 60 * 24 * 2 + 60 * 60 * 4, "2d4h"),
            (60 * 60 * 24 * 9, "9d"),
            (60 * 60 * 24 * 365 * 3, "3y"),
            (60 * 60 * 24 * (365 * 3 + 10), "3y10d"),
            (60 * 60 * 24 * 365 * 10, "10y"),
            (119, "119s"),
            (120, "2m"),
            (599, "9m59s"),
            (600, "10m"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn tabwriter_aligns_blocks_like_go() {
        let got =
            tabwrite("Events:\n  Type\tReason\tAge\n  ----\t------\t----\n  Normal\tPulled\t5s\n");
        assert_eq!(
            got,
            "Events:\n  Type    Reason  Age\n  ----    ------  ----\n  Normal  Pulled  5s\n"
        );
    }

    #[test]
    fn repeated_events_aggregate_with_count_and_span() {
        let ev = |t: u64, reason: &str| RecordedEvent {
            time: Duration::from_secs(t),
            pod: "default/p".into(),
            container: Some("c".into()),
            field_path: Some("spec.containers{c}".into()),
            event_type: pullsim_policy::EventType::Normal,
            reason: reason.into(),
            message: "m".into(),
            host: None,
        };
        let text = tabwrite(&events_section(
            &[ev(0, "BackOff"), ev(20, "Pulling"), ev(30, "BackOff")],
            Duration::from_secs(40),
        ));
        assert!(text.contains("Pulling  20s"), "{text}");
        assert!(text.contains("BackOff  10s (x2 over 40s)"), "{text}");
        let pulling = text.find("Pulling").unwrap();
        let backoff = text.find("BackOff").unwrap();
        assert!(pulling < backoff, "sorted by last occurrence: {text}");
    }
}
