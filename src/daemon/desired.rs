//! The desired state, re-read from the tag files before every cycle (a `git pull` on the host
//! changes them) and on SIGHUP. An invalid edit keeps the last valid state in force and is
//! reported in the log, in `/readyz` and in the metrics, until an edit makes the files valid again.

use std::sync::{Arc, Mutex, PoisonError};

use super::health::Health;
use super::metrics;
use crate::model::Desired;

/// Reads and validates the tag files; `Err` holds the located message (file:line:column).
pub type Loader = Box<dyn Fn() -> Result<Desired, String> + Send + Sync>;

/// The desired state in force.
pub struct DesiredSource {
    load: Loader,
    last: Mutex<Arc<Desired>>,
    health: Arc<Health>,
}

impl DesiredSource {
    /// Starts from `initial`, the state validated at start-up.
    pub fn new(load: Loader, initial: Desired, health: Arc<Health>) -> Self {
        metrics::record_desired_valid(true);
        Self {
            load,
            last: Mutex::new(Arc::new(initial)),
            health,
        }
    }

    /// Re-reads the tag files and returns the state in force: the new one when valid, else the
    /// last valid one.
    pub fn current(&self) -> Arc<Desired> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.health.desired_invalid();
        match (self.load)() {
            Ok(desired) => {
                if previous.is_some() {
                    tracing::info!(
                        message = "The tag files are valid again; their state is in force."
                    );
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
                }
                self.health.set_desired_invalid(Some(error));
                metrics::record_desired_valid(false);
            }
        }
        last.clone()
    }
}
