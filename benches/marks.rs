//! Mark queue benchmarks (docs/BENCHMARKS.md, "Customer marks"): enqueue throughput on each
//! backend, and the drain rate against simulators limited to 50 requests/s, as a fraction of the
//! limit in requests and in marks per second.
//!
//! `cargo bench --bench marks` (SQLite); with `TAGSYNC_TEST_DATABASE_URL` set, PostgreSQL too.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use tagsync::engine::{Engine, MarkInput, Target};
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::platforms::{self, RetryPolicy};
use tagsync::settings::{KindSettings, Mode, PlatformSettings, RateLimit, SecretSource};
use tagsync::sim::{self, FaultSpec, Fixture, SimOptions, SimPlatform};
use tagsync::store::Store;

const TOKEN: &str = "bench-token";
const LIMIT: u32 = 50;
const TAGS: [(&str, &str); 4] = [
    ("客户级别/重要客户", "t-vip"),
    ("客户级别/普通客户", "t-normal"),
    ("客户来源/官网咨询", "t-web"),
    ("客户来源/线下活动", "t-offline"),
];

fn fixture(strategy: bool, contacts: usize) -> Fixture {
    let s = if strategy { "\n    strategyId: 1" } else { "" };
    let mut text = format!(
        "groups:\n  - id: g-level\n    name: 客户级别{s}\n    tags:\n      - {{ id: t-vip, name: 重要客户 }}\n      - {{ id: t-normal, name: 普通客户 }}\n  - id: g-source\n    name: 客户来源{s}\n    tags:\n      - {{ id: t-web, name: 官网咨询 }}\n      - {{ id: t-offline, name: 线下活动 }}\ncustomers:\n"
    );
    for c in 0..contacts {
        text += &format!("  - {{ unionId: c{c}, userId: staff }}\n");
    }
    let mut f = Fixture::from_yaml(&text).unwrap();
    f.token = TOKEN.into();
    f
}

fn settings(name: &str, config: KindSettings, url: &str) -> PlatformSettings {
    PlatformSettings {
        name: name.into(),
        kind: config.kind(),
        base_url: url.parse().unwrap(),
        mode: Mode::Enforce,
        // The client keeps under the platform's limit, as a user configures it.
        rate_limit: Some(RateLimit {
            per_second: LIMIT,
            burst: 1,
            concurrency: None,
        }),
        schedule: None,
        secret: SecretSource::Env("UNUSED".into()),
        config,
        timeout: Duration::from_secs(5),
    }
}

async fn mirror(url: &str, p: &PlatformSettings) -> Store {
    let store = Store::open(url).await.unwrap();
    store
        .upsert_platform(&p.name, p.kind.as_str(), "enforce", chrono::Utc::now())
        .await
        .unwrap();
    for (name, id) in TAGS {
        let (g, t) = name.split_once('/').unwrap();
        store
            .bind_tag(&p.name, g, t, id, chrono::Utc::now())
            .await
            .unwrap();
    }
    store
}

fn desired(platform: &str) -> tagsync::model::Desired {
    let ctx = Context {
        known_platforms: [platform.to_string()].into(),
        default_platforms: [platform.to_string()].into(),
        prune_default: false,
    };
    let text = "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户]\n  - name: 客户来源\n    tags: [官网咨询, 线下活动]\n";
    parse(
        &[Source {
            name: "tags.yaml".into(),
            text: text.into(),
        }],
        &ctx,
    )
    .unwrap()
}

fn input(i: usize, contacts: usize) -> MarkInput {
    MarkInput {
        contact: format!("c{}", i % contacts),
        user: Some("staff".into()),
        add: vec![TAGS[i % 4].0.to_owned()],
        remove: vec![TAGS[(i + 1) % 4].0.to_owned()],
    }
}

/// Enqueue throughput: `n` checked enqueues one after another (each a transaction).
async fn enqueue(url: &str, backend: &str) {
    let p = settings(
        "juzi",
        KindSettings::Juzibot(Default::default()),
        "http://127.0.0.1:9",
    );
    let store = mirror(url, &p).await;
    let engine = Engine::new(store);
    let d = desired("juzi");
    let n = 2_000;
    let started = Instant::now();
    for i in 0..n {
        engine.enqueue_mark(&p, &d, &input(i, 500)).await.unwrap();
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "enqueue {backend}: {n} marks in {s:.2} s = {:.0} marks/s",
        n as f64 / s
    );
}

