//! A YAML document as a tree of positions, so that errors found after figment has merged the file
//! with the environment (which forgets positions) can still point at a line and column.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A node of the document with the position of its value.
#[derive(Debug, Clone)]
pub struct Node {
    line: u32,
    column: u32,
    kind: NodeKind,
}

#[derive(Debug, Clone)]
enum NodeKind {
    /// Keys with their own positions, in document order.
    Map(Vec<(Spanned<String>, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

impl Node {
    /// The tree of an empty document.
    pub fn empty() -> Self {
        Self {
            line: 1,
            column: 1,
            kind: NodeKind::Map(Vec::new()),
        }
    }

    /// Walks `path` as far as the document has it; returns the deepest entry found and whether the
    /// whole path was found.
    fn walk<'a>(&'a self, path: &[&str]) -> (Option<&'a Spanned<String>>, &'a Node, bool) {
        let mut node = self;
        let mut key = None;
        for step in path {
            let entries = match &node.kind {
                NodeKind::Map(entries) => entries,
                NodeKind::Seq(items) => match step.parse::<usize>().ok().and_then(|i| items.get(i))
                {
                    Some(item) => {
                        node = item;
                        continue;
                    }
                    None => return (key, node, false),
                },
                NodeKind::Scalar => return (key, node, false),
            };
            match entries.iter().find(|(k, _)| k.value == *step) {
                Some((k, v)) => {
                    key = Some(k);
                    node = v;
                }
                None => return (key, node, false),
            }
        }
        (key, node, true)
    }

    /// Whether the document has every key of `path`.
    pub fn contains(&self, path: &[&str]) -> bool {
        self.walk(path).2
    }

    /// Where the value at `path` is, or else the deepest part of the path the document has.
    pub fn value_position(&self, path: &[&str]) -> (u32, u32) {
        let (key, node, found) = self.walk(path);
        match (found, key) {
            (true, _) | (false, None) => (node.line, node.column),
            // A missing child: point at the parent's key, which is where the user would add it.
            (false, Some(k)) => (k.referenced.line() as u32, k.referenced.column() as u32),
        }
    }

    /// Where the key at the end of `path` is, or else the deepest key of the path the document has.
    pub fn key_position(&self, path: &[&str]) -> (u32, u32) {
        match self.walk(path) {
            (Some(k), _, _) => (k.referenced.line() as u32, k.referenced.column() as u32),
            (None, node, _) => (node.line, node.column),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Inner>::deserialize(d)?;
        Ok(Node {
            line: s.referenced.line() as u32,
            column: s.referenced.column() as u32,
            kind: s.value.0,
        })
    }
}

struct Inner(NodeKind);

impl<'de> Deserialize<'de> for Inner {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Inner;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_none<E: de::Error>(self) -> Result<Inner, E> {
                Ok(Inner(NodeKind::Scalar))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Inner, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element::<Node>()? {
                    items.push(n);
                }
                Ok(Inner(NodeKind::Seq(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Inner, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    let v = map.next_value::<Node>()?;
                    entries.push((k, v));
                }
                Ok(Inner(NodeKind::Map(entries)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values() {
        let text = "a: 1\nplatforms:\n  crm:\n    kind: wecom\n    rate_limit: {per_second: 0}\nlist: [1, 2]\n";
        let n: Node = serde_saphyr::from_str(text).unwrap();
        assert_eq!(n.value_position(&["a"]), (1, 4));
        assert_eq!(n.key_position(&["platforms", "crm", "kind"]), (4, 5));
        assert_eq!(n.value_position(&["platforms", "crm", "kind"]), (4, 11));
        // A key the file lacks: the deepest key it has.
        assert_eq!(n.value_position(&["platforms", "crm", "base_url"]), (3, 3));
        assert_eq!(n.key_position(&["platforms", "nope"]), (2, 1));
        assert_eq!(
            n.value_position(&["platforms", "crm", "rate_limit", "per_second"]),
            (5, 30)
        );
    }
}
