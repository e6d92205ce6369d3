//! Carrying out plans: pull → plan → execute, in rounds, journaling every step to the mirror.
//!
//! # Guarantees
//! - Every operation is written to `operations` as an intent before it is sent and gets its outcome
//!   after; every change made is recorded in the mirror (`tag_groups`, `tags`, `tag_events` with
//!   source `apply`) and every created object is bound to its key at once.
//! - A write whose outcome is unknown (lost response, retries exhausted) is never repeated blindly:
//!   the round stops, the next round re-reads the platform and plans afresh, and matching by name
//!   binds what the lost call did create instead of creating it again. On a platform without a
//!   list call the re-read is the mirror, which cannot see what a lost create did: the create is
//!   sent again, addressed by name, and answers with what the lost call made only where the
//!   platform adds to an existing name instead of duplicating it (see `platforms::dustess`).
//! - A permanent rejection is recorded after one attempt and never retried; "not ours" (a group made
//!   in the console) is remembered so that later plans show it as drift instead of calling again.
//!
//! # Cancellation
//! Dropping the future leaves at most one operation in state `intent`; the next run re-reads the
//! platform before it writes, so nothing is duplicated.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use std::time::Duration;

use chrono::Utc;

use crate::model::{Capabilities, Desired, RemoteGroup, Snapshot};
use crate::planner::saved::{Basis, SavedPlatform, describe_changes};
use crate::planner::{self, Action, Op, PlanInput, PlatformPlan, TagRef};
use crate::platforms::{self, Platform};
use crate::store::{self, Applied, OpStatus, RunId, RunOutcome, RunStatus, Store};

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    /// Plan only: pull and record, send nothing.
    pub dry_run: bool,
    /// Rounds of pull → plan → execute before giving up on convergence.
    pub max_rounds: usize,
    /// Refuse a plan that deletes more tags than this.
    pub max_deletes: usize,
    /// What started the run (`plan`, `apply`, `schedule`, `demo`), for `sync_runs.trigger`.
    pub trigger: &'static str,
    /// How long to wait for another writer of the same platform before giving up.
    pub lease_wait: Duration,
}

/// How long a writer's lease lasts without renewal; it is renewed after every operation, so a
/// crashed holder blocks others for at most this long.
pub const LEASE_TTL: Duration = Duration::from_secs(120);

/// What happened on one platform.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub platform: String,
    pub run: RunId,
    /// The first plan, as shown to the user.
    pub plan: PlatformPlan,
    /// The plan made from the last pull (empty when converged).
    pub remaining: PlatformPlan,
    pub rounds: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub not_ours: usize,
    pub api_calls: u64,
    pub errors: Vec<String>,
    /// What the first plan was made from (for `plan --out`).
    pub basis: Basis,
    /// The next operation's sequence number in this run (counted across rounds).
    next_seq: i64,
}

impl Report {
    pub fn converged(&self) -> bool {
        self.errors.is_empty() && !self.remaining.has_changes()
    }
}

/// Why an apply could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mirror failed.
    #[error("the mirror failed: {0}")]
    Store(#[from] store::Error),
    /// The platform failed while reading (nothing was written).
    #[error("{platform}: {source}")]
    Pull {
        platform: String,
        #[source]
        source: platforms::Error,
    },
    /// Another process is writing to this platform, and did not finish within the wait.
    #[error(
        "{platform}: another tagsync ({holder}) is writing to this platform until {until}; waited {waited:?}. Try again later; a crashed holder's lease expires by itself"
    )]
    Busy {
        platform: String,
        holder: String,
        until: chrono::DateTime<Utc>,
        waited: Duration,
    },
    /// This process's lease expired and another writer took it: stopped before writing more.
    #[error("{platform}: lost the writer lease to {holder}; stopped before sending more")]
    LeaseLost { platform: String, holder: String },
    /// The platform no longer holds what a saved plan was made from.
    #[error(
        "{platform}: the platform changed since the saved plan was made; nothing was sent. Make a new plan. What changed:\n  - {}",
        changes.join("\n  - ")
    )]
    Stale {
        platform: String,
        changes: Vec<String>,
    },
    /// The plan deletes more than the guard allows.
    #[error(
        "{platform}: the plan deletes {deletes} tags, more than the limit of {limit} per run; review the plan, then raise `max_deletes` or pass --allow-deletes {deletes}"
    )]
    TooManyDeletes {
        platform: String,
        deletes: usize,
        limit: usize,
    },
}

