//! The desired state, re-read from the tag files before every cycle (a `git pull` on the host
//! changes them) and on SIGHUP. An invalid edit keeps the last valid state in force and is
//! reported in the log, in `/readyz`, in the metrics and in the mirror (through a [`Reporter`]),
//! until an edit makes the files valid again.

use std::sync::{Arc, Mutex, PoisonError};

use super::health::Health;
use super::metrics;
use crate::model::Desired;

/// Reads and validates the tag files; `Err` holds the located message (file:line:column).
pub type Loader = Box<dyn Fn() -> Result<Desired, String> + Send + Sync>;

/// Told whenever the tag files turn invalid (`Some`, the located message), change their error, or
/// turn valid (`None`); told `None` at start-up, when they are valid. Must not block.
pub type Reporter = Box<dyn Fn(Option<&str>) + Send + Sync>;

/// The desired state in force.
pub struct DesiredSource {
    load: Mutex<Loader>,
    last: Mutex<Arc<Desired>>,
    health: Arc<Health>,
    report: Reporter,
}

impl DesiredSource {
    /// Starts from `initial`, the state validated at start-up.
    pub fn new(load: Loader, initial: Desired, health: Arc<Health>, report: Reporter) -> Self {
        metrics::record_desired_valid(true);
        report(None);
        Self {
            load: Mutex::new(load),
            last: Mutex::new(Arc::new(initial)),
            health,
            report,
        }
    }

    /// Reads the tag files with `load` from now on (a configuration reloaded on SIGHUP).
    pub fn set_loader(&self, load: Loader) {
        *self.load.lock().unwrap_or_else(PoisonError::into_inner) = load;
    }

    /// Re-reads the tag files and returns the state in force: the new one when valid, else the
    /// last valid one.
    pub fn current(&self) -> Arc<Desired> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.health.desired_invalid();
        let loaded = (self.load.lock().unwrap_or_else(PoisonError::into_inner))();
        match loaded {
            Ok(desired) => {
                if previous.is_some() {
                    tracing::info!(
                        message = "The tag files are valid again; their state is in force."
                    );
                    (self.report)(None);
                }
                self.health.set_desired_invalid(None);
                metrics::record_desired_valid(true);
                *last = Arc::new(desired);
            }
            Err(error) => {
                if previous.as_ref() != Some(&error) {
                    tracing::error!(
                        message = "The tag files are invalid; the last valid state stays in force.",
                        %error
                    );
                    (self.report)(Some(&error));
                }
                self.health.set_desired_invalid(Some(error));
                metrics::record_desired_valid(false);
            }
        }
        last.clone()
    }
}
