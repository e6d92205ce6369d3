//! One cron job per platform on tokio-cron-scheduler (cron with seconds, UTC). Never its interval
//! ("repeated") jobs, which can stop firing under load (its issue #113); `/readyz` notices a
//! platform whose cycles stopped anyway.
//!
//! A tick goes to the [`Dispatcher`], which starts the platform's cycle unless the previous one
//! still runs: then the tick is skipped and counted (`tagsync_skipped_ticks_total`). Platforms run
//! concurrently, each on its own task; the dispatcher keeps every in-flight cycle so that shutdown
//! can wait for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::cycle::{CycleRunner, CycleStatus, Period, Trigger};
use super::desired::DesiredSource;
use super::health::Health;
use super::metrics;
use crate::settings::Settings;

/// How often the heartbeat job beats (`/healthz` fails when it stops).
pub const HEARTBEAT: &str = "*/5 * * * * *";

/// A cron schedule (six fields, seconds first, UTC), parsed the way tokio-cron-scheduler parses it.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
}

impl Schedule {
    /// Parses `expr`; the settings have validated it, so an error here names the expression only.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .map_err(|e| format!("schedule {expr:?}: {e}"))?;
        Ok(Self {
            expr: expr.to_owned(),
            cron,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The period a tick fired at `now` belongs to: from the latest tick at or before `now` to
    /// the next one. `None` if the schedule has no such ticks.
    pub fn period_at(&self, now: DateTime<Utc>) -> Option<Period> {
        let start = self.cron.find_previous_occurrence(&now, true).ok()?;
        let next = self.nth_after(start, 1)?;
        Some(Period { start, next })
    }

    /// The `n`-th tick strictly after `t` (`n` ≥ 1); `None` if the schedule stops firing.
    pub fn nth_after(&self, t: DateTime<Utc>, n: usize) -> Option<DateTime<Utc>> {
        let mut at = t;
        for _ in 0..n.max(1) {
            at = self.cron.find_next_occurrence(&at, false).ok()?;
        }
        Some(at)
    }
}

/// Each platform's schedule: its own `schedule` when set, else the global one.
pub fn schedules(settings: &Settings) -> Vec<(String, String)> {
    settings
        .platforms
        .values()
        .map(|p| {
            let expr = p
                .schedule
                .clone()
                .unwrap_or_else(|| settings.schedule.clone());
            (p.name.clone(), expr)
        })
        .collect()
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    Started,
    /// The platform's previous cycle still runs.
    Skipped,
    /// The platform is not scheduled here, or the daemon is stopping.
    Ignored,
}

/// Starts cycles, never two of one platform at once.
pub struct Dispatcher {
    runner: Arc<dyn CycleRunner>,
    desired: Arc<DesiredSource>,
    health: Arc<Health>,
    slots: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: Mutex<Option<JoinSet<()>>>,
}

impl Dispatcher {
    pub fn new(
        runner: Arc<dyn CycleRunner>,
        desired: Arc<DesiredSource>,
        health: Arc<Health>,
        platforms: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            runner,
            desired,
            health,
            slots: Mutex::new(
                platforms
                    .into_iter()
                    .inspect(|p| metrics::register_platform(p))
                    .map(|p| (p, Arc::default()))
                    .collect(),
            ),
            in_flight: Mutex::new(Some(JoinSet::new())),
        }
    }

    /// Replaces the platforms ticks are accepted for (SIGHUP). A kept platform keeps its slot, so
    /// a cycle running through the change still makes its next tick skip.
    pub fn set_platforms(&self, platforms: impl IntoIterator<Item = String>) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut old = std::mem::take(&mut *slots);
        *slots = platforms
            .into_iter()
            .map(|p| {
                metrics::register_platform(&p);
                let slot = old.remove(&p).unwrap_or_default();
                (p, slot)
            })
            .collect();
    }

    /// Starts the platform's cycle on its own task, unless the previous one still runs.
    pub fn tick(self: &Arc<Self>, platform: &str, trigger: Trigger) -> Tick {
        self.start(platform, trigger, None)
    }

    /// A tick of `schedule`: the cycle runs once in the tick's period across replicas
    /// ([`CycleRunner::run_in_period`]).
    pub fn tick_scheduled(self: &Arc<Self>, platform: &str, schedule: &Schedule) -> Tick {
        let period = schedule.period_at(self.health.now());
        self.start(platform, Trigger::Schedule, period)
    }

