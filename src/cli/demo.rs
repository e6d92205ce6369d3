//! `tagsync demo`: every platform simulator, a SQLite mirror in a temporary directory, the example
//! tag files and a configuration like the example one; one full cycle (plan, apply, plan again)
//! and a short report read back from the mirror. It runs the same code paths as `plan` and
//! `apply`: configuration and tag files are validated, secrets read from files.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::render::UserError;
use super::{Failure, Success, load_inputs};
use crate::clock;
use crate::engine::{self, CycleReport, CycleRequest, Engine, RunMode, Target, Trigger};
use crate::planner::{self, PlatformPlan};
use crate::platforms::RetryPolicy;
use crate::sim::{self, FaultSpec, SeedFile, SimHandle, SimPlatform};
use crate::store::Store;

const CONSOLE: &str = include_str!("demo/console.yaml");
const TAG_FILES: [(&str, &str); 2] = [
    (
        "10-customer.yaml",
        include_str!("../../config/tags/10-customer.yaml"),
    ),
    (
        "20-intent.yaml",
        include_str!("../../config/tags/20-intent.yaml"),
    ),
];

/// The example configuration's platform name for each simulator, and its kind-specific keys.
fn platform_config(p: SimPlatform) -> (&'static str, &'static str, &'static str) {
    match p {
        SimPlatform::Wecom => (
            "wecom-hq",
            "wecom",
            "corp_id: ww0123456789abcdef\n    strategy_id: 1\n",
        ),
        SimPlatform::Juzibot => ("juzi-main", "juzibot", ""),
        SimPlatform::Yzj => ("yzj", "yzj", "app_id: 44n2AsVZArKefJbuaE\n"),
        SimPlatform::Dustess => ("dustess", "dustess", ""),
        SimPlatform::WechatCrm => ("crm", "wechat_crm", "mode: observe\n"),
    }
}

pub async fn run() -> Result<Success, Failure> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let seed = SeedFile::from_yaml(CONSOLE).context("the demo's console state")?;
    let sims = sim::start_all(None, &seed, &FaultSpec::default())
        .await
        .context("cannot start the simulators")?;
    let config = write_files(dir.path(), &sims, &seed)?;
    println!("Simulators:");
    for h in &sims {
        println!("  {:<10} {}", h.platform(), h.base_url());
    }
    println!(
        "Configuration: {}\nTag files: config/tags/ (the repository's examples)\n",
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
            "  {:<10} {:>2} applied, {} refused as not ours, {:>2} API calls, {}",
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

/// Writes the configuration, the secrets (as files, the way a deployment would) and the tag files.
fn write_files(
    dir: &Path,
    sims: &[SimHandle],
    seed: &SeedFile,
) -> Result<std::path::PathBuf, Failure> {
    let mut config = format!(
        "database_url: sqlite://{}/tagsync.db?mode=rwc\ntags: {}/tags\nplatforms:\n",
        dir.display(),
        dir.display()
    );
    std::fs::create_dir_all(dir.join("secrets")).context("secrets directory")?;
    std::fs::create_dir_all(dir.join("tags")).context("tags directory")?;
    for h in sims {
        let (name, kind, extra) = platform_config(h.platform());
        let token = seed
            .fixture(h.platform())
            .map(|f| f.token.clone())
            .unwrap_or_default();
        let secret = dir.join("secrets").join(name);
        std::fs::write(&secret, token).context("writing a secret file")?;
        let _ = write!(
            config,
            "  {name}:\n    kind: {kind}\n    base_url: {}\n    secret_file: {}\n    {}",
            h.base_url(),
            secret.display(),
            extra
        );
        if !config.ends_with('\n') {
            config.push('\n');
        }
    }
    for (file, text) in TAG_FILES {
        std::fs::write(dir.join("tags").join(file), text).context("writing a tag file")?;
    }
    let path = dir.join("tagsync.yaml");
    std::fs::write(&path, config).context("writing the configuration")?;
    Ok(path)
}

async fn report(store: &Store, targets: &[Target]) -> Result<String, Failure> {
    let mut out =
        String::from("  platform    runs  API calls  made by tagsync  seen in consoles  drift\n");
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
            "  {name:<10} {:>5} {calls:>10} {made:>16} {seen:>17}  {}",
            runs.len(),
            counts.join(", ")
        );
    }
    Ok(out)
}
