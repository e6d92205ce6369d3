//! Executing one plan's operations: wave after wave of operations that do not depend on each
//! other (`planner::deps`), each wave in batches. A batch's intents are journaled in one
//! transaction before any of its calls is sent; its calls go at once, up to the platform's
//! concurrency, with the rate limiter deciding the pace; its outcomes, the bindings of what it
//! created and the changes it made are recorded while the next batch is being sent. A failure
//! decides how the round ends, as it did one operation at a time.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use tracing::Instrument;

use crate::model::{RemoteGroup, RemoteTag};
use crate::planner::{Action, Op, PlatformPlan, deps};
use crate::platforms;
use crate::store::{Applied, DesiredStateRow, Intent, Object, OpStatus, OperationId, OutcomeRow};

use super::Ctx;
use super::report::{CycleReport, Error, ErrorClass, Problem};

/// The most operations journaled in one transaction and sent as one batch: large enough that
/// the journal costs little per call, small enough that a round stopped by a transient failure
/// leaves few intents unsent.
const BATCH: usize = 100;

/// A flush of the [`Book`] in progress.
type Flush<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>>;

/// One operation's call in flight: its index in the batch and, unless it was held back, its
/// result.
type Call<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (usize, Option<Result<Vec<Applied>, platforms::Error>>)>
            + Send
            + 'a,
    >,
>;

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

/// What a batch leaves to record, written while the next batch is in flight.
#[derive(Debug, Default)]
struct Book {
    outcomes: Vec<(OperationId, OpStatus, i64, Option<String>)>,
    /// Group key, tag key (none for a group), remote id.
    binds: Vec<(String, Option<String>, String)>,
    applied: Vec<Applied>,
    not_ours: Vec<String>,
    /// The plan's `desired_state` rows, written with the first flush.
    desired_state: Option<Vec<DesiredStateRow>>,
}

impl Book {
    fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
            && self.binds.is_empty()
            && self.applied.is_empty()
            && self.not_ours.is_empty()
            && self.desired_state.is_none()
    }

    /// Notes an operation's answer for the mirror: its outcome, and after a success the
    /// bindings of what it created and the change itself.
    fn note(
        &mut self,
        action: &Action,
        id: OperationId,
        result: Option<&Result<Vec<Applied>, platforms::Error>>,
    ) {
        let applied = match result {
            None => {
                let why = "not sent: a call of its batch failed; the round re-reads";
                self.outcomes
                    .push((id, OpStatus::Skipped, 0, Some(why.into())));
                return;
            }
            Some(Err(e)) => {
                let status = if matches!(e, platforms::Error::NotOurs { .. }) {
                    OpStatus::NotOurs
                } else {
                    OpStatus::Failed
                };
                self.outcomes.push((id, status, 1, Some(e.to_string())));
                return;
            }
            Some(Ok(applied)) => applied,
        };
        self.outcomes.push((id, OpStatus::Succeeded, 1, None));
        let group_key = action.group_key();
        for change in applied {
            let tags = match change {
                Applied::GroupCreated(g) if g.id.is_empty() => continue,
                Applied::GroupCreated(g) => {
                    self.binds.push((group_key.to_owned(), None, g.id.clone()));
                    Some(&g.tags)
                }
                Applied::TagsCreated { tags, .. } => Some(tags),
                _ => None,
            };
            for (tag_key, tag_id) in tags.map(|t| new_tag_ids(action, t)).unwrap_or_default() {
                self.binds.push((
                    group_key.to_owned(),
                    Some(tag_key.to_owned()),
                    tag_id.to_owned(),
                ));
            }
            self.applied.push(change.clone());
        }
    }

    async fn flush(self, ctx: &Ctx<'_>) -> Result<(), Error> {
        let now = ctx.clock.now();
        if !self.outcomes.is_empty() {
            let rows: Vec<OutcomeRow<'_>> = self
                .outcomes
                .iter()
                .map(|(id, status, attempts, error)| OutcomeRow {
                    id: *id,
                    status: *status,
                    attempts: *attempts,
                    error: error.as_deref(),
                })
                .collect();
            ctx.store.record_outcomes(&rows, now).await?;
        }
        if !self.binds.is_empty() {
            let binds: Vec<(Object, &str, &str, &str)> = self
                .binds
                .iter()
                .map(|(group, tag, id)| match tag {
                    None => (Object::Group, group.as_str(), "", id.as_str()),
                    Some(t) => (Object::Tag, group.as_str(), t.as_str(), id.as_str()),
                })
                .collect();
            ctx.store.bind_many(ctx.name, &binds, now).await?;
        }
        ctx.store
            .record_applied_many(ctx.name, &self.applied, Some(ctx.run), now)
            .await?;
        for id in &self.not_ours {
            ctx.store.mark_not_ours(ctx.name, id, now).await?;
        }
        if let Some(rows) = &self.desired_state {
            ctx.store.replace_desired_state(ctx.name, rows, now).await?;
        }
        Ok(())
    }
}

