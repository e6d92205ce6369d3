//! Dustess's wire types, spelled as seed 003 spells them, under the one rule of
//! [`crate::platforms::flex`]: only the fields tagsync uses are read, unknown ones are ignored, ids
//! and numbers come as strings or numbers, an absent or `null` optional is absent, and only a
//! missing or malformed needed field (`code`, `data.errcode`, `tag_group.group_id`,
//! `group_name`, `tag[].id`, `tag[].name`) fails the answer, naming it.
//!
//! Spellings: the seed's table says `traceId`, its example `trace_id`; each is its own field, so
//! an answer carrying both parses (serde's `alias` would refuse it as a duplicate field).

use serde::{Deserialize, Serialize};

use crate::platforms::flex;

/// Every answer: `{success, code, msg, data, traceId}`; `data` is `null` on failure.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Absent means "not said": `code` and `data.errcode` decide.
    #[serde(default, deserialize_with = "flex::opt_flag")]
    pub success: Option<bool>,
    #[serde(deserialize_with = "flex::int")]
    pub code: i64,
    #[serde(default, deserialize_with = "flex::text")]
    pub msg: String,
    #[serde(default)]
    pub data: Option<Data>,
    /// The example's spelling.
    #[serde(default, deserialize_with = "flex::opt_id")]
    pub trace_id: Option<String>,
    /// The table's spelling.
    #[serde(default, rename = "traceId", deserialize_with = "flex::opt_id")]
    pub trace_id_table: Option<String>,
}

impl Envelope {
    /// The trace id, whichever spelling carried it.
    pub fn trace(&self) -> Option<&str> {
        self.trace_id_table.as_deref().or(self.trace_id.as_deref())
    }
}

/// `data`: WeCom's result, `{errcode, errmsg, tag_group}`.
#[derive(Debug, Deserialize)]
pub struct Data {
    #[serde(deserialize_with = "flex::int")]
    pub errcode: i64,
    #[serde(default, deserialize_with = "flex::text")]
    pub errmsg: String,
    #[serde(default)]
    pub tag_group: Option<TagGroup>,
}

/// `data.tag_group`.
#[derive(Debug, Clone, Deserialize)]
pub struct TagGroup {
    #[serde(deserialize_with = "flex::id")]
    pub group_id: String,
    pub group_name: String,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
    /// Seconds since the epoch.
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_time: i64,
    #[serde(default, deserialize_with = "flex::flag")]
    pub deleted: bool,
    #[serde(default, deserialize_with = "flex::list")]
    pub tag: Vec<Tag>,
    // `type` (标签类型, `""` in the example) is not read: the seed does not say what it means.
}

/// `data.tag_group.tag[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_time: i64,
    #[serde(default, deserialize_with = "flex::flag")]
    pub deleted: bool,
}

/// `qwTag/add`: only the fields an operation uses are sent (no `"groupName": ""` beside a
/// `groupId`, no order the plan did not set).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    pub tag: Vec<NewTag<'a>>,
}

/// `tag[]`: `{name, order?}`.
#[derive(Debug, Serialize)]
pub struct NewTag<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
}

/// For the conformance corpus (`tests/data/wire/dustess/`) and fuzzing: an answer of `call`
/// (`add`, the only call) decoded and classified as the client does; on success the group in the
/// canonical model. `None` for a call this platform does not have.
pub fn parse(call: &str, status: u16, body: &[u8]) -> Option<crate::platforms::http::Outcome> {
    (call == "add").then(|| {
        crate::platforms::http::outcome(status, body, super::client::classify, |g| {
            serde_json::to_value(super::client::to_group(g)).expect("serialises")
        })
    })
}
