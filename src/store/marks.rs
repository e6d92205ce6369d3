//! The mark queue (`mark_queue`): customer tag marks waiting to be delivered.

use super::*;

impl Store {
    /// Queues a customer mark, due at once, and returns its id.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn queue_mark(
        &self,
        platform: &str,
        mark: &NewMark,
        now: DateTime<Utc>,
    ) -> Result<MarkId, Error> {
        const WHAT: &str = "queue a mark";
        let now = ts(now);
        let add = json_list(&mark.add_tags);
        let remove = json_list(&mark.remove_tags);
        let id = in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags,
                     status, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6, $6) RETURNING id",
            )
            .bind(platform)
            .bind(&mark.contact)
            .bind(&mark.user_id)
            .bind(&add)
            .bind(&remove)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(id)
    }

    /// The platform's queued marks due at `now`, oldest due first, at most `limit`.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn due_marks(
        &self,
        platform: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<MarkRow>, Error> {
        let sql = "SELECT id, platform, contact, user_id, add_tags, remove_tags, status, attempts,
                          next_attempt_at, last_error, created_at, updated_at
                   FROM mark_requests
                   WHERE platform = $1 AND status = 'queued' AND next_attempt_at <= $2
                   ORDER BY next_attempt_at, id LIMIT $3";
        let now = ts(now);
        let rows: Vec<rows::Mark> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(platform)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .ctx("read due marks")?;
        rows.into_iter().map(MarkRow::try_from).collect()
    }

    /// Records one attempt at a mark: its new status and error, one more attempt, and (while it
    /// stays queued) when to try again.
    ///
    /// # Errors
    /// [`Error::UnknownMark`].
    #[tracing::instrument(skip_all, fields(mark = mark, status = %status))]
    pub async fn record_mark_attempt(
        &self,
        mark: MarkId,
        status: MarkStatus,
        error: Option<&str>,
        next_attempt_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "UPDATE mark_requests
                   SET status = $2, last_error = $3, attempts = attempts + 1,
                       next_attempt_at = COALESCE($4, next_attempt_at), updated_at = $5
                   WHERE id = $1";
        let (next, now) = (next_attempt_at.map(ts), ts(now));
        let updated = on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(mark)
                .bind(status.as_str())
                .bind(error);
            query
                .bind(next)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("record a mark attempt")?;
        if updated == 0 {
            return Err(Error::UnknownMark { mark });
        }
        Ok(())
    }
}

/// The columns of a [`rows::Mark`].
macro_rules! mark_columns {
    () => {
        "id, platform, contact, user_id, add_tags, remove_tags, status, attempts,
         next_attempt_at, last_error, created_at, updated_at"
    };
}

/// Customers claimed (and ids recorded) per statement: well under either backend's limit of
/// bound parameters.
const CLAIM_CHUNK: usize = 500;

/// One customer of a platform (a missing staff member is `''`, as `mark_contacts` keys it).
const SAME_CUSTOMER: &str = "platform = $1 AND contact = $2 AND COALESCE(user_id, '') = $3";

