//! Rounds: pull → plan → execute, until a plan has nothing left to send or the rounds run out.
//! Apply works in bounded rounds instead of retrying failed writes: after an unknown outcome a
//! fresh read is the only trustworthy basis for the next call.

use std::collections::BTreeSet;

use crate::model::{Bindings, Desired, Snapshot};
use crate::planner::saved::Basis;
use crate::planner::{self, PlanInput, PlatformPlan};
use crate::store;

use super::Ctx;
use super::execute::{Stop, execute};
use super::recovery;
use super::report::{CycleReport, Error, ErrorClass, Problem};

/// Pulls, plans and (unless `dry_run`) executes in rounds. `report.plan` gets the first plan,
/// `report.remaining` the last.
pub(super) async fn rounds(
    ctx: &Ctx<'_>,
    desired: &Desired,
    dry_run: bool,
    max_deletes: usize,
    report: &mut CycleReport,
) -> Result<(), Error> {
    let max_rounds = ctx.policy.max_rounds.max(1);
    for round in 1..=max_rounds {
        report.rounds = round;
        let Planned {
            snapshot,
            bindings,
            not_ours,
            mut plan,
        } = pull_and_plan(ctx, desired).await?;
        if round == 1 && ctx.lease.is_some() {
            recovery::recover(ctx, &snapshot).await?;
        }
        record_plan(ctx, &plan).await?;
        if round == 1 {
            // The verdict is shown with the plan, dry runs included.
            plan.judge_deletes(max_deletes);
            report.plan = plan.clone();
            report.basis = Basis::new(&snapshot, &with_binds(bindings, &plan.bind), &not_ours);
            if plan.refused_by_guard() && !dry_run {
                return Err(Error::too_many_deletes(ctx.name, plan));
            }
        }
        let done = dry_run || !plan.has_changes() || !ctx.caps.writable();
        report.remaining = plan.clone();
        if done {
            return Ok(());
        }
        let stop = execute(ctx, &plan, report).await?;
        if stop == Stop::Permanent {
            // Re-read once so the mirror shows what did happen, but do not send again.
            report.remaining = pull_and_plan(ctx, desired).await?.plan;
            record_plan(ctx, &report.remaining).await?;
            return Ok(());
        }
    }
    // The last round sent something; one more pull tells whether it converged.
    report.remaining = pull_and_plan(ctx, desired).await?.plan;
    // What this last pull matched (say, a group a lost create did make) is bound now, not at the
    // next run: a converged run leaves every declared object bound.
    record_plan(ctx, &report.remaining).await?;
    if report.remaining.has_changes() {
        report.errors.push(Problem {
            class: ErrorClass::NotConverged,
            platform: ctx.name.to_owned(),
            message: format!(
                "not converged after {max_rounds} rounds; {} operations remain",
                report.remaining.ops.len()
            ),
        });
    }
    Ok(())
}

/// One pull, what the mirror knows besides, and the plan made from them.
struct Planned {
    snapshot: Snapshot,
    bindings: Bindings,
    not_ours: BTreeSet<String>,
    plan: PlatformPlan,
}

async fn pull_and_plan(ctx: &Ctx<'_>, desired: &Desired) -> Result<Planned, Error> {
    let snapshot = pull(ctx).await?;
    let bindings = ctx.store.bindings(ctx.name).await?;
    let not_ours = ctx.store.not_ours(ctx.name).await?;
    let plan = planner::plan(&PlanInput {
        platform: ctx.name,
        desired,
        snapshot: &snapshot,
        bindings: &bindings,
        caps: ctx.caps,
        not_ours: &not_ours,
    });
    Ok(Planned {
        snapshot,
        bindings,
        not_ours,
        plan,
    })
}

/// Records what a plan found without a call: the bindings of objects matched by name or `was`, and
/// how every declared object stands (`v_drift`), as each round does for its plan.
pub(super) async fn record_plan(ctx: &Ctx<'_>, plan: &PlatformPlan) -> Result<(), Error> {
    let (store, name, now) = (ctx.store, ctx.name, ctx.clock.now());
    // One transaction for all of them: a first cycle over an account of 10,000 tags matches them
    // all by name, and 10,000 transactions of one platform starve the others' on SQLite.
    if !plan.bind.is_empty() {
        let binds: Vec<_> = plan
            .bind
            .iter()
            .map(|b| match &b.tag_key {
                None => (
                    store::Object::Group,
                    b.group_key.as_str(),
                    "",
                    b.remote_id.as_str(),
                ),
                Some(t) => (
                    store::Object::Tag,
                    b.group_key.as_str(),
                    t.as_str(),
                    b.remote_id.as_str(),
                ),
            })
            .collect();
        store.bind_many(name, &binds, now).await?;
    }
    store
        .replace_desired_state(name, &status_rows(plan), now)
        .await?;
    Ok(())
}

/// Reads what the platform holds and records it; platforms without a list call are read from the
/// mirror (what tagsync itself created and saw).
pub(super) async fn pull(ctx: &Ctx<'_>) -> Result<Snapshot, Error> {
    if !ctx.caps.list {
        return Ok(ctx.store.mirror_snapshot(ctx.name).await?);
    }
    let snapshot = ctx.platform.list().await.map_err(|source| Error::Pull {
        platform: ctx.name.to_owned(),
        source,
    })?;
    ctx.store
        .record_snapshot(ctx.name, &snapshot, true, Some(ctx.run), ctx.clock.now())
        .await?;
    Ok(snapshot)
}

fn status_rows(plan: &PlatformPlan) -> Vec<store::DesiredStateRow> {
    plan.status
        .iter()
        .map(|s| store::DesiredStateRow {
            group_key: s.group_key.clone(),
            tag_key: s.tag_key.clone(),
            group_name: s.group_name.clone(),
            tag_name: s.tag_name.clone(),
            status: s.state.as_str().to_owned(),
            detail: s.detail.clone(),
        })
        .collect()
}

/// The bindings after a plan's matches are recorded (which every plan does, dry runs included).
pub(super) fn with_binds(mut b: Bindings, binds: &[planner::Binding]) -> Bindings {
    for x in binds {
        match &x.tag_key {
            None => b.groups.insert(x.group_key.clone(), x.remote_id.clone()),
            Some(t) => b
                .tags
                .insert((x.group_key.clone(), t.clone()), x.remote_id.clone()),
        };
    }
    b
}
