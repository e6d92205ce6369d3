//! `tagsync mark` (SPEC §3): checks a customer mark, queues it in `mark_requests`, and (without
//! `--queue`) delivers it at once and waits for the outcome; `--retry-dead` requeues dead
//! requests; `--drain` delivers everything queued, then exits. The checks, the queue and the
//! delivery are the engine's; this file parses and renders.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::render::UserError;
use super::{Failure, Success, load_inputs};
use crate::engine::{self, Engine, MarkError, MarkInput};
use crate::model::MarkStyle;
use crate::platforms::RetryPolicy;
use crate::settings::{PlatformSettings, Settings};
use crate::store::{MarkRow, MarkStatus};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct MarkArgs {
    /// The platform (a name under `platforms:`).
    #[arg(long, value_name = "NAME", required_unless_present_any = ["retry_dead", "drain"])]
    pub platform: Option<String>,
    /// The customer: WeCom `external_userid`, Juzibot `unionId`, Miaokol `contact_wxid`.
    #[arg(long, value_name = "ID", required_unless_present_any = ["retry_dead", "drain"])]
    pub contact: Option<String>,
    /// The staff member who owns the relationship: WeCom `userid`, Juzibot `userId`, Miaokol
    /// `rel_wxid`.
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// A tag to put on, by declared names (repeatable).
    #[arg(long = "add", value_name = "GROUP/TAG")]
    pub add: Vec<String>,
    /// A tag to take off, by declared names (repeatable).
    #[arg(long = "remove", value_name = "GROUP/TAG")]
    pub remove: Vec<String>,
    /// Only queue it (exit 0 at once); the daemon delivers it.
    #[arg(long)]
    pub queue: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Requeue the requests given up on (dead), of --platform or of every platform.
    #[arg(long, conflicts_with_all = ["contact", "user", "add", "remove", "queue", "drain"])]
    pub retry_dead: bool,
    /// Deliver everything queued (of --platform, or of every platform that can mark), waiting
    /// out retries, then exit: for setups without the daemon.
    #[arg(long, conflicts_with_all = ["contact", "user", "add", "remove", "queue"])]
    pub drain: bool,
}

pub async fn run(config: &std::path::Path, args: MarkArgs) -> Result<Success, Failure> {
    let super::Inputs {
        settings, desired, ..
    } = load_inputs(config)?;
    let selected: Vec<&PlatformSettings> = match &args.platform {
        Some(name) => vec![platform(&settings, name)?],
        None => settings.platforms.values().collect(),
    };
    let engine = Engine::open(&settings, crate::clock::system())
        .await
        .context("cannot open the mirror")?;
    if args.retry_dead {
        let n = engine
            .retry_dead_marks(args.platform.as_deref())
            .await
            .context("cannot requeue dead marks")?;
        match args.format {
            Format::Text => println!("Requeued {n} dead mark request(s)."),
            Format::Json => println!("{}", serde_json::json!({ "requeued": n })),
        }
        return Ok(Success::Done);
    }
    if args.drain {
        return drain(&engine, &settings, &selected, &desired, args.format).await;
    }
    let p = selected[0];
    let input = MarkInput {
        contact: args.contact.clone().unwrap_or_default(),
        user: args.user.clone(),
        add: args.add.clone(),
        remove: args.remove.clone(),
    };
    // Every secret is read before anything is queued or sent.
    let target = if args.queue {
        None
    } else {
        let names = [p.name.clone()];
        let mut targets =
            engine::connect(&settings, &names, RetryPolicy::default()).map_err(UserError::from)?;
        Some(targets.remove(0))
    };
    let id = match engine.enqueue_mark(p, &desired, &input).await {
        Ok(id) => id,
        Err(MarkError::Refused(problems)) => {
            let hint = problems[0].hint();
            return Err(UserError::all(problems.iter().map(ToString::to_string))
                .hint(hint)
                .into());
        }
        Err(e @ MarkError::Store(_)) => return Err(anyhow::Error::new(e).into()),
    };
    let Some(target) = target else {
        let row = read(&engine, id).await?;
        print(
            &row,
            args.format,
            "queued; the daemon (`tagsync run`) delivers it",
        );
        return Ok(Success::Done);
    };
    let report = engine
        .deliver_marks_of(&target, &desired, &input.contact, input.user.as_deref())
        .await
        .context("cannot deliver the mark")?;
    tracing::debug!(calls = report.calls, "Delivered.");
    let row = read(&engine, id).await?;
    let after = |what: &str| {
        let error = row.last_error.as_deref().unwrap_or("no answer yet");
        format!("{what}: {error}")
    };
    match row.status {
        MarkStatus::Succeeded => {
            print(&row, args.format, "delivered: the platform has it");
            Ok(Success::Done)
        }
        MarkStatus::Dead => {
            print(&row, args.format, "refused");
            Err(anyhow::anyhow!(
                "{}; the request is dead (`tagsync mark --retry-dead` requeues it)",
                after(&format!("mark request {id} was refused by {}", p.name))
            )
            .into())
        }
        MarkStatus::Queued | MarkStatus::Claimed => {
            print(&row, args.format, "not delivered; still queued");
            let why = if row.attempts == 0 && row.status == MarkStatus::Queued {
                format!(
                    "mark request {id} waits behind an earlier request of this customer that is not yet delivered"
                )
            } else if row.status == MarkStatus::Claimed {
                format!("mark request {id} is being delivered by another worker")
            } else {
                after(&format!("mark request {id} was not delivered"))
            };
            Err(anyhow::anyhow!(
                "{why}; it stays queued and the daemon (`tagsync run`) delivers it (next attempt at {})",
                row.next_attempt_at.to_rfc3339()
            )
            .into())
        }
    }
}

