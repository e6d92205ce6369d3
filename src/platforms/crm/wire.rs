//! The CRM's wire types, spelled as seed 004 spells them. Only responses: tagsync sends no body.
//!
//! The one rule of [`crate::platforms::flex`]: only the fields tagsync uses are read (`msgTime`,
//! `requestId`, `ad_choose`, `merchant_id` and whatever else comes are ignored), ids come as
//! strings or numbers (the examples show integers, the label table says string), an absent or
//! `null` optional is absent, and only a missing or malformed needed field (`errmsg`,
//! `ad_label_id`, `ad_label_name`, `ad_label_info_id`, `ad_label_info_name`) fails the answer,
//! naming it. `values: null` on a success is a protocol error, not an empty account.

use serde::Deserialize;

use crate::platforms::flex;

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

/// `GET Label`'s `values[]`: a tag category (标签分类).
#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    /// `None` when empty (such a category is skipped).
    #[serde(deserialize_with = "flex::opt_id")]
    pub ad_label_id: Option<String>,
    pub ad_label_name: String,
}

/// `GET wecahtlabel`'s `values[]`: a label (标签配置) with its category's id and name.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    /// `None` when empty (such a label is skipped).
    #[serde(deserialize_with = "flex::opt_id")]
    pub ad_label_info_id: Option<String>,
    pub ad_label_info_name: String,
    #[serde(default, deserialize_with = "flex::opt_id")]
    pub ad_label_id: Option<String>,
    #[serde(default)]
    pub ad_label_name: Option<String>,
    #[serde(default)]
    pub ad_label_time: Option<String>,
}

/// For the conformance corpus (`tests/data/wire/crm/`) and fuzzing: an answer of `call` (`Label`
/// or `wecahtlabel`) decoded and classified as the client does; on success the snapshot it makes
/// alone (categories without labels, or labels grouped by the categories they name).
pub fn parse(call: &str, status: u16, body: &[u8]) -> Option<crate::platforms::http::Outcome> {
    use super::client::{classify, to_snapshot};
    use crate::platforms::http::outcome;
    let json = |s: crate::model::Snapshot| serde_json::to_value(s.groups).expect("serialises");
    Some(match call {
        "Label" => outcome(status, body, classify::<Category>, |c| {
            json(to_snapshot(c, Vec::new()).0)
        }),
        "wecahtlabel" => outcome(status, body, classify::<Label>, |l| {
            json(to_snapshot(Vec::new(), l).0)
        }),
        _ => return None,
    })
}
