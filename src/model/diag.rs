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

/// Turns a serde-saphyr error into a located diagnostic for `file`.
///
/// Syntax and type errors stop the parse of one file, so each file yields at most one of these; the
/// semantic checks that follow still run on every other file.
pub fn from_yaml_error(file: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line() as u32, l.column() as u32))
        .unwrap_or((1, 1));
    let opts = serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let message = strip_location_suffix(&err.render_with_options(opts));
    let hint = yaml_hint(&message);
    let d = Diagnostic::new(Origin::new(file, line, column), message);
    match hint {
        Some(h) => d.hint(h),
        None => d,
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

fn yaml_hint(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; see the reference in README.md for the accepted keys".into())
    } else if message.contains("invalid type") {
        Some("check the value's type against the reference in README.md".into())
    } else if message.contains("duplicate") {
        Some("a key may appear only once in a mapping".into())
    } else {
        None
    }
}
