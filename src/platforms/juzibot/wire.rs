//! The hub's wire types, spelled as seed 001 spells them.

use serde::{Deserialize, Serialize};

/// Every response: `{errcode, errmsg, data?}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
    pub data: Option<T>,
}

/// A group in `tag/list`, `tag/detail` and `tag/create` responses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub create_timestamp: i64,
    #[serde(default)]
    pub order: Option<u64>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub create_timestamp: i64,
    #[serde(default)]
    pub order: Option<u64>,
}

/// The document shows `data` as a list of groups; a single object is accepted as well.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    Many(Vec<Group>),
    One(Group),
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
