//! The mirror proper: listings recorded (`tag_groups`, `tags`) and every change as a `tag_events` row,
//! whether a pull saw it or apply made it.

use super::*;

impl Store {
    /// Records one full listing of a platform.
    ///
    /// Upserts every group and tag (name, order, created time, `last_seen_at = now`,
    /// `deleted_at = NULL`) and writes a 'pull' event for each object that is new, renamed,
    /// reordered or back after it vanished (a comeback is 'created', plus 'renamed'/'reordered' if
    /// it changed meanwhile). When `complete` is true, every object of this platform that is live in
    /// the mirror but absent from the listing is marked deleted (`deleted_at = now`, a 'deleted'
    /// event); when false (a partial listing), nothing is marked deleted. Sets
    /// `platforms.last_pull_at`.
    ///
    /// # Guarantees
    /// One transaction: all of it or none of it. Recording the same listing twice writes no new
    /// events. Events are written in listing order (each group followed by its tags), deletions last.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_snapshot(
        &self,
        platform: &str,
        snapshot: &Snapshot,
        complete: bool,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<PullSummary, Error> {
        const WHAT: &str = "record a snapshot";
        let now = ts(now);
        let summary = in_tx!(self, WHAT, |tx| {
            // A write first, so that on PostgreSQL two pulls of one platform queue up here.
            let updated = sqlx::query(
                "UPDATE platforms SET last_pull_at = $2, updated_at = $2 WHERE name = $1",
            )
            .bind(platform)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?
            .rows_affected();
            if updated == 0 {
                return Err(Error::UnknownPlatform {
                    platform: platform.to_owned(),
                });
            }
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            record_listing!(
                tx,
                platform,
                snapshot,
                complete,
                EventSource::Pull,
                run,
                now,
                WHAT
            )
        });
        tracing::debug!(message = "Recorded a snapshot.", ?summary);
        Ok(summary)
    }

    /// The live objects the mirror holds for a platform (for platforms without a list API).
    ///
    /// Groups and tags come highest order first (objects without an order last), then by remote
    /// id. A live tag of a deleted group is left out with its group. An unknown platform has an
    /// empty mirror.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn mirror_snapshot(&self, platform: &str) -> Result<Snapshot, Error> {
        const WHAT: &str = "read the mirror";
        let (groups, tags) = on_pool!(self, |pool| {
            let groups: Vec<rows::MirrorGroup> = sqlx::query_as(
                "SELECT remote_id, name, sort_order, remote_created_at FROM tag_groups
                 WHERE platform = $1 AND deleted_at IS NULL",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            let tags: Vec<rows::MirrorTag> = sqlx::query_as(
                "SELECT remote_id, group_remote_id, name, sort_order, remote_created_at FROM tags
                 WHERE platform = $1 AND deleted_at IS NULL",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            (groups, tags)
        });

        let mut by_group: BTreeMap<String, Vec<RemoteTag>> = BTreeMap::new();
        for t in tags {
            let tag = RemoteTag {
                order: order_from_column("tags.sort_order", t.sort_order)?,
                id: t.remote_id,
                name: t.name,
                created_at: t.remote_created_at,
            };
            by_group.entry(t.group_remote_id).or_default().push(tag);
        }
        let mut snapshot = Snapshot::default();
        for g in groups {
            let mut tags = by_group.remove(&g.remote_id).unwrap_or_default();
            tags.sort_by(|a, b| display_order(a.order, &a.id, b.order, &b.id));
            snapshot.groups.push(RemoteGroup {
                order: order_from_column("tag_groups.sort_order", g.sort_order)?,
                id: g.remote_id,
                name: g.name,
                created_at: g.remote_created_at,
                tags,
            });
        }
        snapshot
            .groups
            .sort_by(|a, b| display_order(a.order, &a.id, b.order, &b.id));
        Ok(snapshot)
    }

    /// Records an event tagsync made itself (source 'apply') without touching `tag_groups`/`tags`.
    /// For a change the platform confirmed, [`Store::record_applied`] is usually what you want: it
    /// also updates the mirror.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_event(
        &self,
        platform: &str,
        event: &NewEvent,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record an event";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
        });
        Ok(())
    }
}
