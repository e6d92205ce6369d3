//! The `platforms` table: configured platforms, their kind, mode and last error.

use super::*;

impl Store {
    /// Records a configured platform, or updates its kind and mode.
    #[tracing::instrument(skip_all, fields(platform = %name))]
    pub async fn upsert_platform(
        &self,
        name: &str,
        kind: &str,
        mode: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "INSERT INTO platforms (name, kind, mode, updated_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name) DO UPDATE
                   SET kind = excluded.kind, mode = excluded.mode, updated_at = excluded.updated_at";
        let now = ts(now);
        on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(name).bind(kind).bind(mode).bind(now);
            query.execute(pool).await.map(drop)
        })
        .ctx("record a platform")
    }

    /// Sets (or with `None`, clears) the platform's last error.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`] if the platform was never recorded.
    #[tracing::instrument(skip_all, fields(platform = %name))]
    pub async fn set_platform_error(
        &self,
        name: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "UPDATE platforms SET last_error = $2, updated_at = $3 WHERE name = $1";
        let now = ts(now);
        let updated = on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(name).bind(error).bind(now);
            query.execute(pool).await.map(|r| r.rows_affected())
        })
        .ctx("record a platform error")?;
        if updated == 0 {
            return Err(Error::UnknownPlatform {
                platform: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Every recorded platform, by name.
    pub async fn platform_rows(&self) -> Result<Vec<PlatformRow>, Error> {
        let sql = "SELECT name, kind, mode, last_pull_at, last_apply_at, last_error, updated_at
                   FROM platforms ORDER BY name";
        let rows: Vec<rows::Platform> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)
                .ctx("read platforms")?;
        Ok(rows.into_iter().map(PlatformRow::from).collect())
    }
}