/// Pulls, plans and (unless `dry_run`) applies on one platform.
pub async fn sync_platform(
    store: &Store,
    name: &str,
    platform: &dyn Platform,
    desired: &Desired,
    settings: &ApplySettings,
) -> Result<Report, Error> {
    let caps = platform.capabilities();
    let started = Utc::now();
    let calls_before = platform.api_calls();
    let run = store.start_run(name, settings.trigger, started).await?;
    let mut report = Report {
        platform: name.to_owned(),
        run,
        ..Report::default()
    };
    let writer = (!settings.dry_run && caps.writable()).then(|| Writer::new(name));
    let result = match &writer {
        Some(w) => match w.acquire(store, settings.lease_wait).await {
            Ok(()) => {
                let r = rounds(
                    store,
                    name,
                    platform,
                    desired,
                    settings,
                    caps,
                    Some(w),
                    &mut report,
                )
                .await;
                w.release(store).await;
                r
            }
            Err(e) => Err(e),
        },
        None => {
            rounds(
                store,
                name,
                platform,
                desired,
                settings,
                caps,
                None,
                &mut report,
            )
            .await
        }
    };
    report.api_calls = platform.api_calls() - calls_before;
    finish(store, result, report).await
}

/// Records how a run ended (`sync_runs`, and the platform's last error) and returns its result.
/// `report.plan` is what the run set out to do.
async fn finish(store: &Store, result: Result<(), Error>, report: Report) -> Result<Report, Error> {
    let status = match (&result, report.failed) {
        (Ok(()), 0) if report.errors.is_empty() => RunStatus::Succeeded,
        (Ok(()), _) if report.succeeded > 0 => RunStatus::Partial,
        _ => RunStatus::Failed,
    };
    let error = match &result {
        Err(e) => Some(e.to_string()),
        Ok(()) => report.errors.first().cloned(),
    };
    let outcome = RunOutcome {
        status,
        planned: report.plan.ops.len() as i64,
        applied: report.succeeded as i64,
        failed: report.failed as i64,
        api_calls: report.api_calls as i64,
        error,
    };
    // Also sets the platform's last error (or clears it).
    store.finish_run(report.run, &outcome, Utc::now()).await?;
    result.map(|()| report)
}

#[allow(clippy::too_many_arguments)]
async fn rounds(
    store: &Store,
    name: &str,
    platform: &dyn Platform,
    desired: &Desired,
    settings: &ApplySettings,
    caps: &'static Capabilities,
    writer: Option<&Writer>,
    report: &mut Report,
) -> Result<(), Error> {
    for round in 1..=settings.max_rounds.max(1) {
        report.rounds = round;
        let Planned {
            snapshot,
            bindings,
            not_ours,
            plan,
        } = pull_and_plan(store, name, platform, desired, caps, report.run).await?;
        if round == 1 && writer.is_some() {
            resolve_intents(store, name, &snapshot, caps).await?;
            close_interrupted_runs(store, name, report.run).await?;
        }
        record_plan(store, name, &plan).await?;
        if round == 1 {
            report.plan = plan.clone();
            report.basis = Basis::new(&snapshot, &with_binds(bindings, &plan.bind), &not_ours);
            if plan.deletes() > settings.max_deletes && !settings.dry_run {
                return Err(Error::TooManyDeletes {
                    platform: name.to_owned(),
                    deletes: plan.deletes(),
                    limit: settings.max_deletes,
                });
            }
        }
        let done = settings.dry_run || !plan.has_changes() || !caps.writable();
        report.remaining = plan.clone();
        if done {
            return Ok(());
        }
        let stop = execute(store, name, platform, &plan, writer, report).await?;
        if stop == Stop::Permanent {
            // Re-read once so the mirror shows what did happen, but do not send again.
            report.remaining = pull_and_plan(store, name, platform, desired, caps, report.run)
                .await?
                .plan;
            record_plan(store, name, &report.remaining).await?;
            return Ok(());
        }
    }
    // The last round sent something; one more pull tells whether it converged.
    report.remaining = pull_and_plan(store, name, platform, desired, caps, report.run)
        .await?
        .plan;
    // What this last pull matched (say, a group a lost create did make) is bound now, not at the
    // next run: a converged run leaves every declared object bound.
    record_plan(store, name, &report.remaining).await?;
    if report.remaining.has_changes() {
        report.errors.push(format!(
            "{name}: not converged after {} rounds; {} operations remain",
            settings.max_rounds,
            report.remaining.ops.len()
        ));
    }
    Ok(())
}

