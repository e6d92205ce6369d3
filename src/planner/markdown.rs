//! Rendering a plan as Markdown, for a pull-request comment (`plan --format markdown`).
//!
//! GitHub-flavoured Markdown: a summary table per platform, then each platform's operations and
//! its `!` drift, the reason in words. Names come from tag files and consoles and may hold any
//! character Markdown gives meaning to (`|` ends a table cell, `*` starts emphasis, `<` opens HTML),
//! so every name goes through [`escape`]; what goes into raw HTML (`<summary>`) through
//! [`escape_html`]. A long platform section folds into `<details>` so the comment stays readable.

use std::fmt::Write;

use super::render::{Summary, describe_edits, plural, reason_text};
use super::{Action, Change, Drift, DriftCause, Op, PlatformPlan, Reason};

/// A platform section with more lines than this is folded into `<details>`.
const FOLD_AFTER: usize = 10;

/// The plans of several platforms as one Markdown document. `errors` are platforms that could not
/// be planned (one line each), listed after the plans so the reviewer sees the plan is partial.
pub fn render_markdown(plans: &[PlatformPlan], errors: &[String]) -> String {
    let mut out = String::from("### tagsync plan\n\n");
    let mut total = Summary::default();
    for p in plans {
        total.add(Summary::of(p));
    }
    if plans.is_empty() && errors.is_empty() {
        out.push_str("No platform to plan.\n");
        return out;
    }
    if !plans.is_empty() {
        out.push_str("| Platform | Create | Change | Delete | Write calls | Drift `!` |\n");
        out.push_str("|---|--:|--:|--:|--:|--:|\n");
        for p in plans {
            let s = Summary::of(p);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                escape(&p.platform),
                s.create,
                s.change,
                s.delete,
                s.calls,
                s.drift
            );
        }
        if plans.len() > 1 {
            let _ = writeln!(
                out,
                "| **Total** | **{}** | **{}** | **{}** | **{}** | **{}** |",
                total.create, total.change, total.delete, total.calls, total.drift
            );
        }
        out.push('\n');
    }
    if plans.is_empty() {
        // Only failures: saying "no changes" would claim what nobody checked.
    } else if total.calls == 0 && total.drift == 0 && errors.is_empty() {
        out.push_str("**No changes.** Every platform is in step with the tag files.\n");
    } else if total.calls == 0 && total.drift == 0 {
        out.push_str("**No changes** on the platforms planned; the others could not be planned.\n");
    } else {
        let _ = writeln!(
            out,
            "**{} write call{}**: {} to create, {} to change, {} to delete; {} drift that no call can fix.",
            total.calls,
            plural(total.calls),
            total.create,
            total.change,
            total.delete,
            total.drift
        );
    }
    for p in plans
        .iter()
        .filter(|p| !p.ops.is_empty() || !p.drift.is_empty())
    {
        platform_section(&mut out, p);
    }
    if !errors.is_empty() {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str("#### Not planned\n\n");
        for e in errors {
            let _ = writeln!(out, "- :x: {}", escape(e));
        }
    }
    out
}

fn platform_section(out: &mut String, p: &PlatformPlan) {
    let _ = writeln!(out, "\n#### {}\n", escape(&p.platform));
    for note in &p.notes {
        let _ = writeln!(out, "> {}\n", escape(note));
    }
    if let Some(g) = p.delete_guard.filter(|g| g.refused) {
        let _ = writeln!(out, "> **{}**\n", escape(&g.verdict()));
    }
    let lines = p.ops.len() + p.drift.len();
    let fold = lines > FOLD_AFTER;
    if fold {
        let s = Summary::of(p);
        let _ = writeln!(
            out,
            "<details><summary>{} write call{} and {} drift on {}</summary>\n",
            s.calls,
            plural(s.calls),
            s.drift,
            escape_html(&p.platform)
        );
    }
    for op in &p.ops {
        let _ = writeln!(out, "- {}", op_line(op));
    }
    if !p.drift.is_empty() {
        if !p.ops.is_empty() {
            out.push('\n');
        }
        out.push_str("**Needs a person** (`!`: no API call can fix these):\n\n");
        for d in &p.drift {
            let _ = writeln!(out, "- {}", drift_line(d));
        }
    }
    if fold {
        out.push_str("\n</details>\n");
    }
}

