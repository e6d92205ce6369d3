//! Miaokol's wire types, spelled as seed 000 spells them. The document's own example mixes types
//! (a group's `id` is an int, a tag's `id`, `parent_id` and `sort` are strings), so every id-like
//! and number-like field of an answer goes through [`flex`] and accepts either.

use serde::{Deserialize, Serialize};

/// Every answer: `{data, errcode, errmsg?}`, and `pager` on `list`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(deserialize_with = "flex::int")]
    pub errcode: i64,
    /// Not in the document (it shows no failure); read when present.
    #[serde(default)]
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
    #[serde(default)]
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

/// Numbers and ids that may come as JSON strings or JSON numbers.
pub mod flex {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{self, Visitor};

    /// What one field held.
    enum Scalar {
        Str(String),
        Int(i128),
        Null,
    }

    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer or a string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v.into()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
            if v.fract() == 0.0 && v.abs() < 9e15 {
                Ok(Scalar::Int(v as i128))
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
            Ok(Scalar::Str(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
            Ok(Scalar::Str(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
            d.deserialize_any(ScalarVisitor)
        }
    }

    fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }

    /// An id: `1` and `"1"` are both `"1"`.
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        opt_id(d)?.ok_or_else(|| de::Error::custom("an id is null or empty"))
    }

    /// An optional id: `null` and `""` are `None`.
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match scalar(d)? {
            Scalar::Str(s) if s.trim().is_empty() => None,
            Scalar::Str(s) => Some(s.trim().to_owned()),
            Scalar::Int(n) => Some(n.to_string()),
            Scalar::Null => None,
        })
    }

    /// The integer a field holds, from a number or a numeric string; `null` and `""` are `None`.
    fn integer<E: de::Error>(value: Scalar) -> Result<Option<i128>, E> {
        match value {
            Scalar::Str(s) if s.trim().is_empty() => Ok(None),
            Scalar::Str(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("`{s}` is not an integer"))),
            Scalar::Int(n) => Ok(Some(n)),
            Scalar::Null => Ok(None),
        }
    }

    fn convert<T: TryFrom<i128>, E: de::Error>(n: i128, what: &str) -> Result<T, E> {
        T::try_from(n).map_err(|_| E::custom(format!("{n} is not {what}")))
    }

    /// An integer: `2` and `"2"` are both 2.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        opt_int(d)?.ok_or_else(|| de::Error::custom("an integer is null or empty"))
    }

    /// An optional integer: `null` and `""` are `None`.
    pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        integer(scalar(d)?)?
            .map(|n| convert(n, "a 64-bit integer"))
            .transpose()
    }

    /// A non-negative integer.
    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        integer(scalar(d)?)?
            .ok_or_else(|| de::Error::custom("a number is null or empty"))
            .and_then(|n| convert(n, "a non-negative integer"))
    }
}
