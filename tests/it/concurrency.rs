//! Two `tagsync apply` processes at once on one platform and one mirror (a SQLite file, a PostgreSQL
//! database): the writer lease lets one write while the other waits, so every operation reaches the
//! platform exactly once. And a lease left by a crashed holder does not block the next run.
//!
//! PostgreSQL runs when `TAGSYNC_TEST_DATABASE_URL` names a database (`.ci/postgres.sh`), each test
//! in a schema of its own; under `CI` a missing variable fails the test instead of skipping it.

use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use sqlx::PgPool;
use tagsync::engine::LEASE_TTL;
use tagsync::sim::{FaultSpec, SimHandle};
use tagsync::store::{OpStatus, Store};

use super::scenario::{self, JUZIBOT};

const WAITING: &str = "Waiting for another writer of this platform.";

/// A mirror for one test: a SQLite file in a temp dir, or a fresh schema of the test database.
struct Mirror {
    url: String,
    dir: tempfile::TempDir,
    schema: Option<(PgPool, String)>,
}

impl Mirror {
    fn sqlite() -> Mirror {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
        Mirror {
            url,
            dir,
            schema: None,
        }
    }

    /// `None` (after saying why on stderr) when no PostgreSQL is configured outside CI.
    async fn postgres(test: &str) -> Option<Mirror> {
        let base = crate::support::postgres_url(&format!("concurrency::{test}"))?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "c_{test}_{}_{}",
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
        Some(Mirror {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            dir: tempfile::tempdir().unwrap(),
            schema: Some((admin, schema)),
        })
    }

