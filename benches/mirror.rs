//! The mirror at scale: a pull of 10,000 tags (WeCom's per-corp maximum) recorded on each backend,
//! and `tagsync status` on a mirror with a year of hourly runs (8,760 per platform). Numbers go to
//! docs/BENCHMARKS.md.
//!
//! `cargo bench --bench mirror` (SQLite; PostgreSQL too when `TAGSYNC_TEST_DATABASE_URL` is set,
//! in a schema of its own, dropped after). Peak memory is the process's resident high-water mark,
//! reset (`/proc/self/clear_refs`) before each measurement.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Connection as _;
use tagsync::engine;
use tagsync::model::{RemoteGroup, RemoteTag, Snapshot};
use tagsync::store::Store;

const GROUPS: usize = 100;
const TAGS_PER_GROUP: usize = 100;
const RUNS_PER_PLATFORM: usize = 8_760;
const PLATFORMS: [&str; 3] = ["wecom-hq", "juzi-main", "yzj"];

fn listing(renamed: usize) -> Snapshot {
    Snapshot {
        groups: (0..GROUPS)
            .map(|g| RemoteGroup {
                id: format!("g{g}"),
                name: format!("分组{g:03}"),
                order: Some((GROUPS - g) as u32),
                created_at: None,
                tags: (0..TAGS_PER_GROUP)
                    .map(|t| RemoteTag {
                        id: format!("t{g}-{t}"),
                        name: if g * TAGS_PER_GROUP + t < renamed {
                            format!("改名{g:03}-{t:03}")
                        } else {
                            format!("标签{g:03}-{t:03}")
                        },
                        order: Some((TAGS_PER_GROUP - t) as u32),
                        created_at: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Resets the resident high-water mark; false where the kernel does not allow it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The resident high-water mark, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// A fresh mirror for each measurement.
struct Target {
    name: &'static str,
    make: Box<dyn Fn(usize) -> String>,
}

async fn open(url: &str) -> Store {
    let store = Store::open(url).await.unwrap();
    for p in PLATFORMS {
        store
            .upsert_platform(p, "wecom", "enforce", now())
            .await
            .unwrap();
    }
    store
}

async fn pulls(target: &Target) {
    const ROUNDS: usize = 5;
    let (first, same, renamed) = (listing(0), listing(0), listing(100));
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let mut peak = 0f64;
    for round in 0..ROUNDS {
        let store = open(&(target.make)(round)).await;
        for (i, snapshot) in [&first, &same, &renamed].into_iter().enumerate() {
            let resettable = reset_peak();
            let started = Instant::now();
            store
                .record_snapshot("wecom-hq", snapshot, true, None, now())
                .await
                .unwrap();
            times[i].push(started.elapsed());
            if resettable && i == 0 {
                peak = peak.max(peak_mib());
            }
        }
        store.close().await;
    }
    let [a, b, c] = times.map(median);
    println!(
        "{:<9} 10,000-tag pull: first {:>8.1?}  unchanged {:>8.1?}  100 renamed {:>8.1?}  peak RSS during the first {:.0} MiB",
        target.name, a, b, c, peak
    );
}

/// A year of hourly runs per platform, each with one operation (every 50th failed), an event
/// every 10th run and a backlog of 200 marks, written with multi-row inserts.
async fn fill_year(url: &str) {
    let store = open(url).await;
    store
        .record_snapshot("wecom-hq", &listing(0), true, None, now())
        .await
        .unwrap();
    store.close().await;
    let start = now() - chrono::Duration::hours(RUNS_PER_PLATFORM as i64);
    macro_rules! fill {
        ($conn:expr) => {{
            let mut conn = $conn;
            let mut tx = conn.begin().await.unwrap();
            let mut id = 0i64;
            for p in PLATFORMS {
                for chunk in (0..RUNS_PER_PLATFORM).collect::<Vec<_>>().chunks(500) {
                    let mut runs = String::from(
                        "INSERT INTO sync_runs (platform, \"trigger\", started_at, finished_at, status, planned, applied, failed, api_calls) VALUES ",
                    );
                    for (k, h) in chunk.iter().enumerate() {
                        let at = start + chrono::Duration::hours(*h as i64);
                        let status = if h % 50 == 0 { "partial" } else { "succeeded" };
                        if k > 0 {
                            runs.push(',');
                        }
                        runs.push_str(&format!(
                            "('{p}', 'schedule', '{}', '{}', '{status}', 1, 1, {}, 3)",
                            at.to_rfc3339(),
                            (at + chrono::Duration::seconds(2)).to_rfc3339(),
                            i64::from(h % 50 == 0)
                        ));
                    }
                    sqlx::query(&runs).execute(&mut *tx).await.unwrap();
                    let mut ops = String::from(
                        "INSERT INTO operations (run_id, platform, seq, kind, target, request, status, attempts, error, created_at) VALUES ",
                    );
                    for (k, h) in chunk.iter().enumerate() {
                        id += 1;
                        let at = start + chrono::Duration::hours(*h as i64);
                        let (status, error) = if h % 50 == 0 {
                            ("failed", "'add_tag: rejected: exists'")
                        } else {
                            ("succeeded", "NULL")
                        };
                        if k > 0 {
                            ops.push(',');
                        }
                        ops.push_str(&format!(
                            "({id}, '{p}', 1, 'edit_tag', '分组/标签', 'rename', '{status}', 1, {error}, '{}')",
                            at.to_rfc3339()
                        ));
                    }
                    sqlx::query(&ops).execute(&mut *tx).await.unwrap();
                }
                let mut events = String::from(
                    "INSERT INTO tag_events (platform, object, remote_id, kind, old_value, new_value, source, at) VALUES ",
                );
                for h in (0..RUNS_PER_PLATFORM).step_by(10) {
                    let at = start + chrono::Duration::hours(h as i64);
                    if h > 0 {
                        events.push(',');
                    }
                    events.push_str(&format!(
                        "('{p}', 'tag', 't0-0', 'renamed', 'a{h}', 'b{h}', 'pull', '{}')",
                        at.to_rfc3339()
                    ));
                }
                sqlx::query(&events).execute(&mut *tx).await.unwrap();
                let mut marks = String::from(
                    "INSERT INTO mark_requests (platform, contact, add_tags, status, next_attempt_at, created_at, updated_at) VALUES ",
                );
                for m in 0..200 {
                    let at = (now() - chrono::Duration::minutes(m)).to_rfc3339();
                    if m > 0 {
                        marks.push(',');
                    }
                    marks.push_str(&format!("('{p}', 'c{m}', '[]', 'queued', '{at}', '{at}', '{at}')"));
                }
                sqlx::query(&marks).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    if url.starts_with("sqlite") {
        fill!(sqlx::SqliteConnection::connect(url).await.unwrap());
    } else {
        fill!(sqlx::PgConnection::connect(url).await.unwrap());
    }
}

async fn status(target: &Target) {
    let url = (target.make)(100);
    fill_year(&url).await;
    let store = Store::open(&url).await.unwrap();
    let platforms: Vec<(String, String, String)> = PLATFORMS
        .iter()
        .map(|p| (p.to_string(), "wecom".into(), "enforce".into()))
        .collect();
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let report = engine::status(&store, &platforms, now()).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(report.platforms[0].mark_queue, 200);
    }
    println!(
        "{:<9} status, 3 platforms × {} runs: median {:>8.1?}",
        target.name,
        RUNS_PER_PLATFORM,
        median(times)
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    let mut targets = vec![Target {
        name: "sqlite",
        make: Box::new(move |i| format!("sqlite://{}/m{i}.db?mode=rwc", base.display())),
    }];
    let mut schemas = Vec::new();
    let pg = std::env::var("TAGSYNC_TEST_DATABASE_URL").ok();
    if let Some(url) = &pg {
        let admin = sqlx::PgPool::connect(url).await.unwrap();
        for i in 0..6 {
            let schema = format!("bench_mirror_{}_{i}", std::process::id());
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            schemas.push(schema);
        }
        admin.close().await;
        let url = url.clone();
        let names = schemas.clone();
        targets.push(Target {
            name: "postgres",
            make: Box::new(move |i| {
                let sep = if url.contains('?') { '&' } else { '?' };
                let schema = &names[i.min(names.len() - 1)];
                format!("{url}{sep}options=-c%20search_path%3D{schema}")
            }),
        });
    } else {
        println!("(TAGSYNC_TEST_DATABASE_URL is not set: SQLite only)");
    }
    for t in &targets {
        pulls(t).await;
        status(t).await;
    }
    if let Some(url) = &pg {
        let admin = sqlx::PgPool::connect(url).await.unwrap();
        for s in schemas {
            sqlx::query(&format!("DROP SCHEMA {s} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        }
        admin.close().await;
    }
}
