//! The mirror's conformance suite: one story per behaviour, each run on SQLite (in a temp dir)
//! always, and on PostgreSQL when `TAGSYNC_TEST_DATABASE_URL` names a database (`.ci/postgres.sh`
//! sets it up). Under CI a missing variable fails the PostgreSQL runs: they are never skipped
//! silently there.
//!
//! Each PostgreSQL story gets a schema of its own (through the URL's `options=-c search_path=…`),
//! so stories run in parallel in one database; the schema is dropped when the story passes.
//!
//! The stories drive the store through its API, and read the tables and views back with plain SQL
//! where SPEC §4 makes their names a contract.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{PgPool, SqlitePool};
use tagsync::model::{Bindings, RemoteGroup, RemoteTag, Snapshot};
use tagsync::store::{
    Applied, DesiredStateRow, Error, EventKind, EventRow, EventSource, MarkStatus, NewEvent,
    NewMark, Object, OpStatus, PullSummary, RunOutcome, RunStatus, Store,
};

const PG_VAR: &str = "TAGSYNC_TEST_DATABASE_URL";

/// Runs each story once per backend: `store::sqlite::<story>` and `store::postgres::<story>`.
macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    let db = super::TestDb::sqlite().await;
                    super::$story(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $story() {
                    let Some(db) = super::TestDb::postgres(stringify!($story)).await else {
                        return;
                    };
                    super::$story(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

stories!(
    migrations_apply_once,
    same_listing_twice_writes_no_events,
    rename_reorder_vanish_reappear,
    incomplete_listing_never_deletes,
    bindings_round_trip,
    bind_many_is_binding_one_after_another,
    runs_operations_and_intents,
    apply_events_and_run_ids,
    applied_changes_update_the_mirror,
    groups_not_ours,
    desired_state_is_replaced_per_platform,
    current_tags_view,
    orders_up_to_u32_max_round_trip,
    platforms_and_their_errors,
    marks_queue_and_retry,
    concurrent_writers_wait_for_each_other,
);

/// One store under test, plus a second pool on the same database to read tables back (shared
/// with `reporting`, whose stories run the same way).
pub(crate) struct TestDb {
    url: String,
    pub(crate) store: Store,
    pub(crate) raw: Raw,
    cleanup: Cleanup,
}

pub(crate) enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

enum Cleanup {
    /// The temp dir holding the SQLite file; removed when dropped.
    Dir(#[allow(dead_code)] tempfile::TempDir),
    /// The story's schema, dropped through an admin pool on the base URL.
    Schema { admin: PgPool, schema: String },
}

/// Reads rows back with plain SQL on whichever backend the story runs on.
macro_rules! raw {
    ($db:expr, $ty:ty, $sql:expr $(, $bind:expr)* $(,)?) => {
        match &$db.raw {
            Raw::Sqlite(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($bind))*.fetch_all(pool).await,
            Raw::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($bind))*.fetch_all(pool).await,
        }
        .expect($sql)
    };
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("mirror.db").display()
        );
        let store = Store::open(&url).await.expect("open SQLite");
        assert_eq!(store.backend_name(), "sqlite");
        let raw = Raw::Sqlite(SqlitePool::connect(&url).await.unwrap());
        TestDb {
            url,
            store,
            raw,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// `None` (after saying why on stderr) when no PostgreSQL is configured outside CI.
    pub(crate) async fn postgres(story: &str) -> Option<TestDb> {
        let base = crate::support::postgres_url(story)?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let story: String = story.chars().take(32).collect();
        let schema = format!(
            "t_{story}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = PgPool::connect(&base)
            .await
            .expect("connect to the test database");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let store = Store::open(&url).await.expect("open PostgreSQL");
        assert_eq!(store.backend_name(), "postgres");
        let raw = Raw::Postgres(PgPool::connect(&url).await.unwrap());
        Some(TestDb {
            url,
            store,
            raw,
            cleanup: Cleanup::Schema { admin, schema },
        })
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        match self.raw {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
        if let Cleanup::Schema { admin, schema } = self.cleanup {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }

    async fn exec(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .expect(sql)
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        raw!(self, (i64,), &sql)[0].0
    }

    /// `(remote_id, deleted_at)` of every group or tag of the platform, by remote id.
    async fn deleted_at(
        &self,
        table: &str,
        platform: &str,
    ) -> Vec<(String, Option<DateTime<Utc>>)> {
        let sql = format!(
            "SELECT remote_id, deleted_at FROM {table} WHERE platform = $1 ORDER BY remote_id"
        );
        raw!(self, (String, Option<DateTime<Utc>>), &sql, platform)
    }
}

/// Minute `n` of the test clock, with microseconds so that precision is checked too.
fn t(n: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_735_689_600 + 60 * n, 123_456_000)
        .unwrap()
}

fn group(id: &str, name: &str, order: Option<u32>, tags: Vec<RemoteTag>) -> RemoteGroup {
    RemoteGroup {
        id: id.into(),
        name: name.into(),
        order,
        created_at: None,
        tags,
    }
}

fn tag(id: &str, name: &str, order: Option<u32>) -> RemoteTag {
    RemoteTag {
        id: id.into(),
        name: name.into(),
        order,
        created_at: None,
    }
}

fn snapshot(groups: Vec<RemoteGroup>) -> Snapshot {
    Snapshot { groups }
}

/// One line per event, `object kind id old -> new`, to compare whole histories at a glance.
fn lines(events: &[EventRow]) -> Vec<String> {
    let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    events
        .iter()
        .map(|e| {
            let (old, new) = (v(&e.old_value), v(&e.new_value));
            format!("{} {} {} {old} -> {new}", e.object, e.kind, e.remote_id)
        })
        .collect()
}

async fn platform(db: &TestDb, name: &str) {
    db.store
        .upsert_platform(name, "wecom", "enforce", chrono::Utc::now())
        .await
        .unwrap();
}

/// The listing most stories start from.
fn first_listing() -> Snapshot {
    snapshot(vec![
        group(
            "g1",
            "客户等级",
            Some(10),
            vec![
                tag("t1", "重要客户", Some(2)),
                tag("t2", "普通客户", Some(1)),
            ],
        ),
        group("g2", "来源", Some(5), vec![tag("t3", "展会", None)]),
    ])
}

// ---------------------------------------------------------------------------------------------
// Stories

async fn migrations_apply_once(db: &TestDb) {
    let applied = || async { db.count("_sqlx_migrations").await };
    let before = applied().await;
    assert!(before >= 1);
    // Opening again applies nothing and leaves the data alone.
    platform(db, "wecom-hq").await;
    let again = Store::open(&db.url).await.expect("reopen");
    assert_eq!(applied().await, before);
    assert_eq!(again.platform_rows().await.unwrap().len(), 1);
    again.close().await;
    // Every table and view SPEC §4 promises exists, with the columns analysts query.
    for sql in [
        "SELECT name, kind, mode, last_pull_at, last_apply_at, last_error, updated_at FROM platforms",
        "SELECT platform, remote_id, name, sort_order, remote_created_at, first_seen_at,
                last_seen_at, deleted_at FROM tag_groups",
        "SELECT platform, remote_id, group_remote_id, name, sort_order, remote_created_at,
                first_seen_at, last_seen_at, deleted_at FROM tags",
        "SELECT id, platform, object, remote_id, kind, old_value, new_value, source, run_id, at
         FROM tag_events",
        "SELECT platform, object, group_key, tag_key, remote_id, bound_at FROM bindings",
        r#"SELECT id, platform, "trigger", started_at, finished_at, status, planned, applied,
                  failed, api_calls, error FROM sync_runs"#,
        "SELECT id, run_id, platform, seq, kind, target, request, status, attempts, error,
                created_at, started_at, finished_at FROM operations",
        "SELECT id, platform, contact, user_id, add_tags, remove_tags, status, attempts,
                next_attempt_at, last_error, created_at, updated_at FROM mark_requests",
        "SELECT platform, group_key, tag_key, group_name, tag_name, status, detail, updated_at
         FROM desired_state",
        "SELECT name, holder, expires_at FROM leases",
        "SELECT platform, group_remote_id, group_name, group_order, tag_remote_id, tag_name,
                tag_order, remote_created_at, first_seen_at, last_seen_at FROM v_current_tags",
        "SELECT platform, group_key, tag_key, group_name, tag_name, status, detail, updated_at
         FROM v_drift",
    ] {
        let sql = format!("SELECT COUNT(*) FROM ({sql}) AS q");
        raw!(db, (i64,), &sql);
    }
}

async fn same_listing_twice_writes_no_events(db: &TestDb) {
    platform(db, "wecom-hq").await;
    let listing = first_listing();
    let first = db
        .store
        .record_snapshot("wecom-hq", &listing, true, None, t(1))
        .await
        .unwrap();
    assert_eq!(
        first,
        PullSummary {
            groups_seen: 2,
            tags_seen: 3,
            created: 5,
            ..Default::default()
        }
    );
    let events = db.store.events("wecom-hq").await.unwrap();
    assert_eq!(
        lines(&events),
        [
            "group created g1 - -> 客户等级",
            "tag created t1 - -> 重要客户",
            "tag created t2 - -> 普通客户",
            "group created g2 - -> 来源",
            "tag created t3 - -> 展会",
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.source == EventSource::Pull && e.at == t(1))
    );

    let second = db
        .store
        .record_snapshot("wecom-hq", &listing, true, None, t(2))
        .await
        .unwrap();
    assert_eq!(
        second,
        PullSummary {
            groups_seen: 2,
            tags_seen: 3,
            ..Default::default()
        }
    );
    assert_eq!(db.store.events("wecom-hq").await.unwrap(), events);

    let seen: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = raw!(
        db,
        (String, DateTime<Utc>, DateTime<Utc>),
        "SELECT remote_id, first_seen_at, last_seen_at FROM tags WHERE platform = $1
         ORDER BY remote_id",
        "wecom-hq"
    );
    for (id, first_seen, last_seen) in seen {
        assert_eq!((first_seen, last_seen), (t(1), t(2)), "{id}");
    }
    let platforms = db.store.platform_rows().await.unwrap();
    assert_eq!(platforms[0].last_pull_at, Some(t(2)));
}

async fn rename_reorder_vanish_reappear(db: &TestDb) {
    platform(db, "wecom-hq").await;
    db.store
        .record_snapshot("wecom-hq", &first_listing(), true, None, t(1))
        .await
        .unwrap();
    let before = db.store.events("wecom-hq").await.unwrap().len();

    // g1 renamed and reordered, t1 renamed, t2 and all of g2 gone.
    let second = snapshot(vec![group(
        "g1",
        "客户级别",
        Some(20),
        vec![tag("t1", "重点客户", Some(2))],
    )]);
    let summary = db
        .store
        .record_snapshot("wecom-hq", &second, true, None, t(2))
        .await
        .unwrap();
    assert_eq!(
        summary,
        PullSummary {
            groups_seen: 1,
            tags_seen: 1,
            renamed: 2,
            reordered: 1,
            deleted: 3,
            created: 0,
            moved: 0
        }
    );
    let events = db.store.events("wecom-hq").await.unwrap();
    assert_eq!(
        lines(&events[before..]),
        [
            "group renamed g1 客户等级 -> 客户级别",
            "group reordered g1 10 -> 20",
            "tag renamed t1 重要客户 -> 重点客户",
            "group deleted g2 来源 -> -",
            "tag deleted t2 普通客户 -> -",
            "tag deleted t3 展会 -> -",
        ]
    );
    assert_eq!(
        db.deleted_at("tag_groups", "wecom-hq").await,
        [("g1".into(), None), ("g2".into(), Some(t(2)))]
    );
    assert_eq!(
        db.deleted_at("tags", "wecom-hq").await,
        [
            ("t1".into(), None),
            ("t2".into(), Some(t(2))),
            ("t3".into(), Some(t(2)))
        ]
    );
    // A second identical listing changes nothing: deleted objects stay deleted, silently.
    db.store
        .record_snapshot("wecom-hq", &second, true, None, t(3))
        .await
        .unwrap();
    assert_eq!(
        db.store.events("wecom-hq").await.unwrap().len(),
        events.len()
    );
    assert_eq!(db.deleted_at("tags", "wecom-hq").await[1].1, Some(t(2)));

    // g2 and t3 come back as they were; t2 comes back renamed and without an order.
    let third = snapshot(vec![
        group(
            "g1",
            "客户级别",
            Some(20),
            vec![tag("t1", "重点客户", Some(2)), tag("t2", "一般客户", None)],
        ),
        group("g2", "来源", Some(5), vec![tag("t3", "展会", None)]),
    ]);
    let summary = db
        .store
        .record_snapshot("wecom-hq", &third, true, None, t(4))
        .await
        .unwrap();
    assert_eq!(
        summary,
        PullSummary {
            groups_seen: 2,
            tags_seen: 3,
            created: 3,
            renamed: 1,
            reordered: 1,
            moved: 0,
            deleted: 0
        }
    );
    let after = db.store.events("wecom-hq").await.unwrap();
    assert_eq!(
        lines(&after[events.len()..]),
        [
            "tag created t2 - -> 一般客户",
            "tag renamed t2 普通客户 -> 一般客户",
            "tag reordered t2 1 -> -",
            "group created g2 - -> 来源",
            "tag created t3 - -> 展会",
        ]
    );
    assert!(
        db.deleted_at("tag_groups", "wecom-hq")
            .await
            .iter()
            .all(|(_, d)| d.is_none())
    );
    assert!(
        db.deleted_at("tags", "wecom-hq")
            .await
            .iter()
            .all(|(_, d)| d.is_none())
    );
    // A comeback keeps the object's first sighting.
    let first_seen: Vec<(DateTime<Utc>,)> = raw!(
        db,
        (DateTime<Utc>,),
        "SELECT first_seen_at FROM tags WHERE platform = $1 AND remote_id = 't2'",
        "wecom-hq"
    );
    assert_eq!(first_seen[0].0, t(1));
    // Nothing was ever hard-deleted.
    assert_eq!(db.count("tags").await, 3);
}

async fn incomplete_listing_never_deletes(db: &TestDb) {
    platform(db, "yzj").await;
    db.store
        .record_snapshot("yzj", &first_listing(), true, None, t(1))
        .await
        .unwrap();
    let before = db.store.events("yzj").await.unwrap().len();
    let partial = snapshot(vec![group(
        "g1",
        "客户等级",
        Some(10),
        vec![tag("t1", "VIP", Some(2))],
    )]);
    let summary = db
        .store
        .record_snapshot("yzj", &partial, false, None, t(2))
        .await
        .unwrap();
    assert_eq!(
        summary,
        PullSummary {
            groups_seen: 1,
            tags_seen: 1,
            renamed: 1,
            ..Default::default()
        }
    );
    let events = db.store.events("yzj").await.unwrap();
    assert_eq!(lines(&events[before..]), ["tag renamed t1 重要客户 -> VIP"]);
    assert!(
        db.deleted_at("tag_groups", "yzj")
            .await
            .iter()
            .all(|(_, d)| d.is_none())
    );
    assert!(
        db.deleted_at("tags", "yzj")
            .await
            .iter()
            .all(|(_, d)| d.is_none())
    );
    // The objects it did not list keep their last sighting.
    let last_seen: Vec<(String, DateTime<Utc>)> = raw!(
        db,
        (String, DateTime<Utc>),
        "SELECT remote_id, last_seen_at FROM tags WHERE platform = $1 ORDER BY remote_id",
        "yzj"
    );
    let expected = [
        ("t1".into(), t(2)),
        ("t2".into(), t(1)),
        ("t3".into(), t(1)),
    ];
    assert_eq!(last_seen, expected);
}

async fn bindings_round_trip(db: &TestDb) {
    platform(db, "juzi-main").await;
    let p = "juzi-main";
    assert_eq!(db.store.bindings(p).await.unwrap(), Bindings::default());
    db.store.bind_group(p, "level", "g1", t(1)).await.unwrap();
    db.store
        .bind_tag(p, "level", "vip", "t1", t(1))
        .await
        .unwrap();
    db.store
        .bind_tag(p, "level", "normal", "t2", t(1))
        .await
        .unwrap();
    db.store.bind_group(p, "source", "g2", t(1)).await.unwrap();
    db.store
        .bind_tag(p, "source", "fair", "t3", t(1))
        .await
        .unwrap();
    let expected = |tags: &[(&str, &str, &str)], groups: &[(&str, &str)]| Bindings {
        groups: groups
            .iter()
            .map(|(k, id)| ((*k).into(), (*id).into()))
            .collect(),
        tags: tags
            .iter()
            .map(|(g, k, id)| (((*g).into(), (*k).into()), (*id).into()))
            .collect(),
    };
    assert_eq!(
        db.store.bindings(p).await.unwrap(),
        expected(
            &[
                ("level", "vip", "t1"),
                ("level", "normal", "t2"),
                ("source", "fair", "t3")
            ],
            &[("level", "g1"), ("source", "g2")]
        )
    );

    // Rebinding a key replaces its id; rebinding to the same id keeps the original bound_at.
    db.store
        .bind_tag(p, "level", "vip", "t9", t(2))
        .await
        .unwrap();
    db.store.bind_group(p, "level", "g1", t(2)).await.unwrap();
    let bound_at: Vec<(String, DateTime<Utc>)> = raw!(
        db,
        (String, DateTime<Utc>),
        "SELECT remote_id, bound_at FROM bindings WHERE platform = $1 AND remote_id IN ('g1', 't9')
         ORDER BY remote_id",
        p
    );
    assert_eq!(bound_at, [("g1".into(), t(1)), ("t9".into(), t(2))]);
    // A remote object is bound to one key at most: binding it elsewhere moves it.
    db.store
        .bind_tag(p, "level", "regular", "t2", t(3))
        .await
        .unwrap();
    assert_eq!(
        db.store.bindings(p).await.unwrap(),
        expected(
            &[
                ("level", "vip", "t9"),
                ("level", "regular", "t2"),
                ("source", "fair", "t3")
            ],
            &[("level", "g1"), ("source", "g2")]
        )
    );

    db.store.unbind_tag(p, "level", "vip").await.unwrap();
    db.store.unbind_tag(p, "level", "vip").await.unwrap();
    db.store.unbind_group(p, "source").await.unwrap();
    assert_eq!(
        db.store.bindings(p).await.unwrap(),
        expected(&[("level", "regular", "t2")], &[("level", "g1")])
    );

    // Bindings are per platform, and only known platforms can have any.
    assert_eq!(
        db.store.bindings("other").await.unwrap(),
        Bindings::default()
    );
    let err = db
        .store
        .bind_group("other", "level", "g1", t(4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownPlatform { ref platform } if platform == "other"),
        "{err:?}"
    );
}

/// A batch of bindings (what one batch of apply created) ends as binding them one after
/// another would: a key rebound within the batch keeps its last id, an id taken by a later key
/// leaves the earlier key unbound, keys already bound to their id keep their `bound_at`.
async fn bind_many_is_binding_one_after_another(db: &TestDb) {
    use tagsync::store::Object::{Group, Tag};
    platform(db, "a").await;
    platform(db, "b").await;
    let before = [
        (Group, "level", "", "g1"),
        (Tag, "level", "vip", "t1"),
        (Tag, "level", "old", "t2"),
        (Tag, "level", "gone", "t7"),
    ];
    let batch = [
        (Tag, "level", "vip", "t1"),
        (Tag, "level", "new", "t2"),
        (Tag, "level", "x", "t3"),
        (Tag, "level", "x", "t4"),
        (Tag, "level", "gone", "t5"),
        (Tag, "level", "y", "t5"),
        (Group, "source", "", "g2"),
    ];
    db.store.bind_many("a", &before, t(1)).await.unwrap();
    db.store.bind_many("a", &batch, t(2)).await.unwrap();
    // The same, one binding at a time, on another platform.
    for (object, g, k, id) in before.iter().chain(&batch) {
        match object {
            Group => db.store.bind_group("b", g, id, t(2)).await.unwrap(),
            Tag => db.store.bind_tag("b", g, k, id, t(2)).await.unwrap(),
        }
    }
    let (a, b) = (
        db.store.bindings("a").await.unwrap(),
        db.store.bindings("b").await.unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.tags.len(), 4, "{a:?}");
    assert!(
        !a.tags.contains_key(&("level".into(), "gone".into())),
        "{a:?}"
    );
    let bound_at: Vec<(String, DateTime<Utc>)> = raw!(
        db,
        (String, DateTime<Utc>),
        "SELECT remote_id, bound_at FROM bindings WHERE platform = $1 AND remote_id IN ('t1', 't2')
         ORDER BY remote_id",
        "a"
    );
    assert_eq!(bound_at, [("t1".into(), t(1)), ("t2".into(), t(2))]);
}

async fn runs_operations_and_intents(db: &TestDb) {
    platform(db, "wecom-hq").await;
    platform(db, "yzj").await;
    let p = "wecom-hq";
    let run = db.store.start_run(p, "apply", t(1)).await.unwrap();
    let running = db.store.runs(p, 10).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(
        (running[0].id, running[0].status, running[0].finished_at),
        (run, None, None)
    );
    assert_eq!(
        (running[0].trigger.as_str(), running[0].started_at),
        ("apply", t(1))
    );

    let mut ops = Vec::new();
    for (seq, target) in [(1, "客户等级"), (2, "客户等级/重要客户"), (3, "来源")] {
        let request = format!("create {target}");
        let op = db
            .store
            .record_intent(run, p, seq, "create", target, &request, t(2))
            .await;
        ops.push(op.unwrap());
    }
    let pending = db.store.pending_intents(p).await.unwrap();
    assert_eq!(pending.iter().map(|o| o.id).collect::<Vec<_>>(), ops);
    assert!(
        pending
            .iter()
            .all(|o| o.status.is_none() && o.started_at == Some(t(2)))
    );
    assert!(db.store.pending_intents("yzj").await.unwrap().is_empty());

    db.store
        .record_outcome(ops[0], OpStatus::Succeeded, 1, None, t(3))
        .await
        .unwrap();
    db.store
        .record_outcome(ops[1], OpStatus::Failed, 3, Some("errcode 40068"), t(3))
        .await
        .unwrap();
    let pending = db.store.pending_intents(p).await.unwrap();
    assert_eq!(pending.iter().map(|o| o.id).collect::<Vec<_>>(), [ops[2]]);
    db.store
        .record_outcome(ops[2], OpStatus::Skipped, 0, None, t(3))
        .await
        .unwrap();

    let done = db.store.operations(run).await.unwrap();
    let summary: Vec<_> = done
        .iter()
        .map(|o| {
            (
                o.seq,
                o.target.as_str(),
                o.status,
                o.attempts,
                o.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "客户等级", Some(OpStatus::Succeeded), 1, None),
            (
                2,
                "客户等级/重要客户",
                Some(OpStatus::Failed),
                3,
                Some("errcode 40068")
            ),
            (3, "来源", Some(OpStatus::Skipped), 0, None),
        ]
    );
    assert!(
        done.iter()
            .all(|o| o.created_at == t(2) && o.finished_at == Some(t(3)))
    );
    assert_eq!(done[0].request, "create 客户等级");

    let outcome = RunOutcome {
        status: RunStatus::Partial,
        planned: 3,
        applied: 1,
        failed: 1,
        api_calls: 5,
        error: Some("1 operation failed".into()),
    };
    db.store.finish_run(run, &outcome, t(4)).await.unwrap();
    let platform_row =
        |rows: Vec<tagsync::store::PlatformRow>| rows.into_iter().find(|r| r.name == p).unwrap();
    let row = platform_row(db.store.platform_rows().await.unwrap());
    assert_eq!(
        (row.last_apply_at, row.last_error.as_deref()),
        (Some(t(4)), Some("1 operation failed"))
    );

    // A later run that applies nothing leaves last_apply_at, and clears the error.
    let plan = db.store.start_run(p, "plan", t(5)).await.unwrap();
    let clean = RunOutcome {
        status: RunStatus::Succeeded,
        planned: 0,
        applied: 0,
        failed: 0,
        api_calls: 1,
        error: None,
    };
    db.store.finish_run(plan, &clean, t(6)).await.unwrap();
    let row = platform_row(db.store.platform_rows().await.unwrap());
    assert_eq!((row.last_apply_at, row.last_error), (Some(t(4)), None));

    let runs = db.store.runs(p, 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [plan, run]);
    let r = &runs[1];
    assert_eq!(
        (
            r.status,
            r.planned,
            r.applied,
            r.failed,
            r.api_calls,
            r.finished_at
        ),
        (Some(RunStatus::Partial), 3, 1, 1, 5, Some(t(4)))
    );
    assert_eq!(db.store.runs(p, 1).await.unwrap().len(), 1);

    // Ids that do not exist, or belong to another platform, are refused by name.
    let err = db
        .store
        .record_outcome(9999, OpStatus::Failed, 1, None, t(7))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownOperation { operation: 9999 }),
        "{err:?}"
    );
    let err = db.store.finish_run(9999, &clean, t(7)).await.unwrap_err();
    assert!(matches!(err, Error::UnknownRun { run: 9999 }), "{err:?}");
    let err = db
        .store
        .record_intent(run, "yzj", 1, "create", "x", "x", t(7))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRun { .. }), "{err:?}");
    let err = db.store.start_run("nope", "plan", t(7)).await.unwrap_err();
    assert!(matches!(err, Error::UnknownPlatform { .. }), "{err:?}");
    // A sequence number is used once per run.
    let err = db
        .store
        .record_intent(run, p, 1, "create", "x", "x", t(7))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Query { .. }), "{err:?}");
}

