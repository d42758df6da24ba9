//! A damaged, truncated, empty or missing index (`pullsim.redb`): no panic, a typed error that
//! says what to do, read-only operations from the layout (`index.json` + blobs), and
//! `verify(true)` rebuilding the index without losing a name, a pin or a time (issue 11, 1).

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use pullsim_reference::Reference;
use pullsim_store::{ImageRecord, LoadOptions, Store, StoreError, VerifyProblem};
use pullsim_testsupport::image::{ImageSpec, generate};

/// A store with three names (two images), one pinned, one touched, one labelled.
fn populated(tmp: &Path) -> (Store, Vec<ImageRecord>) {
    let root = tmp.join("root");
    let store = Store::open(&root).unwrap();
    generate(&tmp.join("a"), &ImageSpec::simple("v1", 2, 4096, 1)).unwrap();
    generate(&tmp.join("b"), &ImageSpec::multi_arch("v2", 1, 2048, 2)).unwrap();
    let opts = |n: &str| LoadOptions {
        name: Some(n.into()),
        now_ms: 1_000,
    };
    store.load(&tmp.join("a"), &opts("example.com/a")).unwrap();
    store.load(&tmp.join("b"), &opts("example.com/b")).unwrap();
    let mut extra = store.list().unwrap()[0].clone();
    extra.tag = Some("also".into());
    store.record_image(&extra).unwrap();
    let a = Reference::parse_normalized("example.com/a:v1").unwrap();
    store.touch(&a, 5_000).unwrap();
    store.set_pinned("example.com/b:v2", true).unwrap();
    store
        .set_label("example.com/a:also", "team", Some("x"))
        .unwrap();
    let recs = store.list().unwrap();
    assert_eq!(recs.len(), 3);
    (store, recs)
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn keys(recs: &[ImageRecord]) -> Vec<String> {
    recs.iter().map(|r| r.key()).collect()
}

/// With the index unusable: reads work from the layout, writes refuse with the typed error,
/// verify reports it, and repair restores every record exactly.
fn assert_degraded_then_repaired(root: &Path, before: &[ImageRecord]) {
    let store = Store::open(root).expect("open never fails on a damaged index");
    let err = store.check_index().unwrap_err();
    assert!(matches!(err, StoreError::IndexUnusable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("run `pullsim images verify --repair`"),
        "{err}"
    );
    // Read-only operations from the layout.
    let listed = store.list().unwrap();
    assert_eq!(keys(&listed), keys(before));
    for r in before {
        let found = store
            .lookup(&Reference::parse_normalized(&r.key()).unwrap())
            .unwrap()
            .expect("found from index.json");
        assert_eq!(found.config_digest, r.config_digest);
        assert_eq!(found.pinned, r.pinned);
        assert_eq!(found.last_used_ms, r.last_used_ms);
    }
    assert_eq!(
        store
            .lookup_id(before[0].config_digest.encoded())
            .unwrap()
            .map(|r| r.config_digest),
        Some(before[0].config_digest.clone())
    );
    assert_eq!(store.disk_usage().unwrap().images, 3);
    // Writes refuse (nothing silently starts a new, empty index).
    let err = store.set_pinned(&before[0].key(), true).unwrap_err();
    assert!(err.is_index_unusable(), "{err:?}");
    let err = store.remove_images(&[before[0].key()]).unwrap_err();
    assert!(err.is_index_unusable(), "{err:?}");
    // Verify says so; repair rebuilds.
    let report = store.verify(false).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, VerifyProblem::IndexUnusable { .. })),
        "{report:?}"
    );
    let repaired = store.verify(true).unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert!(
        repaired
            .repaired
            .iter()
            .any(|r| r.contains("rebuilt the index")),
        "{repaired:?}"
    );
    store.check_index().unwrap();
    assert_eq!(store.list().unwrap(), before, "every record as it was");
    // index.json still lists every name, and the store takes writes again.
    let text = fs::read_to_string(root.join("index.json")).unwrap();
    for r in before {
        assert!(text.contains(&r.key()), "{} in index.json", r.key());
    }
    assert!(store.set_pinned(&before[0].key(), true).unwrap());
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn damaged_index_header_does_not_panic() {
    for offset in [0u64, 9, 32, 64, 200] {
        let tmp = tempfile::tempdir().unwrap();
        let (store, before) = populated(tmp.path());
        let root = store.root().to_path_buf();
        drop(store);
        overwrite(
            &root.join("pullsim.redb"),
            offset,
            &[0xde, 0xad, 0xbe, 0xef],
        );
        let store = Store::open(&root).unwrap();
        match store.check_index() {
            // Some header bytes are not checked by redb (padding): nothing to repair.
            Ok(()) => {
                assert_eq!(store.list().unwrap(), before, "offset {offset}");
                continue;
            }
            Err(e) => assert!(e.is_index_unusable(), "offset {offset}: {e:?}"),
        }
        drop(store);
        assert_degraded_then_repaired(&root, &before);
    }
}

