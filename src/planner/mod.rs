//! The planner: desired state + what a platform holds + bindings + capabilities → a [`PlatformPlan`].
//!
//! Architecture invariant: no I/O, no async, no clock. The same inputs always give the same plan,
//! in the same order, so plans can be snapshot-tested, saved and compared.
//!
//! # How a plan is made
//! 1. **Matching** (SPEC §1): each declared group is matched to a remote group by its binding, then
//!    by name, then by a `was` name — each pass over all groups before the next, so a name match
//!    never steals an object bound to another key. Tags are matched the same way inside their group.
//! 2. **Differences** become operations where the platform's [`Capabilities`] allow them, and
//!    `!` drift lines where they do not. A rename is always an edit, never delete + create. An
//!    order the platform does not report (`None`, e.g. Miaokol's groups) is not compared.
//! 3. **Sequencing**: operations are ordered so that every call is valid when it is made (see
//!    [`Phase`]): a group about to lose all its old tags gets its new ones first (deleting the last
//!    tag deletes the group on some platforms), names are freed before they are taken, and rename
//!    cycles (a swap) go through a temporary name.
//!
//! The plan leaves no choice to execution: apply carries it out step by step.

mod action;
pub mod deps;
mod markdown;
pub mod order;
mod render;
pub mod saved;
mod sequence;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{
    Bindings, Capabilities, Desired, DesiredGroup, RemoteGroup, RemoteTag, Snapshot,
};

pub use action::{JournalEntry, OpKind};
pub use markdown::render_markdown;
// Shared with the platforms, which must not import the planner.
pub use crate::model::NewTag;
pub use render::{render_json, render_text};

/// Everything the planner needs for one platform.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub platform: &'a str,
    pub desired: &'a Desired,
    pub snapshot: &'a Snapshot,
    pub bindings: &'a Bindings,
    pub caps: &'a Capabilities,
    /// Remote groups that refused an earlier write as "not ours" (created in the console).
    pub not_ours: &'a BTreeSet<String>,
}

/// The plan for one platform: calls to make, drift no call can fix, and bindings to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformPlan {
    pub platform: String,
    /// The calls to make, in order.
    pub ops: Vec<Op>,
    /// Differences no API call can fix here (`!` lines): a person must act in the console.
    pub drift: Vec<Drift>,
    /// Matches found by name or `was` that the mirror should remember (no API call).
    pub bind: Vec<Binding>,
    /// One row per declared object: how it stands on this platform (the `v_drift` view).
    pub status: Vec<Status>,
    /// Facts the reader of the plan should know (for example: no list call on this platform).
    pub notes: Vec<String>,
}

impl PlatformPlan {
    /// Whether the plan sends anything.
    pub fn has_changes(&self) -> bool {
        !self.ops.is_empty()
    }

    /// How many tags the plan deletes (for the mass-delete guard).
    pub fn deletes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match &op.action {
                Action::DeleteTags { tags } => tags.len(),
                _ => 0,
            })
            .sum()
    }
}

/// One API call (or, where a platform takes one object per call, one logical step that apply may
/// split into several calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub action: Action,
    pub reason: Reason,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create a group together with its first tags.
    CreateGroup {
        group_key: String,
        name: String,
        order: Option<u32>,
        tags: Vec<NewTag>,
    },
    /// Add tags to a group. `group_id` is `None` for a group this plan creates.
    AddTags {
        group_key: String,
        group_id: Option<String>,
        group_name: String,
        tags: Vec<NewTag>,
    },
    /// Rename and/or reorder a group. `group_id` is `None` for a group this plan creates.
    EditGroup {
        group_key: String,
        group_id: Option<String>,
        /// The name the group has when this step runs (for people reading the plan).
        group_name: String,
        name: Option<Change<String>>,
        order: Option<Change<u32>>,
    },
    /// Rename and/or reorder a tag. `tag_id` is `None` for a tag this plan creates, and
    /// `group_id` for a group this plan creates.
    EditTag {
        group_key: String,
        group_id: Option<String>,
        group_name: String,
        /// The tag's name when this step runs (for people reading the plan).
        tag_name: String,
        tag_key: Option<String>,
        tag_id: Option<String>,
        name: Option<Change<String>>,
        order: Option<Change<u32>>,
    },
    /// Delete tags (of one or several groups).
    DeleteTags { tags: Vec<TagRef> },
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub from: Option<T>,
    pub to: T,
}

