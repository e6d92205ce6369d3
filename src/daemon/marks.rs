//! The daemon's mark workers: one drain loop per platform that can mark, woken every
//! [`POLL`] to deliver what is due (the engine claims, delivers and records; this file only
//! schedules and reports). Clients are the cycles' own, so a platform's marks and cycles share
//! one rate limiter. Across replicas the claims keep each request with one worker
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time).

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

async fn work(
    engine: Engine,
    target: Target,
    load: Arc<Loader>,
    mut desired: Desired,
    mut stopped: watch::Receiver<bool>,
) {
    let mut loaded = tokio::time::Instant::now();
    loop {
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
