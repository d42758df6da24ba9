//! [`DiffHasher`]: a layer's diff ID computed while its compressed bytes stream past, in
//! chunks of any size: sniff the first bytes as `compression.DecompressStream` does, then
//! decode and hash. Memory is bounded per hasher (the sniffed head, a gzip member header, the
//! decoders' windows and one output buffer), never a whole layer.

use pullsim_reference::Digest;
use pullsim_store::Uncompressed;
use zstd::stream::raw::{DParameter, Decoder, InBuffer, Operation, OutBuffer};

use super::error::DecompressError;
use super::gzip::GzipStream;
use super::media::{Compression, SNIFF_LEN, detect_compression};
use super::sink::Out;

/// Output buffer of the zstd decoder.
const ZSTD_OUT: usize = 128 * 1024;
/// The largest zstd window accepted: klauspost/compress's default `maxWindowSize` (512 MiB),
/// which containerd's `zstd.NewReader` keeps. Frames that declare more fail as in containerd.
const ZSTD_WINDOW_LOG_MAX: u32 = 29;

enum State {
    /// Fewer than [`SNIFF_LEN`] bytes seen.
    Sniff {
        head: [u8; SNIFF_LEN],
        len: usize,
    },
    /// Not compressed: the diff ID is the blob's own digest; nothing to hash.
    Plain,
    Gzip(Box<GzipStream>),
    Zstd(Box<ZstdStream>),
    Failed(DecompressError),
}

/// The uncompressed digest of a stream fed in chunks. Chunk boundaries do not matter.
pub struct DiffHasher {
    state: State,
    out: Out,
    compression: Option<Compression>,
}

impl Default for DiffHasher {
    fn default() -> Self {
        DiffHasher::new()
    }
}

impl std::fmt::Debug for DiffHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffHasher")
            .field("compression", &self.compression())
            .finish_non_exhaustive()
    }
}

impl DiffHasher {
    /// A hasher at the start of a stream.
    pub fn new() -> Self {
        DiffHasher {
            state: State::Sniff {
                head: [0; SNIFF_LEN],
                len: 0,
            },
            out: Out::new(),
            compression: None,
        }
    }

    /// The compression sniffed so far (`None` before [`SNIFF_LEN`] bytes were seen).
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Whether the stream is compressed and will be decoded (false until sniffed).
    pub fn decodes(&self) -> bool {
        matches!(self.state, State::Gzip(_) | State::Zstd(_))
    }

    /// Feed the next chunk. After an error the hasher stays failed and ignores input.
    pub fn update(&mut self, mut chunk: &[u8]) {
        if let State::Sniff { head, len } = &mut self.state {
            let take = (SNIFF_LEN - *len).min(chunk.len());
            head[*len..*len + take].copy_from_slice(&chunk[..take]);
            *len += take;
            chunk = &chunk[take..];
            if *len < SNIFF_LEN {
                return;
            }
            let head = *head;
            self.start(&head);
        }
        self.feed(chunk);
    }

    /// Decide on the compression from `head` and feed it.
    fn start(&mut self, head: &[u8]) {
        let c = detect_compression(head);
        self.compression = Some(c);
        self.state = match c {
            Compression::Uncompressed => State::Plain,
            Compression::Gzip => State::Gzip(Box::new(GzipStream::new())),
            Compression::Zstd => match ZstdStream::new() {
                Ok(z) => State::Zstd(Box::new(z)),
                Err(e) => State::Failed(e),
            },
        };
        self.feed(head);
    }

    fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let r = match &mut self.state {
            State::Gzip(g) => g.feed(chunk, &mut self.out),
            State::Zstd(z) => z.feed(chunk, &mut self.out),
            State::Sniff { .. } | State::Plain | State::Failed(_) => Ok(()),
        };
        if let Err(e) = r {
            self.state = State::Failed(e);
        }
    }

    /// The end of the stream: `Ok(None)` when it was not compressed (its diff ID is its own
    /// digest), else the digest and size of the decompressed bytes.
    pub fn finish(mut self) -> Result<Option<Uncompressed>, DecompressError> {
        if let State::Sniff { head, len } = self.state {
            // A stream shorter than the sniffed length: decided on what there is.
            self.state = State::Sniff { head, len: 0 };
            self.start(&head[..len]);
        }
        let r = match &mut self.state {
            State::Plain | State::Sniff { .. } => return Ok(None),
            State::Failed(e) => Err(e.clone()),
            State::Gzip(g) => g.finish(),
            State::Zstd(z) => z.finish(),
        };
        r?;
        let (hex, size) = self.out.finish();
        let digest = Digest::from_sha256_hex(&hex).map_err(|e| DecompressError::Zstd {
            message: format!("computed digest: {e}"),
        })?;
        Ok(Some(Uncompressed { digest, size }))
    }
}

/// libzstd's streaming decoder (it reads concatenated and skippable frames, as klauspost's).
struct ZstdStream {
    dec: Decoder<'static>,
    out: Box<[u8]>,
    /// libzstd's hint: 0 when the last frame is complete and flushed.
    hint: usize,
}

/// A libzstd error as klauspost/compress words the same failure, where it has a word for it.
fn zstd_error(e: std::io::Error) -> DecompressError {
    let m = e.to_string();
    let message = match m.as_str() {
        "Unknown frame descriptor" => "invalid input: magic number mismatch".to_string(),
        "Restored data doesn't match checksum" => "CRC check failed".to_string(),
        "Frame requires too much memory for decoding" => "window size exceeded".to_string(),
        _ => m,
    };
    DecompressError::Zstd { message }
}

impl ZstdStream {
    fn new() -> Result<Self, DecompressError> {
        let mut dec = Decoder::new().map_err(zstd_error)?;
        dec.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
            .map_err(zstd_error)?;
        Ok(ZstdStream {
            dec,
            out: vec![0; ZSTD_OUT].into_boxed_slice(),
            hint: 1,
        })
    }

    fn feed(&mut self, chunk: &[u8], sink: &mut Out) -> Result<(), DecompressError> {
        let mut input = InBuffer::around(chunk);
        loop {
            let mut output = OutBuffer::around(&mut self.out[..]);
            self.hint = self.dec.run(&mut input, &mut output).map_err(zstd_error)?;
            let made = output.pos();
            if made > 0 {
                sink.write(&self.out[..made]);
            }
            // Go on while input is left, or while the frame has output pending (a full
            // buffer). Not after a frame ended (hint 0): a call with no input would start the
            // next frame's header and its hint would say the stream is cut.
            if input.pos() == chunk.len() && (made < self.out.len() || self.hint == 0) {
                return Ok(());
            }
        }
    }

    fn finish(&mut self) -> Result<(), DecompressError> {
        if self.hint == 0 {
            Ok(())
        } else {
            Err(DecompressError::UnexpectedEof {
                compression: Compression::Zstd,
                in_first_header: false,
            })
        }
    }
}

#[cfg(test)]
mod tests;
