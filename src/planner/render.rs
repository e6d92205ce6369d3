//! Rendering a plan: terraform-like text for people, JSON for scripts.
//!
//! Text is styled with ANSI codes; print it through `anstream`, which strips them when stdout is
//! not a terminal or `NO_COLOR` is set.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{Action, DriftCause, Op, PlatformPlan, Reason};

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Counts of a plan, for the summary line and the JSON form.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Summary {
    /// Write calls the plan sends (one per operation; the reads apply makes are not counted).
    pub calls: usize,
    /// Groups and tags to create.
    pub create: usize,
    /// Renames and reorders.
    pub change: usize,
    /// Tags to delete.
    pub delete: usize,
    /// `!` lines: differences no call can fix.
    pub drift: usize,
}

impl Summary {
    pub fn of(p: &PlatformPlan) -> Self {
        let mut s = Summary {
            calls: p.ops.len(),
            drift: p.drift.len(),
            ..Summary::default()
        };
        for op in &p.ops {
            match &op.action {
                Action::CreateGroup { tags, .. } => s.create += 1 + tags.len(),
                Action::AddTags { tags, .. } => s.create += tags.len(),
                Action::EditGroup { .. } | Action::EditTag { .. } => s.change += 1,
                Action::DeleteTags { tags } => s.delete += tags.len(),
            }
        }
        s
    }

    pub fn add(&mut self, o: Summary) {
        self.calls += o.calls;
        self.create += o.create;
        self.change += o.change;
        self.delete += o.delete;
        self.drift += o.drift;
    }
}

