//! The hub's wire types, spelled as seed 001 spells them, under the one rule of
//! [`crate::platforms::flex`]: only the fields tagsync uses are read, unknown ones are ignored, ids
//! and numbers come as strings or numbers, an absent or `null` optional is absent, and only a
//! missing or malformed needed field (`errcode`, a group's or tag's `id` and `name`) fails the
//! answer, naming it.
//!
//! Spellings: the examples nest a group's tags as `tags`, the list and detail tables as `data.tag`
//! (the create table says `data.tags`); both are read, and an answer carrying both at once uses
//! `tags`. The examples show `data` as a list; a single group object is accepted too.

use serde::{Deserialize, Deserializer, Serialize};

use crate::platforms::flex;

/// Every response: `{errcode, errmsg, data?}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(deserialize_with = "flex::int")]
    pub errcode: i64,
    #[serde(default, deserialize_with = "flex::text")]
    pub errmsg: String,
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

/// A group in `tag/list`, `tag/detail` and `tag/create` responses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_timestamp: i64,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
    /// The examples' spelling.
    #[serde(default, deserialize_with = "flex::list")]
    tags: Vec<Tag>,
    /// The list and detail tables' spelling (`data.tag.id`).
    #[serde(default, deserialize_with = "flex::list")]
    tag: Vec<Tag>,
}

impl Group {
    /// The group's tags, whichever spelling carried them (`tags` when both do).
    pub fn into_tags(self) -> Vec<Tag> {
        if self.tags.is_empty() {
            self.tag
        } else {
            self.tags
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    #[serde(deserialize_with = "flex::id")]
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "flex::int_or_zero")]
    pub create_timestamp: i64,
    #[serde(default, deserialize_with = "flex::opt_int")]
    pub order: Option<i64>,
}

/// The document shows `data` as a list of groups; a single object is accepted as well. (Not an
/// untagged enum: its error would hide which field of a group failed.)
#[derive(Debug)]
pub enum OneOrMany {
    Many(Vec<Group>),
    One(Group),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = serde_json::Value::deserialize(d)?;
        if value.is_array() {
            Ok(OneOrMany::Many(
                flex::list(value).map_err(D::Error::custom)?,
            ))
        } else {
            Group::deserialize(value)
                .map(OneOrMany::One)
                .map_err(D::Error::custom)
        }
    }
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<Group> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(g) => vec![g],
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<&'a str>,
    pub tag: Vec<NewTag<'a>>,
}

#[derive(Debug, Serialize)]
pub struct NewTag<'a> {
    pub name: &'a str,
}

/// `tagGroup/edit` and `tag/edit`: only the fields that change are sent.
#[derive(Debug, Serialize)]
pub struct EditRequest<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
}

/// `tagGroup/delete` and `tag/delete`.
#[derive(Debug, Serialize)]
pub struct DeleteRequest<'a> {
    pub id: &'a [String],
}

/// `tag/mark`: `{mark_list:[{unionId, userId, addTagId, delTagId}]}`.
#[derive(Debug, Serialize)]
pub struct MarkRequest<'a> {
    pub mark_list: Vec<MarkItem<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkItem<'a> {
    pub union_id: &'a str,
    pub user_id: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub add_tag_id: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub del_tag_id: &'a [String],
}

/// For the conformance corpus (`tests/data/wire/juzibot/`) and fuzzing: an answer of `call`
/// (`list`, `detail`, `create`, `edit`, `delete`, `mark`) decoded and classified as the client
/// does; on success the groups in the canonical model (`null` for calls that answer no data).
pub fn parse(call: &str, status: u16, body: &[u8]) -> Option<crate::platforms::http::Outcome> {
    use crate::platforms::http::outcome;
    let groups = |data: Option<OneOrMany>| {
        let groups: Vec<_> = data
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .into_iter()
            .map(super::client::to_group)
            .collect();
        serde_json::to_value(groups).expect("serialises")
    };
    Some(match call {
        "list" | "detail" | "create" => outcome(status, body, super::client::classify, groups),
        "edit" | "delete" | "mark" => outcome(
            status,
            body,
            super::client::classify::<serde_json::Value>,
            |_| serde_json::Value::Null,
        ),
        _ => return None,
    })
}
