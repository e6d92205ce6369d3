//! The engine: everything `tagsync plan`, `tagsync apply`, `tagsync demo` and the daemon do between
//! parsing their input and rendering their output. It connects platforms, opens the mirror, and
//! runs the pull → plan → apply cycle of each platform under the writer lease, journaling every
//! step; it returns typed reports ([`CycleReport`]) and typed errors ([`Error`]) and decides every
//! policy (rounds, lease waits, observe mode, the delete guard). `cli/` and `daemon/` decide nothing.
//!
//! Files: `connect.rs` (secrets and clients), `cycle.rs` (one platform's cycle, and all platforms
//! at once), `lifecycle.rs` (a run: opened, under the lease, ended), `rounds.rs` (pull → plan →
//! execute until converged), `execute.rs` (one plan's operations), `lease.rs` (the writer lease),
//! `recovery.rs` (what an interrupted run left), `saved.rs` (saved plans), `report.rs`,
//! `status.rs` (how each platform stands, from the mirror alone), `import.rs` (a platform's
//! tags as a tag file, bound).
//!
//! # Guarantees
//! - Every operation is written to `operations` as an intent before it is sent and gets its outcome
//!   after; every change made is recorded in the mirror (`tag_groups`, `tags`, `tag_events` with
//!   source `apply`) and every created object is bound to its key at once.
//! - A write whose outcome is unknown (lost response, retries exhausted) is never repeated blindly:
//!   the round stops, the next round re-reads the platform and plans afresh, and matching by name
//!   binds what the lost call did create instead of creating it again. On a platform without a
//!   list call the re-read is the mirror, which cannot see what a lost create did: the create is
//!   sent again, addressed by name, and answers with what the lost call made only where the
//!   platform adds to an existing name instead of duplicating it (see `platforms::dustess`).
//! - A permanent rejection is recorded after one attempt and never retried; "not ours" (a group made
//!   in the console) is remembered so that later plans show it as drift instead of calling again.
//! - Writes happen only under the platform's writer lease; one lease identity per process.
//! - Every time recorded comes from the engine's [`Clock`].
//!
//! # Cancellation
//! Dropping a cycle's future leaves at most one batch of operations in state `intent` and its run
//! without an end; the next writer resolves both against the platform before it writes, so nothing is
//! duplicated. The writer lease is released by the dropped cycle (or, failing that, taken over at
//! once by this process's next cycle): a cancelled cycle never locks the platform out.
//!
//! # Errors
//! A cycle that cannot run or must stop returns [`Error`] (with [`Error::class`]); what a cycle
//! meets on the way without stopping (a rejected operation, no convergence) is a [`Problem`] in
//! [`CycleReport::errors`]. [`connect`] fails with [`ConnectError`] before any call is made.
//!
//! # For a long-running caller
//! Connect once, keep the engine and the targets, and run cycles as often as needed; every cycle
//! of the process shares one lease identity ([`process_holder`]):
//!
//! ```no_run
//! # async fn daemon(settings: tagsync::settings::Settings, desired: tagsync::model::Desired) {
//! use tagsync::engine::{self, CycleRequest, Engine, RunMode, Trigger};
//! let targets = engine::connect(&settings, &[], tagsync::platforms::RetryPolicy::default()).unwrap();
//! let engine = Engine::open(&settings, tagsync::clock::system()).await.unwrap();
//! let request = CycleRequest { trigger: Trigger::Schedule, mode: RunMode::Enforce, max_deletes: 20 };
//! loop {
//!     for report in engine.cycle_all(&targets, &desired, &request).await {
//!         match report {
//!             Ok(r) => tracing::info!(platform = %r.platform, outcome = ?r.outcome(), calls = r.api_calls),
//!             Err(e) => tracing::warn!(class = ?e.class(), error = %e),
//!         }
//!     }
//!     # break;
//! }
//! # }
//! ```

mod connect;
mod cycle;
mod execute;
mod import;
mod lease;
mod lifecycle;
pub mod marks;
mod progress;
mod recovery;
mod report;
mod rounds;
mod saved;
mod status;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use crate::clock::{Clock, SharedClock, SystemClock, TestClock};
use crate::model::Capabilities;
use crate::platforms::Platform;
use crate::settings::Settings;
use crate::store::{self, RunId, Store};

pub use connect::{ConnectError, Target, connect};
pub use import::ImportError;
pub use lease::{LEASE_TTL, MAX_TURN, process_holder, turn};
pub use marks::{DrainReport, MarkError, MarkInput, MarkRefusal};
pub use progress::{Progress, ProgressEvent};
pub use report::{CycleReport, Error, ErrorClass, Outcome, Problem, changes_to_send};
pub use saved::{check_accounts, judge_deletes};
pub use status::{StatusReport, configured, never_run, status};

/// What started a run, as `sync_runs.trigger` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `tagsync plan`, or the preview of `tagsync apply`.
    Plan,
    /// `tagsync apply`.
    Apply,
    /// `tagsync apply FILE`.
    ApplySaved,
    /// `tagsync demo`.
    Demo,
    /// The daemon's schedule.
    Schedule,
    /// `tagsync import`: a pull, no plan.
    Import,
}

