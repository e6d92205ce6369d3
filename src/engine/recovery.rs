//! What an interrupted run (a crash, a kill, a cancelled cycle, a lost connection to the mirror)
//! left behind: operations still in state `intent`, and a run without an end. The next writer
//! resolves both, under the lease, before it plans.

use crate::model::Snapshot;
use crate::planner::Action;
use crate::store::{OpStatus, RunOutcome, RunStatus};

use super::report::Error;
use super::{Ctx, Trigger};

/// Resolves interrupted intents against `snapshot`, then closes interrupted runs.
pub(super) async fn recover(ctx: &Ctx<'_>, snapshot: &Snapshot) -> Result<(), Error> {
    resolve_intents(ctx, snapshot).await?;
    close_interrupted_runs(ctx).await
}

/// Each intent is checked against what the platform now holds and recorded as applied or not
/// applied. Nothing is re-sent here: what was not applied is simply planned again.
async fn resolve_intents(ctx: &Ctx<'_>, snapshot: &Snapshot) -> Result<(), Error> {
    for op in ctx.store.pending_intents(ctx.name).await? {
        let action: Option<Action> = serde_json::from_str(&op.request).ok();
        let applied = action
            .as_ref()
            .and_then(|a| a.was_applied(snapshot, ctx.caps));
        let (status, note) = match applied {
            Some(true) => (
                OpStatus::Succeeded,
                "resolved after an interrupted run: it was applied",
            ),
            Some(false) => (
                OpStatus::Skipped,
                "resolved after an interrupted run: not applied; planned again",
            ),
            None => (
                OpStatus::Skipped,
                "resolved after an interrupted run: outcome unknown; planned again from the current state",
            ),
        };
        tracing::info!(message = "Resolved an interrupted operation.", platform = %ctx.name, operation = %op.kind, target = %op.target, applied = ?applied);
        ctx.store
            .record_outcome(
                op.id,
                status,
                op.attempts.max(1),
                Some(note),
                ctx.clock.now(),
            )
            .await?;
    }
    Ok(())
}

/// Closes runs that an interrupted writer left without an end. Dry runs hold no lease and may
/// still be going: they are left alone.
async fn close_interrupted_runs(ctx: &Ctx<'_>) -> Result<(), Error> {
    let current = ctx.run;
    for r in ctx.store.runs(ctx.name, 100).await? {
        if r.id == current || r.status.is_some() || r.trigger == Trigger::Plan.as_str() {
            continue;
        }
        let outcome = RunOutcome {
            status: RunStatus::Failed,
            planned: r.planned,
            applied: r.applied,
            failed: r.failed,
            api_calls: r.api_calls,
            error: Some(format!(
                "interrupted: the process stopped before the run ended; run {current} resolved its operations"
            )),
        };
        ctx.store
            .finish_run(r.id, &outcome, ctx.clock.now())
            .await?;
    }
    Ok(())
}
