//! `tagsync status [--format json]`: how each platform stands, from the mirror alone. It opens
//! only the mirror (no secret read, no platform called), so it works with the daemon running or
//! not.

use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::{Failure, Success};
use crate::engine::{self, StatusReport};
use crate::settings;
use crate::store::{PlatformStatus, RunBrief, Store};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned, coloured on a terminal unless NO_COLOR is set.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn run(config: &std::path::Path, args: StatusArgs) -> Result<Success, Failure> {
    let settings = settings::load_without_tags(config)?;
    let store = Store::open(&settings.database_url)
        .await
        .context("cannot open the mirror")?;
    let now = crate::clock::system().now();
    let report = engine::status(&store, &engine::configured(&settings), now)
        .await
        .context("cannot read the mirror")?;
    store.close().await;
    match args.format {
        // anstream drops the colours when stdout is not a terminal or NO_COLOR is set.
        Format::Text => anstream::print!("{}", render_text(&report, true)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        ),
    }
    Ok(Success::Done)
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// How long ago, in the largest unit that fits: `45s`, `12m`, `3h`, `2d`.
pub fn age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn paint(text: &str, colour: &str, on: bool) -> String {
    if on {
        format!("{colour}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

fn outcome_colour(status: &str) -> &'static str {
    match status {
        "succeeded" => GREEN,
        "failed" => RED,
        _ => YELLOW,
    }
}

fn run_line(run: &RunBrief, now: DateTime<Utc>, colour: bool) -> String {
    let status = paint(&run.status, outcome_colour(&run.status), colour);
    let at = run.finished_at.unwrap_or(run.started_at);
    let mut line = format!(
        "{status}, {} ago ({}, run {})",
        age(at, now),
        run.trigger,
        run.id
    );
    if run.applied > 0 || run.failed > 0 {
        let _ = write!(line, ": {} applied, {} failed", run.applied, run.failed);
    }
    line
}

/// The report as aligned text, one block per platform; with `colour`, outcomes and problems in
/// ANSI colours.
pub fn render_text(report: &StatusReport, colour: bool) -> String {
    let now = report.generated_at;
    let mut out = String::new();
    if report.platforms.is_empty() {
        out.push_str("No platform is configured.\n");
    }
    for (i, p) in report.platforms.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let title = paint(&p.name, BOLD, colour);
        let _ = writeln!(out, "{title} ({}, {})", p.kind, p.mode);
        for (label, value) in lines(p, now, colour) {
            let _ = writeln!(out, "  {label:<12}{value}");
        }
    }
    out
}

fn lines(p: &PlatformStatus, now: DateTime<Utc>, colour: bool) -> Vec<(&'static str, String)> {
    let never = || "never".to_owned();
    let warn = |text: String| paint(&text, YELLOW, colour);
    let bad = |text: String| paint(&text, RED, colour);
    let drift = if p.drift_counts.is_empty() {
        "none".to_owned()
    } else {
        let parts: Vec<String> = p
            .drift_counts
            .iter()
            .map(|(k, n)| format!("{} {n}", k.replace('_', " ")))
            .collect();
        warn(parts.join(", "))
    };
    let not_ours = if p.not_ours.is_empty() {
        "none".to_owned()
    } else {
        let names: Vec<&str> = p
            .not_ours
            .iter()
            .map(|n| n.name.as_deref().unwrap_or("(a group no longer listed)"))
            .collect();
        warn(format!("{} group(s): {}", names.len(), names.join(", ")))
    };
    let failed = match (&p.last_apply, p.failed_operations.len()) {
        (_, 0) => "none".to_owned(),
        (Some(run), n) => bad(format!("{n} in run {}", run.id)),
        (None, n) => bad(n.to_string()),
    };
    let mut failed = failed;
    if p.unresolved_intents > 0 {
        let _ = write!(
            failed,
            "; {}",
            warn(format!("{} without an outcome", p.unresolved_intents))
        );
    }
    let marks = {
        let mut m = format!("{} queued", p.mark_queue);
        if let Some(oldest) = p.oldest_mark_at {
            let _ = write!(m, ", oldest {}", age(oldest, now));
        }
        if p.marks_dead > 0 {
            let _ = write!(m, "; {}", bad(format!("{} dead", p.marks_dead)));
        }
        if p.marks_delivered_last_hour > 0 {
            let _ = write!(
                m,
                "; {} delivered in the last hour",
                p.marks_delivered_last_hour
            );
        }
        m
    };
    let lease = match (&p.lease_holder, p.lease_expires_at) {
        (Some(holder), Some(until)) => format!("held by {holder} for {}", age(now, until)),
        _ => "free".to_owned(),
    };
    vec![
        (
            "last pull",
            p.last_pull_at
                .map(|t| format!("{} ago", age(t, now)))
                .unwrap_or_else(never),
        ),
        (
            "last run",
            p.last_run
                .as_ref()
                .map(|r| run_line(r, now, colour))
                .unwrap_or_else(never),
        ),
        (
            "last apply",
            p.last_apply
                .as_ref()
                .map(|r| run_line(r, now, colour))
                .unwrap_or_else(never),
        ),
        ("drift", drift),
        ("not ours", not_ours),
        ("failed ops", failed),
        ("marks", marks),
        ("lease", lease),
        (
            "last error",
            p.last_error
                .clone()
                .map(bad)
                .unwrap_or_else(|| "none".into()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FailedOperation, NotOursGroup};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn report() -> StatusReport {
        let now = t("2026-12-02T12:00:00Z");
        let run = |id, trigger: &str, status: &str, hours: i64, applied, failed| RunBrief {
            id,
            trigger: trigger.into(),
            status: status.into(),
            started_at: now - chrono::Duration::hours(hours) - chrono::Duration::seconds(5),
            finished_at: Some(now - chrono::Duration::hours(hours)),
            applied,
            failed,
            error: None,
        };
        let wecom = PlatformStatus {
            name: "wecom-hq".into(),
            kind: "wecom".into(),
            mode: "enforce".into(),
            last_pull_at: Some(now - chrono::Duration::minutes(12)),
            last_run: Some(run(9, "schedule", "succeeded", 0, 0, 0)),
            last_apply: Some(run(6, "apply", "partial", 24, 2, 2)),
            drift_counts: [("missing".into(), 1), ("not_ours".into(), 2)].into(),
            drift: Vec::new(),
            not_ours: vec![NotOursGroup {
                name: Some("售后".into()),
                marked_at: now,
            }],
            failed_operations: vec![
                FailedOperation {
                    run_id: 6,
                    kind: "add_tags".into(),
                    target: "客户来源".into(),
                    attempts: 1,
                    error_class: "rejected".into(),
                    error: None,
                };
                2
            ],
            unresolved_intents: 1,
            mark_queue: 2,
            oldest_mark_at: Some(now - chrono::Duration::hours(50)),
            marks_dead: 1,
            marks_delivered_last_hour: 0,
            lease_holder: Some("host-a:4242:0000beef".into()),
            lease_expires_at: Some(now + chrono::Duration::seconds(90)),
            last_error: None,
            console_changes: Vec::new(),
        };
        let mut fresh = engine_never_run();
        fresh.last_error = Some("tag/list: the credential was refused: token expired".into());
        StatusReport {
            generated_at: now,
            platforms: vec![wecom, fresh],
        }
    }

    fn engine_never_run() -> PlatformStatus {
        crate::engine::never_run("juzi-main", "juzibot", "observe")
    }

    #[test]
    fn text_is_aligned_per_platform() {
        expect_test::expect![[r#"
            wecom-hq (wecom, enforce)
              last pull   12m ago
              last run    succeeded, 0s ago (schedule, run 9)
              last apply  partial, 1d ago (apply, run 6): 2 applied, 2 failed
              drift       missing 1, not ours 2
              not ours    1 group(s): 售后
              failed ops  2 in run 6; 1 without an outcome
              marks       2 queued, oldest 2d; 1 dead
              lease       held by host-a:4242:0000beef for 1m
              last error  none

            juzi-main (juzibot, observe)
              last pull   never
              last run    never
              last apply  never
              drift       none
              not ours    none
              failed ops  none
              marks       0 queued
              lease       free
              last error  tag/list: the credential was refused: token expired
        "#]]
        .assert_eq(&render_text(&report(), false));
    }

    #[test]
    fn colours_mark_outcomes_and_problems() {
        let text = render_text(&report(), true);
        assert!(text.contains("\x1b[33mpartial\x1b[0m"), "{text}");
        assert!(text.contains("\x1b[32msucceeded\x1b[0m"), "{text}");
        assert!(text.contains("\x1b[31m2 in run 6\x1b[0m"), "{text}");
    }

    #[test]
    fn ages_use_the_largest_unit() {
        let now = t("2026-12-02T12:00:00Z");
        let ago = |s| age(now - chrono::Duration::seconds(s), now);
        assert_eq!(
            [ago(5), ago(61), ago(7200), ago(200_000), ago(-5)],
            ["5s", "1m", "2h", "2d", "0s"]
        );
    }
}
