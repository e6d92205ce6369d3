//! The pure half of [`Store::record_snapshot`](super::Store::record_snapshot): what a listing changes
//! in the mirror, as the events to record. No SQL and no clock, so it is tested on its own.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::Snapshot;

use super::{EventKind, NewEvent, Object, PullSummary};

/// What the mirror holds about one remote object, as far as events are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Known {
    pub name: String,
    pub order: Option<i64>,
    /// `deleted_at IS NULL`.
    pub live: bool,
    /// The remote id of a tag's group (`None` for a group).
    pub group: Option<String>,
    /// `remote_created_at`, as stored.
    pub created: Option<DateTime<Utc>>,
}

/// One object of a listing as its row would be written: what [`unchanged`] compares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listed<'a> {
    pub name: &'a str,
    pub order: Option<i64>,
    /// A tag's group.
    pub group: Option<&'a str>,
    /// As stored (`ts`); `None` keeps the stored value.
    pub created: Option<DateTime<Utc>>,
}

/// Whether writing `listed` over what the mirror holds would change nothing but `last_seen_at`:
/// a live row with the same name, order and group, and a creation time that is unreported or the
/// same. Such rows are not rewritten: an unchanged re-listing (every idle cycle of the daemon)
/// then costs one `last_seen_at` update per table instead of rewriting every row.
pub(super) fn unchanged(known: Option<&Known>, listed: &Listed) -> bool {
    known.is_some_and(|k| {
        k.live
            && k.name == listed.name
            && k.order == listed.order
            && k.group.as_deref() == listed.group
            && (listed.created.is_none() || listed.created == k.created)
    })
}

/// The events a listing causes, in a deterministic order (listing order, each group followed by
/// its tags, then deletions by remote id, groups first), and their counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Diff {
    pub events: Vec<NewEvent>,
    pub summary: PullSummary,
}

/// Compares a listing with what the mirror knows.
///
/// An object new to the mirror, or back after it had been marked deleted, gets `created` (new value:
/// its name). A known object whose name or order differs from the mirror's gets `renamed` and/or
/// `reordered` (old and new values), also when it comes back. When `complete` is true, a live
/// object absent from the listing gets `deleted` (old value: its last name). An id listed twice is
/// compared the second time with what the first occurrence made of it, so it causes no spurious
/// events.
pub(super) fn diff(
    groups: &BTreeMap<String, Known>,
    tags: &BTreeMap<String, Known>,
    snapshot: &Snapshot,
    complete: bool,
) -> Diff {
    let mut groups = groups.clone();
    let mut tags = tags.clone();
    let mut seen_groups = BTreeSet::new();
    let mut seen_tags = BTreeSet::new();
    let mut events = Vec::new();

    // A moved tag's old group is named as the mirror knew it before this listing.
    let old_group_names: BTreeMap<String, String> = groups
        .iter()
        .map(|(id, k)| (id.clone(), k.name.clone()))
        .collect();
    for group in &snapshot.groups {
        let order = group.order.map(i64::from);
        let seen = Seen {
            id: &group.id,
            name: &group.name,
            order,
            group: None,
        };
        observe(&mut groups, Object::Group, &seen, &mut events);
        seen_groups.insert(group.id.as_str());
        for tag in &group.tags {
            let order = tag.order.map(i64::from);
            let old_group = tags.get(&tag.id).and_then(|k| k.group.clone());
            let seen = Seen {
                id: &tag.id,
                name: &tag.name,
                order,
                group: Some(&group.id),
            };
            observe(&mut tags, Object::Tag, &seen, &mut events);
            if let Some(old) = old_group.filter(|old| *old != group.id) {
                let old_name = old_group_names.get(&old).unwrap_or(&old);
                events.push(event(
                    Object::Tag,
                    &tag.id,
                    EventKind::Moved,
                    Some(old_name),
                    Some(&group.name),
                ));
            }
            seen_tags.insert(tag.id.as_str());
        }
    }

    if complete {
        for (object, known, seen) in [
            (Object::Group, &groups, &seen_groups),
            (Object::Tag, &tags, &seen_tags),
        ] {
            for (id, k) in known {
                if k.live && !seen.contains(id.as_str()) {
                    events.push(event(object, id, EventKind::Deleted, Some(&k.name), None));
                }
            }
        }
    }

    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    let summary = PullSummary {
        groups_seen: seen_groups.len(),
        tags_seen: seen_tags.len(),
        created: count(EventKind::Created),
        renamed: count(EventKind::Renamed),
        reordered: count(EventKind::Reordered),
        moved: count(EventKind::Moved),
        deleted: count(EventKind::Deleted),
    };
    Diff { events, summary }
}

