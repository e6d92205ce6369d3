//! 10,000 marks over 500 customers on Juzibot and on WeCom, under 30 % transient faults (HTTP 500,
//! 429, busy, lost responses), with the worker killed (SIGKILL) midway, on SQLite and PostgreSQL.
//!
//! The worker is the real binary: `tagsync mark --drain` (the daemon's drain loop, run until the
//! queue is empty). Marks are enqueued by the README's plain SQL `INSERT` (other systems) and by
//! `tagsync mark --queue`: 7,000 per platform before the worker starts, 3,000 after the kill. A
//! second worker then drains the rest. Checks: every request succeeded (none lost, none dead);
//! every customer's final set on the simulator equals the in-order replay of its requests; the tag
//! someone else put on every customer is still there.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::marks::{
    DECLARED, Db, JUZIBOT, Kind, STAFF, WECOM, apply, platform_config, write_config,
};
use super::scenario::{Rng, describe, output, sleep_ms, tagsync};

const CONTACTS: usize = 500;
const MARKS: usize = 10_000;
const FIRST_WAVE: usize = 7_000;
/// Requests per platform enqueued through `tagsync mark --queue` (the rest by SQL).
const BY_CLI: usize = 5;

/// One generated request: contact index, tags added, tags removed (declared names).
type Req = (usize, Vec<&'static str>, Vec<&'static str>);

fn generate(rng: &mut Rng) -> Vec<Req> {
    (0..MARKS)
        .map(|_| {
            let contact = (rng.next() % CONTACTS as u64) as usize;
            let mut add = Vec::new();
            let mut remove = Vec::new();
            for (name, _, _) in DECLARED {
                match rng.next() % 5 {
                    0 => add.push(name),
                    1 => remove.push(name),
                    _ => {}
                }
            }
            if add.is_empty() && remove.is_empty() {
                add.push(DECLARED[(rng.next() % 5) as usize].0);
            }
            (contact, add, remove)
        })
        .collect()
}

fn json(names: &[&str]) -> String {
    serde_json::to_string(names).unwrap().replace('\'', "''")
}

/// The README's statement, many rows at once.
async fn insert(db: &Db, k: Kind, reqs: &[Req]) {
    for chunk in reqs.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|(c, add, remove)| {
                format!(
                    "('{}', 'c{c}', '{STAFF}', '{}', '{}')",
                    k.name,
                    json(add),
                    json(remove)
                )
            })
            .collect();
        db.execute(&format!(
            "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags) VALUES {}",
            rows.join(", ")
        ))
        .await;
    }
}

async fn enqueue_by_cli(config: &std::path::Path, k: Kind, reqs: &[Req]) {
    for (c, add, remove) in reqs {
        let contact = format!("c{c}");
        let mut args = vec![
            "mark",
            "--queue",
            "--platform",
            k.name,
            "--contact",
            &contact,
        ];
        args.extend(["--user", STAFF]);
        for a in add {
            args.extend(["--add", a]);
        }
        for r in remove {
            args.extend(["--remove", r]);
        }
        let out = output(tagsync(config, &args)).await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
}

async fn count(db: &Db, status: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM mark_requests WHERE status = '{status}'");
    if db.backend() == "postgres" {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

async fn chaos(db: Db) {
    let started = Instant::now();
    let backend = db.backend();
    let faults: tagsync::sim::FaultSpec = "seed=12,rate=0.3,kinds=http500+http429+busy+lost"
        .parse()
        .unwrap();
    let kinds = [JUZIBOT, WECOM];
    let mut sims = Vec::new();
    for k in kinds {
        sims.push(k.start(CONTACTS, faults.clone()).await);
    }
    let config = write_config(
        db.dir.path(),
        &db.url,
        &[
            platform_config(JUZIBOT, &sims[0].base_url()),
            platform_config(WECOM, &sims[1].base_url()),
        ],
    );
    for k in kinds {
        apply(&config, k.name).await;
    }
    let mut rng = Rng(0x6d61726b);
    let plans: Vec<Vec<Req>> = kinds.iter().map(|_| generate(&mut rng)).collect();

    // Wave one: CLI and SQL, then the worker.
    for (k, reqs) in kinds.iter().zip(&plans) {
        enqueue_by_cli(&config, *k, &reqs[..BY_CLI]).await;
        insert(&db, *k, &reqs[BY_CLI..FIRST_WAVE]).await;
    }
    let worker = |name: &str| {
        let mut cmd = tagsync(&config, &["mark", "--drain"]);
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(db.dir.path().join(name)).unwrap());
        cmd.spawn().unwrap()
    };
    let mut first = worker("first.stderr");
    let total = (kinds.len() * MARKS) as i64;
    let kill_at = total / 5;
    while count(&db, "succeeded").await < kill_at {
        assert!(
            first.try_wait().unwrap().is_none(),
            "{backend}: the worker ended before the kill"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{backend}: no progress"
        );
        sleep_ms(20).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let claimed_at_kill = count(&db, "claimed").await;
    let done_at_kill = count(&db, "succeeded").await;

    // Wave two, and a new worker.
    for (k, reqs) in kinds.iter().zip(&plans) {
        insert(&db, *k, &reqs[FIRST_WAVE..]).await;
    }
    let second = worker("second.stderr");
    let out = tokio::task::spawn_blocking(move || second.wait_with_output().unwrap())
        .await
        .unwrap();
    let log = std::fs::read_to_string(db.dir.path().join("second.stderr")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{backend}: {log}");
    if claimed_at_kill > 0 {
        assert!(
            log.contains("Took back the mark claims of a stopped worker."),
            "{backend}: {log}"
        );
    }

    assert_eq!(count(&db, "succeeded").await, total, "{backend}: none lost");
    assert_eq!(count(&db, "dead").await, 0, "{backend}: none dead");
    for ((k, reqs), sim) in kinds.iter().zip(&plans).zip(&sims) {
        let mut replay: BTreeMap<usize, BTreeSet<String>> = (0..CONTACTS)
            .map(|c| (c, BTreeSet::from([k.id("others")])))
            .collect();
        for (c, add, remove) in reqs {
            let set = replay.get_mut(c).unwrap();
            set.extend(add.iter().map(|n| k.id(n)));
            for r in remove {
                set.remove(&k.id(r));
            }
        }
        for (c, expected) in replay {
            let held = k.held(sim, &format!("c{c}")).unwrap();
            assert_eq!(
                held,
                expected.iter().cloned().collect::<Vec<_>>(),
                "{backend} {}: customer c{c}",
                k.name
            );
            assert!(held.contains(&k.id("others")), "someone else's tag stays");
        }
    }
    let calls: Vec<usize> = kinds
        .iter()
        .zip(&sims)
        .map(|(k, s)| k.mark_calls(s))
        .collect();
    eprintln!(
        "marks_chaos {backend}: {total} marks, killed at {done_at_kill} delivered with {claimed_at_kill} claimed; mark calls answered juzi {} wecom {}; {:.1} s",
        calls[0],
        calls[1],
        started.elapsed().as_secs_f64()
    );
    for s in sims {
        s.shutdown().await.unwrap();
    }
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_marks_survive_faults_and_a_kill_on_sqlite() {
    chaos(Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_marks_survive_faults_and_a_kill_on_postgres() {
    if let Some(db) = Db::postgres("chaos").await {
        chaos(db).await;
    }
}
