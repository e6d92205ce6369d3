//! The one rule every platform's wire types follow, and the deserializers that carry it out.
//!
//! # The rule (issue 10: real APIs drift from their documents)
//! 1. **Read only what tagsync uses.** A wire type declares the fields the client turns into the
//!    canonical model or classifies by, nothing else; unknown fields are ignored (no
//!    `deny_unknown_fields` anywhere in `platforms/`).
//! 2. **Every spelling the document uses, and both at once.** Where the example, the table or a
//!    TIP spell a field differently, each spelling is its own optional field and the client takes
//!    the first present one (serde's `alias` fails with "duplicate field" when an answer carries
//!    both).
//! 3. **Ids and numbers as JSON strings or numbers** wherever the document shows either (and
//!    wherever an id is an id): [`id`], [`opt_id`], [`int`], [`opt_int`]. Ids are strings from
//!    there on.
//! 4. **Missing optional = absent.** An absent or `null` optional field is `None`, an empty list
//!    ([`list`]), `false` ([`flag`]), `""` ([`text`]) or 0 ([`int_or_zero`]), never an error.
//! 5. **Fail only on what is needed**, and then say which field of which call: the HTTP layer
//!    reports `endpoint: unexpected response: … missing field `group_id` …`, and the deserializers
//!    here name what they expected.
//!
//! Each platform's `wire.rs` exposes a `parse` entry for the conformance corpus
//! (`tests/data/wire/<platform>/`) and for fuzzing: the same deserialization and classification the
//! client applies to an answer, without the HTTP.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

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

/// A string field that may be absent, `null` or a number: `""` for the first two.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Str(s) => s,
        Scalar::Int(n) => n.to_string(),
        Scalar::Null => String::new(),
    })
}

/// An integer where absent, `null` and `""` mean 0 (timestamps: "0 means not given").
pub fn int_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(opt_int(d)?.unwrap_or(0))
}

/// A list where `null` is the empty list.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A flag: `true`/`false`, `1`/`0`, `"true"`/`"1"`; absent and `null` are `false`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(d)? {
        None => false,
        Some(Flag::Bool(b)) => b,
        Some(Flag::Int(n)) => n != 0,
        Some(Flag::Text(s)) => matches!(s.trim(), "true" | "1"),
    })
}

/// A flag that may be absent: `None` when absent or `null`, otherwise as [`flag`].
pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => flag(v).map(Some).map_err(de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Row {
        #[serde(deserialize_with = "super::id")]
        id: String,
        #[serde(default, deserialize_with = "super::opt_int")]
        sort: Option<i64>,
        #[serde(default, deserialize_with = "super::list")]
        tags: Vec<u8>,
        #[serde(default, deserialize_with = "super::flag")]
        deleted: bool,
        #[serde(default, deserialize_with = "super::text")]
        msg: String,
    }

    fn row(json: &str) -> Result<Row, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn ids_and_numbers_come_as_strings_or_numbers() {
        let a = row(r#"{"id":7,"sort":"2"}"#).unwrap();
        let b = row(r#"{"id":"7","sort":2}"#).unwrap();
        assert_eq!((a.id.as_str(), a.sort), ("7", Some(2)));
        assert_eq!((b.id.as_str(), b.sort), ("7", Some(2)));
    }

    #[test]
    fn absent_and_null_optionals_are_absent() {
        let r = row(r#"{"id":"x","sort":null,"tags":null,"deleted":null,"msg":null}"#).unwrap();
        assert_eq!(
            (r.sort, r.tags.len(), r.deleted, r.msg.as_str()),
            (None, 0, false, "")
        );
        let r = row(r#"{"id":"x","deleted":1,"msg":20000}"#).unwrap();
        assert!(r.deleted);
        assert_eq!(r.msg, "20000");
    }

    #[test]
    fn a_needed_field_fails_by_name() {
        assert!(
            row(r#"{"sort":1}"#)
                .unwrap_err()
                .contains("missing field `id`")
        );
        assert!(
            row(r#"{"id":null}"#)
                .unwrap_err()
                .contains("an id is null or empty")
        );
        assert!(
            row(r#"{"id":"x","sort":"two"}"#)
                .unwrap_err()
                .contains("`two` is not an integer")
        );
    }
}