impl Store {
    /// Claims due work for `holder` until `until`: up to `max_contacts` customers whose oldest
    /// unfinished request is due (queued and due, or claimed by a holder whose claim ran out), each
    /// with up to `per_customer` of its unfinished requests in order. A customer whose oldest
    /// unfinished request is not due, or is claimed by a live holder, is skipped whole, so a later
    /// request is never sent before an earlier one has an outcome. `only` restricts the claim to
    /// one customer (`tagsync mark` delivering what it just queued).
    ///
    /// Safe across processes: on PostgreSQL the due rows are locked `FOR UPDATE SKIP LOCKED`
    /// (concurrent claimers take different customers); SQLite has one writer at a time.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn claim_marks(
        &self,
        platform: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_contacts: i64,
        per_customer: i64,
        only: Option<(&str, Option<&str>)>,
    ) -> Result<Vec<ClaimedContact>, Error> {
        const WHAT: &str = "claim due marks";
        let lock = match self.backend {
            Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let heads_sql = format!(
            "SELECT m.contact, m.user_id FROM mark_requests m
             WHERE m.platform = $1
               AND ((m.status = 'queued' AND m.next_attempt_at <= $2)
                    OR (m.status = 'claimed' AND m.claimed_until < $2))
               AND ($4 = '' OR (m.contact = $4 AND COALESCE(m.user_id, '') = $5))
               AND NOT EXISTS (
                   SELECT 1 FROM mark_requests e
                   WHERE e.platform = m.platform AND e.contact = m.contact
                     AND COALESCE(e.user_id, '') = COALESCE(m.user_id, '')
                     AND e.id < m.id AND e.status IN ('queued', 'claimed'))
             ORDER BY m.id LIMIT $3{lock}"
        );
        let (now, until) = (ts(now), ts(until));
        let (only_contact, only_user) = only.map_or((String::new(), String::new()), |(c, u)| {
            (c.to_owned(), u.unwrap_or_default().to_owned())
        });
        let claimed = in_tx!(self, WHAT, |tx| {
            let heads: Vec<(String, Option<String>)> = sqlx::query_as(&heads_sql)
                .bind(platform)
                .bind(now)
                .bind(max_contacts)
                .bind(&only_contact)
                .bind(&only_user)
                .fetch_all(&mut *tx)
                .await
                .ctx(WHAT)?;
            let mut rows: Vec<MarkRow> = Vec::new();
            // Each customer's first `per_customer` unfinished requests, claimed and read back in
            // one statement per chunk of customers (row values and window functions: both
            // backends; the UPDATE locks the rows on PostgreSQL).
            for chunk in heads.chunks(CLAIM_CHUNK) {
                let customers = (0..chunk.len())
                    .map(|i| format!("(${}, ${})", 6 + 2 * i, 7 + 2 * i))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    concat!(
                        "UPDATE mark_requests
                         SET status = 'claimed', claimed_by = $2, claimed_until = $3,
                             updated_at = $4
                         WHERE id IN (
                             SELECT id FROM (
                                 SELECT id, ROW_NUMBER() OVER (
                                     PARTITION BY contact, COALESCE(user_id, '') ORDER BY id) AS n
                                 FROM mark_requests
                                 WHERE platform = $1 AND status IN ('queued', 'claimed')
                                   AND (contact, COALESCE(user_id, '')) IN (VALUES {})
                             ) chain WHERE n <= $5)
                         RETURNING ",
                        mark_columns!()
                    ),
                    customers
                );
                let mut query = sqlx::query_as(&sql)
                    .bind(platform)
                    .bind(holder)
                    .bind(until)
                    .bind(now)
                    .bind(per_customer);
                for (contact, user_id) in chunk {
                    query = query
                        .bind(contact)
                        .bind(user_id.as_deref().unwrap_or_default());
                }
                let taken: Vec<rows::Mark> = query.fetch_all(&mut *tx).await.ctx(WHAT)?;
                for r in taken {
                    rows.push(MarkRow::try_from(r)?);
                }
            }
            let mut chains: BTreeMap<(String, String), Vec<MarkRow>> = BTreeMap::new();
            for r in rows {
                let key = (r.contact.clone(), r.user_id.clone().unwrap_or_default());
                chains.entry(key).or_default().push(r);
            }
            let mut claimed = Vec::with_capacity(heads.len());
            for (contact, user_id) in heads {
                let key = (contact, user_id.clone().unwrap_or_default());
                let Some(mut requests) = chains.remove(&key) else {
                    continue;
                };
                requests.sort_by_key(|r| r.id);
                claimed.push(ClaimedContact {
                    contact: key.0,
                    user_id,
                    requests,
                });
            }
            claimed
        });
        Ok(claimed)
    }

    /// Records how claimed requests ended (one more attempt each). A request no longer claimed by
    /// `holder` (its claim ran out and another worker took it) is left to that worker; returns how
    /// many were recorded.
    #[tracing::instrument(skip_all, fields(n = outcomes.len()))]
    pub async fn finish_marks(
        &self,
        holder: &str,
        outcomes: &[(MarkId, MarkOutcome)],
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        const WHAT: &str = "record mark outcomes";
        let now = ts(now);
        // Requests that ended alike are recorded by one statement (a delivered batch is one).
        type Ending<'a> = (MarkStatus, Option<&'a str>, Option<DateTime<Utc>>, bool);
        let mut alike: BTreeMap<Ending<'_>, Vec<MarkId>> = BTreeMap::new();
        for (id, outcome) in outcomes {
            let ending = match outcome {
                MarkOutcome::Succeeded => (MarkStatus::Succeeded, None, None, true),
                MarkOutcome::Retry {
                    error,
                    next_attempt_at,
                } => (
                    MarkStatus::Queued,
                    Some(error.as_str()),
                    Some(ts(*next_attempt_at)),
                    false,
                ),
                MarkOutcome::Dead { error } => (MarkStatus::Dead, Some(error.as_str()), None, true),
            };
            alike.entry(ending).or_default().push(*id);
        }
        let done = in_tx!(self, WHAT, |tx| {
            let mut done = 0;
            for ((status, error, next, finished), ids) in &alike {
                for chunk in ids.chunks(CLAIM_CHUNK) {
                    let list = (0..chunk.len())
                        .map(|i| format!("${}", 7 + i))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "UPDATE mark_requests
                         SET status = $2, last_error = COALESCE($3, last_error),
                             attempts = attempts + 1,
                             next_attempt_at = COALESCE($4, next_attempt_at), finished_at = $5,
                             claimed_by = NULL, claimed_until = NULL, updated_at = $6
                         WHERE claimed_by = $1 AND status = 'claimed' AND id IN ({list})"
                    );
                    let mut query = sqlx::query(&sql)
                        .bind(holder)
                        .bind(status.as_str())
                        .bind(*error)
                        .bind(*next)
                        .bind(finished.then_some(now))
                        .bind(now);
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    done += query.execute(&mut *tx).await.ctx(WHAT)?.rows_affected();
                }
            }
            done
        });
        Ok(done)
    }

    /// The platforms that have marks queued or claimed, in one statement: the daemon's mark
    /// workers drain only these, so that an idle fleet of accounts costs one query per poll.
    pub async fn platforms_with_marks(&self) -> Result<Vec<String>, Error> {
        let sql =
            "SELECT DISTINCT platform FROM mark_requests WHERE status IN ('queued', 'claimed')";
        on_pool!(self, |pool| sqlx::query_scalar(sql).fetch_all(pool).await)
            .ctx("read the platforms with marks")
    }

    /// The holders of the platform's claimed requests.
    pub async fn mark_claim_holders(&self, platform: &str) -> Result<Vec<String>, Error> {
        let sql = "SELECT DISTINCT claimed_by FROM mark_requests
                   WHERE platform = $1 AND status = 'claimed' AND claimed_by IS NOT NULL";
        on_pool!(self, |pool| {
            sqlx::query_scalar(sql).bind(platform).fetch_all(pool).await
        })
        .ctx("read mark claim holders")
    }

    /// Puts the claims of a holder known to be dead back in the queue, due at once, with `note`
    /// as their last error; their order is kept (ids do not change). Returns how many.
    pub async fn release_mark_claims(
        &self,
        platform: &str,
        holder: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let sql = "UPDATE mark_requests
                   SET status = 'queued', claimed_by = NULL, claimed_until = NULL,
                       next_attempt_at = $3, last_error = $4, updated_at = $3
                   WHERE platform = $1 AND claimed_by = $2 AND status = 'claimed'";
        let now = ts(now);
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(platform)
                .bind(holder)
                .bind(now)
                .bind(note)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("release dead mark claims")
    }

    /// Requeues dead requests (of one platform, or all), due at once with their attempts reset.
    /// Returns how many.
    pub async fn requeue_dead_marks(
        &self,
        platform: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let sql = "UPDATE mark_requests
                   SET status = 'queued', attempts = 0, next_attempt_at = $2, finished_at = NULL,
                       updated_at = $2
                   WHERE status = 'dead' AND ($1 = '' OR platform = $1)";
        let now = ts(now);
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(platform.unwrap_or_default())
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("requeue dead marks")
    }

    /// One request.
    pub async fn mark(&self, id: MarkId) -> Result<Option<MarkRow>, Error> {
        let sql = concat!(
            "SELECT ",
            mark_columns!(),
            " FROM mark_requests WHERE id = $1"
        );
        let row: Option<rows::Mark> = on_pool!(self, |pool| {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await
        })
        .ctx("read a mark")?;
        row.map(MarkRow::try_from).transpose()
    }

    /// The platform's queue: counts by status and the oldest unfinished request (for `status` and
    /// `/metrics`).
    pub async fn mark_queue_stats(&self, platform: &str) -> Result<MarkQueueStats, Error> {
        let sql = "SELECT status, COUNT(*), MIN(created_at) FROM mark_requests
                   WHERE platform = $1 GROUP BY status";
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = on_pool!(self, |pool| {
            sqlx::query_as(sql).bind(platform).fetch_all(pool).await
        })
        .ctx("read the mark queue")?;
        let mut stats = MarkQueueStats::default();
        for (status, n, oldest) in rows {
            match MarkStatus::from_column("mark_requests.status", &status)? {
                s @ (MarkStatus::Queued | MarkStatus::Claimed) => {
                    stats.queued += n;
                    if s == MarkStatus::Claimed {
                        stats.claimed = n;
                    }
                    stats.oldest_created_at = match (stats.oldest_created_at, oldest) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                MarkStatus::Succeeded => stats.succeeded = n,
                MarkStatus::Dead => stats.dead = n,
            }
        }
        Ok(stats)
    }

    /// The tag ids tagsync last set on a customer of a platform whose mark call replaces the set;
    /// `None` when tagsync never set any.
    pub async fn contact_tags(
        &self,
        platform: &str,
        contact: &str,
        user_id: Option<&str>,
    ) -> Result<Option<Vec<String>>, Error> {
        let sql = format!("SELECT tag_ids FROM mark_contacts WHERE {SAME_CUSTOMER}");
        let text: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(&sql)
                .bind(platform)
                .bind(contact)
                .bind(user_id.unwrap_or_default())
                .fetch_optional(pool)
                .await
        })
        .ctx("read a customer's tags")?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|_| Error::Corrupt {
                column: "mark_contacts.tag_ids",
                value: t,
            })
        })
        .transpose()
    }

    /// Records the set tagsync just set on a customer.
    pub async fn set_contact_tags(
        &self,
        platform: &str,
        contact: &str,
        user_id: Option<&str>,
        tag_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "INSERT INTO mark_contacts (platform, contact, user_id, tag_ids, updated_at)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (platform, contact, user_id) DO UPDATE
                   SET tag_ids = excluded.tag_ids, updated_at = excluded.updated_at";
        let (ids, now) = (json_list(tag_ids), ts(now));
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(platform)
                .bind(contact)
                .bind(user_id.unwrap_or_default())
                .bind(&ids)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .ctx("record a customer's tags")?;
        Ok(())
    }
}