    /// Drops the PostgreSQL schema (a failed test leaves it for inspection).
    async fn finish(self) {
        if let Some((admin, schema)) = self.schema {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// The writes the platform carried out, as (path, body) in arrival order. Bodies hold no secret
/// (the call log redacts them) and ids come from the simulator's counters, so two runs that made
/// the same calls give the same list.
fn applied_writes(sim: &SimHandle) -> Vec<(String, Value)> {
    sim.writes()
        .into_iter()
        .filter(|c| c.applied)
        .map(|c| (c.path, c.body.unwrap_or(Value::Null)))
        .collect()
}

/// Applied writes counted by path ("kind") and target id or name.
fn by_kind_and_target(writes: &[(String, Value)]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (path, body) in writes {
        let target = ["id", "groupId", "groupName"]
            .iter()
            .find_map(|k| body.get(*k).filter(|v| !v.is_null()))
            .map(Value::to_string)
            .unwrap_or_default();
        *out.entry(format!("{path} {target}")).or_insert(0) += 1;
    }
    out
}

/// Every operation of every run in the mirror: (kind, target, status).
async fn all_operations(store: &Store, platform: &str) -> Vec<(String, String, Option<OpStatus>)> {
    let mut ops = Vec::new();
    for run in store.runs(platform, 100).await.unwrap().iter().rev() {
        for o in store.operations(run.id).await.unwrap() {
            ops.push((o.kind, o.target, o.status));
        }
    }
    ops
}

/// The reference: one process alone on a fresh simulator and mirror.
async fn single_run() -> (Vec<(String, Value)>, usize) {
    let s = &JUZIBOT;
    let sim = s.start(FaultSpec::default()).await;
    let mirror = Mirror::sqlite();
    let config = s.prepare(mirror.dir.path(), &sim, &mirror.url).await;
    let out = scenario::output(scenario::tagsync(&config, &["apply", "--yes"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", scenario::describe(&out));
    assert_eq!(s.state(&sim), s.expected);
    let store = scenario::open(&mirror.url).await;
    let ops = all_operations(&store, s.name).await.len();
    store.close().await;
    (applied_writes(&sim), ops)
}

/// Starts two `apply --yes` on one simulator and one mirror at the same instant; checks that both
/// succeed, that one waited for the other, and that every operation happened exactly once.
async fn two_at_once(mirror: Mirror) {
    let s = &JUZIBOT;
    let (reference, reference_ops) = single_run().await;
    assert!(reference.len() >= 15, "{reference:?}");

    // Every call is held 30 ms, so the first writer is still writing when the second asks.
    let sim = s
        .start("seed=6,rate=1,kinds=delay,delay=30ms".parse().unwrap())
        .await;
    let config = s.write_config(mirror.dir.path(), &sim, &mirror.url);
    let started = Instant::now();
    let mut a = scenario::tagsync(&config, &["apply", "--yes"]);
    let mut b = scenario::tagsync(&config, &["apply", "--yes"]);
    let (a, b) = tokio::task::spawn_blocking(move || {
        let a = a
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let b = b
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let (da, db) = (scenario::describe(&a), scenario::describe(&b));
    assert_eq!(a.status.code(), Some(0), "first: {da}\nsecond: {db}");
    assert_eq!(b.status.code(), Some(0), "first: {da}\nsecond: {db}");

    // One wrote; the other waited for the lease (WARN), then found nothing to do.
    let waited = |o: &Output| String::from_utf8_lossy(&o.stderr).contains(WAITING);
    let (writer, waiter) = match (waited(&a), waited(&b)) {
        (false, true) => (&a, &b),
        (true, false) => (&b, &a),
        _ => panic!("exactly one must wait:\nfirst: {da}\nsecond: {db}"),
    };
    let waiter_err = String::from_utf8_lossy(&waiter.stderr);
    assert!(
        waiter_err
            .lines()
            .any(|l| l.contains(" WARN ") && l.contains(WAITING)),
        "{waiter_err}"
    );
    assert!(
        String::from_utf8_lossy(&writer.stdout).contains(&format!(
            "juzi: {reference_ops} operations applied, 0 failed"
        )),
        "{}",
        scenario::describe(writer)
    );
    assert!(
        String::from_utf8_lossy(&waiter.stdout).contains(
            "juzi: 0 operations applied, 0 failed, 0 refused as not ours; 1 HTTP request (reads and retries included); in step"
        ),
        "{}",
        scenario::describe(waiter)
    );

    // Exactly the single run's writes, once each, none refused; the waiter only listed.
    let writes = applied_writes(&sim);
    assert_eq!(
        by_kind_and_target(&writes),
        by_kind_and_target(&reference),
        "by kind and target"
    );
    // (Independent operations are in flight together: their order in the log may differ.)
    assert_eq!(writes.len(), reference.len());
    assert_eq!(sim.writes().len(), reference.len(), "no write refused");
    let lists = sim.count("/api/v1/tag/list");
    assert_eq!(lists, 3, "the writer's two pulls and the waiter's one");
    assert_eq!(s.state(&sim), s.expected);
    assert_eq!(s.counts(&sim), s.expected_counts());

    // The mirror: the single run's operations once, all succeeded; every object bound.
    let store = scenario::open(&mirror.url).await;
    let ops = all_operations(&store, s.name).await;
    assert_eq!(ops.len(), reference_ops, "{ops:#?}");
    assert!(
        ops.iter().all(|o| o.2 == Some(OpStatus::Succeeded)),
        "{ops:#?}"
    );
    let problems = s.binding_problems(&sim, &store.bindings(s.name).await.unwrap());
    assert!(problems.is_empty(), "{problems:#?}");
    let runs = store.runs(s.name, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.error.is_none()), "{runs:#?}");
    store.close().await;
    eprintln!(
        "two applies at once ({}): {} writes once each in {took:?}",
        store_kind(&mirror.url),
        writes.len()
    );
    mirror.finish().await;
}

fn store_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

/// A lease whose holder died `LEASE_TTL` ago does not hold `apply` up; one that runs out in two
/// seconds makes it wait (saying so) and then write.
async fn dead_holder(mirror: Mirror) {
    let s = &JUZIBOT;
    let lease = format!("writer:{}", s.name);
    let store = scenario::open(&mirror.url).await;

    // Expired: the holder crashed more than LEASE_TTL ago.
    let crashed_at = Utc::now() - chrono::Duration::from_std(LEASE_TTL).unwrap();
    let dead = "otherhost:4242:0badc0de";
    let taken = store
        .try_lease(
            &lease,
            dead,
            LEASE_TTL,
            crashed_at - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(taken, None);
    let sim = s.start(FaultSpec::default()).await;
    let config = s.write_config(mirror.dir.path(), &sim, &mirror.url);
    let started = Instant::now();
    let out = scenario::output(scenario::tagsync(&config, &["apply", "--yes"])).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", scenario::describe(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(WAITING),
        "{}",
        scenario::describe(&out)
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(s.state(&sim), s.expected);

    // Still running for two seconds: the run waits, says so, then takes it over (and, in step,
    // only lists).
    let almost =
        Utc::now() - chrono::Duration::from_std(LEASE_TTL).unwrap() + chrono::Duration::seconds(2);
    assert_eq!(
        store
            .try_lease(&lease, dead, LEASE_TTL, almost)
            .await
            .unwrap(),
        None
    );
    let started = Instant::now();
    let out = scenario::output(scenario::tagsync(&config, &["apply", "--yes"])).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", scenario::describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains(" WARN ") && l.contains(WAITING) && l.contains(dead)),
        "{err}"
    );
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("juzi: 0 operations applied"),
        "{}",
        scenario::describe(&out)
    );
    assert_eq!(s.state(&sim), s.expected);
    store.close().await;
    mirror.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_at_once_on_one_sqlite_file() {
    two_at_once(Mirror::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_at_once_on_one_postgres_database() {
    if let Some(m) = Mirror::postgres("two_at_once").await {
        two_at_once(m).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_does_not_block_sqlite() {
    dead_holder(Mirror::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_does_not_block_postgres() {
    if let Some(m) = Mirror::postgres("dead_holder").await {
        dead_holder(m).await;
    }
}

/// Regression: sqlx's migrator takes no lock on SQLite, so stores opened at once on a new file
/// each applied migration 1, and all but one failed ("table platforms already exists").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opened_at_once_on_a_new_sqlite_file_all_open() {
    for _ in 0..20 {
        let mirror = Mirror::sqlite();
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let url = mirror.url.clone();
                tokio::spawn(async move { Store::open(&url).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().unwrap_or_else(|e| panic!("{e}: {e:?}"));
            store.close().await;
        }
    }
}
