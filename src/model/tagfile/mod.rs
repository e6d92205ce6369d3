//! Tag files (SPEC §1): their YAML shape, and validation into a [`Desired`].
//!
//! Parsing is two passes. serde-saphyr turns each file into the located types below, stopping that
//! file at its first syntax or type error (nothing after it can be trusted). Then every semantic
//! rule runs over all files that parsed, collecting every violation with the place it comes from,
//! so `tagsync validate` lists everything to fix in one go.
//!
//! The same types generate `schema/tags.schema.json` (schemars), so editors check files as they
//! are typed.

pub mod emit;
mod format;

pub use format::*;

use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};

use super::diag::{Diagnostic, Diagnostics, Origin, from_yaml_error, yaml_options};
use super::{Desired, DesiredGroup, DesiredTag, MAX_NAME_CHARS, normalize_name};

/// One tag file's text and the name to report it under (its path as the user gave it).
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What validation needs to know from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Every configured platform name.
    pub known_platforms: BTreeSet<String>,
    /// The platforms a group goes to when it names none: every configured platform that can write.
    pub default_platforms: BTreeSet<String>,
    /// The config's `prune`, for groups that do not say.
    pub prune_default: bool,
}

/// Parses and validates tag files into the desired state, reporting every problem found.
pub fn parse(sources: &[Source], ctx: &Context) -> Result<Desired, Diagnostics> {
    let mut diags = Vec::new();
    let mut raw = Vec::new();
    for src in sources {
        match parse_one(src) {
            Ok(file) => raw.push((src.name.as_str(), file)),
            Err(d) => diags.push(d),
        }
    }
    let mut groups = Vec::new();
    for (file, tf) in raw {
        for g in tf.groups {
            groups.push(check_group(file, g, ctx, &mut diags));
        }
    }
    check_across_groups(&groups, &mut diags);
    match Diagnostics::from_vec(diags) {
        Some(d) => Err(d),
        None => Ok(Desired::new(groups.into_iter().map(|g| g.item).collect())),
    }
}

fn parse_one(src: &Source) -> Result<TagFile, Diagnostic> {
    if src.text.trim().is_empty() || is_only_comments(&src.text) {
        return Err(
            Diagnostic::new(Origin::file(&src.name), "the tag file is empty")
                .hint("declare `groups:` with at least one group, or delete the file"),
        );
    }
    let file = serde_saphyr::from_str_with_options::<TagFile>(&src.text, yaml_options())
        .map_err(|e| from_yaml_error(&src.name, &src.text, &e))?;
    if file.groups.is_empty() {
        // The list has no entry to point at: point at the `groups:` key.
        let line = src
            .text
            .lines()
            .position(|l| l.trim_start().starts_with("groups"))
            .map_or(1, |i| i as u32 + 1);
        return Err(Diagnostic::new(
            Origin::new(&src.name, line, 1),
            "the tag file declares no groups",
        )
        .hint("declare at least one group under `groups:`, or delete the file"));
    }
    Ok(file)
}

/// A checked group or tag, with where its key and each of its `was` names are written: collisions
/// are found later and must point at the entry to fix, not at the object.
struct Checked<T> {
    item: T,
    /// Where `key:` is written; the object's origin when the key is the name.
    key_at: Origin,
    was_at: Vec<Origin>,
}

