//! The kubelet's configuration file (`--config FILE`): a `KubeletConfiguration` of
//! `kubelet.config.k8s.io/v1beta1`, in YAML or JSON, reduced to the fields of the image path.
//!
//! The kubelet's order is kept (cmd/kubelet/app/server.go, `loadConfigFile` and
//! `kubeletConfigFlagPrecedence`): the file is decoded and defaulted
//! (pkg/kubelet/apis/config/v1beta1/defaults.go, `SetDefaults_KubeletConfiguration`), then the
//! command-line flags are applied on top of it field by field, `--feature-gates` merged key by key
//! into the file's `featureGates` (a gate set on the command line wins, the file's other gates
//! stay), then the result is validated (pkg/kubelet/apis/config/validation/validation.go,
//! `ValidateKubeletConfiguration`) with the kubelet's messages. Fields the image path does not
//! use are ignored, as are unknown fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pullsim_credentials::plugin::duration::{format_go_duration, parse_go_duration};
use pullsim_policy::pullers::validate_registry_limits;
use pullsim_policy::{
    Allowlist, GcPolicy, PolicyError, PullerConfig, VerificationPolicy, messages::go_quote,
};
use serde::Deserialize;

use crate::{ManagerConfig, VerificationConfig};

/// The configuration's `apiVersion`.
pub const API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
/// The configuration's `kind`.
pub const KIND: &str = "KubeletConfiguration";
/// Feature gate KEP-2535 (beta, on by default since 1.35).
pub const GATE_ENSURE_SECRET_PULLED_IMAGES: &str = "KubeletEnsureSecretPulledImages";
/// Feature gate for `imageMaximumGCAge` (beta, on by default since 1.30).
pub const GATE_IMAGE_MAXIMUM_GC_AGE: &str = "ImageMaximumGCAge";

/// KEP-4412: service-account tokens for credential provider plugins (beta, on since 1.34).
pub const GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS: &str =
    pullsim_credentials::plugin::token_attributes::GATE;

/// The feature gates this kubelet knows, with their defaults (pkg/features/kube_features.go).
pub const KNOWN_GATES: &[(&str, bool)] = &[
    (GATE_ENSURE_SECRET_PULLED_IMAGES, true),
    (GATE_IMAGE_MAXIMUM_GC_AGE, true),
    (GATE_SA_TOKENS_FOR_CREDENTIAL_PROVIDERS, true),
];

impl KubeletConfig {
    /// Whether a known feature gate is on (its default unless the file or flags set it).
    pub fn gate(&self, name: &str) -> bool {
        self.feature_gates.get(name).copied().unwrap_or_else(|| {
            KNOWN_GATES
                .iter()
                .find(|(n, _)| *n == name)
                .is_some_and(|(_, on)| *on)
        })
    }
}

const NS_PER_SEC: i128 = 1_000_000_000;

/// Why a kubelet configuration was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KubeletConfigError {
    /// The file could not be read (pkg/kubelet/kubeletconfig/configfiles/configfiles.go).
    #[error("failed to read kubelet config file {}, error: {source}", quoted(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty (configfiles.go).
    #[error("kubelet config file {} was empty", quoted(path))]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a valid YAML or JSON object of the expected field types.
    #[error(
        "failed to decode kubelet config file {}, error: {message}",
        quoted(path)
    )]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// The document's `kind` is not `KubeletConfiguration` (or missing).
    #[error(
        "failed to decode kubelet config file {}, error: kind {} is not {}: expected kind {KIND:?} of apiVersion {API_VERSION:?}",
        quoted(path),
        go_quote(found),
        go_quote(KIND)
    )]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind found ("" when missing).
        found: String,
    },
    /// The document's `apiVersion` is not `kubelet.config.k8s.io/v1beta1` (or missing).
    #[error(
        "failed to decode kubelet config file {}, error: no kind {KIND:?} is registered for version {}: expected apiVersion {API_VERSION:?}",
        quoted(path),
        go_quote(found)
    )]
    WrongApiVersion {
        /// The file.
        path: PathBuf,
        /// The apiVersion found ("" when missing).
        found: String,
    },
    /// A feature gate setting the kubelet rejects (component-base featuregate: `Set`,
    /// `SetFromMap`), e.g. `unrecognized feature gate: Foo`.
    #[error("{message}")]
    FeatureGate {
        /// The kubelet's message.
        message: String,
    },
    /// `ValidateKubeletConfiguration` failures, each with the kubelet's text
    /// (`invalid configuration: …`), in the kubelet's order.
    #[error("{}", errors.join(", "))]
    Invalid {
        /// One message per failed rule.
        errors: Vec<String>,
    },
}

