//! What apply needs to know about an operation, decided without I/O: its kind and target as the
//! journal records them, the group it belongs to, how a refused joined delete splits, and whether a
//! listing shows that it took effect.

use std::fmt;

use crate::model::{Capabilities, Snapshot};

use super::{Action, Op, TagRef};

/// The kind of an operation, as `operations.kind` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    CreateGroup,
    AddTags,
    EditGroup,
    EditTag,
    DeleteTags,
}

impl OpKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::CreateGroup => "create_group",
            OpKind::AddTags => "add_tags",
            OpKind::EditGroup => "edit_group",
            OpKind::EditTag => "edit_tag",
            OpKind::DeleteTags => "delete_tags",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The journal's view of an operation (never a secret: plans hold none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub kind: OpKind,
    /// `group:KEY`, `tag:GROUP/KEY` or `tags:ID,ID…`.
    pub target: String,
    /// The action as JSON: what an interrupted run's successor reads back.
    pub request: String,
}

impl Op {
    /// How the journal records this operation.
    pub fn journal(&self) -> JournalEntry {
        JournalEntry {
            kind: self.action.kind(),
            target: self.action.target(),
            request: serde_json::to_string(&self.action).unwrap_or_default(),
        }
    }
}

impl Action {
    pub fn kind(&self) -> OpKind {
        match self {
            Action::CreateGroup { .. } => OpKind::CreateGroup,
            Action::AddTags { .. } => OpKind::AddTags,
            Action::EditGroup { .. } => OpKind::EditGroup,
            Action::EditTag { .. } => OpKind::EditTag,
            Action::DeleteTags { .. } => OpKind::DeleteTags,
        }
    }

