//! The one place where user-facing errors get their words: `error: [LOCATION: ]MESSAGE`, one line
//! per error, then `  hint: …`. Commands build a [`UserError`] (or hand over located
//! [`Diagnostics`]); `main` prints [`Failure::render`] and exits with [`Failure::exit_code`].

use std::fmt;

use super::Failure;
use crate::engine::ConnectError;
use crate::model::Diagnostics;

impl Failure {
    /// What `main` prints on standard error.
    pub fn render(&self) -> String {
        match self {
            Failure::Invalid(text) => text.clone(),
            Failure::Runtime(e) => format!("error: {e:#}"),
        }
    }

    /// SPEC §3: 2 for the user's input, 1 for a platform or the database.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }
}

/// Located diagnostics (tag files, configuration), then how many there were.
pub fn diagnostics(d: &Diagnostics) -> String {
    let n = d.len();
    format!("{d}\n{n} error{}", if n == 1 { "" } else { "s" })
}

/// What the user did wrong (or must do), where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    errors: Vec<(Option<String>, String)>,
    hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            errors: vec![(None, message.into())],
            hint: None,
        }
    }

    /// An error at `location` (a file, `file:line:column`, or a variable's name).
    pub fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![(Some(location.into()), message.into())],
            hint: None,
        }
    }

    /// Several errors with one hint.
    pub fn all(messages: impl IntoIterator<Item = String>) -> Self {
        Self {
            errors: messages.into_iter().map(|m| (None, m)).collect(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (location, message)) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match location {
                Some(l) => write!(f, "error: {l}: {message}")?,
                None => write!(f, "error: {message}")?,
            }
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl From<ConnectError> for UserError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Unknown(m) => {
                UserError::new(m).hint("pass a name configured under `platforms:`")
            }
            ConnectError::Secrets(ms) => UserError::all(ms).hint(
                "secrets come only from the variable or file named by `secret_env` / `secret_file`",
            ),
            ConnectError::Client(m) => UserError::new(m),
        }
    }
}

/// An error and its sources on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_then_one_hint() {
        let e = UserError::all(["a is missing".to_string(), "b is missing".to_string()])
            .hint("set them");
        assert_eq!(
            e.to_string(),
            "error: a is missing\nerror: b is missing\n  hint: set them"
        );
        assert_eq!(
            UserError::at("plan.json:3:1", "not a saved plan").to_string(),
            "error: plan.json:3:1: not a saved plan"
        );
    }
}
