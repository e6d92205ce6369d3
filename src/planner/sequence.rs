//! Ordering renames so that each is valid when sent, on platforms where names are unique.
//!
//! A rename onto a name that another object holds must wait until that object has moved away; a
//! cycle (two tags swapping names) is broken by moving one member to a temporary name first, which
//! costs one extra call per cycle — the fewest possible. A rename onto a name held by an object
//! that is not moving is a conflict a person must resolve; it is reported, never sent.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A wanted rename of one remote object (borrowed from the snapshot and the desired state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// One step, referring to `items[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Send a rename. `temporary` moves the object aside; `last` is its final step.
    Rename {
        from: String,
        to: String,
        temporary: bool,
        last: bool,
    },
    /// Not sent: the target name is held by an object that does not move.
    Conflict { holder: String },
}

/// Orders `items`. `occupied` maps every name in the scope (a group's tags, or an account's
/// groups) to the id holding it, after planned deletes.
pub fn order(items: &[Rename<'_>], occupied: &HashMap<&str, &str>, unique: bool) -> Vec<Step> {
    let final_step = |i: usize, from: &str| Step {
        index: i,
        kind: StepKind::Rename {
            from: from.to_owned(),
            to: items[i].to.to_owned(),
            temporary: false,
            last: true,
        },
    };
    if !unique {
        return (0..items.len())
            .map(|i| final_step(i, items[i].from))
            .collect();
    }
    let moving_ids: HashMap<&str, usize> =
        items.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    // Conflicts, to a fixed point: a target held by an object that is not moving (or whose own
    // rename is itself in conflict) cannot be taken.
    let mut conflict: BTreeMap<usize, &str> = BTreeMap::new();
    loop {
        let before = conflict.len();
        for (i, r) in items.iter().enumerate() {
            if conflict.contains_key(&i) {
                continue;
            }
            if let Some(&holder) = occupied.get(r.to)
                && holder != r.id
            {
                let stuck = match moving_ids.get(holder) {
                    None => true,
                    Some(j) => conflict.contains_key(j),
                };
                if stuck {
                    conflict.insert(i, holder);
                }
            }
        }
        if conflict.len() == before {
            break;
        }
    }
    let mut steps: Vec<Step> = conflict
        .iter()
        .map(|(&i, holder)| Step {
            index: i,
            kind: StepKind::Conflict {
                holder: (*holder).to_owned(),
            },
        })
        .collect();
    // Names held right now, by item index for moving items. Temporary names are the only owned
    // strings.
    let mut held: HashMap<Cow<'_, str>, Option<usize>> = occupied
        .iter()
        .map(|(n, id)| (Cow::Borrowed(*n), moving_ids.get(id).copied()))
        .collect();
    let mut current: Vec<Cow<'_, str>> = items.iter().map(|r| Cow::Borrowed(r.from)).collect();
    let mut pending: BTreeSet<usize> = (0..items.len())
        .filter(|i| !conflict.contains_key(i))
        .collect();
    // Every name held or to be held, for temporary names; made at the first cycle.
    let mut taken: Option<HashSet<Cow<'_, str>>> = None;
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .copied()
            .find(|&i| match held.get(items[i].to) {
                None | Some(None) => !occupied_by_other(&held, items[i].to),
                Some(Some(j)) => *j == i,
            });
        if let Some(i) = ready {
            held.remove(current[i].as_ref());
            held.insert(Cow::Borrowed(items[i].to), Some(i));
            steps.push(final_step(i, &current[i]));
            current[i] = Cow::Borrowed(items[i].to);
            pending.remove(&i);
            continue;
        }
        // Every pending rename waits on another: a cycle. Move the first one aside.
        let i = *pending.first().expect("pending is not empty");
        let taken = taken.get_or_insert_with(|| {
            occupied
                .keys()
                .map(|n| Cow::Borrowed(*n))
                .chain(items.iter().map(|r| Cow::Borrowed(r.to)))
                .collect()
        });
        let temp = temporary_name(items[i].from, |n| taken.contains(n));
        taken.insert(Cow::Owned(temp.clone()));
        held.remove(current[i].as_ref());
        held.insert(Cow::Owned(temp.clone()), Some(i));
        steps.push(Step {
            index: i,
            kind: StepKind::Rename {
                from: current[i].to_string(),
                to: temp.clone(),
                temporary: true,
                last: false,
            },
        });
        current[i] = Cow::Owned(temp);
    }
    steps
}