async fn apply_events_and_run_ids(db: &TestDb) {
    platform(db, "wecom-hq").await;
    platform(db, "yzj").await;
    let run = db.store.start_run("wecom-hq", "apply", t(1)).await.unwrap();
    let event = NewEvent {
        object: Object::Tag,
        remote_id: "t1".into(),
        kind: EventKind::Renamed,
        old_value: Some("一般客户".into()),
        new_value: Some("普通客户".into()),
    };
    db.store
        .record_event("wecom-hq", &event, Some(run), t(2))
        .await
        .unwrap();
    db.store
        .record_event("wecom-hq", &event, None, t(3))
        .await
        .unwrap();
    db.store
        .record_snapshot("wecom-hq", &first_listing(), true, Some(run), t(4))
        .await
        .unwrap();

    let events = db.store.events("wecom-hq").await.unwrap();
    assert_eq!(events.len(), 7);
    let first = &events[0];
    assert_eq!(
        (
            first.object,
            first.kind,
            first.source,
            first.run_id,
            first.at
        ),
        (
            Object::Tag,
            EventKind::Renamed,
            EventSource::Apply,
            Some(run),
            t(2)
        )
    );
    assert_eq!(
        (first.old_value.as_deref(), first.new_value.as_deref()),
        (Some("一般客户"), Some("普通客户"))
    );
    assert_eq!(
        (events[1].source, events[1].run_id),
        (EventSource::Apply, None)
    );
    assert!(
        events[2..]
            .iter()
            .all(|e| e.source == EventSource::Pull && e.run_id == Some(run))
    );
    assert!(events.iter().all(|e| e.platform == "wecom-hq"));
    assert!(db.store.events("yzj").await.unwrap().is_empty());

    let err = db
        .store
        .record_event("yzj", &event, Some(run), t(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRun { .. }), "{err:?}");
    let err = db
        .store
        .record_snapshot("yzj", &first_listing(), true, Some(run), t(5))
        .await;
    assert!(matches!(err, Err(Error::UnknownRun { .. })), "{err:?}");
    // The refused snapshot left nothing behind, not even its pull time.
    assert!(db.deleted_at("tags", "yzj").await.is_empty());
    let yzj = db
        .store
        .platform_rows()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "yzj");
    assert_eq!(yzj.unwrap().last_pull_at, None);
    let err = db
        .store
        .record_snapshot("nope", &first_listing(), true, None, t(5))
        .await;
    assert!(matches!(err, Err(Error::UnknownPlatform { .. })), "{err:?}");
}

