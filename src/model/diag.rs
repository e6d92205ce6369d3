//! Located diagnostics for user input (tag files, configuration).
//!
//! Every mistake a user can make in a file is reported as a [`Diagnostic`] with the file, the 1-based
//! line and column (counted in characters, as editors do), a message and an optional hint. Validation
//! collects all of them instead of stopping at the first, so one `tagsync validate` run shows
//! everything to fix.

use std::fmt;

/// Where a value came from: a file and a 1-based line and column (characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Origin {
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }

    /// A location for a whole file, when no line is known (an unreadable file, a missing one).
    pub fn file(file: impl Into<String>) -> Self {
        Self::new(file, 1, 1)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 marks a place outside any file, such as an environment variable.
        if self.line == 0 {
            return f.write_str(&self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem in user input, pointing at the value that causes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub origin: Origin,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(origin: Origin, message: impl Into<String>) -> Self {
        Self {
            origin,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why a file could not be read, in the same words everywhere ("no such file", not serde's or
/// the OS's jargon).
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file".into(),
        K::PermissionDenied => "permission denied".into(),
        K::IsADirectory => "it is a directory".into(),
        K::InvalidData => "not UTF-8: save the file as UTF-8".into(),
        other => other.to_string(),
    }
}

/// A file that is not UTF-8, located at its first bad byte (lines and columns as everywhere).
pub fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> Diagnostic {
    let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
    let line = valid.matches('\n').count() + 1;
    let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let (line, column) = (line as u32, column as u32);
    Diagnostic::new(
        Origin::new(file, line, column),
        format!("not UTF-8 at line {line}, column {column}: save the file as UTF-8"),
    )
}

/// A non-empty list of diagnostics, sorted by file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Wraps the collected diagnostics; `None` when there are none.
    pub fn from_vec(mut all: Vec<Diagnostic>) -> Option<Self> {
        if all.is_empty() {
            return None;
        }
        all.sort_by(|a, b| a.origin.cmp(&b.origin).then(a.message.cmp(&b.message)));
        all.dedup();
        Some(Self(all))
    }

    pub fn one(d: Diagnostic) -> Self {
        Self(vec![d])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

/// The serde-saphyr options for every user file: YAML 1.2 booleans only, so that `prune: no` or
/// `secret_env: Y` is not silently read as a boolean (the YAML 1.1 "Norway problem"); the JSON
/// Schema that editors check against says the same.
///
/// Nesting is capped at [`MAX_YAML_DEPTH`] levels (serde-saphyr's default is 64): the untyped
/// trees (the configuration's position tree, figment's values) recurse once per level, and 64
/// levels overflowed a 2 MiB thread stack (tokio's workers, where SIGHUP re-reads the
/// configuration) in a debug build. Aliases may replay at most [`MAX_ALIAS_REPLAY`] events
/// (default: a million): the untyped trees accept any expansion, so a six-level alias bomb in a
/// configuration ran for seconds before the node budget stopped it. Both found by
/// `tests/it/fuzz.rs`.
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_REPLAY,
        },
    }
}

/// Events that aliases may replay in one file: an anchored platform list reused by a thousand
/// groups is a few thousand.
pub const MAX_ALIAS_REPLAY: usize = 20_000;

/// The deepest nesting a tag file or configuration may have: theirs is at most 5 levels.
pub const MAX_YAML_DEPTH: usize = 16;

/// Turns a serde-saphyr error into a located diagnostic for `file`.
///
/// Syntax and type errors stop the parse of one file, so each file yields at most one of these; the
/// semantic checks that follow still run on every other file. serde-saphyr words its messages for
/// Rust developers ("invalid i64", "expected sequence start"); the common ones are reworded here for
/// the people who write the files. `text` is the file's content, to correct a location the parser
/// gets wrong.
pub fn from_yaml_error(file: &str, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let (mut line, mut column) = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line() as u32, l.column() as u32))
        .unwrap_or((1, 1));
    let type_hint = "check the value's type against the reference in README.md";
    let (message, hint): (String, Option<String>) = match err.without_snippet() {
        E::Unexpected { expected, .. } => match *expected {
            "string scalar" | "scalar" => (
                "wrong type: expected a single value (text) here, found a list or a mapping".into(),
                Some(type_hint.into()),
            ),
            "sequence start" => (
                "wrong type: expected a list here".into(),
                Some("write a list as `[a, b]` or as lines starting with `- `".into()),
            ),
            "mapping start" => (
                "wrong type: expected a mapping (`key: value` lines) here".into(),
                Some(type_hint.into()),
            ),
            other => (format!("expected {other}"), None),
        },
        E::InvalidScalar { ty, .. } => (
            format!("wrong type: expected {}", plain_type(ty)),
            Some(type_hint.into()),
        ),
        E::InvalidBooleanStrict { .. } => (
            "wrong type: expected true or false".into(),
            Some("write `true` or `false`; YAML 1.1 spellings such as yes/no/on/off are not booleans".into()),
        ),
        E::NullIntoString { .. } => (
            "a value is missing here".into(),
            Some("write the value after the colon".into()),
        ),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            format!("wrong type: found {unexpected}, expected {expected}"),
            Some(
                if ["integer", "floating point", "boolean"]
                    .iter()
                    .any(|t| unexpected.starts_with(t))
                    && (expected.contains("string") || expected.contains("name"))
                {
                    "quote a name that YAML would read as a number or a boolean: \"2024\"".into()
                } else {
                    type_hint.into()
                },
            ),
        ),
        E::SerdeUnknownField {
            field, expected, ..
        } => (
            format!(
                "unknown field `{field}`, expected one of {}",
                expected.join(", ")
            ),
            Some(match closest(field, expected) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "check the spelling; see the reference in README.md for the accepted keys"
                        .into()
                }
            }),
        ),
        E::DuplicateMappingKey { key, .. } => (
            match key {
                Some(k) => format!("key `{k}` appears twice in this mapping"),
                None => "a key appears twice in this mapping".into(),
            },
            Some("a key may appear only once in a mapping; remove one".into()),
        ),
        E::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Depth { .. },
            ..
        } => (
            format!("nested more than {MAX_YAML_DEPTH} levels deep"),
            Some("check the indentation and the brackets: the file's lists and mappings nest a few levels at most".into()),
        ),
        e if matches!(
            match e {
                E::AliasError { error, .. } => error.without_snippet(),
                other => other,
            },
            E::AliasReplayLimitExceeded { .. } | E::AliasReplayStackDepthExceeded { .. }
        ) =>
        {
            (
            format!("aliases (`*name`) expand to more than {MAX_ALIAS_REPLAY} values"),
            Some("write the values out, or refer to each anchor (`&name`) fewer times".into()),
            )
        }
        _ => {
            let opts = serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
                formatter: &serde_saphyr::UserMessageFormatter,
            };
            let mut message = strip_location_suffix(&err.render_with_options(opts));
            if message.contains("tab") {
                // The scanner reports a tab where it gave up (often the end of the line before);
                // point at the tab itself.
                if let Some(tab) = first_indenting_tab(text, line) {
                    (line, column) = tab;
                    message = "a tab is used for indentation".into();
                }
            }
            let hint = syntax_hint(&message);
            (message, hint)
        }
    };
    let d = Diagnostic::new(Origin::new(file, line, column), message);
    match hint {
        Some(h) => d.hint(h),
        None => d,
    }
}

