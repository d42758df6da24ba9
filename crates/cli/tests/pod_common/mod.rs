//! Helpers for the `pullsim pod` end-to-end tests: a store in a temp dir, the real binary,
//! Secret manifests, JSON-lines parsing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub struct Node {
    pub dir: tempfile::TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Events (`kind` event, each with a "time").
    pub fn events(&self) -> Vec<Value> {
        let events: Vec<Value> = self
            .json()
            .into_iter()
            .filter(|v| v["kind"] == "event")
            .collect();
        assert!(
            events.iter().all(|e| e.get("time").is_some()),
            "{}",
            self.stdout
        );
        events
    }

    /// Container statuses (`kind` container, each with a "state").
    pub fn statuses(&self) -> Vec<Value> {
        let st: Vec<Value> = self
            .json()
            .into_iter()
            .filter(|v| v["kind"] == "container")
            .collect();
        assert!(
            st.iter().all(|s| s.get("state").is_some()),
            "{}",
            self.stdout
        );
        st
    }

    /// `reason` of each event, optionally only for one pod.
    pub fn reasons(&self, pod: Option<&str>) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| pod.is_none_or(|p| e["pod"] == p))
            .map(|e| e["reason"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Node {
    pub fn new() -> Node {
        Node {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn pullsim(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_pullsim"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, files: &[&Path], extra: &[&str]) -> Out {
        let mut args: Vec<String> = vec!["pod".into(), "run".into(), "-o".into(), "json".into()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.pullsim(&args)
    }
}

pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A kubernetes.io/dockerconfigjson Secret as `kubectl create secret docker-registry` makes it.
pub fn secret_yaml(ns: &str, name: &str, server: &str, user: &str, pass: &str) -> String {
    let auth = base64(format!("{user}:{pass}").as_bytes());
    let cfg = format!(
        r#"{{"auths":{{"{server}":{{"username":"{user}","password":"{pass}","auth":"{auth}"}}}}}}"#
    );
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
        base64(cfg.as_bytes())
    )
}

/// A Pod with one container.
pub fn pod_yaml(
    ns: &str,
    name: &str,
    image: &str,
    policy: Option<&str>,
    secrets: &[&str],
) -> String {
    let mut s =
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n");
    if !secrets.is_empty() {
        s.push_str("  imagePullSecrets:\n");
        for sec in secrets {
            s.push_str(&format!("  - name: {sec}\n"));
        }
    }
    s.push_str(&format!(
        "  containers:\n  - name: app\n    image: {image}\n"
    ));
    if let Some(p) = policy {
        s.push_str(&format!("    imagePullPolicy: {p}\n"));
    }
    s
}

/// Seconds since the epoch of an RFC 3339 time as pullsim prints it (`...T12:34:56.789Z`).
pub fn seconds(t: &str) -> f64 {
    let (date, time) = t.split_once('T').unwrap();
    let day: f64 = date.rsplit('-').next().unwrap().parse().unwrap();
    let time = time.trim_end_matches('Z');
    let parts: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    day * 86_400.0 + parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}
