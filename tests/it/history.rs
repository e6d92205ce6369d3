//! History that survives every cycle, on SQLite and PostgreSQL: create → rename (tagsync) →
//! reorder and move (console) → console delete → recreate, as `tag_events` (with `by`) and the
//! `first_seen_at` / `last_seen_at` / `deleted_at` of the one `tags` row, which is never removed.

use chrono::{DateTime, Duration, Utc};
use tagsync::model::{RemoteGroup, RemoteTag, Snapshot};
use tagsync::store::{Applied, Store};

use super::store::{Raw, TestDb};

fn t(h: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc()
        + Duration::hours(h)
}

/// `(id, name, order)` of a tag.
type TagLine<'a> = (&'a str, &'a str, u32);

fn listing(groups: &[(&str, &str, &[TagLine])]) -> Snapshot {
    Snapshot {
        groups: groups
            .iter()
            .map(|(id, name, tags)| RemoteGroup {
                id: (*id).into(),
                name: (*name).into(),
                order: Some(1),
                created_at: None,
                tags: tags
                    .iter()
                    .map(|(id, name, order)| RemoteTag {
                        id: (*id).into(),
                        name: (*name).into(),
                        order: Some(*order),
                        created_at: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

async fn story(db: &TestDb) {
    let s: &Store = &db.store;
    s.upsert_platform("wecom-hq", "wecom", "enforce", t(0))
        .await
        .unwrap();
    let both = |tags: &'static [TagLine], other: &'static [TagLine]| {
        listing(&[("g1", "客户级别", tags), ("g2", "客户来源", other)])
    };
    // 1. Created in the console, seen by a pull.
    s.record_snapshot(
        "wecom-hq",
        &both(&[("t1", "重要", 5)], &[("t9", "官网", 1)]),
        true,
        None,
        t(1),
    )
    .await
    .unwrap();
    // 2. tagsync renames it.
    let run = s.start_run("wecom-hq", "apply", t(2)).await.unwrap();
    let rename = Applied::TagEdited {
        id: "t1".into(),
        name: Some("重点".into()),
        order: None,
    };
    s.record_applied("wecom-hq", &rename, Some(run), t(2))
        .await
        .unwrap();
    // 3. Someone reorders it in the console, and moves it to the other group.
    s.record_snapshot(
        "wecom-hq",
        &both(&[], &[("t9", "官网", 1), ("t1", "重点", 9)]),
        true,
        None,
        t(3),
    )
    .await
    .unwrap();
    // 4. Deleted in the console.
    s.record_snapshot(
        "wecom-hq",
        &both(&[], &[("t9", "官网", 1)]),
        true,
        None,
        t(4),
    )
    .await
    .unwrap();
    // 5. Back (recreated with its id, as the simulators and some consoles restore it).
    s.record_snapshot(
        "wecom-hq",
        &both(&[("t1", "重点", 9)], &[("t9", "官网", 1)]),
        true,
        None,
        t(5),
    )
    .await
    .unwrap();

    let events: Vec<(String, Option<String>, Option<String>, String)> = match &db.raw {
        Raw::Sqlite(pool) => sqlx::query_as(
            "SELECT kind, old_value, new_value, \"by\" FROM tag_events WHERE remote_id = 't1' ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Raw::Postgres(pool) => sqlx::query_as(
            "SELECT kind, old_value, new_value, \"by\" FROM tag_events WHERE remote_id = 't1' ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    let lines: Vec<String> = events
        .iter()
        .map(|(k, o, n, by)| {
            let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
            format!("{by} {k} {} -> {}", v(o), v(n))
        })
        .collect();
    assert_eq!(
        lines,
        [
            "console created - -> 重要",
            "tagsync renamed 重要 -> 重点",
            "console reordered 5 -> 9",
            "console moved 客户级别 -> 客户来源",
            "console deleted 重点 -> -",
            "console created - -> 重点",
            "console moved 客户来源 -> 客户级别",
        ]
    );

    type Seen = (i64, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);
    let sql = "SELECT COUNT(*) OVER (), first_seen_at, last_seen_at, deleted_at FROM tags
               WHERE platform = 'wecom-hq' AND remote_id = 't1'";
    let rows: Vec<Seen> = match &db.raw {
        Raw::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Raw::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    };
    assert_eq!(rows, [(1, t(1), t(5), None)], "one row, never hard-deleted");

    // In between, the deletion was recorded on the row.
    let current = s.mirror_snapshot("wecom-hq").await.unwrap();
    assert_eq!(
        current.groups.iter().map(|g| g.tags.len()).sum::<usize>(),
        2
    );
}

#[tokio::test]
async fn history_on_sqlite() {
    let db = TestDb::sqlite().await;
    story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn history_on_postgres() {
    let Some(db) = TestDb::postgres("history").await else {
        return;
    };
    story(&db).await;
    db.finish().await;
}
