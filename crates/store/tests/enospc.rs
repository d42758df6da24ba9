//! A full disk during a load (issue 11, item 4): the failed ingest removes its partial data,
//! the store is usable at once afterwards (no lock left behind, no wait) and verify is clean.
//!
//! Runs on a small loop-mounted ext4 file system when loop devices work (so the `O_DIRECT`
//! write path is the one that meets ENOSPC), else on a small tmpfs; skipped with a message
//! when neither can be mounted (not root, no loop device, no mount permission).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pullsim_store::{LoadOptions, Store};
use pullsim_testsupport::image::{ImageSpec, LayerSpec, generate};

struct SmallFs {
    mount: PathBuf,
    loop_dev: Option<String>,
    kind: &'static str,
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        if let Some(d) = &self.loop_dev {
            let _ = Command::new("losetup").args(["-d", d]).status();
        }
    }
}

fn run(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn small_fs(tmp: &Path, mib: u64) -> Option<SmallFs> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: mounting a small file system needs root");
        return None;
    }
    let mount = tmp.join("mnt");
    fs::create_dir_all(&mount).ok()?;
    let img = tmp.join("fs.img");
    let ext4 = (|| {
        fs::File::create(&img).ok()?.set_len(mib << 20).ok()?;
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img))?;
        let dev = run(Command::new("losetup").args(["-f", "--show"]).arg(&img))?;
        if run(Command::new("mount").arg(&dev).arg(&mount)).is_none() {
            let _ = Command::new("losetup").args(["-d", &dev]).status();
            return None;
        }
        Some(SmallFs {
            mount: mount.clone(),
            loop_dev: Some(dev),
            kind: "loop-mounted ext4",
        })
    })();
    if ext4.is_some() {
        return ext4;
    }
    let size = format!("size={mib}m");
    if run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
        .arg(&mount))
    .is_some()
    {
        return Some(SmallFs {
            mount,
            loop_dev: None,
            kind: "tmpfs",
        });
    }
    eprintln!("SKIP: neither a loop-mounted ext4 nor a tmpfs could be mounted");
    None
}

fn opts(name: &str) -> LoadOptions {
    LoadOptions {
        name: Some(name.into()),
        now_ms: 0,
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn enospc_during_load_leaves_store_usable() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(small) = small_fs(tmp.path(), 24) else {
        return;
    };
    eprintln!("ENOSPC on a {}", small.kind);
    let root = small.mount.join("root");
    let store = Store::open(&root).unwrap();
    let small_img = tmp.path().join("small");
    generate(&small_img, &ImageSpec::simple("v1", 1, 100_000, 1)).unwrap();
    store.load(&small_img, &opts("example.com/small")).unwrap();
    let blobs_before = count(store.blobs_dir());

    // 30 MiB of incompressible layers into a 24 MiB file system: as a directory, and as a
    // .tar.gz (decompressed into ingest/ first).
    let big = tmp.path().join("big");
    let spec = ImageSpec {
        layers: vec![LayerSpec::plain(10 << 20); 3],
        ..ImageSpec::simple("v1", 0, 0, 2)
    };
    generate(&big, &spec).unwrap();
    let tgz = tmp.path().join("big.tar.gz");
    {
        let f = fs::File::create(&tgz).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::none());
        let mut t = tar::Builder::new(gz);
        t.append_dir_all(".", &big).unwrap();
        t.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    for source in [&big, &tgz] {
        let err = store.load(source, &opts("example.com/big")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("No space left") || text.contains("os error 28"),
            "{}: {text}",
            source.display()
        );
        // The partial data is gone, so is any lock: the store works at once.
        assert_eq!(
            count(store.ingest_dir()),
            0,
            "ingest/ after {}",
            source.display()
        );
        assert_eq!(
            count(store.blobs_dir()),
            blobs_before,
            "no blob of the failed load"
        );
        let start = Instant::now();
        let other = Store::open(&root).unwrap();
        assert_eq!(other.list().unwrap().len(), 1);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let report = other.verify(false).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert!(report.stale_ingests.is_empty(), "{report:?}");
    }
    // And takes a new load.
    let next = tmp.path().join("next");
    generate(&next, &ImageSpec::simple("v2", 1, 200_000, 3)).unwrap();
    store.load(&next, &opts("example.com/next")).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
    assert!(store.verify(false).unwrap().is_clean());
    drop(store);
    drop(small);
}
