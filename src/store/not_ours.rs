//! "Not ours": groups that refused tagsync (made in the console), remembered so plans show drift.

use super::*;

impl Store {
    /// Remembers that a remote group refused tagsync because someone else owns it. Marking it again
    /// keeps the first time.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn mark_not_ours(
        &self,
        platform: &str,
        group_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "mark a group as not ours";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            sqlx::query(
                "INSERT INTO not_ours (platform, remote_id, marked_at) VALUES ($1, $2, $3)
                 ON CONFLICT (platform, remote_id) DO NOTHING",
            )
            .bind(platform)
            .bind(group_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
        });
        Ok(())
    }

    /// The remote group ids of the platform that [`Store::mark_not_ours`] recorded.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn not_ours(&self, platform: &str) -> Result<BTreeSet<String>, Error> {
        let sql = "SELECT remote_id FROM not_ours WHERE platform = $1";
        let ids: Vec<String> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read groups not ours")?;
        Ok(ids.into_iter().collect())
    }
}