fn quoted(p: &Path) -> String {
    go_quote(&p.display().to_string())
}

/// The image-path fields of a `KubeletConfiguration` file, as written (`None`: not set).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfigFile {
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `featureGates`.
    pub feature_gates: Option<BTreeMap<String, bool>>,
    /// `imagePullCredentialsVerificationPolicy`.
    pub image_pull_credentials_verification_policy: Option<String>,
    /// `preloadedImagesVerificationAllowlist`.
    pub preloaded_images_verification_allowlist: Option<Vec<String>>,
    /// `serializeImagePulls`.
    pub serialize_image_pulls: Option<bool>,
    /// `maxParallelImagePulls`.
    pub max_parallel_image_pulls: Option<i32>,
    /// `registryPullQPS` (an int32 in v1beta1).
    #[serde(rename = "registryPullQPS")]
    pub registry_pull_qps: Option<i32>,
    /// `registryBurst`.
    pub registry_burst: Option<i32>,
    /// `imageGCHighThresholdPercent`.
    #[serde(rename = "imageGCHighThresholdPercent")]
    pub image_gc_high_threshold_percent: Option<i32>,
    /// `imageGCLowThresholdPercent`.
    #[serde(rename = "imageGCLowThresholdPercent")]
    pub image_gc_low_threshold_percent: Option<i32>,
    /// `imageMinimumGCAge` (a Go duration such as `2m0s`).
    #[serde(rename = "imageMinimumGCAge")]
    pub image_minimum_gc_age: Option<String>,
    /// `imageMaximumGCAge` (a Go duration; `0s` = off).
    #[serde(rename = "imageMaximumGCAge")]
    pub image_maximum_gc_age: Option<String>,
}

impl KubeletConfigFile {
    /// Read and decode the file at `path` (YAML or JSON).
    pub fn load(path: &Path) -> Result<KubeletConfigFile, KubeletConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| KubeletConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Decode `text` (read from `path`, named in errors): it must be one `KubeletConfiguration`
    /// of `kubelet.config.k8s.io/v1beta1`; unknown fields are ignored.
    pub fn parse(text: &str, path: &Path) -> Result<KubeletConfigFile, KubeletConfigError> {
        if text.trim().is_empty() {
            return Err(KubeletConfigError::Empty {
                path: path.to_path_buf(),
            });
        }
        // As the kubelet's codec: YAML to JSON first (sigs.k8s.io/yaml: a quoted "5" stays a
        // string), then the JSON decoded into the typed fields, where a string is not an
        // int32 (`cannot unmarshal string into Go struct field … of type int32`).
        let decode = |message: String| KubeletConfigError::Decode {
            path: path.to_path_buf(),
            message,
        };
        let json: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| decode(e.to_string()))?;
        let file: KubeletConfigFile =
            serde_json::from_value(json).map_err(|e| decode(e.to_string()))?;
        let kind = file.kind.clone().unwrap_or_default();
        if kind != KIND {
            return Err(KubeletConfigError::WrongKind {
                path: path.to_path_buf(),
                found: kind,
            });
        }
        let api_version = file.api_version.clone().unwrap_or_default();
        if api_version != API_VERSION {
            return Err(KubeletConfigError::WrongApiVersion {
                path: path.to_path_buf(),
                found: api_version,
            });
        }
        // metav1.Duration's UnmarshalJSON: time.ParseDuration, its error as the decode error.
        for d in [&file.image_minimum_gc_age, &file.image_maximum_gc_age]
            .into_iter()
            .flatten()
        {
            parse_go_duration(d).map_err(|e| KubeletConfigError::Decode {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        Ok(file)
    }
}

/// The kubelet's command-line flags for these fields (`None` / empty: the flag was not given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlagOverrides {
    /// `--feature-gates`, parsed with [`parse_feature_gates`].
    pub feature_gates: BTreeMap<String, bool>,
    /// `imagePullCredentialsVerificationPolicy`.
    pub image_pull_credentials_verification_policy: Option<String>,
    /// `preloadedImagesVerificationAllowlist`.
    pub preloaded_images_verification_allowlist: Option<Vec<String>>,
    /// `--serialize-image-pulls`.
    pub serialize_image_pulls: Option<bool>,
    /// `--max-parallel-image-pulls`.
    pub max_parallel_image_pulls: Option<i32>,
    /// `--registry-qps`.
    pub registry_pull_qps: Option<f64>,
    /// `--registry-burst`.
    pub registry_burst: Option<i32>,
    /// `--image-gc-high-threshold`.
    pub image_gc_high_threshold_percent: Option<i32>,
    /// `--image-gc-low-threshold`.
    pub image_gc_low_threshold_percent: Option<i32>,
    /// `--minimum-image-ttl-duration` (imageMinimumGCAge), signed nanoseconds.
    pub image_minimum_gc_age: Option<i128>,
    /// imageMaximumGCAge, signed nanoseconds.
    pub image_maximum_gc_age: Option<i128>,
}

/// The node configuration the image path runs with, defaulted, overridden and validated.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// Every known feature gate with its effective value.
    pub feature_gates: BTreeMap<String, bool>,
    /// The image manager's settings (KEP-2535 gate, verification policy and allowlist).
    pub manager: ManagerConfig,
    /// serializeImagePulls / maxParallelImagePulls.
    pub puller: PullerConfig,
    /// registryPullQPS (0 = no limit).
    pub qps: f64,
    /// registryBurst.
    pub burst: u32,
    /// Image GC thresholds and ages.
    pub gc: GcPolicy,
}