/// The README's plain `INSERT`, `rows` marks per statement: how other systems enqueue in bulk.
async fn insert_marks(url: &str, platform: &str, marks: usize, contacts: usize, rows: usize) {
    let statements: Vec<String> = (0..marks)
        .collect::<Vec<_>>()
        .chunks(rows)
        .map(|chunk| {
            let values: Vec<String> = chunk
                .iter()
                .map(|&i| {
                    let m = input(i, contacts);
                    format!(
                        "('{platform}', '{}', 'staff', '[\"{}\"]', '[\"{}\"]')",
                        m.contact, m.add[0], m.remove[0]
                    )
                })
                .collect();
            format!(
                "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags) VALUES {}",
                values.join(", ")
            )
        })
        .collect();
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for sql in &statements {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for sql in &statements {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

/// Enqueue throughput of the plain SQL `INSERT`, 500 marks per statement.
async fn bulk(url: &str, backend: &str) {
    let p = settings(
        "juzi",
        KindSettings::Juzibot(Default::default()),
        "http://127.0.0.1:9",
    );
    mirror(url, &p).await;
    let n = 20_000;
    let started = Instant::now();
    insert_marks(url, "juzi", n, 2_000, 500).await;
    let s = started.elapsed().as_secs_f64();
    println!(
        "bulk insert {backend}: {n} marks in {s:.2} s = {:.0} marks/s",
        n as f64 / s
    );
}

/// Drain rate against a simulator admitting `LIMIT` requests/s.
async fn drain(url: &str, backend: &str, platform: SimPlatform, marks: usize, contacts: usize) {
    let wecom = platform == SimPlatform::Wecom;
    let handle = sim::start(
        platform,
        SimOptions {
            fixture: fixture(wecom, contacts),
            faults: FaultSpec {
                rps: Some(LIMIT),
                ..FaultSpec::default()
            },
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let (name, config, path) = if wecom {
        (
            "wecom",
            KindSettings::Wecom(platforms::wecom::Config {
                corp_id: sim::wecom::DEFAULT_CORP_ID.into(),
                strategy_id: Some(1),
            }),
            "/cgi-bin/externalcontact/mark_tag",
        )
    } else {
        (
            "juzi",
            KindSettings::Juzibot(Default::default()),
            "/api/v1/tag/mark",
        )
    };
    let p = settings(name, config, &handle.base_url());
    let store = mirror(url, &p).await;
    let engine = Engine::new(store);
    let d = desired(name);
    // Queued the way other systems do it in bulk; the enqueue benchmarks measure the checked path.
    insert_marks(url, name, marks, contacts, 500).await;
    let client = platforms::connect(&p, SecretString::from(TOKEN), RetryPolicy::default()).unwrap();
    let target = Target::new(name, client);
    if wecom {
        // The token call is not a mark: take it before the clock starts.
        let _ = target.client.list().await;
    }
    handle.clear_log();
    let started = Instant::now();
    let mut delivered = 0;
    while delivered < marks {
        let r = engine.drain_marks(&target, &d).await.unwrap();
        delivered += r.succeeded;
        assert_eq!(r.dead, 0);
        if r.succeeded == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let s = started.elapsed().as_secs_f64();
    let calls = handle.count(path);
    let limited = handle
        .calls()
        .iter()
        .filter(|c| c.status == Some(429))
        .count();
    println!(
        "drain {backend} {name}: {marks} marks over {contacts} customers in {calls} calls ({limited} answered 429), {s:.2} s: {:.1} requests/s = {:.2} of the limit; {:.0} marks/s = {:.2} × the limit",
        calls as f64 / s,
        calls as f64 / s / f64::from(LIMIT),
        marks as f64 / s,
        marks as f64 / s / f64::from(LIMIT),
    );
    handle.shutdown().await.unwrap();
}

async fn backend(url: &str, name: &str) {
    enqueue(url, name).await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}/{n}.db?mode=rwc", dir.path().display());
    backend(&url("enqueue"), "sqlite").await;
    bulk(&url("bulk"), "sqlite").await;
    if let Ok(pg) = std::env::var("TAGSYNC_TEST_DATABASE_URL") {
        let admin = sqlx::PgPool::connect(&pg).await.unwrap();
        for (i, what) in ["enqueue", "bulk", "drain_w", "drain_j"].iter().enumerate() {
            let schema = format!("bench_marks_{}_{i}", std::process::id());
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            let sep = if pg.contains('?') { '&' } else { '?' };
            let url = format!("{pg}{sep}options=-c%20search_path%3D{schema}");
            match *what {
                "enqueue" => backend(&url, "postgres").await,
                "bulk" => bulk(&url, "postgres").await,
                "drain_w" => drain(&url, "postgres", SimPlatform::Wecom, 1_000, 500).await,
                _ => drain(&url, "postgres", SimPlatform::Juzibot, 20_000, 2_000).await,
            }
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
    drain(&url("drain_w"), "sqlite", SimPlatform::Wecom, 1_000, 500).await;
    drain(
        &url("drain_j"),
        "sqlite",
        SimPlatform::Juzibot,
        20_000,
        2_000,
    )
    .await;
}
