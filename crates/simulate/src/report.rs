//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external asset)
//! with a summary table per variant and four charts: time-to-ready CDF per variant, registry
//! requests, bytes and 429s over time per variant and host.

use std::fmt::Write as _;

use crate::stats::VariantResult;

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 760.0;
const H: f64 = 300.0;
const ML: f64 = 70.0;
const MR: f64 = 20.0;
const MT: f64 = 30.0;
const MB: f64 = 45.0;

/// Escape text for HTML.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One line chart as an inline SVG; `step`: draw as a step function (a CDF).
fn chart(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    step: bool,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg id="{id}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img">"#,
        escape(title)
    );
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    if all.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">no data</text></svg></figure>"#,
            W / 2.0,
            H / 2.0
        );
        return s;
    }
    let xmax = nice_max(all.iter().map(|p| p.0).fold(0.0, f64::max));
    let ymax = nice_max(all.iter().map(|p| p.1).fold(0.0, f64::max));
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let x = |v: f64| ML + v / xmax * pw;
    let y = |v: f64| MT + ph - v / ymax * ph;
    // Axes, grid, ticks.
    let _ = write!(
        s,
        r##"<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="#fff" stroke="#999"/>"##
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let (gx, gy) = (x(f * xmax), y(f * ymax));
        let _ = write!(
            s,
            r##"<line x1="{gx:.1}" y1="{MT}" x2="{gx:.1}" y2="{:.1}" stroke="#eee"/><text x="{gx:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            MT + ph,
            MT + ph + 15.0,
            fmt_tick(f * xmax)
        );
        let _ = write!(
            s,
            r##"<line x1="{ML}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            ML + pw,
            ML - 5.0,
            gy + 4.0,
            fmt_tick(f * ymax)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text><text x="14" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
        ML + pw / 2.0,
        H - 8.0,
        escape(x_label),
        MT + ph / 2.0,
        MT + ph / 2.0,
        escape(y_label)
    );
    for (i, se) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut d = String::new();
        let mut prev: Option<(f64, f64)> = None;
        for &(px, py) in &se.points {
            match prev {
                None => {
                    let _ = write!(d, "M{:.1} {:.1}", x(px), y(if step { 0.0 } else { py }));
                    if step {
                        let _ = write!(d, " L{:.1} {:.1}", x(px), y(py));
                    }
                }
                Some((_, qy)) => {
                    if step {
                        let _ = write!(d, " L{:.1} {:.1}", x(px), y(qy));
                    }
                    let _ = write!(d, " L{:.1} {:.1}", x(px), y(py));
                }
            }
            prev = Some((px, py));
        }
        if se.points.len() == 1 {
            let _ = write!(
                d,
                " L{:.1} {:.1}",
                x(se.points[0].0) + 1.0,
                y(se.points[0].1)
            );
        }
        let _ = write!(
            s,
            r#"<path class="series" d="{d}" fill="none" stroke="{color}" stroke-width="2"><title>{}</title></path>"#,
            escape(&se.name)
        );
        let ly = MT + 14.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            ML + 10.0,
            ly - 4.0,
            ML + 26.0,
            ly,
            escape(&se.name)
        );
    }
    s.push_str("</svg></figure>");
    s
}

fn over_time(results: &[VariantResult], f: impl Fn(&crate::stats::Sample) -> f64) -> Vec<Series> {
    let mut out = Vec::new();
    for r in results {
        let hosts: Vec<&String> = r.registries.keys().collect();
        for h in hosts {
            let points: Vec<(f64, f64)> = r
                .samples
                .iter()
                .filter(|s| &s.host == h)
                .map(|s| (s.t_seconds, f(s)))
                .collect();
            if points.iter().any(|p| p.1 > 0.0) {
                out.push(Series {
                    name: format!("{} · {h}", r.variant),
                    points,
                });
            }
        }
    }
    out
}