impl Default for KubeletConfig {
    /// The v1beta1 defaults (what [`resolve`] gives without a file or flags).
    fn default() -> Self {
        KubeletConfig {
            feature_gates: KNOWN_GATES
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            manager: ManagerConfig::default(),
            puller: PullerConfig::default(),
            qps: pullsim_policy::pullers::DEFAULT_REGISTRY_PULL_QPS,
            burst: pullsim_policy::pullers::DEFAULT_REGISTRY_BURST,
            gc: GcPolicy::default(),
        }
    }
}

/// component-base featuregate `Set`: `Name=bool,...`, spaces trimmed, empty items skipped, with
/// its messages (`missing bool value for X`, `invalid value of X=Y, err: strconv.ParseBool: …`).
/// Unknown names are reported by [`resolve`] (`SetFromMap`).
pub fn parse_feature_gates(value: &str) -> Result<BTreeMap<String, bool>, KubeletConfigError> {
    let mut gates = BTreeMap::new();
    for item in value.split(',') {
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(KubeletConfigError::FeatureGate {
                message: format!("missing bool value for {}", item.trim()),
            });
        };
        let (k, v) = (k.trim(), v.trim());
        let b = go_parse_bool(v).ok_or_else(|| KubeletConfigError::FeatureGate {
            message: format!(
                "invalid value of {k}={v}, err: strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(v)
            ),
        })?;
        gates.insert(k.to_string(), b);
    }
    Ok(gates)
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `SetFromMap` on a copy of the defaults: unknown names fail with the kubelet's message.
fn effective_gates(
    set: &BTreeMap<String, bool>,
) -> Result<BTreeMap<String, bool>, KubeletConfigError> {
    let mut gates = KubeletConfig::default().feature_gates;
    for (k, v) in set {
        match gates.get_mut(k) {
            Some(slot) => *slot = *v,
            None => {
                return Err(KubeletConfigError::FeatureGate {
                    message: format!("unrecognized feature gate: {k}"),
                });
            }
        }
    }
    Ok(gates)
}

