//! Planning the tags of a matched group: matching, creates, edits, orders, deletes, and tag
//! renames sequenced so that every name is free when it is taken.

use super::*;
use crate::model::Bindings;

/// A tag rename waiting to be sequenced with the others of its group.
pub(super) struct TagRename<'r> {
    remote: &'r RemoteTag,
    key: &'r str,
    to: &'r str,
    /// Sent with the final rename where one call can carry both.
    order: Option<Change<u32>>,
    reason: Reason,
}

impl<'a> Planner<'a> {
    pub(super) fn plan_tags(
        &mut self,
        g: &'a DesiredGroup,
        remote: &'a RemoteGroup,
        not_ours: bool,
    ) {
        let caps = *self.input.caps;
        let bound = group_bindings(self.input.bindings, &g.key);
        let Matching {
            found: matched,
            ambiguous,
            claimed,
        } = match_objects(
            &g.tags.iter().collect::<Vec<_>>(),
            &remote.tags,
            |t| {
                bound
                    .binary_search_by(|(k, _)| (**k).cmp(t.key.as_str()))
                    .ok()
                    .map(|at| bound[at].1)
            },
            |t| (t.name.as_str(), t.was.as_slice()),
            |r: &RemoteTag| (r.id.as_str(), r.name.as_str()),
        );
        // Remote tags that an ambiguous declaration could be are neither matched nor pruned.
        let extras: Vec<&RemoteTag> = remote
            .tags
            .iter()
            .zip(&claimed)
            .filter(|(_, claimed)| !**claimed)
            .map(|(r, _)| r)
            .collect();
        // Undeclared tags are deleted under prune where the platform can, all or none.
        let prunes = g.prune && !not_ours && caps.delete_tags.allowed();
        let orders = order_targets(
            g.tags
                .iter()
                .zip(&matched)
                .map(|(t, m)| (m.map(|(r, _)| r.order).unwrap_or(None), t.order)),
        );
        let deleting = g.prune && !extras.is_empty();
        let keeps_a_tag = matched.iter().any(Option::is_some);
        let mut new_tags = Vec::new();
        let mut renames = Vec::new();
        for (i, ((t, m), target)) in g.tags.iter().zip(&matched).zip(&orders).enumerate() {
            let tag = Some((t.key.as_str(), t.name.as_str()));
            if let Some(several) = ambiguous.get(&i) {
                let names: Vec<String> = several
                    .iter()
                    .map(|r| format!("{} (id {})", q(&r.name), r.id))
                    .collect();
                self.drift(
                    &g.name,
                    Some(&t.name),
                    format!(
                        "refused: {} remote tags of the group could be this one: {}; keep in `was` only the name that is this tag, or rename the others in the console",
                        several.len(),
                        names.join(", ")
                    ),
                    DriftCause::Conflict,
                );
                self.status(g, tag, State::NotSupported, Some("ambiguous match".into()));
                continue;
            }
            match m {
                None => {
                    if not_ours {
                        self.drift(
                            &g.name,
                            Some(&t.name),
                            "declared but missing: the group was created in the console".into(),
                            DriftCause::NotOurs,
                        );
                        self.status(g, tag, State::NotSupported, Some("not ours".into()));
                    } else if !caps.add_tags.allowed() {
                        self.drift(
                            &g.name,
                            Some(&t.name),
                            "declared but missing: this platform cannot add tags".into(),
                            DriftCause::NotSupported,
                        );
                        self.status(g, tag, State::NotSupported, None);
                    } else {
                        new_tags.push((t, *target));
                        self.status(g, tag, State::Missing, None);
                    }
                }
                Some((r, how)) => {
                    if *how != How::Binding {
                        self.bind.push(Binding {
                            group_key: g.key.clone(),
                            tag_key: Some(t.key.clone()),
                            remote_id: r.id.clone(),
                        });
                    }
                    let mut state = State::Present;
                    let mut name = None;
                    let mut reason = Reason::OrderDrifted;
                    if r.name != t.name {
                        let what = format!("rename {} → {}", q(&r.name), q(&t.name));
                        if !self.allowed(
                            &g.name,
                            Some(&t.name),
                            &what,
                            not_ours,
                            caps.rename_tag,
                            "rename tags",
                        ) {
                            state = State::NotSupported;
                        } else {
                            name = Some(Change {
                                from: Some(r.name.clone()),
                                to: t.name.clone(),
                            });
                            reason = match how {
                                How::Was(i) => Reason::RenamedViaWas {
                                    old: t.was[*i].clone(),
                                },
                                _ => Reason::NameDiffers,
                            };
                            state = State::Renamed;
                        }
                    }
                    let mut order = None;
                    if caps.has_order
                        && let Some(current) = r.order
                        && current != *target
                    {
                        let what = format!("order {} → {target}", show_order(r.order));
                        if !self.allowed(
                            &g.name,
                            Some(&t.name),
                            &what,
                            not_ours,
                            caps.reorder_tag,
                            "reorder tags",
                        ) {
                            if state == State::Present {
                                state = State::NotSupported;
                            }
                        } else {
                            order = Some(Change {
                                from: r.order,
                                to: *target,
                            });
                            if state == State::Present {
                                state = State::Reordered;
                            }
                        }
                    }
                    self.status(g, tag, state, None);
                    if name.is_some() && caps.edit_name_and_order_together {
                        renames.push(TagRename {
                            remote: r,
                            key: &t.key,
                            to: &t.name,
                            order,
                            reason,
                        });
                    } else {
                        if name.is_some() {
                            renames.push(TagRename {
                                remote: r,
                                key: &t.key,
                                to: &t.name,
                                order: None,
                                reason,
                            });
                        }
                        if order.is_some() {
                            self.push(
                                Phase::TagEdit,
                                Action::EditTag {
                                    group_key: g.key.clone(),
                                    group_id: Some(remote.id.clone()),
                                    group_name: g.name.clone(),
                                    tag_key: Some(t.key.clone()),
                                    tag_name: r.name.clone(),
                                    tag_id: Some(r.id.clone()),
                                    name: None,
                                    order,
                                },
                                Reason::OrderDrifted,
                            );
                        }
                    }
                }
            }
        }
        // Undeclared tags: deleted under prune, reported otherwise.
        let mut to_delete = Vec::new();
        for r in &extras {
            if prunes {
                to_delete.push(TagRef {
                    group_key: g.key.clone(),
                    group_id: remote.id.clone(),
                    group_name: g.name.clone(),
                    tag_id: r.id.clone(),
                    name: r.name.clone(),
                });
                self.status(
                    g,
                    Some((&r.name, &r.name)),
                    State::Extra,
                    Some("deleted under prune".into()),
                );
            } else {
                if g.prune {
                    let why = if not_ours {
                        DriftCause::NotOurs
                    } else {
                        DriftCause::NotSupported
                    };
                    self.drift(
                        &g.name,
                        Some(&r.name),
                        "undeclared under prune, but cannot be deleted here".into(),
                        why,
                    );
                }
                self.status(g, Some((&r.name, &r.name)), State::Extra, None);
            }
        }
        if !renames.is_empty() {
            // The names held once the deletes are done: a deleted extra frees its name.
            let occupied: HashMap<&str, &str> = remote
                .tags
                .iter()
                .zip(&claimed)
                .filter(|(_, claimed)| **claimed || !prunes)
                .map(|(r, _)| (r.name.as_str(), r.id.as_str()))
                .collect();
            self.sequence_tag_renames(g, &remote.id, renames, &occupied);
        }
        if !to_delete.is_empty() {
            self.push(
                Phase::Delete,
                Action::DeleteTags { tags: to_delete },
                Reason::Undeclared,
            );
        }
        if !new_tags.is_empty() {
            let phase = if deleting && !keeps_a_tag {
                Phase::AddBeforeEmptying
            } else {
                Phase::Create
            };
            let with_order = caps.has_order && caps.create_sets_order;
            let list: Vec<NewTag> = new_tags
                .iter()
                .map(|(t, o)| NewTag {
                    key: t.key.clone(),
                    name: t.name.clone(),
                    order: with_order.then_some(*o),
                })
                .collect();
            for chunk in list.chunks(caps.add_tags.chunk()) {
                self.push(
                    phase,
                    Action::AddTags {
                        group_key: g.key.clone(),
                        group_id: Some(remote.id.clone()),
                        group_name: g.name.clone(),
                        tags: chunk.to_vec(),
                    },
                    Reason::Missing,
                );
            }
            if caps.has_order && !caps.create_sets_order && caps.reorder_tag {
                for (t, o) in &new_tags {
                    self.push(
                        Phase::OrderNew,
                        Action::EditTag {
                            group_key: g.key.clone(),
                            group_id: Some(remote.id.clone()),
                            group_name: g.name.clone(),
                            tag_key: Some(t.key.clone()),
                            tag_name: t.name.clone(),
                            tag_id: None,
                            name: None,
                            order: Some(Change { from: None, to: *o }),
                        },
                        Reason::OrderOfNew,
                    );
                }
            }
        }
    }