/// Carries out one plan under the run's lease (renewed before every batch).
pub(super) async fn execute(
    ctx: &Ctx<'_>,
    plan: &PlatformPlan,
    report: &mut CycleReport,
) -> Result<Stop, Error> {
    execute_deferring(ctx, plan, report, None).await
}

/// [`execute`], writing `desired_state` (how the plan's objects stand) while the first calls
/// are in flight instead of before them.
pub(super) async fn execute_deferring(
    ctx: &Ctx<'_>,
    plan: &PlatformPlan,
    report: &mut CycleReport,
    desired_state: Option<Vec<DesiredStateRow>>,
) -> Result<Stop, Error> {
    let mut created = Created::default();
    // Groups whose creation failed or that refused us: later steps on them are skipped.
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    // Groups an operation of this plan reached: their other steps may go at once. A group's
    // first step goes alone, so that a group that refuses us (not ours, rejected) is refused
    // once and its later steps are skipped, as one operation at a time would.
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut stop = Stop::Finished;
    let mut book = Book {
        desired_state,
        ..Book::default()
    };
    let concurrency = ctx.platform.concurrency().max(1);
    ctx.progress(|platform| super::ProgressEvent::Sending {
        platform,
        operations: plan.ops.len(),
    });
    for wave in deps::waves(&plan.ops) {
        let mut todo: VecDeque<Cow<'_, Op>> = wave
            .into_iter()
            .map(|i| Cow::Borrowed(&plan.ops[i]))
            .collect();
        while !todo.is_empty() {
            let mut batch: Vec<Cow<'_, Op>> = Vec::new();
            let mut later: VecDeque<Cow<'_, Op>> = VecDeque::new();
            let mut probing: BTreeSet<String> = BTreeSet::new();
            while let Some(op) = todo.pop_front() {
                let group = op.action.group_key();
                if blocked.contains(group) {
                    continue;
                }
                if batch.len() == BATCH
                    || (!reached.contains(group) && !probing.insert(group.to_owned()))
                {
                    later.push_back(op);
                } else {
                    batch.push(op);
                }
            }
            todo = later;
            if batch.is_empty() {
                continue;
            }
            if let Some(lease) = ctx.lease {
                lease.renew().await?;
            }
            let ids = journal_intents(ctx, &batch, report).await?;
            let halt = AtomicBool::new(false);
            let mut calls: Vec<Call<'_>> = Vec::with_capacity(batch.len());
            for (k, op) in batch.iter().enumerate() {
                let (halt, created) = (&halt, &created);
                let span = tracing::debug_span!("operation", kind = %op.action.kind());
                calls.push(Box::pin(
                    async move {
                        if halt.load(Ordering::Relaxed) {
                            return (k, None);
                        }
                        let result = send(ctx.platform, &op.action, created).await;
                        ctx.progress(|platform| super::ProgressEvent::Sent { platform });
                        if let Err(e) = &result
                            && ErrorClass::of(e) == ErrorClass::Transient
                        {
                            halt.store(true, Ordering::Relaxed);
                        }
                        (k, Some(result))
                    }
                    .instrument(span),
                ));
            }
            // Outcomes, bindings and changes are recorded as the answers come in, in one
            // transaction per flush while the calls go on: what was left of the previous batch
            // first, then whatever arrived meanwhile (a group commit), so that little is left to
            // record when the last call returns.
            let mut sends = futures_util::stream::iter(calls).buffer_unordered(concurrency);
            let mut flushing: Option<Flush<'_>> =
                Some(Box::pin(std::mem::take(&mut book).flush(ctx)));
            let mut results = Vec::with_capacity(batch.len());
            loop {
                tokio::select! {
                    next = sends.next() => match next {
                        Some((k, result)) => {
                            book.note(&batch[k].action, ids[k], result.as_ref());
                            results.push((k, result));
                        }
                        None => break,
                    },
                    flushed = async { flushing.as_mut().expect("polled only when set").await },
                        if flushing.is_some() =>
                    {
                        flushed?;
                        flushing = None;
                    }
                }
                if flushing.is_none() && !book.is_empty() {
                    flushing = Some(Box::pin(std::mem::take(&mut book).flush(ctx)));
                }
            }
            drop(sends);
            if let Some(f) = flushing {
                f.await?;
            }
            results.sort_by_key(|(k, _)| *k);
            let mut reread = false;
            let mut split: Vec<Cow<'_, Op>> = Vec::new();
            for (k, result) in results {
                let op = &batch[k];
                let group_key = op.action.group_key();
                let e = match result {
                    None => continue,
                    Some(Ok(applied)) => {
                        report.succeeded += 1;
                        reached.insert(group_key.to_owned());
                        if !note_created(op, applied, &mut created) {
                            // Until the list that ends the round finds it, nothing can address
                            // it: its later steps wait for that round.
                            blocked.insert(group_key.to_owned());
                        }
                        continue;
                    }
                    Some(Err(e)) => e,
                };
                let journal = op.journal();
                tracing::warn!(message = "An operation failed.", platform = %ctx.name, operation = %journal.kind, target = %journal.target, error = %e);
                match ErrorClass::of(&e) {
                    ErrorClass::NotOurs => {
                        // A refused delete of several groups' tags does not say whose they are,
                        // and deleted nothing (calls are all-or-nothing): it goes again one group
                        // at a time, so that only the refusing group is remembered as not ours.
                        if let Some(parts) = op.action.split_by_group() {
                            for action in parts {
                                let reason = op.reason.clone();
                                split.push(Cow::Owned(Op { action, reason }));
                            }
                            continue;
                        }
                        report.not_ours += 1;
                        if let Some(id) = created.group_id(&op.action) {
                            book.not_ours.push(id);
                        }
                        blocked.insert(group_key.to_owned());
                    }
                    ErrorClass::Transient => {
                        report.failed += 1;
                        reread = true;
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
            if reread {
                book.flush(ctx).await?;
                return Ok(Stop::Reread);
            }
            // The parts of a refused joined delete go next, before the rest of the wave, and
            // each group's part probes that group on its own.
            for op in split.into_iter().rev() {
                reached.remove(op.action.group_key());
                todo.push_front(op);
            }
        }
    }
    book.flush(ctx).await?;
    Ok(stop)
}

/// Journals a batch's operations as intents, in one transaction, and returns their ids.
async fn journal_intents(
    ctx: &Ctx<'_>,
    batch: &[Cow<'_, Op>],
    report: &mut CycleReport,
) -> Result<Vec<OperationId>, Error> {
    let first = report.next_seq;
    report.next_seq += batch.len() as i64;
    let journals: Vec<_> = batch.iter().map(|op| op.journal()).collect();
    let intents: Vec<Intent<'_>> = journals
        .iter()
        .zip(first..)
        .map(|(j, seq)| Intent {
            seq,
            kind: j.kind.as_str(),
            target: &j.target,
            request: &j.request,
        })
        .collect();
    Ok(ctx
        .store
        .record_intents(report.run, ctx.name, &intents, ctx.clock.now())
        .await?)
}

/// Notes in memory what a successful operation created, so that later operations of the plan
/// can address it. Returns whether what it made can be addressed now: a create that answers no
/// id (Miaokol's `batchAddTag`) is bound by name from the list that ends the round, and recorded
/// from it.
fn note_created(op: &Op, applied: Vec<Applied>, created: &mut Created) -> bool {
    let group_key = op.action.group_key();
    let mut addressable = true;
    for change in applied {
        let tags = match &change {
            Applied::GroupCreated(g) if g.id.is_empty() => {
                addressable = false;
                continue;
            }
            Applied::GroupCreated(g) => {
                created.groups.insert(group_key.to_owned(), g.id.clone());
                &g.tags
            }
            Applied::TagsCreated { tags, .. } => tags,
            _ => continue,
        };
        for (tag_key, id) in new_tag_ids(&op.action, tags) {
            created
                .tags
                .insert((group_key.to_owned(), tag_key.to_owned()), id.to_owned());
        }
    }
    addressable
}

/// The declared tags of a create, by key, with the ids the platform answered (matched by name).
fn new_tag_ids<'a>(action: &'a Action, returned: &'a [RemoteTag]) -> Vec<(&'a str, &'a str)> {
    let wanted = match action {
        Action::CreateGroup { tags, .. } | Action::AddTags { tags, .. } => tags,
        _ => return Vec::new(),
    };
    wanted
        .iter()
        .filter_map(|t| {
            returned
                .iter()
                .find(|r| r.name == t.name && !r.id.is_empty())
                .map(|r| (t.key.as_str(), r.id.as_str()))
        })
        .collect()
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
