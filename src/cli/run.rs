//! `tagsync run`: validates the configuration, the tag files and the secrets, connects every
//! platform once and opens the mirror, then hands over to the daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::render::UserError;
use super::{Failure, Success, load_inputs};
use crate::daemon::{self, http, runner, scheduler};
use crate::engine::{self, Engine, Policy};
use crate::platforms::RetryPolicy;
use crate::settings::{self, SecretSource, Settings};

/// How long cycles in flight may run on after SIGTERM (systemd's default stop timeout is 90 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub async fn run(config: &std::path::Path) -> Result<Success, Failure> {
    let super::Inputs {
        settings, desired, ..
    } = load_inputs(config)?;
    let token = settings.http_token.as_ref().map(read_token).transpose()?;
    let targets =
        engine::connect(&settings, &[], RetryPolicy::default()).map_err(UserError::from)?;
    // A replica never waits on another's platform: a held lease skips the tick.
    let policy = Policy {
        lease_wait: Duration::ZERO,
        skip_when_busy: true,
        lease_ttl: settings.lease_ttl,
        ..Policy::default()
    };
    let engine = Engine::open_with(&settings, crate::clock::system(), policy)
        .await
        .context("cannot open the mirror")?;
    let store = engine.store().clone();
    let clock = engine.clock().clone();
    let max_deletes = settings.max_deletes as usize;
    // Mark workers share the cycles' clients: one rate limiter per platform.
    let marks = Arc::new(daemon::marks::spawn(
        engine.clone(),
        targets.clone(),
        loader(&settings),
        desired.clone(),
    ));
    let runner = Arc::new(runner::EngineRunner::new(engine, targets, max_deletes));
    let options = daemon::Options {
        listen: settings.listen,
        auth: http::Auth::for_listen(settings.listen, token.as_ref()),
        schedules: scheduler::schedules(&settings),
        readiness: daemon::ReadinessPolicy::default(),
        shutdown_grace: SHUTDOWN_GRACE,
    };
    let parts = daemon::Parts {
        runner: runner.clone(),
        report_desired: runner::mirror_reporter(
            store.clone(),
            clock.clone(),
            settings.tags.display().to_string(),
        ),
        probe: Arc::new(runner::StoreProbe(store.clone())),
        load_desired: loader(&settings),
        initial: desired,
        status: Arc::new(daemon::page::MirrorStatus::new(
            store,
            engine::configured(&settings),
            clock,
        )),
        reconfigure: reconfigure(config.to_owned(), settings, runner, marks.clone()),
    };
    let ended = daemon::run(options, parts).await;
    marks.stop(SHUTDOWN_GRACE).await;
    ended.map(|()| Success::Done).map_err(Failure::from)
}

/// Reads the tag files the way `validate` does; an error keeps its file:line:column.
fn loader(settings: &Settings) -> daemon::desired::Loader {
    let tags = settings.tags.clone();
    let context = settings.tag_context();
    Box::new(move || {
        let sources = settings::read_tag_sources(&tags).map_err(|d| d.to_string())?;
        crate::model::tagfile::parse(&sources, &context).map_err(|d| d.to_string())
    })
}

/// SIGHUP: the configuration is re-read and validated, platforms added or changed are connected
/// (their secrets read), and the daemon swaps it in; kept platforms keep their clients. Keys that
/// only a restart can change are reported and keep their running values.
fn reconfigure(
    config: std::path::PathBuf,
    running: Settings,
    runner: Arc<runner::EngineRunner>,
    marks: Arc<daemon::marks::Workers>,
) -> daemon::Reconfigure {
    let running = Arc::new(std::sync::Mutex::new(running));
    Box::new(move || {
        let (config, running, runner) = (config.clone(), running.clone(), runner.clone());
        let marks = marks.clone();
        Box::pin(async move { prepare(&config, running, runner, marks).await })
    })
}

async fn prepare(
    config: &std::path::Path,
    running: Arc<std::sync::Mutex<Settings>>,
    runner: Arc<runner::EngineRunner>,
    marks: Arc<daemon::marks::Workers>,
) -> Result<Option<daemon::Reconfig>, String> {
    let new = settings::load(config).map_err(|d| d.to_string())?;
    let current = running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let restart_only: Vec<&str> = [
        ("database_url", new.database_url != current.database_url),
        ("listen", new.listen != current.listen),
        (
            "http_token_env/http_token_file",
            new.http_token != current.http_token,
        ),
        ("lease_ttl_seconds", new.lease_ttl != current.lease_ttl),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect();
    if !restart_only.is_empty() {
        tracing::warn!(
            message = "These keys change only at a restart; their running values stay in force.",
            keys = %restart_only.join(", ")
        );
    }
    let new = Settings {
        database_url: current.database_url.clone(),
        listen: current.listen,
        http_token: current.http_token.clone(),
        lease_ttl: current.lease_ttl,
        ..new
    };
    if new == current {
        return Ok(None);
    }
    let changed: Vec<String> = new
        .platforms
        .iter()
        .filter(|(name, p)| current.platforms.get(*name) != Some(*p))
        .map(|(name, _)| name.clone())
        .collect();
    let connected = if changed.is_empty() {
        Vec::new()
    } else {
        engine::connect(&new, &changed, RetryPolicy::default()).map_err(|e| e.to_string())?
    };
    runner.register(&new).await?;
    let names: Vec<String> = new.platforms.keys().cloned().collect();
    let removed: Vec<&String> = current
        .platforms
        .keys()
        .filter(|n| !new.platforms.contains_key(*n))
        .collect();
    tracing::info!(
        message = "The configuration changed.",
        connected = %changed.join(", "),
        removed = %removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    );
    let max_deletes = new.max_deletes as usize;
    let mark_loader = loader(&new);
    let reconfig = daemon::Reconfig {
        schedules: scheduler::schedules(&new),
        load_desired: loader(&new),
        commit: Box::new(move || {
            // Mark workers follow the platforms: the new ones start on their new clients.
            marks.reconfigure(&names, connected.clone(), mark_loader);
            runner.reconfigure(&names, connected, max_deletes);
            *running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
        }),
    };
    Ok(Some(reconfig))
}

fn read_token(source: &SecretSource) -> Result<secrecy::SecretString, Failure> {
    source
        .read("http")
        .map_err(|e| UserError::http_token(&e).into())
}
