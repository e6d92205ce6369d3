//! What the daemon records besides runs: tag files it refused (`tag_file_errors`), and who holds
//! a writer lease (for its metrics and tests).

use super::*;

/// A row of `tag_file_errors`: the tag files at `source` are invalid and the daemon keeps the last
/// valid state in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFileError {
    pub source: String,
    /// The located message (file:line:column).
    pub error: String,
    /// The replica (`host:pid`) that last read the files.
    pub reported_by: String,
    /// When the files were first found invalid with this message.
    pub since: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Records that the tag files at `source` are invalid (`Some(error)`), or valid again (`None`,
    /// which deletes the row). `since` moves only when the message changes.
    #[tracing::instrument(skip_all, fields(source = %source))]
    pub async fn set_tag_file_error(
        &self,
        source: &str,
        error: Option<&str>,
        reported_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record a tag-file error";
        let now = ts(now);
        match error {
            None => write_on_pool!(self, |pool| {
                sqlx::query("DELETE FROM tag_file_errors WHERE source = $1")
                    .bind(source)
                    .execute(pool)
                    .await
                    .ctx(WHAT)?;
            }),
            Some(error) => write_on_pool!(self, |pool| {
                sqlx::query(
                    "INSERT INTO tag_file_errors (source, error, reported_by, since, updated_at)
                     VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (source) DO UPDATE SET
                         since = CASE WHEN tag_file_errors.error = excluded.error
                                      THEN tag_file_errors.since ELSE excluded.since END,
                         error = excluded.error, reported_by = excluded.reported_by,
                         updated_at = excluded.updated_at",
                )
                .bind(source)
                .bind(error)
                .bind(reported_by)
                .bind(now)
                .execute(pool)
                .await
                .ctx(WHAT)?;
            }),
        }
        Ok(())
    }

    /// Every tag source currently refused, by source.
    pub async fn tag_file_errors(&self) -> Result<Vec<TagFileError>, Error> {
        type Row = (String, String, String, DateTime<Utc>, DateTime<Utc>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT source, error, reported_by, since, updated_at FROM tag_file_errors
                 ORDER BY source",
            )
            .fetch_all(pool)
            .await
            .ctx("read tag-file errors")?
        });
        Ok(rows
            .into_iter()
            .map(
                |(source, error, reported_by, since, updated_at)| TagFileError {
                    source,
                    error,
                    reported_by,
                    since,
                    updated_at,
                },
            )
            .collect())
    }

    /// Who holds the lease `name` and until when, expired or not; `None` when nobody does.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .ctx("read a lease")?
        }))
    }
}
