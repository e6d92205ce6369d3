//! The plan's vocabulary: what the planner is given and what it proposes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::DeleteGuard;
pub use crate::model::NewTag;
use crate::model::{Bindings, Capabilities, Desired, Snapshot};

/// Everything the planner needs for one platform.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub platform: &'a str,
    pub desired: &'a Desired,
    pub snapshot: &'a Snapshot,
    pub bindings: &'a Bindings,
    pub caps: &'a Capabilities,
    /// Remote groups that refused an earlier write as "not ours" (created in the console).
    pub not_ours: &'a BTreeSet<String>,
}

/// The plan for one platform: calls to make, drift no call can fix, and bindings to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlatformPlan {
    /// The platform's name in the configuration.
    pub platform: String,
    /// The calls to make, in order.
    pub ops: Vec<Op>,
    /// Differences no API call can fix here (`!` lines): a person must act in the console.
    pub drift: Vec<Drift>,
    /// Matches found by name or `was` that the mirror should remember (no API call).
    pub bind: Vec<Binding>,
    /// One row per declared object: how it stands on this platform (the `v_drift` view).
    pub status: Vec<Status>,
    /// Facts the reader of the plan should know (for example: no list call on this platform).
    pub notes: Vec<String>,
    /// The mass-delete guard's verdict, when the plan deletes tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_guard: Option<DeleteGuard>,
}

impl PlatformPlan {
    /// Whether the plan sends anything.
    pub fn has_changes(&self) -> bool {
        !self.ops.is_empty()
    }

    /// How many tags the plan deletes (for the mass-delete guard).
    pub fn deletes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match &op.action {
                Action::DeleteTags { tags } => tags.len(),
                _ => 0,
            })
            .sum()
    }
}

/// One API call (or, where a platform takes one object per call, one logical step that apply may
/// split into several calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Op {
    pub action: Action,
    pub reason: Reason,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create a group together with its first tags.
    CreateGroup {
        group_key: String,
        name: String,
        order: Option<u32>,
        tags: Vec<NewTag>,
    },
    /// Add tags to a group. `group_id` is `None` for a group this plan creates.
    AddTags {
        group_key: String,
        group_id: Option<String>,
        group_name: String,
        tags: Vec<NewTag>,
    },
    /// Rename and/or reorder a group. `group_id` is `None` for a group this plan creates.
    EditGroup {
        group_key: String,
        group_id: Option<String>,
        /// The name the group has when this step runs (for people reading the plan).
        group_name: String,
        name: Option<Change<String>>,
        order: Option<Change<u32>>,
    },
    /// Rename and/or reorder a tag. `tag_id` is `None` for a tag this plan creates, and
    /// `group_id` for a group this plan creates.
    EditTag {
        group_key: String,
        group_id: Option<String>,
        group_name: String,
        /// The tag's name when this step runs (for people reading the plan).
        tag_name: String,
        tag_key: Option<String>,
        tag_id: Option<String>,
        name: Option<Change<String>>,
        order: Option<Change<u32>>,
    },
    /// Delete tags (of one or several groups).
    DeleteTags { tags: Vec<TagRef> },
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Change<T> {
    pub from: Option<T>,
    pub to: T,
}

/// An existing remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TagRef {
    pub group_key: String,
    pub group_id: String,
    pub group_name: String,
    pub tag_id: String,
    pub name: String,
}

/// Why an operation or drift line is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Reason {
    /// Declared, and the platform does not have it.
    Missing,
    /// Found under an earlier name listed in `was`.
    RenamedViaWas { old: String },
    /// Bound to this key, but renamed on the platform since (in the console, or in the file).
    NameDiffers,
    /// The order differs from the declared one (explicit or by position).
    OrderDrifted,
    /// A created object whose order the create call could not set.
    OrderOfNew,
    /// Not declared in a group with `prune: true`.
    Undeclared,
    /// Part of a rename cycle (a swap): moved aside to free its name.
    FreeName,
}

/// A difference that no call will fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drift {
    pub group: String,
    pub tag: Option<String>,
    /// What differs, in words.
    pub what: String,
    pub cause: DriftCause,
}

/// Why a difference cannot be fixed by tagsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftCause {
    /// The platform's API has no call for it.
    NotSupported,
    /// The platform refuses changes to this group: it was created in the console.
    NotOurs,
    /// The change would collide with another remote object; a person must decide.
    Conflict,
}

/// A binding to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Binding {
    pub group_key: String,
    pub tag_key: Option<String>,
    pub remote_id: String,
}

/// How one declared object stands (`v_drift`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Status {
    pub group_key: String,
    pub tag_key: Option<String>,
    pub group_name: String,
    pub tag_name: Option<String>,
    pub state: State,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Present,
    Missing,
    Renamed,
    Reordered,
    Extra,
    NotSupported,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Missing => "missing",
            State::Renamed => "renamed",
            State::Reordered => "reordered",
            State::Extra => "extra",
            State::NotSupported => "not_supported",
        }
    }
}

/// The execution phases, in order. See the module docs for why each comes where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    /// New tags for a group whose old tags are all being deleted, so it never becomes empty.
    AddBeforeEmptying,
    /// Deletes, so that their names are free for renames and creates.
    Delete,
    GroupEdit,
    TagEdit,
    Create,
    /// Orders of objects created just before, where the create call could not set them.
    OrderNew,
}
