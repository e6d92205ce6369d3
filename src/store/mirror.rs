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

    /// Records a change tagsync made and the platform confirmed, with 'apply' events. The mirror's
    /// `tag_groups`/`tags` rows follow at once, so a platform without a list call still has a
    /// current mirror, and the next pull of one with a list call finds nothing new to report.
    ///
    /// Created objects are recorded as a partial listing would record them: 'created', or
    /// 'renamed'/'reordered' if the mirror already held them (say, after a lost response). An edit
    /// changes only the fields it names. Deleted tags get `deleted_at`. An edit or deletion of an
    /// object the mirror does not hold writes its event all the same (old value NULL); one the
    /// mirror already shows as done writes nothing.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform,
    /// [`Error::UnknownObject`] for tags added to a group the mirror does not hold.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_applied(
        &self,
        platform: &str,
        change: &Applied,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record an applied change";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            match change {
                Applied::GroupCreated(_) | Applied::TagsCreated { .. } => {
                    let group = match change {
                        Applied::GroupCreated(group) => group.clone(),
                        Applied::TagsCreated { group_id, tags } => {
                            let sql = concat!(select_known!(), " FROM tag_groups ", by_id!());
                            let known: Option<rows::Known> = sqlx::query_as(sql)
                                .bind(platform)
                                .bind(group_id)
                                .fetch_optional(&mut *tx)
                                .await
                                .ctx(WHAT)?;
                            let Some(known) = known else {
                                return Err(Error::UnknownObject {
                                    object: Object::Group,
                                    remote_id: group_id.clone(),
                                });
                            };
                            RemoteGroup {
                                id: known.remote_id,
                                name: known.name,
                                order: order_from_column(
                                    "tag_groups.sort_order",
                                    known.sort_order,
                                )?,
                                created_at: None,
                                tags: tags.clone(),
                            }
                        }
                        _ => unreachable!("matched above"),
                    };
                    let listing = Snapshot {
                        groups: vec![group],
                    };
                    record_listing!(
                        tx,
                        platform,
                        &listing,
                        false,
                        EventSource::Apply,
                        run,
                        now,
                        WHAT
                    );
                }
                Applied::GroupEdited { id, name, order }
                | Applied::TagEdited { id, name, order } => {
                    let (object, table) = match change {
                        Applied::GroupEdited { .. } => (Object::Group, "tag_groups"),
                        _ => (Object::Tag, "tags"),
                    };
                    let sql = format!(concat!(select_known!(), " FROM {} ", by_id!()), table);
                    let known: Option<rows::Known> = sqlx::query_as(&sql)
                        .bind(platform)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .ctx(WHAT)?;
                    for event in edit_events(object, id, known.as_ref(), name.as_deref(), *order) {
                        insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
                    }
                    if known.is_some() {
                        let sql = format!(
                            "UPDATE {table} SET name = COALESCE($3, name),
                                 sort_order = COALESCE($4, sort_order)
                             WHERE platform = $1 AND remote_id = $2"
                        );
                        sqlx::query(&sql)
                            .bind(platform)
                            .bind(id)
                            .bind(name)
                            .bind(order.map(i64::from))
                            .execute(&mut *tx)
                            .await
                            .ctx(WHAT)?;
                    }
                }
                Applied::TagsDeleted { ids } => {
                    for id in ids {
                        let sql = concat!(select_known!(), " FROM tags ", by_id!());
                        let known: Option<rows::Known> = sqlx::query_as(sql)
                            .bind(platform)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .ctx(WHAT)?;
                        if known.as_ref().is_some_and(|k| k.deleted_at.is_some()) {
                            continue;
                        }
                        sqlx::query(
                            "UPDATE tags SET deleted_at = $3 WHERE platform = $1 AND remote_id = $2",
                        )
                        .bind(platform)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .ctx(WHAT)?;
                        let event = NewEvent {
                            object: Object::Tag,
                            remote_id: id.clone(),
                            kind: EventKind::Deleted,
                            old_value: known.map(|k| k.name),
                            new_value: None,
                        };
                        insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
                    }
                }
            }
        });
        Ok(())
    }
}

/// The events of an edit: 'renamed' and/or 'reordered' for each field it names that differs from
/// what the mirror holds (everything differs from an object the mirror does not hold).
fn edit_events(
    object: Object,
    id: &str,
    known: Option<&rows::Known>,
    name: Option<&str>,
    order: Option<u32>,
) -> Vec<NewEvent> {
    let event = |kind, old_value, new_value| NewEvent {
        object,
        remote_id: id.to_owned(),
        kind,
        old_value,
        new_value,
    };
    let mut events = Vec::new();
    if let Some(new) = name {
        let old = known.map(|k| k.name.clone());
        if old.as_deref() != Some(new) {
            events.push(event(EventKind::Renamed, old, Some(new.to_owned())));
        }
    }
    if let Some(new) = order.map(i64::from) {
        let old = known.and_then(|k| k.sort_order);
        if known.is_none() || old != Some(new) {
            let old = old.map(|o| o.to_string());
            events.push(event(EventKind::Reordered, old, Some(new.to_string())));
        }
    }
    events
}