async fn applied_changes_update_the_mirror(db: &TestDb) {
    let p = "wecom-hq";
    platform(db, p).await;
    db.store
        .record_snapshot(p, &first_listing(), true, None, t(1))
        .await
        .unwrap();
    let before = db.store.events(p).await.unwrap().len();
    let run = db.store.start_run(p, "apply", t(2)).await.unwrap();
    let created = group("g9", "新组", Some(3), vec![tag("t90", "甲", None)]);
    let changes = [
        Applied::GroupCreated(created.clone()),
        Applied::TagsCreated {
            group_id: "g1".into(),
            tags: vec![tag("t4", "新标签", Some(0))],
        },
        Applied::GroupEdited {
            id: "g1".into(),
            name: Some("客户级别".into()),
            order: None,
        },
        Applied::TagEdited {
            id: "t1".into(),
            name: None,
            order: Some(5),
        },
        // Already so in the mirror: no event.
        Applied::TagEdited {
            id: "t3".into(),
            name: Some("展会".into()),
            order: None,
        },
        Applied::TagsDeleted {
            ids: vec!["t2".into(), "ghost".into()],
        },
        Applied::TagsDeleted {
            ids: vec!["t2".into()],
        },
        Applied::GroupEdited {
            id: "g404".into(),
            name: Some("x".into()),
            order: Some(1),
        },
    ];
    for change in &changes {
        db.store
            .record_applied(p, change, Some(run), t(2))
            .await
            .unwrap();
    }
    let events = db.store.events(p).await.unwrap();
    assert_eq!(
        lines(&events[before..]),
        [
            "group created g9 - -> 新组",
            "tag created t90 - -> 甲",
            "tag created t4 - -> 新标签",
            "group renamed g1 客户等级 -> 客户级别",
            "tag reordered t1 2 -> 5",
            "tag deleted t2 普通客户 -> -",
            "tag deleted ghost - -> -",
            "group renamed g404 - -> x",
            "group reordered g404 - -> 1",
        ]
    );
    assert!(
        events[before..]
            .iter()
            .all(|e| e.source == EventSource::Apply && e.run_id == Some(run))
    );
    assert_eq!(db.deleted_at("tags", p).await[1], ("t2".into(), Some(t(2))));

    // The mirror shows the platform as tagsync left it ...
    let now = snapshot(vec![
        group(
            "g1",
            "客户级别",
            Some(10),
            vec![tag("t1", "重要客户", Some(5)), tag("t4", "新标签", Some(0))],
        ),
        group("g2", "来源", Some(5), vec![tag("t3", "展会", None)]),
        created,
    ]);
    assert_eq!(db.store.mirror_snapshot(p).await.unwrap(), now);
    // ... so the next pull of the same state has nothing to report.
    let summary = db
        .store
        .record_snapshot(p, &now, true, None, t(3))
        .await
        .unwrap();
    assert_eq!(
        (
            summary.created,
            summary.renamed,
            summary.reordered,
            summary.deleted
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(db.store.events(p).await.unwrap().len(), events.len());

    // Tags cannot be recorded in a group the mirror does not hold.
    let orphan = Applied::TagsCreated {
        group_id: "g404".into(),
        tags: vec![tag("t5", "孤", None)],
    };
    let err = db
        .store
        .record_applied(p, &orphan, None, t(4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownObject { object: Object::Group, ref remote_id } if remote_id == "g404"),
        "{err:?}"
    );
    let err = db
        .store
        .record_applied("nope", &orphan, None, t(4))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownPlatform { .. }), "{err:?}");
}