impl Trigger {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Plan => "plan",
            Trigger::Apply => "apply",
            Trigger::ApplySaved => "apply-saved",
            Trigger::Demo => "demo",
            Trigger::Schedule => "schedule",
            Trigger::Import => "import",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a cycle may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Pull, plan and record; send nothing.
    DryRun,
    /// Send what the plan says (platforms in `observe` mode are still only planned).
    Enforce,
}

/// What one cycle is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct CycleRequest {
    pub trigger: Trigger,
    pub mode: RunMode,
    /// Refuse a plan that deletes more tags than this.
    pub max_deletes: usize,
}

/// The engine's policy: the same for the command line and the daemon.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Rounds of pull → plan → execute before giving up on convergence.
    pub max_rounds: usize,
    /// How long to wait for another writer of the same platform before giving up.
    pub lease_wait: Duration,
    /// How long a writer's lease lasts without renewal: a holder that dies blocks the platform
    /// for at most this long. A held lease is renewed every third of it while its cycle runs.
    pub lease_ttl: Duration,
    /// A lease held by another writer ends the cycle at once with [`Error::Busy`] and records no
    /// run (the daemon: the holder's run is the one that counts, and the platform's last error
    /// is not overwritten by a replica that merely skipped). Otherwise the refusal is a failed run.
    pub skip_when_busy: bool,
    /// How many platforms are cycled at once.
    pub concurrency: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_rounds: 5,
            lease_wait: Duration::from_secs(60),
            lease_ttl: LEASE_TTL,
            skip_when_busy: false,
            concurrency: 4,
        }
    }
}

/// The engine: a mirror, a clock, a policy, and the in-process half of the writer lease. Build it
/// once per process and clone it freely (clones share everything); connected [`Target`]s are
/// long-lived too and are reused across cycles.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: SharedClock,
    policy: Policy,
    locks: lease::LocalLocks,
    progress: progress::Sink,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl Engine {
    /// An engine over an open mirror, with the system clock and the default policy.
    pub fn new(store: Store) -> Self {
        Self::with(store, crate::clock::system(), Policy::default())
    }

    /// An engine with this clock and policy.
    pub fn with(store: Store, clock: SharedClock, policy: Policy) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                policy,
                locks: lease::LocalLocks::default(),
                progress: progress::Sink::new(),
            }),
        }
    }

    /// Opens the mirror named by the configuration and records its platforms there.
    ///
    /// # Errors
    /// The mirror's, when it cannot be opened or written.
    pub async fn open(settings: &Settings, clock: SharedClock) -> Result<Self, store::Error> {
        Self::open_with(settings, clock, Policy::default()).await
    }

    /// [`Engine::open`] with a policy of the caller's (the daemon does not wait for a lease that
    /// another replica holds: it skips the tick).
    ///
    /// # Errors
    /// The mirror's, when it cannot be opened or written.
    pub async fn open_with(
        settings: &Settings,
        clock: SharedClock,
        policy: Policy,
    ) -> Result<Self, store::Error> {
        let store = Store::open(&settings.database_url).await?;
        let engine = Self::with(store, clock, policy);
        engine.register(settings).await?;
        Ok(engine)
    }

    /// Records the configuration's platforms in the mirror (their kind and mode); a platform must
    /// be recorded before its first cycle (the daemon calls this again for a new configuration).
    ///
    /// # Errors
    /// The mirror's, when it cannot be written.
    pub async fn register(&self, settings: &Settings) -> Result<(), store::Error> {
        let now = self.inner.clock.now();
        for p in settings.platforms.values() {
            self.inner
                .store
                .upsert_platform(&p.name, p.kind.as_str(), p.mode.as_str(), now)
                .await?;
        }
        Ok(())
    }

    /// The mirror, for reading reports.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Reports every cycle's progress to `sink` from now on (set once; a second sink is ignored).
    pub fn report_progress(&self, sink: Arc<dyn Progress>) {
        let _ = self.inner.progress.set(sink);
    }
}

/// What every step of one run works with.
struct Ctx<'a> {
    store: &'a Store,
    clock: &'a dyn Clock,
    name: &'a str,
    platform: &'a dyn Platform,
    caps: &'static Capabilities,
    run: RunId,
    policy: &'a Policy,
    /// Held for a run that writes; `None` for a dry run.
    lease: Option<&'a lease::Lease>,
    progress: Option<&'a dyn Progress>,
}

impl Ctx<'_> {
    /// Reports progress, when someone listens.
    fn progress(&self, event: impl FnOnce(String) -> ProgressEvent) {
        if let Some(p) = self.progress {
            p.event(event(self.name.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_stored_as_before() {
        let all = [
            Trigger::Plan,
            Trigger::Apply,
            Trigger::ApplySaved,
            Trigger::Demo,
            Trigger::Schedule,
        ];
        let stored: Vec<&str> = all.iter().map(|t| t.as_str()).collect();
        assert_eq!(stored, ["plan", "apply", "apply-saved", "demo", "schedule"]);
    }

    #[test]
    fn the_default_policy_is_the_commands_policy() {
        let p = Policy::default();
        assert_eq!(p.max_rounds, 5);
        assert_eq!(p.lease_wait, Duration::from_secs(60));
        assert!(p.concurrency > 1, "platforms run at once");
    }
}
