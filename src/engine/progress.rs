//! Progress of long cycles, for a caller that shows it (`tagsync plan`/`apply` on a terminal): the
//! engine reports events to a [`Progress`] sink and never prints; the command line renders them.

use std::sync::Arc;

/// One step of a cycle's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A round's plan for `platform` is about to be sent: `operations` in all.
    Sending { platform: String, operations: usize },
    /// One operation of that round was sent (whatever its outcome).
    Sent { platform: String },
    /// The platform's cycle ended.
    Finished { platform: String },
}

/// Where a cycle's progress goes. Called from the cycles' tasks: implementations must be quick
/// and must not block.
pub trait Progress: Send + Sync {
    fn event(&self, event: ProgressEvent);
}

/// The engine's sink: none unless a caller sets one.
pub(super) type Sink = std::sync::OnceLock<Arc<dyn Progress>>;