async fn groups_not_ours(db: &TestDb) {
    platform(db, "wecom-hq").await;
    platform(db, "yzj").await;
    assert!(db.store.not_ours("wecom-hq").await.unwrap().is_empty());
    db.store
        .mark_not_ours("wecom-hq", "g2", t(1))
        .await
        .unwrap();
    db.store
        .mark_not_ours("wecom-hq", "g2", t(2))
        .await
        .unwrap();
    db.store
        .mark_not_ours("wecom-hq", "g7", t(2))
        .await
        .unwrap();
    let ids = db.store.not_ours("wecom-hq").await.unwrap();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["g2", "g7"]);
    assert!(db.store.not_ours("yzj").await.unwrap().is_empty());
    let marked: Vec<(DateTime<Utc>,)> = raw!(
        db,
        (DateTime<Utc>,),
        "SELECT marked_at FROM not_ours WHERE remote_id = 'g2'"
    );
    assert_eq!(marked, [(t(1),)]);
    let err = db
        .store
        .mark_not_ours("nope", "g2", t(3))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownPlatform { .. }), "{err:?}");
}

async fn desired_state_is_replaced_per_platform(db: &TestDb) {
    platform(db, "wecom-hq").await;
    platform(db, "yzj").await;
    let row = |group: &str, tag: Option<&str>, status: &str| DesiredStateRow {
        group_key: group.into(),
        tag_key: tag.map(Into::into),
        group_name: format!("{group} name"),
        tag_name: tag.map(|t| format!("{t} name")),
        status: status.into(),
        detail: (status != "present").then(|| format!("{status} detail")),
    };
    let first = vec![
        row("level", None, "present"),
        row("level", Some("vip"), "missing"),
        row("level", Some("normal"), "renamed"),
        row("source", Some("fair"), "not_supported"),
    ];
    db.store
        .replace_desired_state("wecom-hq", &first, t(1))
        .await
        .unwrap();
    db.store
        .replace_desired_state("yzj", &first[..1], t(1))
        .await
        .unwrap();
    let mut sorted = first.clone();
    sorted.sort_by(|a, b| (&a.group_key, &a.tag_key).cmp(&(&b.group_key, &b.tag_key)));
    assert_eq!(db.store.drift("wecom-hq").await.unwrap(), sorted);

    let second = vec![
        row("level", Some("vip"), "present"),
        row("extra", Some("x"), "extra"),
    ];
    db.store
        .replace_desired_state("wecom-hq", &second, t(2))
        .await
        .unwrap();
    assert_eq!(
        db.store.drift("wecom-hq").await.unwrap(),
        [second[1].clone(), second[0].clone()]
    );
    assert_eq!(db.store.drift("yzj").await.unwrap(), first[..1]);

    // The view analysts read: '' stands for the group row's tag key.
    let view: Vec<(String, String, String, String, DateTime<Utc>)> = raw!(
        db,
        (String, String, String, String, DateTime<Utc>),
        "SELECT platform, group_key, tag_key, status, updated_at FROM v_drift
         ORDER BY platform, group_key, tag_key"
    );
    assert_eq!(
        view,
        [
            (
                "wecom-hq".into(),
                "extra".into(),
                "x".into(),
                "extra".into(),
                t(2)
            ),
            (
                "wecom-hq".into(),
                "level".into(),
                "vip".into(),
                "present".into(),
                t(2)
            ),
            (
                "yzj".into(),
                "level".into(),
                "".into(),
                "present".into(),
                t(1)
            ),
        ]
    );

    // A status the schema does not know is refused, and the refusal changes nothing.
    let err = db
        .store
        .replace_desired_state("wecom-hq", &[row("a", None, "bogus")], t(3))
        .await;
    assert!(matches!(err, Err(Error::Query { .. })), "{err:?}");
    assert_eq!(db.store.drift("wecom-hq").await.unwrap().len(), 2);
}

