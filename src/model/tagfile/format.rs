//! The tag file's YAML shape, as serde-saphyr reads it (located: every value keeps its
//! line and column) and as schemars describes it (`schema/tags.schema.json`).

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::model::MAX_NAME_CHARS;

/// The largest order any platform accepts (`[0, 2^32)`).
pub const MAX_ORDER: i64 = u32::MAX as i64;

/// One tag file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tagsync tag file",
    description = "Tag groups and tags to keep in step across platforms."
)]
pub struct TagFile {
    /// The tag groups this file declares.
    #[schemars(with = "Vec<GroupSpec>")]
    pub groups: Vec<Spanned<GroupSpec>>,
}

/// A tag group as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group's name: 1 to 30 characters, no leading or trailing spaces, unique per platform.
    #[schemars(with = "String", length(min = 1, max = 30))]
    pub name: Option<Spanned<String>>,
    /// A stable identity that survives renames; defaults to the name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Earlier names: a remote group found under one of them is renamed in place.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub was: Vec<Spanned<String>>,
    /// An exact order to enforce (bigger sorts first); by default, the position in the files.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub order: Option<Spanned<Scalar>>,
    /// The platforms this group is kept on; by default every platform that can write.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub platforms: Option<Spanned<Vec<Spanned<String>>>>,
    /// Delete remote tags of this group that no file declares; by default the config's `prune`.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub prune: Option<Spanned<Scalar>>,
    /// The group's tags: at least one (no platform can create an empty group).
    #[serde(default)]
    #[schemars(with = "Vec<TagEntry>", length(min = 1))]
    pub tags: Option<Spanned<Vec<Spanned<TagEntry>>>>,
}

/// A tag as written: a bare name, or a mapping.
#[derive(Debug)]
pub enum TagEntry {
    Name(String),
    Full(Box<TagSpec>),
}

/// A tag written as a mapping.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    /// The tag's name: 1 to 30 characters, no leading or trailing spaces, unique in its group.
    #[schemars(with = "String", length(min = 1, max = 30))]
    pub name: Option<Spanned<String>>,
    /// A stable identity that survives renames; defaults to the name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Earlier names: a remote tag found under one of them is renamed in place.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub was: Vec<Spanned<String>>,
    /// An exact order to enforce (bigger sorts first); by default, the position in the group.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub order: Option<Spanned<Scalar>>,
}

// A hand-written visitor instead of `#[serde(untagged)]`: untagged enums buffer their input and lose
// every location inside them, and a tag's name, order and `was` must keep theirs.
impl<'de> Deserialize<'de> for TagEntry {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tag name (a string) or a mapping with `name`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TagEntry, E> {
                Ok(TagEntry::Name(v.to_owned()))
            }
            // `~`, `null` or nothing at all: serde's "found unit value" means nothing to a user.
            fn visit_unit<E: de::Error>(self) -> Result<TagEntry, E> {
                Err(E::custom("a tag name cannot be empty (null)"))
            }
            fn visit_none<E: de::Error>(self) -> Result<TagEntry, E> {
                Err(E::custom("a tag name cannot be empty (null)"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TagEntry, A::Error> {
                TagSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| TagEntry::Full(Box::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar field as written, whatever its type. `order` and `prune` are read this way and their
/// type is checked with the other rules, for two reasons: serde-saphyr would read `order: "5"` as 5
/// and `prune: "true"` as true, where YAML (and the JSON Schema editors check against) says they
/// are strings; and an error raised while deserialising would point at the key, not at the value,
/// and stop the rest of the file from being checked.
// `Serialize` only so that schemars sees the (null) default of the fields, as for a plain `Option`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Scalar {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    Null,
    List,
    Mapping,
}

impl Scalar {
    pub(super) fn describe(&self) -> String {
        match self {
            Scalar::Int(v) => format!("the integer {v}"),
            Scalar::Float(v) => format!("the number {v}"),
            Scalar::Bool(v) => format!("the boolean {v}"),
            Scalar::Str(v) => format!("the string {v:?}"),
            Scalar::Null => "nothing".into(),
            Scalar::List => "a list".into(),
            Scalar::Mapping => "a mapping".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
                Ok(Scalar::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar::Mapping)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for TagEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TagEntry".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let spec = generator.subschema_for::<TagSpec>();
        schemars::json_schema!({
            "description": "A tag: its name, or a mapping with its name and options.",
            "oneOf": [
                { "type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS },
                spec
            ]
        })
    }
}

/// The JSON Schema of a tag file, as checked in at `schema/tags.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(TagFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
