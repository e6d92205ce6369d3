//! The command line (SPEC §3): arguments are parsed and turned into typed settings before any I/O,
//! and every failure is classified so that `main` can map it to an exit code.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::model::Diagnostics;
use crate::settings::{self, Settings};

mod demo;
mod healthcheck;
mod import;
pub mod logging;
pub mod mark;
mod progress;
pub mod render;
mod run;
mod simconfig;
mod status;
pub mod sync;
mod validate;

/// tagsync keeps tag groups and tags in step across SCRM platforms.
#[derive(Debug, Parser)]
#[command(name = "tagsync", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "TAGSYNC_CONFIG", default_value = settings::DEFAULT_CONFIG)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration and every tag file; makes no network call and needs no secret.
    Validate,
    /// Pull every platform, record it in the mirror, and show what apply would send.
    Plan(sync::PlanArgs),
    /// Pull, plan, confirm, and send the plan's operations; journals everything to the mirror.
    Apply(sync::ApplyArgs),
    /// Serve the platform simulators on loopback (prints each base URL and the credentials it
    /// accepts; Ctrl-C stops).
    Sim {
        /// Address of the first simulator; each next one takes the next port (default: ephemeral).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Starting state: a YAML or JSON file mapping platform names to fixtures.
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Deterministic faults, e.g. `seed=42,rate=0.3,kinds=http500+lost`.
        #[arg(long)]
        faults: Option<String>,
        /// Write a configuration for the running simulators to FILE (a new file), with each
        /// secret in a file beside it, then serve.
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
    },
    /// The daemon: each platform's cycle on its cron schedule, /healthz /readyz /metrics on `listen`.
    Run,
    /// Ask a running daemon's /healthz (exit 0 when healthy), e.g. for a container HEALTHCHECK.
    Healthcheck {
        /// The URL to ask; by default /healthz on the configuration's `listen`.
        #[arg(long)]
        url: Option<String>,
    },
    /// Run one full cycle against the built-in simulators with a SQLite mirror in a temporary directory.
    Demo {
        /// Keep the mirror, configuration and tag files in DIR (new or empty) to query afterwards.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Put tags on and off a customer: check, queue, deliver and wait (`--queue`: only queue).
    Mark(mark::MarkArgs),
    /// Write a tag file of what a platform holds now and bind its keys, so that managing an
    /// existing taxonomy from git starts with an empty plan.
    Import(import::ImportArgs),
    /// How each platform stands, from the mirror alone (no platform call): last runs, drift,
    /// refusals, mark backlog, lease, last error.
    Status(status::StatusArgs),
    /// Print the JSON Schema of tag files (schema/tags.schema.json), or with --plan of
    /// `plan --format json` (schema/plan.schema.json).
    Schema {
        /// The schema of `tagsync plan --format json` instead.
        #[arg(long)]
        plan: bool,
    },
}

/// How a command ended, for the exit code (SPEC §3).
#[derive(Debug)]
pub enum Failure {
    /// Invalid input: arguments, configuration or tag files. Exit 2.
    Invalid(String),
    /// A platform or the database failed. Exit 1.
    Runtime(anyhow::Error),
    /// The host refused what the input asks (an address in use, no permission): exit 1, rendered
    /// with its hint as an input error is.
    Environment(render::UserError),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        Failure::Invalid(render::diagnostics(&d))
    }
}

impl From<render::UserError> for Failure {
    fn from(e: render::UserError) -> Self {
        Failure::Invalid(e.to_string())
    }
}

