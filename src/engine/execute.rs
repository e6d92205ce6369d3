//! Executing one plan's operations in order: each journaled as an intent before it is sent and
//! given its outcome after; created objects bound at once; a failure decides how the round ends.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};

use crate::model::{RemoteGroup, RemoteTag};
use crate::planner::{Action, Op, PlatformPlan};
use crate::platforms;
use crate::store::{Applied, OpStatus};

use super::Ctx;
use super::report::{CycleReport, Error, ErrorClass, Problem};

/// How a plan's execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// Every operation was tried.
    Finished,
    /// An outcome is unknown or transient failures outlasted retries: re-read, plan again.
    Reread,
    /// A permanent rejection: report, do not send again this run.
    Permanent,
}

/// What this plan created so far, by key: later operations of the same plan (orders of new
/// objects) address them by these ids.
#[derive(Debug, Default)]
struct Created {
    groups: BTreeMap<String, String>,
    tags: BTreeMap<(String, String), String>,
}

impl Created {
    fn group_id(&self, action: &Action) -> Option<String> {
        action
            .group_id()
            .map(str::to_owned)
            .or_else(|| self.groups.get(action.group_key()).cloned())
    }
}

/// Carries out one plan under the run's lease (renewed before every operation).
pub(super) async fn execute(
    ctx: &Ctx<'_>,
    plan: &PlatformPlan,
    report: &mut CycleReport,
) -> Result<Stop, Error> {
    let mut created = Created::default();
    // Groups whose creation failed or that refused us: later steps on them are skipped.
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut stop = Stop::Finished;
    let mut queue: VecDeque<Cow<'_, Op>> = plan.ops.iter().map(Cow::Borrowed).collect();
    ctx.progress(|platform| super::ProgressEvent::Sending {
        platform,
        operations: plan.ops.len(),
    });
    while let Some(op) = queue.pop_front() {
        let op: &Op = &op;
        let group_key = op.action.group_key();
        if blocked.contains(group_key) {
            continue;
        }
        if let Some(lease) = ctx.lease {
            lease.renew().await?;
        }
        let seq = report.next_seq;
        report.next_seq += 1;
        let journal = op.journal();
        let intent = ctx
            .store
            .record_intent(
                report.run,
                ctx.name,
                seq,
                journal.kind.as_str(),
                &journal.target,
                &journal.request,
                ctx.clock.now(),
            )
            .await?;
        let result = send(ctx.platform, &op.action, &created).await;
        ctx.progress(|platform| super::ProgressEvent::Sent { platform });
        let now = ctx.clock.now();
        let e = match result {
            Ok(applied) => {
                ctx.store
                    .record_outcome(intent, OpStatus::Succeeded, 1, None, now)
                    .await?;
                report.succeeded += 1;
                if !record_applied(ctx, op, &applied, &mut created, now).await? {
                    // Until the list that ends the round finds it, nothing can address it: its
                    // later steps wait for that round.
                    blocked.insert(group_key.to_owned());
                }
                continue;
            }
            Err(e) => e,
        };
        let not_ours = matches!(e, platforms::Error::NotOurs { .. });
        let status = if not_ours {
            OpStatus::NotOurs
        } else {
            OpStatus::Failed
        };
        ctx.store
            .record_outcome(intent, status, 1, Some(&e.to_string()), now)
            .await?;
        tracing::warn!(message = "An operation failed.", platform = %ctx.name, operation = %journal.kind, target = %journal.target, error = %e);
        match ErrorClass::of(&e) {
            ErrorClass::NotOurs => {
                // A refused delete of several groups' tags does not say whose they are, and
                // deleted nothing (calls are all-or-nothing): it goes again one group at a time,
                // so that only the refusing group is remembered as not ours.
                if let Some(parts) = op.action.split_by_group() {
                    for action in parts.into_iter().rev() {
                        let reason = op.reason.clone();
                        queue.push_front(Cow::Owned(Op { action, reason }));
                    }
                    continue;
                }
                report.not_ours += 1;
                if let Some(id) = created.group_id(&op.action) {
                    ctx.store.mark_not_ours(ctx.name, &id, now).await?;
                }
                blocked.insert(group_key.to_owned());
            }
            ErrorClass::Transient => {
                report.failed += 1;
                return Ok(Stop::Reread);
            }
            class => {
                report.failed += 1;
                report.errors.push(Problem {
                    class,
                    platform: ctx.name.to_owned(),
                    message: e.to_string(),
                });
                blocked.insert(group_key.to_owned());
                stop = Stop::Permanent;
            }
        }
    }
    Ok(stop)
}

