//! The `node_check` lines of `pullsim node check -o json` in a pod's log, and the per-node
//! results gathered from them.

use serde::{Deserialize, Serialize};

/// One image on one node, as `pullsim node check -o json` prints it
/// (`{"kind":"node_check","node","image","verdict","reason","hint","pull_seconds"}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeResult {
    /// The node (`NODE_NAME`, set from the pod's spec.nodeName).
    pub node: String,
    /// The image checked.
    pub image: String,
    /// `pullable`, `not-pullable` or `error`.
    pub verdict: String,
    /// Why, when not pullable or an error.
    pub reason: Option<String>,
    /// A hint code, when there is one.
    pub hint: Option<String>,
    /// Seconds the pull took with `--pull`.
    pub pull_seconds: Option<f64>,
}

impl NodeResult {
    /// Whether the image is pullable there.
    pub fn pullable(&self) -> bool {
        self.verdict == "pullable"
    }
}

#[derive(Deserialize)]
struct Line {
    kind: String,
    #[serde(default)]
    node: Option<String>,
    image: String,
    verdict: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    pull_seconds: Option<f64>,
}

/// The `node_check` lines of a log (other lines, and lines that are not JSON, are skipped);
/// `node` stands in for a line without one. The last line for an image wins.
pub fn parse_node_check_lines(log: &str, node: &str) -> Vec<NodeResult> {
    let mut out: Vec<NodeResult> = Vec::new();
    for line in log.lines() {
        let Ok(l) = serde_json::from_str::<Line>(line.trim()) else {
            continue;
        };
        if l.kind != "node_check" {
            continue;
        }
        let r = NodeResult {
            node: l
                .node
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| node.to_string()),
            image: l.image,
            verdict: l.verdict,
            reason: l.reason,
            hint: l.hint,
            pull_seconds: l.pull_seconds,
        };
        out.retain(|o| o.image != r.image);
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_node_check_lines() {
        let log = "pullsim: starting\n{\"kind\":\"runtime_log\",\"msg\":\"x\"}\n\
{\"kind\":\"node_check\",\"node\":\"n1\",\"image\":\"a:1\",\"verdict\":\"pullable\",\"reason\":null,\"hint\":null,\"pull_seconds\":1.5}\n\
{\"kind\":\"node_check\",\"image\":\"b:1\",\"verdict\":\"not-pullable\",\"reason\":\"401 Unauthorized\",\"hint\":\"no-credentials\",\"pull_seconds\":null}\n";
        let r = parse_node_check_lines(log, "pod-node");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].node, "n1");
        assert_eq!(r[0].pull_seconds, Some(1.5));
        assert!(r[0].pullable());
        assert_eq!(r[1].node, "pod-node");
        assert_eq!(r[1].reason.as_deref(), Some("401 Unauthorized"));
        assert_eq!(r[1].hint.as_deref(), Some("no-credentials"));
        assert!(!r[1].pullable());
    }
}
