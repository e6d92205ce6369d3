//! Connecting the configured platforms: every secret is read first, so a missing one stops the
//! command before it talks to any platform; no call is made here.

use std::sync::Arc;

use crate::planner::saved::Account;
use crate::platforms::{self, Platform, RetryPolicy};
use crate::settings::{Mode, PlatformSettings, Settings};

/// A configured platform, connected: long-lived, reused across cycles.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    /// `observe` platforms are planned, never written.
    pub mode: Mode,
    pub client: Arc<dyn Platform>,
    /// Which account it is (kind, base URL, the kind's identifying settings; never the secret).
    pub account: Account,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A platform in `enforce` mode, of an account not described (tests, embedders).
    pub fn new(name: impl Into<String>, client: Arc<dyn Platform>) -> Self {
        Self {
            name: name.into(),
            mode: Mode::Enforce,
            account: Account::default(),
            client,
        }
    }

    /// Whether a cycle of this target may write: `enforce` mode and an API that writes.
    pub fn sends(&self) -> bool {
        self.mode == Mode::Enforce && self.client.capabilities().writable()
    }

    fn of(settings: &PlatformSettings, client: Arc<dyn Platform>) -> Self {
        Self {
            name: settings.name.clone(),
            mode: settings.mode,
            account: Account {
                kind: settings.kind.as_str().to_owned(),
                base_url: settings.base_url.to_string(),
                settings: settings.config.identity(),
            },
            client,
        }
    }
}

/// Why the platforms could not be connected. Every one is the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A name asked for is not configured.
    #[error("{0}")]
    Unknown(String),
    /// Secrets that cannot be read, one message each.
    #[error("{}", .0.join("\n"))]
    Secrets(Vec<String>),
    /// A client could not be built from its settings.
    #[error("{0}")]
    Client(String),
}

/// Checks every secret the selected platforms (all when `names` is empty) need, then connects
/// them, in configuration order.
///
/// # Errors
/// [`ConnectError`]; no platform has been called.
pub fn connect(
    settings: &Settings,
    names: &[String],
    retry: RetryPolicy,
) -> Result<Vec<Target>, ConnectError> {
    let selected = settings
        .select(names)
        .map_err(|e| ConnectError::Unknown(e.to_string()))?;
    let mut problems = Vec::new();
    let mut secrets = Vec::new();
    for p in &selected {
        match p.secret.read(&p.name) {
            Ok(s) => secrets.push(Some(s)),
            Err(e) => {
                problems.push(e.to_string());
                secrets.push(None);
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConnectError::Secrets(problems));
    }
    selected
        .into_iter()
        .zip(secrets)
        .map(|(p, s)| {
            let client = platforms::connect(p, s.expect("checked above"), retry)
                .map_err(|e| ConnectError::Client(e.to_string()))?;
            Ok(Target::of(p, client))
        })
        .collect()
}
