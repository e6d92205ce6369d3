//! Row structs: the shape of each query's result, decoded by sqlx on either backend. They stay
//! private to `store/`; each converts into the public type of `types.rs`, checking the values the
//! schema stores as text.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{
    Error, EventKind, EventRow, EventSource, MarkRow, MarkStatus, Object, OpStatus, OperationRow,
    PlatformRow, RunRow, RunStatus,
};

/// A mirror object's state as `record_snapshot` compares it.
#[derive(FromRow)]
pub(super) struct Known {
    pub remote_id: String,
    pub name: String,
    pub sort_order: Option<i64>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// A tag's group (NULL for a group).
    #[sqlx(default)]
    pub group_remote_id: Option<String>,
    /// Read by `record_listing` only.
    #[sqlx(default)]
    pub remote_created_at: Option<DateTime<Utc>>,
}

/// A live group, for `mirror_snapshot`.
#[derive(FromRow)]
pub(super) struct MirrorGroup {
    pub remote_id: String,
    pub name: String,
    pub sort_order: Option<i64>,
    pub remote_created_at: Option<DateTime<Utc>>,
}

/// A live tag, for `mirror_snapshot`.
#[derive(FromRow)]
pub(super) struct MirrorTag {
    pub remote_id: String,
    pub group_remote_id: String,
    pub name: String,
    pub sort_order: Option<i64>,
    pub remote_created_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
pub(super) struct Binding {
    pub object: String,
    pub group_key: String,
    pub tag_key: String,
    pub remote_id: String,
}

#[derive(FromRow)]
pub(super) struct Drift {
    pub group_key: String,
    pub tag_key: String,
    pub group_name: String,
    pub tag_name: Option<String>,
    pub status: String,
    pub detail: Option<String>,
}

#[derive(FromRow)]
pub(super) struct Event {
    id: i64,
    platform: String,
    object: String,
    remote_id: String,
    kind: String,
    old_value: Option<String>,
    new_value: Option<String>,
    source: String,
    run_id: Option<i64>,
    at: DateTime<Utc>,
}

impl TryFrom<Event> for EventRow {
    type Error = Error;

    fn try_from(r: Event) -> Result<Self, Error> {
        Ok(EventRow {
            id: r.id,
            platform: r.platform,
            object: Object::from_column("tag_events.object", &r.object)?,
            remote_id: r.remote_id,
            kind: EventKind::from_column("tag_events.kind", &r.kind)?,
            old_value: r.old_value,
            new_value: r.new_value,
            source: EventSource::from_column("tag_events.source", &r.source)?,
            run_id: r.run_id,
            at: r.at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct Run {
    id: i64,
    platform: String,
    trigger: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    status: String,
    planned: i64,
    applied: i64,
    failed: i64,
    api_calls: i64,
    error: Option<String>,
}

impl TryFrom<Run> for RunRow {
    type Error = Error;

    fn try_from(r: Run) -> Result<Self, Error> {
        let status = match r.status.as_str() {
            "running" => None,
            other => Some(RunStatus::from_column("sync_runs.status", other)?),
        };
        Ok(RunRow {
            id: r.id,
            platform: r.platform,
            trigger: r.trigger,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status,
            planned: r.planned,
            applied: r.applied,
            failed: r.failed,
            api_calls: r.api_calls,
            error: r.error,
        })
    }
}

#[derive(FromRow)]
pub(super) struct Operation {
    id: i64,
    run_id: i64,
    platform: String,
    seq: i64,
    kind: String,
    target: String,
    request: String,
    status: String,
    attempts: i64,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<Operation> for OperationRow {
    type Error = Error;

    fn try_from(r: Operation) -> Result<Self, Error> {
        let status = match r.status.as_str() {
            "intent" => None,
            other => Some(OpStatus::from_column("operations.status", other)?),
        };
        Ok(OperationRow {
            id: r.id,
            run_id: r.run_id,
            platform: r.platform,
            seq: r.seq,
            kind: r.kind,
            target: r.target,
            request: r.request,
            status,
            attempts: r.attempts,
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct Platform {
    name: String,
    kind: String,
    mode: String,
    last_pull_at: Option<DateTime<Utc>>,
    last_apply_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    updated_at: DateTime<Utc>,
}

impl From<Platform> for PlatformRow {
    fn from(r: Platform) -> Self {
        PlatformRow {
            name: r.name,
            kind: r.kind,
            mode: r.mode,
            last_pull_at: r.last_pull_at,
            last_apply_at: r.last_apply_at,
            last_error: r.last_error,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct Mark {
    id: i64,
    platform: String,
    contact: String,
    user_id: Option<String>,
    add_tags: String,
    remove_tags: String,
    status: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Mark> for MarkRow {
    type Error = Error;

    fn try_from(r: Mark) -> Result<Self, Error> {
        let tags = |column, text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| Error::Corrupt {
                column,
                value: text.to_owned(),
            })
        };
        Ok(MarkRow {
            id: r.id,
            platform: r.platform,
            contact: r.contact,
            user_id: r.user_id,
            add_tags: tags("mark_requests.add_tags", &r.add_tags)?,
            remove_tags: tags("mark_requests.remove_tags", &r.remove_tags)?,
            status: MarkStatus::from_column("mark_requests.status", &r.status)?,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}
