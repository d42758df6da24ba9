//! KEP-2535 records as files, in the kubelet's layout and format
//! (pkg/kubelet/images/pullmanager/fs_pullrecords.go, fs_pullrecords_test.go and its testdata/,
//! mirrored in testdata/kubelet/image_manager — see testdata/README.md), plus the cached
//! accessor (mem_pullrecords.go) and the migration of older stores' records.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pullsim_node::records::{
    CachedPullRecords, FsPullRecords, ImagePullCredentials, ImagePullIntent, ImagePullSecret,
    ImagePulledRecord, MemPullRecords, PullRecordsAccessor, cache_filename, decode_pull_intent,
    decode_pulled_record, encode_pull_intent, encode_pulled_record, migrate_legacy,
};
use pullsim_node::{NodeError, RecordsError};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/kubelet/image_manager")
}

/// A kubelet root holding a copy of the fixtures.
fn kubelet_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for kind in ["pulling", "pulled"] {
        let to = root.path().join("image_manager").join(kind);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(fixtures().join(kind)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    root
}

fn fixture_files(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn file_names_are_sha256_of_the_image_or_image_ref() {
    // The upstream testdata names: sha256("repo.repo/test/test:v1"), sha256("testimageref").
    assert_eq!(
        cache_filename("repo.repo/test/test:v1"),
        "sha256-ee81caca15454863449fb55a1d942904d56d5ed9f9b20a7cb3453944ea2c7e11"
    );
    assert_eq!(
        cache_filename("testimageref"),
        "sha256-b3c0cc4278800b03a308ceb2611161430df571ca733122f0a40ac8b9792a9064"
    );
}

#[test]
fn reads_the_kubelets_files() {
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    let intents = fs.list_image_pull_intents();
    assert!(intents.error.is_none(), "{:?}", intents.error);
    assert_eq!(
        intents.items,
        [ImagePullIntent {
            image: "repo.repo/test/test:v1".into()
        }]
    );
    assert!(
        fs.image_pull_intent_exists("repo.repo/test/test:v1")
            .unwrap()
    );
    assert!(
        !fs.image_pull_intent_exists("repo.repo/test/test:v2")
            .unwrap()
    );

    let rec = fs.get_image_pulled_record("testimageref").unwrap().unwrap();
    assert_eq!(
        *rec,
        ImagePulledRecord {
            last_updated_time: Some(1_729_513_600),
            image_ref: "testimageref".into(),
            credential_mapping: [(
                "docker.io/testing/test".to_string(),
                ImagePullCredentials {
                    kubernetes_secrets: vec![ImagePullSecret {
                        uid: "testsecretuid".into(),
                        namespace: "default".into(),
                        name: "pull-secret".into(),
                        credential_hash: "testsecrethash".into(),
                    }],
                    ..Default::default()
                },
            )]
            .into(),
        }
    );
    let anon = fs
        .get_image_pulled_record("testimage-anonpull-alpha")
        .unwrap()
        .unwrap();
    assert!(anon.credential_mapping["docker.io/testing/test"].node_pods_accessible);
    let empty = fs
        .get_image_pulled_record("testemptycredmapping-alpha")
        .unwrap()
        .unwrap();
    assert!(empty.credential_mapping.is_empty());
    let sa = fs.get_image_pulled_record("sa-image").unwrap().unwrap();
    assert_eq!(
        sa.credential_mapping["registry.example/team/app"].kubernetes_service_accounts[0].name,
        "builder"
    );
    assert!(fs.get_image_pulled_record("absent").unwrap().is_none());
    let all = fs.list_image_pulled_records();
    assert!(all.error.is_none());
    assert_eq!(all.items.len(), 4);
}

#[test]
fn records_round_trip_byte_identically() {
    for path in fixture_files("pulled") {
        let bytes = std::fs::read(&path).unwrap();
        let rec = decode_pulled_record(&path, &bytes).unwrap();
        assert_eq!(
            String::from_utf8(encode_pulled_record(&rec).unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            cache_filename(&rec.image_ref)
        );
    }
    for path in fixture_files("pulling") {
        let bytes = std::fs::read(&path).unwrap();
        let intent = decode_pull_intent(&path, &bytes).unwrap();
        assert_eq!(encode_pull_intent(&intent).unwrap(), bytes);
    }
}

#[test]
fn writes_are_the_kubelets_files() {
    // Written through the accessor, each fixture's record lands under the same name with the
    // same bytes.
    let src = kubelet_root();
    let from = FsPullRecords::new(src.path()).unwrap();
    let dst = tempfile::tempdir().unwrap();
    let to = FsPullRecords::new(dst.path().join("does-not-exist/level2dir")).unwrap();
    for r in from.list_image_pulled_records().items {
        to.write_image_pulled_record(&r).unwrap();
    }
    for i in from.list_image_pull_intents().items {
        to.write_image_pull_intent(&i.image).unwrap();
    }
    for kind in ["pulled", "pulling"] {
        for path in fixture_files(kind) {
            let written = dst
                .path()
                .join("does-not-exist/level2dir/image_manager")
                .join(kind)
                .join(path.file_name().unwrap());
            assert_eq!(
                std::fs::read(&written).unwrap(),
                std::fs::read(&path).unwrap(),
                "{}",
                written.display()
            );
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(to.pulled_dir()), 0o700);
        assert_eq!(mode(to.pulling_dir()), 0o700);
        assert_eq!(
            mode(&to.pulled_dir().join(cache_filename("testimageref"))),
            0o600
        );
    }
    // No temporary file is left behind.
    for dir in [to.pulled_dir(), to.pulling_dir()] {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name}");
        }
    }
    // Deleting is idempotent.
    to.delete_image_pull_intent("repo.repo/test/test:v1")
        .unwrap();
    to.delete_image_pull_intent("repo.repo/test/test:v1")
        .unwrap();
    assert!(
        !to.image_pull_intent_exists("repo.repo/test/test:v1")
            .unwrap()
    );
    to.delete_image_pulled_record("testimageref").unwrap();
    assert!(
        to.get_image_pulled_record("testimageref")
            .unwrap()
            .is_none()
    );
}

#[test]
fn tmp_and_foreign_files_are_ignored_when_listing() {
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    let junk = fs.pulled_dir().join(format!("{}.tmp", cache_filename("x")));
    std::fs::write(&junk, b"half-written").unwrap();
    std::fs::write(fs.pulled_dir().join("README"), b"not a record").unwrap();
    std::fs::create_dir(fs.pulled_dir().join("sha256-dir")).unwrap();
    let all = fs.list_image_pulled_records();
    assert!(all.error.is_none(), "{:?}", all.error);
    assert_eq!(all.items.len(), 4);
}

#[test]
fn a_record_for_another_image_ref_is_absent() {
    // GetImagePulledRecord: `if pulledRecord.ImageRef != imageRef { return nil, false, nil }`.
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    std::fs::copy(
        fs.pulled_dir().join(cache_filename("testimageref")),
        fs.pulled_dir().join(cache_filename("other")),
    )
    .unwrap();
    assert!(fs.get_image_pulled_record("other").unwrap().is_none());
    // Intents likewise (ImagePullIntentExists compares the image).
    std::fs::copy(
        fs.pulling_dir()
            .join(cache_filename("repo.repo/test/test:v1")),
        fs.pulling_dir().join(cache_filename("elsewhere:1")),
    )
    .unwrap();
    assert!(!fs.image_pull_intent_exists("elsewhere:1").unwrap());
}

#[test]
fn the_decoder_is_strict_and_errors_name_the_file() {
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    let cases = [
        (
            // testdata/pulled/sha256-e766e462… (a broken record).
            "testbrokenrecord",
            r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"2024-10-21T12:26:40Z","imageRef":"testbrokenrecord":"credentialMapping":{}}"#,
            "strict decoding error",
        ),
        (
            "unknown-field",
            r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","imageRef":"unknown-field","preloaded":true}"#,
            "unknown field `preloaded`",
        ),
        (
            "unknown-nested",
            r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","imageRef":"unknown-nested","credentialMapping":{"x":{"kubernetesSecretCoordinates":[]}}}"#,
            "unknown field `kubernetesSecretCoordinates`",
        ),
        (
            "wrong-kind",
            r#"{"kind":"ImagePullIntent","apiVersion":"kubelet.config.k8s.io/v1alpha1","image":"wrong-kind"}"#,
            "holds kind \"ImagePullIntent\"",
        ),
        (
            "wrong-version",
            r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v9","imageRef":"wrong-version"}"#,
            "no kind \"ImagePulledRecord\" is registered for version \"kubelet.config.k8s.io/v9\"",
        ),
        (
            "bad-time",
            r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"yesterday","imageRef":"bad-time"}"#,
            "lastUpdatedTime \"yesterday\" is not an RFC 3339 time",
        ),
    ];
    for (image_ref, content, want) in cases {
        let path = fs.pulled_dir().join(cache_filename(image_ref));
        std::fs::write(&path, content).unwrap();
        let err = fs.get_image_pulled_record(image_ref).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "failed to deserialize content of file {path:?} into ImagePulledRecord: "
            )),
            "{text}"
        );
        assert!(text.contains(want), "{image_ref}: {text}");
        assert!(matches!(err, RecordsError::Decode { .. }));
    }
    // A listing returns what it could read and the failures aggregated.
    let all = fs.list_image_pulled_records();
    assert_eq!(all.items.len(), 4);
    let err = all.error.unwrap().to_string();
    assert!(
        err.starts_with("[failed to deserialize content of file"),
        "{err}"
    );
    // v1beta1, as newer kubelets write, is read.
    let path = fs.pulled_dir().join(cache_filename("beta"));
    std::fs::write(
        &path,
        r#"{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1beta1","lastUpdatedTime":"2024-10-21T12:26:40Z","imageRef":"beta","credentialMapping":{"docker.io/testing/test":{"nodePodsAccessible":true}}}"#,
    )
    .unwrap();
    assert!(fs.get_image_pulled_record("beta").unwrap().is_some());
}

