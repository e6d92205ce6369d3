//! The CRM's wire types, spelled as seed 004 spells them. Only responses: tagsync sends no body.
//!
//! Fields tagsync does not use (`msgTime`, `requestId`, `ad_choose`, `merchant_id`) are not declared;
//! serde skips them.

use serde::Deserialize;

/// Every response: `{errmsg, succeed, msgTime, values, errdesc?}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// 20000 on success; a number in every example, accepted as a numeric string too.
    pub errmsg: Code,
    #[serde(default)]
    pub succeed: bool,
    #[serde(default = "Option::default")]
    pub values: Option<Vec<T>>,
    /// `null` on success, or absent (the `wecahtlabel` example has no such field).
    #[serde(default)]
    pub errdesc: Option<String>,
}

/// `errmsg`: the outcome code.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Code {
    Number(i64),
    Text(String),
}

impl Code {
    /// The code as a number, when it is one.
    pub fn number(&self) -> Option<i64> {
        match self {
            Code::Number(n) => Some(*n),
            Code::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// An id: an integer in every example, a string in the label table's type column.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Number(i64),
    Text(String),
}

impl Id {
    /// The id as tagsync keeps it (a string); `None` when empty.
    pub fn into_string(self) -> Option<String> {
        let s = match self {
            Id::Number(n) => n.to_string(),
            Id::Text(s) => s.trim().to_owned(),
        };
        (!s.is_empty()).then_some(s)
    }
}

/// `GET Label`'s `values[]`: a tag category (标签分类).
#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    pub ad_label_id: Id,
    pub ad_label_name: String,
}

/// `GET wecahtlabel`'s `values[]`: a label (标签配置) with its category's id and name.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub ad_label_info_id: Id,
    pub ad_label_info_name: String,
    #[serde(default)]
    pub ad_label_id: Option<Id>,
    #[serde(default)]
    pub ad_label_name: Option<String>,
    #[serde(default)]
    pub ad_label_time: Option<String>,
}
