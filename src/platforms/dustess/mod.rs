//! Dustess 尘锋: friend tags (好友标签, seed 003, "新增好友标签").
//!
//! - Base `https://qw-openapi-tx.dustess.com`; the `accessToken` goes in the query of every call.
//! - The seed documents **one call**: `POST /open-integration-api/tag/v1/qwTag/add {groupId?,
//!   groupName?, order?, tag:[{name, order?}]}`. Without `groupId` a group is made from `groupName`;
//!   with it, `groupName` is not read (存在groupID的情况不用此字段无效). At most 100 tags per call
//!   (单次最多100个); names at most 30 characters; orders in `[0, 2^32)`, bigger first, default 0.
//!   The create takes the group's and the tags' orders, so no follow-up edit is needed (none
//!   exists).
//! - There is **no list, edit, delete or mark call**. What exists is known only from tagsync's own
//!   mirror and the `add` answers (`data.tag_group` with the ids): apply reads this platform from
//!   the mirror and records what each `add` returns; `plan` says so in a note. Renames, reorders
//!   and deletions are "not supported here" (`!` lines, never sent); changes made in Dustess's
//!   console are invisible to tagsync.
//! - The double envelope: Dustess's `{success, code, msg, data, traceId}` around WeCom's result
//!   `data: {errcode, errmsg, tag_group}`. Success needs `code` 0 **and** `data.errcode` 0 (and
//!   `success: true`). On a Dustess failure `data` is `null`. The seed's table spells the trace id
//!   `traceId`, its example `trace_id`: both are read (an answer may carry both at once), and
//!   quoted in error messages.
//! - Ids are strings (the table and the example agree); `create_time` is in seconds.
//!
//! # Classification
//! - `code` 10001 "system unknown error" (seed): the outcome is unknown. Every call here is a
//!   create, so the HTTP layer does not repeat it and reports it indeterminate (as it does for HTTP
//!   5xx, timeouts and lost answers).
//! - `code` 401/403 or HTTP 401/403: the credential (the seed names no code for a bad token; 401
//!   is what the simulator answers).
//! - `data.errcode` -1, 6000, 45009, 45033 (WeCom's public busy and frequency codes, which Dustess
//!   relays): refused, nothing done, repeated with backoff. 81011 and 60011 (WeCom's object-level
//!   no-privilege codes): not ours. 40071 (a tag name the group has) on an add: see below. Every
//!   other non-zero `code` or `data.errcode` is a rejection carrying the platform's message.
//!
//! # An unknown outcome on a platform without a list call
//! After an indeterminate create, apply re-reads — here the mirror, which cannot know whether the
//! lost call did anything — and so plans the same create again by name. This is safe only because
//! the create is addressed by name: an existing `groupName` adds to that group (WeCom's public
//! `add_corp_tag` behaviour, which Dustess relays). What a tag name the group already has does,
//! the seed leaves open, and tagsync converges under both readings:
//! - **answered**: the answer names the existing tag; its id is bound;
//! - **refused** with WeCom's 40071 (`data.errcode`, nothing changed): the tags are sent again one
//!   per call; the new ones are made, and each refused one exists already and is bound under an
//!   id Dustess never told (`untold:<group>/<tag>`). No Dustess call takes a tag id (there is no
//!   edit, delete or mark), and a group known only so is addressed by its name, so such an id is
//!   never sent; the add is not sent again.
//!
//! If Dustess did create a second tag of the same name, no call could show it (no list) and a
//! person would have to remove it in the console: that is the limit this platform puts on "no
//! duplicates".

mod client;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::Dustess;

use std::sync::Arc;

use crate::model::{Batch, Capabilities, MarkStyle};
use crate::platforms::registry::{Connect, Descriptor, Limits};

/// What seed 003 allows (PLATFORMS.md, capability table): create a group with its tags and add
/// tags to a group, at most 100 per call, orders included; nothing else, not even a list.
pub const CAPABILITIES: Capabilities = Capabilities {
    list: false,
    has_order: true,
    create_group: true,
    create_sets_order: true,
    add_tags: Batch::Many(100),
    rename_group: false,
    reorder_group: false,
    rename_tag: false,
    reorder_tag: false,
    edit_name_and_order_together: false,
    delete_tags: Batch::No,
    delete_groups: Batch::No,
    last_tag_delete_removes_group: false,
    unique_names: true,
    mark: MarkStyle::No,
};

/// This kind has no settings of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// The kind's entry in the [registry](crate::platforms::registry).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "dustess",
    capabilities: &CAPABILITIES,
    example_base_url: "https://qw-openapi-tx.dustess.com",
    fields: &[],
    // No published limit: conservative (README, "Rate limits"). One operation at a time: without
    // a list call a lost create is repeated by name from the mirror, and its tests pin the order.
    limits: Limits {
        concurrency: 1,
        ..Limits::UNPUBLISHED
    },
};

/// Builds the client. Makes no call.
pub const CONNECT: Connect<Config> =
    |http, base_url, _config, secret| Arc::new(Dustess::new(http, base_url, secret));
