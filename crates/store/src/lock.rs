//! The store lock and the boundary around redb.
//!
//! The store lock is an OS advisory lock (`flock`) on `ROOT/pullsim.lock`: shared for reads of
//! the index, exclusive for writes, lease changes and deletions. The kernel releases it when its
//! holder exits, however it exits, so a killed process never leaves a lock behind and a wait
//! always means that a live process holds it.
//!
//! redb asserts (panics) on some damaged files; [`catch`] turns a panic inside the index code
//! into [`StoreError::IndexUnusable`] and keeps the panic message off stderr.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use crate::StoreError;

/// Called once per operation when it has to wait for another process's lock.
pub type WaitReporter = Arc<dyn Fn(&Path) + Send + Sync>;

/// Waiting is reported after this long.
const REPORT_AFTER: Duration = Duration::from_millis(200);

/// Retry `attempt` until it yields a value, with a bounded wait reported once.
pub(crate) fn wait_loop<T>(
    path: &Path,
    timeout: Duration,
    reporter: Option<&WaitReporter>,
    mut attempt: impl FnMut() -> Result<Option<T>, StoreError>,
) -> Result<T, StoreError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(1);
    let mut reported = false;
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(StoreError::LockTimeout {
                path: path.to_path_buf(),
                waited_ms: waited.as_millis() as u64,
            });
        }
        if !reported && waited >= REPORT_AFTER {
            reported = true;
            tracing::info!(path = %path.display(), "waiting for the store lock held by another pullsim process");
            if let Some(r) = reporter {
                r(path);
            }
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

/// `ROOT/pullsim.lock`, locked with `flock`.
pub(crate) struct StoreLock {
    pub(crate) path: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) reporter: Option<WaitReporter>,
    /// This store's descriptor of the lock file (opened on first use). The mutex also
    /// serializes the threads sharing one `Store`.
    file: Mutex<Option<File>>,
}

/// A held store lock; released on drop.
pub(crate) struct LockGuard<'a> {
    guard: MutexGuard<'a, Option<File>>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Some(f) = self.guard.as_ref() {
            // Fails only on a descriptor that is already unusable; closing it releases anyway.
            let _ = f.unlock();
        }
    }
}

impl StoreLock {
    pub(crate) fn new(
        path: PathBuf,
        timeout: Duration,
        reporter: Option<WaitReporter>,
    ) -> StoreLock {
        StoreLock {
            path,
            timeout,
            reporter,
            file: Mutex::new(None),
        }
    }

    /// Take the lock (shared or exclusive), waiting (bounded, reported once) while another
    /// process holds it in a conflicting mode.
    pub(crate) fn acquire(&self, exclusive: bool) -> Result<LockGuard<'_>, StoreError> {
        let mut g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&self.path)
                .map_err(|e| StoreError::io("open", &self.path, e))?;
            *g = Some(f);
        }
        let Some(f) = g.as_ref() else {
            return Err(StoreError::io(
                "open",
                &self.path,
                std::io::Error::other("lock file not open"),
            ));
        };
        wait_loop(&self.path, self.timeout, self.reporter.as_ref(), || {
            let r = if exclusive {
                f.try_lock()
            } else {
                f.try_lock_shared()
            };
            match r {
                Ok(()) => Ok(Some(())),
                Err(TryLockError::WouldBlock) => Ok(None),
                Err(TryLockError::Error(e)) => Err(StoreError::io("lock", &self.path, e)),
            }
        })?;
        Ok(LockGuard { guard: g })
    }
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Run index code, turning a panic (redb asserts on some damaged files) into
/// [`StoreError::IndexUnusable`]. The panic is not printed: it is the error's reason.
pub(crate) fn catch<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) {
                let text = match info.location() {
                    Some(l) => format!(
                        "{} at {}:{}",
                        payload_text(info.payload()),
                        l.file(),
                        l.line()
                    ),
                    None => payload_text(info.payload()),
                };
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
    let was = CATCHING.with(|c| c.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    match r {
        Ok(v) => v,
        Err(payload) => {
            let text = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| payload_text(payload.as_ref()));
            Err(StoreError::IndexUnusable {
                path: path.to_path_buf(),
                reason: format!("redb failed an internal check ({text})"),
            })
        }
    }
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_index_code_becomes_index_unusable() {
        let path = Path::new("/store/pullsim.redb");
        let r: Result<(), StoreError> = catch(path, || panic!("assertion failed: page_number"));
        match r {
            Err(StoreError::IndexUnusable { path: p, reason }) => {
                assert_eq!(p, path);
                assert!(reason.contains("assertion failed: page_number"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // Results and errors pass through unchanged; panics elsewhere still panic.
        assert_eq!(catch(path, || Ok(7)).ok(), Some(7));
        assert!(std::panic::catch_unwind(|| panic!("outside")).is_err());
    }

    #[test]
    fn the_lock_is_exclusive_between_descriptors_and_shared_for_readers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pullsim.lock");
        let a = StoreLock::new(p.clone(), Duration::from_millis(100), None);
        let b = StoreLock::new(p, Duration::from_millis(100), None);
        {
            let _r1 = a.acquire(false).expect("shared");
            let _r2 = b.acquire(false).expect("shared too");
        }
        let w = a.acquire(true).expect("exclusive");
        assert!(matches!(
            b.acquire(false),
            Err(StoreError::LockTimeout { .. })
        ));
        drop(w);
        b.acquire(true).expect("released");
    }
}
