//! Juzibot 句子互动 hub: customer tags (seed 001, "标签管理接口").
//!
//! - Base `https://hub.juzibot.com/api/v1/`; the hub `token` goes in the query of every call.
//! - `GET tag/list` returns every group with its tags at once (no paging); `GET tag/detail?tagId=`
//!   returns one. Ids are strings; `createTimestamp` is in milliseconds, 0 meaning "not yet synced".
//! - `POST tag/create {groupId?, groupName?, tag:[{name}]}`: `groupId` wins; an existing `groupName`
//!   adds to that group; no empty groups; duplicate names in one call make one tag. The create call
//!   takes no order: new objects get theirs in a follow-up edit.
//! - `POST tagGroup/edit` / `tag/edit {id, name?, order?}`: name and order not both empty; names
//!   stay unique (groups per account, tags per group). Order is in [0, 2^32), bigger first.
//! - `POST tagGroup/delete` / `tag/delete {id:[…]}`: batched; deleting a group's last tag deletes
//!   the group.
//! - `POST tag/mark {mark_list:[{unionId, userId, addTagId, delTagId}]}`.
//! - Errcodes: -1 invalid group name, **-2 the group was created in the console and the API may not
//!   change it** (reported as "not ours", never retried), -3 group name too long, -4 tag name too long.
//!   The document names no busy or rate-limit code and no token error: HTTP 429 and 5xx are treated
//!   as transient, every other non-zero errcode as a rejection carrying the platform's `errmsg`.
//! - The document states no batch size; tagsync sends at most 100 ids or tags per call.

mod client;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::Juzibot;

use std::sync::Arc;

use crate::model::{Batch, Capabilities, MarkStyle};
use crate::platforms::registry::{Connect, Descriptor, Limits};

/// What the hub's API allows (PLATFORMS.md, capability table).
pub const CAPABILITIES: Capabilities = Capabilities {
    list: true,
    has_order: true,
    create_group: true,
    create_sets_order: false,
    add_tags: Batch::Many(100),
    rename_group: true,
    reorder_group: true,
    rename_tag: true,
    reorder_tag: true,
    edit_name_and_order_together: true,
    delete_tags: Batch::Many(100),
    delete_groups: Batch::Many(100),
    last_tag_delete_removes_group: true,
    unique_names: true,
    mark: MarkStyle::AddRemove,
};

/// Customers per `tag/mark` call. The seed states no bound on `mark_list`; 100 is the bound it
/// states for every other list (tags per create), so a call stays a size the hub is known to take.
pub const MARKS_PER_CALL: usize = 100;

/// This kind has no settings of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// The kind's entry in the [registry](crate::platforms::registry).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "juzibot",
    capabilities: &CAPABILITIES,
    example_base_url: "https://hub.juzibot.com",
    fields: &[],
    // No published limit: conservative (README, "Rate limits").
    limits: Limits::UNPUBLISHED,
};

/// Builds the client. Makes no call.
pub const CONNECT: Connect<Config> =
    |http, base_url, _config, secret| Arc::new(Juzibot::new(http, base_url, secret));