async fn current_tags_view(db: &TestDb) {
    platform(db, "wecom-hq").await;
    platform(db, "yzj").await;
    let created = Utc.timestamp_opt(1_600_000_000, 0).unwrap();
    let mut listing = first_listing();
    listing.groups[0].tags[0].created_at = Some(created);
    db.store
        .record_snapshot("wecom-hq", &listing, true, None, t(1))
        .await
        .unwrap();
    db.store
        .record_snapshot("yzj", &first_listing(), true, None, t(1))
        .await
        .unwrap();
    // On wecom-hq, t2 vanishes and so does g2 with its tag.
    let second = snapshot(vec![group(
        "g1",
        "客户等级",
        Some(10),
        vec![tag("t1", "重要客户", Some(2))],
    )]);
    db.store
        .record_snapshot("wecom-hq", &second, true, None, t(2))
        .await
        .unwrap();

    type Line = (
        String,
        String,
        String,
        Option<i64>,
        String,
        String,
        Option<i64>,
    );
    let rows: Vec<Line> = raw!(
        db,
        Line,
        "SELECT platform, group_remote_id, group_name, group_order, tag_remote_id, tag_name,
                tag_order
         FROM v_current_tags ORDER BY platform, tag_remote_id"
    );
    let line = |p: &str, g: &str, gn: &str, go, t: &str, tn: &str, to| -> Line {
        (p.into(), g.into(), gn.into(), go, t.into(), tn.into(), to)
    };
    assert_eq!(
        rows,
        [
            line(
                "wecom-hq",
                "g1",
                "客户等级",
                Some(10),
                "t1",
                "重要客户",
                Some(2)
            ),
            line("yzj", "g1", "客户等级", Some(10), "t1", "重要客户", Some(2)),
            line("yzj", "g1", "客户等级", Some(10), "t2", "普通客户", Some(1)),
            line("yzj", "g2", "来源", Some(5), "t3", "展会", None),
        ]
    );
    type Times = (Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>);
    let times: Vec<Times> = raw!(
        db,
        Times,
        "SELECT remote_created_at, first_seen_at, last_seen_at FROM v_current_tags
         WHERE platform = $1",
        "wecom-hq"
    );
    assert_eq!(times, [(Some(created), t(1), t(2))]);

    // A live tag whose group is gone is not current either.
    let orphan = snapshot(vec![group(
        "g1",
        "客户等级",
        Some(10),
        vec![tag("t1", "重要客户", Some(2))],
    )]);
    db.store
        .record_snapshot("yzj", &orphan, true, None, t(3))
        .await
        .unwrap();
    db.exec("UPDATE tags SET deleted_at = NULL WHERE platform = 'yzj' AND remote_id = 't3'")
        .await;
    let yzj: Vec<(String,)> = raw!(
        db,
        (String,),
        "SELECT tag_remote_id FROM v_current_tags WHERE platform = 'yzj' ORDER BY tag_remote_id"
    );
    assert_eq!(yzj, [("t1".to_owned(),)]);
    let mirror = db.store.mirror_snapshot("yzj").await.unwrap();
    assert_eq!(mirror, orphan);
}

