//! The 个微 WeChat CRM: tag categories and labels, read only (seed 004, "基础数据类接口").
//!
//! - **Base URL**: not in the seed (each CRM vendor hosts its own); it is configuration. Paths are
//!   appended to it as the seed spells them, case included.
//! - **Credential**: the secret goes in the `access_token` HTTP header of every call (Headers:
//!   access_token:token), never in the query.
//! - **Reads**: `GET Label` lists the tag categories (标签分类) `{ad_label_id, ad_label_name,
//!   ad_choose}`, which are tag groups; `GET wecahtlabel?categories=-1` lists every label (标签配置)
//!   `{ad_label_info_id, ad_label_info_name, ad_label_id, ad_label_name, ad_label_time, ad_choose}`,
//!   which are tags. The path is spelled `wecahtlabel` in the seed, and so it is sent. Neither call is
//!   paged: each answers everything at once, so a listing is exactly two calls.
//! - **No writes**: the seed documents no create, edit, delete or mark call, so [`CAPABILITIES`]
//!   allows `list` and nothing else, and every write method answers
//!   [`Error::Unsupported`](crate::platforms::Error::Unsupported). The planner turns each difference
//!   into a `!` line; groups are not synced to this kind unless a tag file names it.
//! - **No order**: neither response carries one, so `has_order` is false and order is never drift.
//! - **Envelope** `{errmsg, succeed, msgTime, values, errdesc?}`: success is `errmsg: 20000` (a
//!   number) with `succeed: true`. Anything else is a failure. The seed lists no error code, so
//!   tagsync reads `errmsg` the way 20000 reads, as an HTTP status times 100: 401xx and 403xx are a
//!   refused credential, 429xx and 503xx "not processed, try later", other 5xxxx an unknown outcome
//!   (retried: every call here is a read), everything else a rejection carrying `errdesc`. HTTP 401
//!   and 403 are a refused credential too; HTTP 429 and 5xx are retried by the shared layer. A
//!   success whose `values` is `null` is a protocol error, not an empty account.
//! - **Types**: ids are integers in every example, but the label table calls `ad_label_id` a
//!   string: ids are accepted as either and kept as strings; `errmsg` is accepted as a number or a
//!   numeric string. `ad_label_time` is Beijing time (`2018-01-18T21:17:35.613849+08:00`); one
//!   without an offset is read as Beijing time, and one that does not parse leaves `created_at`
//!   empty rather than failing the listing.
//! - **Limits**: the seed states no name length (its own example label, "测试超长标签添加…", is 24
//!   characters); names are mirrored as they are, and one longer than tagsync's 30 can only show as
//!   drift. `ad_choose` (0 single, 1 multiple choice) has no place in the canonical model and is not
//!   read. Names need not be unique.
//! - **Labels whose category is missing** from `Label` (deleted in the console, or added between the
//!   two calls) are kept: each label repeats its category's id and name, so the adapter makes the
//!   group from them (named by the label's `ad_label_name`, or `#id` when that is empty) and logs a
//!   warning. A label with no category id at all cannot be placed and is left out, with a warning.
//!   Where `Label` and a label disagree on a category's name, `Label` wins. Duplicate ids keep their
//!   first row.

mod client;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::WechatCrm;

use std::sync::Arc;

use crate::model::{Batch, Capabilities, MarkStyle};
use crate::platforms::registry::{Connect, Descriptor, Limits};

/// What the CRM's API allows (PLATFORMS.md, capability table): reading, nothing else.
pub const CAPABILITIES: Capabilities = Capabilities {
    list: true,
    has_order: false,
    create_group: false,
    create_sets_order: false,
    add_tags: Batch::No,
    rename_group: false,
    reorder_group: false,
    rename_tag: false,
    reorder_tag: false,
    edit_name_and_order_together: false,
    delete_tags: Batch::No,
    delete_groups: Batch::No,
    last_tag_delete_removes_group: false,
    // The seed states no uniqueness rule, and nothing is renamed here anyway.
    unique_names: false,
    mark: MarkStyle::No,
};

/// This kind has no settings of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// The kind's entry in the [registry](crate::platforms::registry).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "wechat_crm",
    capabilities: &CAPABILITIES,
    example_base_url: "the API address your CRM vendor gives you",
    fields: &[],
    // No published limit: conservative (README, "Rate limits").
    limits: Limits::UNPUBLISHED,
};

/// Builds the client. Makes no call.
pub const CONNECT: Connect<Config> =
    |http, base_url, _config, secret| Arc::new(WechatCrm::new(http, base_url, secret));
