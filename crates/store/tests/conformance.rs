//! Conformance suite of the store's content and index contracts, run against the real store
//! in a temporary directory: writer, resume, commit of existing content, size and digest
//! mismatches, concurrent writers of one blob, abort, labels, lookups and records.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};

use pullsim_reference::{Digest, Reference};
use pullsim_store::{CommitOutcome, ImageRecord, Origin, Store, StoreError};
use sha2::{Digest as _, Sha256};

fn digest_of(bytes: &[u8]) -> Digest {
    Digest::from_sha256_hex(&hex::encode(Sha256::digest(bytes))).unwrap()
}

fn blobs_in(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.blobs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn ingests_in(store: &Store) -> usize {
    std::fs::read_dir(store.ingest_dir()).unwrap().count()
}

/// A minimal image in the store: manifest, config and one layer, recorded under `name`.
fn put_image(store: &Store, name: &str, seed: u8) -> ImageRecord {
    let layer = vec![seed; 1000 + seed as usize];
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#).into_bytes();
    let (ld, cd) = (digest_of(&layer), digest_of(&config));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    )
    .into_bytes();
    let md = digest_of(&manifest);
    for (d, b) in [(&ld, &layer), (&cd, &config), (&md, &manifest)] {
        store.put_blob(d, b).unwrap();
    }
    let r = Reference::parse_normalized(name)
        .unwrap()
        .with_default_tag();
    let rec = ImageRecord {
        name: r.name(),
        tag: if r.digest().is_some() {
            None
        } else {
            r.tag().map(String::from)
        },
        digest: r.digest().cloned(),
        written_as: name.to_string(),
        manifest_digest: md.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        config_digest: cd.clone(),
        platform: Some("linux/amd64".into()),
        size: (layer.len() + config.len() + manifest.len()) as u64,
        blobs: vec![md, cd, ld],
        first_seen_ms: 1000,
        last_used_ms: 1000,
        pinned: false,
        labels: BTreeMap::new(),
        origin: Origin::Pulled,
    };
    store.record_image(&rec).unwrap();
    rec
}

#[test]
fn open_creates_a_valid_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert!(index["manifests"].as_array().unwrap().is_empty());
    assert!(store.blobs_dir().is_dir());
    assert!(store.ingest_dir().is_dir());
    // Opening again (existing store) works and sees the same (empty) index.
    let again = Store::open(dir.path()).unwrap();
    assert!(again.list().unwrap().is_empty());
}

#[test]
fn writer_commits_verified_content_and_nothing_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = b"hello, blob".repeat(1000);
    let d = digest_of(&data);
    let mut w = store.writer("ref-1", &d, Some(data.len() as u64)).unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(&data[..500]).unwrap();
    w.flush().unwrap();
    assert!(!store.has_blob(&d), "nothing is visible before commit");
    assert!(blobs_in(&store).is_empty());
    w.write_all(&data[500..]).unwrap();
    assert_eq!(w.commit().unwrap(), CommitOutcome::Stored);
    assert!(store.has_blob(&d));
    assert_eq!(store.read_blob(&d).unwrap(), data);
    assert_eq!(ingests_in(&store), 0, "the ingest is cleaned up");
}

#[test]
fn writer_resumes_from_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let d = digest_of(&data);
    {
        let mut w = store
            .writer("resumable", &d, Some(data.len() as u64))
            .unwrap();
        w.write_all(&data[..123_456]).unwrap();
        // Dropped without commit: interrupted.
    }
    assert!(!store.has_blob(&d));
    let mut w = store
        .writer("resumable", &d, Some(data.len() as u64))
        .unwrap();
    assert_eq!(w.offset(), 123_456);
    let off = w.offset() as usize;
    w.write_all(&data[off..]).unwrap();
    assert_eq!(w.commit().unwrap(), CommitOutcome::Stored);
    assert_eq!(store.read_blob(&d).unwrap(), data);
}

#[test]
fn resume_of_another_digest_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (a, b) = (vec![1u8; 5000], vec![2u8; 5000]);
    {
        let mut w = store.writer("same-ref", &digest_of(&a), None).unwrap();
        w.write_all(&a[..100]).unwrap();
    }
    let mut w = store.writer("same-ref", &digest_of(&b), None).unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(&b).unwrap();
    assert_eq!(w.commit().unwrap(), CommitOutcome::Stored);
}