impl From<crate::platforms::ConnectError> for Failure {
    fn from(e: crate::platforms::ConnectError) -> Self {
        Failure::Runtime(anyhow::Error::new(e))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

/// What a successful command reports: plain success, or (for `plan --detailed-exitcode`) that
/// there are operations to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    Done,
    ChangesPending,
}

impl Cli {
    /// The `--config` given on the command line, if any (not the default, nor `TAGSYNC_CONFIG`).
    fn explicit_config(&self) -> Option<&std::path::Path> {
        let from_env = std::env::var_os("TAGSYNC_CONFIG").map(PathBuf::from);
        (self.config != std::path::Path::new(settings::DEFAULT_CONFIG)
            && from_env.as_ref() != Some(&self.config))
        .then_some(self.config.as_path())
    }
}

/// `demo`, `schema` and `sim` make or need no configuration: a `--config` would be silently
/// ignored, so it is refused.
fn refuse_config(cli: &Cli, command: &str, hint: &str) -> Result<(), Failure> {
    match cli.explicit_config() {
        None => Ok(()),
        Some(path) => Err(render::UserError::new(format!(
            "`tagsync {command}` reads no configuration, but --config {} was given",
            path.display()
        ))
        .hint(hint)
        .into()),
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<Success, Failure> {
    match &cli.command {
        Command::Demo { .. } => refuse_config(
            &cli,
            "demo",
            "drop --config: the demo writes its own for the simulators (see it with --keep DIR)",
        )?,
        Command::Schema { .. } => refuse_config(&cli, "schema", "drop --config")?,
        Command::Sim { .. } => refuse_config(
            &cli,
            "sim",
            "drop --config; `tagsync sim --write-config FILE` writes a configuration for the simulators",
        )?,
        _ => {}
    }
    match cli.command {
        Command::Validate => validate::run(&cli.config),
        Command::Plan(args) => sync::plan(&cli.config, args).await,
        Command::Apply(args) => sync::apply(&cli.config, args).await,
        Command::Sim {
            listen,
            seed,
            faults,
            write_config,
        } => match sim(listen, seed, faults, write_config).await {
            Ok(()) => Ok(Success::Done),
            Err(crate::sim::SimError::ReadSeed { path, source }) => {
                Err(Failure::from(render::UserError::new(format!(
                    "cannot read the seed file {}: {}",
                    path.display(),
                    crate::model::diag::io_reason(&source)
                ))))
            }
            Err(
                e @ (crate::sim::SimError::FaultSpec(_)
                | crate::sim::SimError::Seed { .. }
                | crate::sim::SimError::Fixture { .. }
                | crate::sim::SimError::WriteConfig { .. }),
            ) => Err(Failure::from(render::UserError::new(render::chain(&e)))),
            Err(e) => Err(Failure::Runtime(anyhow::Error::new(e))),
        },
        Command::Demo { keep } => demo::run(keep).await,
        Command::Run => run::run(&cli.config).await,
        Command::Import(args) => import::run(&cli.config, args).await,
        Command::Status(args) => status::run(&cli.config, args).await,
        Command::Mark(args) => mark::run(&cli.config, args).await,
        Command::Healthcheck { url } => healthcheck::run(&cli.config, url).await,
        Command::Schema { plan } => {
            if plan {
                print!("{}", crate::planner::plan_json_schema());
            } else {
                print!("{}", crate::model::tagfile::json_schema());
            }
            Ok(Success::Done)
        }
    }
}

/// `tagsync sim`: serves the simulators; with `--write-config FILE`, writes a configuration for
/// them once they listen.
async fn sim(
    listen: Option<std::net::SocketAddr>,
    seed: Option<PathBuf>,
    faults: Option<String>,
    write_config: Option<PathBuf>,
) -> Result<(), crate::sim::SimError> {
    if let Some(path) = &write_config
        && path.exists()
    {
        return Err(crate::sim::SimError::WriteConfig {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it exists; --write-config writes a new file",
            ),
        });
    }
    crate::sim::run_cli(listen, seed, faults, |handles, seed| {
        let Some(path) = write_config else {
            return Ok(());
        };
        simconfig::write(&path, handles, seed).map_err(|source| {
            crate::sim::SimError::WriteConfig {
                path: path.clone(),
                source,
            }
        })?;
        println!(
            "Configuration written to {0}; try:\n  tagsync --config {0} validate\n  tagsync --config {0} plan",
            path.display()
        );
        Ok(())
    })
    .await
}

/// The validated inputs of a command.
pub struct Inputs {
    pub settings: Settings,
    pub desired: crate::model::Desired,
    /// How many tag files were read.
    pub files: usize,
}

/// Loads the configuration and the tag files, reporting every problem in them.
pub fn load_inputs(config: &std::path::Path) -> Result<Inputs, Failure> {
    let settings = settings::load(config)?;
    let sources = settings::read_tag_sources(&settings.tags)?;
    let desired = crate::model::tagfile::parse(&sources, &settings.tag_context())?;
    Ok(Inputs {
        settings,
        desired,
        files: sources.len(),
    })
}