/// One object of a listing.
struct Seen<'a> {
    id: &'a str,
    name: &'a str,
    order: Option<i64>,
    /// A tag's group.
    group: Option<&'a str>,
}

fn observe(
    known: &mut BTreeMap<String, Known>,
    object: Object,
    seen: &Seen,
    events: &mut Vec<NewEvent>,
) {
    let Seen {
        id,
        name,
        order,
        group,
    } = *seen;
    let Some(k) = known.get_mut(id) else {
        events.push(event(object, id, EventKind::Created, None, Some(name)));
        let new = Known {
            name: name.to_owned(),
            order,
            live: true,
            group: group.map(str::to_owned),
            created: None,
        };
        known.insert(id.to_owned(), new);
        return;
    };
    k.group = group.map(str::to_owned);
    if !k.live {
        events.push(event(object, id, EventKind::Created, None, Some(name)));
        k.live = true;
    }
    if k.name != name {
        events.push(event(
            object,
            id,
            EventKind::Renamed,
            Some(&k.name),
            Some(name),
        ));
        k.name = name.to_owned();
    }
    if k.order != order {
        let (old, new) = (k.order.map(|o| o.to_string()), order.map(|o| o.to_string()));
        events.push(event(
            object,
            id,
            EventKind::Reordered,
            old.as_deref(),
            new.as_deref(),
        ));
        k.order = order;
    }
}

