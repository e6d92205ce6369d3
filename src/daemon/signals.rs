//! Unix signals and systemd notifications.
//!
//! SIGTERM and SIGINT stop the daemon; SIGHUP re-reads the tag files and calls the reload hook.
//! Under systemd `Type=notify`, the daemon sends `READY=1` once it serves and schedules,
//! `WATCHDOG=1` at half the `WatchdogSec` interval while its scheduler beats, and `STOPPING=1`
//! when it begins to shut down. Outside systemd (`NOTIFY_SOCKET` unset) these do nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::health::Health;

/// A signal the daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGTERM or SIGINT (named).
    Stop(&'static str),
    /// SIGHUP.
    Reload,
}

/// The daemon's signal handlers, installed before anything starts.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Event {
        tokio::select! {
            _ = self.term.recv() => Event::Stop("SIGTERM"),
            _ = self.int.recv() => Event::Stop("SIGINT"),
            _ = self.hup.recv() => Event::Reload,
        }
    }
}

fn notify(state: NotifyState<'_>) {
    // Only a broken NOTIFY_SOCKET fails here; systemd then restarts us on its own timeout.
    if let Err(error) = sd_notify::notify(&[state]) {
        tracing::warn!(message = "Cannot notify systemd.", %error);
    }
}

pub fn notify_ready() {
    notify(NotifyState::Ready);
}

pub fn notify_stopping() {
    notify(NotifyState::Stopping);
}

/// Pings the systemd watchdog at half its interval while the scheduler is alive (a stalled
/// scheduler stops the pings, and systemd restarts the service). `None` without `WATCHDOG_USEC`.
pub fn spawn_watchdog(health: Arc<Health>) -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()?;
    let every = (interval / 2).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            if health.liveness().ok {
                // A datagram send blocks while the receiver's queue is full: never on a runtime
                // thread, where it would stall the scheduler itself.
                let _ = tokio::task::spawn_blocking(|| notify(NotifyState::Watchdog)).await;
            }
        }
    }))
}