async fn orders_up_to_u32_max_round_trip(db: &TestDb) {
    platform(db, "wecom-hq").await;
    let created = Utc.timestamp_opt(1_700_000_000, 987_654_000).unwrap();
    // Given in the order mirror_snapshot returns: highest order first, unordered last.
    let listing = snapshot(vec![
        RemoteGroup {
            created_at: Some(created),
            ..group(
                "g-max",
                "最大",
                Some(u32::MAX),
                vec![
                    tag("t-max", "最大", Some(4_294_967_295)),
                    tag("t-zero", "零", Some(0)),
                    tag("t-none", "无序", None),
                ],
            )
        },
        group(
            "g-zero",
            "零",
            Some(0),
            vec![tag("t-a", "甲", Some(2_147_483_648))],
        ),
        group("g-none", "无序", None, vec![tag("t-b", "乙", None)]),
    ]);
    db.store
        .record_snapshot("wecom-hq", &listing, true, None, t(1))
        .await
        .unwrap();
    assert_eq!(db.store.mirror_snapshot("wecom-hq").await.unwrap(), listing);
    let orders: Vec<(Option<i64>,)> = raw!(
        db,
        (Option<i64>,),
        "SELECT sort_order FROM tag_groups WHERE remote_id = 'g-max'"
    );
    assert_eq!(orders, [(Some(4_294_967_295),)]);
    // A second pull of the same listing sees no reorder at the extremes.
    db.store
        .record_snapshot("wecom-hq", &listing, true, None, t(2))
        .await
        .unwrap();
    assert_eq!(db.store.events("wecom-hq").await.unwrap().len(), 8);
    assert_eq!(
        db.store.mirror_snapshot("unknown").await.unwrap(),
        Snapshot::default()
    );
}

