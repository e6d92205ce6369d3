//! `tagsync run`: the daemon. It schedules each platform's cycle on cron, serves `/healthz`,
//! `/readyz` and `/metrics`, re-reads the tag files, and shuts down cleanly; it decides nothing
//! about tags: each cycle goes through the [`CycleRunner`] seam to the engine.
//!
//! Start-up order, so that a failure leaves nothing half-started: signal handlers, schedules,
//! the `listen` socket; then HTTP, the first cycle of every platform, the cron jobs, and
//! `READY=1`. Shutdown: `STOPPING=1`, `/readyz` red, no more ticks, in-flight cycles get
//! [`Options::shutdown_grace`] to finish, HTTP stops, exit 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub mod cycle;
pub mod desired;
pub mod health;
pub mod http;
pub mod marks;
pub mod metrics;
pub mod page;
pub mod runner;
pub mod scheduler;
pub mod signals;

pub use cycle::{CycleOutcome, CycleRunner, CycleStatus, OpTally, Trigger};
pub use health::{Probe, ReadinessPolicy};

use crate::model::Desired;

/// How the daemon runs.
pub struct Options {
    pub listen: SocketAddr,
    pub auth: http::Auth,
    /// `(platform, cron expression)` pairs, as [`scheduler::schedules`] resolves them.
    pub schedules: Vec<(String, String)>,
    pub readiness: ReadinessPolicy,
    /// How long in-flight cycles may run on after SIGTERM.
    pub shutdown_grace: Duration,
}

/// What the daemon calls.
pub struct Parts {
    pub runner: Arc<dyn CycleRunner>,
    pub probe: Arc<dyn Probe>,
    /// Re-reads the tag files (before each cycle and on SIGHUP).
    pub load_desired: desired::Loader,
    /// The state validated at start-up.
    pub initial: Desired,
    /// Records the tag files' validity in the mirror (see [`desired::Reporter`]).
    pub report_desired: desired::Reporter,
    /// Re-reads the configuration on SIGHUP.
    pub reconfigure: Reconfigure,
    /// What the status page at `/` shows.
    pub status: Arc<dyn page::StatusSource>,
}

/// Re-reads the configuration (SIGHUP): `Ok(None)` when nothing the daemon uses changed, `Err`
/// with the located error when it is invalid or a new platform cannot be connected (the running
/// configuration then stays in force), else the new configuration, validated and connected but not
/// yet in force.
pub type Reconfigure = Box<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Option<Reconfig>, String>> + Send>,
        > + Send
        + Sync,
>;