/// One pull, what the mirror knows besides, and the plan made from them.
struct Planned {
    snapshot: Snapshot,
    bindings: crate::model::Bindings,
    not_ours: BTreeSet<String>,
    plan: PlatformPlan,
}

async fn pull_and_plan(
    store: &Store,
    name: &str,
    platform: &dyn Platform,
    desired: &Desired,
    caps: &'static Capabilities,
    run: RunId,
) -> Result<Planned, Error> {
    let snapshot = pull(store, name, platform, caps, run).await?;
    let bindings = store.bindings(name).await?;
    let not_ours = store.not_ours(name).await?;
    let plan = planner::plan(&PlanInput {
        platform: name,
        desired,
        snapshot: &snapshot,
        bindings: &bindings,
        caps,
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
async fn record_plan(store: &Store, name: &str, plan: &PlatformPlan) -> Result<(), Error> {
    let now = Utc::now();
    for b in &plan.bind {
        match &b.tag_key {
            None => {
                store
                    .bind_group(name, &b.group_key, &b.remote_id, now)
                    .await?
            }
            Some(t) => {
                store
                    .bind_tag(name, &b.group_key, t, &b.remote_id, now)
                    .await?
            }
        }
    }
    store
        .replace_desired_state(name, &status_rows(plan), now)
        .await?;
    Ok(())
}

/// Reads what the platform holds and records it; platforms without a list call are read from the
/// mirror (what tagsync itself created and saw).
async fn pull(
    store: &Store,
    name: &str,
    platform: &dyn Platform,
    caps: &Capabilities,
    run: RunId,
) -> Result<Snapshot, Error> {
    if !caps.list {
        return Ok(store.mirror_snapshot(name).await?);
    }
    let snapshot = platform.list().await.map_err(|source| Error::Pull {
        platform: name.to_owned(),
        source,
    })?;
    store
        .record_snapshot(name, &snapshot, true, Some(run), Utc::now())
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every operation was tried.
    Finished,
    /// An outcome is unknown or transient failures outlasted retries: re-read, plan again.
    Reread,
    /// A permanent rejection: report, do not send again this run.
    Permanent,
}

/// Carries out one plan. Objects created here are remembered by key so that later operations of
/// the same plan (orders of new objects) can address them.
async fn execute(
    store: &Store,
    name: &str,
    platform: &dyn Platform,
    plan: &PlatformPlan,
    writer: Option<&Writer>,
    report: &mut Report,
) -> Result<Stop, Error> {
    let mut created_groups: BTreeMap<String, String> = BTreeMap::new();
    let mut created_tags: BTreeMap<(String, String), String> = BTreeMap::new();
    // Groups whose creation failed or that refused us: later steps on them are skipped.
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut stop = Stop::Finished;
    let mut queue: VecDeque<Cow<'_, Op>> = plan.ops.iter().map(Cow::Borrowed).collect();
    while let Some(op) = queue.pop_front() {
        let op: &Op = &op;
        let group_key = op_group_key(&op.action);
        if blocked.contains(group_key) {
            continue;
        }
        if let Some(w) = writer {
            w.renew(store).await?;
        }
        let seq = report.next_seq;
        report.next_seq += 1;
        let (kind, target, request) = describe(op);
        let now = Utc::now();
        let intent = store
            .record_intent(report.run, name, seq, kind, &target, &request, now)
            .await?;
        let result = send(platform, &op.action, &created_groups, &created_tags).await;
        let now = Utc::now();
        match result {
            Ok(applied) => {
                store
                    .record_outcome(intent, OpStatus::Succeeded, 1, None, now)
                    .await?;
                report.succeeded += 1;
                for change in &applied {
                    match change {
                        // A create that answers no id (Miaokol's `batchAddTag`): the list that
                        // ends the round finds the group by name and binds it and its tags; until
                        // then nothing can address it, so its later steps wait for that round.
                        Applied::GroupCreated(g) if g.id.is_empty() => {
                            blocked.insert(group_key.to_owned());
                            continue;
                        }
                        Applied::GroupCreated(g) => {
                            created_groups.insert(group_key.to_owned(), g.id.clone());
                            store.bind_group(name, group_key, &g.id, now).await?;
                            bind_new_tags(store, name, &op.action, &g.tags, &mut created_tags, now)
                                .await?;
                        }
                        Applied::TagsCreated { tags, .. } => {
                            bind_new_tags(store, name, &op.action, tags, &mut created_tags, now)
                                .await?;
                        }
                        _ => {}
                    }
                    store
                        .record_applied(name, change, Some(report.run), now)
                        .await?;
                }
            }
            Err(e) => {
                let status = match &e {
                    platforms::Error::NotOurs { .. } => OpStatus::NotOurs,
                    _ => OpStatus::Failed,
                };
                store
                    .record_outcome(intent, status, 1, Some(&e.to_string()), now)
                    .await?;
                tracing::warn!(message = "An operation failed.", platform = %name, operation = kind, target = %target, error = %e);
                match e {
                    platforms::Error::NotOurs { .. } => {
                        // A refused delete of several groups' tags does not say whose they are,
                        // and deleted nothing (calls are all-or-nothing): it goes again one group
                        // at a time, so that only the refusing group is remembered as not ours.
                        if let Some(parts) = split_by_group(&op.action) {
                            for action in parts.into_iter().rev() {
                                let reason = op.reason.clone();
                                queue.push_front(Cow::Owned(Op { action, reason }));
                            }
                            continue;
                        }
                        report.not_ours += 1;
                        if let Some(id) = op_group_id(&op.action, &created_groups) {
                            store.mark_not_ours(name, &id, now).await?;
                        }
                        blocked.insert(group_key.to_owned());
                    }
                    platforms::Error::Indeterminate { .. } | platforms::Error::Exhausted { .. } => {
                        report.failed += 1;
                        return Ok(Stop::Reread);
                    }
                    other => {
                        report.failed += 1;
                        report.errors.push(format!("{name}: {other}"));
                        blocked.insert(group_key.to_owned());
                        stop = Stop::Permanent;
                    }
                }
            }
        }
    }
    Ok(stop)
}

async fn bind_new_tags(
    store: &Store,
    name: &str,
    action: &Action,
    returned: &[crate::model::RemoteTag],
    created: &mut BTreeMap<(String, String), String>,
    now: chrono::DateTime<Utc>,
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
            created.insert((group_key.clone(), t.key.clone()), r.id.clone());
            store.bind_tag(name, group_key, &t.key, &r.id, now).await?;
        }
    }
    Ok(())
}

/// A delete of tags of several groups as one delete per group; `None` for anything else.
fn split_by_group(a: &Action) -> Option<Vec<Action>> {
    let Action::DeleteTags { tags } = a else {
        return None;
    };
    let mut groups: Vec<Vec<TagRef>> = Vec::new();
    for t in tags {
        match groups.iter_mut().find(|g| g[0].group_id == t.group_id) {
            Some(g) => g.push(t.clone()),
            None => groups.push(vec![t.clone()]),
        }
    }
    (groups.len() > 1).then(|| {
        groups
            .into_iter()
            .map(|tags| Action::DeleteTags { tags })
            .collect()
    })
}

fn op_group_key(a: &Action) -> &str {
    match a {
        Action::CreateGroup { group_key, .. }
        | Action::AddTags { group_key, .. }
        | Action::EditGroup { group_key, .. }
        | Action::EditTag { group_key, .. } => group_key,
        Action::DeleteTags { tags } => tags.first().map(|t| t.group_key.as_str()).unwrap_or(""),
    }
}

fn op_group_id(a: &Action, created: &BTreeMap<String, String>) -> Option<String> {
    match a {
        Action::AddTags {
            group_id,
            group_key,
            ..
        }
        | Action::EditGroup {
            group_id,
            group_key,
            ..
        }
        | Action::EditTag {
            group_id,
            group_key,
            ..
        } => group_id.clone().or_else(|| created.get(group_key).cloned()),
        Action::DeleteTags { tags } => tags.first().map(|t| t.group_id.clone()),
        Action::CreateGroup { .. } => None,
    }
}

/// The journal's view of an operation: kind, target and a request summary (never a secret).
fn describe(op: &Op) -> (&'static str, String, String) {
    let request = serde_json::to_string(&op.action).unwrap_or_default();
    match &op.action {
        Action::CreateGroup { group_key, .. } => {
            ("create_group", format!("group:{group_key}"), request)
        }
        Action::AddTags { group_key, .. } => ("add_tags", format!("group:{group_key}"), request),
        Action::EditGroup { group_key, .. } => {
            ("edit_group", format!("group:{group_key}"), request)
        }
        Action::EditTag {
            group_key,
            tag_key,
            tag_id,
            ..
        } => (
            "edit_tag",
            format!(
                "tag:{group_key}/{}",
                tag_key
                    .clone()
                    .or_else(|| tag_id.clone())
                    .unwrap_or_default()
            ),
            request,
        ),
        Action::DeleteTags { tags } => (
            "delete_tags",
            format!(
                "tags:{}",
                tags.iter()
                    .map(|t| t.tag_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            request,
        ),
    }
}

/// Makes the call(s) of one operation and says what changed.
async fn send(
    platform: &dyn Platform,
    action: &Action,
    created_groups: &BTreeMap<String, String>,
    created_tags: &BTreeMap<(String, String), String>,
) -> Result<Vec<Applied>, platforms::Error> {
    let missing = |what: &str| platforms::Error::Protocol {
        endpoint: "apply",
        detail: format!("{what} created earlier in this plan has no id"),
    };
    match action {
        Action::CreateGroup {
            name, order, tags, ..
        } => {
            let g: RemoteGroup = platform.create_group(name, *order, tags).await?;
            Ok(vec![Applied::GroupCreated(g)])
        }
        Action::AddTags {
            group_key,
            group_id,
            group_name,
            tags,
        } => {
            let id = group_id
                .clone()
                .or_else(|| created_groups.get(group_key).cloned())
                .ok_or_else(|| missing("the group"))?;
            let added = platform.add_tags(&id, group_name, tags).await?;
            Ok(vec![Applied::TagsCreated {
                group_id: id,
                tags: added,
            }])
        }
        Action::EditGroup {
            group_key,
            group_id,
            name,
            order,
            ..
        } => {
            let id = group_id
                .clone()
                .or_else(|| created_groups.get(group_key).cloned())
                .ok_or_else(|| missing("the group"))?;
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
            group_id,
            tag_key,
            tag_id,
            name,
            order,
            ..
        } => {
            let group = group_id
                .clone()
                .or_else(|| created_groups.get(group_key).cloned())
                .ok_or_else(|| missing("the group"))?;
            let id = tag_id
                .clone()
                .or_else(|| {
                    tag_key
                        .as_ref()
                        .and_then(|k| created_tags.get(&(group_key.clone(), k.clone())).cloned())
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

/// This process's claim to be the one writer of a platform (a lease in the mirror).
struct Writer {
    platform: String,
    lease: String,
    holder: String,
}

impl Writer {
    fn new(platform: &str) -> Self {
        let host = host_name();
        let nonce: u32 = rand::random();
        Self {
            platform: platform.to_owned(),
            lease: format!("writer:{platform}"),
            holder: format!("{host}:{}:{nonce:08x}", std::process::id()),
        }
    }

    /// Takes the lease, waiting up to `wait` for another holder to finish.
    async fn acquire(&self, store: &Store, wait: Duration) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            match store
                .try_lease(&self.lease, &self.holder, LEASE_TTL, Utc::now())
                .await?
            {
                None => return Ok(()),
                Some((holder, until)) if holder_is_gone(&holder) => {
                    // A writer on this host that no longer runs (killed, crashed) cannot renew: take
                    // its lease now rather than make everyone wait out its expiry. Asking "as of just
                    // after its expiry" lets the one statement decide, so two waiters cannot both
                    // take it.
                    let after = until + chrono::Duration::microseconds(1);
                    if store
                        .try_lease(&self.lease, &self.holder, LEASE_TTL, after.max(Utc::now()))
                        .await?
                        .is_none()
                    {
                        tracing::warn!(message = "Took over the lease of a writer that no longer runs.", platform = %self.platform, holder = %holder);
                        return Ok(());
                    }
                }
                Some((holder, until)) => {
                    let waited = started.elapsed();
                    if waited >= wait {
                        return Err(Error::Busy {
                            platform: self.platform.clone(),
                            holder,
                            until,
                            waited,
                        });
                    }
                    if !told {
                        tracing::warn!(message = "Waiting for another writer of this platform.", platform = %self.platform, holder = %holder, until = %until);
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_millis(200).min(wait - waited)).await;
                }
            }
        }
    }

    async fn renew(&self, store: &Store) -> Result<(), Error> {
        match store
            .try_lease(&self.lease, &self.holder, LEASE_TTL, Utc::now())
            .await?
        {
            None => Ok(()),
            Some((holder, _)) => Err(Error::LeaseLost {
                platform: self.platform.clone(),
                holder,
            }),
        }
    }

    async fn release(&self, store: &Store) {
        if let Err(e) = store.release_lease(&self.lease, &self.holder).await {
            // It expires by itself; nothing is lost but time.
            tracing::warn!(message = "Could not release the writer lease.", platform = %self.platform, error = %e);
        }
    }
}

/// This machine's name, as lease holders record it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

/// Whether a lease holder (`host:pid:nonce`) is a process of this host that no longer exists.
/// Only answers yes where it can tell (Linux's /proc); a holder elsewhere is waited for.
fn holder_is_gone(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == host_name()
        && pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
        && proc.join("self").exists()
        && !proc.join(pid).exists()
}

/// Closes runs that an interrupted writer left without an end (their operations are resolved by
/// [`resolve_intents`]). Dry runs hold no lease and may still be going: they are left alone.
async fn close_interrupted_runs(store: &Store, name: &str, current: RunId) -> Result<(), Error> {
    for r in store.runs(name, 100).await? {
        if r.id == current || r.status.is_some() || r.trigger == "plan" {
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
        store.finish_run(r.id, &outcome, Utc::now()).await?;
    }
    Ok(())
}

/// Resolves operations that an interrupted run (a crash, a kill, a lost connection to the mirror)
/// left as intents: each is checked against what the platform now holds and recorded as applied
/// or not applied. Nothing is re-sent here: what was not applied is simply planned again.
async fn resolve_intents(
    store: &Store,
    name: &str,
    snapshot: &Snapshot,
    caps: &Capabilities,
) -> Result<(), Error> {
    for op in store.pending_intents(name).await? {
        let action: Option<Action> = serde_json::from_str(&op.request).ok();
        let applied = action.as_ref().and_then(|a| was_applied(a, snapshot, caps));
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
        tracing::info!(message = "Resolved an interrupted operation.", platform = %name, operation = %op.kind, target = %op.target, applied = ?applied);
        store
            .record_outcome(op.id, status, op.attempts.max(1), Some(note), Utc::now())
            .await?;
    }
    Ok(())
}

/// Whether the platform shows the effect of `action`; `None` when it cannot tell.
fn was_applied(action: &Action, s: &Snapshot, caps: &Capabilities) -> Option<bool> {
    let group_by_name = |n: &str| s.groups.iter().find(|g| g.name == n);
    let tag_by_id = |id: &str| s.groups.iter().flat_map(|g| &g.tags).find(|t| t.id == id);
    match action {
        Action::CreateGroup { name, tags, .. } => match group_by_name(name) {
            Some(g) => Some(tags.iter().all(|t| g.tags.iter().any(|x| x.name == t.name))),
            None if caps.list => Some(false),
            None => None,
        },
        Action::AddTags {
            group_id,
            group_name,
            tags,
            ..
        } => {
            let g = group_id
                .as_deref()
                .and_then(|id| s.group(id))
                .or_else(|| group_by_name(group_name))?;
            Some(tags.iter().all(|t| g.tags.iter().any(|x| x.name == t.name)))
        }
        Action::EditGroup {
            group_id,
            name,
            order,
            ..
        } => {
            let g = s.group(group_id.as_deref()?)?;
            Some(
                name.as_ref().is_none_or(|n| g.name == n.to)
                    && order.as_ref().is_none_or(|o| g.order == Some(o.to)),
            )
        }
        Action::EditTag {
            tag_id,
            name,
            order,
            ..
        } => {
            let t = tag_by_id(tag_id.as_deref()?)?;
            Some(
                name.as_ref().is_none_or(|n| t.name == n.to)
                    && order.as_ref().is_none_or(|o| t.order == Some(o.to)),
            )
        }
        Action::DeleteTags { tags } if caps.list => {
            Some(tags.iter().all(|t| tag_by_id(&t.tag_id).is_none()))
        }
        Action::DeleteTags { .. } => None,
    }
}

/// The bindings after a plan's matches are recorded (which every plan does, dry runs included).
fn with_binds(mut b: crate::model::Bindings, binds: &[planner::Binding]) -> crate::model::Bindings {
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

/// Carries out a saved plan exactly: re-reads the platform, refuses when it no longer matches the
/// plan's basis (naming what changed), and otherwise sends the plan's operations in order, once.
///
/// # Guarantees
/// No operation outside the saved plan is sent, and none is repeated: an unknown outcome stops the
/// run (a later `tagsync apply` re-reads and converges).
pub async fn apply_saved(
    store: &Store,
    saved: &SavedPlatform,
    platform: &dyn Platform,
    settings: &ApplySettings,
) -> Result<Report, Error> {
    let name = saved.platform.as_str();
    let caps = platform.capabilities();
    let calls_before = platform.api_calls();
    let run = store.start_run(name, settings.trigger, Utc::now()).await?;
    let mut report = Report {
        platform: name.to_owned(),
        run,
        plan: saved.plan.clone(),
        ..Report::default()
    };
    let writer = Writer::new(name);
    let result = match writer.acquire(store, settings.lease_wait).await {
        Err(e) => Err(e),
        Ok(()) => {
            let r = async {
                let snapshot = pull(store, name, platform, caps, run).await?;
                resolve_intents(store, name, &snapshot, caps).await?;
                close_interrupted_runs(store, name, run).await?;
                let bindings = store.bindings(name).await?;
                let not_ours = store.not_ours(name).await?;
                let now = Basis::new(&snapshot, &with_binds(bindings, &saved.plan.bind), &not_ours);
                if now.fingerprint() != saved.fingerprint {
                    let mut changes = describe_changes(&saved.basis, &now);
                    if changes.is_empty() {
                        changes.push("the saved plan's basis does not match its fingerprint (edited by hand?)".into());
                    }
                    return Err(Error::Stale { platform: name.to_owned(), changes });
                }
                if saved.plan.deletes() > settings.max_deletes {
                    return Err(Error::TooManyDeletes {
                        platform: name.to_owned(),
                        deletes: saved.plan.deletes(),
                        limit: settings.max_deletes,
                    });
                }
                record_plan(store, name, &saved.plan).await?;
                if settings.dry_run || !saved.plan.has_changes() {
                    return Ok(());
                }
                let stop = execute(store, name, platform, &saved.plan, Some(&writer), &mut report).await?;
                if stop == Stop::Reread {
                    report.errors.push(format!(
                        "{name}: an operation's outcome is unknown; the saved plan stopped there. Run `tagsync apply` to converge"
                    ));
                }
                // Record what the platform holds now.
                pull(store, name, platform, caps, run).await?;
                Ok(())
            }
            .await;
            writer.release(store).await;
            r
        }
    };
    report.api_calls = platform.api_calls() - calls_before;
    finish(store, result, report).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_vanished_process_of_this_host_is_gone() {
        let host = host_name();
        // No pid this large exists on Linux (the maximum is 2^22).
        assert!(holder_is_gone(&format!("{host}:99999999:0000abcd")));
        assert!(
            !holder_is_gone(&format!("{host}:{}:0000abcd", std::process::id())),
            "we are alive"
        );
        assert!(
            !holder_is_gone("another-host:99999999:0000abcd"),
            "elsewhere: wait, cannot tell"
        );
        assert!(!holder_is_gone(&format!("{host}:not-a-pid:0000abcd")));
        assert!(
            !holder_is_gone("crash-test"),
            "not a holder this code wrote"
        );
    }
}