#[test]
fn commit_of_existing_content_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = vec![7u8; 4096];
    let d = digest_of(&data);
    assert_eq!(store.put_blob(&d, &data).unwrap(), CommitOutcome::Stored);
    assert_eq!(
        store.put_blob(&d, &data).unwrap(),
        CommitOutcome::AlreadyExists
    );
    // A writer opened for present content reports it and its commit is AlreadyExists.
    let mut w = store.writer("other-ref", &d, Some(4096)).unwrap();
    assert!(w.already_exists());
    w.write_all(&data).unwrap();
    assert_eq!(w.commit().unwrap(), CommitOutcome::AlreadyExists);
    assert_eq!(blobs_in(&store), vec![d.encoded().to_string()]);
}

#[test]
fn size_mismatch_names_both_sizes_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = vec![3u8; 100];
    let d = digest_of(&data);
    let mut w = store.writer("short", &d, Some(200)).unwrap();
    w.write_all(&data).unwrap();
    let err = w.commit().unwrap_err();
    match &err {
        StoreError::SizeMismatch {
            expected, actual, ..
        } => assert_eq!((*expected, *actual), (200, 100)),
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("got 100 bytes but expected 200"), "{text}");
    assert!(blobs_in(&store).is_empty());
    assert_eq!(ingests_in(&store), 0);
    // Writing past the expected size fails at once.
    let mut w = store.writer("long", &d, Some(50)).unwrap();
    assert!(w.write_all(&data).is_err());
}

#[test]
fn digest_mismatch_names_actual_and_expected_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = vec![4u8; 100];
    let wrong = digest_of(b"something else");
    let mut w = store.writer("bad", &wrong, Some(100)).unwrap();
    w.write_all(&data).unwrap();
    let err = w.commit().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("got {} but expected {wrong}", digest_of(&data))),
        "{text}"
    );
    assert!(blobs_in(&store).is_empty());
    assert!(!store.has_blob(&wrong));
}

#[test]
fn abort_discards_the_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = vec![5u8; 1000];
    let d = digest_of(&data);
    let mut w = store.writer("abort-me", &d, None).unwrap();
    w.write_all(&data[..10]).unwrap();
    w.abort();
    assert_eq!(ingests_in(&store), 0);
    let w = store.writer("abort-me", &d, None).unwrap();
    assert_eq!(w.offset(), 0, "nothing to resume after abort");
}

#[test]
fn concurrent_writers_of_one_blob_share_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    Store::open(&root).unwrap();
    let data: Arc<Vec<u8>> = Arc::new((0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect());
    let d = digest_of(&data);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (root, data, d, barrier) = (root.clone(), data.clone(), d.clone(), barrier.clone());
            std::thread::spawn(move || {
                // Each thread has its own Store, as separate processes would.
                let store = Store::open(&root).unwrap();
                barrier.wait();
                let mut w = store
                    .writer(d.as_str(), &d, Some(data.len() as u64))
                    .unwrap();
                if !w.already_exists() {
                    let off = w.offset() as usize;
                    for chunk in data[off..].chunks(64 * 1024) {
                        w.write_all(chunk).unwrap();
                    }
                }
                w.commit().unwrap()
            })
        })
        .collect();
    let outcomes: Vec<CommitOutcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let stored = outcomes
        .iter()
        .filter(|o| **o == CommitOutcome::Stored)
        .count();
    assert_eq!(stored, 1, "{outcomes:?}");
    let store = Store::open(&root).unwrap();
    assert_eq!(store.read_blob(&d).unwrap(), *data);
    assert_eq!(ingests_in(&store), 0);
}

