//! Several users of one store at once (issue 11, items 4 and 6): the store lock is an OS lock
//! that dies with its holder, and loads, pulls, removals and GC running in parallel never make
//! each other fail (leases keep the blobs a load or pull is about to record).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pullsim_reference::{Digest, Reference};
use pullsim_store::{
    CommitOutcome, ImageRecord, LoadOptions, Origin, Store, StoreError, StoreOptions,
};
use pullsim_testsupport::image::{GeneratedImage, ImageSpec, LayerSpec, generate};

#[test]
fn a_dead_lock_holder_is_taken_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    let lock = dir.path().join("pullsim.lock");
    // Another process takes the store lock and is then killed.
    // `-o`: the flock process itself holds the lock (its command does not inherit it), so
    // killing it ends the holder.
    let mut holder = match std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIP: no flock(1) to hold the lock from another process: {e}");
            return;
        }
    };
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            lock_timeout: Duration::from_millis(400),
            on_wait: None,
        },
    )
    .unwrap();
    // Wait until the child holds it.
    let start = Instant::now();
    let err = loop {
        match store.list() {
            Err(e) => break e,
            Ok(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(_) => panic!("the child never took the lock"),
        }
    };
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{err:?}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // No wait, no stale lock: the kernel released it with the process.
    let start = Instant::now();
    assert!(store.list().unwrap().is_empty());
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_failed_write_leaves_nothing_in_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = vec![7u8; 3 << 20];
    let d = Digest::from_sha256_hex(&hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)))
        .unwrap();
    // A size mismatch at commit.
    let mut w = store.writer("x", &d, Some(data.len() as u64 + 1)).unwrap();
    w.write_all(&data).unwrap();
    assert!(w.commit().is_err());
    assert_eq!(fs::read_dir(store.ingest_dir()).unwrap().count(), 0);
}

/// Blobs of a generated layout: (digest, bytes).
fn blobs_of(img: &GeneratedImage) -> Vec<(Digest, Vec<u8>)> {
    let m = &img.manifests[0];
    let mut out = Vec::new();
    let mut add = |d: &str| {
        let p = img.dir.join("blobs/sha256").join(&d[7..]);
        out.push((Digest::parse(d).unwrap(), fs::read(p).unwrap()));
    };
    add(&m.digest);
    add(&m.config_digest);
    for l in &m.layers {
        add(&l.digest);
    }
    out
}

