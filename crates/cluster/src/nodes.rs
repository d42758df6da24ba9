//! `nodes check`: run `pullsim node check` on every node through a DaemonSet
//! (`deploy/daemonset.yaml`) in a namespace of its own, gather each pod's `node_check` lines
//! from its log, and delete what was created, also when interrupted.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::Cluster;
use crate::error::ClusterError;

pub use crate::daemonset::{
    CHECK_CONTAINER, DAEMONSET_NAME, DAEMONSET_YAML, POD_SELECTOR, daemonset_manifest,
};
pub use crate::lines::{NodeResult, parse_node_check_lines};

/// What `nodes check` runs.
#[derive(Clone, Debug)]
pub struct NodesCheck {
    /// The images to check on every node.
    pub images: Vec<String>,
    /// The pullsim image the DaemonSet runs.
    pub pullsim_image: String,
    /// The namespace to work in (created when missing, deleted afterwards then).
    pub namespace: String,
    /// How long to wait for every node's lines.
    pub timeout: Duration,
    /// How often to look.
    pub poll: Duration,
}

/// What `nodes check` found.
#[derive(Clone, Debug, Default)]
pub struct NodesReport {
    /// One result per node and image, nodes in name order, images in the order asked. A node
    /// whose pod printed no line for an image by the timeout has an `error` result saying so.
    pub results: Vec<NodeResult>,
    /// Pods the DaemonSet should have had but that did not appear by the timeout.
    pub unscheduled: u64,
    /// What was created and then deleted, e.g. `namespace/pullsim-system`.
    pub deleted: Vec<String>,
}

impl NodesReport {
    /// Whether every image is pullable on every node (and every node answered).
    pub fn all_pullable(&self) -> bool {
        self.unscheduled == 0
            && !self.results.is_empty()
            && self.results.iter().all(NodeResult::pullable)
    }
}

/// What was created, to delete.
#[derive(Default)]
struct Created {
    namespace: Option<String>,
    daemonset: Option<String>,
}

fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Cluster {
    /// Run `nodes check`: create the namespace (when missing) and the DaemonSet, wait until
    /// every scheduled pod printed a line per image (or `timeout`), gather, delete what was
    /// created. `cancel` resolving (Ctrl-C) stops the wait; the cleanup still runs, and the
    /// result is then [`ClusterError::Interrupted`]. `progress` gets one line per step.
    pub async fn nodes_check(
        &self,
        req: &NodesCheck,
        cancel: impl Future<Output = ()>,
        progress: &dyn Fn(&str),
    ) -> Result<NodesReport, ClusterError> {
        let ds = daemonset_manifest(&req.namespace, &req.pullsim_image, &req.images)?;
        let mut created = Created::default();
        let outcome = {
            let work = self.create_and_gather(req, ds, &mut created, progress);
            tokio::pin!(work);
            tokio::pin!(cancel);
            tokio::select! {
                r = &mut work => Some(r),
                () = &mut cancel => None,
            }
        };
        let deleted = self.clean_up(&created, progress).await;
        match outcome {
            None => Err(ClusterError::Interrupted {
                deleted: if deleted.is_empty() {
                    "nothing".into()
                } else {
                    deleted.join(", ")
                },
            }),
            Some(Err(e)) => Err(e),
            Some(Ok(mut report)) => {
                report.deleted = deleted;
                Ok(report)
            }
        }
    }

    async fn create_and_gather(
        &self,
        req: &NodesCheck,
        ds: Value,
        created: &mut Created,
        progress: &dyn Fn(&str),
    ) -> Result<NodesReport, ClusterError> {
        let ns = &req.namespace;
        let ns_body = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "pullsim"}},
        });
        match self.post_json("/api/v1/namespaces", &ns_body).await {
            Ok(_) => {
                progress(&format!("namespace/{ns} created"));
                created.namespace = Some(ns.clone());
            }
            Err(e) if e.api_code() == Some(409) => {}
            Err(e) => return Err(e),
        }
        let ds_path = format!("/apis/apps/v1/namespaces/{ns}/daemonsets");
        self.post_json(&ds_path, &ds).await?;
        created.daemonset = Some(format!("{ds_path}/{DAEMONSET_NAME}"));
        progress(&format!(
            "daemonset.apps/{DAEMONSET_NAME} created in namespace {ns}"
        ));
        self.gather(req).await
    }

    async fn gather(&self, req: &NodesCheck) -> Result<NodesReport, ClusterError> {
        let ns = &req.namespace;
        let deadline = tokio::time::Instant::now() + req.timeout;
        let pods_path = format!(
            "/api/v1/namespaces/{ns}/pods?labelSelector={}",
            query_escape(POD_SELECTOR)
        );
        let ds_path = format!("/apis/apps/v1/namespaces/{ns}/daemonsets/{DAEMONSET_NAME}");
        loop {
            let ds = self.get_json(&ds_path).await?;
            let desired = ds
                .pointer("/status/desiredNumberScheduled")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let observed = ds
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let pods = self.get_json(&pods_path).await?;
            let items = pods
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut results: Vec<NodeResult> = Vec::new();
            let mut complete = 0u64;
            for pod in &items {
                let (node, got) = self.pod_lines(ns, pod, &req.images).await?;
                if req.images.iter().all(|i| got.iter().any(|r| &r.image == i)) {
                    complete += 1;
                    results.extend(ordered(got, &req.images));
                } else {
                    results.extend(missing_lines(&node, pod, got, req));
                }
            }
            let done =
                observed >= 1 && complete as usize == items.len() && items.len() as u64 >= desired;
            if done || tokio::time::Instant::now() >= deadline {
                results.sort_by(|a, b| a.node.cmp(&b.node));
                return Ok(NodesReport {
                    results,
                    unscheduled: desired.saturating_sub(items.len() as u64),
                    deleted: Vec::new(),
                });
            }
            tokio::time::sleep(req.poll).await;
        }
    }

    /// The pod's node and the `node_check` lines in its check container's log (the current
    /// run, else the previous one when the container restarted).
    async fn pod_lines(
        &self,
        ns: &str,
        pod: &Value,
        images: &[String],
    ) -> Result<(String, Vec<NodeResult>), ClusterError> {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() || crate::target::check_name(name).is_err() {
            return Ok((node, Vec::new()));
        }
        let mut best: Vec<NodeResult> = Vec::new();
        for previous in ["", "&previous=true"] {
            let path = format!(
                "/api/v1/namespaces/{ns}/pods/{name}/log?container={CHECK_CONTAINER}{previous}"
            );
            let text = match self.get_text(&path).await {
                Ok(t) => t,
                // 400: the container has not started yet; 404: no previous run.
                Err(e) if matches!(e.api_code(), Some(400 | 404)) => continue,
                Err(e) => return Err(e),
            };
            let got = parse_node_check_lines(&text, &node);
            if images.iter().all(|i| got.iter().any(|r| &r.image == i)) {
                return Ok((node, got));
            }
            if got.len() > best.len() {
                best = got;
            }
        }
        Ok((node, best))
    }

    async fn clean_up(&self, created: &Created, progress: &dyn Fn(&str)) -> Vec<String> {
        let mut deleted = Vec::new();
        if let Some(path) = &created.daemonset {
            match self.delete(path).await {
                Ok(()) => {
                    progress(&format!("daemonset.apps/{DAEMONSET_NAME} deleted"));
                    deleted.push(format!("daemonset.apps/{DAEMONSET_NAME}"));
                }
                Err(e) => progress(&format!(
                    "warning: deleting daemonset.apps/{DAEMONSET_NAME}: {e}"
                )),
            }
        }
        if let Some(ns) = &created.namespace {
            match self.delete(&format!("/api/v1/namespaces/{ns}")).await {
                Ok(()) => {
                    progress(&format!("namespace/{ns} deleted"));
                    deleted.push(format!("namespace/{ns}"));
                }
                Err(e) => progress(&format!("warning: deleting namespace/{ns}: {e}")),
            }
        }
        deleted
    }
}

