//! TEMPORARY ADAPTER — to be replaced when the engine (`src/engine/`, issue 9) lands.
//!
//! It runs a daemon cycle through today's `crate::cli::sync::sync_all` for one platform and maps
//! its report onto the [`CycleOutcome`] seam. Everything the daemon needs from the engine goes
//! through [`CycleRunner`] and [`Probe`]; replacing this file (and its construction in
//! `cli/run.rs`) is the whole wiring change.
//!
//! Known gaps of today's code that the engine closes: operations are counted per kind only when
//! every planned operation succeeded (else under kind `any`); retries by error class are not
//! reported yet; a held lease is waited for (up to 60 s) rather than skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::cycle::{CycleOutcome, CycleRunner, CycleStatus, OpTally, Trigger};
use super::health::Probe;
use crate::apply::{self, Report};
use crate::cli::sync::{Target, sync_all};
use crate::model::Desired;
use crate::store::Store;

/// Runs cycles with clients connected once, at start: their rate limiters and the WeCom token
/// cache live as long as the process.
pub struct SyncAllAdapter {
    store: Store,
    targets: BTreeMap<String, Target>,
    max_deletes: usize,
}

impl SyncAllAdapter {
    pub fn new(store: Store, targets: Vec<Target>, max_deletes: usize) -> Self {
        let targets = targets
            .into_iter()
            .map(|t| (t.settings.name.clone(), t))
            .collect();
        Self {
            store,
            targets,
            max_deletes,
        }
    }
}

#[async_trait::async_trait]
impl CycleRunner for SyncAllAdapter {
    async fn run_cycle(
        &self,
        platform: &str,
        trigger: Trigger,
        desired: Arc<Desired>,
    ) -> CycleOutcome {
        let Some(target) = self.targets.get(platform) else {
            return CycleOutcome::failed(format!("platform {platform:?} is not connected"));
        };
        let mut results = sync_all(
            &self.store,
            std::slice::from_ref(target),
            &desired,
            self.max_deletes,
            true,
            trigger.as_str(),
        )
        .await;
        match results.pop() {
            Some(Ok(report)) => outcome_of(&report),
            Some(Err(e)) => {
                let mut outcome = CycleOutcome::failed(e.to_string());
                if let apply::Error::Busy { holder, .. } | apply::Error::LeaseLost { holder, .. } =
                    &e
                {
                    outcome.lease_holder = Some(replica_of(holder));
                }
                outcome
            }
            None => CycleOutcome::failed("no report"),
        }
    }
}

fn outcome_of(r: &Report) -> CycleOutcome {
    let mut operations = BTreeMap::<String, OpTally>::new();
    if r.failed == 0 && r.succeeded == r.plan.ops.len() {
        for op in &r.plan.ops {
            let kind = serde_json::to_value(&op.action)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "any".into());
            operations.entry(kind).or_default().succeeded += 1;
        }
    } else {
        operations.insert(
            "any".into(),
            OpTally {
                succeeded: r.succeeded as u64,
                failed: (r.failed + r.not_ours) as u64,
            },
        );
    }
    CycleOutcome {
        status: CycleStatus::Ok,
        operations,
        api_calls: r.api_calls,
        retries: BTreeMap::new(),
        drift: Some((r.remaining.ops.len() + r.remaining.drift.len()) as u64),
        lease_holder: Some(this_replica()),
        error: r.errors.first().cloned(),
    }
}

/// A lease holder `host:pid:nonce` as the replica `host:pid`.
fn replica_of(holder: &str) -> String {
    holder
        .rsplit_once(':')
        .map_or(holder, |(replica, _)| replica)
        .to_owned()
}

fn this_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}:{}", std::process::id())
}

/// `/readyz`'s database check: the mirror answers.
pub struct StoreProbe(pub Store);

#[async_trait::async_trait]
impl Probe for StoreProbe {
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}
