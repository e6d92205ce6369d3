//! Miaokol's wire types, spelled as seed 000 spells them, under the one rule of
//! [`crate::platforms::flex`]: only the fields tagsync uses are read (`type`, `number`,
//! `parent_id`, `contact_cnt`, `user_id`, `ctime`, … are ignored), ids and numbers come as strings
//! or numbers (the document's own example mixes them: a group's `id` is an int, a tag's `id`,
//! `parent_id` and `sort` are strings), an absent or `null` optional is absent (`tags: null` is no
//! tag, `data: null` no data), and only a missing or malformed needed field (`errcode`, an `id`, a
//! `name`, `pager.numPages`) fails the answer, naming it.

use serde::{Deserialize, Serialize};

use crate::platforms::flex;

/// Every answer: `{data, errcode, errmsg?}`, and `pager` on `list`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(deserialize_with = "flex::int")]
    pub errcode: i64,
    /// Not in the document (it shows no failure); read when present.
    #[serde(default, deserialize_with = "flex::opt_id")]
    pub errmsg: Option<String>,
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub pager: Option<Pager>,
}

fn none<T>() -> Option<T> {
    None
}

/// `pager {page, perPage, numRecords, numPages, firstRecord, lastRecord}`: tagsync reads only
/// `numPages` (fields not read are ignored, whatever their type).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pager {
    #[serde(deserialize_with = "flex::u64")]
    pub num_pages: u64,
}

/// A group in `list`'s `data[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    /// Absent unless `with_tags=1`.
    #[serde(default, deserialize_with = "flex::list")]
    pub tags: Vec<Tag>,
}

/// A tag in `data[].tags[]` (`parent_id` and `contact_cnt` are not read).
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    /// Read leniently: a value that is no integer at all fails the answer, but one outside
    /// `[0, 2^32)` only makes the order unknown.
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub sort: Option<i64>,
}

/// `add`'s `data`: the row created or edited (only what tagsync reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
}

/// `add`: `id` 0 creates, otherwise edits; `type` 1 tag, 2 group; `parent_id` a tag's group.
#[derive(Debug, Serialize)]
pub struct AddRequest<'a> {
    pub app_id: &'a str,
    pub id: u64,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<u64>,
}

pub const TYPE_TAG: u8 = 1;
pub const TYPE_GROUP: u8 = 2;

/// `batchAddTag`: `group_id` 0 creates the group `group_name`.
#[derive(Debug, Serialize)]
pub struct BatchAddTagRequest<'a> {
    pub app_id: &'a str,
    pub group_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<&'a str>,
    pub tag_names: Vec<&'a str>,
}

/// `delete`: one id.
#[derive(Debug, Serialize)]
pub struct DeleteRequest<'a> {
    pub app_id: &'a str,
    pub id: u64,
}

/// `updateContact`: the customer's whole set (全量覆盖).
#[derive(Debug, Serialize)]
pub struct UpdateContactRequest<'a> {
    pub app_id: &'a str,
    pub rel_wxid: &'a str,
    pub contact_wxid: &'a str,
    pub smart_tag_ids: Vec<u64>,
}

/// For the conformance corpus (`tests/data/wire/yzj/`) and fuzzing: an answer of `call` (`list`,
/// `add`, `delete`, `batchAddTag`, `updateContact`) decoded and classified as the client does; on
/// success the canonical value (`list`: the groups and `numPages`; `add`: the row's id and name).
pub fn parse(call: &str, status: u16, body: &[u8]) -> Option<crate::platforms::http::Outcome> {
    use super::client::{classify, to_group};
    use crate::platforms::http::outcome;
    Some(match call {
        "list" => outcome(status, body, classify::<Vec<Group>>, |(data, pager)| {
            let groups: Vec<_> = data.unwrap_or_default().into_iter().map(to_group).collect();
            serde_json::json!({
                "groups": groups,
                "num_pages": pager.map(|p| p.num_pages),
            })
        }),
        "add" => outcome(status, body, classify::<Row>, |(row, _)| {
            serde_json::json!(row.map(|r| [r.id, r.name]))
        }),
        "delete" | "batchAddTag" | "updateContact" => {
            outcome(status, body, classify::<serde_json::Value>, |_| {
                serde_json::Value::Null
            })
        }
        _ => return None,
    })
}
