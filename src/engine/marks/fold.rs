//! Pure: declared `GROUP/TAG` names to a platform's tag ids, a request checked before it is
//! queued, and a customer's consecutive requests folded into the one change that has the same
//! effect. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Bindings, Desired, MarkStyle};
use crate::platforms::MarkChange;

/// The longest contact or staff id accepted; no document states one, and every id they show is
/// far shorter (WeCom `external_userid` 32 characters).
pub const MAX_ID_CHARS: usize = 128;

/// Why a `GROUP/TAG` name does not name a tag of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No declared tag of a group synced to the platform has this name.
    Undeclared,
    /// Declared, but not (yet) on the platform: no binding (apply has not created it).
    Unbound,
}

/// The platform's declared tags by `GROUP/TAG`, with their remote ids where bound.
#[derive(Debug, Clone, Default)]
pub struct TagIndex {
    tags: BTreeMap<String, Option<String>>,
}

impl TagIndex {
    pub fn new(desired: &Desired, platform: &str, bindings: &Bindings) -> Self {
        let mut tags = BTreeMap::new();
        for g in desired
            .groups()
            .iter()
            .filter(|g| g.platforms.contains(platform))
        {
            for t in &g.tags {
                let id = bindings.tags.get(&(g.key.clone(), t.key.clone())).cloned();
                tags.insert(format!("{}/{}", g.name, t.name), id);
            }
        }
        Self { tags }
    }

    /// The remote id of `name`.
    pub fn resolve(&self, name: &str) -> Result<&str, Unresolved> {
        match self.tags.get(name) {
            None => Err(Unresolved::Undeclared),
            Some(None) => Err(Unresolved::Unbound),
            Some(Some(id)) => Ok(id),
        }
    }

    /// A declared name close to `name` (same tag name in another group, or same group), for a
    /// hint.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        let tag = name.rsplit('/').next().unwrap_or(name);
        let group = name.split('/').next().unwrap_or(name);
        self.tags
            .keys()
            .find(|k| k.rsplit('/').next() == Some(tag))
            .or_else(|| {
                self.tags
                    .keys()
                    .find(|k| k.split('/').next() == Some(group))
            })
            .map(String::as_str)
    }
}

/// Why an id cannot be a contact or staff id: the documents give them as opaque strings (WeCom
/// `external_userid`/`userid`, Juzibot `unionId`/`userId`, Miaokol `contact_wxid`/`rel_wxid`),
/// required, and none shows one with blanks or control characters.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it is empty")
    } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains blanks or control characters")
    } else if id.chars().count() > MAX_ID_CHARS {
        Some("it is longer than 128 characters")
    } else {
        None
    }
}

/// A tag named both to add and to remove in one request.
pub fn added_and_removed<'a>(add: &'a [String], remove: &[String]) -> Option<&'a str> {
    add.iter().find(|t| remove.contains(t)).map(String::as_str)
}

/// One request in the platform's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// The one change with the same effect as `requests` applied in order. Within a request additions
/// apply first, then removals (as the documents' add+remove calls do); across requests the last
/// word on a tag wins. With [`MarkStyle::AddRemove`] the result names only tags some request
/// named, so tags others put on the customer stay; with [`MarkStyle::Overwrite`] it is the whole
/// set, starting from `known` (what tagsync last set).
pub fn fold<'a>(
    style: MarkStyle,
    known: &[String],
    requests: impl IntoIterator<Item = &'a Resolved>,
) -> Option<MarkChange> {
    let mut last: BTreeMap<&str, bool> = BTreeMap::new();
    for r in requests {
        for t in &r.add {
            last.insert(t, true);
        }
        for t in &r.remove {
            last.insert(t, false);
        }
    }
    match style {
        MarkStyle::No => None,
        MarkStyle::AddRemove => {
            let pick = |on: bool| -> Vec<String> {
                last.iter()
                    .filter(|(_, v)| **v == on)
                    .map(|(k, _)| (*k).to_owned())
                    .collect()
            };
            let (add, remove) = (pick(true), pick(false));
            (!add.is_empty() || !remove.is_empty()).then_some(MarkChange::Edit { add, remove })
        }
        MarkStyle::Overwrite => {
            let mut set: BTreeSet<String> = known.iter().cloned().collect();
            for (t, on) in last {
                if on {
                    set.insert(t.to_owned());
                } else {
                    set.remove(t);
                }
            }
            Some(MarkChange::Replace(set.into_iter().collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(add: &[&str], remove: &[&str]) -> Resolved {
        Resolved {
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Applies one request the way the platforms do (adds, then removes).
    fn apply(set: &mut BTreeSet<String>, change: &MarkChange) {
        match change {
            MarkChange::Edit { add, remove } => {
                set.extend(add.iter().cloned());
                for t in remove {
                    set.remove(t);
                }
            }
            MarkChange::Replace(all) => *set = all.iter().cloned().collect(),
        }
    }

    #[test]
    fn the_last_word_on_a_tag_wins_and_others_are_untouched() {
        let reqs = [r(&["a", "b"], &[]), r(&["c"], &["a"]), r(&["a"], &["b"])];
        assert_eq!(
            fold(MarkStyle::AddRemove, &[], &reqs),
            Some(MarkChange::Edit {
                add: vec!["a".into(), "c".into()],
                remove: vec!["b".into()]
            })
        );
        let known = ["x".to_string(), "b".to_string()];
        assert_eq!(
            fold(MarkStyle::Overwrite, &known, &reqs),
            Some(MarkChange::Replace(vec![
                "a".into(),
                "c".into(),
                "x".into()
            ]))
        );
        // Within one request, removal wins (adds first, then removes).
        assert_eq!(
            fold(MarkStyle::AddRemove, &[], &[r(&["a"], &["a"])]),
            Some(MarkChange::Edit {
                add: vec![],
                remove: vec!["a".into()]
            })
        );
        assert_eq!(fold(MarkStyle::No, &[], &reqs), None);
    }

    #[test]
    fn ids_the_documents_cannot_take() {
        assert_eq!(id_problem(""), Some("it is empty"));
        assert_eq!(
            id_problem("wm a"),
            Some("it contains blanks or control characters")
        );
        assert_eq!(
            id_problem(&"w".repeat(129)),
            Some("it is longer than 128 characters")
        );
        assert_eq!(id_problem("woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA"), None);
    }

    proptest! {
        /// Folding then applying once equals applying each request in order, from any start.
        #[test]
        fn fold_equals_replay(
            start in proptest::collection::btree_set("[a-e]", 0..5),
            reqs in proptest::collection::vec(
                (proptest::collection::vec("[a-e]", 0..3), proptest::collection::vec("[a-e]", 0..3)),
                1..6,
            ),
        ) {
            let reqs: Vec<Resolved> = reqs
                .into_iter()
                .map(|(add, remove)| Resolved { add, remove })
                .collect();
            let mut replay = start.clone();
            for q in &reqs {
                apply(&mut replay, &MarkChange::Edit { add: q.add.clone(), remove: q.remove.clone() });
            }
            let mut folded = start.clone();
            if let Some(c) = fold(MarkStyle::AddRemove, &[], &reqs) {
                apply(&mut folded, &c);
            }
            prop_assert_eq!(&folded, &replay);
            let known: Vec<String> = start.iter().cloned().collect();
            let mut over = BTreeSet::new();
            apply(&mut over, &fold(MarkStyle::Overwrite, &known, &reqs).unwrap());
            prop_assert_eq!(&over, &replay);
        }
    }
}
