//! A push-mode gzip decoder with Go's `compress/gzip` rules (multistream, as containerd reads
//! layers): members back to back; after a member, end of input is a clean end, 1–9 bytes are
//! `unexpected EOF`, anything else must be another member's header (`gzip: invalid header`).
//! The deflate data goes through zlib-rs (via flate2's raw `Decompress`), the header and
//! trailer are parsed here, so chunks may split them anywhere.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::error::DecompressError;
use super::media::Compression;
use super::sink::Out;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// Go's `readString` reads into a 512-byte buffer: a longer name or comment is ErrHeader.
const MAX_STRING: usize = 512;
/// Output buffer per decoder.
const OUT_BUF: usize = 64 * 1024;

enum Phase {
    /// Collecting a member header (`first`: the stream's first).
    Header { buf: Vec<u8>, first: bool },
    /// Inflating a member's deflate data.
    Body,
    /// Collecting a member's 8-byte trailer (CRC-32, size mod 2^32, little endian).
    Trailer { buf: [u8; 8], len: usize },
}

/// The decoder. Feed it with [`GzipStream::feed`], end it with [`GzipStream::finish`].
pub(crate) struct GzipStream {
    phase: Phase,
    inflate: Decompress,
    crc: Crc,
    out: Box<[u8]>,
    /// Bytes of the whole compressed stream consumed.
    consumed: u64,
    /// Where the current member (or its header) starts.
    member_start: u64,
}

/// The outcome of parsing a header from the bytes collected so far.
enum Parsed {
    Complete(usize),
    NeedMore,
}

/// `gzip.Reader.readHeader`: magic and method, then the optional fields; `FHCRC` is checked
/// against the CRC-32 of the header bytes before it.
fn parse_header(b: &[u8]) -> Result<Parsed, ()> {
    if b.len() < 10 {
        return Ok(Parsed::NeedMore);
    }
    if b[0] != 0x1f || b[1] != 0x8b || b[2] != 0x08 {
        return Err(());
    }
    let flg = b[3];
    let mut pos = 10;
    if flg & FEXTRA != 0 {
        let Some(x) = b.get(pos..pos + 2) else {
            return Ok(Parsed::NeedMore);
        };
        let xlen = usize::from(u16::from_le_bytes([x[0], x[1]]));
        pos += 2;
        if b.len() < pos + xlen {
            return Ok(Parsed::NeedMore);
        }
        pos += xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flg & flag != 0 {
            let window = &b[pos..b.len().min(pos + MAX_STRING)];
            match window.iter().position(|&c| c == 0) {
                Some(i) => pos += i + 1,
                None if window.len() >= MAX_STRING => return Err(()),
                None => return Ok(Parsed::NeedMore),
            }
        }
    }
    if flg & FHCRC != 0 {
        let Some(x) = b.get(pos..pos + 2) else {
            return Ok(Parsed::NeedMore);
        };
        let want = u16::from_le_bytes([x[0], x[1]]);
        let mut c = Crc::new();
        c.update(&b[..pos]);
        if c.sum() as u16 != want {
            return Err(());
        }
        pos += 2;
    }
    Ok(Parsed::Complete(pos))
}

impl GzipStream {
    pub(crate) fn new() -> Self {
        GzipStream {
            phase: Phase::Header {
                buf: Vec::with_capacity(16),
                first: true,
            },
            inflate: Decompress::new(false),
            crc: Crc::new(),
            out: vec![0; OUT_BUF].into_boxed_slice(),
            consumed: 0,
            member_start: 0,
        }
    }

    /// Decode `input`, writing the decompressed bytes to `sink`.
    pub(crate) fn feed(&mut self, mut input: &[u8], sink: &mut Out) -> Result<(), DecompressError> {
        while !input.is_empty() {
            match &mut self.phase {
                Phase::Header { buf, first } => {
                    let first = *first;
                    let before = buf.len();
                    buf.extend_from_slice(input);
                    match parse_header(buf) {
                        Err(()) => {
                            return Err(DecompressError::GzipHeader {
                                first,
                                offset: self.member_start,
                            });
                        }
                        Ok(Parsed::NeedMore) => {
                            self.consumed += input.len() as u64;
                            return Ok(());
                        }
                        Ok(Parsed::Complete(n)) => {
                            let used = n - before;
                            self.consumed += used as u64;
                            input = &input[used..];
                            self.inflate.reset(false);
                            self.crc.reset();
                            self.phase = Phase::Body;
                        }
                    }
                }
                Phase::Body => {
                    let used = self.inflate_some(input, sink)?;
                    input = &input[used..];
                }
                Phase::Trailer { buf, len } => {
                    let take = (8 - *len).min(input.len());
                    buf[*len..*len + take].copy_from_slice(&input[..take]);
                    *len += take;
                    input = &input[take..];
                    self.consumed += take as u64;
                    if *len == 8 {
                        let crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        let size = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                        if crc != self.crc.sum() || size != self.crc.amount() {
                            return Err(DecompressError::GzipChecksum {
                                offset: self.consumed - 8,
                            });
                        }
                        self.member_start = self.consumed;
                        self.phase = Phase::Header {
                            buf: Vec::with_capacity(16),
                            first: false,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Inflate from `input` until it is used up or the member's deflate data ends; returns the
    /// bytes of `input` consumed.
    fn inflate_some(&mut self, input: &[u8], sink: &mut Out) -> Result<usize, DecompressError> {
        let mut pos = 0;
        loop {
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(&input[pos..], &mut self.out, FlushDecompress::None)
                .map_err(|_| DecompressError::FlateCorrupt {
                    offset: self.inflate.total_in(),
                })?;
            let used = (self.inflate.total_in() - in0) as usize;
            let made = (self.inflate.total_out() - out0) as usize;
            pos += used;
            self.consumed += used as u64;
            if made > 0 {
                let bytes = &self.out[..made];
                self.crc.update(bytes);
                sink.write(bytes);
            }
            match status {
                Status::StreamEnd => {
                    self.phase = Phase::Trailer {
                        buf: [0; 8],
                        len: 0,
                    };
                    return Ok(pos);
                }
                Status::Ok | Status::BufError => {
                    // More to come out while the output buffer fills; else all input is in.
                    if made < self.out.len() && (pos == input.len() || (used == 0 && made == 0)) {
                        return Ok(pos);
                    }
                }
            }
        }
    }

    /// The end of the input: a clean end only between members.
    pub(crate) fn finish(&mut self) -> Result<(), DecompressError> {
        match &self.phase {
            Phase::Header { buf, first: false } if buf.is_empty() => Ok(()),
            Phase::Header { first, .. } => Err(DecompressError::UnexpectedEof {
                compression: Compression::Gzip,
                in_first_header: *first,
            }),
            Phase::Body | Phase::Trailer { .. } => Err(DecompressError::UnexpectedEof {
                compression: Compression::Gzip,
                in_first_header: false,
            }),
        }
    }
}
