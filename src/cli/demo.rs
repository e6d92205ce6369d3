//! `tagsync demo`: the simulators, a SQLite mirror in a temporary directory and a scripted tag
//! file; one full cycle (plan, apply, plan again) and a short report read back from the mirror.

use std::time::Duration;

use anyhow::Context as _;

use super::sync::{Target, sync_all};
use super::{Failure, Success};
use crate::model::tagfile;
use crate::planner;
use crate::platforms::{self, RetryPolicy};
use crate::settings::{Kind, Mode, PlatformSettings, SecretSource};
use crate::sim::{self, SimOptions, SimPlatform};
use crate::store::Store;

const CONSOLE: &str = include_str!("demo/console.yaml");
const TAGS: &str = include_str!("demo/tags.yaml");

pub async fn run() -> Result<Success, Failure> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let fixture = sim::Fixture::from_yaml(CONSOLE).context("the demo's console fixture")?;
    let token = fixture.token.clone();
    let handle = sim::start(
        SimPlatform::Juzibot,
        SimOptions {
            fixture,
            ..SimOptions::default()
        },
    )
    .await
    .context("cannot start the Juzibot simulator")?;
    println!("Juzibot simulator: {}", handle.base_url());

    let db = dir.path().join("tagsync.db");
    let database_url = format!("sqlite://{}?mode=rwc", db.display());
    let platform = PlatformSettings {
        name: "juzi-demo".into(),
        kind: Kind::Juzibot,
        base_url: handle.base_url().parse().context("the simulator's URL")?,
        mode: Mode::Enforce,
        rate_limit: None,
        schedule: None,
        secret: SecretSource::Env("TAGSYNC_DEMO_TOKEN".into()),
        corp_id: None,
        strategy_id: None,
        app_id: None,
        timeout: Duration::from_secs(5),
    };
    let ctx = tagfile::Context {
        known_platforms: [platform.name.clone()].into(),
        default_platforms: [platform.name.clone()].into(),
        prune_default: false,
    };
    let desired = tagfile::parse(
        &[tagfile::Source {
            name: "demo/tags.yaml".into(),
            text: TAGS.into(),
        }],
        &ctx,
    )?;
    println!("Mirror: {database_url}\n\nTag file (demo/tags.yaml):\n{TAGS}");

    let store = Store::open(&database_url)
        .await
        .context("cannot open the mirror")?;
    store
        .upsert_platform(
            &platform.name,
            platform.kind.as_str(),
            platform.mode.as_str(),
        )
        .await
        .context("the mirror")?;
    let client = platforms::connect(&platform, token.into(), RetryPolicy::fast())
        .map_err(Failure::Invalid)?;
    let targets = vec![Target {
        settings: platform.clone(),
        client,
    }];

    println!("== 1. plan: what the console has, against the tag file\n");
    let first = sync_all(&store, &targets, &desired, 20, false, "demo").await;
    let plans: Vec<_> = first
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("plan")?
        .into_iter()
        .map(|r| r.plan)
        .collect();
    anstream::print!("{}", planner::render_text(&plans));

    println!("\n== 2. apply\n");
    let applied = sync_all(&store, &targets, &desired, 20, true, "demo").await;
    for r in applied {
        let r = r.context("apply")?;
        println!(
            "{}: {} operations applied, {} refused as not ours (remembered: shown as `!` from now on), {} API calls in {} round(s)",
            r.platform, r.succeeded, r.not_ours, r.api_calls, r.rounds
        );
    }

    println!("\n== 3. plan again: in step, apart from what only a person can fix\n");
    let second = sync_all(&store, &targets, &desired, 20, false, "demo").await;
    let plans: Vec<_> = second
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("plan")?
        .into_iter()
        .map(|r| r.plan)
        .collect();
    anstream::print!("{}", planner::render_text(&plans));

    println!("\n== 4. the mirror, as an analyst would query it\n");
    report(&store, &platform.name).await?;
    let calls = handle.calls();
    println!(
        "\nThe simulator served {} requests; writes: {}.",
        calls.len(),
        handle.writes().len()
    );
    drop(handle);
    Ok(Success::Done)
}

async fn report(store: &Store, platform: &str) -> Result<(), Failure> {
    let runs = store.runs(platform, 10).await.context("runs")?;
    println!("sync_runs:");
    for r in runs.iter().rev() {
        println!(
            "  #{} {:<6} {:<10} planned {:>2}, applied {:>2}, failed {}, {} API calls",
            r.id,
            r.trigger,
            r.status.map(|s| s.as_str()).unwrap_or("running"),
            r.planned,
            r.applied,
            r.failed,
            r.api_calls
        );
    }
    let events = store.events(platform).await.context("events")?;
    println!("tag_events (changes made by tagsync):");
    for e in events.iter().filter(|e| e.source.as_str() == "apply") {
        println!(
            "  {:<9} {:<5} {} → {}",
            e.kind.as_str(),
            e.object.as_str(),
            e.old_value.as_deref().unwrap_or("-"),
            e.new_value.as_deref().unwrap_or("-")
        );
    }
    let drift = store.drift(platform).await.context("drift")?;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for d in &drift {
        *counts.entry(d.status.clone()).or_default() += 1;
    }
    println!(
        "v_drift: {}",
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
