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
use crate::settings::{self, SecretError, SecretSource, Settings};

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
        ..Policy::default()
    };
    let engine = Engine::open_with(&settings, crate::clock::system(), policy)
        .await
        .context("cannot open the mirror")?;
    let store = engine.store().clone();
    let max_deletes = settings.max_deletes as usize;
    let options = daemon::Options {
        listen: settings.listen,
        auth: http::Auth::for_listen(settings.listen, token.as_ref()),
        schedules: scheduler::schedules(&settings),
        readiness: daemon::ReadinessPolicy::default(),
        shutdown_grace: SHUTDOWN_GRACE,
    };
    // Mark workers share the cycles' clients: one rate limiter per platform.
    let marks = daemon::marks::spawn(
        engine.clone(),
        targets.clone(),
        loader(&settings),
        desired.clone(),
    );
    let parts = daemon::Parts {
        runner: Arc::new(runner::EngineRunner::new(engine, targets, max_deletes)),
        probe: Arc::new(runner::StoreProbe(store)),
        load_desired: loader(&settings),
        initial: desired,
        on_reload: Box::new(reload_check(config.to_owned(), settings.clone())),
    };
    let ended = daemon::run(options, parts).await;
    marks.stop(SHUTDOWN_GRACE).await;
    match ended {
        Ok(()) => Ok(Success::Done),
        Err(daemon::Error::Bind(e)) => {
            let message = format!("error: {e}\n  hint: {}", e.hint());
            if e.is_input() {
                Err(Failure::Invalid(message))
            } else {
                Err(Failure::Runtime(anyhow::anyhow!(message)))
            }
        }
        Err(e @ daemon::Error::Schedule { .. }) => Err(Failure::Invalid(format!("error: {e}"))),
        Err(e) => Err(Failure::Runtime(anyhow::Error::new(e))),
    }
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

/// SIGHUP: platforms and schedules are read at start only, so a changed configuration is
/// checked and reported, and the running one stays in force.
fn reload_check(
    config: std::path::PathBuf,
    running: Settings,
) -> impl Fn() + Send + Sync + 'static {
    move || match settings::load(&config) {
        Err(d) => tracing::error!(
            message = "The configuration is invalid; the running one stays in force.",
            error = %d
        ),
        Ok(new) if new != running => tracing::warn!(
            message = "The configuration changed; restart tagsync to apply it. The running one stays in force.",
            config = %config.display()
        ),
        Ok(_) => {}
    }
}

fn read_token(source: &SecretSource) -> Result<secrecy::SecretString, Failure> {
    source.read("http").map_err(|e| {
        let what = match e {
            SecretError::MissingEnv { var, .. } => {
                format!("`http_token_env` names {var}, which is not set")
            }
            SecretError::EmptyEnv { var, .. } => {
                format!("`http_token_env` names {var}, which is empty")
            }
            SecretError::File { path, reason, .. } => {
                format!("cannot read `http_token_file` {path}: {reason}")
            }
            SecretError::EmptyFile { path, .. } => format!("`http_token_file` {path} is empty"),
            SecretError::MultiLine {
                source_name, lines, ..
            } => format!("the HTTP token in {source_name} has {lines} lines; a token is one line"),
        };
        Failure::Invalid(format!(
            "error: {what}\n  hint: the token guards /metrics off loopback; set it, or listen on 127.0.0.1"
        ))
    })
}