/// Whether `name` is held by a non-moving object (never true for names in `held` as `Some`).
fn occupied_by_other(held: &HashMap<Cow<'_, str>, Option<usize>>, name: &str) -> bool {
    matches!(held.get(name), Some(None))
}

/// A name no object holds or will hold, at most 30 characters: the old name behind a marker.
fn temporary_name(from: &str, taken: impl Fn(&str) -> bool) -> String {
    for n in 0u32.. {
        let marker = if n == 0 {
            "~".to_owned()
        } else {
            format!("~{n}~")
        };
        let room = crate::model::MAX_NAME_CHARS - marker.chars().count();
        let base: String = from.chars().take(room).collect();
        let candidate = format!("{marker}{base}");
        if !taken(&candidate) {
            return candidate;
        }
    }
    unreachable!("u32 markers exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r<'a>(id: &'a str, from: &'a str, to: &'a str) -> Rename<'a> {
        Rename { id, from, to }
    }

    fn occ<'a>(pairs: &[(&'a str, &'a str)]) -> HashMap<&'a str, &'a str> {
        pairs.iter().copied().collect()
    }

    fn show(items: &[Rename], steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Rename { from, to, .. } => {
                    format!("{}: {from} -> {to}", items[s.index].id)
                }
                StepKind::Conflict { holder } => {
                    format!("{}: conflict with {holder}", items[s.index].id)
                }
            })
            .collect()
    }

    #[test]
    fn independent_renames_keep_input_order() {
        let items = [r("1", "a", "x"), r("2", "b", "y")];
        let steps = order(&items, &occ(&[("a", "1"), ("b", "2")]), true);
        assert_eq!(show(&items, &steps), ["1: a -> x", "2: b -> y"]);
    }

    #[test]
    fn chain_waits_for_the_name_to_be_freed() {
        // 1 takes b's name; b moves to c first.
        let items = [r("1", "a", "b"), r("2", "b", "c")];
        let steps = order(&items, &occ(&[("a", "1"), ("b", "2")]), true);
        assert_eq!(show(&items, &steps), ["2: b -> c", "1: a -> b"]);
    }

    #[test]
    fn swap_costs_three_calls() {
        let items = [r("1", "甲", "乙"), r("2", "乙", "甲")];
        let steps = order(&items, &occ(&[("甲", "1"), ("乙", "2")]), true);
        assert_eq!(
            show(&items, &steps),
            ["1: 甲 -> ~甲", "2: 乙 -> 甲", "1: ~甲 -> 乙"]
        );
    }

    #[test]
    fn target_held_by_a_still_object_is_a_conflict() {
        let items = [r("1", "a", "b"), r("3", "c", "a")];
        let steps = order(&items, &occ(&[("a", "1"), ("b", "2"), ("c", "3")]), true);
        assert_eq!(
            show(&items, &steps),
            ["1: conflict with 2", "3: conflict with 1"]
        );
    }

    #[test]
    fn without_unique_names_nothing_waits() {
        let items = [r("1", "甲", "乙"), r("2", "乙", "甲")];
        let steps = order(&items, &occ(&[("甲", "1"), ("乙", "2")]), false);
        assert_eq!(show(&items, &steps), ["1: 甲 -> 乙", "2: 乙 -> 甲"]);
    }

    #[test]
    fn temporary_names_fit_the_limit_and_avoid_collisions() {
        let long = "一".repeat(30);
        let taken: BTreeSet<String> = [format!("~{}", "一".repeat(29))].into_iter().collect();
        let t = temporary_name(&long, |n| taken.contains(n));
        assert_eq!(t.chars().count(), 30);
        assert!(t.starts_with("~1~"));
    }
}
