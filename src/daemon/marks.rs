//! The daemon's mark workers: one drain loop per platform that can mark, woken every
//! [`POLL`] to deliver what is due (the engine claims, delivers and records; this file only
//! schedules and reports). Clients are the cycles' own, so a platform's marks and cycles share
//! one rate limiter. Across replicas the claims keep each request with one worker
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::desired::Loader;
use super::metrics;
use crate::engine::{Engine, Target};
use crate::model::{Desired, MarkStyle};

/// How often an idle worker looks for due marks.
pub const POLL: Duration = Duration::from_secs(1);

/// How often the tag files are re-read for resolving tag names (an invalid edit keeps the last
/// valid state, as for cycles).
const RELOAD: Duration = Duration::from_secs(30);

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Starts one worker per target that can mark.
pub fn spawn(engine: Engine, targets: Vec<Target>, load: Loader, initial: Desired) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let load: Arc<Loader> = Arc::new(load);
    let mut tasks = JoinSet::new();
    let (due_tx, due) = watch::channel(BTreeSet::new());
    tasks.spawn(gate(engine.clone(), due_tx, stopped.clone()));
    for target in targets
        .into_iter()
        .filter(|t| t.client.capabilities().mark != MarkStyle::No)
    {
        tracing::info!(message = "Mark worker started.", platform = %target.name);
        tasks.spawn(work(
            engine.clone(),
            target,
            load.clone(),
            initial.clone(),
            due.clone(),
            stopped.clone(),
        ));
    }
    Workers { stop, tasks }
}

impl Workers {
    /// Lets each worker finish its pass (up to `grace`), then stops them. A pass cut short leaves
    /// claims that the next start takes back at once (this process is gone by then).
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Every [`POLL`], asks the mirror once which platforms have marks queued or claimed, for the
/// workers: with hundreds of accounts, a worker per platform asking on its own would be
/// hundreds of statements a second against an idle queue.
async fn gate(
    engine: Engine,
    due: watch::Sender<BTreeSet<String>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        match engine.store().platforms_with_marks().await {
            Ok(platforms) => {
                due.send_replace(platforms.into_iter().collect());
            }
            Err(error) => {
                // The workers try on their own until the mirror answers again.
                due.send_replace(BTreeSet::from([String::from(ANY)]));
                tracing::warn!(message = "Cannot read which platforms have marks.", %error);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// In the gate's set: every platform.
const ANY: &str = "*";

async fn work(
    engine: Engine,
    target: Target,
    load: Arc<Loader>,
    mut desired: Desired,
    due: watch::Receiver<BTreeSet<String>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut loaded = tokio::time::Instant::now();
    // The first pass always runs: it takes back the claims a dead worker left.
    let mut first = true;
    loop {
        let wanted = {
            let due = due.borrow();
            due.contains(&target.name) || due.contains(ANY)
        };
        if !std::mem::take(&mut first) && !wanted {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => return,
            }
            if *stopped.borrow() {
                return;
            }
            continue;
        }
        if loaded.elapsed() >= RELOAD {
            match load() {
                Ok(d) => desired = d,
                Err(error) => tracing::warn!(
                    message = "The tag files are invalid; marks resolve names with the last valid ones.",
                    %error
                ),
            }
            loaded = tokio::time::Instant::now();
        }
        match engine.drain_marks(&target, &desired).await {
            Ok(report) => {
                if report.succeeded + report.retried + report.dead > 0 {
                    tracing::info!(
                        message = "Marks delivered.",
                        platform = %target.name,
                        succeeded = report.succeeded,
                        retried = report.retried,
                        dead = report.dead,
                        calls = report.calls
                    );
                }
                match engine.store().mark_queue_stats(&target.name).await {
                    Ok(queue) => {
                        metrics::record_marks(&target.name, &report, &queue, engine.clock().now())
                    }
                    Err(error) => {
                        tracing::warn!(message = "Cannot read the mark queue.", platform = %target.name, %error)
                    }
                }
            }
            Err(error) => {
                tracing::warn!(message = "The mark drain failed; trying again.", platform = %target.name, %error)
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}
