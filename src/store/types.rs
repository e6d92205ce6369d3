//! The values the store takes and returns. They know nothing of SQL; the row structs that do live
//! in `rows.rs`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Error;
use crate::model::{RemoteGroup, RemoteTag};

/// The id of a `sync_runs` row.
pub type RunId = i64;
/// The id of an `operations` row.
pub type OperationId = i64;
/// The id of a `mark_requests` row.
pub type MarkId = i64;

/// Defines a closed set of values stored as text, with the exact spelling the SQL schema checks.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// The spelling stored in the mirror.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// Reads a stored value; `column` names where it came from for the error.
            pub(super) fn from_column(column: &'static str, text: &str) -> Result<Self, Error> {
                match text {
                    $($text => Ok(Self::$variant),)*
                    other => Err(Error::Corrupt { column, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What kind of remote object an event or binding is about.
    pub enum Object {
        Group = "group",
        Tag = "tag",
    }
}

text_enum! {
    /// What happened to a remote object.
    pub enum EventKind {
        /// It appeared (for the first time, or again after it had vanished).
        Created = "created",
        /// Its name changed; the event holds the old and the new name.
        Renamed = "renamed",
        /// Its order changed; the event holds the old and the new order as decimal text (or NULL).
        Reordered = "reordered",
        /// A tag is in another group now; the event holds the old and the new group's name.
        Moved = "moved",
        /// It vanished from a complete listing, or tagsync deleted it.
        Deleted = "deleted",
    }
}

text_enum! {
    /// Who an event comes from.
    pub enum EventSource {
        /// Seen in the platform's listing by [`Store::record_snapshot`](super::Store::record_snapshot).
        Pull = "pull",
        /// Made by tagsync itself, recorded by [`Store::record_event`](super::Store::record_event).
        Apply = "apply",
    }
}

text_enum! {
    /// How a finished run ended. A run still going has no status (`RunRow::status` is `None`; the
    /// table says 'running').
    pub enum RunStatus {
        Succeeded = "succeeded",
        Failed = "failed",
        /// Some operations succeeded and some failed.
        Partial = "partial",
    }
}

text_enum! {
    /// The outcome of one operation. An operation with only its intent recorded has no outcome
    /// (`OperationRow::status` is `None`; the table says 'intent').
    pub enum OpStatus {
        Succeeded = "succeeded",
        Failed = "failed",
        /// The platform refused because the object belongs to someone else (e.g. a console-owned group).
        NotOurs = "not_ours",
        /// Not sent (e.g. an earlier operation it depends on failed).
        Skipped = "skipped",
    }
}

text_enum! {
    /// Where a queued customer mark stands.
    pub enum MarkStatus {
        /// Waiting for its first or next attempt.
        Queued = "queued",
        /// Taken by a worker (`claimed_by`, until `claimed_until`), being sent.
        Claimed = "claimed",
        Succeeded = "succeeded",
        /// Dead: given up on (retries exhausted, or refused for good), the reason in
        /// `last_error` (`tagsync mark --retry-dead` requeues). Before migration 0006 `failed`.
        Dead = "dead",
    }
}

/// What one [`Store::record_snapshot`](super::Store::record_snapshot) saw and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullSummary {
    /// Distinct groups in the listing.
    pub groups_seen: usize,
    /// Distinct tags in the listing.
    pub tags_seen: usize,
    /// Groups and tags new to the mirror, or back after they had vanished.
    pub created: usize,
    pub renamed: usize,
    pub reordered: usize,
    /// Tags now in another group.
    pub moved: usize,
    /// Groups and tags marked deleted (only ever by a complete listing).
    pub deleted: usize,
}

/// A change tagsync made itself, for [`Store::record_event`](super::Store::record_event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewEvent {
    pub object: Object,
    pub remote_id: String,
    pub kind: EventKind,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// How a run ended, for [`Store::finish_run`](super::Store::finish_run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// Operations the plan held.
    pub planned: i64,
    /// Operations that succeeded.
    pub applied: i64,
    /// Operations that failed.
    pub failed: i64,
    /// HTTP calls made to the platform, retries included.
    pub api_calls: i64,
    /// Why the run failed as a whole; `None` clears the platform's last error.
    pub error: Option<String>,
}

/// A row of `tag_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub platform: String,
    pub object: Object,
    pub remote_id: String,
    pub kind: EventKind,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub source: EventSource,
    pub run_id: Option<RunId>,
    pub at: DateTime<Utc>,
}