#[test]
fn lookup_normalizes_names_and_finds_by_digest_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rec = put_image(&store, "nginx", 1);
    for text in [
        "nginx",
        "nginx:latest",
        "library/nginx",
        "docker.io/library/nginx",
        "docker.io/library/nginx:latest",
    ] {
        let r = Reference::parse_normalized(text).unwrap();
        let found = store
            .lookup(&r)
            .unwrap()
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(found.key(), "docker.io/library/nginx:latest");
        assert_eq!(found.written_as, "nginx");
    }
    let by_digest = Reference::parse_normalized(&format!("nginx@{}", rec.manifest_digest)).unwrap();
    assert_eq!(store.lookup(&by_digest).unwrap().unwrap().key(), rec.key());
    assert!(
        store
            .lookup(&Reference::parse_normalized("nginx:1.25").unwrap())
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .lookup(&Reference::parse_normalized("other/nginx").unwrap())
            .unwrap()
            .is_none()
    );
    let id = rec.config_digest.to_string();
    assert_eq!(store.lookup_id(&id).unwrap().unwrap().key(), rec.key());
    assert_eq!(
        store.lookup_id(&id[7..19]).unwrap().unwrap().key(),
        rec.key()
    );
    assert!(store.lookup_id("sha256:ffffffffffff").unwrap().is_none());
}

#[test]
fn ambiguous_id_prefix_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for seed in 0..40u8 {
        ids.push(put_image(&store, &format!("img{seed}"), seed).id());
    }
    // Some pair shares its first hex digit among 40 random IDs.
    let first = ids
        .iter()
        .map(|i| &i[7..8])
        .find(|p| ids.iter().filter(|i| &i[7..8] == *p).count() > 1)
        .unwrap();
    assert!(matches!(
        store.lookup_id(first),
        Err(StoreError::AmbiguousId { .. })
    ));
}

#[test]
fn labels_pins_and_touch_are_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rec = put_image(&store, "busybox:1.36", 2);
    let key = rec.key();
    assert!(store.set_label(&key, "team", Some("a")).unwrap());
    assert!(store.set_pinned(&key, true).unwrap());
    let r = Reference::parse_normalized("busybox:1.36").unwrap();
    assert!(store.touch(&r, 5000).unwrap());
    let other = Store::open(dir.path()).unwrap();
    let got = other.lookup(&r).unwrap().unwrap();
    assert_eq!(got.labels.get("team").map(String::as_str), Some("a"));
    assert!(got.pinned);
    assert_eq!(got.last_used_ms, 5000);
    assert!(store.set_label(&key, "team", None).unwrap());
    // Another Store re-checks the index at most every 50 ms.
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert!(other.lookup(&r).unwrap().unwrap().labels.is_empty());
    // Re-recording keeps the pin and the first-seen time of the same image ID.
    let mut again = rec.clone();
    again.first_seen_ms = 9000;
    store.record_image(&again).unwrap();
    let got = store.lookup(&r).unwrap().unwrap();
    assert!(got.pinned);
    assert_eq!(got.first_seen_ms, 1000);
}

