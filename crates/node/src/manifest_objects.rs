//! Turning one Kubernetes object (as JSON) into the pods it describes, with validation of the
//! fields pullsim reads. Field paths in errors are the object's own paths.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::manifest_types::{
    ImageSource, ManifestError, Origin, PodImage, PodSpec, ServiceAccount, json_kind,
};
use pullsim_policy::PullPolicy;

/// Where the pod template is for each workload kind: (metadata path, spec path), as JSON
/// pointers plus the dotted form used in messages. `None` for kinds without pods.
fn template_location(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "Pod" => Some(("", "")),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(("spec.template", "spec.template.")),
        "PodTemplate" => Some(("template", "template.")),
        "CronJob" => Some((
            "spec.jobTemplate.spec.template",
            "spec.jobTemplate.spec.template.",
        )),
        _ => None,
    }
}

fn pointer(dotted: &str) -> String {
    if dotted.is_empty() {
        return String::new();
    }
    format!("/{}", dotted.replace('.', "/"))
}

fn invalid(origin: &Origin, field: String, message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        origin: origin.clone(),
        field,
        message: message.into(),
    }
}

/// A deterministic pod UID (UUID form) from a key such as `namespace/name`, used when the
/// manifest has no `metadata.uid`, so back-off keys and records are stable across runs.
pub fn derived_uid(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// Optional string field: absent or null is `None`; another type is an error.
fn opt_str<'a>(
    v: &'a Value,
    key: &str,
    path: &str,
    origin: &Origin,
) -> Result<Option<&'a str>, ManifestError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            origin,
            format!("{path}{key}"),
            format!("must be a string, got {}", json_kind(other)),
        )),
    }
}

fn req_str<'a>(
    v: &'a Value,
    key: &str,
    path: &str,
    origin: &Origin,
) -> Result<&'a str, ManifestError> {
    match opt_str(v, key, path, origin)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(s) => Err(invalid(
            origin,
            format!("{path}{key}"),
            format!(
                "must be a non-empty string, got {}",
                pullsim_policy::messages::go_quote(s)
            ),
        )),
        None => Err(invalid(
            origin,
            format!("{path}{key}"),
            "must be a non-empty string",
        )),
    }
}

fn opt_list<'a>(
    v: &'a Value,
    key: &str,
    path: &str,
    origin: &Origin,
) -> Result<&'a [Value], ManifestError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(invalid(
            origin,
            format!("{path}{key}"),
            format!("must be a list, got {}", json_kind(other)),
        )),
    }
}

/// `imagePullPolicy` / `pullPolicy`: empty means "default it"; anything else must be one of
/// the three values (the API server's message for an unsupported value).
fn pull_policy(
    v: &Value,
    key: &str,
    path: &str,
    origin: &Origin,
) -> Result<Option<PullPolicy>, ManifestError> {
    match opt_str(v, key, path, origin)? {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<PullPolicy>().map(Some).map_err(|_| {
            invalid(
                origin,
                format!("{path}{key}"),
                format!(
                    "Unsupported value: {}: supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                    pullsim_policy::messages::go_quote(s)
                ),
            )
        }),
    }
}