async fn platforms_and_their_errors(db: &TestDb) {
    assert!(db.store.platform_rows().await.unwrap().is_empty());
    db.store
        .upsert_platform("yzj", "yzj", "observe", chrono::Utc::now())
        .await
        .unwrap();
    db.store
        .upsert_platform("crm", "wechat_crm", "enforce", chrono::Utc::now())
        .await
        .unwrap();
    db.store
        .upsert_platform("yzj", "yzj", "enforce", chrono::Utc::now())
        .await
        .unwrap();
    db.store
        .set_platform_error("crm", Some("credential expired"), chrono::Utc::now())
        .await
        .unwrap();
    let rows = db.store.platform_rows().await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.kind.as_str(),
                r.mode.as_str(),
                r.last_error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("crm", "wechat_crm", "enforce", Some("credential expired")),
            ("yzj", "yzj", "enforce", None)
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.last_pull_at.is_none() && r.last_apply_at.is_none())
    );
    db.store
        .set_platform_error("crm", None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(db.store.platform_rows().await.unwrap()[0].last_error, None);
    let err = db
        .store
        .set_platform_error("nope", Some("x"), chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownPlatform { .. }), "{err:?}");
    db.store.ping().await.unwrap();
}

async fn marks_queue_and_retry(db: &TestDb) {
    platform(db, "juzi-main").await;
    let p = "juzi-main";
    let mark = NewMark {
        contact: "union-1".into(),
        user_id: Some("staff-7".into()),
        add_tags: vec!["客户等级/重要客户".into()],
        remove_tags: vec!["客户等级/普通客户".into(), "来源/展会".into()],
    };
    let first = db.store.queue_mark(p, &mark, t(1)).await.unwrap();
    let second = db
        .store
        .queue_mark(
            p,
            &NewMark {
                user_id: None,
                ..mark.clone()
            },
            t(2),
        )
        .await
        .unwrap();
    assert!(db.store.due_marks(p, t(0), 10).await.unwrap().is_empty());
    let due = db.store.due_marks(p, t(2), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(
        (due[0].add_tags.clone(), due[0].remove_tags.clone()),
        (mark.add_tags.clone(), mark.remove_tags.clone())
    );
    assert_eq!(
        (due[0].status, due[0].attempts, due[0].next_attempt_at),
        (MarkStatus::Queued, 0, t(1))
    );
    assert_eq!(due[1].user_id, None);

    // The first attempt fails transiently: retried later, not before.
    db.store
        .record_mark_attempt(
            first,
            MarkStatus::Queued,
            Some("rate limited"),
            Some(t(10)),
            t(3),
        )
        .await
        .unwrap();
    let due = db.store.due_marks(p, t(3), 10).await.unwrap();
    assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), [second]);
    let due = db.store.due_marks(p, t(10), 1).await.unwrap();
    assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), [second]);
    let due = db.store.due_marks(p, t(10), 10).await.unwrap();
    assert_eq!(
        (due[1].id, due[1].attempts, due[1].last_error.as_deref()),
        (first, 1, Some("rate limited"))
    );

    db.store
        .record_mark_attempt(first, MarkStatus::Succeeded, None, None, t(11))
        .await
        .unwrap();
    db.store
        .record_mark_attempt(second, MarkStatus::Dead, Some("not a contact"), None, t(11))
        .await
        .unwrap();
    assert!(db.store.due_marks(p, t(20), 10).await.unwrap().is_empty());
    let err = db
        .store
        .record_mark_attempt(9999, MarkStatus::Dead, None, None, t(12))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownMark { mark: 9999 }), "{err:?}");
}

