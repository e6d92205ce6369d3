//! Read-only views for reports: drift and the event history.

use super::*;

impl Store {
    /// The platform's desired state as the last plan judged it (the `v_drift` view), by key.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn drift(&self, platform: &str) -> Result<Vec<DesiredStateRow>, Error> {
        let sql = "SELECT group_key, tag_key, group_name, tag_name, status, detail FROM v_drift
                   WHERE platform = $1 ORDER BY group_key, tag_key";
        let rows: Vec<rows::Drift> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read the drift")?;
        Ok(rows
            .into_iter()
            .map(|r| DesiredStateRow {
                group_key: r.group_key,
                tag_key: Some(r.tag_key).filter(|k| !k.is_empty()),
                group_name: r.group_name,
                tag_name: r.tag_name,
                status: r.status,
                detail: r.detail,
            })
            .collect())
    }

    /// Every event of the platform, oldest first.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn events(&self, platform: &str) -> Result<Vec<EventRow>, Error> {
        let sql = "SELECT id, platform, object, remote_id, kind, old_value, new_value, source,
                          run_id, at
                   FROM tag_events WHERE platform = $1 ORDER BY id";
        let rows: Vec<rows::Event> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read events")?;
        rows.into_iter().map(EventRow::try_from).collect()
    }
}