/// An existing remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRef {
    pub group_key: String,
    pub group_id: String,
    pub group_name: String,
    pub tag_id: String,
    pub name: String,
}

/// Why an operation or drift line is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Reason {
    /// Declared, and the platform does not have it.
    Missing,
    /// Found under an earlier name listed in `was`.
    RenamedViaWas { old: String },
    /// Bound to this key, but renamed on the platform since (in the console, or in the file).
    NameDiffers,
    /// The order differs from the declared one (explicit or by position).
    OrderDrifted,
    /// A created object whose order the create call could not set.
    OrderOfNew,
    /// Not declared in a group with `prune: true`.
    Undeclared,
    /// Part of a rename cycle (a swap): moved aside to free its name.
    FreeName,
}

/// A difference that no call will fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub group: String,
    pub tag: Option<String>,
    /// What differs, in words.
    pub what: String,
    pub cause: DriftCause,
}

/// Why a difference cannot be fixed by tagsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftCause {
    /// The platform's API has no call for it.
    NotSupported,
    /// The platform refuses changes to this group: it was created in the console.
    NotOurs,
    /// The change would collide with another remote object; a person must decide.
    Conflict,
}

/// A binding to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub group_key: String,
    pub tag_key: Option<String>,
    pub remote_id: String,
}

/// How one declared object stands (`v_drift`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub group_key: String,
    pub tag_key: Option<String>,
    pub group_name: String,
    pub tag_name: Option<String>,
    pub state: State,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Present,
    Missing,
    Renamed,
    Reordered,
    Extra,
    NotSupported,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Missing => "missing",
            State::Renamed => "renamed",
            State::Reordered => "reordered",
            State::Extra => "extra",
            State::NotSupported => "not_supported",
        }
    }
}

/// The execution phases, in order. See the module docs for why each comes where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// New tags for a group whose old tags are all being deleted, so it never becomes empty.
    AddBeforeEmptying,
    /// Deletes, so that their names are free for renames and creates.
    Delete,
    GroupEdit,
    TagEdit,
    Create,
    /// Orders of objects created just before, where the create call could not set them.
    OrderNew,
}

/// Plans one platform.
pub fn plan(input: &PlanInput) -> PlatformPlan {
    Planner::new(input).run()
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    steps: Vec<(Phase, Op)>,
    drift: Vec<Drift>,
    bind: Vec<Binding>,
    status: Vec<Status>,
}

/// What matching found for one declared object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Binding,
    Name,
    Was(usize),
}

impl<'a> Planner<'a> {
    fn new(input: &'a PlanInput<'a>) -> Self {
        Self {
            input,
            steps: Vec::new(),
            drift: Vec::new(),
            bind: Vec::new(),
            status: Vec::new(),
        }
    }