/// The report for `results` of the scenario `title`.
pub fn html(title: &str, results: &[VariantResult]) -> String {
    let mut body = String::new();
    let _ = write!(body, "<h1>pullsim simulate: {}</h1>", escape(title));
    body.push_str("<table><tr><th>variant</th><th>nodes</th><th>pods</th><th>ready</th><th>not ready</th><th>p50 s</th><th>p95 s</th><th>p99 s</th><th>max s</th><th>first 429 s</th></tr>");
    for r in results {
        let p = |f: fn(&crate::stats::Percentiles) -> f64| {
            r.time_to_ready_seconds
                .as_ref()
                .map_or("–".to_string(), |t| format!("{:.2}", f(t)))
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.variant),
            r.nodes,
            r.pods,
            r.ready,
            r.failed,
            p(|t| t.p50),
            p(|t| t.p95),
            p(|t| t.p99),
            p(|t| t.max),
            r.first_throttled_seconds
                .map_or("–".to_string(), |t| format!("{t:.1}"))
        );
    }
    body.push_str("</table><table><tr><th>variant</th><th>host</th><th>HEAD</th><th>GET manifest</th><th>GET blob</th><th>token</th><th>bytes</th><th>429</th><th>5xx</th></tr>");
    for r in results {
        for (h, c) in &r.registries {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.variant),
                escape(h),
                c.manifest_head,
                c.manifest_get,
                c.blob_get,
                c.token,
                c.bytes,
                c.throttled,
                c.failed
            );
        }
    }
    body.push_str("</table>");
    let cdf: Vec<Series> = results
        .iter()
        .filter(|r| !r.times_to_ready.is_empty())
        .map(|r| {
            let n = r.times_to_ready.len() as f64;
            // Thin to at most ~500 points per variant (quantiles), keeping the last.
            let stride = (r.times_to_ready.len() / 500).max(1);
            let mut points: Vec<(f64, f64)> = r
                .times_to_ready
                .iter()
                .enumerate()
                .filter(|(i, _)| i % stride == 0 || *i + 1 == r.times_to_ready.len())
                .map(|(i, t)| {
                    (
                        *t,
                        (i + 1) as f64 / n * r.ready as f64 / r.pods.max(1) as f64,
                    )
                })
                .collect();
            points.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
            Series {
                name: r.variant.clone(),
                points,
            }
        })
        .collect();
    body.push_str(&chart(
        "ttr-cdf",
        "Time to ready (CDF over all pods; pods never ready keep it below 1)",
        "seconds after arrival",
        "fraction of pods",
        &cdf,
        true,
    ));
    body.push_str(&chart(
        "requests",
        "Registry requests per sample interval",
        "seconds",
        "requests",
        &over_time(results, |s| s.counters.requests() as f64),
        false,
    ));
    body.push_str(&chart(
        "bytes",
        "Bytes served per sample interval",
        "seconds",
        "bytes",
        &over_time(results, |s| s.counters.bytes as f64),
        false,
    ));
    body.push_str(&chart(
        "throttled",
        "429 answers per sample interval",
        "seconds",
        "429s",
        &over_time(results, |s| s.counters.throttled as f64),
        false,
    ));
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pullsim simulate: {}</title><style>body{{font-family:sans-serif;margin:20px;color:#222}}table{{border-collapse:collapse;margin:10px 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}figure{{margin:16px 0}}figcaption{{font-weight:bold}}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_paths_and_escaping() {
        let s = chart(
            "c",
            "a<b",
            "x",
            "y",
            &[Series {
                name: "v".into(),
                points: vec![(0.0, 0.0), (10.0, 5.0)],
            }],
            false,
        );
        assert!(s.contains("a&lt;b"));
        assert!(s.contains(r#"d="M70.0 255.0 L740.0 30.0""#), "{s}");
        assert!(chart("c", "t", "x", "y", &[], false).contains("no data"));
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(0.3), 0.5);
    }
}
