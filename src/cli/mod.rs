//! The command line (SPEC §3): arguments are parsed and turned into typed settings before any I/O,
//! and every failure is classified so that `main` can map it to an exit code.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::model::Diagnostics;
use crate::settings::{self, Settings};

mod demo;
pub mod logging;
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
    /// Serve the platform simulators on loopback (prints each base URL; Ctrl-C stops).
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
    },
    /// Run one full cycle against the built-in simulators with a SQLite mirror in a temporary directory.
    Demo,
    /// Print the JSON Schema of tag files (the one checked in at schema/tags.schema.json).
    Schema,
}

/// How a command ended, for the exit code (SPEC §3).
#[derive(Debug)]
pub enum Failure {
    /// Invalid input: arguments, configuration or tag files. Exit 2.
    Invalid(String),
    /// A platform or the database failed. Exit 1.
    Runtime(anyhow::Error),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        let n = d.len();
        Failure::Invalid(format!("{d}\n{n} error{}", if n == 1 { "" } else { "s" }))
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

/// Runs one command.
pub async fn run(cli: Cli) -> Result<Success, Failure> {
    match cli.command {
        Command::Validate => validate::run(&cli.config),
        Command::Plan(args) => sync::plan(&cli.config, args).await,
        Command::Apply(args) => sync::apply(&cli.config, args).await,
        Command::Sim {
            listen,
            seed,
            faults,
        } => match crate::sim::run_cli(listen, seed, faults).await {
            Ok(()) => Ok(Success::Done),
            Err(
                e @ (crate::sim::SimError::FaultSpec(_)
                | crate::sim::SimError::Seed { .. }
                | crate::sim::SimError::ReadSeed { .. }
                | crate::sim::SimError::Fixture { .. }),
            ) => Err(Failure::Invalid(format!("error: {}", error_chain(&e)))),
            Err(e) => Err(Failure::Runtime(anyhow::Error::new(e))),
        },
        Command::Demo => demo::run().await,
        Command::Schema => {
            print!("{}", crate::model::tagfile::json_schema());
            Ok(Success::Done)
        }
    }
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

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