/// Records what a successful operation changed: the ids of what it created (bound to their keys
/// at once) and the change itself in the mirror. Returns whether what it made can be addressed
/// now: a create that answers no id (Miaokol's `batchAddTag`) is bound by name from the list
/// that ends the round, and recorded from it.
async fn record_applied(
    ctx: &Ctx<'_>,
    op: &Op,
    applied: &[Applied],
    created: &mut Created,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let group_key = op.action.group_key();
    let mut addressable = true;
    for change in applied {
        match change {
            Applied::GroupCreated(g) if g.id.is_empty() => {
                addressable = false;
                continue;
            }
            Applied::GroupCreated(g) => {
                created.groups.insert(group_key.to_owned(), g.id.clone());
                ctx.store
                    .bind_group(ctx.name, group_key, &g.id, now)
                    .await?;
                bind_new_tags(ctx, &op.action, &g.tags, created, now).await?;
            }
            Applied::TagsCreated { tags, .. } => {
                bind_new_tags(ctx, &op.action, tags, created, now).await?;
            }
            _ => {}
        }
        ctx.store
            .record_applied(ctx.name, change, Some(ctx.run), now)
            .await?;
    }
    Ok(addressable)
}

async fn bind_new_tags(
    ctx: &Ctx<'_>,
    action: &Action,
    returned: &[RemoteTag],
    created: &mut Created,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (group_key, wanted) = match action {
        Action::CreateGroup {
            group_key, tags, ..
        }
        | Action::AddTags {
            group_key, tags, ..
        } => (group_key, tags),
        _ => return Ok(()),
    };
    for t in wanted {
        if let Some(r) = returned
            .iter()
            .find(|r| r.name == t.name && !r.id.is_empty())
        {
            created
                .tags
                .insert((group_key.clone(), t.key.clone()), r.id.clone());
            ctx.store
                .bind_tag(ctx.name, group_key, &t.key, &r.id, now)
                .await?;
        }
    }
    Ok(())
}

/// Makes the call(s) of one operation and says what changed.
async fn send(
    platform: &dyn platforms::Platform,
    action: &Action,
    created: &Created,
) -> Result<Vec<Applied>, platforms::Error> {
    let missing = |what: &str| platforms::Error::Protocol {
        endpoint: "apply",
        detail: format!("{what} created earlier in this plan has no id"),
    };
    let group = || created.group_id(action).ok_or_else(|| missing("the group"));
    match action {
        Action::CreateGroup {
            name, order, tags, ..
        } => {
            let g: RemoteGroup = platform.create_group(name, *order, tags).await?;
            Ok(vec![Applied::GroupCreated(g)])
        }
        Action::AddTags {
            group_name, tags, ..
        } => {
            let id = group()?;
            let added = platform.add_tags(&id, group_name, tags).await?;
            Ok(vec![Applied::TagsCreated {
                group_id: id,
                tags: added,
            }])
        }
        Action::EditGroup { name, order, .. } => {
            let id = group()?;
            let new_name = name.as_ref().map(|n| n.to.as_str());
            let new_order = order.as_ref().map(|o| o.to);
            platform.edit_group(&id, new_name, new_order).await?;
            Ok(vec![Applied::GroupEdited {
                id,
                name: new_name.map(str::to_owned),
                order: new_order,
            }])
        }
        Action::EditTag {
            group_key,
            tag_key,
            tag_id,
            name,
            order,
            ..
        } => {
            let group = group()?;
            let id = tag_id
                .clone()
                .or_else(|| {
                    tag_key
                        .as_ref()
                        .and_then(|k| created.tags.get(&(group_key.clone(), k.clone())).cloned())
                })
                .ok_or_else(|| missing("the tag"))?;
            let new_name = name.as_ref().map(|n| n.to.as_str());
            let new_order = order.as_ref().map(|o| o.to);
            platform.edit_tag(&group, &id, new_name, new_order).await?;
            Ok(vec![Applied::TagEdited {
                id,
                name: new_name.map(str::to_owned),
                order: new_order,
            }])
        }
        Action::DeleteTags { tags } => {
            let ids: Vec<String> = tags.iter().map(|t| t.tag_id.clone()).collect();
            platform.delete_tags(&ids).await?;
            Ok(vec![Applied::TagsDeleted { ids }])
        }
    }
}
