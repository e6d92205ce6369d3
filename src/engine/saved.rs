//! Saved plans: made from a dry run's reports, and carried out exactly or refused.

use crate::planner::saved::{self, Basis, SavedPlan, SavedPlatform, describe_changes};

use super::report::{CycleReport, Error, ErrorClass, Problem};
use super::rounds::{pull, record_plan, with_binds};
use super::{CycleRequest, Engine, RunMode, Target, execute, lifecycle, recovery};

impl Engine {
    /// The plans of a dry run's reports, each with the state it was made from, for `apply FILE`.
    pub fn saved_plan<'a>(&self, reports: impl IntoIterator<Item = &'a CycleReport>) -> SavedPlan {
        SavedPlan {
            format: saved::FORMAT.into(),
            created_at: self.clock().now(),
            platforms: reports.into_iter().map(saved_platform).collect(),
        }
    }

    /// Carries out a saved plan exactly: re-reads the platform, refuses when it no longer matches
    /// the plan's basis (naming what changed), and otherwise sends the plan's operations in order,
    /// once.
    ///
    /// # Guarantees
    /// No operation outside the saved plan is sent, and none is repeated: an unknown outcome stops
    /// the run (a later `tagsync apply` re-reads and converges). Holds the writer lease throughout,
    /// in [`RunMode::DryRun`] too, so the check and the sends see one state.
    ///
    /// # Errors
    /// [`Error::Stale`] when the platform changed, [`Error::TooManyDeletes`], and those of
    /// [`Engine::cycle`].
    pub async fn apply_saved(
        &self,
        target: &Target,
        saved: &SavedPlatform,
        request: &CycleRequest,
    ) -> Result<CycleReport, Error> {
        let differences = saved.account.differences(&target.account);
        if !differences.is_empty() {
            return Err(Error::OtherAccount {
                platform: target.name.clone(),
                differences,
            });
        }
        let dry_run =
            request.mode == RunMode::DryRun || target.mode == crate::settings::Mode::Observe;
        let mut judged = saved.plan.clone();
        judged.judge_deletes(request.max_deletes);
        let plan = Some(&judged);
        lifecycle::run(self, target, request.trigger, true, plan, async |ctx, report| {
            let name = ctx.name;
            let snapshot = pull(ctx).await?;
            recovery::recover(ctx, &snapshot).await?;
            let bindings = ctx.store.bindings(name).await?;
            let not_ours = ctx.store.not_ours(name).await?;
            let now = Basis::new(&snapshot, &with_binds(bindings, &saved.plan.bind), &not_ours);
            if now.fingerprint() != saved.fingerprint {
                let mut changes = describe_changes(&saved.basis, &now);
                if changes.is_empty() {
                    changes.push(
                        "the saved plan's basis does not match its fingerprint (edited by hand?)"
                            .into(),
                    );
                }
                return Err(Error::Stale {
                    platform: name.to_owned(),
                    changes,
                });
            }
            if judged.refused_by_guard() {
                return Err(Error::too_many_deletes(name, judged.clone()));
            }
            record_plan(ctx, &saved.plan).await?;
            if dry_run || !saved.plan.has_changes() {
                return Ok(());
            }
            let stop = execute::execute(ctx, &saved.plan, report).await?;
            if stop == execute::Stop::Reread {
                report.errors.push(Problem {
                    class: ErrorClass::Transient,
                    platform: name.to_owned(),
                    message: "an operation's outcome is unknown; the saved plan stopped there. Run `tagsync apply` to converge".into(),
                });
            }
            // Record what the platform holds now.
            pull(ctx).await?;
            Ok(())
        })
        .await
    }

    /// [`Engine::apply_saved`] for each plan with its target (`targets[i]` for `plans[i]`), all
    /// at once; results in the plans' order.
    pub async fn apply_saved_all(
        &self,
        targets: &[Target],
        plans: &[SavedPlatform],
        request: &CycleRequest,
    ) -> Vec<Result<CycleReport, Error>> {
        let request = *request;
        let pairs: Vec<(Target, SavedPlatform)> =
            targets.iter().cloned().zip(plans.iter().cloned()).collect();
        self.for_each(pairs, move |engine, (target, plan)| async move {
            engine.apply_saved(&target, &plan, &request).await
        })
        .await
    }
}

/// Judges each saved plan against the delete guard with this limit, so that the verdict is shown
/// before anyone is asked to confirm.
pub fn judge_deletes(saved: &mut SavedPlan, max_deletes: usize) {
    for p in &mut saved.platforms {
        p.plan.judge_deletes(max_deletes);
    }
}

/// Checks that each saved plan (`plans[i]`) is applied to the account it was made for
/// (`targets[i]`): none is, before any call, when one is not.
///
/// # Errors
/// [`Error::OtherAccount`] for the first plan whose account differs.
pub fn check_accounts(plans: &[SavedPlatform], targets: &[Target]) -> Result<(), Error> {
    for (p, t) in plans.iter().zip(targets) {
        let differences = p.account.differences(&t.account);
        if !differences.is_empty() {
            return Err(Error::OtherAccount {
                platform: t.name.clone(),
                differences,
            });
        }
    }
    Ok(())
}

fn saved_platform(r: &CycleReport) -> SavedPlatform {
    SavedPlatform {
        platform: r.platform.clone(),
        account: r.account.clone(),
        fingerprint: r.basis.fingerprint(),
        basis: r.basis.clone(),
        plan: r.plan.clone(),
    }
}