#[test]
fn four_bytes_anywhere_in_the_header_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let root = store.root().to_path_buf();
    drop(store);
    let path = root.join("pullsim.redb");
    let pristine = fs::read(&path).unwrap();
    let mut unusable = 0;
    let mut caught = 0;
    for offset in (0..1024u64).step_by(4) {
        fs::write(&path, &pristine).unwrap();
        overwrite(&path, offset, &[0xde, 0xad, 0xbe, 0xef]);
        let store = Store::open(&root).unwrap();
        match store.check_index() {
            Ok(()) => {}
            Err(e) => {
                assert!(e.is_index_unusable(), "offset {offset}: {e:?}");
                unusable += 1;
                caught += e.to_string().contains("internal check") as usize;
            }
        }
        // Whatever the damage, the names are there.
        assert_eq!(
            keys(&store.list().unwrap()),
            keys(&before),
            "offset {offset}"
        );
    }
    eprintln!("{unusable} of 256 offsets made the index unusable ({caught} through a redb panic)");
    assert!(unusable > 0);
}

#[test]
fn flipped_index_pages_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let root = store.root().to_path_buf();
    drop(store);
    let path = root.join("pullsim.redb");
    let len = fs::metadata(&path).unwrap().len();
    // Garbage over every page after the header.
    let mut off = 4096;
    while off + 64 <= len {
        overwrite(&path, off, &[0x5a; 64]);
        off += 4096;
    }
    let store = Store::open(&root).unwrap();
    match store.check_index() {
        Ok(()) => {
            // redb may not read a damaged page until it needs it: every operation either
            // works or says the index is unusable, and repair brings the names back.
            match store.list() {
                Ok(l) => assert_eq!(keys(&l), keys(&before)),
                Err(e) => assert!(e.is_index_unusable(), "{e:?}"),
            }
            let r = store.verify(true).unwrap();
            assert!(r.is_clean(), "{r:?}");
            assert_eq!(keys(&store.list().unwrap()), keys(&before));
        }
        Err(e) => {
            assert!(e.is_index_unusable(), "{e:?}");
            drop(store);
            assert_degraded_then_repaired(&root, &before);
        }
    }
}

#[test]
fn truncated_index_does_not_panic() {
    for keep in [100u64, 4096, 0] {
        let tmp = tempfile::tempdir().unwrap();
        let (store, before) = populated(tmp.path());
        let root = store.root().to_path_buf();
        drop(store);
        let path = root.join("pullsim.redb");
        let len = fs::metadata(&path).unwrap().len();
        let keep = if keep == 0 { len / 2 } else { keep };
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep)
            .unwrap();
        assert_degraded_then_repaired(&root, &before);
    }
}

