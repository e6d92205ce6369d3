//! `tagsync plan` and `tagsync apply`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::{Failure, Success, load_inputs};
use crate::apply::{self, ApplySettings, Report};
use crate::model::Desired;
use crate::planner::saved::{self, SavedPlan, SavedPlatform};
use crate::planner::{self, PlatformPlan};
use crate::platforms::{self, Platform, RetryPolicy};
use crate::settings::{Mode, PlatformSettings, Settings};
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Only these platforms (repeatable); all configured ones by default.
    #[arg(long = "platform", value_name = "NAME")]
    pub platforms: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 3 when the plan has operations to send (0 when it has none).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also save the plan, with a fingerprint of the state it was made from, for `apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`: apply exactly it, or refuse if a platform changed since.
    #[arg(value_name = "PLAN")]
    pub saved: Option<std::path::PathBuf>,
    /// Only these platforms (repeatable); all configured ones by default.
    #[arg(long = "platform", value_name = "NAME")]
    pub platforms: Vec<String>,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Allow up to N tag deletions per platform in this run, above `max_deletes`.
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<usize>,
}

/// A configured platform, connected, with its settings.
pub struct Target {
    pub settings: PlatformSettings,
    pub client: Arc<dyn Platform>,
}

/// Checks every secret the selected platforms need, then connects them. No call is made here, so
/// a missing secret stops the command before it talks to any platform.
pub fn connect_all(
    settings: &Settings,
    names: &[String],
    retry: RetryPolicy,
) -> Result<Vec<Target>, Failure> {
    let selected = settings.select(names).map_err(|e| {
        Failure::Invalid(format!(
            "error: {e}\n  hint: pass a name configured under `platforms:`"
        ))
    })?;
    let mut problems = Vec::new();
    let mut secrets = Vec::new();
    for p in &selected {
        match p.secret.read(&p.name) {
            Ok(s) => secrets.push(Some(s)),
            Err(e) => {
                problems.push(format!("error: {e}"));
                secrets.push(None);
            }
        }
    }
    if !problems.is_empty() {
        problems.push("  hint: secrets come only from the variable or file named by `secret_env` / `secret_file`".into());
        return Err(Failure::Invalid(problems.join("\n")));
    }
    selected
        .into_iter()
        .zip(secrets)
        .map(|(p, s)| {
            let client = platforms::connect(p, s.expect("checked above"), retry)?;
            Ok(Target {
                settings: p.clone(),
                client,
            })
        })
        .collect()
}

pub async fn open_store(settings: &Settings) -> Result<Store, Failure> {
    let store = Store::open(&settings.database_url)
        .await
        .context("cannot open the mirror")?;
    for p in settings.platforms.values() {
        store
            .upsert_platform(&p.name, p.kind.as_str(), p.mode.as_str())
            .await
            .context("cannot record the platforms in the mirror")?;
    }
    Ok(store)
}

/// Pulls and plans every target; with `send`, applies what each plan says.
pub async fn sync_all(
    store: &Store,
    targets: &[Target],
    desired: &Desired,
    max_deletes: usize,
    send: bool,
    trigger: &'static str,
) -> Vec<Result<Report, apply::Error>> {
    let mut out = Vec::new();
    for t in targets {
        let settings = ApplySettings {
            dry_run: !send || t.settings.mode == Mode::Observe,
            max_rounds: 5,
            max_deletes,
            trigger,
            lease_wait: std::time::Duration::from_secs(60),
        };
        let mut r = apply::sync_platform(
            store,
            &t.settings.name,
            t.client.as_ref(),
            desired,
            &settings,
        )
        .await;
        if let Ok(report) = &mut r
            && t.settings.mode == Mode::Observe
        {
            report
                .plan
                .notes
                .push("observe mode: changes are reported, never sent".into());
        }
        out.push(r);
    }
    out
}

fn plans_of(results: &[Result<Report, apply::Error>]) -> Vec<PlatformPlan> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.plan.clone())
        .collect()
}

fn failures(results: &[Result<Report, apply::Error>]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect()
}

