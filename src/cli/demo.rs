//! `tagsync demo`: every platform simulator, a SQLite mirror in a temporary directory, the example
//! tag files and a configuration like the example one; one full cycle (plan, apply, plan again)
//! and a short report read back from the mirror. It runs the same code paths as `plan` and
//! `apply`: configuration and tag files are validated, secrets read from files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::render::UserError;
use super::{Failure, Success, load_inputs, simconfig};
use crate::clock;
use crate::engine::{self, CycleReport, CycleRequest, Engine, RunMode, Target, Trigger};
use crate::planner::{self, PlatformPlan};
use crate::platforms::RetryPolicy;
use crate::sim::{self, FaultSpec, SeedFile};
use crate::store::Store;

const CONSOLE: &str = include_str!("demo/console.yaml");
/// With `keep`, the files go to that directory (new or empty) and stay; otherwise to a temporary
/// one.
pub async fn run(keep: Option<PathBuf>) -> Result<Success, Failure> {
    let temp;
    let dir: &Path = match &keep {
        Some(dir) => {
            let in_use = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
            if in_use {
                return Err(UserError::new(format!("{} is not empty", dir.display()))
                    .hint("`demo --keep` needs a new or empty directory, so that the mirror holds this run alone")
                    .into());
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path()
        }
    };
    let seed = SeedFile::from_yaml(CONSOLE).context("the demo's console state")?;
    let sims = sim::start_all(None, &seed, &FaultSpec::default())
        .await
        .context("cannot start the simulators")?;
    let config = dir.join("tagsync.yaml");
    simconfig::write(&config, &sims, &seed).context("cannot write the demo's configuration")?;
    println!("Simulators:");
    for h in &sims {
        println!("  {:<10} {}", h.platform(), h.base_url());
    }
    println!(
        "Configuration: {}\nTag files: the repository's examples (config/tags/)\n",
        config.display()
    );

    let inputs = load_inputs(&config)?;
    let targets =
        engine::connect(&inputs.settings, &[], RetryPolicy::fast()).map_err(UserError::from)?;
    let engine = Engine::open(&inputs.settings, clock::system())
        .await
        .context("cannot open the mirror")?;
    let request = |mode| CycleRequest {
        trigger: Trigger::Demo,
        mode,
        max_deletes: inputs.settings.max_deletes as usize,
    };

    println!("== 1. plan: what each console holds, against the tag files\n");
    let plans = reports(
        engine
            .cycle_all(&targets, &inputs.desired, &request(RunMode::DryRun))
            .await,
    )?;
    anstream::print!(
        "{}",
        planner::render_text(&plans.iter().map(|r| r.plan.clone()).collect::<Vec<_>>())
    );

    println!("\n== 2. apply\n");
    let applied = reports(
        engine
            .cycle_all(&targets, &inputs.desired, &request(RunMode::Enforce))
            .await,
    )?;
    for r in &applied {
        println!(
            "  {:<10} {:>2} applied, {} refused as not ours, {:>2} HTTP requests (reads and retries included), {}",
            r.platform,
            r.succeeded,
            r.not_ours,
            r.api_calls,
            if r.converged() {
                "in step"
            } else {
                "NOT in step"
            }
        );
    }

    println!("\n== 3. plan again: in step, apart from what only a person can fix\n");
    let again = reports(
        engine
            .cycle_all(&targets, &inputs.desired, &request(RunMode::DryRun))
            .await,
    )?;
    let again: Vec<PlatformPlan> = again.into_iter().map(|r| r.plan).collect();
    anstream::print!("{}", planner::render_text(&again));

    println!("\n== 4. the mirror, as an analyst would query it\n");
    print!("{}", report(engine.store(), &targets).await?);
    let served: usize = sims.iter().map(|h| h.calls().len()).sum();
    println!("\nThe simulators served {served} requests in all.");
    for h in sims {
        h.shutdown().await.context("stopping a simulator")?;
    }
    if let Some(dir) = &keep {
        let db = std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.clone())
            .join("tagsync.db");
        println!(
            "\nThe mirror is kept: sqlite3 {} (README: \"The mirror and reporting queries\").",
            db.display()
        );
    }
    if again.iter().any(PlatformPlan::has_changes) {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "the demo did not converge"
        )));
    }
    Ok(Success::Done)
}

fn reports(results: Vec<Result<CycleReport, engine::Error>>) -> Result<Vec<CycleReport>, Failure> {
    results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Runtime(anyhow::Error::new(e)))
}

async fn report(store: &Store, targets: &[Target]) -> Result<String, Failure> {
    let mut out = String::from(
        "  platform    runs  HTTP requests  made by tagsync  seen in consoles  drift\n",
    );
    for t in targets {
        let name = &t.name;
        let runs = store.runs(name, 100).await.context("runs")?;
        let calls: i64 = runs.iter().map(|r| r.api_calls).sum();
        let events = store.events(name).await.context("events")?;
        let made = events
            .iter()
            .filter(|e| e.source.as_str() == "apply")
            .count();
        let seen = events.len() - made;
        let drift = store.drift(name).await.context("drift")?;
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for d in &drift {
            *counts.entry(d.status.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "  {name:<10} {:>5} {calls:>14} {made:>16} {seen:>17}  {}",
            runs.len(),
            counts.join(", ")
        );
    }
    Ok(out)
}