/// The bug of issue 14's target 4: `pod run` marked each ready image used by touching its
/// names one at a time, and every touch dropped the lookup snapshot, so the next lookup read
/// the whole images table again (minutes of CPU for 1,000 pods on a 10,000-image store).
/// Counted, not timed: marking used and every later lookup by name or ID load the snapshot
/// once in all, and one image's names are written in one transaction.
#[test]
fn marking_used_and_lookups_never_reload_the_whole_index() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Store::open(dir.path()).unwrap();
    let recs: Vec<ImageRecord> = (0..20u8)
        .map(|seed| put_image(&setup, &format!("team/img{seed}:v1"), seed))
        .collect();
    // 200 more names of the first image (one ID, many tags: what a mirror of tags looks like).
    let names: Vec<ImageRecord> = (0..200)
        .map(|i| {
            let mut r = recs[0].clone();
            r.tag = Some(format!("t{i}"));
            r.written_as = format!("team/img0:t{i}");
            r
        })
        .collect();
    setup.record_images(&names).unwrap();
    let id0 = recs[0].id();

    let store = Store::open(dir.path()).unwrap();
    let r3 = Reference::parse_normalized("team/img3:v1").unwrap();
    assert!(store.lookup(&r3).unwrap().is_some());
    assert!(store.lookup_id(&id0).unwrap().is_some());
    let loaded = store.index_counters();
    assert_eq!(loaded.snapshot_loads, 1, "{loaded:?}");

    assert_eq!(store.touch_id(&id0, 5000).unwrap(), 201);
    assert!(store.touch(&r3, 6000).unwrap());
    let after = store.index_counters();
    assert_eq!(after.writes - loaded.writes, 2, "{after:?}");
    // Already marked at that time: nothing to write.
    assert_eq!(store.touch_id(&id0[7..20], 5000).unwrap(), 0);
    assert_eq!(store.index_counters().writes, after.writes);

    // Every name, by reference and by ID, from the patched snapshot: the new times, no reload.
    for n in &names {
        let r = Reference::parse_normalized(&n.written_as).unwrap();
        assert_eq!(store.lookup(&r).unwrap().unwrap().last_used_ms, 5000);
    }
    let by_id = store.records_by_id(&id0).unwrap();
    assert_eq!(by_id.len(), 201);
    assert!(by_id.iter().all(|r| r.last_used_ms == 5000));
    assert_eq!(store.lookup(&r3).unwrap().unwrap().last_used_ms, 6000);
    assert_eq!(
        store
            .lookup_id(&recs[5].id())
            .unwrap()
            .unwrap()
            .last_used_ms,
        1000
    );
    assert_eq!(store.index_counters().snapshot_loads, 1);
    // What a fresh process reads agrees with the patched snapshot.
    let fresh = Store::open(dir.path()).unwrap();
    assert_eq!(fresh.lookup(&r3).unwrap().unwrap().last_used_ms, 6000);
    assert!(
        fresh
            .records_by_id(&id0)
            .unwrap()
            .iter()
            .all(|r| r.last_used_ms == 5000)
    );

    // A write by another process (another Store) is still seen: the snapshot is reloaded.
    fresh.set_label(&recs[3].key(), "team", Some("b")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(60));
    let got = store.lookup(&r3).unwrap().unwrap();
    assert_eq!(got.labels.get("team").map(String::as_str), Some("b"));
    assert_eq!(store.index_counters().snapshot_loads, 2);
}

/// An ID prefix is a range of the snapshot's ID index: the ambiguity error counts the distinct
/// IDs it matches, and a unique prefix gives every name of its image in key order.
#[test]
fn id_prefix_counts_distinct_ids_and_lists_names_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let recs: Vec<ImageRecord> = (0..40u8)
        .map(|seed| put_image(&store, &format!("img{seed}"), seed))
        .collect();
    let mut extra = recs[7].clone();
    extra.tag = Some("also".into());
    store.record_image(&extra).unwrap();
    for digit in "0123456789abcdef".chars() {
        let want: std::collections::BTreeSet<String> = recs
            .iter()
            .map(|r| r.config_digest.encoded().to_string())
            .filter(|h| h.starts_with(digit))
            .collect();
        match store.records_by_id(&digit.to_string()) {
            Err(StoreError::AmbiguousId { count, .. }) => assert_eq!(count, want.len()),
            Ok(found) => {
                assert!(want.len() <= 1);
                assert_eq!(found.is_empty(), want.is_empty());
            }
            Err(e) => panic!("{e}"),
        }
    }
    let names: Vec<String> = store
        .records_by_id(&recs[7].id())
        .unwrap()
        .iter()
        .map(ImageRecord::key)
        .collect();
    assert_eq!(names, [extra.key(), recs[7].key()]);
}

#[test]
fn record_refuses_missing_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut rec = put_image(&store, "a:1", 3);
    let missing = digest_of(b"not stored");
    rec.tag = Some("2".into());
    rec.blobs.push(missing.clone());
    let err = store.record_image(&rec).unwrap_err();
    assert!(err.to_string().contains(missing.as_str()), "{err}");
    assert!(
        store
            .lookup(&Reference::parse_normalized("a:2").unwrap())
            .unwrap()
            .is_none()
    );
}

#[test]
fn index_json_lists_recorded_images_with_ref_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = put_image(&store, "nginx:1.25", 4);
    let b = put_image(&store, "localhost:5000/team/app:v1", 5);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let names: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(names.contains(&(a.key(), a.manifest_digest.to_string())));
    assert!(names.contains(&(b.key(), b.manifest_digest.to_string())));
    let out = store.remove_images(&[a.key()]).unwrap();
    assert_eq!(out.removed, vec![a.key()]);
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert!(!index.contains(&a.key()));
    assert!(index.contains(&b.key()));
}