fn platform<'a>(settings: &'a Settings, name: &str) -> Result<&'a PlatformSettings, Failure> {
    settings.platforms.get(name).ok_or_else(|| {
        let known: Vec<&str> = settings.platforms.keys().map(String::as_str).collect();
        UserError::new(format!("--platform {name:?} is not configured"))
            .hint(format!(
                "configured platforms: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
            .into()
    })
}

async fn read(engine: &Engine, id: i64) -> Result<MarkRow, Failure> {
    Ok(engine
        .store()
        .mark(id)
        .await
        .context("cannot read the mark back")?
        .context("the queued mark vanished from the mirror")?)
}

fn print(row: &MarkRow, format: Format, what: &str) {
    match format {
        Format::Text => println!(
            "Mark request {} for {} on {}: {what}.",
            row.id, row.contact, row.platform
        ),
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "id": row.id,
                "platform": row.platform,
                "contact": row.contact,
                "user_id": row.user_id,
                "add": row.add_tags,
                "remove": row.remove_tags,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": row.next_attempt_at,
                "last_error": row.last_error,
            })
        ),
    }
}

/// `--drain`: every selected platform that can mark, until nothing is left queued.
async fn drain(
    engine: &Engine,
    settings: &Settings,
    selected: &[&PlatformSettings],
    desired: &crate::model::Desired,
    format: Format,
) -> Result<Success, Failure> {
    let names: Vec<String> = selected
        .iter()
        .filter(|p| p.kind.capabilities().mark != MarkStyle::No)
        .map(|p| p.name.clone())
        .collect();
    if names.is_empty() {
        return Err(UserError::new("no selected platform can mark customers")
            .hint("marks go to WeCom, Juzibot or Miaokol platforms")
            .into());
    }
    let targets =
        engine::connect(settings, &names, RetryPolicy::default()).map_err(UserError::from)?;
    // Platforms drain side by side, each in customer order.
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        let (engine, desired) = (engine.clone(), desired.clone());
        tasks.spawn(async move {
            let total = drain_one(&engine, &target, &desired).await;
            (target.name, total)
        });
    }
    let mut done = std::collections::BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (name, total) = joined.context("a drain task failed")?;
        done.insert(name, total?);
    }
    let mut reports = serde_json::Map::new();
    for (name, total) in done {
        match format {
            Format::Text => println!(
                "{name}: {} delivered, {} retried, {} dead, {} call(s).",
                total.succeeded, total.retried, total.dead, total.calls
            ),
            Format::Json => {
                reports.insert(name, serde_json::to_value(&total).expect("serialises"));
            }
        }
    }
    if format == Format::Json {
        println!("{}", serde_json::Value::Object(reports));
    }
    Ok(Success::Done)
}

/// One platform's queue, until nothing is left in it.
async fn drain_one(
    engine: &Engine,
    target: &engine::Target,
    desired: &crate::model::Desired,
) -> anyhow::Result<engine::DrainReport> {
    let mut total = engine::DrainReport::default();
    loop {
        let r = engine
            .drain_marks(target, desired)
            .await
            .context("cannot drain the mark queue")?;
        total.succeeded += r.succeeded;
        total.retried += r.retried;
        total.dead += r.dead;
        total.calls += r.calls;
        total.released += r.released;
        let left = engine
            .store()
            .mark_queue_stats(&target.name)
            .await
            .context("cannot read the mark queue")?;
        if left.queued == 0 {
            return Ok(total);
        }
        // Retries wait out their backoff; claims of another worker their lease.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
