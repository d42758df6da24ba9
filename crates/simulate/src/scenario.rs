//! The scenario file (`apiVersion: pullsim/v1alpha1`, `kind: Scenario`) as written: node pools,
//! registries, images, workloads and variants. Pools, registries, images and workloads are maps
//! keyed by name, so that a variant's JSON merge patch (RFC 7386) can change one field of one
//! of them. Decoding and the merge live here; checking and compiling into what the engine runs
//! is [`crate::plan`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use pullsim_node::kubelet_config::KubeletConfigFile;

use crate::error::ScenarioError;

/// The scenario's `apiVersion`.
pub const API_VERSION: &str = "pullsim/v1alpha1";
/// The scenario's `kind`.
pub const KIND: &str = "Scenario";

/// A scenario file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioFile {
    /// `pullsim/v1alpha1`.
    pub api_version: String,
    /// `Scenario`.
    pub kind: String,
    /// Virtual time simulated (a Go duration; default `1h`).
    #[serde(default)]
    pub duration: Option<String>,
    /// Period of the time-series samples (default `1m`).
    #[serde(default)]
    pub sample_interval: Option<String>,
    /// Node pools by name.
    pub pools: BTreeMap<String, PoolSpec>,
    /// Registries by host (`docker.io`, `mirror.internal:5000`).
    pub registries: BTreeMap<String, RegistrySpec>,
    /// Layers shared by several images, by name: their size.
    #[serde(default)]
    pub shared_layers: BTreeMap<String, String>,
    /// Images by reference (normalized or familiar: `nginx:1.27`).
    pub images: BTreeMap<String, ImageSpecFile>,
    /// Workloads by name.
    pub workloads: BTreeMap<String, WorkloadSpec>,
    /// Pull secret manifests (Secret documents), relative to the scenario file.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Variants to compare; none: the scenario itself, named `base`.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
}

/// A node pool.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolSpec {
    /// Number of nodes.
    pub count: u32,
    /// Architecture of the nodes (`amd64`, `arm64`; default `amd64`).
    #[serde(default)]
    pub arch: Option<String>,
    /// Downlink bandwidth of each node (`1Gbps`).
    pub downlink: String,
    /// Image filesystem capacity of each node; image GC runs when set.
    #[serde(default)]
    pub disk: Option<String>,
    /// The address the nodes reach registries from: unset, each node its own; set, every node
    /// of the pool behind this one (NAT). Rate limits `per: address` count per address.
    #[serde(default)]
    pub egress_address: Option<String>,
    /// The kubelet's configuration (the fields of a `KubeletConfiguration` file).
    #[serde(default)]
    pub kubelet: Option<Value>,
    /// The container runtime.
    #[serde(default)]
    pub runtime: Option<RuntimeSpec>,
    /// Images present on every node at start (`images load`).
    #[serde(default)]
    pub preloaded: Vec<String>,
}

/// A node's container runtime (containerd).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimeSpec {
    /// `max_concurrent_downloads` (default 3; containerd 2.x: one limit for all pulls on the
    /// node).
    #[serde(default)]
    pub max_concurrent_downloads: Option<u32>,
    /// Mirrors per registry namespace, in order (`hosts.toml` `[host."…"]` entries): tried
    /// before the registry itself.
    #[serde(default)]
    pub mirrors: BTreeMap<String, Vec<String>>,
}

/// A registry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrySpec {
    /// Egress bandwidth shared by every download from it (unset: unlimited).
    #[serde(default)]
    pub egress: Option<String>,
    /// Time of one request (round trip plus server time; default `0s`).
    #[serde(default)]
    pub latency: Option<String>,
    /// `token`: every pull meets 401 and fetches a token (Docker Hub, even anonymous);
    /// `none` (default): no auth round trip.
    #[serde(default)]
    pub auth: Option<String>,
    /// Rate limits.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSpec>,
    /// Probability that a request fails with 500 (default 0).
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Windows when every request fails with 503.
    #[serde(default)]
    pub outages: Vec<OutageSpec>,
}