#[test]
fn a_preloaded_entry_cannot_be_written_in_v1alpha1() {
    let rec = ImagePulledRecord {
        last_updated_time: None,
        image_ref: "x".into(),
        credential_mapping: [(
            "x".to_string(),
            ImagePullCredentials {
                preloaded: true,
                ..Default::default()
            },
        )]
        .into(),
    };
    let err = encode_pulled_record(&rec).unwrap_err().to_string();
    assert!(err.contains("preloaded"), "{err}");
    // Go's zero time is null.
    let rec = ImagePulledRecord {
        last_updated_time: None,
        image_ref: "x".into(),
        credential_mapping: Default::default(),
    };
    assert_eq!(
        String::from_utf8(encode_pulled_record(&rec).unwrap()).unwrap(),
        "{\"kind\":\"ImagePulledRecord\",\"apiVersion\":\"kubelet.config.k8s.io/v1alpha1\",\"lastUpdatedTime\":null,\"imageRef\":\"x\"}\n"
    );
}

#[test]
fn the_cache_is_authoritative_after_one_listing_and_writes_through() {
    let delegate = Arc::new(MemPullRecords::with_call_log());
    delegate.insert(ImagePulledRecord {
        last_updated_time: Some(1),
        image_ref: "sha256:a".into(),
        credential_mapping: Default::default(),
    });
    let cache = CachedPullRecords::new(delegate.clone());
    assert!(cache.is_authoritative());
    assert_eq!(
        delegate.calls(),
        ["ListImagePullIntents", "ListImagePulledRecords"]
    );
    delegate.clear_calls();
    // Hits and misses are answered by the cache.
    assert!(cache.get_image_pulled_record("sha256:a").unwrap().is_some());
    assert!(cache.get_image_pulled_record("sha256:b").unwrap().is_none());
    assert!(!cache.image_pull_intent_exists("img:1").unwrap());
    assert!(delegate.calls().is_empty(), "{:?}", delegate.calls());
    // Writes go through.
    cache.write_image_pull_intent("img:1").unwrap();
    assert!(cache.image_pull_intent_exists("img:1").unwrap());
    cache.delete_image_pull_intent("img:1").unwrap();
    assert!(!cache.image_pull_intent_exists("img:1").unwrap());
    assert_eq!(
        delegate.calls(),
        ["WriteImagePullIntent", "DeleteImagePullIntent"]
    );
    assert!(delegate.intents().is_empty());
}

