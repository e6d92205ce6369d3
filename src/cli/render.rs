//! The one place where user-facing errors get their words: `error: [LOCATION: ]MESSAGE`, one line
//! per error, then `  hint: …`. Commands build a [`UserError`] (or hand over located
//! [`Diagnostics`]); `main` prints [`Failure::render`] and exits with [`Failure::exit_code`].

use std::fmt;

use super::Failure;
use crate::daemon;
use crate::engine::ConnectError;
use crate::model::Diagnostics;
use crate::settings::SecretError;

impl Failure {
    /// What `main` prints on standard error.
    pub fn render(&self) -> String {
        match self {
            Failure::Invalid(text) => text.clone(),
            Failure::Runtime(e) => format!("error: {e:#}"),
            Failure::Environment(e) => e.to_string(),
        }
    }

    /// SPEC §3: 2 for the user's input, 1 for a platform or the database.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Runtime(_) | Failure::Environment(_) => 1,
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

/// How the daemon failed to start or stopped: a `listen` address that is not this host's and a
/// schedule the scheduler refuses are the input's (exit 2); an address in use or a port that needs
/// privileges is the host's (exit 1), with the same hint.
impl From<daemon::Error> for Failure {
    fn from(e: daemon::Error) -> Self {
        match e {
            daemon::Error::Bind(b) => {
                let input = b.is_input();
                let e = UserError::new(b.to_string()).hint(b.hint());
                if input {
                    e.into()
                } else {
                    Failure::Environment(e)
                }
            }
            e @ daemon::Error::Schedule { .. } => UserError::new(e.to_string()).into(),
            e => Failure::Runtime(anyhow::Error::new(e)),
        }
    }
}

impl UserError {
    /// The daemon's HTTP token (`http_token_env`/`http_token_file`) could not be read.
    pub fn http_token(e: &SecretError) -> Self {
        let what = match e {
            SecretError::MissingEnv { var, .. } => {
                format!("`http_token_env` names {var}, which is not set")
            }
            SecretError::EmptyEnv { var, .. } => {
                format!("`http_token_env` names {var}, which is empty")
            }
            SecretError::File { path, reason, .. } => {
                format!("cannot read `http_token_file` {path}: {reason}")
            }
            SecretError::EmptyFile { path, .. } => format!("`http_token_file` {path} is empty"),
            SecretError::MultiLine {
                source_name, lines, ..
            } => format!("the HTTP token in {source_name} has {lines} lines; a token is one line"),
        };
        UserError::new(what)
            .hint("the token guards /metrics off loopback; set it, or listen on 127.0.0.1")
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

    fn bind(kind: std::io::ErrorKind) -> Failure {
        daemon::Error::Bind(daemon::http::BindError {
            addr: "127.0.0.1:9187".parse().unwrap(),
            source: std::io::Error::from(kind),
        })
        .into()
    }

    #[test]
    fn a_listen_address_is_the_inputs_or_the_hosts_fault_with_one_hint() {
        let not_here = bind(std::io::ErrorKind::AddrNotAvailable);
        assert_eq!(not_here.exit_code(), 2);
        let in_use = bind(std::io::ErrorKind::AddrInUse);
        assert_eq!(in_use.exit_code(), 1);
        for f in [not_here, in_use] {
            let text = f.render();
            assert!(
                text.starts_with("error: cannot listen on 127.0.0.1:9187: "),
                "{text}"
            );
            assert_eq!(text.matches("error:").count(), 1, "said once: {text}");
            assert_eq!(text.matches("\n  hint: ").count(), 1, "{text}");
        }
        let schedule: Failure = daemon::Error::Schedule {
            platform: "wecom".into(),
            message: "bad".into(),
        }
        .into();
        assert_eq!(schedule.exit_code(), 2);
        assert_eq!(schedule.render(), "error: platform \"wecom\": bad");
    }

    #[test]
    fn the_http_tokens_errors_name_its_key() {
        let e = UserError::http_token(&SecretError::MultiLine {
            platform: "http".into(),
            source_name: "token.txt".into(),
            lines: 2,
        });
        assert_eq!(
            e.to_string(),
            "error: the HTTP token in token.txt has 2 lines; a token is one line\n  hint: the token guards /metrics off loopback; set it, or listen on 127.0.0.1"
        );
    }
}
