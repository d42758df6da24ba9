//! KEP-2535 verification: policies, allowlist validation and matching, MustAttemptImagePull.
//!
//! Upstream: pkg/kubelet/images/pullmanager/image_pull_policies.go and
//! image_pull_policies_test.go (TestNeverVerifyPreloadedPullPolicy,
//! TestNewNeverVerifyAllowListedPullPolicy), pkg/kubelet/images/pullmanager/image_pull_manager.go
//! and image_pull_manager_test.go (TestFileBasedImagePullManager_MustAttemptImagePull, whose
//! testdata records are rebuilt here as values).

use std::collections::BTreeMap;

use pullsim_policy::verification::{
    PodCredentials, PullRecords, RecordedCredentials, SecretCoordinates, ServiceAccountCoordinates,
    WRITE_RECORD_WHILE_MATCHING_LIMIT, pulled_by_kubelet, verify,
};
use pullsim_policy::{Allowlist, PolicyError, Verification, VerificationPolicy};

fn list(entries: &[&str]) -> Result<Allowlist, PolicyError> {
    Allowlist::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[test]
fn policy_spellings_and_default() {
    assert_eq!(
        VerificationPolicy::default(),
        VerificationPolicy::NeverVerifyPreloadedImages
    );
    for p in [
        "NeverVerify",
        "NeverVerifyPreloadedImages",
        "NeverVerifyAllowlistedImages",
        "AlwaysVerify",
    ] {
        assert_eq!(p.parse::<VerificationPolicy>().unwrap().as_str(), p);
    }
    let err = "neververify".parse::<VerificationPolicy>().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown image pull credential verification policy: neververify"),
        "{err}"
    );
}

/// TestNeverVerifyPreloadedPullPolicy.
#[test]
fn never_verify_preloaded() {
    let empty = Allowlist::default();
    let p = VerificationPolicy::NeverVerifyPreloadedImages;
    assert!(!p.requires_verification(&empty, "test-image:sometag", false));
    assert!(p.requires_verification(&empty, "test-image:sometag", true));
    assert!(!VerificationPolicy::NeverVerify.requires_verification(&empty, "x", true));
    assert!(VerificationPolicy::AlwaysVerify.requires_verification(&empty, "x", false));
}

/// TestNewNeverVerifyAllowListedPullPolicy: (allowlist, records exist, exact count, wildcard
/// count, verification required for `test.io/test/test-image:tag`).
#[test]
fn allowlist_policy_table() {
    let table: &[(&[&str], bool, usize, usize, bool)] = &[
        (
            &[
                "test.io/test/image1",
                "test.io/test/image2",
                "test.io/test/image3",
            ],
            false,
            3,
            0,
            true,
        ),
        (
            &[
                "test.io/test/image1",
                "test.io/test/image3",
                "test.io/test/image2",
                "test.io/test/image3",
            ],
            true,
            3,
            0,
            true,
        ),
        (
            &[
                "test.io/test/image1",
                "test.io/test/image2",
                "test.io/test/test-image",
                "test.io/test/image3",
            ],
            false,
            4,
            0,
            false,
        ),
        (
            &[
                "test.io/test/image1",
                "test.io/test/image2",
                "test.io/test/test-image",
                "test.io/test/image3",
            ],
            true,
            4,
            0,
            false,
        ),
        (
            &[
                "test.io/test/image1",
                "test.io/test/image2",
                "different.repo/test/*",
            ],
            false,
            2,
            1,
            true,
        ),
        (
            &[
                "test.io/test/image1",
                "test.io/test/image2",
                "test.io/test/*",
            ],
            false,
            2,
            1,
            false,
        ),
        (
            &["test.io/test/image1", "test.io/test/image2", "test.io/*"],
            false,
            2,
            1,
            false,
        ),
    ];
    for (entries, records, exact, wild, want) in table {
        let l = list(entries).unwrap();
        assert_eq!(
            (l.exact_count(), l.wildcard_count()),
            (*exact, *wild),
            "{entries:?}"
        );
        assert_eq!(
            VerificationPolicy::NeverVerifyAllowlistedImages.requires_verification(
                &l,
                "test.io/test/test-image:tag",
                *records
            ),
            *want,
            "{entries:?}"
        );
    }
}