/// A new configuration, ready to be put in force.
pub struct Reconfig {
    /// `(platform, cron expression)` pairs, as [`scheduler::schedules`] resolves them.
    pub schedules: Vec<(String, String)>,
    /// Reads the tag files under the new configuration.
    pub load_desired: desired::Loader,
    /// Puts the new platforms in force in the runner; called while no cron job fires.
    pub commit: Box<dyn FnOnce() + Send>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bind(#[from] http::BindError),
    /// A schedule the scheduler refuses (the settings validate schedules first).
    #[error("platform {platform:?}: {message}")]
    Schedule { platform: String, message: String },
    #[error("cannot start the scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("cannot install the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(options: Options, parts: Parts) -> Result<(), Error> {
    let mut signals = signals::Signals::install().map_err(Error::Signals)?;
    let parsed = parse_schedules(&options.schedules)?;
    let listener = http::bind(options.listen).await?;
    let handle = metrics::install();

    let health = Arc::new(health::Health::new(
        crate::clock::system(),
        options.readiness,
        parsed,
    ));
    let desired = Arc::new(desired::DesiredSource::new(
        parts.load_desired,
        parts.initial,
        health.clone(),
        parts.report_desired,
    ));
    let platforms: Vec<String> = options.schedules.iter().map(|(p, _)| p.clone()).collect();
    let dispatcher = Arc::new(scheduler::Dispatcher::new(
        parts.runner,
        desired.clone(),
        health.clone(),
        platforms.clone(),
    ));

    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(http::AppState {
        health: health.clone(),
        probe: parts.probe,
        metrics: handle.clone(),
        auth: options.auth,
        status: parts.status,
    });
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = http_stopped.await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(message = "The HTTP server failed.", %error);
        }
    });
    tracing::info!(
        message = "Serving /healthz, /readyz and /metrics.",
        listen = %options.listen
    );

    for p in &platforms {
        dispatcher.tick(p, Trigger::Start);
    }
    let upkeep_handle = handle.clone();
    let upkeep: Arc<dyn Fn() + Send + Sync> = Arc::new(move || upkeep_handle.run_upkeep());
    let mut jobs = match scheduler::CronJobs::start(
        dispatcher.clone(),
        &options.schedules,
        health.clone(),
        upkeep.clone(),
    )
    .await
    {
        Ok(jobs) => jobs,
        Err(e) => {
            // Nothing half-started: the first cycles and HTTP stop before the error surfaces.
            dispatcher.drain(options.shutdown_grace).await;
            let _ = stop_http.send(());
            let _ = server.await;
            return Err(e.into());
        }
    };
    for (platform, expr) in &options.schedules {
        tracing::info!(message = "Scheduled.", platform = %platform, schedule = %expr);
    }
    signals::notify_ready();
    let watchdog = signals::spawn_watchdog(health.clone());

    let mut running = options.schedules.clone();
    let signal = loop {
        match signals.next().await {
            signals::Event::Reload => {
                tracing::info!(message = "SIGHUP: re-reading the configuration and the tag files.");
                let next = (parts.reconfigure)().await.and_then(|new| match new {
                    None => Ok(None),
                    Some(new) => parse_schedules(&new.schedules)
                        .map(|parsed| Some((new, parsed)))
                        .map_err(|e| e.to_string()),
                });
                match next {
                    Err(error) => tracing::error!(
                        message = "The configuration is invalid; the running one stays in force.",
                        %error
                    ),
                    Ok(None) => {}
                    Ok(Some((new, parsed))) => {
                        // No tick while the platforms change: the runner, the dispatcher and
                        // readiness switch together, then the new jobs start.
                        jobs.shutdown().await;
                        (new.commit)();
                        desired.set_loader(new.load_desired);
                        dispatcher.set_platforms(new.schedules.iter().map(|(p, _)| p.clone()));
                        health.set_schedules(parsed);
                        jobs = match scheduler::CronJobs::start(
                            dispatcher.clone(),
                            &new.schedules,
                            health.clone(),
                            upkeep.clone(),
                        )
                        .await
                        {
                            Ok(jobs) => jobs,
                            Err(e) => {
                                signals::notify_stopping();
                                dispatcher.drain(options.shutdown_grace).await;
                                let _ = stop_http.send(());
                                let _ = server.await;
                                return Err(e.into());
                            }
                        };
                        let before: Vec<&String> = running.iter().map(|(p, _)| p).collect();
                        for (p, expr) in &new.schedules {
                            if !before.contains(&p) {
                                dispatcher.tick(p, Trigger::Start);
                            }
                            tracing::info!(message = "Scheduled.", platform = %p, schedule = %expr);
                        }
                        tracing::info!(
                            message = "The new configuration is in force.",
                            platforms = new.schedules.len()
                        );
                        running = new.schedules;
                    }
                }
                desired.current();
            }
            signals::Event::Stop(name) => break name,
        }
    };
    tracing::info!(
        message = "Stopping: no new cycles; waiting for the running ones.",
        signal,
        grace_s = options.shutdown_grace.as_secs()
    );
    signals::notify_stopping();
    health.set_stopping();
    jobs.shutdown().await;
    dispatcher.drain(options.shutdown_grace).await;
    if let Some(w) = watchdog {
        w.abort();
    }
    let _ = stop_http.send(());
    // Open keep-alive connections must not hold the exit up.
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!(message = "Stopped.");
    Ok(())
}

/// Parses every platform's schedule, naming the platform of one that does not parse.
fn parse_schedules(
    schedules: &[(String, String)],
) -> Result<Vec<(String, scheduler::Schedule)>, Error> {
    schedules
        .iter()
        .map(|(platform, expr)| {
            scheduler::Schedule::parse(expr)
                .map(|s| (platform.clone(), s))
                .map_err(|message| Error::Schedule {
                    platform: platform.clone(),
                    message,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
