//! Saved plans: what `tagsync plan --out FILE` writes and `tagsync apply FILE` carries out.
//!
//! A saved plan holds, per platform, the plan and the basis it was made from (the listing, the
//! bindings and the groups known not to be ours) with a fingerprint of that basis. Apply re-reads
//! the platform and refuses when the fingerprint differs, naming what changed, so that what a team
//! reviewed in a pull request is exactly what gets sent. Each platform's plan also names the
//! account it was made against ([`Account`]: kind, base URL, the kind's identifying settings, never
//! the secret), so that it is never sent to another account configured under the same name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PlatformPlan;
use crate::model::{Bindings, RemoteGroup, Snapshot};

/// The file format's name and version; a file of another version is refused.
pub const FORMAT: &str = "tagsync-plan/2";

/// A whole saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub created_at: DateTime<Utc>,
    pub platforms: Vec<SavedPlatform>,
}

/// One platform's plan and the state it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlatform {
    pub platform: String,
    /// The account the plan was made against.
    pub account: Account,
    /// `sha256:` of the basis, in a canonical form.
    pub fingerprint: String,
    pub basis: Basis,
    pub plan: PlatformPlan,
}

/// Which account a platform is: what a saved plan must be applied to. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The platform's kind (`wecom`, `juzibot`, …).
    pub kind: String,
    pub base_url: String,
    /// The kind's own settings that identify the account (`corp_id`, `strategy_id`, `app_id`).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

impl Account {
    /// What differs between the account a plan was made for (`self`) and the one configured
    /// now, one line each; empty when they are the same account.
    pub fn differences(&self, configured: &Account) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, then: Option<&str>, now: Option<&str>| {
            if then != now {
                let show = |v: Option<&str>| v.map_or("not set".to_owned(), |v| format!("{v:?}"));
                out.push(format!(
                    "{what}: {} in the plan, {} in the configuration",
                    show(then),
                    show(now)
                ));
            }
        };
        differ("kind", Some(&self.kind), Some(&configured.kind));
        differ("base_url", Some(&self.base_url), Some(&configured.base_url));
        let keys: BTreeSet<&String> = self
            .settings
            .keys()
            .chain(configured.settings.keys())
            .collect();
        for k in keys {
            differ(
                k,
                self.settings.get(k).map(String::as_str),
                configured.settings.get(k).map(String::as_str),
            );
        }
        out
    }
}

/// What a plan depends on besides the tag files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    pub snapshot: Snapshot,
    /// `(group key, tag key or None, remote id)`, sorted.
    pub bindings: Vec<(String, Option<String>, String)>,
    pub not_ours: Vec<String>,
}

impl Basis {
    pub fn new(snapshot: &Snapshot, bindings: &Bindings, not_ours: &BTreeSet<String>) -> Self {
        let mut groups = snapshot.groups.clone();
        // Canonical: the same state listed in another order is the same basis.
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        for g in &mut groups {
            g.tags.sort_by(|a, b| a.id.cmp(&b.id));
        }
        let mut rows: Vec<(String, Option<String>, String)> = bindings
            .groups
            .iter()
            .map(|(g, id)| (g.clone(), None, id.clone()))
            .chain(
                bindings
                    .tags
                    .iter()
                    .map(|((g, t), id)| (g.clone(), Some(t.clone()), id.clone())),
            )
            .collect();
        rows.sort();
        Self {
            snapshot: Snapshot { groups },
            bindings: rows,
            not_ours: not_ours.iter().cloned().collect(),
        }
    }

    /// The fingerprint of this basis. Creation times are left out: some platforms report them
    /// late (Juzibot's 0 = "not synced yet"), and they change no plan.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for g in &self.snapshot.groups {
            hasher.update(format!(
                "g\u{1f}{}\u{1f}{}\u{1f}{:?}\n",
                g.id, g.name, g.order
            ));
            for t in &g.tags {
                hasher.update(format!(
                    "t\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}\n",
                    g.id, t.id, t.name, t.order
                ));
            }
        }
        for (g, t, id) in &self.bindings {
            hasher.update(format!("b\u{1f}{g}\u{1f}{t:?}\u{1f}{id}\n"));
        }
        for id in &self.not_ours {
            hasher.update(format!("n\u{1f}{id}\n"));
        }
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// What differs between the basis a plan was made from and the state now, in words.
pub fn describe_changes(then: &Basis, now: &Basis) -> Vec<String> {
    let mut out = Vec::new();
    let index = |s: &Snapshot| -> BTreeMap<String, RemoteGroup> {
        s.groups.iter().map(|g| (g.id.clone(), g.clone())).collect()
    };
    let (before, after) = (index(&then.snapshot), index(&now.snapshot));
    for (id, g) in &before {
        match after.get(id) {
            None => out.push(format!("group {:?} ({id}) was deleted", g.name)),
            Some(n) => {
                if n.name != g.name {
                    out.push(format!(
                        "group {:?} ({id}) was renamed to {:?}",
                        g.name, n.name
                    ));
                }
                if n.order != g.order {
                    out.push(format!("group {:?} ({id}) was reordered", n.name));
                }
                let tags: BTreeMap<&str, _> = n.tags.iter().map(|t| (t.id.as_str(), t)).collect();
                for t in &g.tags {
                    match tags.get(t.id.as_str()) {
                        None => out.push(format!(
                            "tag {:?}/{:?} ({}) was deleted",
                            n.name, t.name, t.id
                        )),
                        Some(x) if x.name != t.name => out.push(format!(
                            "tag {:?}/{:?} ({}) was renamed to {:?}",
                            n.name, t.name, t.id, x.name
                        )),
                        Some(x) if x.order != t.order => out.push(format!(
                            "tag {:?}/{:?} ({}) was reordered",
                            n.name, t.name, t.id
                        )),
                        Some(_) => {}
                    }
                }
                for t in &n.tags {
                    if !g.tags.iter().any(|x| x.id == t.id) {
                        out.push(format!(
                            "tag {:?}/{:?} ({}) was added",
                            n.name, t.name, t.id
                        ));
                    }
                }
            }
        }
    }
    for (id, g) in &after {
        if !before.contains_key(id) {
            out.push(format!("group {:?} ({id}) was added", g.name));
        }
    }
    out.extend(binding_changes(&then.bindings, &now.bindings));
    for id in &now.not_ours {
        if !then.not_ours.contains(id) {
            out.push(format!(
                "group {id} refused a write as not ours (made in the console) since"
            ));
        }
    }
    for id in &then.not_ours {
        if !now.not_ours.contains(id) {
            out.push(format!("group {id} is no longer remembered as not ours"));
        }
    }
    out
}