    pub(super) fn sequence_tag_renames(
        &mut self,
        g: &DesiredGroup,
        group_id: &str,
        renames: Vec<TagRename>,
        occupied: &HashMap<&str, &str>,
    ) {
        let items: Vec<sequence::Rename> = renames
            .iter()
            .map(|r| sequence::Rename {
                id: &r.remote.id,
                from: &r.remote.name,
                to: r.to,
            })
            .collect();
        let steps = sequence::order(&items, occupied, self.input.caps.unique_names);
        for step in steps {
            let TagRename {
                remote: r,
                key,
                order,
                reason,
                ..
            } = &renames[step.index];
            match step.kind {
                sequence::StepKind::Conflict { holder } => {
                    self.drift(
                        &g.name,
                        Some(items[step.index].to),
                        format!(
                            "cannot rename {} → {}: another tag of the group ({}) already has that name",
                            q(&r.name),
                            q(items[step.index].to),
                            holder
                        ),
                        DriftCause::Conflict,
                    );
                }
                sequence::StepKind::Rename {
                    from,
                    to,
                    temporary,
                    last,
                } => {
                    self.push(
                        Phase::TagEdit,
                        Action::EditTag {
                            group_key: g.key.clone(),
                            group_id: Some(group_id.to_owned()),
                            group_name: g.name.clone(),
                            tag_key: Some((*key).to_owned()),
                            tag_name: from.clone(),
                            tag_id: Some(r.id.clone()),
                            name: Some(Change {
                                from: Some(from),
                                to,
                            }),
                            order: if last { order.clone() } else { None },
                        },
                        if temporary {
                            Reason::FreeName
                        } else {
                            reason.clone()
                        },
                    );
                }
            }
        }
    }
}

/// The bindings of group `key`'s tags, sorted by tag key, borrowed: a look-up per tag without
/// building an owned `(group, tag)` key for each.
fn group_bindings<'b>(bindings: &'b Bindings, key: &str) -> Vec<(&'b str, &'b str)> {
    if bindings.tags.is_empty() {
        return Vec::new();
    }
    bindings
        .tags
        .range((key.to_owned(), String::new())..)
        .take_while(|((group, _), _)| group == key)
        .map(|((_, tag), id)| (tag.as_str(), id.as_str()))
        .collect()
}