fn op_line(op: &Op) -> String {
    let line = match &op.action {
        Action::CreateGroup {
            name, order, tags, ..
        } => format!(
            "`+` create group {}{} with {} tag{}: {}",
            name_md(name),
            order.map(|o| format!(" (order {o})")).unwrap_or_default(),
            tags.len(),
            plural(tags.len()),
            list(tags.iter().map(|t| name_md(&t.name)))
        ),
        Action::AddTags {
            group_name, tags, ..
        } => format!(
            "`+` add tag{} to {}: {}",
            plural(tags.len()),
            name_md(group_name),
            list(tags.iter().map(|t| match t.order {
                Some(o) => format!("{} (order {o})", name_md(&t.name)),
                None => name_md(&t.name),
            }))
        ),
        Action::EditGroup {
            group_name,
            name,
            order,
            ..
        } => format!(
            "`~` group {}: {}",
            name_md(group_name),
            edits(name.as_ref(), order.as_ref())
        ),
        Action::EditTag {
            group_name,
            tag_name,
            name,
            order,
            ..
        } => format!(
            "`~` tag {}: {}",
            path_md(group_name, tag_name),
            edits(name.as_ref(), order.as_ref())
        ),
        Action::DeleteTags { tags } => format!(
            "`-` **delete** tag{} {}",
            plural(tags.len()),
            list(tags.iter().map(|t| path_md(&t.group_name, &t.name)))
        ),
    };
    let why = match &op.reason {
        Reason::RenamedViaWas { old } => format!("found under its earlier name {}", name_md(old)),
        other => escape(&reason_text(other)),
    };
    format!("{line} — _{why}_")
}

fn drift_line(d: &Drift) -> String {
    let object = match &d.tag {
        Some(t) => format!("tag {}", path_md(&d.group, t)),
        None => format!("group {}", name_md(&d.group)),
    };
    let why = match d.cause {
        DriftCause::NotSupported => {
            "this platform's API has no call for it; change it in the console"
        }
        DriftCause::NotOurs => {
            "the group was created in the console and the platform refuses tagsync's changes to it"
        }
        DriftCause::Conflict => {
            "it would collide with another object on the platform; a person must decide"
        }
    };
    format!("`!` {object}: {} — _{why}_", escape(&d.what))
}

fn edits(name: Option<&Change<String>>, order: Option<&Change<u32>>) -> String {
    describe_edits(name, order, |to| format!("rename to {}", name_md(to)))
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// A name, bold, so that where it starts and ends is visible (a name may hold spaces or commas).
fn name_md(name: &str) -> String {
    format!("**{}**", escape(name))
}

fn path_md(group: &str, tag: &str) -> String {
    format!("**{}** / **{}**", escape(group), escape(tag))
}

/// Escapes text for Markdown inline content and table cells: every ASCII punctuation character
/// that could be read as syntax gets a backslash (CommonMark allows that for all of them, and GFM
/// needs it for `|` in a cell). That includes `@` and `#`, which GitHub would turn into a mention
/// or an issue link, and `:` and `.`, which start autolinks. Line breaks cannot occur in names (validation refuses
/// control characters), but text from errors may hold them: they become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_ascii_punctuation() && !UNESCAPED.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Punctuation that means nothing inside a line of GitHub Markdown, left alone for readability:
/// `-`, `+` and `=` mean something only at the start of a line, where a name never is, and
/// parentheses only after `]`, which is escaped.
const UNESCAPED: &str = ",;\"'?-+=/()";

/// Escapes text for raw HTML, where Markdown backslash escapes do not apply.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