/// A rate limit.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Requests allowed per window.
    pub requests: u32,
    /// The sliding window (`6h`).
    pub window: String,
    /// `address` (default: per node address, see pools' `egressAddress`) or `credential`
    /// (per user name).
    #[serde(default)]
    pub per: Option<String>,
    /// `anonymous`, `authenticated` or `any` (default).
    #[serde(default)]
    pub who: Option<String>,
    /// Which requests count: `manifest_head`, `index_get`, `manifest_get` (a platform
    /// manifest), `blob_get`, `token` (default: `[manifest_get]`, Docker Hub's rule).
    #[serde(default)]
    pub counts: Option<Vec<String>>,
    /// The 429 answer's registry error message.
    #[serde(default)]
    pub message: Option<String>,
}

/// An outage window.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutageSpec {
    /// Start (time since the scenario's start).
    pub from: String,
    /// End.
    pub to: String,
}

/// An image.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSpecFile {
    /// Layers, base first: a size (`20MiB`) or the name of a shared layer. Required unless
    /// `fromStore`.
    #[serde(default)]
    pub layers: Vec<String>,
    /// Take the layers, config and platform from the image of this name in a local pullsim
    /// store (`pullsim simulate` reads `--root`, filling `layers` with the layers' digests as
    /// shared layers, so images that share a layer in the store share it here).
    #[serde(default)]
    pub from_store: bool,
    /// Platforms (`linux/amd64`); more than one, or `index: true`, makes it a multi-arch image
    /// (an index, then a manifest per platform). Default `[linux/amd64]`.
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    /// Force an index even with one platform.
    #[serde(default)]
    pub index: bool,
    /// Size of the config blob (default `4KiB`).
    #[serde(default)]
    pub config: Option<String>,
}

/// A workload.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSpec {
    /// `Deployment` (default), `Job` (replicas are pods) or `DaemonSet` (a pod per node of the
    /// pool).
    #[serde(default)]
    pub kind: Option<String>,
    /// The pool its pods run on (default: every pool).
    #[serde(default)]
    pub pool: Option<String>,
    /// Pods (not for DaemonSets; default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// When the first pod arrives (default `0s`).
    #[serde(default)]
    pub at: Option<String>,
    /// Time between two pods' arrivals (default `0s`: all at once).
    #[serde(default)]
    pub every: Option<String>,
    /// Containers, when no manifest is given.
    #[serde(default)]
    pub containers: Vec<ContainerSpec>,
    /// Init containers, when no manifest is given.
    #[serde(default)]
    pub init_containers: Vec<ContainerSpec>,
    /// Pull secret names (in the pod's namespace).
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A Kubernetes manifest (relative to the scenario file) whose pod templates are the pods.
    #[serde(default)]
    pub manifest: Option<String>,
}