/// The first tab in the indentation of a line at or after `from_line`, as (line, column).
fn first_indenting_tab(text: &str, from_line: u32) -> Option<(u32, u32)> {
    text.lines()
        .zip(1u32..)
        .skip(from_line.saturating_sub(1) as usize)
        .find_map(|(l, n)| {
            let indent = l.len() - l.trim_start_matches([' ', '\t', '-']).len();
            l[..indent]
                .chars()
                .position(|c| c == '\t')
                .map(|i| (n, i as u32 + 1))
        })
}

/// A Rust scalar type name as the writer of a YAML file knows it.
fn plain_type(ty: &str) -> &str {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" => {
            "an integer"
        }
        "boolean" => "true or false",
        "floating point" => "a number",
        other => other,
    }
}

/// serde-saphyr appends " at line L, column C" to plain messages; we print the location in front.
fn strip_location_suffix(msg: &str) -> String {
    let msg = msg.trim();
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => msg[..i].trim_end_matches(':').to_string(),
        _ => msg.to_string(),
    }
}

/// Hints for the YAML syntax errors people make most.
fn syntax_hint(message: &str) -> Option<String> {
    if message.contains("mapping values are not allowed") {
        Some("check this line's indentation, or quote a value that contains `: `".into())
    } else if message.contains("unclosed") {
        Some("close it; a quote or bracket opened here is never closed".into())
    } else if message.contains("tab") {
        Some("indent with spaces; YAML does not allow tabs for indentation".into())
    } else {
        None
    }
}

/// The accepted key closest to a typo, if it is close enough to be the likely intent.
pub fn closest<'a>(typo: &str, accepted: &[&'a str]) -> Option<&'a str> {
    accepted
        .iter()
        .map(|a| (edit_distance(typo, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
