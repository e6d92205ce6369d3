//! Progress of long cycles, for a caller that shows it (`tagsync plan`/`apply`/`import` on a
//! terminal): the engine reports events to a [`Progress`] sink and never prints; the command line
//! renders them. A pull's total is unknown until its last page, so it reports the requests made
//! so far; a round's operations are known, so it reports each one sent of the total.

use std::sync::Arc;

/// One step of a cycle's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// The platform is being read: `requests` made by this pull so far (0 when it starts, then
    /// each time the count grows, at most every [`PULL_TICK`]).
    Pulling { platform: String, requests: u64 },
    /// The pull ended with what the platform holds.
    Pulled {
        platform: String,
        groups: usize,
        tags: usize,
    },
    /// A round's plan for `platform` is about to be sent: `operations` in all.
    Sending { platform: String, operations: usize },
    /// One operation of that round was sent (whatever its outcome).
    Sent { platform: String },
    /// The platform's cycle ended.
    Finished { platform: String },
}

/// How often a running pull's request count is looked at.
pub const PULL_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Where a cycle's progress goes. Called from the cycles' tasks: implementations must be quick
/// and must not block.
pub trait Progress: Send + Sync {
    fn event(&self, event: ProgressEvent);
}

/// The engine's sink: none unless a caller sets one.
pub(super) type Sink = std::sync::OnceLock<Arc<dyn Progress>>;
