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
use tagsync::model::{RemoteGroup, RemoteTag, Snapshot};
use tagsync::store::{
    Applied, DesiredStateRow, MarkStatus, NewMark, OpStatus, RunOutcome, RunStatus, Store,
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

fn group(
    id: &str,
    name: &str,
    order: Option<u32>,
    tags: &[(&str, &str, Option<u32>)],
) -> RemoteGroup {
    RemoteGroup {
        id: id.into(),
        name: name.into(),
        order,
        created_at: None,
        tags: tags
            .iter()
            .map(|(id, name, order)| RemoteTag {
                id: (*id).into(),
                name: (*name).into(),
                order: *order,
                created_at: None,
            })
            .collect(),
    }
}

/// A finished run of `seconds` that started `hours_ago`.
struct Run {
    platform: &'static str,
    trigger: &'static str,
    hours_ago: i64,
    seconds: i64,
}

fn outcome(
    status: RunStatus,
    planned: i64,
    applied: i64,
    failed: i64,
    api_calls: i64,
) -> RunOutcome {
    RunOutcome {
        status,
        planned,
        applied,
        failed,
        api_calls,
        error: None,
    }
}

/// A `desired_state` row: group key, tag key (`""` for the group), group name, tag name, status,
/// detail.
type StateRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
);

fn desired(rows: &[StateRow]) -> Vec<DesiredStateRow> {
    rows.iter()
        .map(|(gk, tk, gn, tn, status, detail)| DesiredStateRow {
            group_key: (*gk).into(),
            tag_key: (!tk.is_empty()).then(|| (*tk).into()),
            group_name: (*gn).into(),
            tag_name: tn.map(Into::into),
            status: (*status).into(),
            detail: detail.map(Into::into),
        })
        .collect()
}