pub async fn plan(config: &std::path::Path, args: PlanArgs) -> Result<Success, Failure> {
    let super::Inputs {
        settings, desired, ..
    } = load_inputs(config)?;
    let targets = connect_all(&settings, &args.platforms, RetryPolicy::default())?;
    let store = open_store(&settings).await?;
    let results = sync_all(
        &store,
        &targets,
        &desired,
        settings.max_deletes as usize,
        false,
        "plan",
    )
    .await;
    let plans = plans_of(&results);
    let errors = failures(&results);
    if let Some(path) = &args.out
        && errors.is_empty()
    {
        save_plan(path, &results)?;
    }
    match args.format {
        Format::Text => anstream::print!("{}", planner::render_text(&plans)),
        Format::Json => {
            let mut doc = planner::render_json(&plans);
            doc["errors"] = serde_json::json!(errors);
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("JSON serialises")
            );
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Runtime(anyhow::anyhow!(errors.join("\n"))));
    }
    let pending = plans.iter().any(|p| p.has_changes())
        && targets.iter().any(|t| t.settings.mode == Mode::Enforce);
    Ok(if args.detailed_exitcode && pending {
        Success::ChangesPending
    } else {
        Success::Done
    })
}

/// Writes the plans of a dry run, with their bases, for `apply FILE`.
/// The plans of a dry run, each with the state it was made from, as a saved plan holds them.
fn saved_from(results: &[Result<Report, apply::Error>]) -> Vec<SavedPlatform> {
    results
        .iter()
        .flatten()
        .map(|r| SavedPlatform {
            platform: r.platform.clone(),
            fingerprint: r.basis.fingerprint(),
            basis: r.basis.clone(),
            plan: r.plan.clone(),
        })
        .collect()
}

fn save_plan(
    path: &std::path::Path,
    results: &[Result<Report, apply::Error>],
) -> Result<(), Failure> {
    let saved = SavedPlan {
        format: saved::FORMAT.into(),
        created_at: chrono::Utc::now(),
        platforms: saved_from(results),
    };
    let text = serde_json::to_string_pretty(&saved).expect("a plan serialises");
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    eprintln!(
        "Saved the plan to {}; apply it with `tagsync apply {}`.",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Reads a saved plan; a file that is not one is an input error.
fn load_plan(path: &std::path::Path) -> Result<SavedPlan, Failure> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Invalid(format!(
            "error: cannot read the saved plan {shown}: {}",
            crate::model::diag::io_reason(&e)
        ))
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        Failure::Invalid(format!(
            "error: {shown}:{}:{}: not a saved plan: {e}\n  hint: make one with `tagsync plan --out {shown}`",
            e.line(),
            e.column()
        ))
    })?;
    if saved.format != saved::FORMAT {
        return Err(Failure::Invalid(format!(
            "error: {shown}: a saved plan of format {:?}; this tagsync reads {:?}\n  hint: make a new plan with this version",
            saved.format,
            saved::FORMAT
        )));
    }
    Ok(saved)
}

/// `apply FILE`: exactly the saved plan, platform by platform.
async fn apply_saved_file(
    config: &std::path::Path,
    path: &std::path::Path,
    args: &ApplyArgs,
) -> Result<Success, Failure> {
    let mut saved = load_plan(path)?;
    if !args.platforms.is_empty() {
        saved
            .platforms
            .retain(|p| args.platforms.contains(&p.platform));
    }
    let settings = crate::settings::load(config)?;
    let names: Vec<String> = saved.platforms.iter().map(|p| p.platform.clone()).collect();
    let targets = connect_all(&settings, &names, RetryPolicy::default())?;
    let store = open_store(&settings).await?;
    anstream::print!(
        "{}",
        planner::render_text(
            &saved
                .platforms
                .iter()
                .map(|p| p.plan.clone())
                .collect::<Vec<_>>()
        )
    );
    if saved.platforms.iter().any(|p| p.plan.has_changes()) && !args.yes && !confirm()? {
        println!("Apply cancelled; nothing was sent.");
        return Ok(Success::Done);
    }
    let max_deletes = args.allow_deletes.unwrap_or(settings.max_deletes as usize);
    send_saved(
        &store,
        &saved.platforms,
        &targets,
        max_deletes,
        "apply-saved",
    )
    .await
}