/// The plans of several platforms as text.
pub fn render_text(plans: &[PlatformPlan]) -> String {
    let mut out = String::new();
    let mut total = Summary::default();
    for p in plans {
        let s = Summary::of(p);
        total.add(s);
        let _ = writeln!(
            out,
            "{BOLD}{}{RESET}: {} write call{}: {} to create, {} to change, {} to delete; {} drift",
            p.platform,
            s.calls,
            plural(s.calls),
            s.create,
            s.change,
            s.delete,
            s.drift
        );
        for note in &p.notes {
            let _ = writeln!(out, "  {DIM}note: {note}{RESET}");
        }
        if let Some(g) = p.delete_guard.filter(|g| g.refused) {
            let _ = writeln!(out, "  {RED}{BOLD}{}{RESET}", g.verdict());
        }
        for op in &p.ops {
            let _ = writeln!(out, "  {}", op_line(op));
        }
        for d in &p.drift {
            let object = match &d.tag {
                Some(t) => format!("tag {}", quoted(&format!("{}/{t}", d.group))),
                None => format!("group {}", quoted(&d.group)),
            };
            let cause = match d.cause {
                DriftCause::NotSupported => "not supported here",
                DriftCause::NotOurs => "not ours",
                DriftCause::Conflict => "conflict",
            };
            let _ = writeln!(
                out,
                "  {MAGENTA}!{RESET} {object}: {} {DIM}({cause}){RESET}",
                d.what
            );
        }
        if p.ops.is_empty() && p.drift.is_empty() {
            let _ = writeln!(out, "  {DIM}in step: nothing to do{RESET}");
        }
    }
    let _ = writeln!(
        out,
        "\nPlan: {} write call{}: {} to create, {} to change, {} to delete; {} drift that no call can fix.",
        total.calls,
        plural(total.calls),
        total.create,
        total.change,
        total.delete,
        total.drift
    );
    out
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn names(tags: impl Iterator<Item = String>) -> String {
    tags.collect::<Vec<_>>().join(", ")
}

fn op_line(op: &Op) -> String {
    let why = reason_text(&op.reason);
    let line = match &op.action {
        Action::CreateGroup {
            name, order, tags, ..
        } => format!(
            "{GREEN}+{RESET} group {}{} with {} tag{}: {}",
            quoted(name),
            order.map(|o| format!(" (order {o})")).unwrap_or_default(),
            tags.len(),
            plural(tags.len()),
            names(tags.iter().map(|t| t.name.clone()))
        ),
        Action::AddTags {
            group_name, tags, ..
        } => format!(
            "{GREEN}+{RESET} tag{} in {}: {}",
            plural(tags.len()),
            quoted(group_name),
            names(tags.iter().map(|t| match t.order {
                Some(o) => format!("{} (order {o})", t.name),
                None => t.name.clone(),
            }))
        ),
        Action::EditGroup {
            group_name,
            name,
            order,
            ..
        } => {
            let what = edits(name.as_ref(), order.as_ref());
            format!("{YELLOW}~{RESET} group {}: {what}", quoted(group_name))
        }
        Action::EditTag {
            group_name,
            tag_name,
            name,
            order,
            ..
        } => {
            let what = edits(name.as_ref(), order.as_ref());
            format!(
                "{YELLOW}~{RESET} tag {}: {what}",
                quoted(&format!("{group_name}/{tag_name}"))
            )
        }
        Action::DeleteTags { tags } => format!(
            "{RED}-{RESET} tag{} {}",
            plural(tags.len()),
            names(
                tags.iter()
                    .map(|t| quoted(&format!("{}/{}", t.group_name, t.name)))
            )
        ),
    };
    format!("{line}  {DIM}# {why}{RESET}")
}

fn edits(name: Option<&super::Change<String>>, order: Option<&super::Change<u32>>) -> String {
    describe_edits(name, order, |to| format!("rename → {}", quoted(to)))
}

/// A rename and/or reorder in words; `rename` says the rename with the new name as its renderer
/// shows names (shared with the markdown renderer).
pub(super) fn describe_edits(
    name: Option<&super::Change<String>>,
    order: Option<&super::Change<u32>>,
    rename: impl Fn(&str) -> String,
) -> String {
    let mut parts = Vec::new();
    if let Some(n) = name {
        parts.push(rename(&n.to));
    }
    if let Some(o) = order {
        match o.from {
            Some(f) => parts.push(format!("order {f} → {}", o.to)),
            None => parts.push(format!("order → {}", o.to)),
        }
    }
    parts.join(", ")
}

/// Why an operation is there, in words (shared with the markdown renderer).
pub(super) fn reason_text(r: &Reason) -> String {
    match r {
        Reason::Missing => "declared, missing here".into(),
        Reason::RenamedViaWas { old } => format!("found under its earlier name {}", quoted(old)),
        Reason::NameDiffers => {
            "bound, but its name differs (renamed on the platform or in the file)".into()
        }
        Reason::OrderDrifted => "order drifted".into(),
        Reason::OrderOfNew => "order of a new object (the create call cannot set it)".into(),
        Reason::Undeclared => "undeclared, and the group prunes".into(),
        Reason::FreeName => "moved aside to free its name for a swap".into(),
    }
}

/// What `tagsync plan --format json` prints; `schema/plan.schema.json` is its JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(
    title = "tagsync plan",
    description = "The output of `tagsync plan --format json`: per platform, the write calls to make (`ops`), the drift no call can fix, the bindings to record, how each declared object stands, notes, and the delete guard's verdict."
)]
pub struct PlanDocument {
    /// One entry per platform that could be planned, in configuration order.
    pub platforms: Vec<PlatformDocument>,
    /// Totals over every platform.
    pub summary: Summary,
    /// Platforms that could not be planned, one message each (they have no entry in `platforms`).
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One platform's plan with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlatformDocument {
    #[serde(flatten)]
    pub plan: PlatformPlan,
    /// This platform's counts.
    pub summary: Summary,
}

impl PlanDocument {
    pub fn new(plans: &[PlatformPlan], errors: Vec<String>) -> Self {
        let mut total = Summary::default();
        let platforms = plans
            .iter()
            .map(|p| {
                let summary = Summary::of(p);
                total.add(summary);
                PlatformDocument {
                    plan: p.clone(),
                    summary,
                }
            })
            .collect();
        Self {
            platforms,
            summary: total,
            errors,
        }
    }
}

/// The plans of several platforms as one JSON document (a [`PlanDocument`] without errors).
pub fn render_json(plans: &[PlatformPlan]) -> serde_json::Value {
    serde_json::to_value(PlanDocument::new(plans, Vec::new())).expect("a plan serialises")
}

/// The JSON Schema of [`PlanDocument`], as checked in at `schema/plan.schema.json`.
pub fn plan_json_schema() -> String {
    let schema = schemars::schema_for!(PlanDocument);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
