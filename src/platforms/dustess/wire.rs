//! Dustess's wire types, spelled as seed 003 spells them.

use serde::{Deserialize, Serialize};

/// Every answer: `{success, code, msg, data, traceId}`; `data` is `null` on failure.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub success: bool,
    pub code: i64,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub data: Option<Data>,
    /// The table says `traceId`, the example `trace_id`.
    #[serde(default, alias = "traceId")]
    pub trace_id: Option<String>,
}

/// `data`: WeCom's result, `{errcode, errmsg, tag_group}`.
#[derive(Debug, Deserialize)]
pub struct Data {
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
    #[serde(default)]
    pub tag_group: Option<TagGroup>,
}

/// `data.tag_group`.
#[derive(Debug, Clone, Deserialize)]
pub struct TagGroup {
    pub group_id: String,
    pub group_name: String,
    #[serde(default)]
    pub order: Option<u64>,
    /// Seconds since the epoch.
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub tag: Vec<Tag>,
    // `type` (标签类型, `""` in the example) is not read: the seed does not say what it means.
}

/// `data.tag_group.tag[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub order: Option<u64>,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
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
