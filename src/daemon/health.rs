//! Liveness and readiness, as `/healthz` and `/readyz` report them.
//!
//! - **Alive**: the process answers and its scheduler still fires (a heartbeat cron job beats
//!   every few seconds; a scheduler that stopped firing stops it).
//! - **Ready**: the database answers; the tag files are valid; and for each platform, the last
//!   cycle did not fail and is not overdue. A cycle is overdue when none finished by the
//!   `periods`-th tick of the platform's schedule after the last one finished (or after start),
//!   plus `grace`: a scheduler that silently stopped firing, or a cycle that hangs, turns it red.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cycle::CycleStatus;
use super::scheduler::Schedule;
use crate::clock::Clock;

/// The database check behind `/readyz`.
#[async_trait::async_trait]
pub trait Probe: Send + Sync + 'static {
    /// Answers `Err` with a short reason when the database does not answer.
    async fn check(&self) -> Result<(), String>;
}

/// When a platform counts as overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessPolicy {
    /// How many scheduled ticks may pass without a finished cycle.
    pub periods: usize,
    /// Slack after the last of those ticks, for a cycle that is slow but alive.
    pub grace: Duration,
    /// How long the scheduler's heartbeat may be silent before `/healthz` fails.
    pub heartbeat_stale: Duration,
}

impl Default for ReadinessPolicy {
    fn default() -> Self {
        Self {
            periods: 2,
            grace: Duration::from_secs(60),
            heartbeat_stale: Duration::from_secs(60),
        }
    }
}

/// One named check and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A `/healthz` or `/readyz` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub ok: bool,
    /// The checks that failed (all of them, for `/readyz`).
    pub failing: Vec<Check>,
    pub checks: Vec<Check>,
}

impl Verdict {
    fn of(checks: Vec<Check>) -> Self {
        let failing: Vec<Check> = checks.iter().filter(|c| !c.ok).cloned().collect();
        Self {
            ok: failing.is_empty(),
            failing,
            checks,
        }
    }
}

#[derive(Debug, Clone)]
struct PlatformState {
    schedule: Schedule,
    last_finished: Option<DateTime<Utc>>,
    last_status: Option<CycleStatus>,
    last_error: Option<String>,
    /// When the platform was scheduled here (start-up, or the SIGHUP that added it): overdue is
    /// counted from here until its first cycle ends.
    since: DateTime<Utc>,
}

#[derive(Debug)]
struct State {
    platforms: BTreeMap<String, PlatformState>,
    desired_invalid: Option<String>,
    heartbeat: DateTime<Utc>,
    stopping: bool,
}

/// The daemon's health, shared by the scheduler (which reports) and the HTTP routes (which ask).
pub struct Health {
    clock: Arc<dyn Clock>,
    policy: ReadinessPolicy,
    state: Mutex<State>,
}