    fn run(mut self) -> PlatformPlan {
        let caps = *self.input.caps;
        let groups: Vec<&DesiredGroup> = self
            .input
            .desired
            .for_platform(self.input.platform)
            .collect();
        let Matching {
            found: matched,
            ambiguous,
        } = match_objects(
            &groups,
            &self.input.snapshot.groups,
            |g| self.input.bindings.groups.get(&g.key).map(String::as_str),
            |g| (&g.name, &g.was),
            |r| (&r.id, &r.name),
        );
        // Group orders: by position among this platform's declared groups, or explicit.
        let group_orders = order_targets(
            groups
                .iter()
                .zip(&matched)
                .map(|(g, m)| (m.map(|(r, _)| r.order).unwrap_or(None), g.order)),
        );
        let mut renames = Vec::new();
        for (i, ((g, m), target_order)) in groups.iter().zip(&matched).zip(group_orders).enumerate()
        {
            if let Some(several) = ambiguous.get(&i) {
                let ids: Vec<&str> = several.iter().map(|r| r.id.as_str()).collect();
                let names: Vec<String> = several.iter().map(|r| q(&r.name)).collect();
                self.drift(
                    &g.name,
                    None,
                    format!(
                        "refused: {} remote groups could be this one ({} with ids {}); keep in `was` only the name that is this group, or rename the others in the console",
                        several.len(),
                        names.join(", "),
                        ids.join(", ")
                    ),
                    DriftCause::Conflict,
                );
                self.status(g, None, State::NotSupported, Some("ambiguous match".into()));
                continue;
            }
            match m {
                None => self.plan_new_group(g, target_order),
                Some((remote, how)) => {
                    if *how != How::Binding {
                        self.bind.push(Binding {
                            group_key: g.key.clone(),
                            tag_key: None,
                            remote_id: remote.id.clone(),
                        });
                    }
                    let rename = self.plan_existing_group(g, remote, *how, target_order);
                    if let Some(r) = rename {
                        renames.push(r);
                    }
                }
            }
        }
        let occupied: BTreeMap<String, String> = self
            .input
            .snapshot
            .groups
            .iter()
            .map(|r| (r.name.clone(), r.id.clone()))
            .collect();
        self.sequence_group_renames(renames, &occupied, caps);
        let mut steps = std::mem::take(&mut self.steps);
        // A stable sort: within a phase, declaration order.
        steps.sort_by_key(|(phase, _)| *phase);
        let ops = merge_deletes(steps.into_iter().map(|(_, op)| op).collect(), caps);
        let mut notes = Vec::new();
        if !caps.list {
            notes.push(
                "this platform has no list call: what exists is known only from the mirror and tagsync's own creates".to_owned(),
            );
        }
        if !caps.writable() {
            notes.push("read only: mirrored and reported, never written".to_owned());
        }
        PlatformPlan {
            platform: self.input.platform.to_owned(),
            ops,
            drift: self.drift,
            bind: self.bind,
            status: self.status,
            notes,
        }
    }

    fn push(&mut self, phase: Phase, action: Action, reason: Reason) {
        self.steps.push((phase, Op { action, reason }));
    }

    fn drift(&mut self, group: &str, tag: Option<&str>, what: String, cause: DriftCause) {
        self.drift.push(Drift {
            group: group.to_owned(),
            tag: tag.map(str::to_owned),
            what,
            cause,
        });
    }

    /// Whether a change may be sent. When it may not (the group is the console's, or the API has no
    /// call for it), records a `!` line saying so.
    fn allowed(
        &mut self,
        group: &str,
        tag: Option<&str>,
        what: &str,
        not_ours: bool,
        capable: bool,
        cannot: &str,
    ) -> bool {
        if not_ours {
            self.drift(
                group,
                tag,
                format!("{what}: the group was created in the console"),
                DriftCause::NotOurs,
            );
            false
        } else if !capable {
            self.drift(
                group,
                tag,
                format!("{what}: this platform cannot {cannot}"),
                DriftCause::NotSupported,
            );
            false
        } else {
            true
        }
    }

    fn status(
        &mut self,
        g: &DesiredGroup,
        tag: Option<(&str, &str)>,
        state: State,
        detail: Option<String>,
    ) {
        self.status.push(Status {
            group_key: g.key.clone(),
            tag_key: tag.map(|t| t.0.to_owned()),
            group_name: g.name.clone(),
            tag_name: tag.map(|t| t.1.to_owned()),
            state,
            detail,
        });
    }

