//! One platform's standing for `tagsync status` and the status page: read-only, a handful of
//! indexed queries whatever the length of the history.

use serde::Serialize;

use super::*;

/// A run as the status report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunBrief {
    pub id: RunId,
    pub trigger: String,
    /// 'running', 'succeeded', 'failed' or 'partial'.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub applied: i64,
    pub failed: i64,
    pub error: Option<String>,
}

/// A declared object that is not in step (`v_drift` without 'present').
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    pub group_name: String,
    pub tag_name: Option<String>,
    pub status: String,
    pub detail: Option<String>,
}

/// An operation that failed or was refused (`v_failed_operations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedOperation {
    pub run_id: RunId,
    pub kind: String,
    pub target: String,
    pub attempts: i64,
    pub error_class: String,
    pub error: Option<String>,
}

/// A change seen in a pull (made in the console or by another tool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleChange {
    pub object: String,
    pub kind: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub at: DateTime<Utc>,
}

/// A group whose console refused tagsync's writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotOursGroup {
    pub name: Option<String>,
    pub marked_at: DateTime<Utc>,
}

/// How one platform stands, from the mirror alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformStatus {
    pub name: String,
    pub kind: String,
    pub mode: String,
    pub last_pull_at: Option<DateTime<Utc>>,
    /// The latest run of any kind.
    pub last_run: Option<RunBrief>,
    /// The latest run that sent at least one operation.
    pub last_apply: Option<RunBrief>,
    /// Declared objects per `v_drift` status, without 'present'.
    pub drift_counts: BTreeMap<String, i64>,
    /// The declared objects not in step (at most [`LIST_LIMIT`]).
    pub drift: Vec<DriftItem>,
    pub not_ours: Vec<NotOursGroup>,
    /// Operations of the last apply that failed or were refused.
    pub failed_operations: Vec<FailedOperation>,
    /// Operations sent without a known outcome (resolved by the next writer).
    pub unresolved_intents: i64,
    /// Marks waiting to be delivered.
    pub mark_queue: i64,
    pub oldest_mark_at: Option<DateTime<Utc>>,
    /// Marks given up on (status `dead`).
    pub marks_dead: i64,
    /// Marks delivered in the hour before `now` (the delivery rate).
    pub marks_delivered_last_hour: i64,
    /// The writer lease's holder, while it runs.
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The latest changes seen in pulls (at most [`LIST_LIMIT`]), newest first.
    pub console_changes: Vec<ConsoleChange>,
}

/// How many items a list of the report holds at most.
pub const LIST_LIMIT: i64 = 50;

type RunTuple = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i64,
    i64,
    Option<String>,
);

/// `kind, mode, last_pull_at, last_error` of `platforms`.
type HeadTuple = (String, String, Option<DateTime<Utc>>, Option<String>);
/// `object, kind, old_value, new_value, at` of `tag_events`.
type ChangeTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
);

fn run_brief(r: RunTuple) -> RunBrief {
    RunBrief {
        id: r.0,
        trigger: r.1,
        status: r.2,
        started_at: r.3,
        finished_at: r.4,
        applied: r.5,
        failed: r.6,
        error: r.7,
    }
}

/// The columns of a [`RunTuple`].
macro_rules! select_run_brief {
    () => {
        "SELECT id, \"trigger\", status, started_at, finished_at, applied, failed, error
         FROM sync_runs"
    };
}

