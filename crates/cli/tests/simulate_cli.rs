//! `pullsim simulate`: JSON lines (variant lines, then sample lines), one seed one output,
//! scenario errors (exit 2, file and field named), and the HTML report rendered by headless
//! Chromium: no console message, charts drawn (non-empty SVG paths, coloured pixels in the
//! screenshot).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn pullsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pullsim"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SCENARIO: &str = r#"apiVersion: pullsim/v1alpha1
kind: Scenario
duration: 20m
sampleInterval: 1m
pools:
  nat:
    count: 12
    downlink: 500Mbps
    egressAddress: 198.51.100.1
registries:
  docker.io:
    latency: 50ms
    auth: token
    egress: 1Gbps
    rateLimits: [{requests: 8, window: 6h, who: anonymous}]
  mirror.local:5000: {latency: 2ms}
images:
  nginx:1.27: {platforms: [linux/amd64, linux/arm64], layers: [28MiB, 40MiB]}
workloads:
  web: {replicas: 40, every: 2s, containers: [{image: "nginx:1.27"}]}
variants:
  - name: hub
  - name: mirror
    patch: {pools: {nat: {runtime: {mirrors: {docker.io: [mirror.local:5000]}}}}}
"#;

fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("s.yaml");
    std::fs::write(&p, SCENARIO).unwrap();
    p
}

#[test]
fn json_lines_variants_then_samples_and_one_seed_one_output() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    let s = s.to_str().unwrap();
    let out = pullsim(&["simulate", s, "-o", "json", "--seed", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..2], ["variant", "variant"]);
    assert!(kinds[2..].iter().all(|k| *k == "sample"));
    assert_eq!(
        kinds.len(),
        2 + 2 * 20 * 2,
        "20 samples × 2 hosts × 2 variants"
    );
    let v = &lines[0];
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[..8],
        [
            "kind",
            "variant",
            "pods",
            "ready",
            "failed",
            "time_to_ready_seconds",
            "registries",
            "first_throttled_seconds"
        ]
    );
    assert_eq!(v["variant"], "hub");
    assert_eq!(v["pods"], 40);
    let hub = &v["registries"]["docker.io"];
    for k in [
        "manifest_head",
        "manifest_get",
        "blob_get",
        "token",
        "bytes",
        "throttled",
        "failed",
    ] {
        assert!(hub[k].is_u64(), "{k}: {hub}");
    }
    assert!(hub["throttled"].as_u64().unwrap() > 0);
    assert!(v["first_throttled_seconds"].is_f64());
    for k in ["p50", "p95", "p99", "max"] {
        assert!(v["time_to_ready_seconds"][k].is_f64());
    }
    // The mirror takes the load: docker.io sees nothing, no 429.
    let m = &lines[1];
    assert_eq!(m["registries"]["docker.io"]["manifest_head"], 0);
    assert_eq!(m["ready"], 40);
    assert!(m["first_throttled_seconds"].is_null());
    let sample = &lines[2];
    let keys: Vec<&String> = sample.as_object().unwrap().keys().collect();
    assert_eq!(keys[..4], ["kind", "variant", "t_seconds", "host"]);
    // Same seed, same bytes.
    let again = pullsim(&["simulate", s, "-o", "json", "--seed", "3"]);
    assert_eq!(out.stdout, again.stdout);
    // Text output names both variants.
    let t = pullsim(&["simulate", s]);
    let t = text(&t.stdout);
    assert!(
        t.contains("variant hub: 40 pods on 12 nodes over 20m0s"),
        "{t}"
    );
    assert!(
        t.contains("variant mirror: 40 pods on 12 nodes over 20m0s: 40 ready"),
        "{t}"
    );
}