#[test]
fn zero_length_index_keeps_images() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let root = store.root().to_path_buf();
    drop(store);
    fs::File::create(root.join("pullsim.redb")).unwrap();
    {
        // A load must not quietly start a new index and lose the recorded images.
        let store = Store::open(&root).unwrap();
        generate(&tmp.path().join("c"), &ImageSpec::simple("v3", 1, 1000, 3)).unwrap();
        let err = store
            .load(
                &tmp.path().join("c"),
                &LoadOptions {
                    name: Some("example.com/c".into()),
                    now_ms: 0,
                },
            )
            .unwrap_err();
        assert!(err.is_index_unusable(), "{err:?}");
        assert_eq!(fs::metadata(root.join("pullsim.redb")).unwrap().len(), 0);
    }
    assert_degraded_then_repaired(&root, &before);
}

#[test]
fn deleted_index_repair_keeps_every_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let root = store.root().to_path_buf();
    drop(store);
    fs::remove_file(root.join("pullsim.redb")).unwrap();
    {
        // Opening does not create an empty index over the recorded images.
        let store = Store::open(&root).unwrap();
        assert_eq!(keys(&store.list().unwrap()), keys(&before));
        assert!(!root.join("pullsim.redb").exists());
    }
    assert_degraded_then_repaired(&root, &before);
}

#[test]
fn an_index_json_without_pullsim_annotations_is_rebuilt_from_the_blobs() {
    // index.json as an older pullsim wrote it: names and manifest digests only.
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let root = store.root().to_path_buf();
    drop(store);
    let p = root.join("index.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    for m in v["manifests"].as_array_mut().unwrap() {
        let a = m["annotations"].as_object_mut().unwrap();
        a.retain(|k, _| !k.starts_with("io.pullsim."));
    }
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    fs::remove_file(root.join("pullsim.redb")).unwrap();
    let store = Store::open(&root).unwrap();
    assert!(store.verify(true).unwrap().is_clean());
    let after = store.list().unwrap();
    assert_eq!(keys(&after), keys(&before));
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(
            (
                &a.manifest_digest,
                &a.config_digest,
                &a.blobs,
                a.size,
                &a.platform
            ),
            (
                &b.manifest_digest,
                &b.config_digest,
                &b.blobs,
                b.size,
                &b.platform
            )
        );
    }
}

#[test]
fn blob_replaced_by_a_directory_does_not_fail_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let victim = before[0].blobs.last().unwrap().clone();
    let p = store.blob_path(&victim);
    fs::remove_file(&p).unwrap();
    fs::create_dir(&p).unwrap();
    fs::write(p.join("inside"), b"x").unwrap();
    assert!(!store.has_blob(&victim));
    // GC and disk usage leave it to repair, without failing.
    store
        .delete_unreferenced_blobs(std::time::Duration::ZERO)
        .unwrap();
    store.disk_usage().unwrap();
    let report = store.verify(false).unwrap();
    assert!(!report.is_clean());
    let repaired = store.verify(true).unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert!(!p.exists());
    // The images that listed it are dropped (their content is gone); the others stay.
    let left = keys(&store.list().unwrap());
    for r in &before {
        assert_eq!(
            left.contains(&r.key()),
            !r.blobs.contains(&victim),
            "{}",
            r.key()
        );
    }
}

#[test]
fn kubelet_directory_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, before) = populated(tmp.path());
    let kubelet = store.root().join("kubelet");
    fs::create_dir_all(kubelet.join("image_manager/pulled")).unwrap();
    fs::write(kubelet.join("image_manager/pulled/sha256-1"), b"{}").unwrap();
    store.remove_images(&[before[0].key()]).unwrap();
    store
        .delete_unreferenced_blobs(std::time::Duration::ZERO)
        .unwrap();
    assert!(store.verify(true).unwrap().is_clean());
    // Even a rebuild of the index.
    fs::remove_file(store.index_path()).unwrap();
    assert!(store.verify(true).unwrap().is_clean());
    assert_eq!(
        fs::read(kubelet.join("image_manager/pulled/sha256-1")).unwrap(),
        b"{}"
    );
}