/// A container of an inline workload.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSpec {
    /// Name (default `c<index>`).
    #[serde(default)]
    pub name: Option<String>,
    /// Image, as in a pod spec.
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never` (default: the API server's defaulting).
    #[serde(default)]
    pub image_pull_policy: Option<String>,
}

/// A variant: a name and a JSON merge patch over the scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Name.
    pub name: String,
    /// RFC 7386 merge patch (maps merge, `null` deletes, anything else replaces).
    #[serde(default)]
    pub patch: Value,
}

/// A scenario file read: its variants, each the base scenario with its patch applied.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The file (relative paths in it are relative to its directory).
    pub path: PathBuf,
    /// `(name, scenario)` per variant, in file order (`base` when there are none).
    pub variants: Vec<(String, ScenarioFile)>,
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Read a scenario file and its variants.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Decode a scenario's text (read from `path`, named in errors).
pub fn parse(text: &str, path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let decode = |message: String| ScenarioError::Decode {
        path: path.to_path_buf(),
        message,
    };
    // Typed first, straight from the YAML: its errors carry the line.
    let base: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| decode(e.to_string()))?;
    let invalid = |field: &str, message: String| ScenarioError::Invalid {
        path: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    if base.api_version != API_VERSION {
        return Err(invalid(
            "apiVersion",
            format!("must be {API_VERSION:?}, not {:?}", base.api_version),
        ));
    }
    if base.kind != KIND {
        return Err(invalid(
            "kind",
            format!("must be {KIND:?}, not {:?}", base.kind),
        ));
    }
    if base.variants.is_empty() {
        return Ok(LoadedScenario {
            path: path.to_path_buf(),
            variants: vec![("base".to_string(), base)],
        });
    }
    let mut json: Value = serde_saphyr::from_str(text).map_err(|e| decode(e.to_string()))?;
    if let Value::Object(m) = &mut json {
        m.remove("variants");
    }
    let mut variants = Vec::new();
    for (i, v) in base.variants.iter().enumerate() {
        if variants.iter().any(|(n, _)| n == &v.name) {
            return Err(invalid(
                &format!("variants[{i}].name"),
                format!("duplicate variant name {:?}", v.name),
            ));
        }
        let mut doc = json.clone();
        // No patch: the scenario as it is.
        if !v.patch.is_null() {
            merge_patch(&mut doc, &v.patch);
        }
        let s: ScenarioFile = serde_json::from_value(doc).map_err(|e| {
            invalid(
                &format!("variants[{i}] ({:?}).patch", v.name),
                format!("the patched scenario does not decode: {e}"),
            )
        })?;
        variants.push((v.name.clone(), s));
    }
    Ok(LoadedScenario {
        path: path.to_path_buf(),
        variants,
    })
}

/// The kubelet configuration of a pool, decoded as the kubelet decodes its file (YAML to JSON,
/// then the typed fields).
pub fn kubelet_file(v: Option<&Value>) -> Result<KubeletConfigFile, String> {
    match v {
        None => Ok(KubeletConfigFile::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // RFC 7386 appendix A examples.
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": ["b"]});
        merge_patch(&mut t, &json!({"a": ["c"]}));
        assert_eq!(t, json!({"a": ["c"]}));
        let mut t = json!({"a": "foo"});
        merge_patch(&mut t, &json!({"a": {"bb": {"ccc": null}}}));
        assert_eq!(t, json!({"a": {"bb": {}}}));
    }

    const MINI: &str = "apiVersion: pullsim/v1alpha1\nkind: Scenario\npools:\n  p:\n    count: 1\n    downlink: 1Gbps\nregistries:\n  r.example:\n    latency: 10ms\nimages:\n  r.example/a:1:\n    layers: [1MiB]\nworkloads:\n  w:\n    containers: [{image: r.example/a:1}]\n";

    #[test]
    fn errors_name_the_file_and_field() {
        let p = Path::new("s.yaml");
        let bad = MINI.replace("downlink", "downlnk");
        let e = parse(&bad, p).unwrap_err().to_string();
        assert!(e.starts_with("s.yaml: "), "{e}");
        assert!(e.contains("downlnk"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        let e = parse(&MINI.replace("kind: Scenario", "kind: Pod"), p)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "s.yaml: kind: must be \"Scenario\", not \"Pod\"");
        let v =
            format!("{MINI}variants:\n  - name: x\n    patch: {{pools: {{p: {{count: many}}}}}}\n");
        let e = parse(&v, p).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "s.yaml: variants[0] (\"x\").patch: the patched scenario does not decode"
            ),
            "{e}"
        );
    }

    #[test]
    fn variants_patch_one_field_of_one_pool() {
        let v = format!(
            "{MINI}variants:\n  - name: one\n  - name: two\n    patch: {{pools: {{p: {{count: 2}}}}}}\n"
        );
        let l = parse(&v, Path::new("s.yaml")).unwrap();
        assert_eq!(l.variants.len(), 2);
        assert_eq!(l.variants[0].1.pools["p"].count, 1);
        assert_eq!(l.variants[1].1.pools["p"].count, 2);
        assert_eq!(l.variants[1].1.pools["p"].downlink, "1Gbps");
    }
}