#[test]
fn scenario_errors_exit_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, SCENARIO.replace("latency: 50ms", "latency: 50 parsecs")).unwrap();
    let out = pullsim(&["simulate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains(&format!(
            "{}: registries.docker.io.latency: time: unknown unit",
            p.display()
        )),
        "{e}"
    );
    let out = pullsim(&[
        "simulate",
        dir.path().join("missing.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// A minimal PNG decoder (8-bit RGB or RGBA, non-interlaced: what Chromium writes).
fn decode_png(bytes: &[u8]) -> (usize, usize, usize, Vec<u8>) {
    use std::io::Read as _;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (mut w, mut h, mut bpp) = (0, 0, 0);
    let mut idat = Vec::new();
    let mut i = 8;
    while i < bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        let kind = &bytes[i + 4..i + 8];
        let data = &bytes[i + 8..i + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                bpp = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(data[12], 0, "interlace");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        i += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * bpp;
    let mut out = vec![0u8; stride * h];
    for y in 0..h {
        let f = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= bpp {
                out[y * stride + x - bpp]
            } else {
                0
            };
            let b = if y > 0 { out[(y - 1) * stride + x] } else { 0 };
            let c = if x >= bpp && y > 0 {
                out[(y - 1) * stride + x - bpp]
            } else {
                0
            };
            let pred = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            out[y * stride + x] = line[x].wrapping_add(pred);
        }
    }
    (w, h, bpp, out)
}

fn chromium() -> &'static str {
    let ok = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "chromium is required for the report test: install it with scripts/setup (Debian package `chromium`)"
    );
    "chromium"
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    let html = dir.path().join("report.html");
    let out = pullsim(&[
        "simulate",
        s.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing fetched from anywhere.
    for external in ["http://", "https://", "<script", "<link", "src="] {
        let outside_svg_ns = page.replace("http://www.w3.org/2000/svg", "");
        assert!(!outside_svg_ns.contains(external), "{external}");
    }
    let url = format!("file://{}", html.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=800,2400",
    ];
    let dom = Command::new(chromium)
        .args(common)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", text(&dom.stderr));
    assert!(
        !text(&dom.stderr).contains(":CONSOLE"),
        "{}",
        text(&dom.stderr)
    );
    let dom = text(&dom.stdout);
    for id in ["ttr-cdf", "requests", "bytes", "throttled"] {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}"));
        let chart = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        let paths: Vec<&str> = chart
            .split("class=\"series\" d=\"")
            .skip(1)
            .map(|p| &p[..p.find('"').unwrap()])
            .collect();
        assert!(!paths.is_empty(), "{id}: no series");
        assert!(
            paths.iter().all(|d| d.starts_with('M') && d.contains(" L")),
            "{id}: {paths:?}"
        );
    }
    let png = dir.path().join("shot.png");
    let shot = Command::new(chromium)
        .args(common)
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", text(&shot.stderr));
    assert!(
        !text(&shot.stderr).contains(":CONSOLE"),
        "{}",
        text(&shot.stderr)
    );
    let (w, h, bpp, px) = decode_png(&std::fs::read(&png).unwrap());
    assert_eq!((w, h), (800, 2400));
    // The series are the only coloured pixels of the page (text and axes are grey).
    let coloured = px
        .chunks(bpp)
        .filter(|p| {
            let (mx, mn) = (p[0].max(p[1]).max(p[2]), p[0].min(p[1]).min(p[2]));
            mx - mn > 80
        })
        .count();
    assert!(coloured > 2_000, "{coloured} coloured pixels");
}

/// `images.REF.fromStore: true`: the image as the node's pullsim store has it — its layers by
/// digest and size, its config — so one pod on one node downloads exactly those bytes, and two
/// images sharing a layer in the store share it in the model.
#[test]
fn images_from_a_local_store() {
    use pullsim_testsupport::image::{ImageSpec, generate};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let r = root.to_str().unwrap();
    let img = generate(
        &dir.path().join("layout"),
        &ImageSpec::simple("v1", 2, 3000, 81),
    )
    .unwrap();
    let layout = dir.path().join("layout").display().to_string();
    let load = pullsim(&[
        "--root",
        r,
        "images",
        "load",
        &layout,
        "--name",
        "registry.example/app",
    ]);
    assert!(load.status.success(), "{}", text(&load.stderr));
    let manifest = img.to_json();
    let m = &manifest["manifests"][0];
    let layer_bytes: u64 = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum();
    let config_bytes = m["config_size"].as_u64().unwrap();
    let s = dir.path().join("store.yaml");
    std::fs::write(
        &s,
        "apiVersion: pullsim/v1alpha1\nkind: Scenario\nduration: 10m\npools:\n  one: {count: 1, downlink: 1Gbps}\nregistries:\n  registry.example: {latency: 1ms}\nimages:\n  registry.example/app:v1: {fromStore: true}\nworkloads:\n  web: {replicas: 1, containers: [{image: \"registry.example/app:v1\"}]}\n",
    )
    .unwrap();
    let out = pullsim(&["--root", r, "simulate", s.to_str().unwrap(), "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let variant: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(variant["ready"], 1, "{variant}");
    let host = &variant["registries"]["registry.example"];
    assert_eq!(host["blob_get"], 3, "config and two layers: {variant}");
    let bytes = host["bytes"].as_u64().unwrap();
    assert!(
        bytes >= layer_bytes + config_bytes && bytes < layer_bytes + config_bytes + 64 * 1024,
        "{bytes} vs {layer_bytes} + {config_bytes}: {variant}"
    );
    // Not in the store: exit 2, naming the field.
    std::fs::write(
        &s,
        std::fs::read_to_string(&s)
            .unwrap()
            .replace("app:v1", "other:v1"),
    )
    .unwrap();
    let out = pullsim(&["--root", r, "simulate", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("images.registry.example/other:v1.fromStore: registry.example/other:v1 is not in the store"),
        "{}",
        text(&out.stderr)
    );
}
