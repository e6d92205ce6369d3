//! WeCom's wire types, spelled as seed 002 spells them (and, for the token, corp tags and marks,
//! as WeCom's public documentation does), under the one rule of [`crate::platforms::flex`]: only
//! the fields tagsync uses are read, unknown ones are ignored, ids and numbers come as strings or
//! numbers, an absent or `null` optional is absent (`tag_group: null` is no group), and only a
//! missing or malformed needed field (`errcode`, `group_id`, `group_name`, `tag[].id`,
//! `tag[].name`) fails the answer, naming it. Groups and tags flagged `deleted: true` (corp tags)
//! are read and then left out of the snapshot by the client.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::platforms::flex;

/// Every response: `{errcode, errmsg, …}`, with the answer's own fields beside the status. On an
/// error only the status is there, so every body type has defaults for all its fields.
#[derive(Debug, Deserialize)]
pub struct Response<T> {
    #[serde(deserialize_with = "flex::int")]
    pub errcode: i64,
    #[serde(default, deserialize_with = "flex::text")]
    pub errmsg: String,
    #[serde(flatten)]
    pub body: T,
}

/// No fields beyond the status (edits, deletes, marks).
#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

/// `gettoken`: `{access_token, expires_in}` (public docs). `Debug` hides the token.
#[derive(Default, Deserialize)]
pub struct Token {
    #[serde(default, deserialize_with = "flex::text")]
    pub access_token: String,
    /// Seconds; 7200 normally.
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub expires_in: i64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `get_strategy_tag_list` / `get_corp_tag_list`: `{tag_group:[…]}`.
#[derive(Debug, Default, Deserialize)]
pub struct List {
    #[serde(default, deserialize_with = "flex::list")]
    pub tag_group: Vec<Group>,
}

/// `add_strategy_tag` / `add_corp_tag`: `{tag_group:{…}}`.
#[derive(Debug, Default, Deserialize)]
pub struct Added {
    #[serde(default)]
    pub tag_group: Option<Group>,
}

/// `tag_group` (a list's item or an add's answer). `strategy_id` is on strategy lists only,
/// `deleted` on corp lists only.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    #[serde(deserialize_with = "flex::id")]
    pub group_id: String,
    pub group_name: String,
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_time: i64,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub strategy_id: Option<i64>,
    #[serde(default, deserialize_with = "flex::flag")]
    pub deleted: bool,
    #[serde(default, deserialize_with = "flex::list")]
    pub tag: Vec<Tag>,
}

/// `tag_group.tag[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_time: i64,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
    #[serde(default, deserialize_with = "flex::flag")]
    pub deleted: bool,
}

/// The lists' body: `{strategy_id?, tag_id?[], group_id?[]}`; empty filters are left out.
#[derive(Debug, Serialize)]
pub struct ListRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub tag_id: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub group_id: &'a [String],
}

/// The adds' body: `{strategy_id, group_id?, group_name?, order?, tag:[{name, order?}]}`.
#[derive(Debug, Serialize)]
pub struct AddRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    pub tag: Vec<NewTag<'a>>,
}

/// `tag[]` of an add.
#[derive(Debug, Serialize)]
pub struct NewTag<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
}

/// The edits' body, a tag or a group: `{id, name?, order?}`; only what changes is sent.
#[derive(Debug, Serialize)]
pub struct EditRequest<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
}

/// The deletes' body: `{tag_id?[], group_id?[]}`.
#[derive(Debug, Serialize)]
pub struct DeleteRequest<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub tag_id: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub group_id: &'a [String],
}

/// `mark_tag` (public docs): `{userid, external_userid, add_tag?[], remove_tag?[]}`.
#[derive(Debug, Serialize)]
pub struct MarkRequest<'a> {
    pub userid: &'a str,
    pub external_userid: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub add_tag: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub remove_tag: &'a [String],
}

/// For the conformance corpus (`tests/data/wire/wecom/`) and fuzzing: an answer of `call` (`list`,
/// `add`, `edit`, `delete`, `mark`, `gettoken`) decoded and classified as the client does; on
/// success the canonical value (the live groups of a list, the group of an add; `null` for calls
/// that answer only a status, and for `gettoken`, whose token is a secret).
pub fn parse(call: &str, status: u16, body: &[u8]) -> Option<crate::platforms::http::Outcome> {
    use super::client;
    use crate::platforms::http::outcome;
    Some(match call {
        "list" => outcome(status, body, client::status::<List>, |l| {
            serde_json::to_value(client::live_groups(l.tag_group, |_| true)).expect("serialises")
        }),
        "add" => outcome(status, body, client::added, |g| {
            serde_json::to_value(client::to_group(g)).expect("serialises")
        }),
        "edit" | "mark" => outcome(status, body, client::status::<Empty>, |_| {
            serde_json::Value::Null
        }),
        "delete" => outcome(status, body, client::deleted, |d| {
            serde_json::Value::String(format!("{d:?}"))
        }),
        "gettoken" => outcome(status, body, client::token, |_| serde_json::Value::Null),
        _ => return None,
    })
}