impl Store {
    /// How `platform` stands: its last runs, drift, refusals, mark queue and lease. `lease` is the
    /// name of its writer lease; `now` decides whether the lease still runs.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`] for a platform the mirror has never recorded.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn platform_status(
        &self,
        platform: &str,
        lease: &str,
        now: DateTime<Utc>,
    ) -> Result<PlatformStatus, Error> {
        const WHAT: &str = "read the status";
        let now = ts(now);
        on_pool!(self, |pool| {
            let head: Option<HeadTuple> = sqlx::query_as(
                "SELECT kind, mode, last_pull_at, last_error FROM platforms WHERE name = $1",
            )
            .bind(platform)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?;
            let Some((kind, mode, last_pull_at, last_error)) = head else {
                return Err(Error::UnknownPlatform {
                    platform: platform.to_owned(),
                });
            };
            let last_run: Option<RunTuple> = sqlx::query_as(concat!(
                select_run_brief!(),
                " WHERE platform = $1 ORDER BY id DESC LIMIT 1"
            ))
            .bind(platform)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?;
            let last_apply: Option<RunTuple> = sqlx::query_as(concat!(
                select_run_brief!(),
                " WHERE platform = $1 AND (applied > 0 OR failed > 0) ORDER BY id DESC LIMIT 1"
            ))
            .bind(platform)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?;
            let counts: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM v_drift WHERE platform = $1 AND status <> 'present'
                 GROUP BY status ORDER BY status",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            let drift: Vec<(String, Option<String>, String, Option<String>)> = sqlx::query_as(
                "SELECT group_name, tag_name, status, detail FROM v_drift
                 WHERE platform = $1 AND status <> 'present'
                 ORDER BY group_key, tag_key LIMIT $2",
            )
            .bind(platform)
            .bind(LIST_LIMIT)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            let not_ours: Vec<(Option<String>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT g.name, n.marked_at FROM not_ours n
                 LEFT JOIN tag_groups g ON g.platform = n.platform AND g.remote_id = n.remote_id
                 WHERE n.platform = $1 ORDER BY g.name, n.remote_id",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            let failed: Vec<(i64, String, String, i64, String, Option<String>)> = match &last_apply
            {
                None => Vec::new(),
                Some(run) => sqlx::query_as(
                    "SELECT run_id, kind, target, attempts, error_class, error
                         FROM v_failed_operations WHERE run_id = $1 ORDER BY seq LIMIT $2",
                )
                .bind(run.0)
                .bind(LIST_LIMIT)
                .fetch_all(pool)
                .await
                .ctx(WHAT)?,
            };
            let intents: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM operations WHERE platform = $1 AND status = 'intent'",
            )
            .bind(platform)
            .fetch_one(pool)
            .await
            .ctx(WHAT)?;
            let marks: (i64, i64) = sqlx::query_as(
                "SELECT COUNT(CASE WHEN status IN ('queued', 'claimed') THEN 1 END),
                        COUNT(CASE WHEN status = 'dead' THEN 1 END)
                 FROM mark_requests WHERE platform = $1",
            )
            .bind(platform)
            .fetch_one(pool)
            .await
            .ctx(WHAT)?;
            let delivered: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM mark_requests
                 WHERE platform = $1 AND status = 'succeeded' AND finished_at >= $2",
            )
            .bind(platform)
            .bind(now - chrono::Duration::hours(1))
            .fetch_one(pool)
            .await
            .ctx(WHAT)?;
            let oldest_mark: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT created_at FROM mark_requests
                 WHERE platform = $1 AND status IN ('queued', 'claimed')
                 ORDER BY created_at LIMIT 1",
            )
            .bind(platform)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?;
            let lease: Option<(String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at > $2",
            )
            .bind(lease)
            .bind(now)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?;
            let changes: Vec<ChangeTuple> = sqlx::query_as(
                "SELECT object, kind, old_value, new_value, at FROM tag_events
                     WHERE platform = $1 AND source = 'pull' ORDER BY id DESC LIMIT $2",
            )
            .bind(platform)
            .bind(LIST_LIMIT)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            Ok(PlatformStatus {
                name: platform.to_owned(),
                kind,
                mode,
                last_pull_at,
                last_run: last_run.map(run_brief),
                last_apply: last_apply.map(run_brief),
                drift_counts: counts.into_iter().collect(),
                drift: drift
                    .into_iter()
                    .map(|d| DriftItem {
                        group_name: d.0,
                        tag_name: d.1,
                        status: d.2,
                        detail: d.3,
                    })
                    .collect(),
                not_ours: not_ours
                    .into_iter()
                    .map(|n| NotOursGroup {
                        name: n.0,
                        marked_at: n.1,
                    })
                    .collect(),
                failed_operations: failed
                    .into_iter()
                    .map(|f| FailedOperation {
                        run_id: f.0,
                        kind: f.1,
                        target: f.2,
                        attempts: f.3,
                        error_class: f.4,
                        error: f.5,
                    })
                    .collect(),
                unresolved_intents: intents,
                mark_queue: marks.0,
                oldest_mark_at: oldest_mark,
                marks_dead: marks.1,
                marks_delivered_last_hour: delivered,
                lease_holder: lease.as_ref().map(|l| l.0.clone()),
                lease_expires_at: lease.map(|l| l.1),
                last_error,
                console_changes: changes
                    .into_iter()
                    .map(|c| ConsoleChange {
                        object: c.0,
                        kind: c.1,
                        old_value: c.2,
                        new_value: c.3,
                        at: c.4,
                    })
                    .collect(),
            })
        })
    }
}