fn event(
    object: Object,
    id: &str,
    kind: EventKind,
    old: Option<&str>,
    new: Option<&str>,
) -> NewEvent {
    NewEvent {
        object,
        remote_id: id.to_owned(),
        kind,
        old_value: old.map(str::to_owned),
        new_value: new.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RemoteGroup, RemoteTag};

    /// `(id, name, order)` of a tag.
    type TagLine<'a> = (&'a str, &'a str, Option<u32>);
    /// `(id, name, order, tags)` of a group.
    type GroupLine<'a> = (&'a str, &'a str, Option<u32>, &'a [TagLine<'a>]);

    fn snapshot(groups: &[GroupLine]) -> Snapshot {
        Snapshot {
            groups: groups
                .iter()
                .map(|(id, name, order, tags)| RemoteGroup {
                    id: (*id).into(),
                    name: (*name).into(),
                    order: *order,
                    created_at: None,
                    tags: tags
                        .iter()
                        .map(|(id, name, order)| RemoteTag {
                            id: (*id).into(),
                            name: (*name).into(),
                            order: *order,
                            created_at: None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn known(rows: &[(&str, &str, Option<i64>, bool)]) -> BTreeMap<String, Known> {
        rows.iter()
            .map(|(id, name, order, live)| {
                let k = Known {
                    name: (*name).into(),
                    order: *order,
                    live: *live,
                    group: None,
                    created: None,
                };
                ((*id).into(), k)
            })
            .collect()
    }

    /// One line per event: `object kind id old -> new`.
    fn render(diff: &Diff) -> Vec<String> {
        diff.events
            .iter()
            .map(|e| {
                let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let (old, new) = (v(&e.old_value), v(&e.new_value));
                format!("{} {} {} {old} -> {new}", e.object, e.kind, e.remote_id)
            })
            .collect()
    }

    #[test]
    fn only_a_live_row_with_the_same_values_is_unchanged() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let k = Known {
            name: "重要".into(),
            order: Some(3),
            live: true,
            group: Some("g1".into()),
            created: Some(t("2026-01-01T00:00:00Z")),
        };
        let same = Listed {
            name: "重要",
            order: Some(3),
            group: Some("g1"),
            created: None,
        };
        assert!(unchanged(Some(&k), &same));
        assert!(!unchanged(None, &same), "new");
        let dead = Known {
            live: false,
            ..k.clone()
        };
        assert!(!unchanged(Some(&dead), &same), "back after a delete");
        for changed in [
            Listed {
                name: "普通",
                ..same
            },
            Listed {
                order: None,
                ..same
            },
            Listed {
                group: Some("g2"),
                ..same
            },
            Listed {
                created: Some(t("2026-01-02T00:00:00Z")),
                ..same
            },
        ] {
            assert!(!unchanged(Some(&k), &changed));
        }
        let reported = Listed {
            created: Some(t("2026-01-01T00:00:00Z")),
            ..same
        };
        assert!(unchanged(Some(&k), &reported));
        let unknown_created = Known { created: None, ..k };
        assert!(
            !unchanged(Some(&unknown_created), &reported),
            "first report of it"
        );
    }

    #[test]
    fn first_listing_creates_everything() {
        let s = snapshot(&[(
            "g1",
            "级别",
            Some(5),
            &[("t1", "重要", None), ("t2", "普通", None)],
        )]);
        let d = diff(&known(&[]), &known(&[]), &s, true);
        assert_eq!(
            render(&d),
            [
                "group created g1 - -> 级别",
                "tag created t1 - -> 重要",
                "tag created t2 - -> 普通"
            ]
        );
        let expected = PullSummary {
            groups_seen: 1,
            tags_seen: 2,
            created: 3,
            ..Default::default()
        };
        assert_eq!(d.summary, expected);
    }

    #[test]
    fn unchanged_listing_causes_nothing() {
        let s = snapshot(&[("g1", "A", Some(5), &[("t1", "a", None)])]);
        let d = diff(
            &known(&[("g1", "A", Some(5), true)]),
            &known(&[("t1", "a", None, true)]),
            &s,
            true,
        );
        assert!(d.events.is_empty(), "{:?}", render(&d));
    }

    #[test]
    fn rename_reorder_vanish_reappear() {
        let groups = known(&[("g1", "A", Some(1), true), ("g2", "B", None, true)]);
        let tags = known(&[("t1", "a", None, true), ("t2", "b", Some(7), false)]);
        let s = snapshot(&[("g1", "A2", Some(2), &[("t2", "b2", Some(7))])]);
        let d = diff(&groups, &tags, &s, true);
        assert_eq!(
            render(&d),
            [
                "group renamed g1 A -> A2",
                "group reordered g1 1 -> 2",
                "tag created t2 - -> b2",
                "tag renamed t2 b -> b2",
                "group deleted g2 B -> -",
                "tag deleted t1 a -> -",
            ]
        );
        assert_eq!(
            d.summary,
            PullSummary {
                groups_seen: 1,
                tags_seen: 1,
                created: 1,
                renamed: 2,
                reordered: 1,
                moved: 0,
                deleted: 2
            }
        );
    }

    #[test]
    fn a_tag_in_another_group_is_moved() {
        let groups = known(&[("g1", "A", None, true), ("g2", "B", None, true)]);
        let mut tags = known(&[("t1", "a", None, true)]);
        tags.get_mut("t1").unwrap().group = Some("g1".into());
        let s = snapshot(&[
            ("g1", "A", None, &[]),
            ("g2", "B2", None, &[("t1", "a", None)]),
        ]);
        let d = diff(&groups, &tags, &s, true);
        assert_eq!(
            render(&d),
            ["group renamed g2 B -> B2", "tag moved t1 A -> B2"]
        );
        assert_eq!(d.summary.moved, 1);
        // Seen again in its new group: nothing.
        tags.get_mut("t1").unwrap().group = Some("g2".into());
        let groups = known(&[("g1", "A", None, true), ("g2", "B2", None, true)]);
        assert!(diff(&groups, &tags, &s, true).events.is_empty());
    }

    #[test]
    fn incomplete_listing_never_deletes() {
        let groups = known(&[("g1", "A", None, true), ("g2", "B", None, true)]);
        let s = snapshot(&[("g1", "A", None, &[])]);
        assert!(diff(&groups, &known(&[]), &s, false).events.is_empty());
    }

    #[test]
    fn an_id_listed_twice_is_compared_with_its_first_occurrence() {
        let s = snapshot(&[("g1", "A", None, &[]), ("g1", "A", None, &[])]);
        let d = diff(&known(&[]), &known(&[]), &s, true);
        assert_eq!(render(&d), ["group created g1 - -> A"]);
        assert_eq!(d.summary.groups_seen, 1);
    }
}