/// Sends exactly these plans (`targets` in the same order), refusing a platform that changed since
/// its plan was made.
async fn send_saved(
    store: &Store,
    plans: &[SavedPlatform],
    targets: &[Target],
    max_deletes: usize,
    trigger: &'static str,
) -> Result<Success, Failure> {
    let mut problems = Vec::new();
    for (p, t) in plans.iter().zip(targets) {
        let apply_settings = ApplySettings {
            dry_run: t.settings.mode == Mode::Observe,
            max_rounds: 1,
            max_deletes,
            trigger,
            lease_wait: std::time::Duration::from_secs(60),
        };
        match apply::apply_saved(store, p, t.client.as_ref(), &apply_settings).await {
            Ok(r) => {
                println!(
                    "{}: {} of {} operations applied, {} failed, {} refused as not ours; {} API calls",
                    r.platform,
                    r.succeeded,
                    p.plan.ops.len(),
                    r.failed,
                    r.not_ours,
                    r.api_calls
                );
                problems.extend(r.errors);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(Success::Done)
    } else {
        Err(Failure::Runtime(anyhow::anyhow!(problems.join("\n"))))
    }
}

pub async fn apply(config: &std::path::Path, args: ApplyArgs) -> Result<Success, Failure> {
    if let Some(path) = &args.saved {
        return apply_saved_file(config, path, &args).await;
    }
    let super::Inputs {
        settings, desired, ..
    } = load_inputs(config)?;
    let targets = connect_all(&settings, &args.platforms, RetryPolicy::default())?;
    let store = open_store(&settings).await?;
    let max_deletes = args.allow_deletes.unwrap_or(settings.max_deletes as usize);
    if !args.yes {
        let preview = sync_all(&store, &targets, &desired, max_deletes, false, "plan").await;
        anstream::print!("{}", planner::render_text(&plans_of(&preview)));
        let errors = failures(&preview);
        if !errors.is_empty() {
            return Err(Failure::Runtime(anyhow::anyhow!(errors.join("\n"))));
        }
        if !plans_of(&preview).iter().any(PlatformPlan::has_changes) {
            println!("Nothing to apply.");
            return Ok(Success::Done);
        }
        if !confirm()? {
            println!("Apply cancelled; nothing was sent.");
            return Ok(Success::Done);
        }
        // Send what was confirmed, not a fresh plan: a platform that changed meanwhile is refused.
        return send_saved(
            &store,
            &saved_from(&preview),
            &targets,
            max_deletes,
            "apply",
        )
        .await;
    }
    let results = sync_all(&store, &targets, &desired, max_deletes, true, "apply").await;
    if args.yes {
        anstream::print!("{}", planner::render_text(&plans_of(&results)));
    }
    let mut problems = failures(&results);
    for r in results.iter().flatten() {
        println!(
            "{}: {} operation{} applied, {} failed, {} refused as not ours; {} API call{}; {}",
            r.platform,
            r.succeeded,
            if r.succeeded == 1 { "" } else { "s" },
            r.failed,
            r.not_ours,
            r.api_calls,
            if r.api_calls == 1 { "" } else { "s" },
            if r.converged() {
                "in step"
            } else {
                "NOT in step"
            }
        );
        problems.extend(r.errors.iter().cloned());
    }
    if problems.is_empty() {
        Ok(Success::Done)
    } else {
        Err(Failure::Runtime(anyhow::anyhow!(problems.join("\n"))))
    }
}

/// Asks on a terminal; refuses to guess when there is none.
fn confirm() -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Invalid(
            "error: apply needs confirmation, and standard input is not a terminal\n  hint: review `tagsync plan`, then run `tagsync apply --yes`".into(),
        ));
    }
    print!("\nApply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(line.trim() == "yes")
}
