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

    /// Records several bindings in one transaction, each as [`Store::bind_group`] or
    /// [`Store::bind_tag`] would (`tag_key` empty for a group): what one batch of apply created.
    #[tracing::instrument(skip_all, fields(platform = %platform, n = binds.len()))]
    pub async fn bind_many(
        &self,
        platform: &str,
        binds: &[(Object, &str, &str, &str)],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record a binding";
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            for (object, group_key, tag_key, remote_id) in binds {
                sqlx::query(
                    "DELETE FROM bindings
                     WHERE platform = $1 AND object = $2 AND remote_id = $3
                       AND NOT (group_key = $4 AND tag_key = $5)",
                )
                .bind(platform)
                .bind(object.as_str())
                .bind(*remote_id)
                .bind(*group_key)
                .bind(*tag_key)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
                sqlx::query(
                    "INSERT INTO bindings (platform, object, group_key, tag_key, remote_id, bound_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (platform, object, group_key, tag_key) DO UPDATE
                     SET remote_id = excluded.remote_id,
                         bound_at = CASE WHEN bindings.remote_id = excluded.remote_id
                                         THEN bindings.bound_at ELSE excluded.bound_at END",
                )
                .bind(platform)
                .bind(object.as_str())
                .bind(*group_key)
                .bind(*tag_key)
                .bind(*remote_id)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
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
