//! The outbox worker: claim what is due, fold each customer's requests, deliver in the fewest
//! calls, record every outcome.

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder as _;
use chrono::{DateTime, Utc};

use super::fold::{self, Resolved, TagIndex, Unresolved};
use crate::engine::{Engine, Target, lease};
use crate::model::{Desired, MarkStyle};
use crate::platforms::{self, MarkCall, MarkChange, Platform};
use crate::store::{self, ClaimedContact, MarkId, MarkOutcome, MarkRow};

/// Attempts before a request is given up on (dead). With [`backoff`] the last one comes about
/// two hours after the first.
pub const MAX_ATTEMPTS: i64 = 12;

/// How long a claim lasts: longer than one pass can take (each call gives up within the HTTP
/// layer's one-minute budget, and a pass sends its calls at once), so a live worker's claim never
/// runs out under it; a dead worker's claim is taken back after this at the latest.
const CLAIM_TTL: Duration = Duration::from_secs(300);

/// Calls one pass sends at once (each customer is in at most one of them, so order holds).
const CALLS_AT_ONCE: usize = 64;

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
        self.drain(target, desired, None).await
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
        self.drain(target, desired, Some((contact, user))).await
    }

    async fn drain(
        &self,
        target: &Target,
        desired: &Desired,
        only: Option<(&str, Option<&str>)>,
    ) -> Result<DrainReport, store::Error> {
        let mut report = DrainReport {
            released: self.release_dead_claims(&target.name).await?,
            ..DrainReport::default()
        };
        while self.drain_pass(target, desired, only, &mut report).await? {}
        Ok(report)
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

    /// One pass; false when nothing was due.
    async fn drain_pass(
        &self,
        target: &Target,
        desired: &Desired,
        only: Option<(&str, Option<&str>)>,
        report: &mut DrainReport,
    ) -> Result<bool, store::Error> {
        let client = &target.client;
        let style = client.capabilities().mark;
        let per_call = client.marks_per_call().max(1);
        let store = self.store();
        let holder = lease::process_holder();
        let now = self.clock().now();
        let until = now + CLAIM_TTL;
        let max = i64::try_from(per_call * CALLS_AT_ONCE).unwrap_or(i64::MAX);
        let claimed = store
            .claim_marks(&target.name, holder, now, until, max, PER_CUSTOMER, only)
            .await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        let index = TagIndex::new(desired, &target.name, &store.bindings(&target.name).await?);
        let mut outcomes = Vec::new();
        let mut units = Vec::new();
        for c in claimed {
            if let Some(unit) = self.unit(target, style, &index, c, &mut outcomes).await? {
                units.push(unit);
            }
        }
        let results = send(client, units, per_call).await;
        report.calls += results.iter().map(|(_, calls)| calls).sum::<usize>();
        let now = self.clock().now();
        for (done, _) in results {
            for (unit, result) in done {
                if let (Ok(()), MarkChange::Replace(set)) = (&result, &unit.call.change) {
                    store
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
        for (_, o) in &outcomes {
            match o {
                MarkOutcome::Succeeded => report.succeeded += 1,
                MarkOutcome::Retry { .. } => report.retried += 1,
                MarkOutcome::Failed { .. } => report.dead += 1,
            }
        }
        let recorded = store.finish_marks(holder, &outcomes, now).await?;
        if recorded < outcomes.len() as u64 {
            tracing::warn!(
                message = "Some mark claims ran out before their outcome was recorded; their new holder records them.",
                platform = %target.name,
                lost = outcomes.len() as u64 - recorded
            );
        }
        Ok(true)
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
                    (r.id, MarkOutcome::Failed { error })
                }));
                return Ok(None);
            }
        };
        let mut resolved = Vec::new();
        for r in &c.requests {
            match resolve(index, &target.name, r) {
                Ok(res) => resolved.push(((r.id, r.attempts), res)),
                Err(error) => outcomes.push((r.id, MarkOutcome::Failed { error })),
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
                    MarkOutcome::Failed {
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
        return MarkOutcome::Failed { error: e.clone() };
    }
    let attempts = attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        return MarkOutcome::Failed {
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

/// Sends the units in calls of `per_call` customers, all calls at once. A call refused for good
/// is split into one call per customer, so one bad customer does not sink the others.
async fn send(client: &Arc<dyn Platform>, units: Vec<Unit>, per_call: usize) -> Vec<Sent> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut units = units.into_iter().peekable();
    while units.peek().is_some() {
        let chunk: Vec<Unit> = units.by_ref().take(per_call).collect();
        let client = client.clone();
        tasks.spawn(async move {
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
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.expect("a mark call never panics"));
    }
    results
}