/// What a pull does: a writer per blob (skipped when present), commit, then record.
fn pull_like(store: &Store, img: &GeneratedImage, name: &str) -> Result<(), StoreError> {
    let blobs = blobs_of(img);
    for (d, bytes) in &blobs {
        let mut w = store.writer(&format!("pull@{d}"), d, Some(bytes.len() as u64))?;
        if !w.already_exists() {
            w.truncate()?;
            w.write_all(bytes).map_err(|e| StoreError::Io {
                op: "write",
                path: PathBuf::from(name),
                error: e,
            })?;
        }
        let out = w.commit()?;
        assert!(matches!(
            out,
            CommitOutcome::Stored | CommitOutcome::AlreadyExists
        ));
    }
    let m = &img.manifests[0];
    let r = Reference::parse_normalized(name).unwrap();
    store.record_image(&ImageRecord {
        name: r.name(),
        tag: r.tag().map(String::from),
        digest: None,
        written_as: name.into(),
        manifest_digest: Digest::parse(&m.digest).unwrap(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        config_digest: Digest::parse(&m.config_digest).unwrap(),
        platform: Some("linux/amd64".into()),
        size: blobs.iter().map(|(_, b)| b.len() as u64).sum(),
        blobs: blobs.iter().map(|(d, _)| d.clone()).collect(),
        first_seen_ms: 1,
        last_used_ms: 1,
        pinned: false,
        labels: BTreeMap::new(),
        origin: Origin::Pulled,
    })
}

fn round(root: &Path, lay_a: &Path, lay_b: &Path, pulled: &GeneratedImage, iters: usize) {
    let barrier = Arc::new(Barrier::new(5));
    let mut handles = Vec::new();
    // Two loaders (two "processes": a Store each) of images that share blobs.
    for (i, lay) in [lay_a, lay_b].into_iter().enumerate() {
        let (root, lay, barrier) = (root.to_path_buf(), lay.to_path_buf(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            let store = Store::open(&root).unwrap();
            barrier.wait();
            for _ in 0..iters {
                let opts = LoadOptions {
                    name: Some(format!("example.com/load{i}")),
                    now_ms: 0,
                };
                store
                    .load(&lay, &opts)
                    .map(|_| ())
                    .map_err(|e| format!("load {i}: {e}"))?;
            }
            Ok::<(), String>(())
        }));
    }
    {
        let (root, img, barrier) = (root.to_path_buf(), pulled.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            let store = Store::open(&root).unwrap();
            barrier.wait();
            for _ in 0..iters {
                pull_like(&store, &img, "example.com/pulled:v1")
                    .map_err(|e| format!("pull: {e}"))?;
            }
            Ok(())
        }));
    }
    {
        let (root, barrier) = (root.to_path_buf(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            let store = Store::open(&root).unwrap();
            barrier.wait();
            for _ in 0..iters * 2 {
                let keys: Vec<String> = store
                    .list()
                    .map_err(|e| format!("ls: {e}"))?
                    .iter()
                    .map(|r| r.key())
                    .collect();
                store.remove_images(&keys).map_err(|e| format!("rm: {e}"))?;
            }
            Ok(())
        }));
    }
    {
        let (root, barrier) = (root.to_path_buf(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            let store = Store::open(&root).unwrap();
            barrier.wait();
            for _ in 0..iters * 2 {
                store
                    .delete_unreferenced_blobs(Duration::ZERO)
                    .map_err(|e| format!("gc: {e}"))?;
            }
            Ok(())
        }));
    }
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(errors.is_empty(), "spurious failures: {errors:?}");
}

#[test]
fn loads_pulls_rm_and_gc_in_parallel_never_fail_spuriously() {
    let tmp = tempfile::tempdir().unwrap();
    // Three images sharing their first layer (the same seed and spec for it).
    let shared = |tag: &str, seed: u64, extra: usize| ImageSpec {
        layers: vec![LayerSpec::plain(64 << 10), LayerSpec::plain(extra)],
        ..ImageSpec::simple(tag, 0, 0, seed)
    };
    let a = generate(&tmp.path().join("a"), &shared("v1", 1, 3000)).unwrap();
    let b = generate(&tmp.path().join("b"), &shared("v1", 1, 5000)).unwrap();
    let p = generate(&tmp.path().join("p"), &shared("v1", 1, 7000)).unwrap();
    assert_eq!(
        a.manifests[0].layers[0].digest,
        b.manifests[0].layers[0].digest
    );
    assert_eq!(
        a.manifests[0].layers[0].digest,
        p.manifests[0].layers[0].digest
    );
    let root = tmp.path().join("root");
    for r in 0..20 {
        round(&root, &a.dir, &b.dir, &p, 6);
        let store = Store::open(&root).unwrap();
        let report = store.verify(false).unwrap();
        assert!(report.is_clean(), "round {r}: {report:?}");
        // Every recorded image is whole.
        for rec in store.list().unwrap() {
            for d in &rec.blobs {
                assert!(store.has_blob(d), "round {r}: {} lost {d}", rec.key());
            }
        }
    }
    // Leases of stores that are gone do not keep anything.
    let store = Store::open(&root).unwrap();
    let keys: Vec<String> = store.list().unwrap().iter().map(|r| r.key()).collect();
    store.remove_images(&keys).unwrap();
    store.delete_unreferenced_blobs(Duration::ZERO).unwrap();
    assert_eq!(fs::read_dir(store.blobs_dir()).unwrap().count(), 0);
}
