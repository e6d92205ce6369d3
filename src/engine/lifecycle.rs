//! A run's life, for every kind of cycle: the writer lease taken when it writes, then opened in
//! `sync_runs`, ended with its outcome (and the platform's last error) however it went, and only
//! then the lease given up: a writing run's row lies inside its lease.

use tracing::Instrument as _;

use crate::planner::PlatformPlan;
use crate::store::{RunOutcome, RunStatus};

use super::lease::Lease;
use super::report::{CycleReport, Error};
use super::{Ctx, Engine, ProgressEvent, Target, Trigger};

/// Takes the writer lease when `writes`, opens a run of `target`, runs `body`, records how the run
/// ended and gives the lease up, all inside a span naming the platform, trigger and run. `plan`
/// is what the run sets out to do when that is known before it starts (a saved plan): the run
/// records it even if it cannot start.
///
/// # Cancellation
/// Dropped mid-body, the run stays without an end and the lease is released by its guard; the
/// next writer closes the run and resolves its last intent (see `recovery`).
pub(super) async fn run(
    engine: &Engine,
    target: &Target,
    trigger: Trigger,
    writes: bool,
    plan: Option<&PlatformPlan>,
    body: impl AsyncFnOnce(&Ctx<'_>, &mut CycleReport) -> Result<(), Error>,
) -> Result<CycleReport, Error> {
    run_unless_since(engine, target, trigger, writes, plan, None, body).await
}

/// [`run`], except that with `since`, a writing run whose platform already has a finished run
/// started at or after `since` (another replica's, in this schedule period) ends at once with
/// [`Error::AlreadyCycled`], records nothing and gives the lease back. The check is made under
/// the lease, after the other replica's run (opened and closed inside its lease) has ended: two
/// replicas cannot both see "not yet".
pub(super) async fn run_unless_since(
    engine: &Engine,
    target: &Target,
    trigger: Trigger,
    writes: bool,
    plan: Option<&PlatformPlan>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    body: impl AsyncFnOnce(&Ctx<'_>, &mut CycleReport) -> Result<(), Error>,
) -> Result<CycleReport, Error> {
    let span = tracing::info_span!(
        "cycle",
        platform = %target.name,
        trigger = %trigger,
        run = tracing::field::Empty
    );
    async {
        let inner = &engine.inner;
        let clock = inner.clock.as_ref();
        let platform = target.client.as_ref();
        let calls_before = platform.api_calls();
        // A writing run is opened only once the lease is held and ended before it is given up,
        // so that its row's interval lies inside the lease: runs of one platform never overlap
        // in the mirror, across replicas too.
        let lease = if writes {
            let acquired = Lease::acquire(
                &inner.store,
                &inner.clock,
                &inner.locks,
                &target.name,
                inner.policy.lease_wait,
                inner.policy.lease_ttl,
            )
            .await;
            match acquired {
                Err(e @ Error::Busy { .. }) if inner.policy.skip_when_busy && plan.is_none() => {
                    tracing::info!(message = "Skipped: another writer holds the platform.", error = %e);
                    return Err(e);
                }
                other => other.map(Some),
            }
        } else {
            Ok(None)
        };
        if let (Some(since), Ok(Some(_))) = (since, &lease)
            && let Some(last) = inner.store.runs(&target.name, 1).await?.pop()
            && last.started_at >= since
            // A run left open by a replica that died under its lease is not a cycle done.
            && last.finished_at.is_some()
        {
            if let Ok(Some(lease)) = lease {
                lease.release().await;
            }
            tracing::debug!(message = "Skipped: already cycled this period.", at = %last.started_at);
            return Err(Error::AlreadyCycled {
                platform: target.name.clone(),
                at: last.started_at,
            });
        }
        let started = clock.now();
        let run = inner
            .store
            .start_run(&target.name, trigger.as_str(), started)
            .await?;
        tracing::Span::current().record("run", run);
        let mut report = CycleReport::new(&target.name, run, trigger, started);
        report.account = target.account.clone();
        report.sends = target.sends();
        if let Some(plan) = plan {
            report.plan = plan.clone();
        }
        let (result, lease) = match lease {
            Err(e) => (Err(e), None),
            Ok(lease) => {
                let ctx = Ctx {
                    store: &inner.store,
                    clock,
                    name: &target.name,
                    platform,
                    caps: platform.capabilities(),
                    run,
                    policy: &inner.policy,
                    lease: lease.as_ref(),
                    progress: inner.progress.get().map(|p| p.as_ref()),
                };
                let result = body(&ctx, &mut report).await;
                ctx.progress(|platform| ProgressEvent::Finished { platform });
                (result, lease)
            }
        };
        report.api_calls = platform.api_calls() - calls_before;
        report.finished_at = clock.now();
        let ended = finish(engine, result, report).await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        ended
    }
    .instrument(span)
    .await
}

/// Records how a run ended (`sync_runs`, and the platform's last error) and returns its result.
/// `report.plan` is what the run set out to do.
async fn finish(
    engine: &Engine,
    result: Result<(), Error>,
    report: CycleReport,
) -> Result<CycleReport, Error> {
    let status = match (&result, report.failed) {
        (Ok(()), 0) if report.errors.is_empty() => RunStatus::Succeeded,
        (Ok(()), _) if report.succeeded > 0 => RunStatus::Partial,
        _ => RunStatus::Failed,
    };
    let error = match &result {
        Err(e) => Some(e.to_string()),
        Ok(()) => report.errors.first().map(ToString::to_string),
    };
    let outcome = RunOutcome {
        status,
        planned: report.plan.ops.len() as i64,
        applied: report.succeeded as i64,
        failed: report.failed as i64,
        api_calls: report.api_calls as i64,
        error,
    };
    match &result {
        Ok(()) => tracing::info!(
            message = "Cycle ended.",
            status = status.as_str(),
            applied = report.succeeded,
            failed = report.failed,
            api_calls = report.api_calls
        ),
        Err(e) => tracing::warn!(message = "Cycle failed.", error = %e),
    }
    // Also sets the platform's last error (or clears it).
    engine
        .store()
        .finish_run(report.run, &outcome, report.finished_at)
        .await?;
    result.map(|()| report)
}
