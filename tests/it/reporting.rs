//! Every query of `docs/REPORTING.md`, run on SQLite and (when `TAGSYNC_TEST_DATABASE_URL` is set)
//! on PostgreSQL against one mirror filled through the public `Store` API, and compared with the
//! `expected` block written beside it in the doc. A query edited in the doc is tested as edited; a
//! query without an expected result fails the test.
//!
//! A ```` ```sql ```` block runs on both backends; where the dialects differ (date arithmetic), the
//! doc gives ```` ```sql sqlite ```` and ```` ```sql postgres ```` variants of one query, sharing
//! one expected block. Results are rendered one row a line, cells joined by ` | `, `NULL` for
//! null, under a header of the column names.

use chrono::{DateTime, Duration, Utc};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use tagsync::model::Snapshot;
use tagsync::store::{
    Applied, DesiredStateRow, MarkStatus, NewMark, OpStatus, RunId, RunOutcome, RunStatus, Store,
};

use super::store::{Raw, TestDb};

const DOC: &str = include_str!("../../docs/REPORTING.md");

#[tokio::test]
async fn queries_on_sqlite() {
    let db = TestDb::sqlite().await;
    fill(&db.store).await;
    check_all(&db, Backend::Sqlite).await;
    db.finish().await;
}

#[tokio::test]
async fn queries_on_postgres() {
    let Some(db) = TestDb::postgres("reporting").await else {
        return;
    };
    fill(&db.store).await;
    check_all(&db, Backend::Postgres).await;
    db.finish().await;
}