#[test]
fn remove_deletes_only_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = put_image(&store, "x:1", 6);
    let mut b = a.clone();
    b.tag = Some("2".into());
    store.record_image(&b).unwrap();
    let out = store.remove_images(&[a.key()]).unwrap();
    assert!(out.blobs_deleted.is_empty(), "x:2 still uses them");
    for d in &a.blobs {
        assert!(store.has_blob(d));
    }
    let out = store.remove_images(&[b.key()]).unwrap();
    assert_eq!(out.blobs_deleted.len(), 3);
    assert!(blobs_in(&store).is_empty());
}

#[test]
fn unreferenced_blobs_are_collected_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = put_image(&store, "keep:1", 7);
    let orphan = b"orphan".to_vec();
    // Written by another user of the store (a pull that never recorded its image)...
    let writer = Store::open(dir.path()).unwrap();
    writer.put_blob(&digest_of(&orphan), &orphan).unwrap();
    // ...which holds it (a lease) while it lives, whatever the grace period.
    let held = store
        .delete_unreferenced_blobs(std::time::Duration::ZERO)
        .unwrap();
    assert!(held.blobs_deleted.is_empty(), "{held:?}");
    // A failed pull lets go of what it will not record.
    writer.release_held(&[digest_of(&orphan)]);
    let young = store
        .delete_unreferenced_blobs(std::time::Duration::from_secs(3600))
        .unwrap();
    assert_eq!((young.blobs_deleted.len(), young.kept_young), (0, 1));
    let out = store
        .delete_unreferenced_blobs(std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(out.blobs_deleted, vec![digest_of(&orphan)]);
    drop(writer);
    for d in &a.blobs {
        assert!(store.has_blob(d));
    }
}

#[test]
fn legacy_node_records_are_read_once_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    put_image(&store, "keep:1", 3);
    // A fresh store has none.
    assert!(store.legacy_node_records().unwrap().is_empty());
    // What an older pullsim wrote: the same table names and JSON values under string keys.
    let pulled = br#"{"imageRef":"sha256:1234","lastUpdatedTime":42,"credentialMapping":{}}"#;
    let intent = br#"{"image":"nginx:latest","createdMs":7}"#;
    {
        let db = redb::Database::create(store.index_path()).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &[u8]> =
                redb::TableDefinition::new("pulled_records");
            let mut t = txn.open_table(def).unwrap();
            t.insert("sha256:1234", &pulled[..]).unwrap();
            let def: redb::TableDefinition<&str, &[u8]> =
                redb::TableDefinition::new("pull_intents");
            let mut t = txn.open_table(def).unwrap();
            t.insert("nginx:latest", &intent[..]).unwrap();
        }
        txn.commit().unwrap();
    }
    let legacy = store.legacy_node_records().unwrap();
    assert_eq!(legacy.pulled, vec![pulled.to_vec()]);
    assert_eq!(legacy.intents, vec![intent.to_vec()]);
    store.drop_legacy_node_records().unwrap();
    assert!(store.legacy_node_records().unwrap().is_empty());
    // Dropping again is harmless, and the images are untouched.
    store.drop_legacy_node_records().unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn a_second_store_sees_writes_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(dir.path()).unwrap();
    let b = Store::open(dir.path()).unwrap();
    let r = Reference::parse_normalized("late:1").unwrap();
    assert!(b.lookup(&r).unwrap().is_none());
    put_image(&a, "late:1", 8);
    // b's snapshot is refreshed when the index file changes (checked at most every 50 ms).
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert!(b.lookup(&r).unwrap().is_some());
}

#[test]
fn default_root_follows_the_environment_order() {
    // Only reads the environment; the variables are not changed (tests run in parallel).
    let root = Store::default_root();
    if let Some(r) = std::env::var_os("PULLSIM_ROOT").filter(|v| !v.is_empty()) {
        assert_eq!(root, Path::new(&r));
    } else if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        assert_eq!(root, Path::new(&x).join("pullsim"));
    } else {
        assert!(root.ends_with(".local/share/pullsim"));
    }
}