/// The mirror's bindings that differ, in words: which declared object is bound to which remote id.
fn binding_changes(
    then: &[(String, Option<String>, String)],
    now: &[(String, Option<String>, String)],
) -> Vec<String> {
    type Key<'a> = (&'a str, Option<&'a str>);
    fn index(rows: &[(String, Option<String>, String)]) -> BTreeMap<Key<'_>, &str> {
        rows.iter()
            .map(|(g, t, id)| ((g.as_str(), t.as_deref()), id.as_str()))
            .collect()
    }
    let (before, after) = (index(then), index(now));
    let object = |(g, t): Key| match t {
        None => format!("group key {g:?}"),
        Some(t) => format!("tag key {:?}", format!("{g}/{t}")),
    };
    let mut out = Vec::new();
    for (key, id) in &before {
        match after.get(key) {
            None => out.push(format!(
                "the mirror no longer binds {} (was {id})",
                object(*key)
            )),
            Some(now) if now != id => out.push(format!(
                "the mirror binds {} to {now}, not {id}",
                object(*key)
            )),
            Some(_) => {}
        }
    }
    for (key, id) in &after {
        if !before.contains_key(key) {
            out.push(format!("the mirror binds {} to {id} since", object(*key)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RemoteTag;

    fn snapshot(name: &str, tag: &str) -> Snapshot {
        Snapshot {
            groups: vec![RemoteGroup {
                id: "g1".into(),
                name: name.into(),
                order: Some(1),
                created_at: None,
                tags: vec![RemoteTag {
                    id: "t1".into(),
                    name: tag.into(),
                    order: Some(1),
                    created_at: None,
                }],
            }],
        }
    }

    #[test]
    fn same_state_same_fingerprint_whatever_the_listing_order() {
        let mut a = snapshot("级别", "甲");
        a.groups[0].tags.push(RemoteTag {
            id: "t0".into(),
            name: "乙".into(),
            order: Some(2),
            created_at: None,
        });
        let mut b = a.clone();
        b.groups[0].tags.reverse();
        let none = BTreeSet::new();
        let fa = Basis::new(&a, &Bindings::default(), &none).fingerprint();
        assert_eq!(
            fa,
            Basis::new(&b, &Bindings::default(), &none).fingerprint()
        );
        assert!(fa.starts_with("sha256:") && fa.len() == 7 + 64);
    }

    #[test]
    fn changes_are_named() {
        let none = BTreeSet::new();
        let then = Basis::new(&snapshot("级别", "甲"), &Bindings::default(), &none);
        let now = Basis::new(&snapshot("等级", "乙"), &Bindings::default(), &none);
        assert_ne!(then.fingerprint(), now.fingerprint());
        assert_eq!(
            describe_changes(&then, &now),
            [
                "group \"级别\" (g1) was renamed to \"等级\"",
                "tag \"等级\"/\"甲\" (t1) was renamed to \"乙\"",
            ]
        );
    }

    #[test]
    fn binding_and_not_ours_changes_say_what_changed() {
        let s = snapshot("级别", "甲");
        let mut b = Bindings::default();
        b.groups.insert("级别".into(), "g1".into());
        b.tags.insert(("级别".into(), "乙".into()), "t9".into());
        let then = Basis::new(&s, &b, &BTreeSet::new());
        let mut b2 = Bindings::default();
        b2.groups.insert("级别".into(), "g2".into());
        b2.tags.insert(("级别".into(), "甲".into()), "t1".into());
        let now = Basis::new(&s, &b2, &BTreeSet::from(["g7".to_owned()]));
        assert_eq!(
            describe_changes(&then, &now),
            [
                "the mirror binds group key \"级别\" to g2, not g1",
                "the mirror no longer binds tag key \"级别/乙\" (was t9)",
                "the mirror binds tag key \"级别/甲\" to t1 since",
                "group g7 refused a write as not ours (made in the console) since",
            ]
        );
    }

    #[test]
    fn another_account_is_named_by_what_differs() {
        let plan = Account {
            kind: "wecom".into(),
            base_url: "https://qyapi.weixin.qq.com/".into(),
            settings: BTreeMap::from([("corp_id".to_owned(), "ww1".to_owned())]),
        };
        assert!(plan.differences(&plan.clone()).is_empty());
        let mut other = plan.clone();
        other.base_url = "http://127.0.0.1:8080/".into();
        other.settings.insert("corp_id".into(), "ww2".into());
        other.settings.insert("strategy_id".into(), "7".into());
        assert_eq!(
            plan.differences(&other),
            [
                "base_url: \"https://qyapi.weixin.qq.com/\" in the plan, \"http://127.0.0.1:8080/\" in the configuration",
                "corp_id: \"ww1\" in the plan, \"ww2\" in the configuration",
                "strategy_id: not set in the plan, \"7\" in the configuration",
            ]
        );
    }
}
