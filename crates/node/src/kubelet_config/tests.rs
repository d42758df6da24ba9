//! Unit tests of the kubelet configuration file: defaults, fields, flags, validation.
//! Defaults: pkg/kubelet/apis/config/v1beta1/defaults.go (SetDefaults_KubeletConfiguration).
//! Flag precedence: cmd/kubelet/app/server.go (kubeletConfigFlagPrecedence).
//! Messages: pkg/kubelet/apis/config/validation/validation.go (ValidateKubeletConfiguration)
//! and k8s.io/component-base/featuregate/feature_gate.go (Set, SetFromMap).

use super::*;

fn file(body: &str) -> KubeletConfigFile {
    let text =
        format!("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n{body}");
    KubeletConfigFile::parse(&text, Path::new("/etc/kubelet.yaml")).unwrap()
}

fn errors(f: Option<&KubeletConfigFile>, flags: &FlagOverrides) -> Vec<String> {
    match resolve(f, flags) {
        Err(KubeletConfigError::Invalid { errors }) => errors,
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn defaults_are_v1beta1s() {
    for cfg in [
        resolve(None, &FlagOverrides::default()).unwrap(),
        resolve(Some(&file("")), &FlagOverrides::default()).unwrap(),
    ] {
        assert!(cfg.manager.ensure_secret_pulled_images);
        assert_eq!(
            cfg.manager.verification.policy,
            VerificationPolicy::NeverVerifyPreloadedImages
        );
        assert_eq!(cfg.puller, PullerConfig::default());
        assert!(cfg.puller.serialize);
        assert_eq!(cfg.puller.max_parallel, None);
        assert_eq!(cfg.qps, 5.0);
        assert_eq!(cfg.burst, 10);
        assert_eq!(cfg.gc.high_threshold_percent, 85);
        assert_eq!(cfg.gc.low_threshold_percent, 80);
        assert_eq!(cfg.gc.min_age, Duration::from_secs(120));
        assert_eq!(cfg.gc.max_age, Duration::ZERO);
        assert!(cfg.feature_gates[GATE_ENSURE_SECRET_PULLED_IMAGES]);
    }
    // Zero means "unset" for registryBurst and imageMinimumGCAge (defaults.go checks == 0).
    let cfg = resolve(
        Some(&file("registryBurst: 0\nimageMinimumGCAge: 0s\n")),
        &FlagOverrides::default(),
    )
    .unwrap();
    assert_eq!(cfg.burst, 10);
    assert_eq!(cfg.gc.min_age, Duration::from_secs(120));
    // serializeImagePulls defaults to false when maxParallelImagePulls is 2 or more.
    let cfg = resolve(
        Some(&file("maxParallelImagePulls: 3\n")),
        &FlagOverrides::default(),
    )
    .unwrap();
    assert!(!cfg.puller.serialize);
    assert_eq!(cfg.puller.max_parallel, Some(3));
}

#[test]
fn every_field_from_a_yaml_file() {
    let f = file(
        "featureGates:\n  KubeletEnsureSecretPulledImages: true\n\
         imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\n\
         preloadedImagesVerificationAllowlist: [\"registry.example/team/*\", docker.io/library/nginx]\n\
         serializeImagePulls: false\nmaxParallelImagePulls: 4\nregistryPullQPS: 2\nregistryBurst: 3\n\
         imageGCHighThresholdPercent: 70\nimageGCLowThresholdPercent: 50\n\
         imageMinimumGCAge: 1m30s\nimageMaximumGCAge: 168h\n\
         staticPodPath: /etc/kubernetes/manifests\ncgroupDriver: systemd\n",
    );
    let cfg = resolve(Some(&f), &FlagOverrides::default()).unwrap();
    assert_eq!(
        cfg.manager.verification.policy,
        VerificationPolicy::NeverVerifyAllowlistedImages
    );
    assert!(
        cfg.manager
            .verification
            .allowlist
            .allows("docker.io/library/nginx")
    );
    assert!(
        cfg.manager
            .verification
            .allowlist
            .allows("registry.example/team/app")
    );
    assert_eq!(cfg.manager.verification.allowlist.wildcard_count(), 1);
    assert_eq!(
        cfg.puller,
        PullerConfig {
            serialize: false,
            max_parallel: Some(4)
        }
    );
    assert_eq!((cfg.qps, cfg.burst), (2.0, 3));
    assert_eq!(
        cfg.gc,
        GcPolicy {
            high_threshold_percent: 70,
            low_threshold_percent: 50,
            min_age: Duration::from_secs(90),
            max_age: Duration::from_secs(168 * 3600),
        }
    );
}

#[test]
fn json_files_too() {
    let f = KubeletConfigFile::parse(
        r#"{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"KubeletConfiguration","registryBurst":7,"featureGates":{"KubeletEnsureSecretPulledImages":false}}"#,
        Path::new("k.json"),
    )
    .unwrap();
    let cfg = resolve(Some(&f), &FlagOverrides::default()).unwrap();
    assert_eq!(cfg.burst, 7);
    assert!(!cfg.manager.ensure_secret_pulled_images);
}

#[test]
fn wrong_kind_or_version_names_both() {
    let p = Path::new("/k.yaml");
    let e = KubeletConfigFile::parse("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: Pod\n", p)
        .unwrap_err();
    assert!(matches!(&e, KubeletConfigError::WrongKind { found, .. } if found == "Pod"));
    let msg = e.to_string();
    assert!(
        msg.contains("\"Pod\"") && msg.contains("\"KubeletConfiguration\""),
        "{msg}"
    );
    let e = KubeletConfigFile::parse(
        "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n",
        p,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("\"kubelet.config.k8s.io/v1\"")
            && msg.contains("\"kubelet.config.k8s.io/v1beta1\""),
        "{msg}"
    );
    let e = KubeletConfigFile::parse("", p).unwrap_err();
    assert_eq!(e.to_string(), "kubelet config file \"/k.yaml\" was empty");
    let e = KubeletConfigFile::parse(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nimageMinimumGCAge: 2 minutes\n",
        p,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to decode kubelet config file \"/k.yaml\", error: time: unknown unit \" minutes\" in duration \"2 minutes\""
    );
    assert!(matches!(
        KubeletConfigFile::parse("kind: KubeletConfiguration\nregistryBurst: many\n", p),
        Err(KubeletConfigError::Decode { .. })
    ));
}

#[test]
fn flags_override_the_file_field_by_field() {
    let f = file(
        "registryPullQPS: 2\nregistryBurst: 3\nimageGCHighThresholdPercent: 70\nimageMinimumGCAge: 5m\n",
    );
    let flags = FlagOverrides {
        registry_burst: Some(0),
        image_minimum_gc_age: Some(0),
        image_gc_low_threshold_percent: Some(60),
        ..FlagOverrides::default()
    };
    let cfg = resolve(Some(&f), &flags).unwrap();
    assert_eq!(cfg.qps, 2.0, "from the file");
    assert_eq!(cfg.burst, 0, "a flag set to 0 is 0, not the default");
    assert_eq!(cfg.gc.high_threshold_percent, 70, "from the file");
    assert_eq!(cfg.gc.low_threshold_percent, 60, "from the flag");
    assert_eq!(cfg.gc.min_age, Duration::ZERO, "from the flag");
    // An unset serializeImagePulls follows the bound in effect; a file's explicit true and a
    // flag's bound conflict as the kubelet says.
    let flags = FlagOverrides {
        max_parallel_image_pulls: Some(3),
        ..FlagOverrides::default()
    };
    assert!(!resolve(None, &flags).unwrap().puller.serialize);
    let f = file("serializeImagePulls: true\n");
    let flags = FlagOverrides {
        max_parallel_image_pulls: Some(3),
        ..FlagOverrides::default()
    };
    assert_eq!(
        errors(Some(&f), &flags),
        vec![
            "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false"
        ]
    );
}

#[test]
fn feature_gates_merge_key_by_key() {
    let f = file(
        "featureGates:\n  KubeletEnsureSecretPulledImages: false\n  ImageMaximumGCAge: false\n",
    );
    let flags = FlagOverrides {
        feature_gates: parse_feature_gates("KubeletEnsureSecretPulledImages=true").unwrap(),
        ..FlagOverrides::default()
    };
    let cfg = resolve(Some(&f), &flags).unwrap();
    assert!(cfg.manager.ensure_secret_pulled_images, "the flag wins");
    assert!(
        !cfg.feature_gates[GATE_IMAGE_MAXIMUM_GC_AGE],
        "the file's other gate stays"
    );
    assert_eq!(
        parse_feature_gates(" A=true,, B = false ").unwrap(),
        BTreeMap::from([("A".into(), true), ("B".into(), false)])
    );
    let msg = |s: &str| parse_feature_gates(s).unwrap_err().to_string();
    assert_eq!(msg("A"), "missing bool value for A");
    assert_eq!(
        msg("A=yes"),
        "invalid value of A=yes, err: strconv.ParseBool: parsing \"yes\": invalid syntax"
    );
    let flags = FlagOverrides {
        feature_gates: parse_feature_gates("NoSuchGate=true").unwrap(),
        ..FlagOverrides::default()
    };
    assert_eq!(
        resolve(None, &flags).unwrap_err().to_string(),
        "unrecognized feature gate: NoSuchGate"
    );
}

/// Each rule of ValidateKubeletConfiguration on the image path, with its exact text (after
/// `invalid configuration: `), in the kubelet's order when several fail. Blocks: the file's
/// fields, then `=> ` and each message.
const VALIDATION_CASES: &str = r#"
imageGCHighThresholdPercent: 101
=> imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive

imageGCHighThresholdPercent: -1
=> imageGCHighThresholdPercent (--image-gc-high-threshold) -1 must be between 0 and 100, inclusive
=> imageGCLowThresholdPercent (--image-gc-low-threshold) 80 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) -1

imageGCLowThresholdPercent: 85
=> imageGCLowThresholdPercent (--image-gc-low-threshold) 85 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 85

imageMinimumGCAge: -1m
=> imageMinimumGCAge -1m0s must not be negative

imageMaximumGCAge: -1h
=> imageMaximumGCAge -1h0m0s must not be negative

imageMaximumGCAge: 1m
=> imageMaximumGCAge 1m0s must be greater than imageMinimumGCAge 2m0s

featureGates: {ImageMaximumGCAge: false}
imageMaximumGCAge: 1h
=> ImageMaximumGCAge feature gate is required for Kubelet configuration option imageMaximumGCAge

registryPullQPS: -1
registryBurst: -2
=> registryBurst (--registry-burst) -2 must not be a negative number
=> registryPullQPS (--registry-qps) -1 must not be a negative number

maxParallelImagePulls: 0
=> maxParallelImagePulls 0 must be a positive number

maxParallelImagePulls: -3
=> maxParallelImagePulls -3 must be a positive number

serializeImagePulls: true
maxParallelImagePulls: 2
=> maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false

imagePullCredentialsVerificationPolicy: Sometimes
=> option "Sometimes" specified for imagePullCredentialsVerificationPolicy. Valid options are "NeverVerify", "NeverVerifyPreloadedImages", "NeverVerifyAllowlistedImages" or "AlwaysVerify"

preloadedImagesVerificationAllowlist: [docker.io/library/nginx]
=> can't set `preloadedImagesVerificationAllowlist` if `imagePullCredentialsVertificationPolicy` is not "NeverVerifyAllowlistedImages"

imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages
preloadedImagesVerificationAllowlist: ["a/*b"]
=> invalid image pattern in `preloadedImagesVerificationAllowlist`: not a valid wildcard pattern, only patterns ending with '/*' are allowed: a/*b

featureGates: {KubeletEnsureSecretPulledImages: false}
imagePullCredentialsVerificationPolicy: AlwaysVerify
preloadedImagesVerificationAllowlist: [x]
=> `imagePullCredentialsVerificationPolicy` must not be set if KubeletEnsureSecretPulledImages feature gate is not enabled
=> `preloadedImagesVerificationAllowlist` must not be set if KubeletEnsureSecretPulledImages feature gate is not enabled
"#;

#[test]
fn each_validation_message() {
    let ic = "invalid configuration: ";
    let mut n = 0;
    for block in VALIDATION_CASES.trim().split("\n\n") {
        let (body, want): (Vec<&str>, Vec<&str>) =
            block.lines().partition(|l| !l.starts_with("=> "));
        let body = body.join("\n") + "\n";
        let want: Vec<String> = want.iter().map(|w| format!("{ic}{}", &w[3..])).collect();
        assert!(!want.is_empty(), "{body}");
        assert_eq!(
            errors(Some(&file(&body)), &FlagOverrides::default()),
            want,
            "{body}"
        );
        n += 1;
    }
    assert_eq!(n, 15);
    // The same rules on flag values.
    let flags = FlagOverrides {
        registry_pull_qps: Some(-1.0),
        ..FlagOverrides::default()
    };
    assert_eq!(
        errors(None, &flags),
        vec![format!(
            "{ic}registryPullQPS (--registry-qps) -1 must not be a negative number"
        )]
    );
    // With the gate off and nothing set, the policy is not defaulted and nothing fails.
    let f = file("featureGates: {KubeletEnsureSecretPulledImages: false}\n");
    let cfg = resolve(Some(&f), &FlagOverrides::default()).unwrap();
    assert!(!cfg.manager.ensure_secret_pulled_images);
}
