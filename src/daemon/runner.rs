//! The daemon's [`CycleRunner`] over the engine: one engine and one set of connected clients for
//! the life of the process (their rate limiters and the WeCom token cache with them), one engine
//! cycle per call, its typed report turned into the [`CycleOutcome`] the daemon logs and counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::cycle::{CycleOutcome, CycleRunner, CycleStatus, OpTally, Period, Trigger};
use super::health::Probe;
use crate::engine::{self, CycleReport, CycleRequest, Engine, RunMode, Target};
use crate::model::Desired;
use crate::store::{OpStatus, Store};

/// Runs engine cycles with clients connected once, at start (and for a platform a SIGHUP added
/// or changed, then).
pub struct EngineRunner {
    engine: Engine,
    targets: RwLock<BTreeMap<String, Target>>,
    max_deletes: AtomicUsize,
    /// Bounds the cycles running at once ([`CYCLES_AT_ONCE`]).
    running: tokio::sync::Semaphore,
}

/// The most cycles one replica runs at once. Hundreds of accounts ticking together would
/// otherwise all queue for the mirror's connection pool at once, each holding its writer lease
/// while it waits (a lease whose keeper cannot get a connection in time runs out under it). A
/// cycle waits for its turn here *before* it takes its lease, so a replica that is behind leaves
/// the tick to a less busy one.
pub const CYCLES_AT_ONCE: usize = 8;

impl EngineRunner {
    pub fn new(engine: Engine, targets: Vec<Target>, max_deletes: usize) -> Self {
        let targets = targets.into_iter().map(|t| (t.name.clone(), t)).collect();
        Self {
            engine,
            targets: RwLock::new(targets),
            max_deletes: AtomicUsize::new(max_deletes),
            running: tokio::sync::Semaphore::new(CYCLES_AT_ONCE),
        }
    }

    /// A new configuration: the platforms are now `names`; `connected` are the ones added or
    /// changed, newly connected. Every other kept platform keeps its client (its rate limiter and
    /// token cache); a removed platform's client is dropped once its running cycle (if any) ends.
    pub fn reconfigure(&self, names: &[String], connected: Vec<Target>, max_deletes: usize) {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|name, _| names.contains(name));
        for t in connected {
            targets.insert(t.name.clone(), t);
        }
        self.max_deletes.store(max_deletes, Ordering::Relaxed);
    }

    /// Records a new configuration's platforms in the mirror, before their first cycle.
    ///
    /// # Errors
    /// The mirror's message.
    pub async fn register(&self, settings: &crate::settings::Settings) -> Result<(), String> {
        self.engine
            .register(settings)
            .await
            .map_err(|e| format!("cannot record the platforms in the mirror: {e}"))
    }
}

#[async_trait::async_trait]
impl CycleRunner for EngineRunner {
    async fn run_cycle(
        &self,
        platform: &str,
        _trigger: Trigger,
        desired: Arc<Desired>,
    ) -> CycleOutcome {
        self.cycle(platform, desired, None).await
    }

    /// Waits for this replica's turn in the period ([`engine::turn`], counted from the tick),
    /// then cycles unless another replica already did in this period. A lease held elsewhere
    /// that runs out before the period ends is asked for again when it does: the holder has
    /// either finished (its run is found, nothing to do) or died, and then this replica takes
    /// the platform over in the same period.
    async fn run_in_period(
        &self,
        platform: &str,
        _trigger: Trigger,
        desired: Arc<Desired>,
        period: Period,
    ) -> CycleOutcome {
        let Some(target) = self.target(platform) else {
            return not_connected(platform);
        };
        let clock = self.engine.clock().clone();
        let length = (period.next - period.start).to_std().unwrap_or_default();
        let turn =
            period.start + chrono::Duration::from_std(engine::turn(length)).unwrap_or_default();
        tokio::time::sleep((turn - clock.now()).to_std().unwrap_or_default()).await;
        loop {
            let result = self.attempt(&target, &desired, Some(period.start)).await;
            match &result {
                Err(engine::Error::Busy { until, .. })
                    if *until
                        + chrono::Duration::from_std(RECHECK_AFTER_EXPIRY).unwrap_or_default()
                        < period.next =>
                {
                    let wait = (*until - clock.now()).to_std().unwrap_or_default();
                    tokio::time::sleep(wait + RECHECK_AFTER_EXPIRY).await;
                }
                _ => return self.outcome(result).await,
            }
        }
    }
}

