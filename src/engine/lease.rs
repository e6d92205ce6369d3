//! The writer lease: one writer per platform, across processes and replicas, held under one
//! identity per process.
//!
//! Two layers: within the process, an [`Engine`](super::Engine)'s per-platform lock serialises
//! its cycles of one platform; across processes, a lease row in the mirror (`writer:NAME`). The
//! holder recorded in the row is the same for every cycle of this process ([`process_holder`]),
//! so a cycle that was cancelled before it could release leaves a lease that the process's next
//! cycle renews at once instead of waiting out its expiry.
//!
//! # Cancellation
//! Dropping a [`Lease`] (its cycle cancelled or panicking) releases the row from a spawned task
//! that still holds the in-process lock, so the next cycle of this process starts only after the
//! release: it can never have its fresh lease deleted under it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use crate::clock::SharedClock;
use crate::store::Store;

use super::report::Error;

/// How long a writer's lease lasts without renewal by default (`Policy::lease_ttl`); it is renewed
/// before every batch and every third of it while held, so a crashed holder blocks others for
/// at most this long.
pub const LEASE_TTL: Duration = Duration::from_secs(120);

/// The longest a replica waits into a schedule period before its turn ([`turn`]).
pub const MAX_TURN: Duration = Duration::from_secs(60);

/// When, into a schedule period of length `period`, this replica tries a platform's scheduled
/// cycle: uniformly at random in the first quarter of the period (at most [`MAX_TURN`]).
///
/// Replicas sharing a mirror all tick every platform at the same instants. Trying at once would
/// hand each tick to whichever replica's scheduler fires first (a process whose cron loop runs a
/// few hundred milliseconds earlier would win every race and do all the work), and the rest would
/// cycle again once its lease was free. Waiting a random turn measured from the tick itself, not
/// from when the scheduler fired, makes every replica equally likely to go first, so the cycles
/// spread evenly (and a fleet's cycles do not all start in the same second); the first to go
/// cycles, the others find its run and skip (`Engine::cycle_once_since`). A dead replica takes
/// no turns: its platforms go to the others at the next tick, or when its leases expire.
pub fn turn(period: Duration) -> Duration {
    let span = (period / 4).min(MAX_TURN);
    span.mul_f64(rand::random::<f64>())
}

/// How often a waiting writer asks again.
const POLL: Duration = Duration::from_millis(200);

/// This process's identity as a lease holder: `host:pid:nonce`, the same for every cycle.
pub fn process_holder() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(|| {
        let nonce: u32 = rand::random();
        format!("{}:{}:{nonce:08x}", host_name(), std::process::id())
    })
}

/// The in-process half: one lock per platform, shared by an engine's clones.
#[derive(Debug, Default)]
pub(super) struct LocalLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalLocks {
    fn of(&self, platform: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .expect("never poisoned: no panics while held");
        locks.entry(platform.to_owned()).or_default().clone()
    }
}

/// A held writer lease. Renew it before each write; release it at the end (or drop it).
#[derive(Debug)]
pub(super) struct Lease {
    store: Store,
    clock: SharedClock,
    platform: String,
    name: String,
    ttl: Duration,
    local: Option<OwnedMutexGuard<()>>,
    keeper: Option<Keeper>,
}

