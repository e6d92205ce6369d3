//! Emitting a tag file from what a platform holds, for `tagsync import` (no I/O).
//!
//! The file is written so that reading it back ([`super::parse`]) and planning it against the same
//! snapshot with the returned [`Bindings`] gives an empty plan:
//! - every group says `platforms: [NAME]`, so the file changes nothing elsewhere;
//! - orders are written explicitly only where the platform has an order and reported it, so the
//!   planner enforces exactly the values the platform holds (elsewhere it compares none);
//! - keys are the names (implicit, as a person would write them) unless a group's name is already a
//!   key in other tag files, where an explicit key is made up;
//! - an object that validation would refuse (an empty, over-long, padded or non-NFC name, a control
//!   character, a duplicate name, a group without tags) is left out and reported in
//!   [`Imported::skipped`]; a group that lost a tag that way says `prune: false`, so a configured
//!   `prune: true` never deletes what import could not write down.
//!
//! Names are written as plain YAML scalars only when they cannot be read as anything but that
//! string (see [`yaml_string`]); otherwise they are double-quoted with escapes, which YAML reads
//! back exactly.

use std::collections::BTreeSet;
use std::fmt::{self, Write};

use crate::model::{Bindings, Capabilities, MAX_NAME_CHARS, RemoteGroup, Snapshot, normalize_name};

/// What import needs besides the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct EmitSettings<'a> {
    /// The configured platform name, written into every group's `platforms:`.
    pub platform: &'a str,
    /// The platform's capabilities: orders are written only where it has an order.
    pub caps: &'a Capabilities,
    /// The `$schema` path for the editor comment, relative to where the file is written.
    pub schema: &'a str,
    /// Group keys that other tag files already use; an imported group never takes one.
    pub taken_keys: &'a BTreeSet<String>,
    /// Remote group ids that other tag files already manage on this platform (bound, or matched by
    /// the current plan): left out, so importing into a set-up repository adds only what is new.
    pub managed: &'a BTreeSet<String>,
}

/// The emitted tag file and what import records with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The tag file (SPEC §1), schema comment first.
    pub text: String,
    /// Each written key bound to the remote id it came from, to record in the mirror.
    pub bindings: Bindings,
    /// Objects left out, each with the reason, for import to report.
    pub skipped: Vec<Skipped>,
    /// How many groups and tags the file declares.
    pub groups: usize,
    pub tags: usize,
}

/// A remote object the tag file does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub group: String,
    pub tag: Option<String>,
    pub remote_id: String,
    pub reason: SkipReason,
}

/// Why an object is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The name breaks a tag-file rule (the words say which).
    InvalidName(&'static str),
    /// An earlier object (same group, for a tag) has the same name after NFC normalisation.
    DuplicateName,
    /// A group with no (writable) tags: a tag file cannot declare an empty group.
    NoTags,
    /// Other tag files already manage this group.
    Managed,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::InvalidName(why) => write!(f, "its name {why}"),
            SkipReason::DuplicateName => f.write_str("an earlier one has the same name"),
            SkipReason::NoTags => f.write_str("it has no tag a tag file can declare"),
            SkipReason::Managed => f.write_str("a tag file already declares it"),
        }
    }
}

/// Why nothing can be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The platform has no list call, so what it holds is unknown.
    #[error("platform {0:?} cannot list its tags, so there is nothing to import")]
    NotListable(String),
    /// No group could be written (the platform has none, or none is valid).
    #[error("platform {platform:?} has no tag group that a tag file can declare ({} left out)", skipped.len())]
    Nothing {
        platform: String,
        skipped: Vec<Skipped>,
    },
}

/// Writes the tag file for what `snapshot` holds on `settings.platform`.
///
/// # Errors
/// [`EmitError::NotListable`] for a platform without a list call; [`EmitError::Nothing`] when no
/// group can be declared (a tag file needs at least one).
pub fn emit(snapshot: &Snapshot, settings: &EmitSettings) -> Result<Imported, EmitError> {
    if !settings.caps.list {
        return Err(EmitError::NotListable(settings.platform.to_owned()));
    }
    let mut skipped = Vec::new();
    let mut groups = Vec::new();
    let mut group_names = BTreeSet::new();
    for g in &snapshot.groups {
        let skip = |reason| Skipped {
            group: g.name.clone(),
            tag: None,
            remote_id: g.id.clone(),
            reason,
        };
        if settings.managed.contains(&g.id) {
            skipped.push(skip(SkipReason::Managed));
            continue;
        }
        if let Some(why) = name_problem(&g.name) {
            skipped.push(skip(SkipReason::InvalidName(why)));
            continue;
        }
        if group_names.contains(&g.name) {
            skipped.push(skip(SkipReason::DuplicateName));
            continue;
        }
        let group = collect_group(g, &mut skipped);
        if group.tags.is_empty() {
            skipped.push(skip(SkipReason::NoTags));
            continue;
        }
        group_names.insert(g.name.clone());
        groups.push(group);
    }
    if groups.is_empty() {
        return Err(EmitError::Nothing {
            platform: settings.platform.to_owned(),
            skipped,
        });
    }
    // Keys: the name, unless another file (or a made-up key here) already has it.
    let mut taken: BTreeSet<String> = settings.taken_keys.clone();
    taken.extend(
        groups
            .iter()
            .filter(|g| !settings.taken_keys.contains(&g.remote.name))
            .map(|g| g.remote.name.clone()),
    );
    for g in &mut groups {
        if settings.taken_keys.contains(&g.remote.name) {
            let key = fresh_key(&g.remote.name, settings.platform, &taken);
            taken.insert(key.clone());
            g.key = Some(key);
        }
    }
    let with_order = settings.caps.has_order;
    let mut text = format!(
        "# yaml-language-server: $schema={}\n# Imported from platform {} by `tagsync import`.\ngroups:\n",
        settings.schema,
        yaml_string(settings.platform)
    );
    let mut bindings = Bindings::default();
    let mut tag_count = 0;
    for g in &groups {
        let key = g.key.clone().unwrap_or_else(|| g.remote.name.clone());
        bindings.groups.insert(key.clone(), g.remote.id.clone());
        let _ = writeln!(text, "  - name: {}", yaml_string(&g.remote.name));
        if let Some(k) = &g.key {
            let _ = writeln!(text, "    key: {}", yaml_string(k));
        }
        if with_order && let Some(o) = g.remote.order {
            let _ = writeln!(text, "    order: {o}");
        }
        let _ = writeln!(text, "    platforms: [{}]", yaml_string(settings.platform));
        if g.lost_tags {
            text.push_str("    prune: false             # some tags could not be imported\n");
        }
        text.push_str("    tags:\n");
        for t in &g.tags {
            tag_count += 1;
            bindings
                .tags
                .insert((key.clone(), t.name.clone()), t.id.clone());
            match t.order.filter(|_| with_order) {
                Some(o) => {
                    let _ = writeln!(text, "      - name: {}", yaml_string(&t.name));
                    let _ = writeln!(text, "        order: {o}");
                }
                None => {
                    let _ = writeln!(text, "      - {}", yaml_string(&t.name));
                }
            }
        }
    }
    Ok(Imported {
        text,
        bindings,
        skipped,
        groups: groups.len(),
        tags: tag_count,
    })
}

