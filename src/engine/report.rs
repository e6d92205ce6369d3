//! What a cycle returns: a typed report for `cli/` and `daemon/` to render, and the typed errors
//! that end a cycle or that it met on the way, each with a class that says how to treat it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::planner::PlatformPlan;
use crate::planner::saved::{Account, Basis};
use crate::{platforms, store};

use super::Trigger;

/// How a cycle of one platform went.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub platform: String,
    pub run: store::RunId,
    pub trigger: Trigger,
    /// The first plan, as shown to the user.
    pub plan: PlatformPlan,
    /// The plan made from the last pull (empty when converged).
    pub remaining: PlatformPlan,
    pub rounds: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub not_ours: usize,
    pub api_calls: u64,
    /// What went wrong without ending the cycle (a rejected operation, no convergence).
    pub errors: Vec<Problem>,
    /// What the first plan was made from (for `plan --out`).
    pub basis: Basis,
    /// Which account the platform is (for `plan --out`).
    pub account: Account,
    /// Whether this platform may be written: `enforce` mode and an API that writes.
    pub sends: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The next operation's sequence number in this run (counted across rounds).
    pub(super) next_seq: i64,
}

/// A cycle's result in one word, for a scheduler or a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The platform holds what the tag files declare (drift only a person can fix aside).
    InStep,
    /// A dry run found operations to send.
    ChangesPending,
    /// Operations were sent, and something remains or failed.
    NotInStep,
}

impl CycleReport {
    pub(super) fn new(
        platform: &str,
        run: store::RunId,
        trigger: Trigger,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            platform: platform.to_owned(),
            run,
            trigger,
            plan: PlatformPlan::default(),
            remaining: PlatformPlan::default(),
            rounds: 0,
            succeeded: 0,
            failed: 0,
            not_ours: 0,
            api_calls: 0,
            errors: Vec::new(),
            basis: Basis::default(),
            account: Account::default(),
            sends: false,
            started_at: at,
            finished_at: at,
            next_seq: 0,
        }
    }

    /// No error, and the last pull leaves nothing to send.
    pub fn converged(&self) -> bool {
        self.errors.is_empty() && !self.remaining.has_changes()
    }

    /// Whether the plan has operations that an apply would send (a platform in `observe` mode
    /// or without write calls sends none): what `plan --detailed-exitcode` reports.
    pub fn changes_to_send(&self) -> bool {
        self.sends && self.plan.has_changes()
    }

    pub fn outcome(&self) -> Outcome {
        if self.converged() {
            Outcome::InStep
        } else if self.errors.is_empty() && self.succeeded + self.failed == 0 {
            Outcome::ChangesPending
        } else {
            Outcome::NotInStep
        }
    }

    /// How long the cycle took, by the engine's clock.
    pub fn duration(&self) -> Duration {
        (self.finished_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }
}

/// How to treat an error: what a caller (a retrying daemon, an exit code) decides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The platform rejected a request for good, or answered what we cannot read.
    Platform,
    /// The platform refused the credential: nothing works until it is fixed.
    Credential,
    /// Busy, lost, or retries exhausted: the next cycle may well succeed.
    Transient,
    /// An object made outside tagsync refused a change.
    NotOurs,
    /// The mirror failed.
    Database,
    /// Another writer holds the platform, or this process lost its lease.
    Busy,
    /// A guard refused: the delete limit, or a saved plan whose platform changed.
    Refused,
    /// Operations remain after the last round.
    NotConverged,
}

impl ErrorClass {
    /// The class of a platform's answer.
    pub fn of(e: &platforms::Error) -> Self {
        match e {
            platforms::Error::NotOurs { .. } => ErrorClass::NotOurs,
            platforms::Error::Credential { .. } => ErrorClass::Credential,
            platforms::Error::Exhausted { .. } | platforms::Error::Indeterminate { .. } => {
                ErrorClass::Transient
            }
            _ => ErrorClass::Platform,
        }
    }
}

/// Something a cycle met without ending: the operation or round stopped, the cycle went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub class: ErrorClass,
    pub platform: String,
    /// A sentence, without the platform's name.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.platform, self.message)
    }
}

