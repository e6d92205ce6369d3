//! The soak driver: `tagsync run` (the real binary, a child process) against all five simulators
//! (in this process) for a bounded time, with mixed faults, SIGKILL and restart every few cycles,
//! tag files changing under it and marks streaming in through plain SQL. Shared by the CI test
//! (`tests/it/soak.rs`, two minutes) and the long run (`cargo bench --bench soak -- --minutes N`),
//! which includes this file with `#[path]`.
//!
//! One soak *cycle*: change the tag files (renames by `was`, reorders, prunes, new groups and tags),
//! insert marks with the README's `INSERT INTO mark_requests`, script faults (HTTP 500/429,
//! the platforms' busy codes, WeCom's 45033/6000 and a revoked token, lost answers, delays,
//! Dustess's "unknown error after applying"), possibly SIGKILL the daemon and start it again,
//! then wait until every platform has finished a cycle that started after the change, and sample
//! the daemon's RSS. At the end (the daemon still running, faults still on): every simulator equals
//! the desired state, no duplicate object, every mark delivered with each customer's set equal to
//! the in-order replay of its requests, no panic in any log, and the RSS slope.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tagsync::sim::{self, FaultKind, FaultSpec, SimHandle, SimOptions, SimPlatform};

pub use super::soak_report::Report;
use super::soak_taxonomy::{
    Desired, MARKING, PLATFORMS, Req, Rng, SECRET, SECRET_VAR, STAFF, differences, duplicates,
    fixture, held, json, mark_request, marked,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to change things; the final convergence wait comes on top.
    pub duration: Duration,
    pub seed: u64,
    /// PostgreSQL URL (a fresh schema is made in it); SQLite in the work directory when `None`.
    pub postgres: Option<String>,
    /// The `tagsync` binary.
    pub binary: PathBuf,
    /// SIGKILL and restart after a number of soak cycles drawn from this range.
    pub kill_every: (u64, u64),
    /// The last part of `duration` runs without kills: one long life, whose RSS slope says
    /// whether memory stays flat.
    pub quiet: Duration,
    /// Mark requests inserted per marking platform per soak cycle.
    pub marks_per_cycle: usize,
    /// Customers per marking platform.
    pub contacts: usize,
    /// Share of calls with a random fault on every simulator.
    pub fault_rate: f64,
    /// How long the end may take to converge.
    pub settle: Duration,
    /// Progress lines on standard error.
    pub verbose: bool,
}

/// The mirror, as the test drives it: plain SQL.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Db::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        }
    }
    async fn count(&self, sql: &str) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        }
    }
}

struct Daemon {
    child: Child,
    port: u16,
    life: u64,
}

