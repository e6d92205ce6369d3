//! How every declared object stands (`desired_state`, read through `v_drift`).

use super::*;

impl Store {
    /// Replaces the platform's rows of `desired_state` (what `v_drift` shows) with `rows`.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`]; a [`Error::Query`] if a status is not one the schema knows or
    /// two rows share a key.
    #[tracing::instrument(skip_all, fields(platform = %platform, rows = rows.len()))]
    pub async fn replace_desired_state(
        &self,
        platform: &str,
        rows: &[DesiredStateRow],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record the desired state";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            sqlx::query("DELETE FROM desired_state WHERE platform = $1")
                .bind(platform)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
            for chunk in rows.chunks(BATCH) {
                let sql = format!(
                    "INSERT INTO desired_state (platform, group_key, tag_key, group_name, tag_name,
                         status, detail, updated_at)
                     VALUES {}",
                    placeholders(chunk.len(), 8)
                );
                let mut query = sqlx::query(&sql);
                for row in chunk {
                    query = query
                        .bind(platform)
                        .bind(&row.group_key)
                        .bind(row.tag_key.as_deref().unwrap_or(""))
                        .bind(&row.group_name)
                        .bind(&row.tag_name)
                        .bind(&row.status)
                        .bind(&row.detail)
                        .bind(now);
                }
                query.execute(&mut *tx).await.ctx(WHAT)?;
            }
        });
        Ok(())
    }
}
