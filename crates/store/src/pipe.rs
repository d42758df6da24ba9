//! The file side of a blob writer: bytes are gathered in buffers that a worker thread writes
//! to the ingest file (starting writeback early on Linux, so the commit's fsync has little
//! left to do), while the caller's thread hashes. Small blobs never start the thread.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;

/// What the worker writes: one of our buffers (returned for reuse) or a caller's shared chunk.
enum Job {
    Buf(Vec<u8>),
    Shared(Bytes),
}

/// Size of each buffer handed to the worker.
const CHUNK: usize = 4 << 20;
/// Buffers in flight at most (besides the one being filled).
const DEPTH: usize = 2;

struct Worker {
    tx: Option<SyncSender<Job>>,
    back: Receiver<io::Result<Option<Vec<u8>>>>,
    handle: Option<JoinHandle<File>>,
    in_flight: usize,
}

/// A buffered, possibly threaded, writer of one file.
pub(crate) struct Pipe {
    file: Option<File>,
    worker: Option<Worker>,
    buf: Vec<u8>,
    spare: Vec<Vec<u8>>,
    error: Option<io::Error>,
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is valid for
    // the life of `file`. A failure only means writeback starts later (at fsync).
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

fn spawn(mut file: File) -> io::Result<Worker> {
    let (tx, rx) = sync_channel::<Job>(DEPTH);
    let (back_tx, back) = sync_channel::<io::Result<Option<Vec<u8>>>>(DEPTH + 2);
    let handle = std::thread::Builder::new()
        .name("pullsim-ingest".into())
        .spawn(move || {
            use std::io::Seek;
            let mut failed = false;
            for job in rx {
                if failed {
                    let _ = back_tx.send(Err(io::Error::other("an earlier write failed")));
                    continue;
                }
                let data: &[u8] = match &job {
                    Job::Buf(b) => b,
                    Job::Shared(b) => b,
                };
                let pos = file.stream_position().unwrap_or(0);
                match file.write_all(data) {
                    Ok(()) => {
                        start_writeback(&file, pos, data.len() as u64);
                        let back = match job {
                            Job::Buf(mut b) => {
                                b.clear();
                                Some(b)
                            }
                            Job::Shared(_) => None,
                        };
                        let _ = back_tx.send(Ok(back));
                    }
                    Err(e) => {
                        failed = true;
                        let _ = back_tx.send(Err(e));
                    }
                }
            }
            file
        })?;
    Ok(Worker {
        tx: Some(tx),
        back,
        handle: Some(handle),
        in_flight: 0,
    })
}

impl Pipe {
    pub(crate) fn new(file: File) -> Pipe {
        Pipe {
            file: Some(file),
            worker: None,
            buf: Vec::with_capacity(64 << 10),
            spare: Vec::new(),
            error: None,
        }
    }

    fn take_error(&mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn receive_one(&mut self) -> io::Result<()> {
        let Some(w) = self.worker.as_mut() else {
            return Ok(());
        };
        match w.back.recv() {
            Ok(Ok(buf)) => {
                w.in_flight -= 1;
                if let Some(buf) = buf {
                    self.spare.push(buf);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                w.in_flight -= 1;
                Err(e)
            }
            Err(_) => Err(io::Error::other("ingest worker stopped")),
        }
    }

    /// Hand a job to the worker, starting it if needed.
    fn dispatch(&mut self, job: Job) -> io::Result<()> {
        if self.worker.is_none() {
            let Some(file) = self.file.take() else {
                return Err(io::Error::other("ingest file already closed"));
            };
            self.worker = Some(spawn(file)?);
        }
        while self.worker.as_ref().is_some_and(|w| w.in_flight >= DEPTH) {
            self.receive_one()?;
        }
        let Some(w) = self.worker.as_mut() else {
            return Err(io::Error::other("ingest worker missing"));
        };
        let tx =
            w.tx.as_ref()
                .ok_or_else(|| io::Error::other("ingest worker closed"))?;
        tx.send(job)
            .map_err(|_| io::Error::other("ingest worker stopped"))?;
        w.in_flight += 1;
        Ok(())
    }

    /// Hand the current buffer to the worker.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        self.dispatch(Job::Buf(full))
    }

    /// Write a shared chunk without copying it (large chunks go to the worker as they are).
    pub(crate) fn write_shared(&mut self, data: Bytes) -> io::Result<()> {
        self.take_error()?;
        if data.len() < (64 << 10) {
            return self.write_all(&data);
        }
        self.send()?;
        self.dispatch(Job::Shared(data))
    }

    /// Everything written so far is in the file (not necessarily on disk).
    pub(crate) fn flush_all(&mut self) -> io::Result<()> {
        self.take_error()?;
        if self.worker.is_none() {
            if let Some(f) = self.file.as_mut() {
                f.write_all(&self.buf)?;
                self.buf.clear();
            }
            return Ok(());
        }
        self.send()?;
        while self.worker.as_ref().is_some_and(|w| w.in_flight > 0) {
            self.receive_one()?;
        }
        Ok(())
    }

    /// Write out everything and give the file back.
    pub(crate) fn finish(mut self) -> io::Result<File> {
        self.flush_all()?;
        self.take_file()
    }

    fn take_file(&mut self) -> io::Result<File> {
        if let Some(f) = self.file.take() {
            return Ok(f);
        }
        let Some(mut w) = self.worker.take() else {
            return Err(io::Error::other("ingest file already closed"));
        };
        w.tx = None;
        let handle = w
            .handle
            .take()
            .ok_or_else(|| io::Error::other("ingest worker already joined"))?;
        handle
            .join()
            .map_err(|_| io::Error::other("ingest worker panicked"))
    }

    /// Get the file back (to truncate or seek it) and continue afterwards with `f`.
    pub(crate) fn with_file<T>(
        &mut self,
        f: impl FnOnce(&mut File) -> io::Result<T>,
    ) -> io::Result<T> {
        self.flush_all()?;
        let mut file = self.take_file()?;
        let r = f(&mut file);
        self.file = Some(file);
        r
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.take_error()?;
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        if self.buf.capacity() < CHUNK && self.buf.len() + n > self.buf.capacity() {
            self.buf.reserve(CHUNK - self.buf.len());
        }
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK
            && let Err(e) = self.send()
        {
            return Err(e);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_all()
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Keep what was written (for a resume); errors cannot be reported here.
        if self.file.is_some() || self.worker.is_some() {
            let _ = self.flush_all();
            let _ = self.take_file();
        }
    }
}