/// A panicking driver leaves no daemon behind.
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, url: &str, sims: &[SimHandle], port: u16) -> PathBuf {
    let mut text = format!(
        "database_url: \"{url}\"\ntags: {}/tags\nschedule: \"*/2 * * * * *\"\nlisten: 127.0.0.1:{port}\nmax_deletes: 1000\nlease_ttl_seconds: 15\nplatforms:\n",
        dir.display()
    );
    for ((name, _, kind, extra), sim) in PLATFORMS.iter().zip(sims) {
        text += &format!(
            "  {name}:\n    kind: {kind}\n    base_url: {}\n    secret_env: {SECRET_VAR}\n    timeout_seconds: 2\n    rate_limit: {{ per_second: 60, burst: 20 }}\n{extra}",
            sim.base_url()
        );
    }
    let path = dir.join("tagsync.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_daemon(binary: &Path, dir: &Path, url: &str, sims: &[SimHandle], life: u64) -> Daemon {
    let port = free_port();
    let config = write_config(dir, url, sims, port);
    let log = std::fs::File::create(dir.join(format!("daemon-{life:04}.log"))).unwrap();
    let child = Command::new(binary)
        .args(["--config", config.to_str().unwrap(), "run"])
        .current_dir(dir)
        .env(SECRET_VAR, SECRET)
        .env("TAGSYNC_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Daemon { child, port, life }
}

/// `tagsync_cycles_total` by platform and outcome; `None` while the daemon does not answer.
async fn cycles(http: &reqwest::Client, port: u16) -> Option<BTreeMap<(String, String), u64>> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("tagsync_cycles_total{") else {
            continue;
        };
        let label = |k: &str| {
            rest.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        let value: f64 = line.rsplit(' ').next()?.parse().ok()?;
        out.insert((label("platform"), label("outcome")), value as u64);
    }
    Some(out)
}

/// Finished cycles (any outcome but a skip) per platform.
fn finished(c: &BTreeMap<(String, String), u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((p, o), n) in c {
        if o != "elsewhere" {
            *out.entry(p.clone()).or_default() += n;
        }
    }
    out
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs the soak.
pub async fn run(opts: Options) -> Report {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("tagsync-soak-")
        .tempdir()
        .unwrap()
        .keep();
    let mut report = Report {
        work_dir: work.clone(),
        ..Report::default()
    };
    let say = |msg: String| {
        if opts.verbose {
            eprintln!("[soak {:>7.1}s] {msg}", started.elapsed().as_secs_f64());
        }
    };
    say(format!("work directory {}", work.display()));

    // The mirror.
    let (url, pg_schema) = match &opts.postgres {
        Some(base) => {
            let admin = sqlx::PgPool::connect(base).await.unwrap();
            let schema = format!("soak_{}_{}", std::process::id(), opts.seed);
            sqlx::raw_sql(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .execute(&admin)
            .await
            .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            report.backend = "postgres";
            (url, Some((admin, schema)))
        }
        None => {
            report.backend = "sqlite";
            let url = format!("sqlite://{}/mirror.db?mode=rwc", work.display());
            (url, None)
        }
    };

    // The simulators, each with its own fault sequence.
    let mut sims = Vec::new();
    for (i, (_, kind, _, _)) in PLATFORMS.iter().enumerate() {
        let spec: FaultSpec = format!(
            "seed={},rate={},kinds=http500+http429+busy+delay+timeout+reset+lost,delay=300ms,hang=3s,rps=80",
            opts.seed.wrapping_add(i as u64),
            opts.fault_rate
        )
        .parse()
        .unwrap();
        let handle = sim::start(
            *kind,
            SimOptions {
                fixture: fixture(*kind, opts.contacts),
                faults: spec,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        sims.push(handle);
    }
    // WeCom tokens expire within the run and are refreshed inside the 5-minute window.
    sims[0].with_state(|c: &mut sim::wecom::Corp| c.set_token_ttl(400));

    let mut rng = Rng(opts.seed);
    let mut desired = Desired::new();
    let tags_dir = work.join("tags");
    std::fs::create_dir_all(&tags_dir).unwrap();
    let write_tags = |d: &Desired| {
        let tmp = tags_dir.join(".tags.tmp");
        std::fs::write(&tmp, d.yaml()).unwrap();
        std::fs::rename(&tmp, tags_dir.join("tags.yaml")).unwrap();
    };
    for _ in 0..3 {
        desired.change(&mut rng);
    }
    write_tags(&desired);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut life = 0;
    let mut daemon = start_daemon(&opts.binary, &work, &url, &sims, life);
    let mut daemon_totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_counts: BTreeMap<(String, String), u64> = BTreeMap::new();

    // The mirror exists once the daemon has started; connect for the marks.
    let db = loop {
        let connected = match &pg_schema {
            Some(_) => sqlx::PgPool::connect(&url).await.map(Db::Pg),
            None => {
                use std::str::FromStr;
                match sqlx::sqlite::SqliteConnectOptions::from_str(&url) {
                    Ok(o) => {
                        sqlx::SqlitePool::connect_with(o.busy_timeout(Duration::from_secs(30)))
                            .await
                            .map(Db::Sqlite)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Ok(db) = connected {
            if db
                .count("SELECT COUNT(*) FROM platforms")
                .await
                .unwrap_or(0)
                >= 5
            {
                break db;
            }
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("the daemon exited ({status}); see {}", work.display());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the daemon did not create the mirror; see {}",
            work.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Marks name tags that the first cycle binds (or creates): a request for a tag not yet
    // created goes dead by design (README, "Enqueueing marks"), so marks start after it.
    loop {
        let c = cycles(&http, daemon.port).await.unwrap_or_default();
        let ok: BTreeMap<&str, u64> = c
            .iter()
            .filter(|((_, o), _)| o == "ok")
            .map(|((p, _), n)| (p.as_str(), *n))
            .collect();
        if PLATFORMS
            .iter()
            .all(|(p, ..)| ok.get(p).copied().unwrap_or(0) >= 1)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no first cycle; see {}",
            work.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut requests: BTreeMap<&str, Vec<Req>> = BTreeMap::new();
    let mut until_kill =
        opts.kill_every.0 + rng.next() % (opts.kill_every.1 - opts.kill_every.0 + 1);
    let tally = |report: &mut Report, sims: &[SimHandle]| {
        for s in sims {
            for c in s.calls() {
                report.calls += 1;
                if let Some(f) = c.fault {
                    *report.faults.entry(f.to_string()).or_default() += 1;
                }
                if c.rate_limited {
                    report.rate_limited += 1;
                }
                if s.platform() == SimPlatform::WechatCrm && c.write {
                    report
                        .problems
                        .push(format!("a write to the read-only CRM: {}", c.path));
                }
            }
            s.clear_log();
        }
    };

    while started.elapsed() < opts.duration {
        report.cycles += 1;
        let cycle = report.cycles;
        // Tag files.
        let mut changes = Vec::new();
        for _ in 0..1 + rng.below(3) {
            changes.push(desired.change(&mut rng));
        }
        write_tags(&desired);
        report.tag_file_changes += changes.len() as u64;
        // Marks, by plain SQL.
        for platform in MARKING {
            let batch: Vec<Req> = (0..opts.marks_per_cycle)
                .map(|_| mark_request(&mut rng, opts.contacts))
                .collect();
            let rows: Vec<String> = batch
                .iter()
                .map(|(c, add, remove)| {
                    format!(
                        "('{platform}', 'c{c}', '{STAFF}', '{}', '{}')",
                        json(add),
                        json(remove)
                    )
                })
                .collect();
            if !rows.is_empty() {
                let sql = format!(
                    "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags) VALUES {}",
                    rows.join(", ")
                );
                if let Err(e) = db.execute(&sql).await {
                    report
                        .problems
                        .push(format!("INSERT INTO mark_requests failed: {e}"));
                    continue;
                }
                report.marks += batch.len() as u64;
                requests.entry(platform).or_default().extend(batch);
            }
        }
        // Scripted faults on top of the random ones.
        for s in &sims {
            if rng.chance(0.5) {
                let kind = FaultKind::ALL[rng.below(FaultKind::ALL.len())];
                s.fail_next("*", kind, 1 + rng.below(2));
            }
        }
        if rng.chance(0.3) {
            let code = [45033, 6000, -1][rng.below(3)];
            let api = [
                "get_strategy_tag_list",
                "add_strategy_tag",
                "edit_strategy_tag",
                "del_strategy_tag",
                "mark_tag",
            ][rng.below(5)];
            sims[0].with_state(|c: &mut sim::wecom::Corp| c.fail_next(api, code, 1));
            report.platform_codes += 1;
        }
        if rng.chance(0.15) {
            sims[0].with_state(|c: &mut sim::wecom::Corp| c.revoke_tokens());
            report.platform_codes += 1;
        }
        if rng.chance(0.2) {
            sims[3].with_state(|a: &mut sim::dustess::Account| a.answer_unknown_after_applying(1));
            report.platform_codes += 1;
        }
        // Kill -9 now and then, at a random moment of whatever the daemon is doing.
        let baseline: BTreeMap<String, u64>;
        until_kill = until_kill.saturating_sub(1);
        let quiet = started.elapsed() + opts.quiet >= opts.duration;
        if until_kill == 0 && !quiet {
            until_kill =
                opts.kill_every.0 + rng.next() % (opts.kill_every.1 - opts.kill_every.0 + 1);
            tokio::time::sleep(Duration::from_millis(rng.next() % 2500)).await;
            if let Some(c) = cycles(&http, daemon.port).await {
                last_counts = c;
            }
            let _ = daemon.child.kill(); // SIGKILL
            let _ = daemon.child.wait();
            for ((p, o), n) in &last_counts {
                *daemon_totals.entry(format!("{p}:{o}")).or_default() += n;
            }
            last_counts.clear();
            report.kills += 1;
            life += 1;
            daemon = start_daemon(&opts.binary, &work, &url, &sims, life);
            baseline = BTreeMap::new();
        } else {
            baseline = finished(&cycles(&http, daemon.port).await.unwrap_or_default());
        }
        // Wait for a cycle of every platform that started after the change.
        let wait_from = Instant::now();
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                report.problems.push(format!(
                    "the daemon exited by itself ({status}) in life {}",
                    daemon.life
                ));
                daemon = {
                    life += 1;
                    start_daemon(&opts.binary, &work, &url, &sims, life)
                };
            }
            if let Some(c) = cycles(&http, daemon.port).await {
                let now = finished(&c);
                last_counts = c;
                let done = PLATFORMS.iter().all(|(p, ..)| {
                    now.get(*p).copied().unwrap_or(0) >= baseline.get(*p).copied().unwrap_or(0) + 2
                });
                if done {
                    break;
                }
            }
            if wait_from.elapsed() > Duration::from_secs(90) {
                say(format!("cycle {cycle}: no full daemon cycle within 90 s"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(kib) = rss_kib(daemon.child.id()) {
            report.rss.push((cycle, daemon.life, kib));
        }
        tally(&mut report, &sims);
        say(format!(
            "cycle {cycle} life {} rss {} KiB tags {} marks {}: {}",
            daemon.life,
            report.rss.last().map_or(0, |r| r.2),
            desired.tag_count(),
            report.marks,
            changes.join("; ")
        ));
    }

    // The end: faults stay on; wait for the simulators to equal the files and the queue to drain.
    let settle_from = Instant::now();
    let mut verdicts;
    loop {
        verdicts = Vec::new();
        let mut all_equal = true;
        for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
            let h = held(*kind, s);
            let d = differences(name, *kind, &h, &desired);
            all_equal &= d.is_empty();
            verdicts.push((name.to_string(), d));
        }
        let open = db
            .count("SELECT COUNT(*) FROM mark_requests WHERE status IN ('queued', 'claimed')")
            .await
            .unwrap_or(-1);
        if all_equal && open == 0 {
            break;
        }
        if settle_from.elapsed() > opts.settle {
            report.problems.push(format!(
                "not converged {:.0} s after the last change ({open} marks still open)",
                opts.settle.as_secs_f64()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.settle_time = settle_from.elapsed();
    for (name, d) in verdicts {
        if d.is_empty() {
            report.equality.push((name, "equal".into()));
        } else {
            report.problems.push(format!(
                "{name} differs from the tag files: {}",
                d.join("; ")
            ));
            report.equality.push((name, d.join("; ")));
        }
    }
    for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
        for d in duplicates(&held(*kind, s)) {
            report.duplicates += 1;
            report.problems.push(format!("{name}: {d}"));
        }
    }

    // Marks: none dead, every customer's set the in-order replay of its requests.
    let failed = db
        .count("SELECT COUNT(*) FROM mark_requests WHERE status = 'failed'")
        .await
        .unwrap_or(-1);
    if failed != 0 {
        report.problems.push(format!("{failed} marks dead"));
    }
    for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
        let Some(reqs) = requests.get(name) else {
            continue;
        };
        let mut replay: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for (c, add, remove) in reqs {
            let set = replay.entry(*c).or_default();
            set.extend(add.iter().map(|n| n.to_string()));
            for r in remove {
                set.remove(*r);
            }
        }
        for (c, want) in replay {
            let have = marked(*kind, s, c);
            if have == want {
                report.marks_checked_contacts += 1;
            } else {
                report.problems.push(format!(
                    "{name} c{c}: holds {have:?}, the requests replay to {want:?}"
                ));
            }
        }
    }

    // Stop the daemon (SIGTERM: exit 0 expected) and read every log for panics.
    if let Some(c) = cycles(&http, daemon.port).await {
        last_counts = c;
    }
    for ((p, o), n) in &last_counts {
        *daemon_totals.entry(format!("{p}:{o}")).or_default() += n;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status();
    let stop_from = Instant::now();
    loop {
        match daemon.child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    report
                        .problems
                        .push(format!("the daemon stopped with {status} on SIGTERM"));
                }
                break;
            }
            _ if stop_from.elapsed() > Duration::from_secs(45) => {
                report
                    .problems
                    .push("the daemon did not stop on SIGTERM".into());
                let _ = daemon.child.kill();
                let _ = daemon.child.wait();
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    for entry in std::fs::read_dir(&work).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("panicked") {
                report
                    .problems
                    .push(format!("a panic in {}", path.display()));
            }
        }
    }
    tally(&mut report, &sims);
    for (key, n) in daemon_totals {
        let outcome = key.split(':').nth(1).unwrap_or_default().to_owned();
        *report.daemon_cycles.entry(outcome).or_default() += n;
    }
    for s in sims {
        let _ = s.shutdown().await;
    }
    match db {
        Db::Sqlite(p) => p.close().await,
        Db::Pg(p) => p.close().await,
    }
    if let Some((admin, schema)) = pg_schema {
        if report.problems.is_empty() {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await;
        }
    }
    report.wall = started.elapsed();
    if report.problems.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    }
    report
}
