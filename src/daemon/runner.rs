//! The daemon's [`CycleRunner`] over the engine: one engine and one set of connected clients for
//! the life of the process (their rate limiters and the WeCom token cache with them), one engine
//! cycle per call, its typed report turned into the [`CycleOutcome`] the daemon logs and counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::cycle::{CycleOutcome, CycleRunner, CycleStatus, OpTally, Trigger};
use super::health::Probe;
use crate::engine::{self, CycleReport, CycleRequest, Engine, RunMode, Target};
use crate::model::Desired;
use crate::store::{OpStatus, Store};

/// Runs engine cycles with clients connected once, at start.
pub struct EngineRunner {
    engine: Engine,
    targets: BTreeMap<String, Target>,
    max_deletes: usize,
}

impl EngineRunner {
    pub fn new(engine: Engine, targets: Vec<Target>, max_deletes: usize) -> Self {
        let targets = targets.into_iter().map(|t| (t.name.clone(), t)).collect();
        Self {
            engine,
            targets,
            max_deletes,
        }
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
        let Some(target) = self.targets.get(platform) else {
            return CycleOutcome::failed(format!("platform {platform:?} is not connected"));
        };
        let request = CycleRequest {
            trigger: engine::Trigger::Schedule,
            mode: RunMode::Enforce,
            max_deletes: self.max_deletes,
        };
        match self.engine.cycle(target, &desired, &request).await {
            Ok(report) => self.outcome_of(&report).await,
            Err(e) => {
                let mut outcome = CycleOutcome::failed(e.to_string());
                if let engine::Error::Busy { holder, .. }
                | engine::Error::LeaseLost { holder, .. } = &e
                {
                    outcome.status = CycleStatus::Elsewhere;
                    outcome.lease_holder = Some(replica_of(holder));
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
            retries: BTreeMap::new(),
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

/// `/readyz`'s database check: the mirror answers.
pub struct StoreProbe(pub Store);

#[async_trait::async_trait]
impl Probe for StoreProbe {
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}