/// A group to write: the remote group, its writable tags, and an explicit key where needed.
struct Group<'a> {
    remote: &'a RemoteGroup,
    tags: Vec<&'a crate::model::RemoteTag>,
    key: Option<String>,
    /// Some of its tags were left out.
    lost_tags: bool,
}

fn collect_group<'a>(g: &'a RemoteGroup, skipped: &mut Vec<Skipped>) -> Group<'a> {
    let mut names = BTreeSet::new();
    let mut tags = Vec::new();
    for t in &g.tags {
        let reason = match name_problem(&t.name) {
            Some(why) => Some(SkipReason::InvalidName(why)),
            None if !names.insert(t.name.as_str()) => Some(SkipReason::DuplicateName),
            None => None,
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                group: g.name.clone(),
                tag: Some(t.name.clone()),
                remote_id: t.id.clone(),
                reason,
            }),
            None => tags.push(t),
        }
    }
    Group {
        lost_tags: tags.len() < g.tags.len(),
        remote: g,
        tags,
        key: None,
    }
}

/// What keeps `name` out of a tag file, in the words of validation (`super::check_name`), or `None`.
///
/// A name that is not in NFC would be read back normalised and then differ from the platform's:
/// the plan would rename it. Such names are left for a person to fix in the console.
fn name_problem(name: &str) -> Option<&'static str> {
    let chars = name.chars().count();
    if chars == 0 {
        Some("is empty")
    } else if name.trim() != name {
        Some("has leading or trailing spaces")
    } else if chars > MAX_NAME_CHARS {
        Some("is longer than 30 characters")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if normalize_name(name) != name {
        Some("is not in Unicode NFC form")
    } else {
        None
    }
}

/// A group key for `name` that no other group has: `NAME@PLATFORM`, then numbered.
fn fresh_key(name: &str, platform: &str, taken: &BTreeSet<String>) -> String {
    let base = format!("{name}@{platform}");
    // Keys are at most 64 characters; a long platform name falls back to a number.
    let base = if base.chars().count() <= 60 {
        base
    } else {
        name.to_owned()
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|k| !taken.contains(k))
        .expect("some number is free")
}

/// `s` as a YAML scalar that reads back as exactly the string `s`, in block or flow context.
///
/// Plain when that is safe beyond doubt: it starts with a letter (so it is no number, and no
/// indicator such as `-`, `?`, `:`, `#`, `&`, `*`, `!`, `|`, `>`, `'`, `"`, `%`, `@` or a backtick),
/// holds only letters, digits, single inner spaces and `-_./()`, and is no word YAML 1.1 or 1.2
/// (or a lenient number parser) reads as a boolean, null or number. Everything else is double-quoted, with `\` and `"` escaped and every control or
/// invisible character written as an escape, so what a person sees is what is stored.
pub fn yaml_string(s: &str) -> String {
    if is_plain_safe(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Control characters, line and paragraph separators, the BOM and the invisible format characters
/// (zero-width spaces, direction marks): all in the Basic Multilingual Plane, so `\uXXXX` suffices.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c as u32,
            0x2028 | 0x2029 | 0xFEFF | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        )
}

const RESERVED_WORDS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", "infinity",
];

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let ok_char = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '/' | '(' | ')')
        } else {
            // Any visible non-ASCII character: none is YAML syntax. Unicode spaces are excluded
            // so that a name never looks padded or split to a reader.
            !c.is_whitespace() && !c.is_control() && !needs_escape(c)
        }
    };
    first.is_alphabetic()
        && !s.ends_with(' ')
        && !s.contains("  ")
        && s.chars().all(ok_char)
        && !RESERVED_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests;