/// Why a cycle could not run, or stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mirror failed.
    #[error("the mirror failed: {0}")]
    Store(#[from] store::Error),
    /// The platform failed while reading (nothing was written).
    #[error("{platform}: {source}")]
    Pull {
        platform: String,
        #[source]
        source: platforms::Error,
    },
    /// Another process is writing to this platform, and did not finish within the wait.
    #[error(
        "{platform}: another tagsync ({holder}) is writing to this platform until {until}; waited {waited:?}. Try again later; a crashed holder's lease expires by itself"
    )]
    Busy {
        platform: String,
        holder: String,
        until: DateTime<Utc>,
        waited: Duration,
    },
    /// Another replica already cycled this platform in the period asked about
    /// ([`Engine::cycle_once_since`](super::Engine::cycle_once_since)): nothing to do until the next.
    #[error("{platform}: already cycled this period, at {at} (by another replica)")]
    AlreadyCycled { platform: String, at: DateTime<Utc> },
    /// This process's lease expired and another writer took it: stopped before writing more.
    #[error("{platform}: lost the writer lease to {holder}; stopped before sending more")]
    LeaseLost { platform: String, holder: String },
    /// The platform no longer holds what a saved plan was made from.
    #[error(
        "{platform}: the platform changed since the saved plan was made; nothing was sent. Make a new plan. What changed:\n  - {}",
        changes.join("\n  - ")
    )]
    Stale {
        platform: String,
        changes: Vec<String>,
    },
    /// The plan deletes more than the guard allows.
    #[error(
        "{platform}: the plan deletes {deletes} tags, more than the limit of {limit} per run; review the plan, then raise `max_deletes` or pass --allow-deletes {deletes}"
    )]
    TooManyDeletes {
        platform: String,
        deletes: usize,
        limit: usize,
        /// The refused plan, with the guard's verdict, to show what it would delete.
        plan: Box<PlatformPlan>,
    },
    /// A saved plan was made against another account than the one configured under its name.
    #[error(
        "{platform}: the saved plan was made for another account; nothing was sent. What differs:\n  - {}",
        differences.join("\n  - ")
    )]
    OtherAccount {
        platform: String,
        differences: Vec<String>,
    },
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Store(_) => ErrorClass::Database,
            Error::Pull { source, .. } => ErrorClass::of(source),
            Error::Busy { .. } | Error::LeaseLost { .. } | Error::AlreadyCycled { .. } => {
                ErrorClass::Busy
            }
            Error::Stale { .. } | Error::TooManyDeletes { .. } | Error::OtherAccount { .. } => {
                ErrorClass::Refused
            }
        }
    }

    /// The delete guard's refusal of `plan` (judged by [`PlatformPlan::judge_deletes`]).
    pub(super) fn too_many_deletes(platform: &str, plan: PlatformPlan) -> Self {
        let guard = plan.delete_guard.unwrap_or_default();
        Error::TooManyDeletes {
            platform: platform.to_owned(),
            deletes: guard.deletes,
            limit: guard.limit,
            plan: Box::new(plan),
        }
    }

    /// The plan a refusal is about, when there is one to show (the delete guard's).
    pub fn plan(&self) -> Option<&PlatformPlan> {
        match self {
            Error::TooManyDeletes { plan, .. } => Some(plan),
            _ => None,
        }
    }
}

/// Whether any platform's plan has operations an apply would send (`plan --detailed-exitcode`).
pub fn changes_to_send(results: &[Result<CycleReport, Error>]) -> bool {
    results.iter().flatten().any(CycleReport::changes_to_send)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platforms_answer_is_classified_for_its_caller() {
        let lost = platforms::Error::Indeterminate {
            endpoint: "x",
            detail: "reset".into(),
        };
        assert_eq!(ErrorClass::of(&lost), ErrorClass::Transient);
        let e = Error::Pull {
            platform: "p".into(),
            source: platforms::Error::Credential {
                endpoint: "x",
                message: "expired".into(),
            },
        };
        assert_eq!(e.class(), ErrorClass::Credential);
        assert_eq!(
            Error::TooManyDeletes {
                platform: "p".into(),
                deletes: 3,
                limit: 1,
                plan: Box::default(),
            }
            .class(),
            ErrorClass::Refused
        );
    }

    #[test]
    fn outcome_tells_pending_from_not_in_step() {
        let mut r = CycleReport::new("p", 0, Trigger::Plan, DateTime::<Utc>::default());
        assert_eq!(r.outcome(), Outcome::InStep);
        r.remaining.ops.push(crate::planner::Op {
            action: crate::planner::Action::DeleteTags { tags: vec![] },
            reason: crate::planner::Reason::Missing,
        });
        assert_eq!(r.outcome(), Outcome::ChangesPending);
        r.succeeded = 1;
        assert_eq!(r.outcome(), Outcome::NotInStep);
    }

    #[test]
    fn only_a_platform_that_sends_has_changes_to_send() {
        let mut r = CycleReport::new("p", 0, Trigger::Plan, DateTime::<Utc>::default());
        r.plan.ops.push(crate::planner::Op {
            action: crate::planner::Action::DeleteTags { tags: vec![] },
            reason: crate::planner::Reason::Undeclared,
        });
        assert!(!r.changes_to_send(), "observe mode, or no write calls");
        assert!(!changes_to_send(&[Ok(r.clone())]));
        r.sends = true;
        assert!(r.changes_to_send());
        let refused: Result<CycleReport, Error> = Err(Error::LeaseLost {
            platform: "q".into(),
            holder: "h".into(),
        });
        assert!(changes_to_send(&[refused, Ok(r)]));
    }
}