    fn start(self: &Arc<Self>, platform: &str, trigger: Trigger, period: Option<Period>) -> Tick {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(platform)
            .cloned();
        let Some(slot) = slot else {
            return Tick::Ignored;
        };
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(tasks) = in_flight.as_mut() else {
            return Tick::Ignored;
        };
        while tasks.try_join_next().is_some() {}
        let Ok(guard) = slot.try_lock_owned() else {
            metrics::record_skipped(platform);
            tracing::info!(
                message = "Skipped a tick: the previous cycle is still running.",
                platform
            );
            return Tick::Skipped;
        };
        let this = Arc::clone(self);
        let platform = platform.to_owned();
        tasks.spawn(async move {
            let _guard = guard;
            this.run(&platform, trigger, period).await;
        });
        Tick::Started
    }

    async fn run(&self, platform: &str, trigger: Trigger, period: Option<Period>) {
        let desired = self.desired.current();
        let started = tokio::time::Instant::now();
        let outcome = match period {
            Some(period) => {
                self.runner
                    .run_in_period(platform, trigger, desired, period)
                    .await
            }
            None => self.runner.run_cycle(platform, trigger, desired).await,
        };
        let elapsed = started.elapsed();
        metrics::record_cycle(platform, &outcome, elapsed.as_secs_f64(), self.health.now());
        self.health
            .cycle_finished(platform, outcome.status, outcome.error.clone());
        let error = outcome.error.as_deref();
        let fields = (
            outcome.ops_succeeded(),
            outcome.ops_failed(),
            outcome.api_calls,
            elapsed.as_millis() as u64,
        );
        match outcome.status {
            CycleStatus::Ok => tracing::info!(
                message = "Cycle finished.",
                platform,
                trigger = trigger.as_str(),
                outcome = "ok",
                ops_succeeded = fields.0,
                ops_failed = fields.1,
                api_calls = fields.2,
                duration_ms = fields.3,
                drift = outcome.drift,
                error,
            ),
            CycleStatus::Elsewhere => tracing::info!(
                message = "Cycle skipped: another replica holds the platform.",
                platform,
                trigger = trigger.as_str(),
                outcome = "elsewhere",
                lease_holder = outcome.lease_holder.as_deref(),
                duration_ms = fields.3,
            ),
            CycleStatus::Failed => tracing::warn!(
                message = "Cycle failed.",
                platform,
                trigger = trigger.as_str(),
                outcome = "failed",
                ops_succeeded = fields.0,
                ops_failed = fields.1,
                api_calls = fields.2,
                duration_ms = fields.3,
                drift = outcome.drift,
                error,
            ),
        }
    }

    /// Stops accepting ticks and waits up to `bound` for the cycles in flight; past it, they are
    /// cancelled (the engine's journal resolves them on the next start). Returns whether all
    /// finished in time.
    pub async fn drain(&self, bound: Duration) -> bool {
        let tasks = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut tasks) = tasks else {
            return true;
        };
        let done =
            tokio::time::timeout(bound, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        if !done {
            tracing::warn!(
                message = "Cycles still running at the shutdown bound were cancelled.",
                running = tasks.len(),
                bound_s = bound.as_secs()
            );
            tasks.shutdown().await;
        }
        done
    }
}

/// The running cron jobs: one per platform, and the heartbeat.
pub struct CronJobs {
    scheduler: JobScheduler,
}

impl CronJobs {
    /// Registers one job per `(platform, schedule)` and the heartbeat (which also runs `upkeep`),
    /// then starts firing.
    pub async fn start(
        dispatcher: Arc<Dispatcher>,
        schedules: &[(String, String)],
        health: Arc<Health>,
        upkeep: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        for (platform, expr) in schedules {
            let dispatcher = dispatcher.clone();
            let platform = platform.clone();
            // Validated with the settings; an expression croner refuses still ticks, unperiodised.
            let schedule = Schedule::parse(expr).ok();
            let job = Job::new_async_tz(expr.as_str(), Utc, move |_, _| {
                match &schedule {
                    Some(schedule) => dispatcher.tick_scheduled(&platform, schedule),
                    None => dispatcher.tick(&platform, Trigger::Schedule),
                };
                Box::pin(async {})
            })?;
            scheduler.add(job).await?;
        }
        let heartbeat = Job::new_async_tz(HEARTBEAT, Utc, move |_, _| {
            health.heartbeat();
            upkeep();
            Box::pin(async {})
        })?;
        scheduler.add(heartbeat).await?;
        scheduler.start().await?;
        Ok(Self { scheduler })
    }

    /// Stops firing.
    pub async fn shutdown(mut self) {
        if let Err(error) = self.scheduler.shutdown().await {
            tracing::warn!(message = "The scheduler did not stop cleanly.", %error);
        }
    }
}
