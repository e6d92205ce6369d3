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