impl Health {
    /// Health for these platforms and their schedules, counted from now.
    pub fn new(
        clock: Arc<dyn Clock>,
        policy: ReadinessPolicy,
        schedules: impl IntoIterator<Item = (String, Schedule)>,
    ) -> Self {
        let started = clock.now();
        let platforms = schedules
            .into_iter()
            .map(|(name, schedule)| {
                let state = PlatformState {
                    schedule,
                    last_finished: None,
                    last_status: None,
                    last_error: None,
                    since: started,
                };
                (name, state)
            })
            .collect();
        Self {
            clock,
            policy,
            state: Mutex::new(State {
                platforms,
                desired_invalid: None,
                heartbeat: started,
                stopping: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Replaces the scheduled platforms (SIGHUP): a kept platform keeps its last cycle, a new one
    /// is counted from now, a removed one is forgotten.
    pub fn set_schedules(&self, schedules: impl IntoIterator<Item = (String, Schedule)>) {
        let now = self.clock.now();
        let mut state = self.state();
        let mut old = std::mem::take(&mut state.platforms);
        state.platforms = schedules
            .into_iter()
            .map(|(name, schedule)| {
                let p = match old.remove(&name) {
                    Some(kept) => PlatformState { schedule, ..kept },
                    None => PlatformState {
                        schedule,
                        last_finished: None,
                        last_status: None,
                        last_error: None,
                        since: now,
                    },
                };
                (name, p)
            })
            .collect();
    }

    /// Records the end of a platform's cycle.
    pub fn cycle_finished(&self, platform: &str, status: CycleStatus, error: Option<String>) {
        let now = self.clock.now();
        if let Some(p) = self.state().platforms.get_mut(platform) {
            p.last_finished = Some(now);
            p.last_status = Some(status);
            p.last_error = error;
        }
    }

    /// Reports the tag files as invalid (`Some`, with the located message) or valid again (`None`).
    pub fn set_desired_invalid(&self, message: Option<String>) {
        self.state().desired_invalid = message;
    }

    /// The located message of the refused tag-file edit, while there is one.
    pub fn desired_invalid(&self) -> Option<String> {
        self.state().desired_invalid.clone()
    }

    /// The scheduler is alive.
    pub fn heartbeat(&self) {
        let now = self.clock.now();
        self.state().heartbeat = now;
    }

    /// The daemon is shutting down: no longer ready for new work.
    pub fn set_stopping(&self) {
        self.state().stopping = true;
    }

    /// `/healthz`: the process answers and the scheduler beats.
    pub fn liveness(&self) -> Verdict {
        let now = self.clock.now();
        let heartbeat = self.state().heartbeat;
        let silent = (now - heartbeat).to_std().unwrap_or_default();
        let ok = silent <= self.policy.heartbeat_stale;
        Verdict::of(vec![Check {
            name: "scheduler".into(),
            ok,
            detail: (!ok).then(|| format!("the scheduler has not fired for {}s", silent.as_secs())),
        }])
    }

    /// `/readyz`, given the database's answer.
    pub fn readiness(&self, database: Result<(), String>) -> Verdict {
        let now = self.clock.now();
        let state = self.state();
        let mut checks = vec![Check {
            name: "database".into(),
            ok: database.is_ok(),
            detail: database.err(),
        }];
        checks.push(Check {
            name: "desired_state".into(),
            ok: state.desired_invalid.is_none(),
            detail: state
                .desired_invalid
                .as_ref()
                .map(|m| format!("desired state invalid: {m}")),
        });
        if state.stopping {
            checks.push(Check {
                name: "shutdown".into(),
                ok: false,
                detail: Some("shutting down".into()),
            });
        }
        for (name, p) in &state.platforms {
            checks.push(self.platform_check(name, p, now));
        }
        Verdict::of(checks)
    }

    fn platform_check(&self, name: &str, p: &PlatformState, now: DateTime<Utc>) -> Check {
        let name = format!("platform:{name}");
        if p.last_status == Some(CycleStatus::Failed) {
            let error = p.last_error.as_deref().unwrap_or("no reason given");
            return Check {
                name,
                ok: false,
                detail: Some(format!("the last cycle failed: {error}")),
            };
        }
        let since = p.last_finished.unwrap_or(p.since);
        let deadline = p
            .schedule
            .nth_after(since, self.policy.periods)
            .map(|t| t + chrono::Duration::from_std(self.policy.grace).unwrap_or_default());
        match deadline {
            Some(deadline) if now > deadline => Check {
                name,
                ok: false,
                detail: Some(match p.last_finished {
                    Some(t) => format!(
                        "overdue: no cycle finished since {} (schedule {:?})",
                        t.to_rfc3339(),
                        p.schedule.expr()
                    ),
                    None => format!(
                        "overdue: no cycle finished since the start at {} (schedule {:?})",
                        p.since.to_rfc3339(),
                        p.schedule.expr()
                    ),
                }),
            },
            _ => Check {
                name,
                ok: true,
                detail: None,
            },
        }
    }
}