/// Renews a held lease every third of its TTL, so that a long pull or a slow operation never lets
/// it run out while its holder is alive. Stopped (never aborted mid-statement, which could write
/// the row again after its release) before the lease is released.
#[derive(Debug)]
struct Keeper {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Keeper {
    fn spawn(store: Store, clock: SharedClock, name: String, ttl: Duration) -> Option<Keeper> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let every = (ttl / 3).max(Duration::from_millis(100));
        let task = runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(every) => {}
                }
                match store.try_lease(&name, process_holder(), ttl, clock.now()).await {
                    Ok(None) => {}
                    // The next operation's own renewal reports the loss and stops the cycle.
                    Ok(Some((holder, _))) => {
                        tracing::warn!(message = "The writer lease was lost.", lease = %name, holder = %holder);
                        return;
                    }
                    Err(e) => tracing::warn!(message = "Could not renew the writer lease.", lease = %name, error = %e),
                }
            }
        });
        Some(Keeper { stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Lease {
    /// Takes the platform's lease, waiting up to `wait` for another holder to finish.
    ///
    /// # Errors
    /// [`Error::Busy`] when the wait runs out, [`Error::Store`] when the mirror fails.
    pub(super) async fn acquire(
        store: &Store,
        clock: &SharedClock,
        locks: &LocalLocks,
        platform: &str,
        wait: Duration,
        ttl: Duration,
    ) -> Result<Lease, Error> {
        let started = tokio::time::Instant::now();
        let holder = process_holder();
        let local = tokio::time::timeout(wait, locks.of(platform).lock_owned())
            .await
            .map_err(|_| Error::Busy {
                platform: platform.to_owned(),
                holder: format!("{holder} (another cycle of this process)"),
                until: clock.now(),
                waited: started.elapsed(),
            })?;
        let lease = Lease {
            store: store.clone(),
            clock: clock.clone(),
            platform: platform.to_owned(),
            name: lease_name(platform),
            ttl,
            local: Some(local),
            keeper: None,
        };
        let mut told = false;
        loop {
            let now = clock.now();
            match store.try_lease(&lease.name, holder, ttl, now).await? {
                None => return Ok(lease.kept()),
                Some((other, until)) if holder_is_gone(&other) => {
                    // A writer on this host that no longer runs (killed, crashed) cannot renew:
                    // take its lease now rather than make everyone wait out its expiry. Asking "as
                    // of just after its expiry" lets the one statement decide, so two waiters
                    // cannot both take it.
                    let after = until + chrono::Duration::microseconds(1);
                    if store
                        .try_lease(&lease.name, holder, ttl, after.max(now))
                        .await?
                        .is_none()
                    {
                        tracing::warn!(message = "Took over the lease of a writer that no longer runs.", platform = %platform, holder = %other);
                        return Ok(lease.kept());
                    }
                }
                Some((other, until)) => {
                    let waited = started.elapsed();
                    if waited >= wait {
                        return Err(Error::Busy {
                            platform: platform.to_owned(),
                            holder: other,
                            until,
                            waited,
                        });
                    }
                    if !told {
                        tracing::warn!(message = "Waiting for another writer of this platform.", platform = %platform, holder = %other, until = %until);
                        told = true;
                    }
                    tokio::time::sleep(POLL.min(wait - waited)).await;
                }
            }
        }
    }

    fn kept(mut self) -> Lease {
        self.keeper = Keeper::spawn(
            self.store.clone(),
            self.clock.clone(),
            self.name.clone(),
            self.ttl,
        );
        self
    }

    /// Extends the lease before a write.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when it expired and another writer took it.
    pub(super) async fn renew(&self) -> Result<(), Error> {
        match self
            .store
            .try_lease(&self.name, process_holder(), self.ttl, self.clock.now())
            .await?
        {
            None => Ok(()),
            Some((holder, _)) => Err(Error::LeaseLost {
                platform: self.platform.clone(),
                holder,
            }),
        }
    }

    /// Gives the lease up now.
    pub(super) async fn release(mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.stop().await;
        }
        release(&self.store, &self.name, &self.platform).await;
        self.local = None;
    }
}

impl Drop for Lease {
    /// Still held: the cycle was cancelled. Release from a task that keeps the in-process lock
    /// until the row is gone; outside a runtime the row stays, and this process's next cycle
    /// takes it over at once (same holder).
    fn drop(&mut self) {
        let Some(local) = self.local.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, name, platform) =
            (self.store.clone(), self.name.clone(), self.platform.clone());
        let keeper = self.keeper.take();
        runtime.spawn(async move {
            if let Some(keeper) = keeper {
                keeper.stop().await;
            }
            release(&store, &name, &platform).await;
            drop(local);
        });
    }
}

async fn release(store: &Store, name: &str, platform: &str) {
    if let Err(e) = store.release_lease(name, process_holder()).await {
        // It expires by itself; nothing is lost but time.
        tracing::warn!(message = "Could not release the writer lease.", platform = %platform, error = %e);
    }
}

/// This machine's name, as lease holders record it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

/// Whether a lease holder (`host:pid:nonce`) is a process of this host that no longer exists.
/// Only answers yes where it can tell (Linux's /proc); a holder elsewhere is waited for.
pub(super) fn holder_is_gone(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == host_name()
        && pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
        && proc.join("self").exists()
        && !proc.join(pid).exists()
}

/// The mirror's name of a platform's writer lease.
pub(crate) fn lease_name(platform: &str) -> String {
    format!("writer:{platform}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_vanished_process_of_this_host_is_gone() {
        let host = host_name();
        // No pid this large exists on Linux (the maximum is 2^22).
        assert!(holder_is_gone(&format!("{host}:99999999:0000abcd")));
        assert!(
            !holder_is_gone(&format!("{host}:{}:0000abcd", std::process::id())),
            "we are alive"
        );
        assert!(
            !holder_is_gone("another-host:99999999:0000abcd"),
            "elsewhere: wait, cannot tell"
        );
        assert!(!holder_is_gone(&format!("{host}:not-a-pid:0000abcd")));
        assert!(
            !holder_is_gone("crash-test"),
            "not a holder this code wrote"
        );
    }

    #[test]
    fn one_holder_per_process() {
        assert_eq!(process_holder(), process_holder());
        assert!(process_holder().contains(&format!(":{}:", std::process::id())));
        assert!(!holder_is_gone(process_holder()), "we are alive");
    }
}
