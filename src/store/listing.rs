//! Writing a listing into the mirror ([`record_listing!`], shared by `mirror.rs` and `applied.rs`)
//! and the helpers that build its multi-row statements.

use std::collections::BTreeMap;

/// Records a listing of (some of) a platform's objects in transaction `$tx`: the shared body of
/// [`Store::record_snapshot`](super::Store::record_snapshot) and [`Store::record_applied`](super::Store::record_applied). Evaluates to the [`PullSummary`](super::PullSummary).
///
/// Rows go in multi-row statements of [`BATCH`] rows (a 10,000-tag pull is a few dozen
/// statements, not 20,000), all inside the caller's one transaction. Only rows that change are
/// written ([`diff::unchanged`](super::diff::unchanged)); of a complete listing, the unchanged rows get their
/// `last_seen_at` from one `UPDATE` per table after the deletions (every live row is then a listed
/// one), so an unchanged re-listing writes two statements and no row twice. A partial listing
/// (what apply created) reads only the mirror's rows of the tags it lists, and writes every row.
macro_rules! record_listing {
    (
        $tx:ident, $platform:expr, $snapshot:expr, $complete:expr, $source:expr, $run:expr,
        $now:expr, $what:expr
    ) => {{
        let complete: bool = $complete;
        let snapshot: &Snapshot = $snapshot;
        // Groups are few (at most a few hundred): always all of them, so that a moved tag's old
        // group has its name. Tags: all of them for a complete listing, else the listed ones.
        let listed_tags: Vec<&str> = if complete {
            Vec::new()
        } else {
            snapshot
                .groups
                .iter()
                .flat_map(|g| g.tags.iter().map(|t| t.id.as_str()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let mut known = [BTreeMap::new(), BTreeMap::new()];
        for (table, known) in ["tag_groups", "tags"].into_iter().zip(&mut known) {
            let group = if table == "tags" { "group_remote_id" } else { "NULL" };
            let select = format!(
                concat!(
                    select_known!(),
                    ", remote_created_at, {} AS group_remote_id FROM {} WHERE platform = $1"
                ),
                group, table
            );
            let mut rows: Vec<rows::Known> = Vec::new();
            if table == "tag_groups" || complete {
                rows = sqlx::query_as(&select)
                    .bind($platform)
                    .fetch_all(&mut *$tx)
                    .await
                    .ctx($what)?;
            } else {
                for chunk in listed_tags.chunks(BATCH) {
                    let sql = format!("{select} AND remote_id IN ({})", id_list(chunk.len(), 2));
                    let mut query = sqlx::query_as(&sql).bind($platform);
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    rows.extend(query.fetch_all(&mut *$tx).await.ctx($what)?);
                }
            }
            known.extend(rows.into_iter().map(|r| {
                let k = diff::Known {
                    name: r.name,
                    order: r.sort_order,
                    live: r.deleted_at.is_none(),
                    group: r.group_remote_id,
                    created: r.remote_created_at,
                };
                (r.remote_id, k)
            }));
        }
        let [groups, tags] = &known;
        let diff = diff::diff(groups, tags, snapshot, complete);

        // One row per id, as listed last (a multi-row upsert may not touch a row twice), and of
        // a complete listing only the rows that change.
        let keep = |known: &BTreeMap<String, diff::Known>, id: &str, listed: diff::Listed| {
            !complete || !diff::unchanged(known.get(id), &listed)
        };
        let group_rows: Vec<&RemoteGroup> =
            last_by_id(snapshot.groups.iter().map(|g| (g.id.as_str(), g)))
                .into_iter()
                .filter(|g| {
                    let listed = diff::Listed {
                        name: &g.name,
                        order: g.order.map(i64::from),
                        group: None,
                        created: g.created_at.map(ts),
                    };
                    keep(groups, &g.id, listed)
                })
                .collect();
        let tag_rows: Vec<(&RemoteGroup, &RemoteTag)> = last_by_id(
            snapshot
                .groups
                .iter()
                .flat_map(|g| g.tags.iter().map(move |t| (t.id.as_str(), (g, t)))),
        )
        .into_iter()
        .filter(|(g, t)| {
            let listed = diff::Listed {
                name: &t.name,
                order: t.order.map(i64::from),
                group: Some(&g.id),
                created: t.created_at.map(ts),
            };
            keep(tags, &t.id, listed)
        })
        .collect();
        for chunk in group_rows.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO tag_groups (platform, remote_id, name, sort_order,
                     remote_created_at, first_seen_at, last_seen_at)
                 VALUES {}
                 ON CONFLICT (platform, remote_id) DO UPDATE
                 SET name = excluded.name, sort_order = excluded.sort_order,
                     remote_created_at =
                         COALESCE(excluded.remote_created_at, tag_groups.remote_created_at),
                     last_seen_at = excluded.last_seen_at, deleted_at = NULL",
                placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for group in chunk {
                query = query
                    .bind($platform)
                    .bind(&group.id)
                    .bind(&group.name)
                    .bind(group.order.map(i64::from))
                    .bind(group.created_at.map(ts))
                    .bind($now)
                    .bind($now);
            }
            query.execute(&mut *$tx).await.ctx($what)?;
        }
        // Tags after every group: a tag's group must exist (foreign key).
        for chunk in tag_rows.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO tags (platform, remote_id, group_remote_id, name, sort_order,
                     remote_created_at, first_seen_at, last_seen_at)
                 VALUES {}
                 ON CONFLICT (platform, remote_id) DO UPDATE
                 SET group_remote_id = excluded.group_remote_id, name = excluded.name,
                     sort_order = excluded.sort_order,
                     remote_created_at =
                         COALESCE(excluded.remote_created_at, tags.remote_created_at),
                     last_seen_at = excluded.last_seen_at, deleted_at = NULL",
                placeholders(chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for (group, tag) in chunk {
                query = query
                    .bind($platform)
                    .bind(&tag.id)
                    .bind(&group.id)
                    .bind(&tag.name)
                    .bind(tag.order.map(i64::from))
                    .bind(tag.created_at.map(ts))
                    .bind($now)
                    .bind($now);
            }
            query.execute(&mut *$tx).await.ctx($what)?;
        }
        for (object, table) in [(Object::Group, "tag_groups"), (Object::Tag, "tags")] {
            let gone: Vec<&str> = diff
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Deleted && e.object == object)
                .map(|e| e.remote_id.as_str())
                .collect();
            for chunk in gone.chunks(BATCH) {
                let sql = format!(
                    "UPDATE {table} SET deleted_at = $2
                     WHERE platform = $1 AND remote_id IN ({})",
                    id_list(chunk.len(), 3)
                );
                let mut query = sqlx::query(&sql).bind($platform).bind($now);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut *$tx).await.ctx($what)?;
            }
            if complete {
                // After the deletions, the live rows are exactly the listed ones.
                let sql = format!(
                    "UPDATE {table} SET last_seen_at = $2
                     WHERE platform = $1 AND deleted_at IS NULL AND last_seen_at <> $2"
                );
                sqlx::query(&sql)
                    .bind($platform)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await
                    .ctx($what)?;
            }
        }
        for chunk in diff.events.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO tag_events (platform, object, remote_id, kind, old_value, new_value,
                     source, run_id, at)
                 VALUES {}",
                placeholders(chunk.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for event in chunk {
                query = query
                    .bind($platform)
                    .bind(event.object.as_str())
                    .bind(&event.remote_id)
                    .bind(event.kind.as_str())
                    .bind(&event.old_value)
                    .bind(&event.new_value)
                    .bind($source.as_str())
                    .bind($run)
                    .bind($now);
            }
            query.execute(&mut *$tx).await.ctx($what)?;
        }
        diff.summary
    }};
}

/// Rows per multi-row statement: 500 × 9 binds stays far below both backends' limits (SQLite
/// 32,766, PostgreSQL 65,535).
pub(super) const BATCH: usize = 500;

/// `($1, …, $cols), ($cols+1, …)` for `rows` rows.
pub(super) fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * cols + c + 1));
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …` for `n` ids.
pub(super) fn id_list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The items in listing order, each id once: where an id is listed twice, its last occurrence,
/// at the place of its first (what row-by-row upserts would have left).
pub(super) fn last_by_id<'a, T: Copy>(items: impl Iterator<Item = (&'a str, T)>) -> Vec<T> {
    let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
    let mut out: Vec<T> = Vec::new();
    for (id, item) in items {
        match index.get(id) {
            Some(&i) => out[i] = item,
            None => {
                index.insert(id, out.len());
                out.push(item);
            }
        }
    }
    out
}
