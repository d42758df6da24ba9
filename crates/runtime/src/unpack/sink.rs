//! Where decompressed bytes go: SHA-256 and a count (containerd's digester and `readCounter`
//! in `fsApplier.Apply`).

use sha2::{Digest as _, Sha256};

/// The hash and size of the decompressed stream.
pub(crate) struct Out {
    sha: Sha256,
    size: u64,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out {
            sha: Sha256::new(),
            size: 0,
        }
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The `sha256:` hex digest and the size.
    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.sha.finalize()), self.size)
    }
}
