//! The seam between the daemon and the engine: the daemon decides *when* a platform's cycle runs,
//! the engine decides *what* a cycle does. The daemon only sees a [`CycleRunner`] and the
//! [`CycleOutcome`] it returns, which it turns into a log line, metrics and readiness.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::Desired;

/// Why a cycle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The first cycle of each platform, when the daemon starts.
    Start,
    /// A tick of the platform's cron schedule.
    Schedule,
}

impl Trigger {
    /// The name recorded with the run in the mirror.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "daemon-start",
            Trigger::Schedule => "daemon",
        }
    }
}

/// Whether a cycle did its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleStatus {
    /// The cycle pulled, planned and (in enforce mode) applied; failed operations may remain and
    /// are counted in [`CycleOutcome::operations`].
    Ok,
    /// The cycle could not run to its end (platform unreachable, mirror down…).
    Failed,
    /// Another replica holds the platform's writer lease: this one skipped the tick rather than
    /// wait, and tries again at the next one. Neither a failure nor a missed cycle.
    Elsewhere,
}

impl CycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleStatus::Ok => "ok",
            CycleStatus::Failed => "failed",
            CycleStatus::Elsewhere => "elsewhere",
        }
    }
}

/// Operations of one kind in one cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpTally {
    pub succeeded: u64,
    pub failed: u64,
}

/// What one cycle on one platform did. The daemon measures the cycle's duration itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleOutcome {
    pub status: CycleStatus,
    /// Operations sent, by kind (`create_group`, `add_tags`, `edit_group`, `edit_tag`, `delete_tags`).
    pub operations: BTreeMap<String, OpTally>,
    /// Platform API calls made, `gettoken` included.
    pub api_calls: u64,
    /// Differences left after the cycle (what the next plan would send or a person must fix);
    /// `None` when the cycle did not get as far as a plan.
    pub drift: Option<u64>,
    /// The replica holding the platform's writer lease, when known.
    pub lease_holder: Option<String>,
    /// Why the cycle failed, or the first operation error; never holds a secret.
    pub error: Option<String>,
}

impl CycleOutcome {
    /// A cycle that ran, with nothing to report yet.
    pub fn ok() -> Self {
        Self {
            status: CycleStatus::Ok,
            operations: BTreeMap::new(),
            api_calls: 0,
            drift: None,
            lease_holder: None,
            error: None,
        }
    }

    /// A cycle that could not run to its end.
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            status: CycleStatus::Failed,
            error: Some(error.into()),
            ..Self::ok()
        }
    }

    pub fn ops_succeeded(&self) -> u64 {
        self.operations.values().map(|t| t.succeeded).sum()
    }

    pub fn ops_failed(&self) -> u64 {
        self.operations.values().map(|t| t.failed).sum()
    }
}

/// Runs one cycle of one platform: pull, mirror, plan, and apply when the platform enforces.
///
/// # Guarantees (the daemon's side)
/// Two calls for the same platform never overlap; calls for different platforms may.
///
/// # Assumptions (the runner's side)
/// The future may be dropped at shutdown once the drain bound has passed: the runner must leave
/// the platform in a state the next start recovers from (journal, lease expiry). The runner never
/// panics for a platform error; it reports it in the outcome.
/// A scheduled tick's period: from the tick (when the schedule said, not when the scheduler
/// fired) to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: chrono::DateTime<chrono::Utc>,
    pub next: chrono::DateTime<chrono::Utc>,
}

#[async_trait::async_trait]
pub trait CycleRunner: Send + Sync + 'static {
    async fn run_cycle(
        &self,
        platform: &str,
        trigger: Trigger,
        desired: Arc<Desired>,
    ) -> CycleOutcome;

    /// The cycle of a scheduled tick, once per `period` across replicas sharing a mirror: by
    /// default [`CycleRunner::run_cycle`].
    async fn run_in_period(
        &self,
        platform: &str,
        trigger: Trigger,
        desired: Arc<Desired>,
        period: Period,
    ) -> CycleOutcome {
        let _ = period;
        self.run_cycle(platform, trigger, desired).await
    }
}
