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
mod groups;
mod guard;
mod markdown;
mod matching;
pub mod order;
mod render;
pub mod saved;
mod sequence;
mod tags;
mod types;

use std::collections::{BTreeMap, HashMap};

use crate::model::{Capabilities, DesiredGroup, RemoteGroup, RemoteTag};

pub use action::{JournalEntry, OpKind};
pub use guard::DeleteGuard;
pub use markdown::render_markdown;
// Shared with the platforms, which must not import the planner.
pub use crate::model::NewTag;
pub use render::{
    PlanDocument, PlatformDocument, Summary, plan_json_schema, render_json, render_text,
};
pub use types::*;

use matching::{How, Matching, match_objects};
use types::Phase;

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
            ..
        } = match_objects(
            &groups,
            &self.input.snapshot.groups,
            |g| self.input.bindings.groups.get(&g.key).map(String::as_str),
            |g| (g.name.as_str(), g.was.as_slice()),
            |r| (r.id.as_str(), r.name.as_str()),
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
        let input = self.input;
        self.sequence_group_renames(renames, &input.snapshot.groups, caps);
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
            // Judged by the engine, which knows the run's limit.
            delete_guard: None,
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