/// Fills the mirror with the story the doc's expected results describe.
async fn fill(store: &Store) {
    let now = Utc::now();
    let ago = |hours: i64| -> DateTime<Utc> { now - Duration::hours(hours) };
    for (name, kind) in [
        ("wecom-hq", "wecom"),
        ("juzi-main", "juzibot"),
        ("yzj", "yzj"),
    ] {
        store.upsert_platform(name, kind, "enforce").await.unwrap();
    }
    let start = |r: Run| {
        let at = ago(r.hours_ago);
        let end = at + Duration::seconds(r.seconds);
        async move {
            let id = store.start_run(r.platform, r.trigger, at).await.unwrap();
            (id, at, end)
        }
    };

    // A month ago: the first pull of each platform.
    let (run, at, end) = start(Run {
        platform: "wecom-hq",
        trigger: "schedule",
        hours_ago: 720,
        seconds: 3,
    })
    .await;
    let wecom_first = Snapshot {
        groups: vec![
            group(
                "w1",
                "客户级别",
                Some(200),
                &[
                    ("wt1", "重要客户", Some(200)),
                    ("wt2", "普通客户", Some(100)),
                    ("wt5", "流失客户", Some(50)),
                ],
            ),
            group(
                "w2",
                "客户来源",
                Some(100),
                &[("wt3", "官网咨询", Some(100))],
            ),
        ],
    };
    store
        .record_snapshot("wecom-hq", &wecom_first, true, Some(run), at)
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Succeeded, 0, 0, 0, 2), end)
        .await
        .unwrap();

    let (run, at, end) = start(Run {
        platform: "juzi-main",
        trigger: "schedule",
        hours_ago: 719,
        seconds: 40,
    })
    .await;
    let juzi = Snapshot {
        groups: vec![
            group(
                "j1",
                "客户级别",
                Some(100),
                &[("jt1", "重要客户", Some(100))],
            ),
            group("j2", "售后", Some(50), &[("jt2", "已回访", Some(50))]),
        ],
    };
    store
        .record_snapshot("juzi-main", &juzi, true, Some(run), at)
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Succeeded, 0, 0, 0, 1), end)
        .await
        .unwrap();
    store.mark_not_ours("juzi-main", "j2", end).await.unwrap();

    // Eight days ago: Miaokol (no orders) is pulled, and a create is refused.
    let (run, at, end) = start(Run {
        platform: "yzj",
        trigger: "schedule",
        hours_ago: 200,
        seconds: 12,
    })
    .await;
    let yzj = Snapshot {
        groups: vec![
            group(
                "y1",
                "客户级别",
                None,
                &[("yt1", "重要客户", None), ("yt2", "普通客户", None)],
            ),
            group("y2", "客户来源", None, &[("yt3", "官网咨询", None)]),
        ],
    };
    store
        .record_snapshot("yzj", &yzj, true, Some(run), at)
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Succeeded, 0, 0, 0, 4), end)
        .await
        .unwrap();
    let (run, at, end) = start(Run {
        platform: "yzj",
        trigger: "apply",
        hours_ago: 199,
        seconds: 8,
    })
    .await;
    let op = store
        .record_intent(run, "yzj", 1, "add_tags", "客户来源", "+ 老客户转介绍", at)
        .await
        .unwrap();
    store
        .record_outcome(
            op,
            OpStatus::NotOurs,
            1,
            Some("addTag: not ours: no permission on this group (errcode 4003)"),
            end,
        )
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Failed, 1, 0, 1, 1), end)
        .await
        .unwrap();

    // Two days ago, someone edited WeCom's console: a rename, a reorder, a new tag, a deletion.
    let (run, at, end) = start(Run {
        platform: "wecom-hq",
        trigger: "schedule",
        hours_ago: 48,
        seconds: 3,
    })
    .await;
    let wecom_console = Snapshot {
        groups: vec![
            group(
                "w1",
                "客户级别",
                Some(200),
                &[
                    ("wt1", "重要客户", Some(200)),
                    ("wt2", "一般客户", Some(100)),
                ],
            ),
            group(
                "w2",
                "客户来源",
                Some(300),
                &[
                    ("wt3", "官网咨询", Some(100)),
                    ("wt4", "抖音直播", Some(90)),
                ],
            ),
        ],
    };
    store
        .record_snapshot("wecom-hq", &wecom_console, true, Some(run), at)
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Succeeded, 0, 0, 0, 2), end)
        .await
        .unwrap();

    // Yesterday tagsync applied: a rename back and a create succeeded, two operations failed.
    let (run, at, end) = start(Run {
        platform: "wecom-hq",
        trigger: "apply",
        hours_ago: 24,
        seconds: 5,
    })
    .await;
    let op = store
        .record_intent(
            run,
            "wecom-hq",
            1,
            "edit_tag",
            "客户级别/一般客户",
            "rename → 普通客户",
            at,
        )
        .await
        .unwrap();
    store
        .record_outcome(op, OpStatus::Succeeded, 1, None, at)
        .await
        .unwrap();
    let renamed = Applied::TagEdited {
        id: "wt2".into(),
        name: Some("普通客户".into()),
        order: None,
    };
    store
        .record_applied("wecom-hq", &renamed, Some(run), at)
        .await
        .unwrap();
    let op = store
        .record_intent(run, "wecom-hq", 2, "add_tags", "客户来源", "+ 小红书", at)
        .await
        .unwrap();
    store
        .record_outcome(op, OpStatus::Succeeded, 1, None, at)
        .await
        .unwrap();
    let created = Applied::TagsCreated {
        group_id: "w2".into(),
        tags: vec![RemoteTag {
            id: "wt6".into(),
            name: "小红书".into(),
            order: Some(80),
            created_at: None,
        }],
    };
    store
        .record_applied("wecom-hq", &created, Some(run), at)
        .await
        .unwrap();
    let op = store
        .record_intent(
            run,
            "wecom-hq",
            3,
            "add_tags",
            "客户来源",
            "+ 老客户转介绍",
            at,
        )
        .await
        .unwrap();
    store
        .record_outcome(
            op,
            OpStatus::Failed,
            1,
            Some("externalcontact/add_corp_tag: rejected: tag name exists (errcode 40071)"),
            end,
        )
        .await
        .unwrap();
    let op = store
        .record_intent(
            run,
            "wecom-hq",
            4,
            "edit_group",
            "客户来源",
            "order 300 → 100",
            at,
        )
        .await
        .unwrap();
    store
        .record_outcome(op, OpStatus::Failed, 5, Some("externalcontact/edit_corp_tag: still failing after 5 attempts: system busy (errcode -1)"), end)
        .await
        .unwrap();
    store
        .finish_run(run, &outcome(RunStatus::Partial, 4, 2, 2, 9), end)
        .await
        .unwrap();

    // Two hours ago Juzibot's token expired.
    let (run, _, end) = start(Run {
        platform: "juzi-main",
        trigger: "schedule",
        hours_ago: 2,
        seconds: 20,
    })
    .await;
    let failed = RunOutcome {
        error: Some("tag/list: the credential was refused: token expired".into()),
        ..outcome(RunStatus::Failed, 0, 0, 0, 1)
    };
    store.finish_run(run, &failed, end).await.unwrap();

    // An hour ago a Miaokol run died after journaling an operation.
    let (run, at, _) = start(Run {
        platform: "yzj",
        trigger: "schedule",
        hours_ago: 1,
        seconds: 0,
    })
    .await;
    store
        .record_intent(
            run,
            "yzj",
            1,
            "edit_tag",
            "客户级别/普通客户",
            "rename → 老客户",
            at,
        )
        .await
        .unwrap();

    // Bindings: one of them to a tag the console deleted.
    for (gk, tk, id) in [
        ("customer-level", "", "w1"),
        ("customer-level", "vip", "wt1"),
        ("customer-level", "churn", "wt5"),
        ("customer-level", "", "j1"),
    ] {
        let platform = if id.starts_with('j') {
            "juzi-main"
        } else {
            "wecom-hq"
        };
        if tk.is_empty() {
            store.bind_group(platform, gk, id, ago(24)).await.unwrap();
        } else {
            store.bind_tag(platform, gk, tk, id, ago(24)).await.unwrap();
        }
    }

    // How each declared object stands, as the last plans judged.
    let lvl = "客户级别";
    let src = "客户来源";
    store
        .replace_desired_state(
            "wecom-hq",
            &desired(&[
                ("customer-level", "", lvl, None, "present", None),
                (
                    "customer-level",
                    "vip",
                    lvl,
                    Some("重要客户"),
                    "present",
                    None,
                ),
                (
                    "customer-level",
                    "normal",
                    lvl,
                    Some("普通客户"),
                    "present",
                    None,
                ),
                (
                    "source",
                    "",
                    src,
                    None,
                    "reordered",
                    Some("order 300 → 100"),
                ),
                ("source", "官网咨询", src, Some("官网咨询"), "present", None),
                (
                    "source",
                    "老客户转介绍",
                    src,
                    Some("老客户转介绍"),
                    "missing",
                    None,
                ),
            ]),
            ago(24),
        )
        .await
        .unwrap();
    store
        .replace_desired_state(
            "juzi-main",
            &desired(&[
                ("customer-level", "", lvl, None, "present", None),
                (
                    "customer-level",
                    "vip",
                    lvl,
                    Some("重要客户"),
                    "present",
                    None,
                ),
                (
                    "customer-level",
                    "normal",
                    lvl,
                    Some("普通客户"),
                    "missing",
                    None,
                ),
                ("source", "", src, None, "missing", None),
                ("source", "官网咨询", src, Some("官网咨询"), "missing", None),
                (
                    "source",
                    "老客户转介绍",
                    src,
                    Some("老客户转介绍"),
                    "missing",
                    None,
                ),
            ]),
            ago(719),
        )
        .await
        .unwrap();
    store
        .replace_desired_state(
            "yzj",
            &desired(&[
                ("customer-level", "", lvl, None, "present", None),
                (
                    "customer-level",
                    "vip",
                    lvl,
                    Some("重要客户"),
                    "present",
                    None,
                ),
                (
                    "customer-level",
                    "normal",
                    lvl,
                    Some("普通客户"),
                    "present",
                    None,
                ),
                ("source", "", src, None, "present", None),
                ("source", "官网咨询", src, Some("官网咨询"), "present", None),
                (
                    "source",
                    "老客户转介绍",
                    src,
                    Some("老客户转介绍"),
                    "not_supported",
                    Some("the group is not ours"),
                ),
            ]),
            ago(199),
        )
        .await
        .unwrap();

    // Customer marks: one delivered, one retrying, one fresh, one given up on.
    let mark = |contact: &str, add: &str| NewMark {
        contact: contact.into(),
        user_id: Some("zhangsan".into()),
        add_tags: vec![add.into()],
        remove_tags: Vec::new(),
    };
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
    store
        .record_mark_attempt(
            m,
            MarkStatus::Queued,
            Some("rate limited (errcode 45009)"),
            Some(ago(49)),
            ago(50),
        )
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
    store
        .record_mark_attempt(
            m,
            MarkStatus::Failed,
            Some("contact not found"),
            None,
            ago(29),
        )
        .await
        .unwrap();
}
