//! Leases: one writer per platform, across processes and replicas.

use super::*;

impl Store {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`, unless another holder's
    /// lease is still running. Returns `None` when taken, or the current holder and its expiry.
    ///
    /// One statement decides, so two processes racing for a free lease cannot both get it (SQLite
    /// serialises writers; PostgreSQL's `ON CONFLICT` locks the row).
    #[tracing::instrument(skip_all, fields(lease = %name))]
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        const WHAT: &str = "take a lease";
        let until = ts(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX));
        let now = ts(now);
        let taken: Option<String> = write_on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at < $4 OR leases.holder = $2
                 RETURNING holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?
        });
        if taken.is_some() {
            return Ok(None);
        }
        let current: Option<(String, DateTime<Utc>)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .ctx(WHAT)?
        });
        // Released between the two statements: report it free-but-missed; the caller tries again.
        Ok(Some(current.unwrap_or_else(|| (String::new(), now))))
    }

    /// Gives the lease up, if `holder` still has it.
    #[tracing::instrument(skip_all, fields(lease = %name))]
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), Error> {
        const WHAT: &str = "release a lease";
        write_on_pool!(self, |pool| {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .ctx(WHAT)?;
        });
        Ok(())
    }
}