    /// What the operation acts on, for the journal's `target`.
    pub fn target(&self) -> String {
        match self {
            Action::CreateGroup { group_key, .. }
            | Action::AddTags { group_key, .. }
            | Action::EditGroup { group_key, .. } => format!("group:{group_key}"),
            Action::EditTag {
                group_key,
                tag_key,
                tag_id,
                ..
            } => format!(
                "tag:{group_key}/{}",
                tag_key.as_deref().or(tag_id.as_deref()).unwrap_or_default()
            ),
            Action::DeleteTags { tags } => format!(
                "tags:{}",
                tags.iter()
                    .map(|t| t.tag_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// The key of the group the operation belongs to (a delete: its first tag's group).
    pub fn group_key(&self) -> &str {
        match self {
            Action::CreateGroup { group_key, .. }
            | Action::AddTags { group_key, .. }
            | Action::EditGroup { group_key, .. }
            | Action::EditTag { group_key, .. } => group_key,
            Action::DeleteTags { tags } => tags.first().map(|t| t.group_key.as_str()).unwrap_or(""),
        }
    }

    /// The remote id of the group the operation belongs to, when the plan knows it (`None` for a
    /// group this plan creates: the caller knows what it created).
    pub fn group_id(&self) -> Option<&str> {
        match self {
            Action::AddTags { group_id, .. }
            | Action::EditGroup { group_id, .. }
            | Action::EditTag { group_id, .. } => group_id.as_deref(),
            Action::DeleteTags { tags } => tags.first().map(|t| t.group_id.as_str()),
            Action::CreateGroup { .. } => None,
        }
    }

    /// A delete of tags of several groups as one delete per group, in first-seen order; `None`
    /// for anything else.
    pub fn split_by_group(&self) -> Option<Vec<Action>> {
        let Action::DeleteTags { tags } = self else {
            return None;
        };
        let mut groups: Vec<Vec<TagRef>> = Vec::new();
        for t in tags {
            match groups.iter_mut().find(|g| g[0].group_id == t.group_id) {
                Some(g) => g.push(t.clone()),
                None => groups.push(vec![t.clone()]),
            }
        }
        (groups.len() > 1).then(|| {
            groups
                .into_iter()
                .map(|tags| Action::DeleteTags { tags })
                .collect()
        })
    }

    /// Whether the listing `s` shows the effect of this action; `None` when it cannot tell (a
    /// platform without a list call, an object the listing does not name).
    pub fn was_applied(&self, s: &Snapshot, caps: &Capabilities) -> Option<bool> {
        let group_by_name = |n: &str| s.groups.iter().find(|g| g.name == n);
        let tag_by_id = |id: &str| s.groups.iter().flat_map(|g| &g.tags).find(|t| t.id == id);
        match self {
            Action::CreateGroup { name, tags, .. } => match group_by_name(name) {
                Some(g) => Some(tags.iter().all(|t| g.tags.iter().any(|x| x.name == t.name))),
                None if caps.list => Some(false),
                None => None,
            },
            Action::AddTags {
                group_id,
                group_name,
                tags,
                ..
            } => {
                let g = group_id
                    .as_deref()
                    .and_then(|id| s.group(id))
                    .or_else(|| group_by_name(group_name))?;
                Some(tags.iter().all(|t| g.tags.iter().any(|x| x.name == t.name)))
            }
            Action::EditGroup {
                group_id,
                name,
                order,
                ..
            } => {
                let g = s.group(group_id.as_deref()?)?;
                Some(
                    name.as_ref().is_none_or(|n| g.name == n.to)
                        && order.as_ref().is_none_or(|o| g.order == Some(o.to)),
                )
            }
            Action::EditTag {
                tag_id,
                name,
                order,
                ..
            } => {
                let t = tag_by_id(tag_id.as_deref()?)?;
                Some(
                    name.as_ref().is_none_or(|n| t.name == n.to)
                        && order.as_ref().is_none_or(|o| t.order == Some(o.to)),
                )
            }
            Action::DeleteTags { tags } if caps.list => {
                Some(tags.iter().all(|t| tag_by_id(&t.tag_id).is_none()))
            }
            Action::DeleteTags { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RemoteGroup, RemoteTag};
    use crate::planner::{Change, NewTag, Reason};

    fn tag_ref(group: &str, id: &str) -> TagRef {
        TagRef {
            group_key: format!("k{group}"),
            group_id: group.into(),
            group_name: format!("G{group}"),
            tag_id: id.into(),
            name: format!("T{id}"),
        }
    }

    fn new_tag(name: &str) -> NewTag {
        NewTag {
            key: name.to_lowercase(),
            name: name.into(),
            order: None,
        }
    }

    fn listing() -> Snapshot {
        let tag = |id: &str, name: &str, order| RemoteTag {
            id: id.into(),
            name: name.into(),
            order,
            created_at: None,
        };
        Snapshot {
            groups: vec![RemoteGroup {
                id: "g1".into(),
                name: "Stage".into(),
                order: Some(3),
                created_at: None,
                tags: vec![tag("t1", "Lead", Some(2)), tag("t2", "Won", None)],
            }],
        }
    }

    fn caps(list: bool) -> Capabilities {
        Capabilities {
            list,
            ..crate::planner::tests::FULL
        }
    }

    #[test]
    fn the_journal_names_kind_and_target() {
        let op = Op {
            action: Action::EditTag {
                group_key: "stage".into(),
                group_id: Some("g1".into()),
                group_name: "Stage".into(),
                tag_name: "Lead".into(),
                tag_key: None,
                tag_id: Some("t1".into()),
                name: Some(Change {
                    from: Some("Lead".into()),
                    to: "Prospect".into(),
                }),
                order: None,
            },
            reason: Reason::NameDiffers,
        };
        let j = op.journal();
        assert_eq!(j.kind.as_str(), "edit_tag");
        assert_eq!(
            j.target, "tag:stage/t1",
            "the id stands in for a missing key"
        );
        let back: Action = serde_json::from_str(&j.request).unwrap();
        assert_eq!(back, op.action, "the request reads back as the action");
        let del = Action::DeleteTags {
            tags: vec![tag_ref("g1", "a"), tag_ref("g2", "b")],
        };
        assert_eq!(del.target(), "tags:a,b");
        assert_eq!(del.kind(), OpKind::DeleteTags);
        assert_eq!(del.group_key(), "kg1");
        assert_eq!(del.group_id(), Some("g1"));
    }

    #[test]
    fn a_joined_delete_splits_per_group_in_first_seen_order() {
        let a = Action::DeleteTags {
            tags: vec![tag_ref("g2", "a"), tag_ref("g1", "b"), tag_ref("g2", "c")],
        };
        let parts = a.split_by_group().unwrap();
        let ids: Vec<Vec<&str>> = parts
            .iter()
            .map(|p| match p {
                Action::DeleteTags { tags } => tags.iter().map(|t| t.tag_id.as_str()).collect(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ids, [vec!["a", "c"], vec!["b"]]);
        let one = Action::DeleteTags {
            tags: vec![tag_ref("g1", "a"), tag_ref("g1", "b")],
        };
        assert_eq!(one.split_by_group(), None, "one group: nothing to split");
    }

    #[test]
    fn was_applied_reads_the_listing_or_says_it_cannot_tell() {
        let s = listing();
        let create = |name: &str, tags: &[&str]| Action::CreateGroup {
            group_key: "k".into(),
            name: name.into(),
            order: None,
            tags: tags.iter().map(|t| new_tag(t)).collect(),
        };
        assert_eq!(
            create("Stage", &["Lead"]).was_applied(&s, &caps(true)),
            Some(true)
        );
        assert_eq!(
            create("Stage", &["Lost"]).was_applied(&s, &caps(true)),
            Some(false),
            "the group is there but not every tag"
        );
        assert_eq!(
            create("Other", &[]).was_applied(&s, &caps(true)),
            Some(false)
        );
        assert_eq!(
            create("Other", &[]).was_applied(&s, &caps(false)),
            None,
            "without a list call, absence proves nothing"
        );
        let edit = |order: u32| Action::EditGroup {
            group_key: "k".into(),
            group_id: Some("g1".into()),
            group_name: "Stage".into(),
            name: None,
            order: Some(Change {
                from: None,
                to: order,
            }),
        };
        assert_eq!(edit(3).was_applied(&s, &caps(true)), Some(true));
        assert_eq!(edit(4).was_applied(&s, &caps(true)), Some(false));
        let del = |id: &str| Action::DeleteTags {
            tags: vec![tag_ref("g1", id)],
        };
        assert_eq!(del("t9").was_applied(&s, &caps(true)), Some(true));
        assert_eq!(del("t1").was_applied(&s, &caps(true)), Some(false));
        assert_eq!(del("t9").was_applied(&s, &caps(false)), None);
        let edit_missing = Action::EditTag {
            group_key: "k".into(),
            group_id: None,
            group_name: "Stage".into(),
            tag_name: "x".into(),
            tag_key: Some("x".into()),
            tag_id: None,
            name: None,
            order: None,
        };
        assert_eq!(
            edit_missing.was_applied(&s, &caps(true)),
            None,
            "a tag this plan created has no id to look up"
        );
    }
}
