//! Image pull back-off: client-go's `flowcontrol.Backoff` with the kubelet's parameters, on a
//! virtual clock.
//!
//! Upstream: staging/src/k8s.io/client-go/util/flowcontrol/backoff.go (Next,
//! IsInBackOffSinceUpdate, GC, hasExpired) and pkg/kubelet/kubelet.go
//! (`flowcontrol.NewBackOff(imageBackOffPeriod, MaxImageBackOff)`: 10 s, 300 s, no jitter —
//! NewBackOff sets maxJitterFactor 0).

use std::collections::HashMap;
use std::time::Duration;

use crate::Time;

/// The kubelet's initial image pull back-off (`imageBackOffPeriod`, pkg/kubelet/kubelet.go).
pub const IMAGE_BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// The kubelet's maximum image pull back-off (`MaxImageBackOff`, pkg/kubelet/kubelet.go).
pub const IMAGE_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The back-off key the image manager uses: `<podUID>_<image>`, with the image as written in the
/// pod spec (pkg/kubelet/images/image_manager.go, pullImage).
pub fn backoff_key(pod_uid: &str, image: &str) -> String {
    let mut key = String::with_capacity(pod_uid.len() + 1 + image.len());
    key.push_str(pod_uid);
    key.push('_');
    key.push_str(image);
    key
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Entry {
    backoff: Duration,
    last_update: Time,
}

/// Per-key exponential back-off: the first failure waits `initial`, each further failure doubles
/// the wait up to `max`; an entry idle for more than `2 × max` starts over (and is dropped by
/// [`Backoff::gc`]).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    /// The kubelet's image back-off: 10 s initial, 300 s max.
    pub fn kubelet() -> Self {
        Self::new(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX)
    }

    /// A back-off with the given initial and maximum delay.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// The initial delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The maximum delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// client-go's hasExpired: idle for more than twice the maximum.
    fn has_expired(&self, event_time: Time, last_update: Time) -> bool {
        event_time.saturating_sub(last_update) > self.max.saturating_mul(2)
    }

    /// `IsInBackOffSinceUpdate(key, now)`: the key has an entry that has not expired, and less
    /// than its current delay has passed since its last update.
    pub fn is_in_backoff(&self, key: &str, now: Time) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(e) if self.has_expired(now, e.last_update) => false,
            Some(e) => now.saturating_sub(e.last_update) < e.backoff,
        }
    }

    /// How long until the key leaves back-off (`None` when it is not in back-off).
    pub fn remaining(&self, key: &str, now: Time) -> Option<Duration> {
        if !self.is_in_backoff(key, now) {
            return None;
        }
        let e = self.entries.get(key)?;
        Some(e.backoff.saturating_sub(now.saturating_sub(e.last_update)))
    }

    /// `Next(key, now)`, after a failed pull: a new or expired entry starts at `initial`,
    /// otherwise the delay doubles, capped at `max`; the entry's last update becomes `now`.
    pub fn next(&mut self, key: &str, now: Time) {
        let initial = self.initial;
        let max = self.max;
        let expired = match self.entries.get(key) {
            None => true,
            Some(e) => self.has_expired(now, e.last_update),
        };
        if expired {
            self.entries.insert(
                key.to_string(),
                Entry {
                    backoff: initial,
                    last_update: now,
                },
            );
        } else if let Some(e) = self.entries.get_mut(key) {
            e.backoff = e.backoff.saturating_mul(2).min(max);
            e.last_update = now;
        }
    }

    /// `Get(key)`: the key's current delay, if it has an entry.
    pub fn get(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.backoff)
    }

    /// `GC()`: drops every entry idle for more than `2 × max`. The kubelet calls it after each
    /// successful pull.
    pub fn gc(&mut self, now: Time) {
        let max2 = self.max.saturating_mul(2);
        self.entries
            .retain(|_, e| now.saturating_sub(e.last_update) <= max2);
    }

    /// `Reset(key)` / `DeleteEntry(key)`: forget the key.
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Number of keys with an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The delays after `failures` consecutive failures with no pause long enough to reset:
/// `[10s, 20s, 40s, 80s, 160s, 300s, 300s, …]` for the kubelet's back-off.
pub fn schedule(initial: Duration, max: Duration, failures: usize) -> Vec<Duration> {
    let mut b = Backoff::new(initial, max);
    let mut now = Time::ZERO;
    let mut out = Vec::with_capacity(failures);
    for _ in 0..failures {
        b.next("k", now);
        let d = b.get("k").unwrap_or(initial);
        out.push(d);
        now += d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The kubelet's sequence with a fake clock: each retry happens as soon as the back-off
    /// allows. Mirrors TestSlowBackoff / TestBackoffHighWaterMark in
    /// staging/src/k8s.io/client-go/util/flowcontrol/backoff_test.go with kubelet parameters.
    #[test]
    fn kubelet_sequence_10_to_300() {
        let mut b = Backoff::kubelet();
        let key = backoff_key("uid-1", "nginx");
        assert_eq!(key, "uid-1_nginx");
        let mut now = s(1000);
        assert!(!b.is_in_backoff(&key, now));
        let mut seen = Vec::new();
        for _ in 0..7 {
            b.next(&key, now);
            let d = b.get(&key).unwrap();
            seen.push(d.as_secs());
            assert!(b.is_in_backoff(&key, now));
            assert!(b.is_in_backoff(&key, now + d - Duration::from_nanos(1)));
            assert!(!b.is_in_backoff(&key, now + d));
            now += d;
        }
        assert_eq!(seen, vec![10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(
            schedule(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, 7),
            [10, 20, 40, 80, 160, 300, 300].map(s).to_vec()
        );
    }

    /// An entry idle for more than 2 × max (600 s) starts over at the initial delay; exactly
    /// 600 s is not yet expired (hasExpired uses `>`).
    #[test]
    fn reset_after_600s_idle() {
        let mut b = Backoff::kubelet();
        let k = "p_img";
        let mut now = s(0);
        for _ in 0..4 {
            b.next(k, now);
            now += b.get(k).unwrap();
        }
        assert_eq!(b.get(k), Some(s(80)));
        let last = now - s(80);
        // exactly 600 s after the last update: still counts, doubles
        let mut b2 = b.clone();
        b2.next(k, last + s(600));
        assert_eq!(b2.get(k), Some(s(160)));
        // 600 s + 1 ns: expired, resets
        b.next(k, last + s(600) + Duration::from_nanos(1));
        assert_eq!(b.get(k), Some(s(10)));
    }

    #[test]
    fn expired_entry_is_not_in_backoff_and_gc_drops_it() {
        let mut b = Backoff::new(s(1), s(300));
        b.next("a", s(0));
        b.next("b", s(500));
        assert!(!b.is_in_backoff("a", s(601)));
        b.gc(s(601));
        assert_eq!(b.get("a"), None);
        assert_eq!(b.get("b"), Some(s(1)));
        b.gc(s(1101));
        assert!(b.is_empty());
    }

    #[test]
    fn keys_are_independent_and_reset_forgets() {
        let mut b = Backoff::kubelet();
        b.next("pod1_x", s(0));
        b.next("pod1_x", s(10));
        b.next("pod2_x", s(10));
        assert_eq!(b.get("pod1_x"), Some(s(20)));
        assert_eq!(b.get("pod2_x"), Some(s(10)));
        assert_eq!(b.remaining("pod1_x", s(15)), Some(s(15)));
        b.reset("pod1_x");
        assert!(!b.is_in_backoff("pod1_x", s(15)));
        assert_eq!(b.len(), 1);
    }
}
