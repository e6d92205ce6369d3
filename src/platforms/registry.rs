//! The platform kinds: one line per kind (the `registry!` invocation in `platforms/mod.rs`),
//! everything else in the kind's own directory.
//!
//! Each `platforms/<name>/mod.rs` offers a [`Descriptor`] (its name in configuration, its
//! capabilities, an example URL and the settings only it has), a typed `Config` holding those
//! settings, and `connect`. The `registry!` line declares the module and turns these into
//! [`Kind`] and [`KindSettings`], which settings validation, `connect` and `demo` use; nothing
//! else names a kind.

pub use super::{Kind, KindSettings};
use crate::model::Capabilities;

/// What tagsync knows about a platform kind, as data.
#[derive(Debug)]
pub struct Descriptor {
    /// The kind's name in configuration (`kind: wecom`).
    pub name: &'static str,
    /// What the kind's API allows.
    pub capabilities: &'static Capabilities,
    /// The public API's base URL, or where to find it, for hints.
    pub example_base_url: &'static str,
    /// The settings only this kind has, besides those every platform has.
    pub fields: &'static [Field],
    /// The client-side limits used where a platform's `rate_limit` does not say.
    pub limits: Limits,
}

/// A kind's default client-side limits: the rate and burst of its limiter and how many
/// independent operations apply keeps in flight. Where a platform publishes its limit the rate
/// stays below it; where it does not, they are conservative (README, "Rate limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_second: u32,
    pub burst: u32,
    pub concurrency: u32,
}

impl Limits {
    /// For a platform that publishes no limit.
    pub const UNPUBLISHED: Limits = Limits {
        per_second: 20,
        burst: 5,
        concurrency: 4,
    };
}

/// How a kind builds its client from its typed settings and the secret. Makes no call.
pub type Connect<C> =
    fn(super::Http, reqwest::Url, &C, secrecy::SecretString) -> std::sync::Arc<dyn super::Platform>;

/// A kind-specific setting of a platform.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    /// A valid value as YAML, for the example configuration and tests.
    pub example: &'static str,
    /// What to write when it is missing.
    pub hint: &'static str,
}

