//! The client-side rate limit of one platform, and how it adapts to the platform's frequency
//! errors.
//!
//! governor is the limiter: its GCRA at the configured quota paces every attempt. When the
//! platform still answers with a frequency error (WeCom 45009/45033, HTTP 429, a documented busy
//! code), its real budget is smaller than configured (another client shares it, or the published
//! figure is optimistic): a second governor at half the current rate is swapped in and consulted
//! as well, and every `HOLD` without a new frequency error its rate steps back up by half until it
//! reaches the configured one and is dropped. Answers to calls that were already in flight when
//! the rate was lowered do not lower it again (`GRACE`).
//!
//! Both governors read tokio's clock, so that waits and recovery follow paused time in tests.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// How long a lowered rate is kept before it steps up again.
pub const HOLD: Duration = Duration::from_secs(2);

/// Frequency errors within this time of the last lowering answer calls sent before it.
pub const GRACE: Duration = Duration::from_millis(500);

/// governor's clock over tokio's (paused in tests): the time since the limiter was made.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

fn gcra(clock: TokioClock, per_second: u32, burst: u32) -> Gcra {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct_with_clock(Quota::per_second(per_second).allow_burst(burst), clock)
}

/// A lowered rate, in force besides the configured one.
struct Lowered {
    gcra: Arc<Gcra>,
    per_second: u32,
    /// When it was last lowered.
    since: Duration,
    /// When it may step up.
    until: Duration,
}

/// One platform's limiter: shared by every request of its client.
pub struct Limiter {
    clock: TokioClock,
    configured: Gcra,
    per_second: u32,
    lowered: Mutex<Option<Lowered>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("per_second", &self.per_second)
            .field("now", &self.per_second_now())
            .finish()
    }
}

impl Limiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        Self {
            clock,
            configured: gcra(clock, per_second, burst),
            per_second: per_second.max(1),
            lowered: Mutex::new(None),
        }
    }

    /// Waits until a call may be sent: the configured rate, and the lowered one if in force.
    pub async fn until_ready(&self) {
        wait(&self.configured, self.clock).await;
        if let Some(lowered) = self.lowered() {
            wait(&lowered, self.clock).await;
        }
    }

    /// The platform answered with a frequency error: halve the rate in force.
    pub fn slow_down(&self) {
        let now = self.clock.now();
        let mut lowered = self.lowered.lock().expect("never poisoned");
        if let Some(l) = lowered.as_mut()
            && now < l.since + GRACE
        {
            l.until = now + HOLD;
            return;
        }
        let current = lowered.as_ref().map_or(self.per_second, |l| l.per_second);
        let per_second = (current / 2).max(1);
        tracing::info!(
            message = "The platform asked to slow down: lowering the request rate.",
            per_second
        );
        *lowered = Some(Lowered {
            gcra: Arc::new(gcra(self.clock, per_second, 1)),
            per_second,
            since: now,
            until: now + HOLD,
        });
    }

    /// The rate in force now, per second (for logs and tests).
    pub fn per_second_now(&self) -> u32 {
        let _ = self.lowered();
        let lowered = self.lowered.lock().expect("never poisoned");
        lowered.as_ref().map_or(self.per_second, |l| l.per_second)
    }

    /// The lowered governor in force, after stepping it up if it has been held long enough.
    fn lowered(&self) -> Option<Arc<Gcra>> {
        let now = self.clock.now();
        let mut lowered = self.lowered.lock().expect("never poisoned");
        let l = lowered.as_mut()?;
        if now >= l.until {
            let per_second = l.per_second.saturating_add(l.per_second.div_ceil(2));
            if per_second >= self.per_second {
                *lowered = None;
                return None;
            }
            l.gcra = Arc::new(gcra(self.clock, per_second, 1));
            l.per_second = per_second;
            l.until = now + HOLD;
        }
        Some(l.gcra.clone())
    }
}

async fn wait(gcra: &Gcra, clock: TokioClock) {
    while let Err(not_until) = gcra.check() {
        tokio::time::sleep(not_until.wait_time_from(clock.now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` calls back to back and returns how long they took on the (paused) clock.
    async fn pace(l: &Limiter, n: u32) -> Duration {
        let started = tokio::time::Instant::now();
        for _ in 0..n {
            l.until_ready().await;
        }
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn the_configured_rate_paces_calls() {
        let l = Limiter::new(10, 1);
        // The first is free; nine more at 100 ms each.
        assert_eq!(pace(&l, 10).await, Duration::from_millis(900));
        let burst = Limiter::new(10, 5);
        assert_eq!(
            pace(&burst, 5).await,
            Duration::ZERO,
            "a burst goes at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_frequency_error_halves_the_rate_then_it_recovers_step_by_step() {
        let l = Limiter::new(100, 1);
        l.slow_down();
        assert_eq!(l.per_second_now(), 50);
        // At 50/s, ten calls take 180 ms (the first of each governor free).
        let took = pace(&l, 10).await;
        assert!(
            (Duration::from_millis(170)..=Duration::from_millis(190)).contains(&took),
            "{took:?}"
        );
        // Answers to calls already in flight do not lower it again.
        l.slow_down();
        assert_eq!(l.per_second_now(), 50);
        tokio::time::advance(GRACE).await;
        l.slow_down();
        assert_eq!(
            l.per_second_now(),
            25,
            "a new error after the grace halves again"
        );
        // Quiet for HOLD: up by half, step by step, until the configured rate is back.
        let mut seen = vec![l.per_second_now()];
        while l.per_second_now() < 100 {
            tokio::time::advance(HOLD).await;
            l.until_ready().await;
            seen.push(l.per_second_now());
        }
        assert_eq!(seen, [25, 38, 57, 86, 100]);
        assert!(
            l.lowered.lock().unwrap().is_none(),
            "the second governor is gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_never_drops_below_one_per_second() {
        let l = Limiter::new(3, 1);
        for _ in 0..5 {
            l.slow_down();
            tokio::time::advance(GRACE).await;
        }
        assert_eq!(l.per_second_now(), 1);
        assert_eq!(pace(&l, 3).await, Duration::from_secs(2));
    }
}
