//! What a client holds in flight: one download per blob per process, and the budget of
//! network buffers every download of the client shares.

use std::sync::Arc;

use bytes::Bytes;
use pullsim_reference::Digest;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One download per blob per process: concurrent pulls needing the same blob wait for the
/// first and then find it in the store.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    map: std::sync::Mutex<std::collections::HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    /// The lock for a digest (created on first use).
    pub(crate) fn lock_for(&self, d: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        match self.map.lock() {
            Ok(mut m) => m.entry(d.clone()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Drop the entry when nobody else holds it.
    pub(crate) fn release(&self, d: &Digest) {
        if let Ok(mut m) = self.map.lock()
            && let Some(l) = m.get(d)
            && Arc::strong_count(l) == 1
        {
            m.remove(d);
        }
    }
}

/// The most memory one network chunk can hold: hyper's HTTP/1 read buffer limit
/// (`DEFAULT_MAX_BUFFER_SIZE` = 8192 + 4096 × 100 bytes in `hyper/src/proto/h1/io.rs@v1.12.0`,
/// which reqwest does not change). A body chunk is split off that buffer, so a chunk of any
/// length keeps at most this much allocated until it is dropped.
pub const NETWORK_CHUNK_MAX: usize = 8192 + 4096 * 100;

/// The network buffers received but not yet written to the sink, across every download of a
/// client (all its pulls): at most `slots` chunks, each charged [`NETWORK_CHUNK_MAX`] whatever
/// its length (what it can keep allocated). A download that finds the budget spent stops
/// reading its socket until the writers catch up (TCP flow control holds the sender). Each
/// download has one chunk at a time with its writer (and frees it before reading the next).
#[derive(Debug)]
pub(crate) struct ChunkBudget {
    slots: Arc<Semaphore>,
}

/// A received network chunk and its slot of the [`ChunkBudget`] (freed when dropped).
pub(crate) struct Charged {
    bytes: Bytes,
    _slot: OwnedSemaphorePermit,
}

impl Charged {
    /// The chunk, its slot given back (call once it is written).
    pub(crate) fn written(self) -> Bytes {
        self.bytes
    }
}

impl ChunkBudget {
    /// A budget of `bytes` (at least one chunk).
    pub(crate) fn new(bytes: usize) -> ChunkBudget {
        ChunkBudget {
            slots: Arc::new(Semaphore::new(Self::slots_for(bytes))),
        }
    }

    /// How many chunks a budget of `bytes` holds (at least one).
    pub(crate) fn slots_for(bytes: usize) -> usize {
        (bytes / NETWORK_CHUNK_MAX).max(1)
    }

    /// Wait for a slot for `bytes` (first come, first served). `None` only if the budget was
    /// closed, which this crate never does.
    pub(crate) async fn charge(&self, bytes: Bytes) -> Option<Charged> {
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        Some(Charged { bytes, _slot: slot })
    }

    /// Slots free now (tests).
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_wait_for_a_slot_and_free_it_when_dropped() {
        let b = ChunkBudget::new(2 * NETWORK_CHUNK_MAX + 1);
        assert_eq!(b.available(), 2);
        let one = b.charge(Bytes::from_static(b"a")).await.unwrap();
        let two = b.charge(Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(b.available(), 0);
        // A third chunk waits until one of the first two is written (dropped).
        let third = b.charge(Bytes::from_static(b"c"));
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut third)
                .await
                .is_err()
        );
        drop(one);
        let three = third.await.unwrap();
        assert_eq!(&three.written()[..], b"c");
        assert_eq!(b.available(), 1);
        drop(two);
        assert_eq!(b.available(), 2);
        // A budget smaller than one chunk still lets one through.
        assert_eq!(ChunkBudget::slots_for(0), 1);
        assert_eq!(ChunkBudget::slots_for(NETWORK_CHUNK_MAX * 8), 8);
    }
}