/// A row of `sync_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub platform: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` while the run is still going (or was cut short by a crash).
    pub status: Option<RunStatus>,
    pub planned: i64,
    pub applied: i64,
    pub failed: i64,
    pub api_calls: i64,
    pub error: Option<String>,
}

/// A row of `operations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationRow {
    pub id: OperationId,
    pub run_id: RunId,
    pub platform: String,
    pub seq: i64,
    pub kind: String,
    pub target: String,
    pub request: String,
    /// `None` while only the intent is recorded: the request may or may not have reached the platform.
    pub status: Option<OpStatus>,
    pub attempts: i64,
    pub error: Option<String>,
    /// When the intent was journaled.
    pub created_at: DateTime<Utc>,
    /// When sending began (apply journals each intent right before sending it).
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A row of `platforms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformRow {
    pub name: String,
    pub kind: String,
    pub mode: String,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_apply_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One row of a platform's desired state as the planner judged it (`desired_state`, read through
/// the `v_drift` view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredStateRow {
    pub group_key: String,
    /// `None` for the row about the group itself.
    pub tag_key: Option<String>,
    pub group_name: String,
    pub tag_name: Option<String>,
    /// One of 'present', 'missing', 'renamed', 'reordered', 'extra', 'not_supported' (the schema
    /// rejects anything else).
    pub status: String,
    pub detail: Option<String>,
}

/// A customer mark to queue, for [`Store::queue_mark`](super::Store::queue_mark).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMark {
    /// The customer (WeCom `external_userid`, Juzibot `unionId`, Miaokol `contact_wxid`).
    pub contact: String,
    /// The staff member owning the relationship, where the platform needs one.
    pub user_id: Option<String>,
    /// Tags to add, as "GROUP/TAG" by declared names.
    pub add_tags: Vec<String>,
    /// Tags to remove, as "GROUP/TAG".
    pub remove_tags: Vec<String>,
}

/// What a worker claimed of one customer: the customer's unfinished requests in order, the
/// first of which was due. See [`Store::claim_marks`](super::Store::claim_marks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimedContact {
    pub contact: String,
    pub user_id: Option<String>,
    /// Oldest first; never empty.
    pub requests: Vec<MarkRow>,
}

/// How one claimed request ended, for [`Store::finish_marks`](super::Store::finish_marks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkOutcome {
    Succeeded,
    /// Sent again from `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Dead: given up on.
    Dead {
        error: String,
    },
}

/// One platform's mark queue at a glance (`status`, `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MarkQueueStats {
    /// Waiting or being sent.
    pub queued: i64,
    /// Of which claimed by a worker now.
    pub claimed: i64,
    /// Dead (status `dead`).
    pub dead: i64,
    pub succeeded: i64,
    /// When the oldest unfinished request was enqueued.
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// A row of `mark_requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkRow {
    pub id: MarkId,
    pub platform: String,
    pub contact: String,
    pub user_id: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub status: MarkStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change tagsync made on a platform, as the platform confirmed it, for
/// [`Store::record_applied`](super::Store::record_applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Applied {
    /// A group created with its first tags, with the ids the platform gave them.
    GroupCreated(RemoteGroup),
    /// Tags added to an existing group.
    TagsCreated {
        group_id: String,
        tags: Vec<RemoteTag>,
    },
    /// A group renamed and/or reordered (`None`: left as it was).
    GroupEdited {
        id: String,
        name: Option<String>,
        order: Option<u32>,
    },
    /// A tag renamed and/or reordered (`None`: left as it was).
    TagEdited {
        id: String,
        name: Option<String>,
        order: Option<u32>,
    },
    /// Tags deleted.
    TagsDeleted { ids: Vec<String> },
}