/// The file (defaulted as v1beta1 does) with the flags on top, validated as the kubelet does.
pub fn resolve(
    file: Option<&KubeletConfigFile>,
    flags: &FlagOverrides,
) -> Result<KubeletConfig, KubeletConfigError> {
    let empty = KubeletConfigFile::default();
    let f = file.unwrap_or(&empty);
    // Feature gates: the file's, then the flags' key by key (kubeletConfigFlagPrecedence).
    let mut set = f.feature_gates.clone().unwrap_or_default();
    set.extend(flags.feature_gates.iter().map(|(k, v)| (k.clone(), *v)));
    let gates = effective_gates(&set)?;
    let gate_on = |name: &str| gates.get(name).copied().unwrap_or(false);
    let kep2535 = gate_on(GATE_ENSURE_SECRET_PULLED_IMAGES);

    // SetDefaults_KubeletConfiguration on the file, then the flags.
    let file_min_age = f
        .image_minimum_gc_age
        .as_deref()
        .map(|d| parse_go_duration(d).map(i128::from))
        .transpose()
        .unwrap_or_default()
        .filter(|n| *n != 0);
    let file_max_age = f
        .image_maximum_gc_age
        .as_deref()
        .map(|d| parse_go_duration(d).map(i128::from))
        .transpose()
        .unwrap_or_default();
    let file_policy = f
        .image_pull_credentials_verification_policy
        .clone()
        .filter(|p| !p.is_empty());
    let policy_name = flags
        .image_pull_credentials_verification_policy
        .clone()
        .or(file_policy)
        .or_else(|| kep2535.then(|| "NeverVerifyPreloadedImages".to_string()))
        .unwrap_or_default();
    let allowlist = flags
        .preloaded_images_verification_allowlist
        .clone()
        .or_else(|| f.preloaded_images_verification_allowlist.clone())
        .unwrap_or_default();
    let max_parallel = flags
        .max_parallel_image_pulls
        .or(f.max_parallel_image_pulls);
    // serializeImagePulls, when set neither in the file nor by a flag, is defaulted from the
    // maxParallelImagePulls in effect (the kubelet has no flag for the latter: pullsim's
    // --max-parallel-image-pulls counts as if it were written in the file).
    let serialize = flags
        .serialize_image_pulls
        .or(f.serialize_image_pulls)
        .unwrap_or(!matches!(max_parallel, Some(n) if n >= 2));
    let qps = flags
        .registry_pull_qps
        .unwrap_or_else(|| f64::from(f.registry_pull_qps.unwrap_or(5)));
    let file_burst = f.registry_burst.filter(|b| *b != 0).unwrap_or(10);
    let burst = flags.registry_burst.unwrap_or(file_burst);
    let high = flags
        .image_gc_high_threshold_percent
        .or(f.image_gc_high_threshold_percent)
        .unwrap_or(85);
    let low = flags
        .image_gc_low_threshold_percent
        .or(f.image_gc_low_threshold_percent)
        .unwrap_or(80);
    let min_age = flags
        .image_minimum_gc_age
        .or(file_min_age)
        .unwrap_or(120 * NS_PER_SEC);
    let max_age = flags.image_maximum_gc_age.or(file_max_age).unwrap_or(0);

    // ValidateKubeletConfiguration, in its order.
    let mut errors = Vec::new();
    let gc = gc_policy(
        (high, low),
        (min_age, max_age),
        gate_on(GATE_IMAGE_MAXIMUM_GC_AGE),
        &mut errors,
    );
    collect(&mut errors, validate_registry_limits(qps, i64::from(burst)));
    let puller = puller_config(serialize, max_parallel, &mut errors);
    let verification = verification_config(kep2535, &policy_name, &allowlist, &mut errors);
    if !errors.is_empty() {
        return Err(KubeletConfigError::Invalid { errors });
    }
    Ok(KubeletConfig {
        feature_gates: gates,
        manager: ManagerConfig {
            ensure_secret_pulled_images: kep2535,
            verification,
        },
        puller,
        qps,
        burst: u32::try_from(burst).unwrap_or(0),
        gc,
    })
}

/// Add the kubelet messages of a policy-crate validation to `errors`.
fn collect(errors: &mut Vec<String>, r: Result<(), PolicyError>) {
    if let Err(PolicyError::InvalidConfiguration { errors: e }) = r {
        errors.extend(e);
    }
}

/// The image GC settings and their rules (thresholds, then the ages), through
/// [`GcPolicy::validate`] where a GcPolicy can hold the values.
fn gc_policy(
    (high, low): (i32, i32),
    (min_age, max_age): (i128, i128),
    max_age_gate: bool,
    errors: &mut Vec<String>,
) -> GcPolicy {
    let mut gc = GcPolicy::default();
    match (u8::try_from(high), u8::try_from(low)) {
        (Ok(h), Ok(l)) => {
            gc.high_threshold_percent = h;
            gc.low_threshold_percent = l;
            let thresholds_only = GcPolicy {
                min_age: Duration::ZERO,
                ..gc
            };
            collect(errors, thresholds_only.validate());
        }
        // GcPolicy holds percentages as u8: what it cannot hold is out of range here.
        _ => collect(errors, Err(threshold_range_errors(high, low))),
    }
    if max_age != 0 && !max_age_gate {
        errors.push("invalid configuration: ImageMaximumGCAge feature gate is required for Kubelet configuration option imageMaximumGCAge".to_string());
    }
    for (name, age) in [
        ("imageMinimumGCAge", min_age),
        ("imageMaximumGCAge", max_age),
    ] {
        if age < 0 {
            errors.push(format!(
                "invalid configuration: {name} {} must not be negative",
                format_go_duration(age)
            ));
        }
    }
    gc.min_age = nanos(min_age);
    gc.max_age = nanos(max_age);
    if min_age >= 0 && max_age >= 0 {
        let ages_only = GcPolicy {
            min_age: gc.min_age,
            max_age: gc.max_age,
            ..GcPolicy::default()
        };
        collect(errors, ages_only.validate());
    }
    gc
}