fn not_connected(platform: &str) -> CycleOutcome {
    CycleOutcome::failed(format!("platform {platform:?} is not connected"))
}

/// How long after a lease's expiry a waiting replica asks again (clocks of replicas differ a
/// little).
const RECHECK_AFTER_EXPIRY: std::time::Duration = std::time::Duration::from_millis(200);

impl EngineRunner {
    async fn cycle(
        &self,
        platform: &str,
        desired: Arc<Desired>,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> CycleOutcome {
        let Some(target) = self.target(platform) else {
            return not_connected(platform);
        };
        let result = self.attempt(&target, &desired, since).await;
        self.outcome(result).await
    }

    fn target(&self, platform: &str) -> Option<Target> {
        self.targets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(platform)
            .cloned()
    }

    async fn attempt(
        &self,
        target: &Target,
        desired: &Desired,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<CycleReport, engine::Error> {
        let _running = self.running.acquire().await.expect("never closed");
        let request = CycleRequest {
            trigger: engine::Trigger::Schedule,
            mode: RunMode::Enforce,
            max_deletes: self.max_deletes.load(Ordering::Relaxed),
        };
        match since {
            Some(since) => {
                self.engine
                    .cycle_once_since(target, desired, &request, since)
                    .await
            }
            None => self.engine.cycle(target, desired, &request).await,
        }
    }

    async fn outcome(&self, result: Result<CycleReport, engine::Error>) -> CycleOutcome {
        match result {
            Ok(report) => self.outcome_of(&report).await,
            Err(e) => {
                let mut outcome = CycleOutcome::failed(e.to_string());
                match &e {
                    engine::Error::Busy { holder, .. }
                    | engine::Error::LeaseLost { holder, .. } => {
                        outcome.status = CycleStatus::Elsewhere;
                        outcome.lease_holder = Some(replica_of(holder));
                    }
                    engine::Error::AlreadyCycled { .. } => {
                        outcome.status = CycleStatus::Elsewhere;
                    }
                    _ => {}
                }
                outcome
            }
        }
    }
}

impl EngineRunner {
    async fn outcome_of(&self, r: &CycleReport) -> CycleOutcome {
        // The journal knows each operation's kind and outcome; the report only their totals.
        let mut operations = BTreeMap::<String, OpTally>::new();
        match self.engine.store().operations(r.run).await {
            Ok(rows) => {
                for op in rows {
                    let tally = operations.entry(op.kind).or_default();
                    match op.status {
                        Some(OpStatus::Succeeded) => tally.succeeded += 1,
                        Some(OpStatus::Failed | OpStatus::NotOurs) => tally.failed += 1,
                        Some(OpStatus::Skipped) | None => {}
                    }
                }
            }
            Err(e) => {
                tracing::warn!(message = "Could not read the cycle's operations back.", platform = %r.platform, error = %e);
            }
        }
        CycleOutcome {
            status: CycleStatus::Ok,
            operations,
            api_calls: r.api_calls,
            drift: Some((r.remaining.ops.len() + r.remaining.drift.len()) as u64),
            lease_holder: Some(replica_of(engine::process_holder())),
            error: r.errors.first().map(|p| p.message.clone()),
        }
    }
}

/// A lease holder `host:pid:nonce` as the replica `host:pid`.
fn replica_of(holder: &str) -> String {
    holder
        .rsplit_once(':')
        .map_or(holder, |(replica, _)| replica)
        .to_owned()
}

/// Records the tag files' validity in the mirror (`tag_file_errors`, keyed by `source`, the
/// configured `tags` path), in the order the daemon saw it: one writer task, fed by a channel, so
/// that the reporter never blocks the cycle that re-read the files.
pub fn mirror_reporter(
    store: Store,
    clock: crate::clock::SharedClock,
    source: String,
) -> super::desired::Reporter {
    let (send, mut receive) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    tokio::spawn(async move {
        let replica = replica_of(engine::process_holder());
        while let Some(error) = receive.recv().await {
            if let Err(e) = store
                .set_tag_file_error(&source, error.as_deref(), &replica, clock.now())
                .await
            {
                tracing::warn!(message = "Could not record the tag files' state in the mirror.", error = %e);
            }
        }
    });
    Box::new(move |error| {
        let _ = send.send(error.map(str::to_owned));
    })
}

/// `/readyz`'s database check: the mirror answers.
pub struct StoreProbe(pub Store);

#[async_trait::async_trait]
impl Probe for StoreProbe {
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}