async fn concurrent_writers_wait_for_each_other(db: &TestDb) {
    for p in ["a", "b", "c", "d"] {
        platform(db, p).await;
    }
    // Pulls of several platforms and of one platform at once, all in their own transactions.
    let listing = first_listing();
    let pulls = ["a", "b", "c", "d", "a", "a"].map(|p| {
        let store = db.store.clone();
        let listing = listing.clone();
        tokio::spawn(async move { store.record_snapshot(p, &listing, true, None, t(1)).await })
    });
    let mut created = 0;
    for pull in pulls {
        created += pull.await.unwrap().expect("a concurrent pull").created;
    }
    // Each platform's objects were created exactly once, whichever pull got there first.
    assert_eq!(created, 4 * 5);
    assert_eq!(db.store.events("a").await.unwrap().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Opening, whatever the backend

#[tokio::test]
async fn open_refuses_other_schemes_without_leaking_the_url() {
    let err = Store::open("mysql://root:hunter2@db/x").await.unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedUrl { ref scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert_no_secret(&err, "\"mysql\"");

    let err = Store::open("postgres://tagsync:hunter2@127.0.0.1:port/x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert_no_secret(&err, "postgres://127.0.0.1");

    // A server that refuses the password (only where PostgreSQL is configured: a closed port would
    // make sqlx retry for the whole acquire timeout).
    if let Ok(base) = std::env::var(PG_VAR).as_deref().map(str::to_owned) {
        let (_, host) = base.rsplit_once('@').expect("the test URL has credentials");
        let err = Store::open(&format!("postgres://tagsync:hunter2@{host}"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Open { .. }), "{err:?}");
        assert_no_secret(&err, "127.0.0.1");
    }
}

/// Neither the error nor any of its sources shows the password; `shown` is.
fn assert_no_secret(err: &Error, shown: &str) {
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        chain.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert!(chain.contains(shown), "{chain}");
    assert!(!chain.contains("hunter2"), "{chain}");
}

#[tokio::test]
async fn sqlite_file_is_created_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let err = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert!(!path.exists());
    let store = Store::open(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    store.close().await;
    assert!(path.exists());
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_data() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .upsert_platform("p", "wecom", "enforce", chrono::Utc::now())
        .await
        .unwrap();
    store
        .record_snapshot("p", &first_listing(), true, None, t(1))
        .await
        .unwrap();
    assert_eq!(store.mirror_snapshot("p").await.unwrap().tag_count(), 3);
}

/// A PostgreSQL that is down is named for what it is ("Connection refused"), at once, never
/// hidden behind the pool's "pool timed out"; the password is never shown.
#[tokio::test]
async fn a_postgres_that_is_down_says_connection_refused() {
    let e = Store::open("postgres://tagsync:hunter2@127.0.0.1:1/tagsync")
        .await
        .unwrap_err();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains("pool timed out"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