fn is_only_comments(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

fn at<T>(file: &str, s: &Spanned<T>) -> Origin {
    Origin::new(
        file,
        s.referenced.line() as u32,
        s.referenced.column() as u32,
    )
}

/// Checks a name (group or tag) and returns it NFC-normalised.
fn check_name(what: &str, file: &str, s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> String {
    let name = normalize_name(&s.value);
    let chars = name.chars().count();
    if chars == 0 {
        diags.push(
            Diagnostic::new(at(file, s), format!("{what} is empty"))
                .hint("give it 1 to 30 characters"),
        );
    } else if name.trim() != name {
        diags.push(
            Diagnostic::new(
                at(file, s),
                format!("{what} {name:?} has leading or trailing spaces"),
            )
            .hint("names are compared exactly; remove the spaces"),
        );
    } else if chars > MAX_NAME_CHARS {
        diags.push(
            Diagnostic::new(
                at(file, s),
                format!(
                    "{what} {name:?} is {chars} characters long; the limit is {MAX_NAME_CHARS}"
                ),
            )
            .hint("every platform rejects longer names; shorten it"),
        );
    } else if name.chars().any(char::is_control) {
        diags.push(
            Diagnostic::new(
                at(file, s),
                format!("{what} {name:?} contains a control character"),
            )
            .hint("remove the tab or line break"),
        );
    }
    name
}

/// A group or tag without `name` (or with an empty `name:`), reported where it starts. It goes on
/// with an empty name so that the rest of the file is still checked.
fn missing_name(what: &str, origin: Origin, diags: &mut Vec<Diagnostic>) -> String {
    diags.push(
        Diagnostic::new(origin, format!("{what} has no name")).hint(format!(
            "write the {what}'s name after `name:`, 1 to 30 characters"
        )),
    );
    String::new()
}

fn check_key(file: &str, s: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> String {
    let key = normalize_name(&s.value);
    if key.is_empty() || key.trim() != key || key.chars().count() > 64 {
        diags.push(
            Diagnostic::new(at(file, s), format!("key {key:?} is not valid"))
                .hint("a key is 1 to 64 characters with no leading or trailing spaces"),
        );
    }
    key
}

fn check_order(
    file: &str,
    s: &Option<Spanned<Scalar>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<u32> {
    let s = s.as_ref()?;
    let range = "platforms store the order as an unsigned 32-bit number; bigger sorts first";
    match &s.value {
        Scalar::Int(v) => match u32::try_from(*v) {
            Ok(v) => Some(v),
            Err(_) => {
                diags.push(
                    Diagnostic::new(
                        at(file, s),
                        format!("order {v} is out of range 0..=4294967295"),
                    )
                    .hint(range),
                );
                None
            }
        },
        Scalar::Null => None,
        other => {
            diags.push(
                Diagnostic::new(
                    at(file, s),
                    format!(
                        "wrong type: `order` must be an integer, found {}",
                        other.describe()
                    ),
                )
                .hint("write a number from 0 to 4294967295 without quotes"),
            );
            None
        }
    }
}

fn check_prune(
    file: &str,
    s: &Option<Spanned<Scalar>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<bool> {
    let s = s.as_ref()?;
    match &s.value {
        Scalar::Bool(v) => Some(*v),
        Scalar::Null => None,
        other => {
            diags.push(
                Diagnostic::new(
                    at(file, s),
                    format!(
                        "wrong type: `prune` must be true or false, found {}",
                        other.describe()
                    ),
                )
                .hint("write `true` or `false` without quotes (yes/no/on/off are not booleans)"),
            );
            None
        }
    }
}

fn check_was(
    what: &str,
    file: &str,
    name: &str,
    was: &[Spanned<String>],
    diags: &mut Vec<Diagnostic>,
) -> (Vec<String>, Vec<Origin>) {
    let mut out: Vec<String> = Vec::new();
    let mut out_at = Vec::new();
    for w in was {
        let old = check_name(&format!("earlier {what} name"), file, w, diags);
        if old == name {
            diags.push(
                Diagnostic::new(
                    at(file, w),
                    format!("`was` repeats the current name {old:?}"),
                )
                .hint("list only earlier names in `was`"),
            );
        } else if out.contains(&old) {
            diags.push(
                Diagnostic::new(at(file, w), format!("`was` lists {old:?} twice"))
                    .hint("list each earlier name once"),
            );
        } else {
            out.push(old);
            out_at.push(at(file, w));
        }
    }
    (out, out_at)
}

fn check_group(
    file: &str,
    g: Spanned<GroupSpec>,
    ctx: &Context,
    diags: &mut Vec<Diagnostic>,
) -> Checked<DesiredGroup> {
    let origin = at(file, &g);
    let spec = g.value;
    let name = match &spec.name {
        Some(n) => check_name("group name", file, n, diags),
        None => missing_name("group", origin.clone(), diags),
    };
    let key = match &spec.key {
        Some(k) => check_key(file, k, diags),
        None => name.clone(),
    };
    let key_at = spec
        .key
        .as_ref()
        .map_or_else(|| origin.clone(), |k| at(file, k));
    let (was, was_at) = check_was("group", file, &name, &spec.was, diags);
    let order = check_order(file, &spec.order, diags);
    let prune = check_prune(file, &spec.prune, diags).unwrap_or(ctx.prune_default);
    let platforms = match &spec.platforms {
        None => ctx.default_platforms.clone(),
        Some(list) => {
            let mut set = BTreeSet::new();
            if list.value.is_empty() {
                diags.push(
                    Diagnostic::new(at(file, list), format!("group {name:?} lists no platforms"))
                        .hint("remove `platforms:` to sync the group everywhere, or name at least one platform"),
                );
            }
            for p in &list.value {
                if !ctx.known_platforms.contains(&p.value) {
                    let known = ctx
                        .known_platforms
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                    diags.push(
                        Diagnostic::new(at(file, p), format!("unknown platform {:?}", p.value))
                            .hint(format!(
                                "configured platforms: {known}; configure {:?} under `platforms:` \
                                 in the configuration, or remove it from this list",
                                p.value
                            )),
                    );
                } else if !set.insert(p.value.clone()) {
                    diags.push(
                        Diagnostic::new(
                            at(file, p),
                            format!("platform {:?} is listed twice", p.value),
                        )
                        .hint("list each platform once"),
                    );
                }
            }
            set
        }
    };
    let mut tags = Vec::new();
    match &spec.tags {
        None => diags.push(
            Diagnostic::new(origin.clone(), format!("group {name:?} declares no tags"))
                .hint("no platform can create an empty group; add at least one tag under `tags:`"),
        ),
        Some(list) if list.value.is_empty() => diags.push(
            Diagnostic::new(at(file, list), format!("group {name:?} declares no tags"))
                .hint("no platform can create an empty group; add at least one tag"),
        ),
        Some(list) => {
            for t in &list.value {
                tags.push(check_tag(file, t, diags));
            }
        }
    }
    check_tags_in_group(&name, &tags, diags);
    Checked {
        item: DesiredGroup {
            key,
            name,
            was,
            order,
            platforms,
            prune,
            tags: tags.into_iter().map(|t| t.item).collect(),
            origin,
        },
        key_at,
        was_at,
    }
}

fn check_tag(
    file: &str,
    t: &Spanned<TagEntry>,
    diags: &mut Vec<Diagnostic>,
) -> Checked<DesiredTag> {
    match &t.value {
        TagEntry::Name(raw) => {
            let spanned = Spanned {
                value: raw.clone(),
                referenced: t.referenced,
                defined: t.defined,
            };
            let name = check_name("tag name", file, &spanned, diags);
            Checked {
                item: DesiredTag {
                    key: name.clone(),
                    name,
                    was: Vec::new(),
                    order: None,
                    origin: at(file, t),
                },
                key_at: at(file, t),
                was_at: Vec::new(),
            }
        }
        TagEntry::Full(spec) => {
            let name = match &spec.name {
                Some(n) => check_name("tag name", file, n, diags),
                None => missing_name("tag", at(file, t), diags),
            };
            let key = match &spec.key {
                Some(k) => check_key(file, k, diags),
                None => name.clone(),
            };
            let (was, was_at) = check_was("tag", file, &name, &spec.was, diags);
            let origin = spec
                .name
                .as_ref()
                .map_or_else(|| at(file, t), |n| at(file, n));
            Checked {
                item: DesiredTag {
                    key,
                    was,
                    order: check_order(file, &spec.order, diags),
                    name,
                    origin: origin.clone(),
                },
                key_at: spec.key.as_ref().map_or(origin, |k| at(file, k)),
                was_at,
            }
        }
    }
}

/// Within one group: tag names, keys and `was` names must not collide.
fn check_tags_in_group(group: &str, tags: &[Checked<DesiredTag>], diags: &mut Vec<Diagnostic>) {
    let mut names: BTreeMap<&str, &DesiredTag> = BTreeMap::new();
    let mut keys: BTreeMap<&str, &Origin> = BTreeMap::new();
    // An empty name or key is reported already; it must not also count as a duplicate.
    for c in tags.iter().filter(|t| !t.item.name.is_empty()) {
        let t = &c.item;
        if let Some(first) = names.insert(&t.name, t) {
            diags.push(
                Diagnostic::new(
                    t.origin.clone(),
                    format!(
                        "tag {:?} is declared twice in group {group:?}; first at {}",
                        t.name, first.origin
                    ),
                )
                .hint(format!(
                    "a group's tags must have distinct names; remove one{}",
                    nfc_note(&t.name)
                )),
            );
        } else if let Some(first) = keys.insert(&t.key, &c.key_at) {
            diags.push(
                Diagnostic::new(
                    c.key_at.clone(),
                    format!(
                        "tag key {:?} is used twice in group {group:?}; first at {first}",
                        t.key
                    ),
                )
                .hint("keys identify tags; give each its own"),
            );
        }
    }
    report_was_collisions(
        "tag",
        tags.iter().map(|t| (&t.item.name, &t.item.was, &t.was_at)),
        tags.iter().map(|t| (t.item.name.as_str(), &t.item.origin)),
        diags,
    );
}

/// For a duplicate name that Unicode normalisation may have made: why two spellings are one name.
fn nfc_note(name: &str) -> &'static str {
    use unicode_normalization::UnicodeNormalization;
    if name.nfd().ne(name.chars()) {
        " (names are compared after Unicode NFC normalisation, so composed and decomposed accents are the same name)"
    } else {
        ""
    }
}

/// A `was` name that is also a declared name, or the `was` of two objects, makes matching ambiguous.
/// Each is reported at the `was` entry that causes it.
fn report_was_collisions<'a>(
    what: &str,
    items: impl Iterator<Item = (&'a String, &'a Vec<String>, &'a Vec<Origin>)>,
    declared: impl Iterator<Item = (&'a str, &'a Origin)>,
    diags: &mut Vec<Diagnostic>,
) {
    let declared: BTreeMap<&str, &Origin> = declared.collect();
    let mut seen_was: BTreeMap<&str, (&str, &Origin)> = BTreeMap::new();
    for (name, was, was_at) in items {
        for (old, here) in was.iter().zip(was_at) {
            if let Some(other) = declared.get(old.as_str()) {
                diags.push(
                    Diagnostic::new(
                        here.clone(),
                        format!("{what} {name:?} was once called {old:?}, but {old:?} is also declared at {other}"),
                    )
                    .hint(format!("a {what} cannot be renamed to a name that is still declared; remove {old:?} from `was` or rename the other one")),
                );
            } else if let Some((first, first_at)) = seen_was.insert(old, (name, here)) {
                diags.push(
                    Diagnostic::new(
                        here.clone(),
                        format!("{what}s {first:?} and {name:?} both list {old:?} in `was`; first at {first_at}"),
                    )
                    .hint("an earlier name can belong to only one of them"),
                );
            }
        }
    }
}

/// Across groups: keys are unique; names and `was` names are unique per platform.
fn check_across_groups(groups: &[Checked<DesiredGroup>], diags: &mut Vec<Diagnostic>) {
    let mut keys: BTreeMap<&str, &Checked<DesiredGroup>> = BTreeMap::new();
    // An empty name or key is reported already; it must not also count as a duplicate.
    for c in groups.iter().filter(|g| !g.item.key.is_empty()) {
        let g = &c.item;
        if let Some(first_c) = keys.insert(&g.key, c) {
            let first = &first_c.item;
            let d = if g.key == g.name && first.key == first.name {
                Diagnostic::new(
                    g.origin.clone(),
                    format!(
                        "group {:?} is declared twice; first at {}",
                        g.name, first.origin
                    ),
                )
                .hint(format!(
                    "declare each group once; several files are merged into one set{}",
                    nfc_note(&g.name)
                ))
            } else {
                Diagnostic::new(
                    c.key_at.clone(),
                    format!(
                        "group key {:?} is used twice; first at {}",
                        g.key, first_c.key_at
                    ),
                )
                .hint("keys identify groups across renames; give each group its own")
            };
            diags.push(d);
        }
    }
    // Names must be unique on each platform; two groups of one name on disjoint platforms are fine.
    let mut per_platform: BTreeMap<&str, Vec<&Checked<DesiredGroup>>> = BTreeMap::new();
    for g in groups {
        for p in &g.item.platforms {
            per_platform.entry(p).or_default().push(g);
        }
    }
    let mut reported = BTreeSet::new();
    for (platform, list) in &per_platform {
        let mut names: BTreeMap<&str, &DesiredGroup> = BTreeMap::new();
        for g in list.iter().map(|g| &g.item).filter(|g| !g.name.is_empty()) {
            if let Some(first) = names.insert(&g.name, g)
                && first.key != g.key
                && reported.insert((&g.origin, "name"))
            {
                diags.push(
                    Diagnostic::new(
                        g.origin.clone(),
                        format!(
                            "group name {:?} is declared twice on platform {platform:?}; first at {}",
                            g.name, first.origin
                        ),
                    )
                    .hint(format!(
                        "group names must be unique on each platform{}",
                        nfc_note(&g.name)
                    )),
                );
            }
        }
        let mut was_diags = Vec::new();
        report_was_collisions(
            "group",
            list.iter().map(|g| (&g.item.name, &g.item.was, &g.was_at)),
            list.iter().map(|g| (g.item.name.as_str(), &g.item.origin)),
            &mut was_diags,
        );
        for d in was_diags {
            if !diags.contains(&d) {
                diags.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests;
