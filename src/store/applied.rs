//! Changes tagsync made and the platform confirmed: 'apply' events, and the mirror's
//! `tag_groups`/`tags` rows following at once. Apply records a whole batch of operations in one
//! transaction ([`Store::record_applied_many`]), its creates as one partial listing.

use super::*;

impl Store {
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
    pub async fn record_applied(
        &self,
        platform: &str,
        change: &Applied,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.record_applied_many(platform, std::slice::from_ref(change), run, now)
            .await
    }

    /// Records the changes of one batch of apply in one transaction, each as
    /// [`Store::record_applied`] would. The changes must be independent of each other (what one
    /// wave of apply sends at once): the creates among them are recorded first, together, as one
    /// partial listing (one read of the mirror, multi-row writes), then the edits and deletes in
    /// the order given.
    ///
    /// # Errors
    /// As [`Store::record_applied`]; nothing is recorded if any change fails.
    #[tracing::instrument(skip_all, fields(platform = %platform, n = changes.len()))]
    pub async fn record_applied_many(
        &self,
        platform: &str,
        changes: &[Applied],
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record an applied change";
        if changes.is_empty() {
            return Ok(());
        }
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            // The creates, as one partial listing: groups created with their tags, and tags
            // added to groups the mirror holds (those groups listed as the mirror knows them).
            let mut listing = Snapshot::default();
            let mut added: BTreeMap<&str, usize> = BTreeMap::new();
            for change in changes {
                match change {
                    Applied::GroupCreated(group) => {
                        added.insert(&group.id, listing.groups.len());
                        listing.groups.push(group.clone());
                    }
                    Applied::TagsCreated { group_id, tags } => {
                        if let Some(&i) = added.get(group_id.as_str()) {
                            listing.groups[i].tags.extend(tags.iter().cloned());
                            continue;
                        }
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
                        added.insert(group_id, listing.groups.len());
                        listing.groups.push(RemoteGroup {
                            id: known.remote_id,
                            name: known.name,
                            order: order_from_column("tag_groups.sort_order", known.sort_order)?,
                            created_at: None,
                            tags: tags.clone(),
                        });
                    }
                    _ => {}
                }
            }
            if !listing.groups.is_empty() {
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
            for change in changes {
                match change {
                    Applied::GroupCreated(_) | Applied::TagsCreated { .. } => {}
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
                        for event in
                            edit_events(object, id, known.as_ref(), name.as_deref(), *order)
                        {
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
                                "UPDATE tags SET deleted_at = $3
                                 WHERE platform = $1 AND remote_id = $2",
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
