//! `tagsync plan` and `tagsync apply`: arguments, the confirmation prompt, and rendering the
//! engine's reports. The engine decides everything else.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::render::UserError;
use super::{Failure, Success, load_inputs};
use crate::clock;
use crate::engine::{self, CycleReport, CycleRequest, Engine, RunMode, Target, Trigger};
use crate::planner::saved::{self, SavedPlan, SavedPlatform};
use crate::planner::{self, PlatformPlan};
use crate::platforms::RetryPolicy;
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// The plan as a pull-request comment (GitHub-flavoured Markdown).
    Markdown,
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

/// The reports of a run of every platform, and the errors that stopped some of them.
type Results = Vec<Result<CycleReport, engine::Error>>;

/// The plans to show: each report's, and the plan a refusal is about (the delete guard's).
fn plans_of(results: &Results) -> Vec<PlatformPlan> {
    results
        .iter()
        .filter_map(|r| match r {
            Ok(r) => Some(&r.plan),
            Err(e) => e.plan(),
        })
        .cloned()
        .collect()
}

fn failures(results: &Results) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect()
}

/// The delete guard's refusals among `plans`, as errors; apply asks for no confirmation then.
fn refused_by_guard<'a>(plans: impl IntoIterator<Item = &'a PlatformPlan>) -> Vec<String> {
    plans
        .into_iter()
        .filter_map(|p| {
            let g = p.delete_guard.filter(|g| g.refused)?;
            Some(format!("{}: {}; nothing was sent", p.platform, g.verdict()))
        })
        .collect()
}

/// Checks, before any call, that the plan can be written to `path` (`plan --out`).
fn check_out(path: &std::path::Path) -> Result<(), UserError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let problem = if !parent.is_dir() {
        Some(format!("the directory {} does not exist", parent.display()))
    } else if path.is_dir() {
        Some("it is a directory".to_owned())
    } else {
        let existed = path.exists();
        match std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
        {
            Ok(_) => {
                if !existed {
                    let _ = std::fs::remove_file(path);
                }
                None
            }
            Err(e) => Some(crate::model::diag::io_reason(&e)),
        }
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(UserError::new(format!(
            "cannot write the plan to {}: {why}",
            path.display()
        ))
        .hint("pass --out a writable path in an existing directory; nothing was read or sent")),
    }
}

/// Connects the selected platforms (every secret read first) and opens the mirror; progress is
/// drawn `for_a_person` (text output) on a terminal.
async fn start(
    settings: &Settings,
    names: &[String],
    for_a_person: bool,
) -> Result<(Engine, Vec<Target>), Failure> {
    let targets =
        engine::connect(settings, names, RetryPolicy::default()).map_err(UserError::from)?;
    let engine = Engine::open(settings, clock::system())
        .await
        .context("cannot open the mirror")?;
    super::progress::attach(&engine, for_a_person);
    Ok((engine, targets))
}

fn request(trigger: Trigger, mode: RunMode, max_deletes: usize) -> CycleRequest {
    CycleRequest {
        trigger,
        mode,
        max_deletes,
    }
}

pub async fn plan(config: &std::path::Path, args: PlanArgs) -> Result<Success, Failure> {
    let super::Inputs {
        settings, desired, ..
    } = load_inputs(config)?;
    if let Some(path) = &args.out {
        check_out(path)?;
    }
    let (engine, targets) = start(&settings, &args.platforms, args.format == Format::Text).await?;
    let max_deletes = settings.max_deletes as usize;
    let results = engine
        .cycle_all(
            &targets,
            &desired,
            &request(Trigger::Plan, RunMode::DryRun, max_deletes),
        )
        .await;
    let plans = plans_of(&results);
    let errors = failures(&results);
    if let Some(path) = &args.out
        && errors.is_empty()
    {
        save_plan(path, &engine.saved_plan(results.iter().flatten()))?;
    }
    match args.format {
        Format::Text => anstream::print!("{}", planner::render_text(&plans)),
        Format::Markdown => print!("{}", planner::render_markdown(&plans, &errors)),
        Format::Json => {
            let doc = planner::PlanDocument::new(&plans, errors.clone());
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("JSON serialises")
            );
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Runtime(anyhow::anyhow!(errors.join("\n"))));
    }
    Ok(
        if args.detailed_exitcode && engine::changes_to_send(&results) {
            Success::ChangesPending
        } else {
            Success::Done
        },
    )
}

