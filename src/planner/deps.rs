//! Which operations of a plan may be in flight together, decided without I/O.
//!
//! The planner orders a plan's operations so that, sent one at a time, every call is valid when it
//! is made (its phases: adds before emptying, deletes, group edits, tag edits, creates, orders of
//! new objects; renames sequenced so that a name is freed before it is taken). Apply may send
//! operations at once only where that order does not matter. An operation depends on every
//! earlier one it shares a resource with, when either of them changes the resource:
//!
//! - **a group's existence**: its create changes it; every other operation on the group reads it
//!   (a new tag's order edit waits for its group's create);
//! - **a group's tag set**: creates, adds and deletes change it (tags added before a delete would
//!   empty the group keep it alive);
//! - **one object**: each edit, create or delete of a group or a tag changes it (two steps of
//!   one object, like a move to a temporary name and on, stay in order);
//! - **a name**: a group name (unique per account) or a tag name within its group (unique per
//!   group), as given up or taken by a rename, taken by a create, or freed by a delete (a freed
//!   name before its reuse; a swap through a temporary name stays a chain).
//!
//! Nothing else orders two operations: order edits, renames without a name in common, creates of
//! different groups and deletes of different groups are independent.

use std::collections::BTreeMap;

use super::{Action, Op};

/// What an operation touches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Resource<'a> {
    GroupExists(&'a str),
    GroupTags(&'a str),
    Group(&'a str),
    /// A tag by id, or a tag this plan creates by key.
    Tag(&'a str, TagIdent<'a>),
    GroupName(&'a str),
    TagName(&'a str, &'a str),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TagIdent<'a> {
    Id(&'a str),
    Key(&'a str),
}

/// How an operation touches a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn accesses(action: &Action) -> Vec<(Resource<'_>, Access)> {
    use Access::{Read, Write};
    let mut out = Vec::new();
    match action {
        Action::CreateGroup {
            group_key,
            name,
            tags,
            ..
        } => {
            out.push((Resource::GroupExists(group_key), Write));
            out.push((Resource::GroupTags(group_key), Write));
            out.push((Resource::Group(group_key), Write));
            out.push((Resource::GroupName(name), Write));
            for t in tags {
                out.push((Resource::Tag(group_key, TagIdent::Key(&t.key)), Write));
                out.push((Resource::TagName(group_key, &t.name), Write));
            }
        }
        Action::AddTags {
            group_key, tags, ..
        } => {
            out.push((Resource::GroupExists(group_key), Read));
            out.push((Resource::GroupTags(group_key), Write));
            for t in tags {
                out.push((Resource::Tag(group_key, TagIdent::Key(&t.key)), Write));
                out.push((Resource::TagName(group_key, &t.name), Write));
            }
        }
        Action::EditGroup {
            group_key, name, ..
        } => {
            out.push((Resource::GroupExists(group_key), Read));
            out.push((Resource::Group(group_key), Write));
            if let Some(n) = name {
                if let Some(from) = &n.from {
                    out.push((Resource::GroupName(from), Write));
                }
                out.push((Resource::GroupName(&n.to), Write));
            }
        }
        Action::EditTag {
            group_key,
            tag_key,
            tag_id,
            tag_name,
            name,
            ..
        } => {
            out.push((Resource::GroupExists(group_key), Read));
            let ident = match (tag_id, tag_key) {
                (Some(id), _) => TagIdent::Id(id),
                (None, Some(key)) => TagIdent::Key(key),
                (None, None) => TagIdent::Id(""),
            };
            out.push((Resource::Tag(group_key, ident), Write));
            if let Some(n) = name {
                out.push((
                    Resource::TagName(group_key, n.from.as_deref().unwrap_or(tag_name)),
                    Write,
                ));
                out.push((Resource::TagName(group_key, &n.to), Write));
            }
        }
        Action::DeleteTags { tags } => {
            for t in tags {
                out.push((Resource::GroupExists(&t.group_key), Read));
                out.push((Resource::GroupTags(&t.group_key), Write));
                out.push((Resource::Tag(&t.group_key, TagIdent::Id(&t.tag_id)), Write));
                out.push((Resource::TagName(&t.group_key, &t.name), Write));
            }
        }
    }
    out
}

/// For each operation, the earlier operations it must wait for (indices into `ops`, ascending).
/// Only direct dependencies are listed where a chain implies the rest is not guaranteed: every
/// listed index is one the operation truly conflicts with.
pub fn dependencies(ops: &[Op]) -> Vec<Vec<usize>> {
    // Per resource: the last writer, and the readers since.
    #[derive(Default)]
    struct Seen {
        writer: Option<usize>,
        readers: Vec<usize>,
    }
    let mut seen: BTreeMap<Resource<'_>, Seen> = BTreeMap::new();
    let mut deps = Vec::with_capacity(ops.len());
    for (j, op) in ops.iter().enumerate() {
        let mut mine: Vec<usize> = Vec::new();
        for (resource, access) in accesses(&op.action) {
            let s = seen.entry(resource).or_default();
            mine.extend(s.writer);
            if access == Access::Write {
                mine.append(&mut s.readers);
                s.writer = Some(j);
            } else if s.readers.last() != Some(&j) {
                s.readers.push(j);
            }
        }
        mine.retain(|&i| i != j);
        mine.sort_unstable();
        mine.dedup();
        deps.push(mine);
    }
    deps
}

/// The operations in waves: each wave holds the operations whose dependencies all lie in earlier
/// waves, in plan order. Sending wave after wave, the operations of one wave at once, keeps
/// every dependency; a plan without independent operations is one operation per wave.
pub fn waves(ops: &[Op]) -> Vec<Vec<usize>> {
    let deps = dependencies(ops);
    let mut level = vec![0usize; ops.len()];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (j, d) in deps.iter().enumerate() {
        let l = d.iter().map(|&i| level[i] + 1).max().unwrap_or(0);
        level[j] = l;
        if waves.len() <= l {
            waves.resize_with(l + 1, Vec::new);
        }
        waves[l].push(j);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{Change, NewTag, Reason, TagRef};
    use proptest::prelude::*;

    fn op(action: Action) -> Op {
        Op {
            action,
            reason: Reason::NameDiffers,
        }
    }

    fn create(g: &str, name: &str, tags: &[&str]) -> Op {
        op(Action::CreateGroup {
            group_key: g.into(),
            name: name.into(),
            order: None,
            tags: tags
                .iter()
                .map(|t| NewTag {
                    key: (*t).into(),
                    name: (*t).into(),
                    order: None,
                })
                .collect(),
        })
    }

    fn add(g: &str, tags: &[&str]) -> Op {
        op(Action::AddTags {
            group_key: g.into(),
            group_id: Some(format!("id-{g}")),
            group_name: g.into(),
            tags: tags
                .iter()
                .map(|t| NewTag {
                    key: (*t).into(),
                    name: (*t).into(),
                    order: None,
                })
                .collect(),
        })
    }

    /// A tag edit: `id` for an existing tag, else the key of a tag this plan creates.
    fn edit_tag(g: &str, id: Option<&str>, key: &str, rename: Option<(&str, &str)>) -> Op {
        op(Action::EditTag {
            group_key: g.into(),
            group_id: None,
            group_name: g.into(),
            tag_name: rename.map_or(key, |r| r.0).into(),
            tag_key: Some(key.into()),
            tag_id: id.map(Into::into),
            name: rename.map(|(from, to)| Change {
                from: Some(from.into()),
                to: to.into(),
            }),
            order: rename.is_none().then_some(Change { from: None, to: 7 }),
        })
    }

    fn edit_group(g: &str, rename: Option<(&str, &str)>) -> Op {
        op(Action::EditGroup {
            group_key: g.into(),
            group_id: Some(format!("id-{g}")),
            group_name: g.into(),
            name: rename.map(|(from, to)| Change {
                from: Some(from.into()),
                to: to.into(),
            }),
            order: rename.is_none().then_some(Change { from: None, to: 3 }),
        })
    }

    fn delete(tags: &[(&str, &str, &str)]) -> Op {
        op(Action::DeleteTags {
            tags: tags
                .iter()
                .map(|(g, id, name)| TagRef {
                    group_key: (*g).into(),
                    group_id: format!("id-{g}"),
                    group_name: (*g).into(),
                    tag_id: (*id).into(),
                    name: (*name).into(),
                })
                .collect(),
        })
    }

    #[test]
    fn a_new_objects_steps_wait_for_its_create_and_nothing_else_waits() {
        let ops = [
            create("a", "A", &["x", "y"]),
            create("b", "B", &["z"]),
            edit_group("a", None),
            edit_tag("a", None, "x", None),
            edit_tag("a", None, "y", None),
            edit_tag("b", None, "z", None),
            edit_group("c", None),
        ];
        assert_eq!(
            dependencies(&ops),
            [vec![], vec![], vec![0], vec![0], vec![0], vec![1], vec![]]
        );
        assert_eq!(waves(&ops), [vec![0, 1, 6], vec![2, 3, 4, 5]]);
    }

    #[test]
    fn a_freed_name_comes_before_its_reuse() {
        let ops = [
            // A delete frees `old`; a rename takes it afterwards.
            delete(&[("g", "t1", "old")]),
            edit_tag("g", Some("t2"), "k2", Some(("other", "old"))),
            // A group rename frees `A`, a create takes it.
            edit_group("a", Some(("A", "A2"))),
            create("n", "A", &["q"]),
            // The same tag name in another group is another name.
            edit_tag("h", Some("t3"), "k3", Some(("x", "old"))),
        ];
        assert_eq!(
            dependencies(&ops),
            [vec![], vec![0], vec![], vec![2], vec![]]
        );
    }

    #[test]
    fn a_swap_through_a_temporary_name_stays_a_chain() {
        let ops = [
            edit_tag("g", Some("t1"), "a", Some(("A", "tmp"))),
            edit_tag("g", Some("t2"), "b", Some(("B", "A"))),
            edit_tag("g", Some("t1"), "a", Some(("tmp", "B"))),
        ];
        assert_eq!(dependencies(&ops), [vec![], vec![0], vec![0, 1]]);
        assert_eq!(waves(&ops), [vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn adds_before_emptying_come_before_the_delete_of_their_group_only() {
        let ops = [
            add("g", &["new"]),
            delete(&[("g", "t1", "old"), ("h", "t9", "x")]),
            delete(&[("k", "t5", "y")]),
        ];
        assert_eq!(dependencies(&ops), [vec![], vec![0], vec![]]);
    }

    #[test]
    fn reorders_and_plain_renames_are_independent() {
        let ops = [
            edit_tag("g", Some("t1"), "a", Some(("A", "A1"))),
            edit_tag("g", Some("t2"), "b", Some(("B", "B1"))),
            edit_tag("g", Some("t3"), "c", None),
            edit_group("g", Some(("G", "G1"))),
            edit_group("h", None),
        ];
        assert_eq!(waves(&ops), [vec![0, 1, 2, 3, 4]]);
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let g = prop::sample::select(vec!["a", "b"]);
        let name = prop::sample::select(vec!["N1", "N2", "N3"]);
        let tag = prop::sample::select(vec!["t1", "t2", "t3"]);
        prop_oneof![
            (g.clone(), name.clone(), tag.clone()).prop_map(|(g, n, t)| create(g, n, &[t])),
            (g.clone(), tag.clone()).prop_map(|(g, t)| add(g, &[t])),
            (g.clone(), prop::option::of((name.clone(), name.clone())))
                .prop_map(|(g, r)| edit_group(g, r)),
            (
                g.clone(),
                any::<bool>(),
                tag.clone(),
                prop::option::of((name.clone(), name.clone()))
            )
                .prop_map(|(g, known, t, r)| edit_tag(g, known.then_some(t), t, r)),
            (g, tag, name).prop_map(|(g, t, n)| delete(&[(g, t, n)])),
        ]
    }

    /// Two operations conflict when they share a resource that either changes.
    fn conflict(a: &Op, b: &Op) -> bool {
        let (ra, rb) = (accesses(&a.action), accesses(&b.action));
        ra.iter().any(|(r, x)| {
            rb.iter()
                .any(|(s, y)| r == s && (*x == Access::Write || *y == Access::Write))
        })
    }

    proptest! {
        /// Every conflicting pair is ordered (directly or through a chain), and only earlier
        /// operations are waited for: sending by waves keeps every conflicting pair in plan order.
        #[test]
        fn conflicting_operations_are_never_in_flight_together(ops in prop::collection::vec(arb_op(), 0..12)) {
            let deps = dependencies(&ops);
            let waves = waves(&ops);
            let mut wave_of = vec![usize::MAX; ops.len()];
            for (w, ids) in waves.iter().enumerate() {
                for &i in ids {
                    prop_assert_eq!(wave_of[i], usize::MAX, "each operation in one wave");
                    wave_of[i] = w;
                }
            }
            prop_assert!(wave_of.iter().all(|&w| w != usize::MAX), "every operation in a wave");
            for (j, d) in deps.iter().enumerate() {
                for &i in d {
                    prop_assert!(i < j, "only earlier operations are waited for");
                    prop_assert!(conflict(&ops[i], &ops[j]), "{i} → {j} is a real conflict");
                }
            }
            for j in 0..ops.len() {
                for i in 0..j {
                    if conflict(&ops[i], &ops[j]) {
                        prop_assert!(wave_of[i] < wave_of[j], "{i} before {j}");
                    }
                }
                // The wave is the earliest possible: one after its latest dependency.
                let earliest = deps[j].iter().map(|&i| wave_of[i] + 1).max().unwrap_or(0);
                prop_assert_eq!(wave_of[j], earliest);
            }
        }
    }
}
