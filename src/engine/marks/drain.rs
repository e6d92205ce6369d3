//! The outbox worker: claim what is due, fold each customer's requests, deliver in the fewest
//! calls, record every outcome.
//!
//! Pipelined: up to [`CALLS_AT_ONCE`] calls are in flight, each its own task; whenever some
//! finish, their outcomes are recorded in one batch and, once fewer than [`REFILL_BELOW`] are
//! left, more customers are claimed, while the others keep the platform's limiter busy. Order
//! holds because a customer with an unrecorded outcome is still claimed, and a claim skips it.

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder as _;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::fold::{self, Resolved, TagIndex, Unresolved};
use crate::engine::{Engine, Target, lease};
use crate::model::{Desired, MarkStyle};
use crate::platforms::{self, MarkCall, MarkChange, Platform};
use crate::store::{self, ClaimedContact, MarkId, MarkOutcome, MarkRow};

/// Attempts before a request is given up on (dead). With [`backoff`] the last one comes about
/// two hours after the first.
pub const MAX_ATTEMPTS: i64 = 12;

/// How long a claim lasts: longer than a claimed call can take (each call gives up within the HTTP
/// layer's one-minute budget, and at most [`CALLS_AT_ONCE`] wait on the limiter), so a live
/// worker's claim never runs out under it; a dead worker's claim is taken back after this at the
/// latest.
const CLAIM_TTL: Duration = Duration::from_secs(300);

/// Calls kept in flight (each customer is in at most one of them, so order holds): enough that
/// the platform's limiter never waits on the mirror while outcomes are recorded and more claimed.
const CALLS_AT_ONCE: usize = 64;

/// More customers are claimed when fewer calls than this are in flight.
const REFILL_BELOW: usize = CALLS_AT_ONCE / 2;

/// Requests of one customer folded into one call at most.
const PER_CUSTOMER: i64 = 100;

/// The wait before attempt `attempts + 1`: exponential from 2 s, doubling, capped at 30 min,
/// with jitter so that requests failed together do not come back together.
pub fn backoff(attempts: i64) -> Duration {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(2))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(1800))
        .with_jitter()
        .without_max_times()
        .build()
        .nth(usize::try_from(attempts).unwrap_or(0))
        .unwrap_or(Duration::from_secs(1800))
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// Requests delivered (the platform has them).
    pub succeeded: usize,
    /// Requests put back for a later attempt.
    pub retried: usize,
    /// Requests given up on.
    pub dead: usize,
    /// Mark calls made (retries inside the HTTP layer not counted).
    pub calls: usize,
    /// Claims of dead workers put back.
    pub released: u64,
}

/// One customer's folded change, and the requests it carries.
struct Unit {
    requests: Vec<(MarkId, i64)>,
    call: MarkCall,
    user_id: Option<String>,
}

impl Engine {
    /// Delivers the platform's due marks until none is due; returns what happened.
    ///
    /// # Errors
    /// The mirror's. Platform failures are outcomes of requests, never errors.
    pub async fn drain_marks(
        &self,
        target: &Target,
        desired: &Desired,
    ) -> Result<DrainReport, store::Error> {
        self.drain(target, desired, None, None).await
    }

    /// [`Engine::drain_marks`] until `stop` turns true: then no more is claimed, the calls in
    /// flight finish and their outcomes are recorded (the daemon's workers, stopped at shutdown
    /// or when a SIGHUP removes the platform).
    ///
    /// # Errors
    /// The mirror's.
    pub async fn drain_marks_until(
        &self,
        target: &Target,
        desired: &Desired,
        stop: &watch::Receiver<bool>,
    ) -> Result<DrainReport, store::Error> {
        self.drain(target, desired, None, Some(stop)).await
    }

    /// Delivers one customer's due marks (what `tagsync mark` just queued, behind any earlier
    /// request of that customer).
    ///
    /// # Errors
    /// The mirror's.
    pub async fn deliver_marks_of(
        &self,
        target: &Target,
        desired: &Desired,
        contact: &str,
        user: Option<&str>,
    ) -> Result<DrainReport, store::Error> {
        self.drain(target, desired, Some((contact, user)), None)
            .await
    }

