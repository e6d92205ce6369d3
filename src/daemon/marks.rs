//! The daemon's mark workers: one drain loop per platform that can mark, woken every
//! [`POLL`] to deliver what is due (the engine claims, delivers and records; this file only
//! schedules and reports). Clients are the cycles' own, so a platform's marks and cycles share
//! one rate limiter. Across replicas the claims keep each request with one worker
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time). A SIGHUP that adds,
//! changes or removes a platform starts, restarts or stops its worker ([`Workers::reconfigure`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::desired::Loader;
use super::metrics;
use crate::engine::{Engine, Target};
use crate::model::{Desired, MarkStyle};

/// How often an idle worker looks for due marks.
pub const POLL: Duration = Duration::from_secs(1);

/// How often the tag files are re-read for resolving tag names (an invalid edit keeps the last
/// valid state, as for cycles).
const RELOAD: Duration = Duration::from_secs(30);

/// The tag files' reader in force (replaced on SIGHUP).
type SharedLoader = Arc<RwLock<Arc<Loader>>>;

/// One platform's worker.
struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The running workers, by platform.
pub struct Workers {
    engine: Engine,
    load: SharedLoader,
    initial: Desired,
    running: Mutex<BTreeMap<String, Worker>>,
    /// The platforms with marks waiting, read by [`gate`] for all workers.
    due: watch::Receiver<BTreeSet<String>>,
    gate: Worker,
    /// Workers told to stop by a SIGHUP, finishing the calls they have in flight.
    stopping: Mutex<Vec<Worker>>,
}

/// Starts one worker per target that can mark.
pub fn spawn(engine: Engine, targets: Vec<Target>, load: Loader, initial: Desired) -> Workers {
    let (due_tx, due) = watch::channel(BTreeSet::new());
    let (gate_stop, gate_stopped) = watch::channel(false);
    let gate = Worker {
        stop: gate_stop,
        task: tokio::spawn(gate(engine.clone(), due_tx, gate_stopped)),
    };
    let workers = Workers {
        engine,
        due,
        gate,
        load: Arc::new(RwLock::new(Arc::new(load))),
        initial,
        running: Mutex::new(BTreeMap::new()),
        stopping: Mutex::new(Vec::new()),
    };
    for target in targets {
        workers.start(target);
    }
    workers
}

impl Workers {
    fn start(&self, target: Target) {
        if target.client.capabilities().mark == MarkStyle::No {
            return;
        }
        tracing::info!(message = "Mark worker started.", platform = %target.name);
        let (stop, stopped) = watch::channel(false);
        let name = target.name.clone();
        let task = tokio::spawn(work(
            self.engine.clone(),
            target,
            self.load.clone(),
            self.initial.clone(),
            self.due.clone(),
            stopped,
        ));
        let old = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, Worker { stop, task });
        if let Some(old) = old {
            self.retire(old);
        }
    }

    fn retire(&self, worker: Worker) {
        let _ = worker.stop.send(true);
        let mut stopping = self.stopping.lock().unwrap_or_else(PoisonError::into_inner);
        stopping.retain(|w| !w.task.is_finished());
        stopping.push(worker);
    }

    /// A new configuration (SIGHUP): the platforms are now `names`; `connected` are the ones
    /// added or changed, newly connected. A removed platform's worker stops (its calls in flight
    /// finish and are recorded); an added one's starts; a changed one's restarts on its new
    /// client. `load` reads the tag files under the new configuration.
    pub fn reconfigure(&self, names: &[String], connected: Vec<Target>, load: Loader) {
        *self.load.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(load);
        let removed: Vec<Worker> = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            let gone: Vec<String> = running
                .keys()
                .filter(|n| !names.contains(n))
                .cloned()
                .collect();
            gone.iter().filter_map(|n| running.remove(n)).collect()
        };
        for worker in removed {
            self.retire(worker);
        }
        for target in connected {
            let name = target.name.clone();
            if target.client.capabilities().mark == MarkStyle::No {
                if let Some(old) = self
                    .running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&name)
                {
                    self.retire(old);
                }
                continue;
            }
            self.start(target);
        }
    }

    /// The platforms with a running worker.
    pub fn platforms(&self) -> Vec<String> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Lets each worker finish the calls it has in flight (up to `grace`), then stops them. A
    /// drain cut short leaves claims that the next start takes back at once (this process is
    /// gone by then).
    pub async fn stop(&self, grace: Duration) {
        let mut all: Vec<Worker> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner))
                .into_values()
                .collect();
        all.append(&mut self.stopping.lock().unwrap_or_else(PoisonError::into_inner));
        let _ = self.gate.stop.send(true);
        self.gate.task.abort();
        for w in &all {
            let _ = w.stop.send(true);
        }
        let aborts: Vec<_> = all.iter().map(|w| w.task.abort_handle()).collect();
        let joined = async {
            for w in all {
                let _ = w.task.await;
            }
        };
        if tokio::time::timeout(grace, joined).await.is_err() {
            for a in aborts {
                a.abort();
            }
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
    load: SharedLoader,
    mut desired: Desired,
    due: watch::Receiver<BTreeSet<String>>,
    mut stopped: watch::Receiver<bool>,
) {
    // A worker started by a SIGHUP reads the tag files at once.
    let mut loaded: Option<tokio::time::Instant> = None;
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
                _ = stopped.changed() => {}
            }
            if *stopped.borrow() {
                tracing::info!(message = "Mark worker stopped.", platform = %target.name);
                return;
            }
            continue;
        }
        if loaded.is_none_or(|t| t.elapsed() >= RELOAD) {
            let load = load.read().unwrap_or_else(PoisonError::into_inner).clone();
            match load() {
                Ok(d) => desired = d,
                Err(error) => tracing::warn!(
                    message = "The tag files are invalid; marks resolve names with the last valid ones.",
                    %error
                ),
            }
            loaded = Some(tokio::time::Instant::now());
        }
        match engine.drain_marks_until(&target, &desired, &stopped).await {
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
        if *stopped.borrow() {
            tracing::info!(message = "Mark worker stopped.", platform = %target.name);
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            tracing::info!(message = "Mark worker stopped.", platform = %target.name);
            return;
        }
    }
}