/// `got` in the order of `images`.
fn ordered(got: Vec<NodeResult>, images: &[String]) -> Vec<NodeResult> {
    let mut out = Vec::new();
    for i in images {
        if let Some(r) = got.iter().find(|r| &r.image == i) {
            out.push(r.clone());
        }
    }
    out
}

/// A pod that had not printed every line by the timeout: what it printed, and an `error` per
/// image missing, naming the pod's state.
fn missing_lines(
    node: &str,
    pod: &Value,
    got: Vec<NodeResult>,
    req: &NodesCheck,
) -> Vec<NodeResult> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let state = pod_state(pod);
    let node = if node.is_empty() {
        format!("(pod {name}, not scheduled)")
    } else {
        node.to_string()
    };
    req.images
        .iter()
        .map(|i| match got.iter().find(|r| &r.image == i) {
            Some(r) => r.clone(),
            None => NodeResult {
                node: node.clone(),
                image: i.clone(),
                verdict: "error".into(),
                reason: Some(format!(
                    "no node_check line from pod {name} within {}s ({state})",
                    req.timeout.as_secs()
                )),
                hint: None,
                pull_seconds: None,
            },
        })
        .collect()
}

/// The check container's state, as `kubectl get pod` summarises it: the waiting or terminated
/// reason and message, else the pod's phase.
fn pod_state(pod: &Value) -> String {
    let statuses = pod
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for s in &statuses {
        if s.get("name").and_then(Value::as_str) != Some(CHECK_CONTAINER) {
            continue;
        }
        for st in ["waiting", "terminated"] {
            if let Some(w) = s.pointer(&format!("/state/{st}")) {
                let reason = w.get("reason").and_then(Value::as_str).unwrap_or(st);
                return match w.get("message").and_then(Value::as_str) {
                    Some(m) if !m.is_empty() => format!("{reason}: {m}"),
                    _ => reason.to_string(),
                };
            }
        }
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    format!("pod phase {phase}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_escaped_as_a_query_value() {
        assert_eq!(
            query_escape(POD_SELECTOR),
            "app.kubernetes.io%2Fname%3Dpullsim-node-check"
        );
    }

    #[test]
    fn waiting_reason_names_the_state() {
        let pod = json!({"status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "node-check", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}
        ]}});
        assert_eq!(
            pod_state(&pod),
            "ImagePullBackOff: Back-off pulling image \"x\""
        );
        assert_eq!(
            pod_state(&json!({"status": {"phase": "Pending"}})),
            "pod phase Pending"
        );
    }
}
