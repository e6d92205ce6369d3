//! The cycle of one platform (pull → plan → apply in rounds, under the lease), and of all
//! platforms at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::model::Desired;
use crate::settings::Mode;

use super::report::{CycleReport, Error};
use super::{CycleRequest, Engine, RunMode, Target, lifecycle, rounds};

impl Engine {
    /// Pulls `target`, plans against `desired`, and in [`RunMode::Enforce`] sends what the plan
    /// says, in rounds until converged (at most [`Policy::max_rounds`](super::Policy)).
    ///
    /// # Guarantees
    /// Writes only under the platform's writer lease, each journaled before it is sent; a
    /// platform in `observe` mode, or one whose API cannot write, is only planned. The run is
    /// recorded in `sync_runs` with its outcome whatever happens short of cancellation.
    ///
    /// # Cancellation
    /// Safe to drop at any await: at most one operation stays an intent, resolved by the next
    /// writer; the lease is released (or taken over at once by this process's next cycle).
    ///
    /// # Errors
    /// [`Error`] when the cycle could not run or had to stop (the mirror failed, the pull failed,
    /// another writer held the lease, the delete guard refused). Failures of single operations
    /// are not errors: they are in [`CycleReport::errors`].
    pub async fn cycle(
        &self,
        target: &Target,
        desired: &Desired,
        request: &CycleRequest,
    ) -> Result<CycleReport, Error> {
        self.cycle_unless_since(target, desired, request, None)
            .await
    }

    /// [`Engine::cycle`] once per schedule period across replicas: when another replica already
    /// started a cycle of the platform at or after `since` (the period's tick), this ends with
    /// [`Error::AlreadyCycled`] without a run. A platform that is only planned (observe mode,
    /// no write API) takes no lease and is always cycled.
    ///
    /// # Errors
    /// As [`Engine::cycle`], and [`Error::AlreadyCycled`].
    pub async fn cycle_once_since(
        &self,
        target: &Target,
        desired: &Desired,
        request: &CycleRequest,
        since: DateTime<Utc>,
    ) -> Result<CycleReport, Error> {
        self.cycle_unless_since(target, desired, request, Some(since))
            .await
    }

    async fn cycle_unless_since(
        &self,
        target: &Target,
        desired: &Desired,
        request: &CycleRequest,
        since: Option<DateTime<Utc>>,
    ) -> Result<CycleReport, Error> {
        let observe = target.mode == Mode::Observe;
        let dry_run = request.mode == RunMode::DryRun || observe;
        let writes = !dry_run && target.client.capabilities().writable();
        let mut report = lifecycle::run_unless_since(
            self,
            target,
            request.trigger,
            writes,
            None,
            since,
            async |ctx, report| {
                rounds::rounds(ctx, desired, dry_run, request.max_deletes, report).await
            },
        )
        .await?;
        if observe {
            report
                .plan
                .notes
                .push("observe mode: changes are reported, never sent".into());
        }
        Ok(report)
    }

    /// [`Engine::cycle`] for every target at once, at most [`Policy::concurrency`](super::Policy)
    /// at a time; the results in the order of `targets`. One slow platform holds up no other.
    ///
    /// # Cancellation
    /// Dropping the future aborts every platform's cycle (each as [`Engine::cycle`] describes).
    pub async fn cycle_all(
        &self,
        targets: &[Target],
        desired: &Desired,
        request: &CycleRequest,
    ) -> Vec<Result<CycleReport, Error>> {
        let desired = Arc::new(desired.clone());
        let request = *request;
        self.for_each(targets.to_vec(), move |engine, target| {
            let desired = desired.clone();
            async move { engine.cycle(&target, &desired, &request).await }
        })
        .await
    }

    /// Runs `job` for every item concurrently (at most [`Policy::concurrency`](super::Policy)
    /// at a time), returning the results in the items' order.
    pub(super) async fn for_each<T, F, Fut>(
        &self,
        items: Vec<T>,
        job: F,
    ) -> Vec<Result<CycleReport, Error>>
    where
        F: Fn(Engine, T) -> Fut,
        Fut: Future<Output = Result<CycleReport, Error>> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(self.policy().concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let n = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let permits = permits.clone();
            let job = job(self.clone(), item);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                (i, job.await)
            });
        }
        let mut results: Vec<Option<Result<CycleReport, Error>>> = (0..n).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, r)) => results[i] = Some(r),
                // A cycle that panicked: let the caller see the panic, as if it ran inline.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => unreachable!("tasks are only aborted with the JoinSet: {e}"),
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every task reported"))
            .collect()
    }
}
