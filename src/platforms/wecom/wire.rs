//! WeCom's wire types, spelled as seed 002 spells them (and, for the token, corp tags and marks,
//! as WeCom's public documentation does).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Every response: `{errcode, errmsg, …}`, with the answer's own fields beside the status. On an
/// error only the status is there, so every body type has defaults for all its fields.
#[derive(Debug, Deserialize)]
pub struct Response<T> {
    pub errcode: i64,
    #[serde(default)]
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
    #[serde(default)]
    pub access_token: String,
    /// Seconds; 7200 normally.
    #[serde(default)]
    pub expires_in: u64,
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
    #[serde(default)]
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
    #[serde(deserialize_with = "id")]
    pub group_id: String,
    pub group_name: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub order: Option<u64>,
    #[serde(default)]
    pub strategy_id: Option<u64>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub tag: Vec<Tag>,
}

/// `tag_group.tag[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(deserialize_with = "id")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub order: Option<u64>,
    #[serde(default)]
    pub deleted: bool,
}

/// Ids are strings in every example; an integer is accepted too and kept as its decimal text.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
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
