//! `tagsync status` and the status page: how each configured platform stands, read from the
//! mirror alone (no platform call, daemon running or not).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::settings::Settings;
use crate::store::{self, PlatformStatus, Store};

/// Every configured platform's standing, in configuration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub generated_at: DateTime<Utc>,
    pub platforms: Vec<PlatformStatus>,
}

/// The platforms a status report covers: `(name, kind, mode)`.
pub fn configured(settings: &Settings) -> Vec<(String, String, String)> {
    settings
        .platforms
        .values()
        .map(|p| {
            let kind = p.kind.as_str().to_owned();
            (p.name.clone(), kind, p.mode.as_str().to_owned())
        })
        .collect()
}

/// Reads the standing of `platforms` (see [`configured`]) at `now`. A platform the mirror has not
/// recorded yet (never run) stands empty.
///
/// # Errors
/// The mirror's, when it cannot be read.
pub async fn status(
    store: &Store,
    platforms: &[(String, String, String)],
    now: DateTime<Utc>,
) -> Result<StatusReport, store::Error> {
    let mut out = Vec::with_capacity(platforms.len());
    for (name, kind, mode) in platforms {
        let lease = super::lease::lease_name(name);
        match store.platform_status(name, &lease, now).await {
            Ok(s) => out.push(s),
            Err(store::Error::UnknownPlatform { .. }) => out.push(never_run(name, kind, mode)),
            Err(e) => return Err(e),
        }
    }
    Ok(StatusReport {
        generated_at: now,
        platforms: out,
    })
}

/// A platform the mirror knows of but that has never run (also the base of tests' fixtures).
pub fn never_run(name: &str, kind: &str, mode: &str) -> PlatformStatus {
    PlatformStatus {
        name: name.to_owned(),
        kind: kind.to_owned(),
        mode: mode.to_owned(),
        last_pull_at: None,
        last_run: None,
        last_apply: None,
        drift_counts: Default::default(),
        drift: Vec::new(),
        not_ours: Vec::new(),
        failed_operations: Vec::new(),
        unresolved_intents: 0,
        mark_queue: 0,
        oldest_mark_at: None,
        marks_dead: 0,
        marks_delivered_last_hour: 0,
        lease_holder: None,
        lease_expires_at: None,
        last_error: None,
        console_changes: Vec::new(),
    }
}