/// Pods described by one object. Kinds without pods (Service, ConfigMap, ...) give none.
pub(crate) fn pods_from_object(
    kind: &str,
    doc: &Value,
    origin: &Origin,
) -> Result<Vec<PodSpec>, ManifestError> {
    let Some((tmpl, prefix)) = template_location(kind) else {
        return Ok(Vec::new());
    };
    let owner_meta = doc.get("metadata").unwrap_or(&Value::Null);
    let owner_name = req_str(owner_meta, "name", "metadata.", origin)?;
    let owner_ns = opt_str(owner_meta, "namespace", "metadata.", origin)?.unwrap_or("");
    let template = if tmpl.is_empty() {
        doc
    } else {
        match doc.pointer(&pointer(tmpl)) {
            Some(t) if t.is_object() => t,
            Some(other) => {
                return Err(invalid(
                    origin,
                    tmpl.to_string(),
                    format!("must be a mapping, got {}", json_kind(other)),
                ));
            }
            None => return Err(invalid(origin, tmpl.to_string(), "is required")),
        }
    };
    let meta = template.get("metadata").unwrap_or(&Value::Null);
    let meta_path = format!("{prefix}metadata.");
    let ns = opt_str(meta, "namespace", &meta_path, origin)?
        .filter(|s| !s.is_empty())
        .unwrap_or(if owner_ns.is_empty() {
            "default"
        } else {
            owner_ns
        })
        .to_string();
    let uid = match kind {
        "Pod" => opt_str(owner_meta, "uid", "metadata.", origin)?
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| derived_uid(&format!("{ns}/{owner_name}"))),
        _ => derived_uid(&format!("{kind}/{ns}/{owner_name}")),
    };
    let spec_path = format!("{prefix}spec.");
    let spec = match template.get("spec") {
        Some(s) if s.is_object() => s,
        Some(other) => {
            return Err(invalid(
                origin,
                format!("{prefix}spec"),
                format!("must be a mapping, got {}", json_kind(other)),
            ));
        }
        None => return Err(invalid(origin, format!("{prefix}spec"), "is required")),
    };

    let mut images = Vec::new();
    for (key, source) in [
        ("initContainers", ImageSource::InitContainer),
        ("containers", ImageSource::Container),
        ("ephemeralContainers", ImageSource::EphemeralContainer),
    ] {
        let list = opt_list(spec, key, &spec_path, origin)?;
        if key == "containers" && list.is_empty() {
            return Err(invalid(
                origin,
                format!("{spec_path}containers"),
                "must have at least one container",
            ));
        }
        for (i, c) in list.iter().enumerate() {
            let cpath = format!("{spec_path}{key}[{i}].");
            if !c.is_object() {
                return Err(invalid(
                    origin,
                    format!("{spec_path}{key}[{i}]"),
                    format!("must be a mapping, got {}", json_kind(c)),
                ));
            }
            let name = req_str(c, "name", &cpath, origin)?;
            let image = req_str(c, "image", &cpath, origin)?;
            let policy = pull_policy(c, "imagePullPolicy", &cpath, origin)?;
            images.push(PodImage {
                source,
                name: name.to_string(),
                image: image.to_string(),
                pull_policy: policy,
            });
        }
    }
    for (i, vol) in opt_list(spec, "volumes", &spec_path, origin)?
        .iter()
        .enumerate()
    {
        let vpath = format!("{spec_path}volumes[{i}].");
        let Some(img) = vol.get("image") else {
            continue;
        };
        if img.is_null() {
            continue;
        }
        let name = req_str(vol, "name", &vpath, origin)?;
        let ipath = format!("{vpath}image.");
        if !img.is_object() {
            return Err(invalid(
                origin,
                format!("{vpath}image"),
                format!("must be a mapping, got {}", json_kind(img)),
            ));
        }
        let reference = req_str(img, "reference", &ipath, origin)?;
        let policy = pull_policy(img, "pullPolicy", &ipath, origin)?;
        images.push(PodImage {
            source: ImageSource::ImageVolume,
            name: name.to_string(),
            image: reference.to_string(),
            pull_policy: policy,
        });
    }

    let mut secrets = Vec::new();
    for (i, s) in opt_list(spec, "imagePullSecrets", &spec_path, origin)?
        .iter()
        .enumerate()
    {
        let p = format!("{spec_path}imagePullSecrets[{i}].");
        // API validation permits empty names: they are kept here (the ServiceAccount admission
        // counts them) and skipped when secrets are resolved, as kubelet_pods.go does.
        secrets.push(opt_str(s, "name", &p, origin)?.unwrap_or("").to_string());
    }
    let sa = opt_str(spec, "serviceAccountName", &spec_path, origin)?
        .filter(|s| !s.is_empty())
        .or(opt_str(spec, "serviceAccount", &spec_path, origin)?.filter(|s| !s.is_empty()))
        .unwrap_or("default")
        .to_string();

    Ok(vec![PodSpec {
        namespace: ns,
        name: owner_name.to_string(),
        uid,
        service_account: sa,
        image_pull_secrets: secrets,
        images,
        origin: origin.clone(),
    }])
}

/// A ServiceAccount's namespace, name and image pull secrets.
pub(crate) fn service_account_from_object(
    doc: &Value,
    origin: &Origin,
) -> Result<ServiceAccount, ManifestError> {
    let meta = doc.get("metadata").unwrap_or(&Value::Null);
    let name = req_str(meta, "name", "metadata.", origin)?;
    let namespace = opt_str(meta, "namespace", "metadata.", origin)?
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let mut secrets = Vec::new();
    for (i, s) in opt_list(doc, "imagePullSecrets", "", origin)?
        .iter()
        .enumerate()
    {
        let p = format!("imagePullSecrets[{i}].");
        if let Some(n) = opt_str(s, "name", &p, origin)?
            && !n.is_empty()
        {
            secrets.push(n.to_string());
        }
    }
    let uid = opt_str(meta, "uid", "metadata.", origin)?
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let mut annotations = std::collections::BTreeMap::new();
    match meta.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        annotations.insert(k.clone(), s.clone());
                    }
                    other => {
                        return Err(invalid(
                            origin,
                            format!("metadata.annotations.{k}"),
                            format!("must be a string, got {}", json_kind(other)),
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(invalid(
                origin,
                "metadata.annotations".to_string(),
                format!("must be a map of strings, got {}", json_kind(other)),
            ));
        }
    }
    Ok(ServiceAccount {
        namespace: namespace.to_string(),
        name: name.to_string(),
        image_pull_secrets: secrets,
        uid,
        annotations,
    })
}