/// The invalid patterns of TestNewNeverVerifyAllowListedPullPolicy, with the kubelet's texts
/// (getAllowlistImagePattern).
#[test]
fn allowlist_validation_table() {
    let digest = "test.io/test/image1@sha256:38a8906435c4dd5f4258899d46621bfd8eea3ad6ff494ee3c2f17ef0321625bd";
    let table: &[(&str, &str)] = &[
        (
            "image.repo/pokus*/imagename",
            "not a valid wildcard pattern, only patterns ending with '/*' are allowed: image.repo/pokus*/imagename",
        ),
        (
            "image.repo/pokus*",
            "not a valid wildcard pattern, only patterns ending with '/*' are allowed: image.repo/pokus*",
        ),
        (
            "image.repo/*/imagename",
            "not a valid wildcard pattern, only patterns ending with '/*' are allowed: image.repo/*/imagename",
        ),
        ("/*", "at least registry hostname is required"),
        (
            "image.repo/",
            "failed to parse as an image name: invalid reference format",
        ),
        ("", "the supplied pattern is too short: "),
        (
            "*",
            "not a valid wildcard pattern, only patterns ending with '/*' are allowed: *",
        ),
        (
            "test.io/test/image1:tagged",
            "neither tag nor digest is accepted in an image reference: test.io/test/image1:tagged",
        ),
        (
            digest,
            "neither tag nor digest is accepted in an image reference: test.io/test/image1@sha256:38a8906435c4dd5f4258899d46621bfd8eea3ad6ff494ee3c2f17ef0321625bd",
        ),
        (
            "test.io/test/image1 ",
            "leading/trailing spaces are not allowed: test.io/test/image1 ",
        ),
        // a familiar name is not the normalized name
        (
            "nginx",
            "neither tag nor digest is accepted in an image reference: nginx",
        ),
    ];
    for (pattern, want) in table {
        let err = list(&["docker.io/library/ok", pattern]).unwrap_err();
        match &err {
            PolicyError::InvalidAllowlistPattern { index, .. } => assert_eq!(*index, 1),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.upstream(), *want, "{pattern:?}");
        assert_eq!(
            err.to_string(),
            format!("preloadedImagesVerificationAllowlist[1]: {want}")
        );
    }
}

/// Matching normalizes the pod's image (familiar names match their full name; kubernetes
/// #137629) and wildcards match by prefix.
#[test]
fn allowlist_matching() {
    let l = list(&["docker.io/library/nginx", "registry.k8s.io/*"]).unwrap();
    assert!(l.allows_image("nginx"));
    assert!(l.allows_image("nginx:1.25"));
    assert!(l.allows_image("docker.io/library/nginx@sha256:38a8906435c4dd5f4258899d46621bfd8eea3ad6ff494ee3c2f17ef0321625bd"));
    assert!(!l.allows_image("nginx-other"));
    assert!(l.allows_image("registry.k8s.io/pause:3.10"));
    assert!(l.allows_image("registry.k8s.io/sig/x/y:1"));
    assert!(!l.allows_image("registry.k8s.io.evil/pause"));
    assert!(!l.allows_image("Nginx"));
    assert!(l.allows("docker.io/library/nginx"));
    assert!(!l.allows("nginx"));
}

fn secret(uid: &str, ns: &str, name: &str, hash: &str) -> SecretCoordinates {
    SecretCoordinates {
        uid: uid.into(),
        namespace: ns.into(),
        name: name.into(),
        credential_hash: hash.into(),
    }
}

fn mapping(name: &str, creds: RecordedCredentials) -> BTreeMap<String, RecordedCredentials> {
    BTreeMap::from([(name.to_string(), creds)])
}

fn with_secrets(secrets: Vec<SecretCoordinates>) -> RecordedCredentials {
    RecordedCredentials {
        kubernetes_secrets: secrets,
        ..Default::default()
    }
}