    fn plan_new_group(&mut self, g: &DesiredGroup, order: u32) {
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
    fn plan_existing_group(
        &mut self,
        g: &DesiredGroup,
        remote: &RemoteGroup,
        how: How,
        target_order: u32,
    ) -> Option<PendingRename> {
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
                    id: remote.id.clone(),
                    from: remote.name.clone(),
                    to: g.name.clone(),
                    reason,
                    group_key: g.key.clone(),
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

    fn plan_tags(&mut self, g: &DesiredGroup, remote: &RemoteGroup, not_ours: bool) {
        let caps = *self.input.caps;
        let bindings = self.input.bindings;
        let Matching {
            found: matched,
            ambiguous,
        } = match_objects(
            &g.tags.iter().collect::<Vec<_>>(),
            &remote.tags,
            |t| {
                bindings
                    .tags
                    .get(&(g.key.clone(), t.key.clone()))
                    .map(String::as_str)
            },
            |t| (&t.name, &t.was),
            |r: &RemoteTag| (&r.id, &r.name),
        );
        // Remote tags that an ambiguous declaration could be are neither matched nor pruned.
        let claimed: BTreeSet<&str> = matched
            .iter()
            .flatten()
            .map(|(r, _)| r.id.as_str())
            .chain(ambiguous.values().flatten().map(|r| r.id.as_str()))
            .collect();
        let extras: Vec<&RemoteTag> = remote
            .tags
            .iter()
            .filter(|r| !claimed.contains(r.id.as_str()))
            .collect();
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
                            key: t.key.clone(),
                            to: t.name.clone(),
                            order,
                            reason,
                        });
                    } else {
                        if name.is_some() {
                            renames.push(TagRename {
                                remote: r,
                                key: t.key.clone(),
                                to: t.name.clone(),
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
            if g.prune && !not_ours && caps.delete_tags.allowed() {
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
        let occupied: BTreeMap<String, String> = remote
            .tags
            .iter()
            .filter(|r| !to_delete.iter().any(|d| d.tag_id == r.id))
            .map(|r| (r.name.clone(), r.id.clone()))
            .collect();
        self.sequence_tag_renames(g, &remote.id, renames, &occupied);
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

    fn sequence_tag_renames(
        &mut self,
        g: &DesiredGroup,
        group_id: &str,
        renames: Vec<TagRename>,
        occupied: &BTreeMap<String, String>,
    ) {
        let items: Vec<sequence::Rename> = renames
            .iter()
            .map(|r| sequence::Rename {
                id: r.remote.id.clone(),
                from: r.remote.name.clone(),
                to: r.to.clone(),
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
                        Some(&items[step.index].to),
                        format!(
                            "cannot rename {} → {}: another tag of the group ({}) already has that name",
                            q(&r.name),
                            q(&items[step.index].to),
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
                            tag_key: Some(key.clone()),
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

    fn sequence_group_renames(
        &mut self,
        renames: Vec<PendingRename>,
        occupied: &BTreeMap<String, String>,
        caps: Capabilities,
    ) {
        let items: Vec<sequence::Rename> = renames
            .iter()
            .map(|r| sequence::Rename {
                id: r.id.clone(),
                from: r.from.clone(),
                to: r.to.clone(),
            })
            .collect();
        for step in sequence::order(&items, occupied, caps.unique_names) {
            let r = &renames[step.index];
            match step.kind {
                sequence::StepKind::Conflict { holder } => self.drift(
                    &r.to,
                    None,
                    format!(
                        "cannot rename {} → {}: another group ({holder}) already has that name",
                        q(&r.from),
                        q(&r.to)
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
                        group_key: r.group_key.clone(),
                        group_id: Some(r.id.clone()),
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

/// A tag rename waiting to be sequenced with the others of its group.
struct TagRename<'r> {
    remote: &'r RemoteTag,
    key: String,
    to: String,
    /// Sent with the final rename where one call can carry both.
    order: Option<Change<u32>>,
    reason: Reason,
}

/// A group rename waiting to be sequenced with the others.
#[derive(Debug, Clone)]
struct PendingRename {
    id: String,
    from: String,
    to: String,
    reason: Reason,
    group_key: String,
    order: Option<Change<u32>>,
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

fn show_order(o: Option<u32>) -> String {
    o.map_or_else(|| "none".to_owned(), |o| o.to_string())
}

/// Target orders for items in position order: `(current, explicit)` pairs.
fn order_targets(items: impl Iterator<Item = (Option<u32>, Option<u32>)>) -> Vec<u32> {
    let slots: Vec<order::Slot> = items
        .map(|(current, explicit)| order::Slot { current, explicit })
        .collect();
    order::assign(&slots)
}

/// Matches declared objects to remote ones: all bindings first, then names, then `was` names.
/// A remote object is claimed at most once; a binding to an id the platform no longer has is
/// ignored (the object was deleted remotely and will be matched afresh or recreated).
fn match_objects<'r, 'b, D, R>(
    declared: &[&D],
    remote: &'r [R],
    binding: impl Fn(&D) -> Option<&'b str>,
    names: impl Fn(&D) -> (&String, &Vec<String>),
    remote_id_name: impl Fn(&R) -> (&String, &String),
) -> Matching<'r, R> {
    let mut out: Vec<Option<(&R, How)>> = vec![None; declared.len()];
    let mut ambiguous: BTreeMap<usize, Vec<&'r R>> = BTreeMap::new();
    let mut claimed: BTreeSet<usize> = BTreeSet::new();
    for (i, d) in declared.iter().enumerate() {
        if let Some(id) = binding(d)
            && let Some(j) = remote.iter().position(|r| remote_id_name(r).0 == id)
            && claimed.insert(j)
        {
            out[i] = Some((&remote[j], How::Binding));
        }
    }
    // One pass per kind of name. Every remote object a declared object could be is collected
    // first: more than one is ambiguous, and then none is taken (nor pruned) — a person decides.
    let mut by_name = |wanted: &dyn Fn(&D) -> Vec<(String, How)>,
                       out: &mut Vec<Option<(&'r R, How)>>,
                       ambiguous: &mut BTreeMap<usize, Vec<&'r R>>| {
        for (i, d) in declared.iter().enumerate() {
            if out[i].is_some() || ambiguous.contains_key(&i) {
                continue;
            }
            let mut candidates: Vec<(usize, How)> = Vec::new();
            for (name, how) in wanted(d) {
                for (j, r) in remote.iter().enumerate() {
                    if *remote_id_name(r).1 == name && !claimed.contains(&j) {
                        candidates.push((j, how));
                    }
                }
            }
            match candidates.as_slice() {
                [] => {}
                [(j, how)] => {
                    claimed.insert(*j);
                    out[i] = Some((&remote[*j], *how));
                }
                several => {
                    for (j, _) in several {
                        claimed.insert(*j);
                    }
                    ambiguous.insert(i, several.iter().map(|(j, _)| &remote[*j]).collect());
                }
            }
        }
    };
    by_name(
        &|d| vec![(names(d).0.clone(), How::Name)],
        &mut out,
        &mut ambiguous,
    );
    by_name(
        &|d| {
            names(d)
                .1
                .iter()
                .enumerate()
                .map(|(k, w)| (w.clone(), How::Was(k)))
                .collect()
        },
        &mut out,
        &mut ambiguous,
    );
    Matching {
        found: out,
        ambiguous,
    }
}

/// What matching found: per declared object (by index) its remote object, and the declared objects
/// that several remote objects could be.
struct Matching<'r, R> {
    found: Vec<Option<(&'r R, How)>>,
    ambiguous: BTreeMap<usize, Vec<&'r R>>,
}

/// Joins all tag deletes into as few calls as the platform allows, keeping their phase position.
fn merge_deletes(ops: Vec<Op>, caps: Capabilities) -> Vec<Op> {
    let mut out = Vec::new();
    let mut deletes: Vec<TagRef> = Vec::new();
    let mut at = None;
    for op in ops {
        match op.action {
            Action::DeleteTags { tags } => {
                at.get_or_insert(out.len());
                deletes.extend(tags);
            }
            action => out.push(Op {
                action,
                reason: op.reason,
            }),
        }
    }
    if let Some(at) = at {
        let chunks: Vec<Op> = deletes
            .chunks(caps.delete_tags.chunk())
            .map(|c| Op {
                action: Action::DeleteTags { tags: c.to_vec() },
                reason: Reason::Undeclared,
            })
            .collect();
        out.splice(at..at, chunks);
    }
    out
}

#[cfg(test)]
mod markdown_tests;
#[cfg(test)]
mod tests;
