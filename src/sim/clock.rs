//! Time and identity for simulated objects: an injectable clock and a counter-based id generator,
//! so that a seeded test sees the same timestamps and ids on every run.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where a simulator reads "now" when it stamps a new object.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The real wall clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to: tests set it, then assert exact timestamps.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `ms` milliseconds since the epoch.
    pub fn at(ms: i64) -> Self {
        Self {
            ms: AtomicI64::new(ms),
        }
    }

    /// Moves the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// Counter-based ids in a platform's own style, e.g. `etSimG` followed by a zero-padded counter.
///
/// Ids never depend on time or randomness, so the n-th object created after a given fixture always
/// gets the same id. An id that the fixture already uses is skipped.
#[derive(Debug, Clone)]
pub(crate) struct IdGen {
    prefix: &'static str,
    width: usize,
    next: u64,
}

impl IdGen {
    /// Ids are `prefix` followed by the counter padded with zeros to `width` digits.
    pub(crate) fn new(prefix: &'static str, width: usize) -> Self {
        Self {
            prefix,
            width,
            next: 1,
        }
    }

    /// The id a fixture object gives, or else the next one that no fixture object gives.
    pub(crate) fn given_or_next(
        &mut self,
        id: &Option<String>,
        given: &std::collections::BTreeSet<&str>,
    ) -> String {
        id.clone()
            .unwrap_or_else(|| self.next(|id| given.contains(id)))
    }

    /// The next id for which `taken` is false.
    pub(crate) fn next(&mut self, taken: impl Fn(&str) -> bool) -> String {
        loop {
            let id = format!("{}{:0>width$}", self.prefix, self.next, width = self.width);
            self.next += 1;
            if !taken(&id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_up_and_skip_taken_ones() {
        let mut ids = IdGen::new("etSimT", 26);
        let first = ids.next(|_| false);
        assert_eq!(first, "etSimT00000000000000000000000001");
        assert_eq!(first.len(), 32);
        let third = ids.next(|id| id.ends_with('2'));
        assert_eq!(third, "etSimT00000000000000000000000003");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        clock.advance(5);
        assert_eq!(clock.now_ms(), 1_005);
        clock.set(7);
        assert_eq!(clock.now_ms(), 7);
    }
}