#[test]
fn the_doc_has_a_dozen_queries_each_with_its_expected_result() {
    let queries = queries(DOC);
    assert!(queries.len() >= 12, "{} queries", queries.len());
    for q in &queries {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            assert!(
                q.sql_for(backend).is_some(),
                "{:?} has no variant for {backend:?}",
                q.title
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One documented query: its heading, its SQL (for both backends, or one variant each), and the
/// expected rendering.
#[derive(Debug)]
struct Query {
    title: String,
    both: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
    expected: String,
}

impl Query {
    fn sql_for(&self, backend: Backend) -> Option<&str> {
        let variant = match backend {
            Backend::Sqlite => &self.sqlite,
            Backend::Postgres => &self.postgres,
        };
        variant.as_deref().or(self.both.as_deref())
    }
}

/// The fenced blocks of the doc, grouped: SQL blocks, then the `expected` block that closes them.
fn queries(doc: &str) -> Vec<Query> {
    let mut out = Vec::new();
    let mut title = String::new();
    let mut pending: Vec<(String, String)> = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            assert!(pending.is_empty(), "SQL before {h:?} has no expected block");
            title = h.trim().to_owned();
            continue;
        }
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let info = info.trim().to_owned();
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        match info.as_str() {
            "sql" | "sql sqlite" | "sql postgres" => pending.push((info, body)),
            "expected" => {
                assert!(
                    !pending.is_empty(),
                    "{title:?}: an expected block without SQL"
                );
                let mut q = Query {
                    title: title.clone(),
                    both: None,
                    sqlite: None,
                    postgres: None,
                    expected: body,
                };
                for (info, sql) in pending.drain(..) {
                    let slot = match info.as_str() {
                        "sql" => &mut q.both,
                        "sql sqlite" => &mut q.sqlite,
                        _ => &mut q.postgres,
                    };
                    assert!(slot.is_none(), "{title:?}: two {info:?} blocks");
                    *slot = Some(sql);
                }
                out.push(q);
            }
            _ => {}
        }
    }
    assert!(pending.is_empty(), "SQL at the end has no expected block");
    out
}

async fn check_all(db: &TestDb, backend: Backend) {
    let mut failures = Vec::new();
    let queries = queries(DOC);
    for q in &queries {
        let sql = q.sql_for(backend).expect("checked by the doc test");
        let got = match run(&db.raw, sql).await {
            Ok(text) => text,
            Err(e) => format!("error: {e}\n"),
        };
        if got != q.expected {
            failures.push(format!(
                "### {} ({backend:?})\n--- expected\n{}--- got\n{got}",
                q.title, q.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}

async fn run(raw: &Raw, sql: &str) -> Result<String, String> {
    match raw {
        Raw::Sqlite(pool) => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?;
            render(&rows, sqlite_cell)
        }
        Raw::Postgres(pool) => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?;
            render(&rows, postgres_cell)
        }
    }
}

fn render<R: Row>(
    rows: &[R],
    cell: impl Fn(&R, usize) -> Result<String, String>,
) -> Result<String, String> {
    let Some(first) = rows.first() else {
        return Ok("(no rows)\n".into());
    };
    let header: Vec<&str> = first.columns().iter().map(|c| c.name()).collect();
    let mut out = header.join(" | ");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = (0..header.len())
            .map(|i| cell(row, i))
            .collect::<Result<_, _>>()?;
        out.push_str(&cells.join(" | "));
        out.push('\n');
    }
    Ok(out)
}

fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<String, String> {
    let value = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if value.is_null() {
        return Ok("NULL".into());
    }
    let ty = value.type_info().name().to_owned();
    let e = |e: sqlx::Error| e.to_string();
    Ok(match ty.as_str() {
        "INTEGER" => row.try_get::<i64, _>(i).map_err(e)?.to_string(),
        "REAL" => row.try_get::<f64, _>(i).map_err(e)?.to_string(),
        "TEXT" => row.try_get::<String, _>(i).map_err(e)?,
        other => return Err(format!("column {i}: unexpected SQLite type {other}")),
    })
}

fn postgres_cell(row: &sqlx::postgres::PgRow, i: usize) -> Result<String, String> {
    let value = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if value.is_null() {
        return Ok("NULL".into());
    }
    let ty = value.type_info().name().to_owned();
    let e = |e: sqlx::Error| e.to_string();
    Ok(match ty.as_str() {
        "INT8" => row.try_get::<i64, _>(i).map_err(e)?.to_string(),
        "INT4" => row.try_get::<i32, _>(i).map_err(e)?.to_string(),
        "INT2" => row.try_get::<i16, _>(i).map_err(e)?.to_string(),
        "FLOAT8" => row.try_get::<f64, _>(i).map_err(e)?.to_string(),
        "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => row.try_get::<String, _>(i).map_err(e)?,
        other => {
            return Err(format!(
                "column {i}: PostgreSQL type {other} has no portable rendering; cast it"
            ));
        }
    })
}

// ---- the test mirror: three platforms, a month of history, told as in docs/REPORTING.md ----

/// A platform listing, written as YAML (`{id, name, order, tags: [{id, name, order}]}`).
fn listing(yaml: &str) -> Snapshot {
    serde_saphyr::from_str(yaml).expect("a test listing")
}

/// The declared objects of the test mirror: group key, tag key (`""` for the group), group name,
/// tag name.
const DECLARED: [(&str, &str, &str, Option<&str>); 6] = [
    ("customer-level", "", "客户级别", None),
    ("customer-level", "vip", "客户级别", Some("重要客户")),
    ("customer-level", "normal", "客户级别", Some("普通客户")),
    ("source", "", "客户来源", None),
    ("source", "官网咨询", "客户来源", Some("官网咨询")),
    ("source", "老客户转介绍", "客户来源", Some("老客户转介绍")),
];

/// `DECLARED`, each with its status and detail.
fn desired(states: &[(&str, Option<&str>); 6]) -> Vec<DesiredStateRow> {
    DECLARED
        .iter()
        .zip(states)
        .map(|((gk, tk, gn, tn), (status, detail))| DesiredStateRow {
            group_key: (*gk).into(),
            tag_key: (!tk.is_empty()).then(|| (*tk).into()),
            group_name: (*gn).into(),
            tag_name: tn.map(Into::into),
            status: (*status).into(),
            detail: detail.map(Into::into),
        })
        .collect()
}

/// Records the story through the store's API, relative to the time the test runs.
struct Story<'a> {
    store: &'a Store,
    now: DateTime<Utc>,
}

/// One journaled operation: seq, kind, target, request, outcome (`None`: only the intent was
/// journaled), attempts, error.
type Op<'a> = (
    i64,
    &'a str,
    &'a str,
    &'a str,
    Option<OpStatus>,
    i64,
    Option<&'a str>,
);

impl Story<'_> {
    fn ago(&self, hours: i64) -> DateTime<Utc> {
        self.now - Duration::hours(hours)
    }

    /// A run of `platform` that started `hours_ago` and took `seconds`: it records `listing` (when
    /// given) and journals `ops`, then finishes with `outcome` (or is left running without one).
    #[allow(clippy::too_many_arguments)] // One run's facts, each meaningful.
    async fn run(
        &self,
        platform: &str,
        trigger: &str,
        hours_ago: i64,
        seconds: i64,
        listing: Option<&Snapshot>,
        ops: &[Op<'_>],
        outcome: Option<RunOutcome>,
    ) -> RunId {
        let (at, end) = (
            self.ago(hours_ago),
            self.ago(hours_ago) + Duration::seconds(seconds),
        );
        let run = self.store.start_run(platform, trigger, at).await.unwrap();
        if let Some(listing) = listing {
            let s = self.store;
            s.record_snapshot(platform, listing, true, Some(run), at)
                .await
                .unwrap();
        }
        for &(seq, kind, target, request, status, attempts, error) in ops {
            let s = self.store;
            let op = s
                .record_intent(run, platform, seq, kind, target, request, at)
                .await
                .unwrap();
            if let Some(status) = status {
                s.record_outcome(op, status, attempts, error, end)
                    .await
                    .unwrap();
            }
        }
        if let Some(outcome) = outcome {
            self.store.finish_run(run, &outcome, end).await.unwrap();
        }
        run
    }
}