/// serializeImagePulls / maxParallelImagePulls and their rules ([`PullerConfig::validate`]).
fn puller_config(
    serialize: bool,
    max_parallel: Option<i32>,
    errors: &mut Vec<String>,
) -> PullerConfig {
    match max_parallel.map(u32::try_from).transpose() {
        Ok(max_parallel) => {
            let p = PullerConfig {
                serialize,
                max_parallel,
            };
            collect(errors, p.validate());
            p
        }
        // PullerConfig holds the bound as u32: a negative one is not a positive number.
        Err(_) => {
            errors.push(format!(
                "invalid configuration: maxParallelImagePulls {} must be a positive number",
                max_parallel.unwrap_or_default()
            ));
            PullerConfig {
                serialize,
                max_parallel: None,
            }
        }
    }
}

/// Non-negative nanoseconds as a Duration (negative ones were reported by validation).
fn nanos(n: i128) -> Duration {
    let n = u128::try_from(n).unwrap_or(0);
    Duration::new(
        u64::try_from(n / 1_000_000_000).unwrap_or(u64::MAX),
        u32::try_from(n % 1_000_000_000).unwrap_or(0),
    )
}

/// The threshold rules for percentages outside what a u8 holds (negative or above 255).
fn threshold_range_errors(high: i32, low: i32) -> PolicyError {
    let mut errors = Vec::new();
    for (name, flag, v) in [
        (
            "imageGCHighThresholdPercent",
            "--image-gc-high-threshold",
            high,
        ),
        (
            "imageGCLowThresholdPercent",
            "--image-gc-low-threshold",
            low,
        ),
    ] {
        if !(0..=100).contains(&v) {
            errors.push(format!(
                "invalid configuration: {name} ({flag}) {v} must be between 0 and 100, inclusive"
            ));
        }
    }
    if low >= high {
        errors.push(format!(
            "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) {low} must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) {high}"
        ));
    }
    PolicyError::InvalidConfiguration { errors }
}

/// The KEP-2535 settings and their validation (the gate-dependent block of
/// ValidateKubeletConfiguration).
fn verification_config(
    gate: bool,
    policy_name: &str,
    allowlist: &[String],
    errors: &mut Vec<String>,
) -> VerificationConfig {
    let mut cfg = VerificationConfig::default();
    if !gate {
        if !policy_name.is_empty() {
            errors.push("invalid configuration: `imagePullCredentialsVerificationPolicy` must not be set if KubeletEnsureSecretPulledImages feature gate is not enabled".to_string());
        }
        if !allowlist.is_empty() {
            errors.push("invalid configuration: `preloadedImagesVerificationAllowlist` must not be set if KubeletEnsureSecretPulledImages feature gate is not enabled".to_string());
        }
        return cfg;
    }
    match policy_name.parse::<VerificationPolicy>() {
        Ok(p) => cfg.policy = p,
        Err(_) => errors.push(format!(
            "invalid configuration: option {} specified for imagePullCredentialsVerificationPolicy. Valid options are \"NeverVerify\", \"NeverVerifyPreloadedImages\", \"NeverVerifyAllowlistedImages\" or \"AlwaysVerify\"",
            go_quote(policy_name)
        )),
    }
    if !allowlist.is_empty() && policy_name != "NeverVerifyAllowlistedImages" {
        errors.push("invalid configuration: can't set `preloadedImagesVerificationAllowlist` if `imagePullCredentialsVertificationPolicy` is not \"NeverVerifyAllowlistedImages\"".to_string());
    } else {
        match Allowlist::parse(allowlist) {
            Ok(a) => cfg.allowlist = a,
            Err(e) => errors.push(format!(
                "invalid configuration: invalid image pattern in `preloadedImagesVerificationAllowlist`: {}",
                e.upstream()
            )),
        }
    }
    cfg
}

#[cfg(test)]
mod tests;