#[test]
fn first_lookup_of_a_fresh_store_reads_the_index_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rec = put_image(&store, "nginx:1.25", 9);
    put_image(&store, "nginx2:1.25", 10);
    let cases = [
        ("nginx:1.25", Some(rec.key())),
        ("docker.io/library/nginx:1.25", Some(rec.key())),
        (&*format!("nginx@{}", rec.manifest_digest), Some(rec.key())),
        ("nginx", None),
        (&*format!("nginx2@{}", rec.manifest_digest), None),
    ];
    for (text, want) in cases {
        // A new Store per lookup: each is the first (direct) lookup.
        let fresh = Store::open(dir.path()).unwrap();
        let got = fresh
            .lookup(&Reference::parse_normalized(text).unwrap())
            .unwrap()
            .map(|r| r.key());
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn large_blobs_resume_and_truncate_through_the_write_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..(13usize << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let d = digest_of(&data);
    {
        let mut w = store.writer("big", &d, Some(data.len() as u64)).unwrap();
        for c in data[..(9 << 20) + 123].chunks(100_000) {
            w.write_all(c).unwrap();
        }
    }
    let mut w = store.writer("big", &d, Some(data.len() as u64)).unwrap();
    assert_eq!(w.offset(), (9 << 20) + 123);
    w.truncate().unwrap();
    assert_eq!(w.offset(), 0);
    for c in data[..(5 << 20)].chunks(1 << 20) {
        w.write_all(c).unwrap();
    }
    drop(w);
    let mut w = store.writer("big", &d, Some(data.len() as u64)).unwrap();
    assert_eq!(w.offset(), 5 << 20);
    w.write_all(&data[5 << 20..]).unwrap();
    assert_eq!(w.commit().unwrap(), CommitOutcome::Stored);
    assert_eq!(store.read_blob(&d).unwrap(), data);
}

#[test]
fn concurrent_index_writers_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    Store::open(&root).unwrap();
    let handles: Vec<_> = (0..8u8)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                // A Store per thread: each opens the index itself, as a process would.
                let store = Store::open(&root).unwrap();
                put_image(&store, &format!("team/app{i}:v1"), 20 + i)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let store = Store::open(&root).unwrap();
    assert_eq!(store.list().unwrap().len(), 8);
    assert!(store.verify(false).unwrap().is_clean());
}

#[test]
fn a_held_index_lock_is_waited_for_reported_once_and_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    // Another "process" holds the index open.
    let holder = redb::Database::create(dir.path().join("pullsim.redb")).unwrap();
    let reports = Arc::new(AtomicUsize::new(0));
    let counter = reports.clone();
    let store = Store::open_with(
        dir.path(),
        pullsim_store::StoreOptions {
            lock_timeout: std::time::Duration::from_millis(600),
            on_wait: Some(Arc::new(move |_: &Path| {
                counter.fetch_add(1, Ordering::SeqCst);
            })),
        },
    )
    .unwrap();
    let err = store.list().unwrap_err();
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("held by another pullsim process"),
        "{err}"
    );
    assert_eq!(reports.load(Ordering::SeqCst), 1);
    // Released: the next operation goes through.
    drop(holder);
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn shared_chunks_are_written_without_copy_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = bytes::Bytes::from(
        (0..(9usize << 20))
            .map(|i| (i % 239) as u8)
            .collect::<Vec<u8>>(),
    );
    let d = digest_of(&data);
    let mut w = store.writer("shared", &d, Some(data.len() as u64)).unwrap();
    // Mixed: a small copied write, shared chunks large and small.
    w.write_all(&data[..1000]).unwrap();
    let mut off = 1000;
    for len in [10_000usize, 3 << 20, 100, 5 << 20] {
        w.write_bytes(data.slice(off..off + len)).unwrap();
        off += len;
    }
    w.write_bytes(data.slice(off..)).unwrap();
    assert!(
        w.write_bytes(bytes::Bytes::from_static(b"x")).is_err(),
        "past the expected size"
    );
    assert_eq!(w.commit().unwrap(), CommitOutcome::Stored);
    assert_eq!(store.read_blob(&d).unwrap(), data);
}
