//! The DaemonSet of `nodes check`: `deploy/daemonset.yaml`, embedded, with the pullsim image,
//! the images to check and the namespace filled in.

use std::path::Path;

use serde_json::Value;

use crate::error::ClusterError;

/// `deploy/daemonset.yaml` as shipped.
pub const DAEMONSET_YAML: &str = include_str!("../../../deploy/daemonset.yaml");

/// The name of the DaemonSet (and its pods' `app.kubernetes.io/name` label).
pub const DAEMONSET_NAME: &str = "pullsim-node-check";

/// The init container that runs `pullsim node check`; its log holds the results.
pub const CHECK_CONTAINER: &str = "node-check";

/// The label selector of the DaemonSet's pods.
pub const POD_SELECTOR: &str = "app.kubernetes.io/name=pullsim-node-check";

fn bad(field: &str, message: &str) -> ClusterError {
    ClusterError::DaemonSet {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// The DaemonSet to create: `deploy/daemonset.yaml` in `namespace`, its `node-check` container
/// running `pullim_image` with `images` appended to its arguments.
pub fn daemonset_manifest(
    namespace: &str,
    pullsim_image: &str,
    images: &[String],
) -> Result<Value, ClusterError> {
    let docs = pullsim_node::manifest::parse_documents(
        Path::new("deploy/daemonset.yaml"),
        DAEMONSET_YAML,
    )?;
    let [mut ds] = <[Value; 1]>::try_from(docs)
        .map_err(|_| bad("(file)", "must hold exactly one document"))?;
    let meta = ds
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| bad("metadata", "must be a mapping"))?;
    meta.insert("namespace".into(), Value::String(namespace.to_string()));
    let inits = ds
        .pointer_mut("/spec/template/spec/initContainers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| bad("spec.template.spec.initContainers", "must be a list"))?;
    let check = inits
        .iter_mut()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(CHECK_CONTAINER))
        .ok_or_else(|| {
            bad(
                "spec.template.spec.initContainers",
                "has no container named node-check",
            )
        })?;
    check["image"] = Value::String(pullsim_image.to_string());
    let args = check
        .get_mut("args")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| {
            bad(
                "spec.template.spec.initContainers[node-check].args",
                "must be a list",
            )
        })?;
    args.extend(images.iter().cloned().map(Value::String));
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_args_and_namespace_filled_in() {
        let ds = daemonset_manifest(
            "ops",
            "reg.example/pullsim:0.1.0",
            &["nginx:1.27".into(), "a/b".into()],
        )
        .unwrap();
        assert_eq!(ds["metadata"]["namespace"], "ops");
        assert_eq!(ds["metadata"]["name"], DAEMONSET_NAME);
        let c = &ds["spec"]["template"]["spec"]["initContainers"][0];
        assert_eq!(c["image"], "reg.example/pullsim:0.1.0");
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "node",
                "check",
                "--host-root",
                "/host",
                "-o",
                "json",
                "nginx:1.27",
                "a/b"
            ]
        );
        let labels = &ds["spec"]["template"]["metadata"]["labels"];
        let (k, v) = POD_SELECTOR.split_once('=').unwrap();
        assert_eq!(labels[k], v);
    }

    /// The issue's security rules for the pod (issue 15, Build 3).
    #[test]
    fn security_context_as_the_issue_asks() {
        let ds = daemonset_manifest("ns", "i", &[]).unwrap();
        let spec = &ds["spec"]["template"]["spec"];
        assert_eq!(spec["securityContext"]["runAsUser"], 0);
        assert_eq!(spec["hostPID"], false);
        assert_eq!(spec["tolerations"][0]["operator"], "Exists");
        assert!(spec["tolerations"][0].get("key").is_none());
        for c in spec["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(spec["containers"].as_array().unwrap())
        {
            let sc = &c["securityContext"];
            assert_eq!(sc["privileged"], false, "{}", c["name"]);
            assert_eq!(sc["allowPrivilegeEscalation"], false);
            assert_eq!(sc["readOnlyRootFilesystem"], true);
            assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
            assert!(c["resources"]["limits"]["memory"].is_string());
            assert!(c["resources"]["limits"]["cpu"].is_string());
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                if m["mountPath"].as_str().unwrap().starts_with("/host") {
                    assert_eq!(m["readOnly"], true, "{m}");
                }
            }
        }
        let paths: Vec<&str> = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["hostPath"]["path"].as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "/etc/kubernetes",
                "/var/lib/kubelet",
                "/etc/containerd",
                "/run/containerd",
                "/etc/systemd/system",
                "/root/.docker",
                "/var/lib/rancher/k3s/agent/etc",
                "/run/k3s/containerd",
                "/etc/eks",
                "/usr/lib/systemd/system",
                "/etc/default",
                "/home/kubernetes",
                "/etc/srv/kubernetes",
                "/var/lib/rancher/credentialprovider"
            ]
        );
    }
}
