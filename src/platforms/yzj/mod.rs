//! Miaokol 云真机 smart tags (seed 000, "云真机 API接口文档 / 智能标签"; read its `.clean.txt`).
//!
//! - Base `https://oapi-yzj.miaokol.com/smart-tag/`. The credential is the configured `app_id` plus
//!   the secret `access_token`, **in the query for `GET` and in the JSON body for `POST`**; the token
//!   is added at send time by the HTTP layer ([`Credential::Query`] / [`Credential::Body`]), never
//!   stored in a request, and redacted from logs.
//! - `GET list?with_tags=1&page=&page_size=` pages through the groups, at most 100 per page
//!   (`page_size` 默认10,最大100): tagsync asks for 100 and walks `pager.numPages`. The answer mixes
//!   types (a group's `id` is an int, a tag's `id`, `parent_id` and `sort` are strings, `"sort":"2"`):
//!   every id-like and number-like field is read from either a string or an int, and ids are
//!   strings from there on. The list shows no `sort` for groups, so a group's order is unknown
//!   (`None`) and never compared; a tag's `sort` is its order (bigger first).
//! - `POST batchAddTag {group_id, group_name, tag_names:[…]}` adds many tags to a group in one call
//!   (`group_id` 0 creates the group `group_name`). It answers `data: null`, no ids.
//! - `POST add {id, name, type, parent_id}`: `id` 0 creates, any other id edits; `type` 1 is a tag,
//!   2 a group; a tag's `parent_id` is its group and defaults to 0 (默认为0), so a tag edit repeats
//!   it. The answer is the whole row, with the id. There is **no sort field**: nothing can be
//!   reordered through the API, so order is not managed on Miaokol (see below).
//! - `POST delete {id}`: one group or tag per call (groups and tags share one id space).
//! - `POST updateContact {rel_wxid, contact_wxid, smart_tag_ids:[…]}` replaces a customer's whole set
//!   (全量覆盖): marking needs the customer's current set (used by the marks issue).
//! - `errcode` 0 is success and 1 failure (0成功;1异常); the document has no other code, no busy or
//!   rate-limit code and no failure body. So errcode 1 (or any other non-zero code) is a rejection
//!   carrying the platform's `errmsg`; HTTP 401/403 is a refused credential; HTTP 429 and 5xx are
//!   transient (the shared HTTP layer). No call answers "not ours": the document knows no objects
//!   the API may not change.
//!
//! # How tagsync uses it
//! - Creating a group with tags: **one** `batchAddTag {group_id: 0, group_name, tag_names}`, which
//!   makes the group and all its tags (up to 100) at once. It answers `data: null`, so the new ids
//!   are learnt from the list that ends the round (apply binds by name what it just created): a
//!   bootstrap of G groups costs G writes plus the list pages (docs/BENCHMARKS.md). `add {id: 0,
//!   type: 2}` (which answers the id) would serve a group without tags, which no plan makes.
//! - Adding tags to a group: one `batchAddTag` with its id; ids again from the round's list.
//! - Order: tags' `sort` is read and mirrored, but no call writes it, so order is not a managed
//!   property here (`has_order: false`): never compared, never a "cannot reorder" line.
//! - Renames: one `add` each. Deletes: one `delete` per tag.
//! - Creates are not idempotent (never repeated once they may have arrived); reads, edits and
//!   deletes are.
//! - The document states no batch size for `tag_names`; tagsync sends at most 100 per call.
//!
//! [`Credential::Query`]: crate::platforms::http::Credential::Query
//! [`Credential::Body`]: crate::platforms::http::Credential::Body

mod client;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::Yzj;

use std::sync::Arc;

use crate::model::{Batch, Capabilities, MarkStyle};
use crate::platforms::registry::{Connect, Descriptor, Field, Limits};

/// What Miaokol's API allows (PLATFORMS.md, capability table).
pub const CAPABILITIES: Capabilities = Capabilities {
    list: true,
    // Tags' `sort` is read and mirrored, but no call writes it (not even `add`), so order is not
    // managed here: never compared, never a permanent "cannot reorder" line.
    has_order: false,
    create_group: true,
    create_sets_order: false,
    add_tags: Batch::Many(100),
    rename_group: true,
    reorder_group: false,
    rename_tag: true,
    reorder_tag: false,
    edit_name_and_order_together: false,
    delete_tags: Batch::One,
    delete_groups: Batch::One,
    // A group may be empty (`add` with type 2 creates one alone).
    last_tag_delete_removes_group: false,
    unique_names: true,
    mark: MarkStyle::Overwrite,
};

/// The settings only a Miaokol (yzj) platform has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The app ID the open platform issued; every call carries it.
    pub app_id: String,
}

/// The kind's entry in the [registry](crate::platforms::registry).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "yzj",
    capabilities: &CAPABILITIES,
    example_base_url: "https://oapi-yzj.miaokol.com",
    fields: &[Field {
        name: "app_id",
        required: true,
        example: "44n2AsVZArKefJbuaE",
        hint: "add `app_id:`, the app ID the Miaokol (yzj) open platform issued",
    }],
    // No published limit: conservative (README, "Rate limits").
    limits: Limits::UNPUBLISHED,
};

/// Builds the client. Makes no call.
pub const CONNECT: Connect<Config> = |http, base_url, config, secret| {
    Arc::new(Yzj::new(http, base_url, config.app_id.clone(), secret))
};