/// TestFileBasedImagePullManager_MustAttemptImagePull, rows in upstream order. Records:
/// `testimageref` = docker.io/testing/test by secret default/pull-secret (testsecretuid,
/// testsecrethash); `anonpull` = node-pods-accessible; `brokenhash` = the same secret with an
/// empty hash; `empty` = a record without credential mapping.
#[test]
fn must_attempt_image_pull_table() {
    let image = "docker.io/testing/test:latest";
    let name = "docker.io/testing/test";
    let testimageref = mapping(
        name,
        with_secrets(vec![secret(
            "testsecretuid",
            "default",
            "pull-secret",
            "testsecrethash",
        )]),
    );
    let anonpull = mapping(
        name,
        RecordedCredentials {
            node_pods_accessible: true,
            ..Default::default()
        },
    );
    let brokenhash = mapping(
        name,
        with_secrets(vec![secret("testsecretuid", "default", "pull-secret", "")]),
    );
    let empty = BTreeMap::new();
    let exact = [secret(
        "testsecretuid",
        "default",
        "pull-secret",
        "testsecrethash",
    )];
    let new_hash = [secret(
        "testsecretuid",
        "default",
        "pull-secret",
        "differenthash",
    )];
    let other_uid = [secret(
        "different uid",
        "default",
        "pull-secret",
        "differenthash",
    )];
    let other_ns = [secret(
        "testsecretuid",
        "differentns",
        "pull-secret",
        "differenthash",
    )];
    let same_hash_other_ns = [secret(
        "testsecretuid",
        "differentns",
        "pull-secret",
        "testsecrethash",
    )];
    let broken_other_ns = [secret("testsecretuid", "differentns", "pull-secret", "")];
    let broken_same = [secret("testsecretuid", "default", "pull-secret", "")];
    let none: [SecretCoordinates; 0] = [];

    use VerificationPolicy::*;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        &str,
        VerificationPolicy,
        &str,
        Option<&BTreeMap<String, RecordedCredentials>>,
        bool,
        &[SecretCoordinates],
        bool,
    )> = vec![
        (
            "recorded with pod's exact secret",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &exact,
            false,
        ),
        (
            "recorded, no pod secrets",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &none,
            true,
        ),
        (
            "same secret, different credential hash",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &new_hash,
            false,
        ),
        (
            "different secret, different UID",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &other_uid,
            true,
        ),
        (
            "different secret",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &other_ns,
            true,
        ),
        (
            "different secret, same credential hash",
            NeverVerifyPreloadedImages,
            image,
            Some(&testimageref),
            false,
            &same_hash_other_ns,
            false,
        ),
        (
            "recorded under a different image name, exact secret",
            NeverVerifyPreloadedImages,
            "docker.io/testing/different:latest",
            Some(&testimageref),
            false,
            &exact,
            true,
        ),
        // Upstream's older table expects a pull here; the current isExemptedByPolicy treats a
        // record with no (non-preloaded) credentials and no pull intent as not pulled by the
        // kubelet, so NeverVerifyPreloadedImages exempts it.
        (
            "empty credential mapping",
            NeverVerifyPreloadedImages,
            image,
            Some(&empty),
            false,
            &none,
            false,
        ),
        (
            "empty credential mapping, AlwaysVerify",
            AlwaysVerify,
            image,
            Some(&empty),
            false,
            &none,
            true,
        ),
        (
            "no records, NeverVerifyPreloadedImages",
            NeverVerifyPreloadedImages,
            image,
            None,
            false,
            &none,
            false,
        ),
        (
            "no records, AlwaysVerify",
            AlwaysVerify,
            image,
            None,
            false,
            &none,
            true,
        ),
        (
            "only a pulling intent",
            NeverVerifyPreloadedImages,
            image,
            None,
            true,
            &exact,
            true,
        ),
        (
            "only a pulling intent, NeverVerify",
            NeverVerify,
            image,
            None,
            true,
            &exact,
            false,
        ),
        (
            "node-accessible, no pod secrets",
            NeverVerifyPreloadedImages,
            image,
            Some(&anonpull),
            false,
            &none,
            false,
        ),
        (
            "node-accessible, with pod secrets",
            NeverVerifyPreloadedImages,
            image,
            Some(&anonpull),
            false,
            &exact,
            false,
        ),
        (
            "empty recorded hash, different pod secret",
            NeverVerifyPreloadedImages,
            image,
            Some(&brokenhash),
            false,
            &broken_other_ns,
            true,
        ),
        (
            "empty recorded hash, same pod secret",
            NeverVerifyPreloadedImages,
            image,
            Some(&brokenhash),
            false,
            &broken_same,
            false,
        ),
    ];
    let allow = Allowlist::default();
    for (what, policy, img, pulled, intent, secrets, want) in rows {
        let records = PullRecords {
            pulled,
            intent_exists: intent,
        };
        let pod = PodCredentials {
            secrets,
            service_account: None,
        };
        let got = verify(policy, &allow, img, &records, &pod);
        assert_eq!(got.must_pull(), want, "{what}: {got:?}");
    }
}