#[test]
fn a_non_authoritative_cache_falls_through() {
    // A listing that failed leaves the cache non-authoritative (mem_pullrecords.go).
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    std::fs::write(fs.pulled_dir().join(cache_filename("bad")), b"{").unwrap();
    let cache = CachedPullRecords::new(fs.clone());
    assert!(!cache.is_authoritative());
    // Written behind the cache's back: found by falling through.
    let other = FsPullRecords::new(root.path()).unwrap();
    other
        .write_image_pulled_record(&ImagePulledRecord {
            last_updated_time: Some(5),
            image_ref: "late".into(),
            credential_mapping: Default::default(),
        })
        .unwrap();
    assert!(cache.get_image_pulled_record("late").unwrap().is_some());
}

/// The JSON older pullsim stores kept in their index (crates/store/src/record.rs before the CRI
/// split: `PulledRecord`, `PullIntent`, camelCase, Unix milliseconds).
#[test]
fn legacy_store_records_migrate_to_kubelet_files() {
    let pulled = vec![
        br#"{"imageRef":"sha256:aaa","lastUpdatedTime":1729513600123,"credentialMapping":{"registry.test/team/app":{"nodePodsAccessible":false,"kubernetesSecrets":[{"uid":"u","namespace":"ns","name":"pull","credentialHash":"h"}],"kubernetesServiceAccounts":[]}}}"#.to_vec(),
        br#"{"imageRef":"sha256:bbb","lastUpdatedTime":0,"credentialMapping":{"docker.io/library/nginx":{"nodePodsAccessible":true}}}"#.to_vec(),
    ];
    let intents = vec![br#"{"image":"registry.test/team/app:1","createdMs":5}"#.to_vec()];
    let root = tempfile::tempdir().unwrap();
    let fs = FsPullRecords::new(root.path()).unwrap();
    assert_eq!(migrate_legacy(&pulled, &intents, &fs).unwrap(), 3);
    let a = fs.get_image_pulled_record("sha256:aaa").unwrap().unwrap();
    assert_eq!(a.last_updated_time, Some(1_729_513_600));
    let s = &a.credential_mapping["registry.test/team/app"].kubernetes_secrets[0];
    assert_eq!((s.uid.as_str(), s.credential_hash.as_str()), ("u", "h"));
    assert_eq!(
        std::fs::read_to_string(fs.pulled_dir().join(cache_filename("sha256:aaa"))).unwrap(),
        "{\"kind\":\"ImagePulledRecord\",\"apiVersion\":\"kubelet.config.k8s.io/v1alpha1\",\"lastUpdatedTime\":\"2024-10-21T12:26:40Z\",\"imageRef\":\"sha256:aaa\",\"credentialMapping\":{\"registry.test/team/app\":{\"kubernetesSecrets\":[{\"uid\":\"u\",\"namespace\":\"ns\",\"name\":\"pull\",\"credentialHash\":\"h\"}]}}}\n"
    );
    let b = fs.get_image_pulled_record("sha256:bbb").unwrap().unwrap();
    assert!(b.credential_mapping["docker.io/library/nginx"].node_pods_accessible);
    assert!(
        fs.image_pull_intent_exists("registry.test/team/app:1")
            .unwrap()
    );

    // A bad entry is an error naming it, and nothing is written.
    let root = tempfile::tempdir().unwrap();
    let fs = FsPullRecords::new(root.path()).unwrap();
    let err = migrate_legacy(&pulled, &[b"{\"image\":1}".to_vec()], &fs).unwrap_err();
    assert!(
        matches!(
            err,
            NodeError::Legacy {
                kind: "pull intent",
                index: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(fs.list_image_pulled_records().items.is_empty());
}

/// The migration never overwrites what the kubelet keeps: a record for the same image ID (or
/// an intent for the same image) already on disk stays as it is, and a second migration
/// writes nothing.
#[test]
fn legacy_migration_keeps_the_kubelets_own_records() {
    let root = tempfile::tempdir().unwrap();
    let fs = FsPullRecords::new(root.path()).unwrap();
    let kubelets = ImagePulledRecord {
        last_updated_time: Some(7),
        image_ref: "sha256:aaa".into(),
        credential_mapping: Default::default(),
    };
    fs.write_image_pulled_record(&kubelets).unwrap();
    let pulled = vec![
        br#"{"imageRef":"sha256:aaa","lastUpdatedTime":1729513600123,"credentialMapping":{"registry.test/team/app":{"nodePodsAccessible":true}}}"#.to_vec(),
        br#"{"imageRef":"sha256:bbb","lastUpdatedTime":0,"credentialMapping":{"docker.io/library/nginx":{"nodePodsAccessible":true}}}"#.to_vec(),
    ];
    assert_eq!(migrate_legacy(&pulled, &[], &fs).unwrap(), 1);
    let a = fs.get_image_pulled_record("sha256:aaa").unwrap().unwrap();
    assert_eq!(a.last_updated_time, Some(7));
    assert!(a.credential_mapping.is_empty());
    assert_eq!(migrate_legacy(&pulled, &[], &fs).unwrap(), 0);
}

/// A lazy cache (one-shot commands) starts non-authoritative and reads a record only when
/// asked: what it answers is what the files say.
#[test]
fn a_lazy_cache_reads_only_what_it_is_asked() {
    let root = kubelet_root();
    let fs = FsPullRecords::new(root.path()).unwrap();
    fs.write_image_pulled_record(&ImagePulledRecord {
        last_updated_time: Some(1),
        image_ref: "a".into(),
        credential_mapping: Default::default(),
    })
    .unwrap();
    let cache = CachedPullRecords::lazy(fs.clone());
    assert!(!cache.is_authoritative());
    assert!(cache.get_image_pulled_record("a").unwrap().is_some());
    assert!(cache.get_image_pulled_record("b").unwrap().is_none());
    assert!(!cache.image_pull_intent_exists("a").unwrap());
}
