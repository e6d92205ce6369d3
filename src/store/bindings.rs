//! Bindings: which remote id each declared key (group, tag) is bound to.

use super::*;

impl Store {
    /// Which remote object each declared key is bound to on the platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bindings(&self, platform: &str) -> Result<Bindings, Error> {
        let sql = "SELECT object, group_key, tag_key, remote_id FROM bindings WHERE platform = $1";
        let rows: Vec<rows::Binding> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read bindings")?;
        let mut bindings = Bindings::default();
        for r in rows {
            match Object::from_column("bindings.object", &r.object)? {
                Object::Group => {
                    bindings.groups.insert(r.group_key, r.remote_id);
                }
                Object::Tag => {
                    bindings.tags.insert((r.group_key, r.tag_key), r.remote_id);
                }
            }
        }
        Ok(bindings)
    }

    /// Binds a group key to a remote group id, replacing the key's earlier binding.
    ///
    /// A remote object is bound to at most one key: binding `remote_id` to this key unbinds it from
    /// any other. `bound_at` only changes when the id does.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bind_group(
        &self,
        platform: &str,
        group_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.bind(platform, Object::Group, group_key, "", remote_id, ts(now))
            .await
    }

    /// Binds a tag key (within its group key) to a remote tag id, replacing the key's earlier
    /// binding; like [`Store::bind_group`], a remote tag is bound to at most one key.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bind_tag(
        &self,
        platform: &str,
        group_key: &str,
        tag_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.bind(
            platform,
            Object::Tag,
            group_key,
            tag_key,
            remote_id,
            ts(now),
        )
        .await
    }

    async fn bind(
        &self,
        platform: &str,
        object: Object,
        group_key: &str,
        tag_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.bind_many(platform, &[(object, group_key, tag_key, remote_id)], now)
            .await
    }

    /// Records several bindings in one transaction, with the outcome of binding them one after
    /// another as [`Store::bind_group`] or [`Store::bind_tag`] would (`tag_key` empty for a
    /// group): what one batch of apply created. One read of the rows those ids hold, then
    /// multi-row writes of only what changes (a key already bound to its id is left alone).
    #[tracing::instrument(skip_all, fields(platform = %platform, n = binds.len()))]
    pub async fn bind_many(
        &self,
        platform: &str,
        binds: &[(Object, &str, &str, &str)],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record a binding";
        if binds.is_empty() {
            return Ok(());
        }
        // The outcome of binding one after another: each key's last id, each id held by the
        // last key bound to it.
        type Key<'a> = (Object, &'a str, &'a str);
        let mut by_key: BTreeMap<Key<'_>, &str> = BTreeMap::new();
        let mut by_id: BTreeMap<(Object, &str), Key<'_>> = BTreeMap::new();
        for &(object, group_key, tag_key, remote_id) in binds {
            let key = (object, group_key, tag_key);
            if let Some(old) = by_id.insert((object, remote_id), key)
                && old != key
                && by_key.get(&old) == Some(&remote_id)
            {
                by_key.remove(&old);
            }
            if let Some(old_id) = by_key.insert(key, remote_id)
                && old_id != remote_id
                && by_id.get(&(object, old_id)) == Some(&key)
            {
                by_id.remove(&(object, old_id));
            }
        }
        let ids: BTreeSet<(Object, &str)> = binds.iter().map(|b| (b.0, b.3)).collect();
        // Keys whose id a later bind in the list took: binding one after another leaves them
        // without a row.
        let dropped: BTreeSet<Key<'_>> = binds
            .iter()
            .map(|b| (b.0, b.1, b.2))
            .filter(|k| !by_key.contains_key(k))
            .collect();
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            // The rows the touched ids hold now (an id is bound to one key at most).
            let mut held: Vec<rows::Binding> = Vec::new();
            for object in [Object::Group, Object::Tag] {
                let wanted: Vec<&str> = ids
                    .iter()
                    .filter(|(o, _)| *o == object)
                    .map(|(_, id)| *id)
                    .collect();
                for chunk in wanted.chunks(BATCH) {
                    let list: Vec<String> =
                        (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
                    let sql = format!(
                        "SELECT object, group_key, tag_key, remote_id FROM bindings
                         WHERE platform = $1 AND object = $2 AND remote_id IN ({})",
                        list.join(", ")
                    );
                    let mut query = sqlx::query_as(&sql).bind(platform).bind(object.as_str());
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    let rows: Vec<rows::Binding> = query.fetch_all(&mut *tx).await.ctx(WHAT)?;
                    held.extend(rows);
                }
            }
            // A held row stays only where its key ends up bound to the same id.
            let mut unchanged: BTreeSet<(Object, String)> = BTreeSet::new();
            let mut gone: BTreeMap<Object, Vec<String>> = BTreeMap::new();
            for r in held {
                let object = Object::from_column("bindings.object", &r.object)?;
                let key = (object, r.group_key.as_str(), r.tag_key.as_str());
                if by_key.get(&key) == Some(&r.remote_id.as_str()) {
                    unchanged.insert((object, r.remote_id));
                } else {
                    gone.entry(object).or_default().push(r.remote_id);
                }
            }
            for (object, ids) in &gone {
                for chunk in ids.chunks(BATCH) {
                    let list: Vec<String> =
                        (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
                    let sql = format!(
                        "DELETE FROM bindings
                         WHERE platform = $1 AND object = $2 AND remote_id IN ({})",
                        list.join(", ")
                    );
                    let mut query = sqlx::query(&sql).bind(platform).bind(object.as_str());
                    for id in chunk {
                        query = query.bind(id.as_str());
                    }
                    query.execute(&mut *tx).await.ctx(WHAT)?;
                }
            }
            for (object, group_key, tag_key) in &dropped {
                sqlx::query(
                    "DELETE FROM bindings
                     WHERE platform = $1 AND object = $2 AND group_key = $3 AND tag_key = $4",
                )
                .bind(platform)
                .bind(object.as_str())
                .bind(*group_key)
                .bind(*tag_key)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
            }
            let rows: Vec<(&Key<'_>, &&str)> = by_key
                .iter()
                .filter(|((object, _, _), id)| !unchanged.contains(&(*object, (**id).to_owned())))
                .collect();
            for chunk in rows.chunks(BATCH) {
                let sql = format!(
                    "INSERT INTO bindings (platform, object, group_key, tag_key, remote_id, bound_at)
                     VALUES {}
                     ON CONFLICT (platform, object, group_key, tag_key) DO UPDATE
                     SET remote_id = excluded.remote_id,
                         bound_at = CASE WHEN bindings.remote_id = excluded.remote_id
                                         THEN bindings.bound_at ELSE excluded.bound_at END",
                    placeholders(chunk.len(), 6)
                );
                let mut query = sqlx::query(&sql);
                for ((object, group_key, tag_key), id) in chunk {
                    query = query
                        .bind(platform)
                        .bind(object.as_str())
                        .bind(*group_key)
                        .bind(*tag_key)
                        .bind(**id)
                        .bind(ts(now));
                }
                query.execute(&mut *tx).await.ctx(WHAT)?;
            }
        });
        Ok(())
    }

    /// Forgets a tag key's binding (nothing happens if there is none).
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn unbind_tag(
        &self,
        platform: &str,
        group_key: &str,
        tag_key: &str,
    ) -> Result<(), Error> {
        let sql = "DELETE FROM bindings
                   WHERE platform = $1 AND object = 'tag' AND group_key = $2 AND tag_key = $3";
        on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(platform)
                .bind(group_key)
                .bind(tag_key);
            query.execute(pool).await.map(drop)
        })
        .ctx("remove a binding")
    }

    /// Forgets a group key's binding and those of every tag key in it.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn unbind_group(&self, platform: &str, group_key: &str) -> Result<(), Error> {
        let sql = "DELETE FROM bindings WHERE platform = $1 AND group_key = $2";
        on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(platform).bind(group_key);
            query.execute(pool).await.map(drop)
        })
        .ctx("remove a binding")
    }
}
