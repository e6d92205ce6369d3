//! Ordering renames so that each is valid when sent, on platforms where names are unique.
//!
//! A rename onto a name that another object holds must wait until that object has moved away; a
//! cycle (two tags swapping names) is broken by moving one member to a temporary name first, which
//! costs one extra call per cycle — the fewest possible. A rename onto a name held by an object
//! that is not moving is a conflict a person must resolve; it is reported, never sent.

use std::collections::{BTreeMap, BTreeSet};

/// A wanted rename of one remote object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub id: String,
    pub from: String,
    pub to: String,
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
pub fn order(items: &[Rename], occupied: &BTreeMap<String, String>, unique: bool) -> Vec<Step> {
    let final_step = |i: usize, from: &str| Step {
        index: i,
        kind: StepKind::Rename {
            from: from.to_owned(),
            to: items[i].to.clone(),
            temporary: false,
            last: true,
        },
    };
    if !unique {
        return (0..items.len())
            .map(|i| final_step(i, &items[i].from))
            .collect();
    }
    let moving_ids: BTreeMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    // Conflicts, to a fixed point: a target held by an object that is not moving (or whose own
    // rename is itself in conflict) cannot be taken.
    let mut conflict: BTreeMap<usize, String> = BTreeMap::new();
    loop {
        let before = conflict.len();
        for (i, r) in items.iter().enumerate() {
            if conflict.contains_key(&i) {
                continue;
            }
            if let Some(holder) = occupied.get(&r.to)
                && *holder != r.id
            {
                let stuck = match moving_ids.get(holder.as_str()) {
                    None => true,
                    Some(j) => conflict.contains_key(j),
                };
                if stuck {
                    conflict.insert(i, holder.clone());
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
                holder: holder.clone(),
            },
        })
        .collect();
    // Names held right now, by item index for moving items.
    let mut held: BTreeMap<String, Option<usize>> = occupied
        .iter()
        .map(|(n, id)| (n.clone(), moving_ids.get(id.as_str()).copied()))
        .collect();
    let mut current: Vec<String> = items.iter().map(|r| r.from.clone()).collect();
    let mut pending: BTreeSet<usize> = (0..items.len())
        .filter(|i| !conflict.contains_key(i))
        .collect();
    let mut taken: BTreeSet<String> = occupied.keys().cloned().collect();
    taken.extend(items.iter().map(|r| r.to.clone()));
    while !pending.is_empty() {
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| match held.get(&items[i].to) {
                None | Some(None) => !occupied_by_other(&held, &items[i].to),
                Some(Some(j)) => *j == i,
            })
            .collect();
        if let Some(&i) = ready.first() {
            held.remove(&current[i]);
            held.insert(items[i].to.clone(), Some(i));
            steps.push(final_step(i, &current[i]));
            current[i] = items[i].to.clone();
            pending.remove(&i);
            continue;
        }
        // Every pending rename waits on another: a cycle. Move the first one aside.
        let i = *pending.first().expect("pending is not empty");
        let temp = temporary_name(&items[i].from, &taken);
        taken.insert(temp.clone());
        held.remove(&current[i]);
        held.insert(temp.clone(), Some(i));
        steps.push(Step {
            index: i,
            kind: StepKind::Rename {
                from: current[i].clone(),
                to: temp.clone(),
                temporary: true,
                last: false,
            },
        });
        current[i] = temp;
    }
    steps
}

/// Whether `name` is held by a non-moving object (never true for names in `held` as `Some`).
fn occupied_by_other(held: &BTreeMap<String, Option<usize>>, name: &str) -> bool {
    matches!(held.get(name), Some(None))
}

/// A name no object holds or will hold, at most 30 characters: the old name behind a marker.
fn temporary_name(from: &str, taken: &BTreeSet<String>) -> String {
    for n in 0u32.. {
        let marker = if n == 0 {
            "~".to_owned()
        } else {
            format!("~{n}~")
        };
        let room = crate::model::MAX_NAME_CHARS - marker.chars().count();
        let base: String = from.chars().take(room).collect();
        let candidate = format!("{marker}{base}");
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
    unreachable!("u32 markers exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str, from: &str, to: &str) -> Rename {
        Rename {
            id: id.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    fn occ(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, id)| (n.to_string(), id.to_string()))
            .collect()
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
        let t = temporary_name(&long, &taken);
        assert_eq!(t.chars().count(), 30);
        assert!(t.starts_with("~1~"));
    }
}
