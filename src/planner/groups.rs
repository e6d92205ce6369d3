//! Planning groups: a new group with its tags, an existing group's edits, and group renames
//! sequenced so that every name is free when it is taken.

use super::*;

/// A group rename waiting to be sequenced with the others.
#[derive(Debug, Clone)]
pub(super) struct PendingRename<'a> {
    remote: &'a RemoteGroup,
    group: &'a DesiredGroup,
    reason: Reason,
    order: Option<Change<u32>>,
}

impl<'a> Planner<'a> {
    pub(super) fn plan_new_group(&mut self, g: &DesiredGroup, order: u32) {
        let caps = *self.input.caps;
        if !caps.create_group {
            self.drift(
                &g.name,
                None,
                "declared but missing; this platform cannot create groups".into(),
                DriftCause::NotSupported,
            );
            self.status(
                g,
                None,
                State::NotSupported,
                Some("cannot create groups".into()),
            );
            for t in &g.tags {
                self.status(
                    g,
                    Some((&t.key, &t.name)),
                    State::NotSupported,
                    Some("cannot create groups".into()),
                );
            }
            return;
        }
        let tag_orders: Vec<u32> = order::assign(
            &g.tags
                .iter()
                .map(|t| order::Slot {
                    current: None,
                    explicit: t.order,
                })
                .collect::<Vec<_>>(),
        );
        let with_order = caps.has_order && caps.create_sets_order;
        let tags: Vec<NewTag> = g
            .tags
            .iter()
            .zip(&tag_orders)
            .map(|(t, o)| NewTag {
                key: t.key.clone(),
                name: t.name.clone(),
                order: with_order.then_some(*o),
            })
            .collect();
        // Where one create call cannot carry all tags, the rest go in follow-up adds.
        let split = if caps.add_tags.allowed() {
            tags.len().min(caps.add_tags.chunk())
        } else {
            tags.len()
        };
        let (head, rest) = tags.split_at(split);
        self.push(
            Phase::Create,
            Action::CreateGroup {
                group_key: g.key.clone(),
                name: g.name.clone(),
                order: with_order.then_some(order),
                tags: head.to_vec(),
            },
            Reason::Missing,
        );
        for chunk in rest.chunks(caps.add_tags.chunk()) {
            self.push(
                Phase::Create,
                Action::AddTags {
                    group_key: g.key.clone(),
                    group_id: None,
                    group_name: g.name.clone(),
                    tags: chunk.to_vec(),
                },
                Reason::Missing,
            );
        }
        self.status(g, None, State::Missing, None);
        for t in &g.tags {
            self.status(g, Some((&t.key, &t.name)), State::Missing, None);
        }
        if caps.has_order && !caps.create_sets_order {
            if caps.reorder_group {
                self.push(
                    Phase::OrderNew,
                    Action::EditGroup {
                        group_key: g.key.clone(),
                        group_id: None,
                        group_name: g.name.clone(),
                        name: None,
                        order: Some(Change {
                            from: None,
                            to: order,
                        }),
                    },
                    Reason::OrderOfNew,
                );
            }
            if caps.reorder_tag {
                for (t, o) in g.tags.iter().zip(&tag_orders) {
                    self.push(
                        Phase::OrderNew,
                        Action::EditTag {
                            group_key: g.key.clone(),
                            group_id: None,
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

    /// Plans a matched group; returns its rename, if any, for sequencing across groups.
    pub(super) fn plan_existing_group(
        &mut self,
        g: &'a DesiredGroup,
        remote: &'a RemoteGroup,
        how: How,
        target_order: u32,
    ) -> Option<PendingRename<'a>> {
        let caps = *self.input.caps;
        let not_ours = self.input.not_ours.contains(&remote.id);
        let mut group_state = State::Present;
        let mut rename = None;
        let mut order_change = None;
        if remote.name != g.name {
            let reason = match how {
                How::Was(i) => Reason::RenamedViaWas {
                    old: g.was[i].clone(),
                },
                _ => Reason::NameDiffers,
            };
            let what = format!("rename {} → {}", q(&remote.name), q(&g.name));
            if !self.allowed(
                &g.name,
                None,
                &what,
                not_ours,
                caps.rename_group,
                "rename groups",
            ) {
                group_state = State::NotSupported;
            } else {
                rename = Some(PendingRename {
                    remote,
                    group: g,
                    reason,
                    order: None,
                });
                group_state = State::Renamed;
            }
        }
        // An order the platform does not report (Miaokol lists no group order) is not compared.
        if caps.has_order
            && let Some(current) = remote.order
            && current != target_order
        {
            let what = format!("order {} → {target_order}", show_order(remote.order));
            if !self.allowed(
                &g.name,
                None,
                &what,
                not_ours,
                caps.reorder_group,
                "reorder groups",
            ) {
                if group_state == State::Present {
                    group_state = State::NotSupported;
                }
            } else {
                order_change = Some(Change {
                    from: remote.order,
                    to: target_order,
                });
                if group_state == State::Present {
                    group_state = State::Reordered;
                }
            }
        }
        // An order change rides along with the rename when one call can do both.
        let rename_carries_order = rename.is_some() && caps.edit_name_and_order_together;
        if let Some(order) = order_change.clone().filter(|_| !rename_carries_order) {
            self.push(
                Phase::GroupEdit,
                Action::EditGroup {
                    group_key: g.key.clone(),
                    group_id: Some(remote.id.clone()),
                    group_name: remote.name.clone(),
                    name: None,
                    order: Some(order),
                },
                Reason::OrderDrifted,
            );
        }
        self.status(g, None, group_state, None);
        self.plan_tags(g, remote, not_ours);
        rename.map(|r| PendingRename {
            order: order_change.filter(|_| rename_carries_order),
            ..r
        })
    }

    /// Sequences the account's group renames; `groups` is every group the platform holds.
    pub(super) fn sequence_group_renames(
        &mut self,
        renames: Vec<PendingRename<'a>>,
        groups: &[RemoteGroup],
        caps: Capabilities,
    ) {
        if renames.is_empty() {
            return;
        }
        let occupied: HashMap<&str, &str> = groups
            .iter()
            .map(|r| (r.name.as_str(), r.id.as_str()))
            .collect();
        let items: Vec<sequence::Rename> = renames
            .iter()
            .map(|r| sequence::Rename {
                id: &r.remote.id,
                from: &r.remote.name,
                to: &r.group.name,
            })
            .collect();
        for step in sequence::order(&items, &occupied, caps.unique_names) {
            let r = &renames[step.index];
            let (from, to) = (&r.remote.name, &r.group.name);
            match step.kind {
                sequence::StepKind::Conflict { holder } => self.drift(
                    to,
                    None,
                    format!(
                        "cannot rename {} → {}: another group ({holder}) already has that name",
                        q(from),
                        q(to)
                    ),
                    DriftCause::Conflict,
                ),
                sequence::StepKind::Rename {
                    from,
                    to,
                    temporary,
                    last,
                } => self.push(
                    Phase::GroupEdit,
                    Action::EditGroup {
                        group_key: r.group.key.clone(),
                        group_id: Some(r.remote.id.clone()),
                        group_name: from.clone(),
                        name: Some(Change {
                            from: Some(from),
                            to,
                        }),
                        order: if last { r.order.clone() } else { None },
                    },
                    if temporary {
                        Reason::FreeName
                    } else {
                        r.reason.clone()
                    },
                ),
            }
        }
    }
}