impl Descriptor {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Declares each kind's module and builds [`Kind`] and [`KindSettings`] from them.
macro_rules! registry {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The platform kinds tagsync speaks to, one per directory of `platforms/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant),+
        }

        impl Kind {
            /// Every kind, in registry order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];
            /// Every kind's name in configuration, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($module::DESCRIPTOR.name),+];

            pub fn descriptor(self) -> &'static $crate::platforms::registry::Descriptor {
                match self {
                    $(Kind::$variant => &$module::DESCRIPTOR),+
                }
            }
        }

        /// A platform's kind with the settings only that kind has: a WeCom platform *has* a
        /// `corp_id`, so nothing checks for it again after validation.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum KindSettings {
            $($variant($module::Config)),+
        }

        impl KindSettings {
            pub fn kind(&self) -> Kind {
                match self {
                    $(KindSettings::$variant(_) => Kind::$variant),+
                }
            }

            /// Reads the kind-specific settings of `kind` from a mapping of them alone.
            pub fn parse(
                kind: Kind,
                fields: &figment::value::Value,
            ) -> Result<Self, Box<figment::Error>> {
                Ok(match kind {
                    $(Kind::$variant => KindSettings::$variant(fields.deserialize().map_err(Box::new)?)),+
                })
            }

            /// The kind's own settings that say which account a platform is (a WeCom corp and
            /// strategy, a Miaokol app), as `name → value`. Secrets are never among them.
            pub fn identity(&self) -> std::collections::BTreeMap<String, String> {
                let value = match self {
                    $(KindSettings::$variant(c) => serde_json::to_value(c)),+
                };
                let Ok(serde_json::Value::Object(fields)) = value else {
                    return Default::default();
                };
                fields
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some((k, s)),
                        other => Some((k, other.to_string())),
                    })
                    .collect()
            }

            /// Builds the kind's client. Makes no call.
            pub fn connect(
                &self,
                http: $crate::platforms::Http,
                base_url: reqwest::Url,
                secret: secrecy::SecretString,
            ) -> std::sync::Arc<dyn $crate::platforms::Platform> {
                match self {
                    $(KindSettings::$variant(c) => ($module::CONNECT)(http, base_url, c, secret)),+
                }
            }
        }
    };
}

impl Kind {
    /// The kind's name in configuration.
    pub fn as_str(self) -> &'static str {
        self.descriptor().name
    }

    pub fn capabilities(self) -> &'static Capabilities {
        self.descriptor().capabilities
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// The kinds that have the kind-specific setting `field`.
    pub fn having(field: &str) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL
            .iter()
            .copied()
            .filter(move |k| k.descriptor().field(field).is_some())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kind::from_name(&name).ok_or_else(|| serde::de::Error::unknown_variant(&name, Kind::NAMES))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use figment::value::{Dict, Value};

    use super::*;

    fn example_fields(kind: Kind, skip: Option<&str>) -> Value {
        let mut dict = Dict::new();
        for f in kind.descriptor().fields {
            if Some(f.name) == skip {
                continue;
            }
            let v: Value = serde_saphyr::from_str(f.example).expect("examples are YAML");
            dict.insert(f.name.into(), v);
        }
        Value::from(dict)
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        let names: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        assert_eq!(
            Kind::NAMES,
            ["wecom", "juzibot", "yzj", "dustess", "wechat_crm"]
        );
        for k in Kind::ALL {
            let v = Value::from(k.as_str());
            assert_eq!(v.deserialize::<Kind>().unwrap(), *k);
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        let err = Value::from("wecomm").deserialize::<Kind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown variant: found `wecomm`, expected `one of `wecom`, `juzibot`, `yzj`, `dustess`, `wechat_crm``"
        );
    }

    /// The descriptor's fields are exactly the typed config's: the examples parse, each required
    /// field is required, and an unknown field is refused with the descriptor's list.
    #[test]
    fn descriptors_match_their_typed_settings() {
        for &k in Kind::ALL {
            let d = k.descriptor();
            let parsed = KindSettings::parse(k, &example_fields(k, None))
                .unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(parsed.kind(), k);
            for f in d.fields {
                let without = KindSettings::parse(k, &example_fields(k, Some(f.name)));
                assert_eq!(without.is_err(), f.required, "{k}.{}", f.name);
                if f.required {
                    assert!(!f.hint.is_empty(), "{k}.{} needs a hint", f.name);
                }
            }
            let mut with_unknown = Dict::new();
            with_unknown.insert("no_such_field".into(), Value::from(1));
            let err = KindSettings::parse(k, &Value::from(with_unknown)).unwrap_err();
            let declared: BTreeSet<&str> = d.fields.iter().map(|f| f.name).collect();
            match err.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    assert_eq!(field, "no_such_field");
                    let expected: BTreeSet<&str> = expected.iter().copied().collect();
                    assert_eq!(expected, declared, "{k}");
                }
                // A kind without settings may report the missing ones first.
                figment::error::Kind::MissingField(_) => {
                    assert!(d.fields.iter().any(|f| f.required), "{k}")
                }
                other => panic!("{k}: {other:?}"),
            }
        }
    }

    #[test]
    fn capabilities_and_kind_specific_settings() {
        let writable: Vec<&str> = Kind::ALL
            .iter()
            .filter(|k| k.capabilities().writable())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(writable, ["wecom", "juzibot", "yzj", "dustess"]);
        assert_eq!(Kind::having("corp_id").collect::<Vec<_>>(), [Kind::Wecom]);
        assert_eq!(Kind::having("app_id").collect::<Vec<_>>(), [Kind::Yzj]);
        assert_eq!(Kind::having("nope").count(), 0);
        let wecom = KindSettings::parse(Kind::Wecom, &example_fields(Kind::Wecom, None)).unwrap();
        assert_eq!(
            wecom,
            KindSettings::Wecom(crate::platforms::wecom::Config {
                corp_id: "ww0123456789abcdef".into(),
                strategy_id: Some(1),
            })
        );
    }
}
