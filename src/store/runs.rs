//! Runs (`sync_runs`) and their journal (`operations`: an intent before each call, an outcome after).

use super::*;

impl Store {
    /// Starts a run (status 'running') and returns its id.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn start_run(
        &self,
        platform: &str,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<RunId, Error> {
        const WHAT: &str = "start a run";
        let now = ts(now);
        let run = in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                r#"INSERT INTO sync_runs (platform, "trigger", started_at, status)
                   VALUES ($1, $2, $3, 'running') RETURNING id"#,
            )
            .bind(platform)
            .bind(trigger)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(run)
    }

    /// Finishes a run with its outcome. Also sets the platform's `last_error` to the outcome's
    /// error (clearing it on success), and its `last_apply_at` when an operation was applied.
    ///
    /// # Errors
    /// [`Error::UnknownRun`].
    #[tracing::instrument(skip_all, fields(run = run))]
    pub async fn finish_run(
        &self,
        run: RunId,
        outcome: &RunOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "finish a run";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            let platform: Option<String> = sqlx::query_scalar(
                "UPDATE sync_runs
                 SET finished_at = $2, status = $3, planned = $4, applied = $5, failed = $6,
                     api_calls = $7, error = $8
                 WHERE id = $1 RETURNING platform",
            )
            .bind(run)
            .bind(now)
            .bind(outcome.status.as_str())
            .bind(outcome.planned)
            .bind(outcome.applied)
            .bind(outcome.failed)
            .bind(outcome.api_calls)
            .bind(&outcome.error)
            .fetch_optional(&mut *tx)
            .await
            .ctx(WHAT)?;
            let Some(platform) = platform else {
                return Err(Error::UnknownRun { run });
            };
            sqlx::query(
                "UPDATE platforms
                 SET last_error = $2, updated_at = $3,
                     last_apply_at = CASE WHEN $4 THEN $3 ELSE last_apply_at END
                 WHERE name = $1",
            )
            .bind(&platform)
            .bind(&outcome.error)
            .bind(now)
            .bind(outcome.applied > 0)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
        });
        Ok(())
    }

    /// Journals an operation as an intent, before it is sent, and returns its id. `request` is a
    /// summary for people: it must never hold a secret. `seq` is unique within the run.
    ///
    /// # Errors
    /// [`Error::UnknownRun`] if `run` is not a run of this platform; a [`Error::Query`] if `seq`
    /// is taken.
    #[allow(clippy::too_many_arguments)] // The operation's columns, each one meaningful.
    #[tracing::instrument(skip_all, fields(platform = %platform, run = run, seq = seq))]
    pub async fn record_intent(
        &self,
        run: RunId,
        platform: &str,
        seq: i64,
        kind: &str,
        target: &str,
        request: &str,
        now: DateTime<Utc>,
    ) -> Result<OperationId, Error> {
        const WHAT: &str = "record an operation";
        let now = ts(now);
        let id = in_tx!(self, WHAT, |tx| {
            ensure_run!(tx, run, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO operations (run_id, platform, seq, kind, target, request, status,
                     attempts, created_at, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'intent', 0, $7, $7) RETURNING id",
            )
            .bind(run)
            .bind(platform)
            .bind(seq)
            .bind(kind)
            .bind(target)
            .bind(request)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(id)
    }

    /// Journals the operations of one batch as intents in one transaction, before any of them
    /// is sent, and returns their ids in the order given. `seq`s are unique within the run.
    ///
    /// # Errors
    /// As [`Store::record_intent`].
    #[tracing::instrument(skip_all, fields(platform = %platform, run = run, n = intents.len()))]
    pub async fn record_intents(
        &self,
        run: RunId,
        platform: &str,
        intents: &[Intent<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<OperationId>, Error> {
        const WHAT: &str = "record operations";
        let now = ts(now);
        let ids = in_tx!(self, WHAT, |tx| {
            ensure_run!(tx, run, platform, WHAT);
            let mut ids = Vec::with_capacity(intents.len());
            for i in intents {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO operations (run_id, platform, seq, kind, target, request, status,
                         attempts, created_at, started_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'intent', 0, $7, $7) RETURNING id",
                )
                .bind(run)
                .bind(platform)
                .bind(i.seq)
                .bind(i.kind)
                .bind(i.target)
                .bind(i.request)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .ctx(WHAT)?;
                ids.push(id);
            }
            ids
        });
        Ok(ids)
    }

    /// Records what became of the operations of one batch, in one transaction.
    ///
    /// # Errors
    /// [`Error::UnknownOperation`] for the first id that is not an operation.
    #[tracing::instrument(skip_all, fields(n = outcomes.len()))]
    pub async fn record_outcomes(
        &self,
        outcomes: &[OutcomeRow<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record operations' outcomes";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            for o in outcomes {
                let updated = sqlx::query(
                    "UPDATE operations SET status = $2, attempts = $3, error = $4,
                         finished_at = $5
                     WHERE id = $1",
                )
                .bind(o.id)
                .bind(o.status.as_str())
                .bind(o.attempts)
                .bind(o.error)
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?
                .rows_affected();
                if updated == 0 {
                    return Err(Error::UnknownOperation { operation: o.id });
                }
            }
        });
        Ok(())
    }

    /// Records what became of an operation.
    ///
    /// # Errors
    /// [`Error::UnknownOperation`].
    #[tracing::instrument(skip_all, fields(operation = op, status = %status))]
    pub async fn record_outcome(
        &self,
        op: OperationId,
        status: OpStatus,
        attempts: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "UPDATE operations SET status = $2, attempts = $3, error = $4, finished_at = $5
                   WHERE id = $1";
        let now = ts(now);
        let updated = write_on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(op)
                .bind(status.as_str())
                .bind(attempts);
            query
                .bind(error)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("record an operation's outcome")?;
        if updated == 0 {
            return Err(Error::UnknownOperation { operation: op });
        }
        Ok(())
    }

    /// Operations of this platform still in status 'intent' (no outcome recorded), oldest first:
    /// each may or may not have reached the platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn pending_intents(&self, platform: &str) -> Result<Vec<OperationRow>, Error> {
        let sql = concat!(
            select_operations!(),
            " WHERE platform = $1 AND status = 'intent' ORDER BY id"
        );
        let rows: Vec<rows::Operation> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read pending operations")?;
        rows.into_iter().map(OperationRow::try_from).collect()
    }

    /// The operations of a run, in `seq` order.
    #[tracing::instrument(skip_all, fields(run = run))]
    pub async fn operations(&self, run: RunId) -> Result<Vec<OperationRow>, Error> {
        let sql = concat!(select_operations!(), " WHERE run_id = $1 ORDER BY seq, id");
        let rows: Vec<rows::Operation> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(run)
            .fetch_all(pool)
            .await)
        .ctx("read operations")?;
        rows.into_iter().map(OperationRow::try_from).collect()
    }

    /// The platform's latest `limit` runs, newest first.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn runs(&self, platform: &str, limit: i64) -> Result<Vec<RunRow>, Error> {
        let sql = r#"SELECT id, platform, "trigger", started_at, finished_at, status, planned,
                            applied, failed, api_calls, error
                     FROM sync_runs WHERE platform = $1 ORDER BY id DESC LIMIT $2"#;
        let rows: Vec<rows::Run> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(platform)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .ctx("read runs")?;
        rows.into_iter().map(RunRow::try_from).collect()
    }
}

/// One operation to journal as an intent ([`Store::record_intents`]).
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    pub seq: i64,
    pub kind: &'a str,
    pub target: &'a str,
    /// A summary for people: never a secret.
    pub request: &'a str,
}

/// What became of one operation ([`Store::record_outcomes`]).
#[derive(Debug, Clone, Copy)]
pub struct OutcomeRow<'a> {
    pub id: OperationId,
    pub status: OpStatus,
    pub attempts: i64,
    pub error: Option<&'a str>,
}
