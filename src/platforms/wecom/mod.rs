//! WeCom 企业微信: strategy (规则组) customer tags (seed 002, "管理企业规则组下的客户标签"), and the corp
//! customer tags when no `strategy_id` is configured (WeCom's public documentation: the same shapes
//! without `strategy_id`). One adapter, one flag.
//!
//! - Base `https://qyapi.weixin.qq.com/cgi-bin/externalcontact/`; every tag call is `POST` JSON with
//!   `access_token` in the query.
//! - **Token** *(public docs)*: `GET /cgi-bin/gettoken?corpid=&corpsecret=` → `{access_token,
//!   expires_in: 7200}`. The corp secret is the configured secret, `corp_id` the corp. The token is
//!   cached and shared by concurrent calls (one fetch, however many calls wait), replaced 300 s
//!   before `expires_in` runs out, and replaced once when a call answers 40014 / 42001 / 41001
//!   (WeCom may invalidate a token early), after which the call is sent once more. Calling
//!   `gettoken` often gets the corp frequency-blocked. Neither the secret nor the token is ever
//!   logged: both travel as [`Credential`](crate::platforms::http::Credential)s.
//! - `get_strategy_tag_list {strategy_id?, tag_id?[], group_id?[]}` → `tag_group:[{group_id,
//!   group_name, create_time (s), order, strategy_id, tag:[{id, name, create_time, order}]}]`, no
//!   paging. `group_id` wins over `tag_id`. `list()` asks for the whole strategy; the filters serve
//!   [`Wecom::groups`] and the check after a partial delete.
//! - `add_strategy_tag {strategy_id, group_id?, group_name?, order?, tag:[{name, order?}]}` →
//!   `tag_group:{…}` with the tags created. It creates a group with its first tags (no empty
//!   groups) or adds many tags to a group; it takes the group's and the tags' `order`, so new
//!   objects need no follow-up edit. With `group_id`, `group_name` and the group `order` are
//!   ignored; a `group_name` that exists adds to that group; duplicate names in one call make one tag.
//! - `edit_strategy_tag {id, name?, order?}` for a tag or a group: only what changes is sent (a name
//!   alone leaves the order alone). Names stay unique (groups per strategy, tags per group).
//! - `del_strategy_tag {tag_id?[], group_id?[]}`, many per call; a group whose last tag is deleted is
//!   deleted too.
//! - Corp tags *(public docs)*: `get_corp_tag_list`, `add_corp_tag`, `edit_corp_tag`,
//!   `del_corp_tag`, the same without `strategy_id`; groups and tags carry `deleted`, and deleted
//!   ones are left out of the snapshot.
//! - Marks *(public docs)*: `mark_tag {userid, external_userid, add_tag?[], remove_tag?[]}`, one
//!   customer per call ([`Wecom::mark`], behind `Platform::mark`).
//! - Limits: names at most 30 characters; `order` in `[0, 2^32)`, bigger first; at most 10,000 corp
//!   plus strategy tags per corp (40126, permanent); about 10,000 calls a minute per API *(public
//!   docs)*. The seed states no batch size: tagsync sends at most 100 tags or ids per call.
//! - Errcodes *(public docs)*: -1 busy, 6000 data version conflict, 45009 call limit, 45033 too many
//!   concurrent calls: refused, retried with backoff. 40014 / 42001 / 41001: the token (see above);
//!   40001 / 40013 on `gettoken`: the secret or corp ID is wrong. **81011: the tag was made in the
//!   admin console** (an app may change only what it created): reported as "not ours", never
//!   retried; so is **60011** (no privilege on the member, department or tag named), the other
//!   object-level no-privilege code of the public error-code list. 48002 ("API forbidden") is the
//!   app's setup, not one object: a rejection, reported every run until the admin fixes it. 40068
//!   (invalid id) on a delete means already gone, which is success. **40071 on an add** (a tag
//!   name the group already has) is an unknown outcome: the seed leaves open whether WeCom refuses
//!   such an add or answers the existing tag, so tagsync takes either: an answer is bound, a
//!   refusal is followed by the round's list, which binds the existing tag by name; the add is
//!   never sent again. Everything else (40068 elsewhere, 40071 on a rename, 40072 name length,
//!   40126 tag count, 60020 IP not whitelisted, …) is a permanent rejection carrying WeCom's
//!   `errmsg`.
//!   WeCom answers HTTP 200 for all of these; HTTP 429 and 5xx are treated as transient too.

mod client;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::{REFRESH_MARGIN, Wecom};

use std::sync::Arc;

use crate::model::{Batch, Capabilities, MarkStyle};
use crate::platforms::registry::{Connect, Descriptor, Field, Limits};

/// What WeCom's tag API allows (PLATFORMS.md, capability table), for strategy and corp tags alike.
pub const CAPABILITIES: Capabilities = Capabilities {
    list: true,
    has_order: true,
    create_group: true,
    create_sets_order: true,
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

/// The settings only a WeCom platform has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The corp ID (`ww…`), which every token request names.
    pub corp_id: String,
    /// The customer-contact strategy whose tags are managed; the corp's own tags without it.
    #[serde(default)]
    pub strategy_id: Option<u64>,
}

/// The kind's entry in the [registry](crate::platforms::registry).
pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "wecom",
    capabilities: &CAPABILITIES,
    example_base_url: "https://qyapi.weixin.qq.com",
    fields: &[
        Field {
            name: "corp_id",
            required: true,
            example: "ww0123456789abcdef",
            hint: "add `corp_id:`, the WeCom corp ID (ww…) from the admin console",
        },
        Field {
            name: "strategy_id",
            required: false,
            example: "1",
            hint: "",
        },
    ],
    // About 10,000 calls per minute per API per corp (≈166/s): 100/s stays below it even when
    // every call goes to one API, and leaves room for the corp's other clients.
    limits: Limits {
        per_second: 100,
        burst: 10,
        concurrency: 8,
    },
};

/// Builds the client. Makes no call.
pub const CONNECT: Connect<Config> = |http, base_url, config, secret| {
    Arc::new(Wecom::new(http, base_url, config.corp_id.clone(), config.strategy_id, secret))
};