/// Writes a saved plan for `apply FILE`.
fn save_plan(path: &std::path::Path, saved: &SavedPlan) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(saved).expect("a plan serialises");
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
        UserError::new(format!(
            "cannot read the saved plan {shown}: {}",
            crate::model::diag::io_reason(&e)
        ))
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        UserError::at(
            format!("{shown}:{}:{}", e.line(), e.column()),
            format!("not a saved plan: {e}"),
        )
        .hint(format!("make one with `tagsync plan --out {shown}`"))
    })?;
    if saved.format != saved::FORMAT {
        return Err(UserError::at(
            shown.to_string(),
            format!(
                "a saved plan of format {:?}; this tagsync reads {:?}",
                saved.format,
                saved::FORMAT
            ),
        )
        .hint("make a new plan with this version")
        .into());
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
    let settings = crate::settings::load(config)?;
    if !args.platforms.is_empty() {
        // A name is checked as without a plan file: an unknown one is an input error.
        let selected = settings
            .select(&args.platforms)
            .map_err(|e| UserError::from(engine::ConnectError::Unknown(e.to_string())))?;
        let missing: Vec<String> = selected
            .iter()
            .filter(|s| !saved.platforms.iter().any(|p| p.platform == s.name))
            .map(|s| {
                format!(
                    "the saved plan {} has no platform {:?}",
                    path.display(),
                    s.name
                )
            })
            .collect();
        if !missing.is_empty() {
            let has: Vec<&str> = saved
                .platforms
                .iter()
                .map(|p| p.platform.as_str())
                .collect();
            return Err(UserError::all(missing)
                .hint(format!("it has: {}", has.join(", ")))
                .into());
        }
        saved
            .platforms
            .retain(|p| selected.iter().any(|s| s.name == p.platform));
    }
    let max_deletes = args.allow_deletes.unwrap_or(settings.max_deletes as usize);
    engine::judge_deletes(&mut saved, max_deletes);
    let names: Vec<String> = saved.platforms.iter().map(|p| p.platform.clone()).collect();
    let (engine, targets) = start(&settings, &names, true).await?;
    engine::check_accounts(&saved.platforms, &targets).map_err(|e| {
        UserError::new(e.to_string()).hint(format!(
            "make a new plan for this account with `tagsync plan --out {}`",
            path.display()
        ))
    })?;
    let plans: Vec<PlatformPlan> = saved.platforms.iter().map(|p| p.plan.clone()).collect();
    anstream::print!("{}", planner::render_text(&plans));
    let refused = refused_by_guard(&plans);
    if !refused.is_empty() {
        return Err(Failure::Runtime(anyhow::anyhow!(refused.join("\n"))));
    }
    let again = format!("tagsync apply {} --yes", path.display());
    if plans.iter().any(PlatformPlan::has_changes) && !args.yes && !confirm(&again)? {
        println!("Apply cancelled; nothing was sent.");
        return Ok(Success::Done);
    }
    send_saved(
        &engine,
        &saved.platforms,
        &targets,
        &request(Trigger::ApplySaved, RunMode::Enforce, max_deletes),
    )
    .await
}

/// Sends exactly these plans, refusing a platform that changed since its plan was made.
async fn send_saved(
    engine: &Engine,
    plans: &[SavedPlatform],
    targets: &[Target],
    request: &CycleRequest,
) -> Result<Success, Failure> {
    let mut problems = Vec::new();
    let results = engine.apply_saved_all(targets, plans, request).await;
    for (p, r) in plans.iter().zip(results) {
        match r {
            Ok(r) => {
                println!(
                    "{}: {} of {} operations applied, {} failed, {} refused as not ours; {}",
                    r.platform,
                    r.succeeded,
                    p.plan.ops.len(),
                    r.failed,
                    r.not_ours,
                    requests(r.api_calls)
                );
                problems.extend(r.errors.iter().map(ToString::to_string));
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
    let (engine, targets) = start(&settings, &args.platforms, true).await?;
    let max_deletes = args.allow_deletes.unwrap_or(settings.max_deletes as usize);
    if !args.yes {
        let preview = engine
            .cycle_all(
                &targets,
                &desired,
                &request(Trigger::Plan, RunMode::DryRun, max_deletes),
            )
            .await;
        let plans = plans_of(&preview);
        anstream::print!("{}", planner::render_text(&plans));
        let mut errors = failures(&preview);
        // Never ask for a confirmation that the delete guard would refuse.
        errors.extend(refused_by_guard(&plans));
        if !errors.is_empty() {
            return Err(Failure::Runtime(anyhow::anyhow!(errors.join("\n"))));
        }
        if !plans.iter().any(PlatformPlan::has_changes) {
            println!("Nothing to apply.");
            return Ok(Success::Done);
        }
        if !confirm("tagsync apply --yes")? {
            println!("Apply cancelled; nothing was sent.");
            return Ok(Success::Done);
        }
        // Send what was confirmed, not a fresh plan: a platform that changed meanwhile is refused.
        let confirmed = engine.saved_plan(preview.iter().flatten());
        return send_saved(
            &engine,
            &confirmed.platforms,
            &targets,
            &request(Trigger::Apply, RunMode::Enforce, max_deletes),
        )
        .await;
    }
    let results = engine
        .cycle_all(
            &targets,
            &desired,
            &request(Trigger::Apply, RunMode::Enforce, max_deletes),
        )
        .await;
    if args.yes {
        anstream::print!("{}", planner::render_text(&plans_of(&results)));
    }
    let mut problems = failures(&results);
    for r in results.iter().flatten() {
        println!(
            "{}: {} operation{} applied, {} failed, {} refused as not ours; {}; {}",
            r.platform,
            r.succeeded,
            if r.succeeded == 1 { "" } else { "s" },
            r.failed,
            r.not_ours,
            requests(r.api_calls),
            if r.converged() {
                "in step"
            } else {
                "NOT in step"
            }
        );
        problems.extend(r.errors.iter().map(ToString::to_string));
    }
    if problems.is_empty() {
        Ok(Success::Done)
    } else {
        Err(Failure::Runtime(anyhow::anyhow!(problems.join("\n"))))
    }
}

/// What the apply summary counts: every HTTP request sent to the platform, reads (listing,
/// tokens) and retries included, not only the writes.
fn requests(n: u64) -> String {
    format!(
        "{n} HTTP request{} (reads and retries included)",
        if n == 1 { "" } else { "s" }
    )
}

/// Asks on a terminal; refuses to guess when there is none, naming the command that applies
/// without asking (`again`).
fn confirm(again: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(UserError::new(
            "apply needs confirmation, and standard input is not a terminal",
        )
        .hint(format!("review the plan above, then run `{again}`"))
        .into());
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
