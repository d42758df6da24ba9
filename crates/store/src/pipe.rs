//! The file side of a blob writer: bytes are copied into page-aligned buffers that a worker
//! thread writes to the ingest file, while the caller's thread hashes. Small blobs never start
//! the thread.
//!
//! On Linux the worker writes whole aligned blocks with `O_DIRECT`: the bytes go from our
//! buffer to the device without a page-cache copy and without the file system's per-page
//! delayed-allocation work, which on ext4 cost more CPU than the copy itself (measured: a
//! 256 MiB buffered write + fsync took 0.54 s of system time, the same with `O_DIRECT`
//! 0.02 s). The unaligned tail of a blob, and every write on a file system that refuses
//! `O_DIRECT` (EINVAL), goes through the page cache as usual, with writeback started early
//! so the commit's fsync has little left to do.

use std::alloc::{Layout, alloc, dealloc};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::ptr::NonNull;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Size of each buffer handed to the worker. A writer owns at most `1 + DEPTH` of them (the
/// one being filled, the others written or waiting): 1.5 MiB per blob being written, the
/// memory bound of the write path (3 MiB with the 1 MiB buffers before). Each direct write
/// waits for the device, so smaller buffers cost round trips: 256 KiB ones made `images load`
/// of the 256 MiB bench image ~14 % slower (system time 0.08 -> 0.12 s).
const CHUNK: usize = 512 << 10;
/// Buffers in flight at most (besides the one being filled).
const DEPTH: usize = 2;
/// Alignment of buffers, file offsets and lengths for `O_DIRECT` (the largest logical block
/// size in common use).
const ALIGN: usize = 4096;
/// Buffers kept for re-use by later writers in this process (touching fresh pages costs a
/// page fault each; a pull's first layers fill the pool, the following ones reuse it): the
/// buffers of up to three writers at once (containerd's default download concurrency), 4.5 MiB.
/// More are freed when given back.
const POOL_MAX: usize = 3 * (1 + DEPTH);

const LAYOUT: Layout = match Layout::from_size_align(CHUNK, ALIGN) {
    Ok(l) => l,
    Err(_) => panic!("CHUNK and ALIGN form a valid layout"),
};

/// A fixed-capacity (`CHUNK`) heap buffer aligned to `ALIGN`; bytes `..len` are initialized.
struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer exclusively owns its allocation, like a `Vec<u8>`.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn new() -> io::Result<AlignedBuf> {
        // SAFETY: LAYOUT has a non-zero size.
        let p = unsafe { alloc(LAYOUT) };
        NonNull::new(p)
            .map(|ptr| AlignedBuf { ptr, len: 0 })
            .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "ingest buffer"))
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for CHUNK bytes and the first `len` were written by `push`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn is_full(&self) -> bool {
        self.len == CHUNK
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy as much of `data` as fits; returns how much.
    fn push(&mut self, data: &[u8]) -> usize {
        let n = (CHUNK - self.len).min(data.len());
        // SAFETY: `len + n <= CHUNK`, the regions cannot overlap (we own ours exclusively).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), n);
        }
        self.len += n;
        n
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

static POOL: std::sync::Mutex<Vec<AlignedBuf>> = std::sync::Mutex::new(Vec::new());

/// A buffer from the pool, or a new one.
fn pooled() -> io::Result<AlignedBuf> {
    if let Ok(mut pool) = POOL.lock()
        && let Some(b) = pool.pop()
    {
        return Ok(b);
    }
    AlignedBuf::new()
}

/// Give a buffer back to the pool (freed when the pool is full).
fn recycle(mut b: AlignedBuf) {
    b.clear();
    if let Ok(mut pool) = POOL.lock()
        && pool.len() < POOL_MAX
    {
        pool.push(b);
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with LAYOUT and not freed before.
        unsafe { dealloc(self.ptr.as_ptr(), LAYOUT) }
    }
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

/// Turn `O_DIRECT` on or off for the file's open description.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl with F_GETFL/F_SETFL reads and sets integer flags of a valid descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if new != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, on: bool) -> io::Result<()> {
    if on {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    } else {
        Ok(())
    }
}

#[cfg(unix)]
fn write_at(file: &File, data: &[u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, data, pos)
}

#[cfg(windows)]
fn write_at(file: &File, data: &[u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_write(file, data, pos)
}

/// The worker's file: positioned writes, direct where alignment allows.
struct Sink {
    file: File,
    pos: u64,
    /// `O_DIRECT` may be tried (cleared for good after the file system refuses it).
    direct_allowed: bool,
    /// `O_DIRECT` is currently set on the descriptor.
    direct_on: bool,
    /// Tests: answer direct writes with EINVAL, as a file system without direct I/O does.
    #[cfg(test)]
    refuse_direct: bool,
}

impl Sink {
    fn set_mode(&mut self, direct: bool) -> io::Result<()> {
        if self.direct_on != direct {
            set_direct(&self.file, direct)?;
            self.direct_on = direct;
        }
        Ok(())
    }

    /// Write all of `data` at the current position.
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let aligned = self.direct_allowed
                && self.pos.is_multiple_of(ALIGN as u64)
                && (data.as_ptr() as usize).is_multiple_of(ALIGN);
            let direct_len = if aligned {
                data.len() & !(ALIGN - 1)
            } else {
                0
            };
            let direct = direct_len > 0;
            if direct && self.set_mode(true).is_err() {
                self.direct_allowed = false;
                continue;
            }
            if !direct {
                self.set_mode(false)?;
            }
            let part = if direct { &data[..direct_len] } else { data };
            #[cfg(test)]
            let refused = direct && self.refuse_direct;
            #[cfg(not(test))]
            let refused = false;
            let written = if refused {
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            } else {
                write_at(&self.file, part, self.pos)
            };
            match written {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    if !direct {
                        start_writeback(&self.file, self.pos, n as u64);
                    }
                    self.pos += n as u64;
                    data = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The file system refuses direct I/O (or needs a larger alignment).
                Err(e) if direct && e.kind() == io::ErrorKind::InvalidInput => {
                    self.direct_allowed = false;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Back to a plain descriptor positioned after the data.
    fn into_file(mut self) -> File {
        // Both only fail on a descriptor that is already unusable; the next use reports it.
        let _ = self.set_mode(false);
        let _ = self.file.seek(SeekFrom::Start(self.pos));
        self.file
    }
}

struct Worker {
    tx: Option<SyncSender<AlignedBuf>>,
    back: Receiver<io::Result<AlignedBuf>>,
    handle: Option<JoinHandle<File>>,
    in_flight: usize,
}

fn spawn(mut file: File, direct_allowed: bool) -> io::Result<Worker> {
    let pos = file.stream_position()?;
    let (tx, rx) = sync_channel::<AlignedBuf>(DEPTH);
    let (back_tx, back) = sync_channel::<io::Result<AlignedBuf>>(DEPTH + 2);
    let handle = std::thread::Builder::new()
        .name("pullsim-ingest".into())
        .spawn(move || {
            let mut sink = Sink {
                file,
                pos,
                direct_allowed,
                direct_on: false,
                #[cfg(test)]
                refuse_direct: false,
            };
            let mut failed = false;
            for mut buf in rx {
                if failed {
                    let _ = back_tx.send(Err(io::Error::other("an earlier write failed")));
                    continue;
                }
                match sink.write(buf.as_slice()) {
                    Ok(()) => {
                        buf.clear();
                        let _ = back_tx.send(Ok(buf));
                    }
                    Err(e) => {
                        failed = true;
                        let _ = back_tx.send(Err(e));
                    }
                }
            }
            sink.into_file()
        })?;
    Ok(Worker {
        tx: Some(tx),
        back,
        handle: Some(handle),
        in_flight: 0,
    })
}

/// A buffered, possibly threaded, writer of one file.
pub(crate) struct Pipe {
    file: Option<File>,
    worker: Option<Worker>,
    buf: Option<AlignedBuf>,
    spare: Vec<AlignedBuf>,
    /// Try `O_DIRECT` in the worker.
    direct: bool,
}

impl Pipe {
    pub(crate) fn new(file: File) -> Pipe {
        Pipe::with_direct(file, cfg!(target_os = "linux"))
    }

    /// A pipe that uses `O_DIRECT` only when `direct` (and the file system allows it).
    pub(crate) fn with_direct(file: File, direct: bool) -> Pipe {
        Pipe {
            file: Some(file),
            worker: None,
            buf: None,
            spare: Vec::new(),
            direct,
        }
    }

    fn receive_one(&mut self) -> io::Result<()> {
        let Some(w) = self.worker.as_mut() else {
            return Ok(());
        };
        match w.back.recv() {
            Ok(Ok(buf)) => {
                w.in_flight -= 1;
                self.spare.push(buf);
                Ok(())
            }
            Ok(Err(e)) => {
                w.in_flight -= 1;
                Err(e)
            }
            Err(_) => Err(io::Error::other("ingest worker stopped")),
        }
    }

    /// Hand a full (or final) buffer to the worker, starting it if needed.
    fn dispatch(&mut self, buf: AlignedBuf) -> io::Result<()> {
        if self.worker.is_none() {
            let Some(file) = self.file.take() else {
                return Err(io::Error::other("ingest file already closed"));
            };
            self.worker = Some(spawn(file, self.direct)?);
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
        tx.send(buf)
            .map_err(|_| io::Error::other("ingest worker stopped"))?;
        w.in_flight += 1;
        Ok(())
    }

    /// Hand the current buffer (if it holds anything) to the worker.
    fn send(&mut self) -> io::Result<()> {
        match self.buf.take() {
            Some(b) if !b.is_empty() => self.dispatch(b),
            other => {
                self.buf = other;
                Ok(())
            }
        }
    }

    /// The buffer being filled (a spare one, or a new one).
    fn current(&mut self) -> io::Result<&mut AlignedBuf> {
        if self.buf.is_none() {
            let b = match self.spare.pop() {
                Some(b) => b,
                None => pooled()?,
            };
            self.buf = Some(b);
        }
        self.buf
            .as_mut()
            .ok_or_else(|| io::Error::other("ingest buffer missing"))
    }

    /// Everything written so far is in the file (not necessarily on disk).
    pub(crate) fn flush_all(&mut self) -> io::Result<()> {
        if self.worker.is_none() {
            if let (Some(f), Some(b)) = (self.file.as_mut(), self.buf.as_mut()) {
                f.write_all(b.as_slice())?;
                b.clear();
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
    /// Takes all of `data` (filling and handing over as many buffers as it needs).
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            let buf = self.current()?;
            let n = buf.push(data);
            data = &data[n..];
            if buf.is_full() {
                self.send()?;
            }
        }
        Ok(total)
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
        for b in self.spare.drain(..).chain(self.buf.take()) {
            recycle(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Write `data` in pieces of `piece` bytes after `start`, return the file's bytes.
    fn round_trip(
        dir: &std::path::Path,
        direct: bool,
        start: &[u8],
        data: &[u8],
        piece: usize,
    ) -> Vec<u8> {
        let path = dir.join(format!("f-{direct}-{}-{piece}", start.len()));
        let mut f = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        f.write_all(start).expect("prefix");
        let mut p = Pipe::with_direct(f, direct);
        for c in data.chunks(piece) {
            p.write_all(c).expect("write");
        }
        let mut f = p.finish().expect("finish");
        // The descriptor comes back plain and positioned after the data.
        let end = f.stream_position().expect("position");
        assert_eq!(end as usize, start.len() + data.len());
        f.write_all(b"!").expect("plain write after finish");
        let mut out = Vec::new();
        File::open(&path)
            .expect("reopen")
            .read_to_end(&mut out)
            .expect("read");
        assert_eq!(out.pop(), Some(b'!'));
        out
    }

    #[test]
    fn every_mode_writes_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Sizes around the chunk and block boundaries; odd starts force the buffered path.
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN + 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK + ALIGN + 7,
        ] {
            let data = pattern(len);
            for start in [&b""[..], &b"abc"[..], &pattern(ALIGN)[..]] {
                for (direct, piece) in [(true, 400_000), (true, 65_536), (false, 1000), (true, 7)] {
                    let got = round_trip(dir.path(), direct, start, &data, piece);
                    let mut want = start.to_vec();
                    want.extend_from_slice(&data);
                    assert!(
                        got == want,
                        "len {len} start {} direct {direct} piece {piece}",
                        start.len()
                    );
                }
            }
        }
    }

    fn aligned(data: &[u8]) -> AlignedBuf {
        let mut b = AlignedBuf::new().expect("buffer");
        assert_eq!(b.push(data), data.len());
        b
    }

    /// Does this file system take an aligned `O_DIRECT` write?
    #[cfg(target_os = "linux")]
    fn direct_io_works(dir: &std::path::Path) -> bool {
        use std::os::unix::fs::OpenOptionsExt;
        let Ok(f) = File::options()
            .create(true)
            .truncate(true)
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(dir.join("probe"))
        else {
            return false;
        };
        write_at(&f, aligned(&[7u8; ALIGN]).as_slice(), 0).is_ok()
    }

    fn sink(path: &std::path::Path, refuse_direct: bool) -> Sink {
        Sink {
            file: File::create(path).expect("create"),
            pos: 0,
            direct_allowed: true,
            direct_on: false,
            refuse_direct,
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn aligned_blocks_go_direct_and_the_tail_through_the_page_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = pattern(3 * ALIGN + 100);
        let buf = aligned(&data);
        let mut s = sink(&dir.path().join("d"), false);
        s.write(&buf.as_slice()[..3 * ALIGN]).expect("aligned part");
        if direct_io_works(dir.path()) {
            assert!(s.direct_on && s.direct_allowed, "direct I/O was not used");
        }
        s.write(&buf.as_slice()[3 * ALIGN..]).expect("tail");
        assert!(
            !s.direct_on,
            "the unaligned tail must be written without O_DIRECT"
        );
        drop(s.into_file());
        assert!(std::fs::read(dir.path().join("d")).expect("read") == data);
    }

    #[test]
    fn a_file_system_that_refuses_direct_io_gets_buffered_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = pattern(2 * CHUNK);
        let mut s = sink(&dir.path().join("r"), true);
        for part in data.chunks(CHUNK) {
            s.write(aligned(part).as_slice()).expect("write");
        }
        assert!(!s.direct_allowed && !s.direct_on);
        drop(s.into_file());
        assert!(std::fs::read(dir.path().join("r")).expect("read") == data);
    }

    #[test]
    fn with_file_truncates_and_writing_continues() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        let f = File::create(&path).expect("create");
        let mut p = Pipe::new(f);
        p.write_all(&pattern(CHUNK + 5)).expect("write");
        p.with_file(|f| {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            Ok(())
        })
        .expect("truncate");
        let data = pattern(2 * CHUNK + 3);
        p.write_all(&data).expect("write again");
        drop(p.finish().expect("finish"));
        assert!(std::fs::read(&path).expect("read") == data);
    }
}