#[test]
fn verdict_details() {
    let name = "docker.io/library/app";
    let cached = mapping(name, with_secrets(vec![secret("u1", "a", "s", "h1")]));
    let records = PullRecords {
        pulled: Some(&cached),
        intent_exists: false,
    };
    let allow = Allowlist::default();
    let p = VerificationPolicy::NeverVerifyPreloadedImages;
    let by_hash = [secret("u2", "b", "s", "h1")];
    assert_eq!(
        verify(
            p,
            &allow,
            "app:1",
            &records,
            &PodCredentials {
                secrets: &by_hash,
                service_account: None
            }
        ),
        Verification::SecretMatched {
            pod_secret: 0,
            by_hash: true,
            record_update: true
        }
    );
    let by_coords = [secret("x", "x", "x", "zz"), secret("u1", "a", "s", "h2")];
    assert_eq!(
        verify(
            p,
            &allow,
            "app:1",
            &records,
            &PodCredentials {
                secrets: &by_coords,
                service_account: None
            }
        ),
        Verification::SecretMatched {
            pod_secret: 1,
            by_hash: false,
            record_update: true
        }
    );
    assert_eq!(
        verify(p, &allow, "app:1", &records, &PodCredentials::default()),
        Verification::NotMatched
    );
    assert_eq!(
        verify(p, &allow, "other:1", &records, &PodCredentials::default()),
        Verification::NoEntryForImage
    );
    // service accounts
    let sa = ServiceAccountCoordinates {
        uid: "sa1".into(),
        namespace: "a".into(),
        name: "default".into(),
    };
    let by_sa = mapping(
        name,
        RecordedCredentials {
            kubernetes_service_accounts: vec![sa.clone()],
            ..Default::default()
        },
    );
    let records = PullRecords {
        pulled: Some(&by_sa),
        intent_exists: false,
    };
    assert_eq!(
        verify(
            p,
            &allow,
            "app",
            &records,
            &PodCredentials {
                secrets: &[],
                service_account: Some(&sa)
            }
        ),
        Verification::ServiceAccountMatched
    );
    // no credentials recorded at all
    let bare = mapping(name, RecordedCredentials::default());
    let records = PullRecords {
        pulled: Some(&bare),
        intent_exists: false,
    };
    assert_eq!(
        verify(p, &allow, "app", &records, &PodCredentials::default()),
        Verification::NoCredentialsRecorded
    );
    // exempt: no records, no intent → would record as preloaded
    let records = PullRecords {
        pulled: None,
        intent_exists: false,
    };
    assert_eq!(
        verify(p, &allow, "app", &records, &PodCredentials::default()),
        Verification::Exempt {
            record_preloaded: true
        }
    );
}

/// Above writeRecordWhileMatchingLimit recorded secrets, a coordinates-only match does not count.
#[test]
fn coordinate_match_limit() {
    let name = "docker.io/library/app";
    let many: Vec<_> = (0..WRITE_RECORD_WHILE_MATCHING_LIMIT)
        .map(|i| secret(&format!("u{i}"), "ns", &format!("s{i}"), &format!("h{i}")))
        .collect();
    let cached = mapping(name, with_secrets(many));
    let records = PullRecords {
        pulled: Some(&cached),
        intent_exists: false,
    };
    let pod = [secret("u5", "ns", "s5", "rotated")];
    let got = verify(
        VerificationPolicy::AlwaysVerify,
        &Allowlist::default(),
        "app",
        &records,
        &PodCredentials {
            secrets: &pod,
            service_account: None,
        },
    );
    assert_eq!(got, Verification::NotMatched);
    let pod = [secret("zz", "other", "x", "h7")];
    let got = verify(
        VerificationPolicy::AlwaysVerify,
        &Allowlist::default(),
        "app",
        &records,
        &PodCredentials {
            secrets: &pod,
            service_account: None,
        },
    );
    assert_eq!(
        got,
        Verification::SecretMatched {
            pod_secret: 0,
            by_hash: true,
            record_update: false
        }
    );
}

/// isExemptedByPolicy's "pulled by the kubelet".
#[test]
fn pulled_by_kubelet_table() {
    let name = "docker.io/library/app";
    let preloaded = mapping(
        name,
        RecordedCredentials {
            preloaded: true,
            ..Default::default()
        },
    );
    let pulled = mapping(
        name,
        RecordedCredentials {
            node_pods_accessible: true,
            ..Default::default()
        },
    );
    let other_pulled = mapping("docker.io/library/other", RecordedCredentials::default());
    let r = |pulled, intent_exists| PullRecords {
        pulled,
        intent_exists,
    };
    assert!(!pulled_by_kubelet(&r(None, false), Some(name)));
    assert!(pulled_by_kubelet(&r(None, true), Some(name)));
    assert!(!pulled_by_kubelet(&r(Some(&preloaded), false), Some(name)));
    assert!(pulled_by_kubelet(&r(Some(&preloaded), true), Some(name)));
    assert!(pulled_by_kubelet(&r(Some(&pulled), false), Some(name)));
    assert!(pulled_by_kubelet(
        &r(Some(&other_pulled), false),
        Some(name)
    ));
    assert!(pulled_by_kubelet(&r(Some(&preloaded), false), None));
}

/// NeverVerifyAllowlistedImages verifies non-allowlisted images even when preloaded.
#[test]
fn allowlisted_policy_verifies_preloaded_images_outside_the_list() {
    let allow = list(&["registry.k8s.io/*"]).unwrap();
    let records = PullRecords {
        pulled: None,
        intent_exists: false,
    };
    let p = VerificationPolicy::NeverVerifyAllowlistedImages;
    assert_eq!(
        verify(
            p,
            &allow,
            "registry.k8s.io/pause:3.10",
            &records,
            &PodCredentials::default()
        ),
        Verification::Exempt {
            record_preloaded: true
        }
    );
    assert_eq!(
        verify(p, &allow, "nginx", &records, &PodCredentials::default()),
        Verification::NoRecord
    );
}