fn outcome(status: RunStatus, counts: [i64; 4], error: Option<&str>) -> Option<RunOutcome> {
    let [planned, applied, failed, api_calls] = counts;
    Some(RunOutcome {
        status,
        planned,
        applied,
        failed,
        api_calls,
        error: error.map(Into::into),
    })
}

/// Fills the mirror with the story the doc's expected results describe.
/// Fills the mirror with the story of `docs/REPORTING.md` (also the status page's test mirror).
pub(crate) async fn fill(store: &Store) {
    use OpStatus::{Failed, NotOurs, Succeeded};
    let story = Story {
        store,
        now: Utc::now(),
    };
    for (name, kind) in [
        ("wecom-hq", "wecom"),
        ("juzi-main", "juzibot"),
        ("yzj", "yzj"),
    ] {
        store
            .upsert_platform(name, kind, "enforce", story.now)
            .await
            .unwrap();
    }
    let ok = RunStatus::Succeeded;

    // A month ago: the first pulls of WeCom and Juzibot; Juzibot's 售后 belongs to its console.
    let wecom = listing(
        "groups:
  - {id: w1, name: 客户级别, order: 200, tags: [{id: wt1, name: 重要客户, order: 200},
      {id: wt2, name: 普通客户, order: 100}, {id: wt5, name: 流失客户, order: 50}]}
  - {id: w2, name: 客户来源, order: 100, tags: [{id: wt3, name: 官网咨询, order: 100}]}",
    );
    let out = outcome(ok, [0, 0, 0, 2], None);
    story
        .run("wecom-hq", "schedule", 720, 3, Some(&wecom), &[], out)
        .await;
    let juzi = listing(
        "groups:
  - {id: j1, name: 客户级别, order: 100, tags: [{id: jt1, name: 重要客户, order: 100}]}
  - {id: j2, name: 售后, order: 50, tags: [{id: jt2, name: 已回访, order: 50}]}",
    );
    let out = outcome(ok, [0, 0, 0, 1], None);
    story
        .run("juzi-main", "schedule", 719, 40, Some(&juzi), &[], out)
        .await;
    store
        .mark_not_ours("juzi-main", "j2", story.ago(719))
        .await
        .unwrap();

    // Eight days ago: Miaokol (no orders) is pulled, and a create is refused as not ours.
    let yzj = listing(
        "groups:
  - {id: y1, name: 客户级别, tags: [{id: yt1, name: 重要客户}, {id: yt2, name: 普通客户}]}
  - {id: y2, name: 客户来源, tags: [{id: yt3, name: 官网咨询}]}",
    );
    let out = outcome(ok, [0, 0, 0, 4], None);
    story
        .run("yzj", "schedule", 200, 12, Some(&yzj), &[], out)
        .await;
    let refused = "addTag: not ours: no permission on this group (errcode 4003)";
    let ops = [(
        1,
        "add_tags",
        "客户来源",
        "+ 老客户转介绍",
        Some(NotOurs),
        1,
        Some(refused),
    )];
    let out = outcome(RunStatus::Failed, [1, 0, 1, 1], None);
    story.run("yzj", "apply", 199, 8, None, &ops, out).await;

    // Two days ago, someone edited WeCom's console: a rename, a reorder, a new tag, a deletion.
    let wecom = listing(
        "groups:
  - {id: w1, name: 客户级别, order: 200, tags: [{id: wt1, name: 重要客户, order: 200},
      {id: wt2, name: 一般客户, order: 100}]}
  - {id: w2, name: 客户来源, order: 300, tags: [{id: wt3, name: 官网咨询, order: 100},
      {id: wt4, name: 抖音直播, order: 90}]}",
    );
    let out = outcome(ok, [0, 0, 0, 2], None);
    story
        .run("wecom-hq", "schedule", 48, 3, Some(&wecom), &[], out)
        .await;

    // Yesterday tagsync applied: a rename back and a create succeeded, two operations failed.
    let rejected = "externalcontact/add_corp_tag: rejected: tag name exists (errcode 40071)";
    let gave_up =
        "externalcontact/edit_corp_tag: still failing after 5 attempts: system busy (errcode -1)";
    let ops = [
        (
            1,
            "edit_tag",
            "客户级别/一般客户",
            "rename → 普通客户",
            Some(Succeeded),
            1,
            None,
        ),
        (
            2,
            "add_tags",
            "客户来源",
            "+ 小红书",
            Some(Succeeded),
            1,
            None,
        ),
        (
            3,
            "add_tags",
            "客户来源",
            "+ 老客户转介绍",
            Some(Failed),
            1,
            Some(rejected),
        ),
        (
            4,
            "edit_group",
            "客户来源",
            "order 300 → 100",
            Some(Failed),
            5,
            Some(gave_up),
        ),
    ];
    let out = outcome(RunStatus::Partial, [4, 2, 2, 9], None);
    let run = story.run("wecom-hq", "apply", 24, 5, None, &ops, out).await;
    let at = story.ago(24);
    let renamed = Applied::TagEdited {
        id: "wt2".into(),
        name: Some("普通客户".into()),
        order: None,
    };
    store
        .record_applied("wecom-hq", &renamed, Some(run), at)
        .await
        .unwrap();
    let created = Applied::TagsCreated {
        group_id: "w2".into(),
        tags: listing(
            "groups: [{id: w2, name: 客户来源, tags: [{id: wt6, name: 小红书, order: 80}]}]",
        )
        .groups
        .remove(0)
        .tags,
    };
    store
        .record_applied("wecom-hq", &created, Some(run), at)
        .await
        .unwrap();

    // Two hours ago Juzibot's token expired.
    let expired = "tag/list: the credential was refused: token expired";
    let out = outcome(RunStatus::Failed, [0, 0, 0, 1], Some(expired));
    story
        .run("juzi-main", "schedule", 2, 20, None, &[], out)
        .await;

    // An hour ago a Miaokol run died after journaling an operation (no outcome, no finish).
    let ops = [(
        1,
        "edit_tag",
        "客户级别/普通客户",
        "rename → 老客户",
        None,
        0,
        None,
    )];
    story.run("yzj", "schedule", 1, 0, None, &ops, None).await;

    // Bindings: one of them to a tag the console deleted.
    let bound = story.ago(24);
    store
        .bind_group("wecom-hq", "customer-level", "w1", bound)
        .await
        .unwrap();
    store
        .bind_group("juzi-main", "customer-level", "j1", bound)
        .await
        .unwrap();
    for (key, id) in [("vip", "wt1"), ("churn", "wt5")] {
        store
            .bind_tag("wecom-hq", "customer-level", key, id, bound)
            .await
            .unwrap();
    }

    // How each declared object stands, as the last plans judged: per platform, the status (and
    // detail) of each object of `DECLARED`, in its order.
    let (p, m) = (("present", None), ("missing", None));
    let judged = [
        (
            "wecom-hq",
            [p, p, p, ("reordered", Some("order 300 → 100")), p, m],
            24,
        ),
        ("juzi-main", [p, p, m, m, m, m], 719),
        (
            "yzj",
            [
                p,
                p,
                p,
                p,
                p,
                ("not_supported", Some("the group is not ours")),
            ],
            199,
        ),
    ];
    for (platform, states, hours_ago) in judged {
        let rows = desired(&states);
        store
            .replace_desired_state(platform, &rows, story.ago(hours_ago))
            .await
            .unwrap();
    }

    // Customer marks: one delivered, one retrying, one fresh, one given up on.
    let mark = |contact: &str, add: &str| NewMark {
        contact: contact.into(),
        user_id: Some("zhangsan".into()),
        add_tags: vec![add.into()],
        remove_tags: Vec::new(),
    };
    let ago = |h| story.ago(h);
    let m = store
        .queue_mark("wecom-hq", &mark("wmA", "客户级别/重要客户"), ago(72))
        .await
        .unwrap();
    store
        .record_mark_attempt(m, MarkStatus::Succeeded, None, None, ago(71))
        .await
        .unwrap();
    let m = store
        .queue_mark("wecom-hq", &mark("wmB", "客户来源/官网咨询"), ago(50))
        .await
        .unwrap();
    let limited = Some("rate limited (errcode 45009)");
    store
        .record_mark_attempt(m, MarkStatus::Queued, limited, Some(ago(49)), ago(50))
        .await
        .unwrap();
    store
        .queue_mark("wecom-hq", &mark("wmC", "客户级别/普通客户"), ago(5))
        .await
        .unwrap();
    let m = store
        .queue_mark("yzj", &mark("wxD", "客户级别/重要客户"), ago(30))
        .await
        .unwrap();
    let gone = Some("contact not found");
    store
        .record_mark_attempt(m, MarkStatus::Dead, gone, None, ago(29))
        .await
        .unwrap();
}