    async fn drain(
        &self,
        target: &Target,
        desired: &Desired,
        only: Option<(&str, Option<&str>)>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<DrainReport, store::Error> {
        let mut report = DrainReport {
            released: self.release_dead_claims(&target.name).await?,
            ..DrainReport::default()
        };
        let client = &target.client;
        let per_call = client.marks_per_call().max(1);
        let mut flight: JoinSet<Sent> = JoinSet::new();
        // Whether a claim may find work: it found some last time, or an outcome recorded since
        // may have freed a customer's next request.
        let mut more = true;
        loop {
            let stopped = stop.is_some_and(|s| *s.borrow());
            if more && !stopped && flight.len() < REFILL_BELOW {
                let calls = CALLS_AT_ONCE - flight.len();
                let units = self
                    .claim_units(target, desired, only, calls * per_call, &mut report)
                    .await?;
                more = units.is_some();
                let mut units = units.unwrap_or_default().into_iter().peekable();
                while units.peek().is_some() {
                    let chunk: Vec<Unit> = units.by_ref().take(per_call).collect();
                    flight.spawn(send(client.clone(), chunk));
                }
                if more {
                    continue;
                }
            }
            let Some(first) = flight.join_next().await else {
                if more && !stopped {
                    continue;
                }
                break;
            };
            // Everything else that finished meanwhile is recorded with it, in one transaction;
            // the calls still in flight keep the limiter busy while it is written.
            let mut done = vec![first.expect("a mark call never panics")];
            while let Some(next) = flight.try_join_next() {
                done.push(next.expect("a mark call never panics"));
            }
            self.record_sent(target, done, &mut report).await?;
            more = true;
        }
        Ok(report)
    }

    /// Claims due customers for about `max` customers' worth of calls and folds each into a
    /// unit; requests that cannot be sent are recorded dead at once. `None` when nothing was due.
    async fn claim_units(
        &self,
        target: &Target,
        desired: &Desired,
        only: Option<(&str, Option<&str>)>,
        max: usize,
        report: &mut DrainReport,
    ) -> Result<Option<Vec<Unit>>, store::Error> {
        let style = target.client.capabilities().mark;
        let store = self.store();
        let holder = lease::process_holder();
        let now = self.clock().now();
        let until = now + CLAIM_TTL;
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let claimed = store
            .claim_marks(&target.name, holder, now, until, max, PER_CUSTOMER, only)
            .await?;
        if claimed.is_empty() {
            return Ok(None);
        }
        let index = TagIndex::new(desired, &target.name, &store.bindings(&target.name).await?);
        let mut outcomes = Vec::new();
        let mut units = Vec::new();
        for c in claimed {
            if let Some(unit) = self.unit(target, style, &index, c, &mut outcomes).await? {
                units.push(unit);
            }
        }
        if !outcomes.is_empty() {
            self.finish(&target.name, &outcomes, report).await?;
        }
        Ok(Some(units))
    }

    /// Records what finished calls answered: a replaced set first (Miaokol), then every
    /// request's outcome, all in one batch.
    async fn record_sent(
        &self,
        target: &Target,
        done: Vec<Sent>,
        report: &mut DrainReport,
    ) -> Result<(), store::Error> {
        let now = self.clock().now();
        let mut outcomes = Vec::new();
        for (results, calls) in done {
            report.calls += calls;
            for (unit, result) in results {
                if let (Ok(()), MarkChange::Replace(set)) = (&result, &unit.call.change) {
                    self.store()
                        .set_contact_tags(
                            &target.name,
                            &unit.call.contact,
                            unit.user_id.as_deref(),
                            set,
                            now,
                        )
                        .await?;
                }
                for (id, attempts) in unit.requests {
                    outcomes.push((id, outcome(&result, attempts, now)));
                }
            }
        }
        self.finish(&target.name, &outcomes, report).await
    }

    async fn finish(
        &self,
        platform: &str,
        outcomes: &[(MarkId, MarkOutcome)],
        report: &mut DrainReport,
    ) -> Result<(), store::Error> {
        for (_, o) in outcomes {
            match o {
                MarkOutcome::Succeeded => report.succeeded += 1,
                MarkOutcome::Retry { .. } => report.retried += 1,
                MarkOutcome::Dead { .. } => report.dead += 1,
            }
        }
        let now = self.clock().now();
        let holder = lease::process_holder();
        let recorded = self.store().finish_marks(holder, outcomes, now).await?;
        if recorded < outcomes.len() as u64 {
            tracing::warn!(
                message = "Some mark claims ran out before their outcome was recorded; their new holder records them.",
                platform = %platform,
                lost = outcomes.len() as u64 - recorded
            );
        }
        Ok(())
    }

    /// Puts back the claims of workers of this host that are gone (killed, crashed).
    async fn release_dead_claims(&self, platform: &str) -> Result<u64, store::Error> {
        let mut released = 0;
        for holder in self.store().mark_claim_holders(platform).await? {
            if lease::holder_is_gone(&holder) {
                let note = format!(
                    "claimed by {holder}, which stopped before recording the outcome; sent again"
                );
                let n = self
                    .store()
                    .release_mark_claims(platform, &holder, &note, self.clock().now())
                    .await?;
                tracing::warn!(message = "Took back the mark claims of a stopped worker.", platform, %holder, requests = n);
                released += n;
            }
        }
        Ok(released)
    }

    /// A claimed customer's requests folded into one call; requests that cannot be sent are
    /// recorded dead in `outcomes` (they never block the customer's later ones).
    async fn unit(
        &self,
        target: &Target,
        style: MarkStyle,
        index: &TagIndex,
        c: ClaimedContact,
        outcomes: &mut Vec<(MarkId, MarkOutcome)>,
    ) -> Result<Option<Unit>, store::Error> {
        let user = match c.user_id.as_deref().map(|u| (u, fold::id_problem(u))) {
            Some((u, None)) => u.to_owned(),
            other => {
                let error = match other {
                    Some((u, Some(problem))) => format!("user_id {u:?} is not an id: {problem}"),
                    _ => "no user_id: the platform needs the staff member who owns the customer"
                        .to_owned(),
                };
                outcomes.extend(c.requests.iter().map(|r| {
                    let error = error.clone();
                    (r.id, MarkOutcome::Dead { error })
                }));
                return Ok(None);
            }
        };
        let mut resolved = Vec::new();
        for r in &c.requests {
            match resolve(index, &target.name, r) {
                Ok(res) => resolved.push(((r.id, r.attempts), res)),
                Err(error) => outcomes.push((r.id, MarkOutcome::Dead { error })),
            }
        }
        if resolved.is_empty() {
            return Ok(None);
        }
        let known = if style == MarkStyle::Overwrite {
            self.store()
                .contact_tags(&target.name, &c.contact, c.user_id.as_deref())
                .await?
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let Some(change) = fold::fold(style, &known, resolved.iter().map(|(_, r)| r)) else {
            let error = "the platform cannot mark customers".to_owned();
            outcomes.extend(resolved.iter().map(|((id, _), _)| {
                (
                    *id,
                    MarkOutcome::Dead {
                        error: error.clone(),
                    },
                )
            }));
            return Ok(None);
        };
        Ok(Some(Unit {
            requests: resolved.into_iter().map(|(r, _)| r).collect(),
            call: MarkCall {
                contact: c.contact,
                user,
                change,
            },
            user_id: c.user_id,
        }))
    }
}

/// A queued request in the platform's ids, or why it cannot be sent (then it is dead).
fn resolve(index: &TagIndex, platform: &str, r: &MarkRow) -> Result<Resolved, String> {
    if let Some(problem) = fold::id_problem(&r.contact) {
        return Err(format!("contact {:?} is not an id: {problem}", r.contact));
    }
    if r.add_tags.is_empty() && r.remove_tags.is_empty() {
        return Err("nothing to mark: add_tags and remove_tags are both empty".into());
    }
    let ids = |names: &[String]| -> Result<Vec<String>, String> {
        names
            .iter()
            .map(|n| match index.resolve(n) {
                Ok(id) => Ok(id.to_owned()),
                Err(Unresolved::Undeclared) => Err(format!(
                    "`{n}` is not a declared tag (GROUP/TAG) of platform {platform:?}"
                )),
                Err(Unresolved::Unbound) => Err(format!(
                    "`{n}` is declared but not yet on platform {platform:?}: run `tagsync apply`"
                )),
            })
            .collect()
    };
    Ok(Resolved {
        add: ids(&r.add_tags)?,
        remove: ids(&r.remove_tags)?,
    })
}

/// How a request ends after its call answered `result`.
fn outcome(result: &Result<(), Failed>, attempts: i64, now: DateTime<Utc>) -> MarkOutcome {
    let e = match result {
        Ok(()) => return MarkOutcome::Succeeded,
        Err(e) => &e.text,
    };
    if matches!(
        result,
        Err(Failed {
            permanent: true,
            ..
        })
    ) {
        return MarkOutcome::Dead { error: e.clone() };
    }
    let attempts = attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        return MarkOutcome::Dead {
            error: format!("gave up after {attempts} attempts: {e}"),
        };
    }
    MarkOutcome::Retry {
        error: e.clone(),
        next_attempt_at: now + backoff(attempts - 1),
    }
}

/// A refusal that the same request will meet again (an unknown customer, a tag the platform
/// refuses); everything else (busy, lost, exhausted, an unreadable answer, a refused credential
/// that someone may fix) is tried again.
fn permanent(e: &platforms::Error) -> bool {
    matches!(
        e,
        platforms::Error::Rejected { .. }
            | platforms::Error::NotOurs { .. }
            | platforms::Error::Unsupported { .. }
    )
}

/// Why a call failed, as the outcome needs it (one failed call fails every customer in it).
#[derive(Debug, Clone)]
struct Failed {
    permanent: bool,
    text: String,
}

impl From<platforms::Error> for Failed {
    fn from(e: platforms::Error) -> Self {
        Failed {
            permanent: permanent(&e),
            text: e.to_string(),
        }
    }
}

/// What one call (or its split) answered, per customer, and how many calls it took.
type Sent = (Vec<(Unit, Result<(), Failed>)>, usize);

/// Sends one call of up to `marks_per_call` customers. A call refused for good is split into one
/// call per customer, so one bad customer does not sink the others.
async fn send(client: Arc<dyn Platform>, chunk: Vec<Unit>) -> Sent {
    let calls: Vec<MarkCall> = chunk.iter().map(|u| u.call.clone()).collect();
    match client.mark(&calls).await.map_err(Failed::from) {
        Err(e) if e.permanent && chunk.len() > 1 => {
            let mut out = Vec::with_capacity(chunk.len());
            for u in chunk {
                let r = client.mark(std::slice::from_ref(&u.call)).await;
                out.push((u, r.map_err(Failed::from)));
            }
            let n = out.len() + 1;
            (out, n)
        }
        r => (chunk.into_iter().map(|u| (u, r.clone())).collect(), 1),
    }
}
