//! The fleet driver, shared by the fleet benchmark (`cargo bench --bench fleet`) and its small
//! version in the integration tests (`tests/it/fleet.rs`): many WeCom corps on one simulator,
//! one configuration with an account per corp, several `tagsync run` replicas (real processes)
//! over one PostgreSQL mirror, one replica killed with SIGKILL half-way. It reports whether every
//! account cycled in every schedule period, how the cycles spread over the replicas, how long the
//! killed replica's accounts waited for another replica, and what an account costs.
//!
//! Every corp is seeded with the tags the tag file declares (in WeCom's order, bigger first), so
//! that after the first cycle (which binds every tag by name) each cycle is the daemon's steady
//! state: a full listing of the corp, a plan with nothing to send.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone as _, Utc};
use tagsync::sim::{self, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform, SystemClock};

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub accounts: usize,
    pub groups: usize,
    pub tags_per_group: usize,
    pub replicas: usize,
    /// The schedule's period in seconds (a divisor of 60: `*/N * * * * *`).
    pub period_s: u64,
    /// Periods measured after every account's first cycle.
    pub periods: usize,
    /// The measured period at whose start (plus a second) the first replica is killed.
    pub kill_at: Option<usize>,
    pub lease_ttl_s: u64,
    /// Each corp's rate limit (requests per second, the simulator's window).
    pub rps: u32,
    /// A database (or schema, through `search_path`) of its own: the driver migrates it.
    pub database_url: String,
    pub bin: PathBuf,
    pub dir: PathBuf,
    /// Give each replica a host name of its own (`unshare --uts`), so that a dead replica's lease
    /// is taken over only when it expires, as across machines; otherwise a replica on the same
    /// host sees through /proc that the holder is gone and takes its lease at once.
    pub own_hosts: bool,
}

/// What the run showed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub accounts: usize,
    pub tags: usize,
    pub replicas: usize,
    pub period_s: u64,
    pub lease_ttl_s: u64,
    pub own_hosts: bool,
    /// Seconds from the replicas' start until every account had cycled once.
    pub bootstrap_s: f64,
    pub periods: usize,
    /// (account, period) pairs without a successful cycle started in the period.
    pub missed: Vec<(String, usize)>,
    /// Cycles beyond one per account and period (work done twice).
    pub extra: usize,
    /// Successful cycles in the measured periods, per replica (in start order).
    pub per_replica: Vec<usize>,
    /// The same, per replica and measured period.
    pub per_period: Vec<Vec<usize>>,
    /// Accounts whose lease the killed replica held when it died, and the seconds until another
    /// replica started a (successful) cycle of each.
    pub held_at_kill: Vec<(String, f64)>,
    /// The longest any account waited, from the kill to its next successful cycle start.
    pub takeover_max_s: f64,
    /// Cycle duration percentiles (ms): p50, p95, max.
    pub cycle_ms: (f64, f64, f64),
    /// CPU seconds each live replica used over the measured periods.
    pub cpu_s: Vec<f64>,
    /// Peak RSS of each replica (MiB).
    pub rss_mib: Vec<f64>,
    /// Rows in the mirror's tables after the run.
    pub rows: BTreeMap<String, i64>,
    pub db_bytes: i64,
    pub kill: bool,
    /// Per replica, over the whole run: cycles that failed, ticks skipped because the
    /// previous cycle still ran, ticks left to another replica.
    pub failed: Vec<usize>,
    pub skipped: Vec<usize>,
    pub elsewhere: Vec<usize>,
}

impl Report {
    /// The spread: each replica's share of the cycles against an equal share, as the largest
    /// deviation in per cent (over the replicas alive for the whole measured run).
    pub fn spread_pct(&self, survivors: &[usize]) -> f64 {
        let counts: Vec<f64> = survivors
            .iter()
            .map(|&i| self.per_replica[i] as f64)
            .collect();
        let mean = counts.iter().sum::<f64>() / counts.len() as f64;
        counts
            .iter()
            .map(|c| (c - mean).abs() / mean * 100.0)
            .fold(0.0, f64::max)
    }

    /// The spread over the measured periods before the kill, when all replicas were alive.
    pub fn spread_before_kill_pct(&self, kill_at: Option<usize>) -> f64 {
        let until = kill_at.unwrap_or(self.per_period.len());
        let mut totals = vec![0usize; self.replicas];
        for p in self.per_period.iter().take(until) {
            for (t, c) in totals.iter_mut().zip(p) {
                *t += c;
            }
        }
        let mean = totals.iter().sum::<usize>() as f64 / totals.len() as f64;
        if mean == 0.0 {
            return 0.0;
        }
        totals
            .iter()
            .map(|&c| (c as f64 - mean).abs() / mean * 100.0)
            .fold(0.0, f64::max)
    }

    pub fn markdown(&self, kill_at: Option<usize>) -> String {
        let mut s = String::new();
        let cycles: usize = self.per_replica.iter().sum();
        let _ = writeln!(
            s,
            "{} accounts × {} tags, {} replicas, period {} s, lease TTL {} s, {} measured periods{}",
            self.accounts,
            self.tags,
            self.replicas,
            self.period_s,
            self.lease_ttl_s,
            self.periods,
            if self.own_hosts {
                ", each replica its own host name"
            } else {
                ", one host name"
            }
        );
        let _ = writeln!(
            s,
            "- first cycle of every account: {:.1} s",
            self.bootstrap_s
        );
        let _ = writeln!(
            s,
            "- periods missed: {} of {} (account × period); cycles beyond one per period: {}",
            self.missed.len(),
            self.accounts * self.periods,
            self.extra
        );
        let _ = writeln!(
            s,
            "- cycles per replica: {:?} of {cycles}; per period: {:?}",
            self.per_replica, self.per_period
        );
        let _ = writeln!(
            s,
            "- spread while all {} replicas ran: ±{:.1} %",
            self.replicas,
            self.spread_before_kill_pct(kill_at)
        );
        if self.kill {
            let held_max = self.held_at_kill.iter().map(|h| h.1).fold(0.0, f64::max);
            let _ = writeln!(
                s,
                "- killed replica 1 (SIGKILL): it held {} leases, taken over after ≤ {:.1} s; longest wait of any account for its next cycle {:.1} s",
                self.held_at_kill.len(),
                held_max,
                self.takeover_max_s
            );
        }
        let _ = writeln!(
            s,
            "- cycle duration p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            self.cycle_ms.0, self.cycle_ms.1, self.cycle_ms.2
        );
        let cpu: f64 = self.cpu_s.iter().sum();
        let _ = writeln!(
            s,
            "- CPU over the measured periods: {:?} s per replica = {:.1} ms per account-cycle; peak RSS {:?} MiB per replica",
            self.cpu_s
                .iter()
                .map(|c| (c * 10.0).round() / 10.0)
                .collect::<Vec<_>>(),
            cpu * 1000.0 / cycles.max(1) as f64,
            self.rss_mib.iter().map(|c| c.round()).collect::<Vec<_>>()
        );
        let _ = writeln!(
            s,
            "- per replica, whole run: failed cycles {:?}, ticks skipped (previous cycle still running) {:?}, ticks left to another replica {:?}",
            self.failed, self.skipped, self.elsewhere
        );
        let per: Vec<String> = self
            .rows
            .iter()
            .map(|(t, n)| format!("{t} {:.0}", *n as f64 / self.accounts as f64))
            .collect();
        let _ = writeln!(
            s,
            "- mirror rows per account: {}; database {:.1} MiB ({:.0} KiB per account)",
            per.join(", "),
            self.db_bytes as f64 / 1048576.0,
            self.db_bytes as f64 / 1024.0 / self.accounts as f64
        );
        s
    }
}

/// The corp of account `i`.
fn corp_id(i: usize) -> String {
    format!("wwfleet{i:05}")
}

fn account(i: usize) -> String {
    format!("acct-{i:04}")
}

fn secret(i: usize) -> String {
    format!("fleet-secret-{i:05}")
}

fn fixture(spec: &Spec, i: usize) -> Fixture {
    let groups: Vec<serde_json::Value> = (0..spec.groups)
        .map(|g| {
            let tags: Vec<serde_json::Value> = (0..spec.tags_per_group)
                .map(|t| serde_json::json!({"name": format!("T{g:03}-{t:03}"), "order": spec.tags_per_group - t}))
                .collect();
            serde_json::json!({"name": format!("G{g:03}"), "order": spec.groups - g, "tags": tags})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "token": secret(i),
        "corpId": corp_id(i),
        "groups": groups,
    }))
    .expect("a valid fixture")
}

fn tag_file(spec: &Spec) -> String {
    let mut s = String::from("groups:\n");
    for g in 0..spec.groups {
        let tags: Vec<String> = (0..spec.tags_per_group)
            .map(|t| format!("\"T{g:03}-{t:03}\""))
            .collect();
        let _ = writeln!(s, "  - name: \"G{g:03}\"\n    tags: [{}]", tags.join(", "));
    }
    s
}

/// Starts the simulator with every corp.
pub async fn simulator(spec: &Spec) -> SimHandle {
    let faults = FaultSpec {
        rps: Some(spec.rps),
        ..FaultSpec::default()
    };
    let sim = sim::start(
        SimPlatform::Wecom,
        SimOptions {
            fixture: fixture(spec, 0),
            faults,
            ..SimOptions::default()
        },
    )
    .await
    .expect("the WeCom simulator starts");
    sim.with_state(|corps: &mut sim::wecom::Corps| {
        for i in 1..spec.accounts {
            corps
                .add(&fixture(spec, i), Arc::new(SystemClock))
                .expect("a valid corp");
        }
    })
    .expect("the WeCom simulator serves corps");
    sim
}

fn write_config(spec: &Spec, sim: &SimHandle) -> PathBuf {
    std::fs::create_dir_all(spec.dir.join("tags")).unwrap();
    std::fs::write(spec.dir.join("tags/fleet.yaml"), tag_file(spec)).unwrap();
    let mut c = format!(
        "database_url: \"{}\"\ntags: {}\nschedule: \"*/{} * * * * *\"\nlease_ttl_seconds: {}\nplatforms:\n",
        spec.database_url,
        spec.dir.join("tags").display(),
        spec.period_s,
        spec.lease_ttl_s
    );
    for i in 0..spec.accounts {
        let _ = write!(
            c,
            "  {}:\n    kind: wecom\n    base_url: {}\n    corp_id: {}\n    secret_env: FLEET_SECRET_{i:05}\n",
            account(i),
            sim.base_url(),
            corp_id(i)
        );
    }
    let path = spec.dir.join("tagsync.yaml");
    std::fs::write(&path, c).unwrap();
    path
}

/// A running replica.
struct Replica {
    child: Child,
    log: PathBuf,
    alive: bool,
    rss_peak_kib: u64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(spec: &Spec, config: &Path, n: usize) -> Replica {
    let log = spec.dir.join(format!("replica-{n}.log"));
    let mut cmd = if spec.own_hosts {
        // The same process throughout: unshare execs sh, which execs tagsync.
        let mut cmd = Command::new("unshare");
        cmd.args(["--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\""])
            .arg(format!("fleet-replica-{n}"))
            .arg(&spec.bin);
        cmd
    } else {
        Command::new(&spec.bin)
    };
    cmd.arg("--config").arg(config).arg("run");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TAGSYNC_")) {
        cmd.env_remove(k);
    }
    for i in 0..spec.accounts {
        cmd.env(format!("FLEET_SECRET_{i:05}"), secret(i));
    }
    cmd.env("TAGSYNC_LOG", "info")
        .env("TAGSYNC_LOG_FORMAT", "json")
        .env("TAGSYNC_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("NO_COLOR", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    Replica {
        child: cmd.spawn().expect("the replica starts"),
        log,
        alive: true,
        rss_peak_kib: 0,
    }
}

/// Whether `unshare --uts` works here (root, or a user namespace).
pub fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname fleet-probe"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// CPU seconds (user + system) and RSS (KiB) of a process, from /proc.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Some((ticks / 100.0, rss))
}

/// A successful cycle from the mirror: platform, start, end.
type Run = (String, DateTime<Utc>, DateTime<Utc>);

async fn runs(pool: &sqlx::PgPool) -> Vec<Run> {
    sqlx::query_as(
        "SELECT platform, started_at, finished_at FROM sync_runs
         WHERE status = 'succeeded' AND finished_at IS NOT NULL ORDER BY started_at",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

/// The successful cycles a replica's log records: (platform, when it finished).
fn logged_cycles(log: &Path) -> Vec<(String, DateTime<Utc>)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("\"Cycle finished.\""))
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let fields = v.get("fields")?;
            (fields.get("outcome")?.as_str()? == "ok").then_some(())?;
            let at = DateTime::parse_from_rfc3339(v.get("timestamp")?.as_str()?).ok()?;
            Some((
                fields.get("platform")?.as_str()?.to_owned(),
                at.with_timezone(&Utc),
            ))
        })
        .collect()
}

fn log_count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(needle)
        .count()
}

fn panics(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("panicked")
        .count()
}

/// The next multiple of `period_s` seconds after `t` (a tick of `*/period_s`).
fn next_tick(t: DateTime<Utc>, period_s: u64) -> DateTime<Utc> {
    let p = period_s as i64;
    let secs = t.timestamp().div_euclid(p) * p + p;
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs the fleet and reports. Panics when a replica panics or the mirror cannot be read.
pub async fn run(spec: &Spec) -> Report {
    let sim = simulator(spec).await;
    let config = write_config(spec, &sim);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&spec.database_url)
        .await
        .expect("the bench database");
    let started = Utc::now();
    let clock = Instant::now();
    let mut replicas: Vec<Replica> = (0..spec.replicas)
        .map(|n| spawn(spec, &config, n))
        .collect();
    let sample = |replicas: &mut [Replica]| {
        for r in replicas.iter_mut().filter(|r| r.alive) {
            if let Some((_, rss)) = usage(r.child.id()) {
                r.rss_peak_kib = r.rss_peak_kib.max(rss);
            }
        }
    };

    // Bootstrap: every account's first cycle (binding every tag by name).
    let limit = Duration::from_secs(600.max(spec.period_s * 20));
    loop {
        sample(&mut replicas);
        let done: BTreeSet<String> = runs(&pool).await.into_iter().map(|r| r.0).collect();
        if done.len() >= spec.accounts {
            break;
        }
        for r in &mut replicas {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!(
                    "a replica exited with {status} during the first cycles; log:\n{}",
                    std::fs::read_to_string(&r.log).unwrap_or_default()
                );
            }
        }
        assert!(
            clock.elapsed() < limit,
            "only {} of {} accounts cycled within {limit:?}",
            done.len(),
            spec.accounts
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let bootstrap_s = clock.elapsed().as_secs_f64();

    // The measured periods start at the next tick after the bootstrap.
    let first = next_tick(Utc::now(), spec.period_s);
    let period = chrono::Duration::seconds(spec.period_s as i64);
    let end = first + period * spec.periods as i32;
    let mut cpu_start = vec![None; spec.replicas];
    let mut cpu_end = vec![None; spec.replicas];
    let mut killed_at = None;
    let mut held_at_kill = Vec::new();
    let kill_time = spec
        .kill_at
        .map(|k| first + period * k as i32 + chrono::Duration::seconds(1));
    let mut pids = Vec::new();
    for r in &replicas {
        pids.push(r.child.id());
    }
    while Utc::now() < end + chrono::Duration::seconds(2) {
        let now = Utc::now();
        sample(&mut replicas);
        for (i, r) in replicas.iter().enumerate() {
            if cpu_start[i].is_none() && now >= first && r.alive {
                cpu_start[i] = usage(r.child.id()).map(|u| u.0);
            }
            if r.alive && now < end {
                cpu_end[i] = usage(r.child.id()).map(|u| u.0);
            }
        }
        if let Some(at) = kill_time
            && killed_at.is_none()
            && now >= at
        {
            let victim = &mut replicas[0];
            let _ = victim.child.kill();
            let _ = victim.child.wait();
            victim.alive = false;
            killed_at = Some(Utc::now());
            let pid = format!(":{}:", pids[0]);
            let held: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM leases WHERE holder LIKE '%' || $1 || '%'")
                    .bind(&pid)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_default();
            held_at_kill = held
                .into_iter()
                .filter_map(|(n,)| n.strip_prefix("writer:").map(str::to_owned))
                .map(|n| (n, 0.0))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sample(&mut replicas);
    let usage_s: Vec<f64> = (0..spec.replicas)
        .map(|i| match (cpu_start[i], cpu_end[i]) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        })
        .collect();
    for r in replicas.iter_mut().filter(|r| r.alive) {
        // SIGTERM: a clean stop.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(r.child.id().to_string())
            .status();
    }
    for r in &mut replicas {
        let _ = r.child.wait();
    }
    for r in &replicas {
        assert_eq!(
            panics(&r.log),
            0,
            "a replica panicked; log: {}",
            r.log.display()
        );
    }

    // The periods: for each account, the successful cycles started in each.
    let all = runs(&pool).await;
    let names: Vec<String> = (0..spec.accounts).map(account).collect();
    let window = |t: DateTime<Utc>| -> Option<usize> {
        (t >= first && t < end).then(|| ((t - first).num_seconds() / spec.period_s as i64) as usize)
    };
    let mut count: BTreeMap<(String, usize), usize> = BTreeMap::new();
    let mut durations = Vec::new();
    for (platform, start, finish) in &all {
        if let Some(w) = window(*start) {
            *count.entry((platform.clone(), w)).or_default() += 1;
            durations.push((*finish - *start).num_milliseconds() as f64);
        }
    }
    durations.sort_by(f64::total_cmp);
    let mut missed = Vec::new();
    let mut extra = 0;
    for n in &names {
        for w in 0..spec.periods {
            match count.get(&(n.clone(), w)).copied().unwrap_or(0) {
                0 => missed.push((n.clone(), w)),
                c => extra += c - 1,
            }
        }
    }
    // Who ran them: each replica's log; a cycle is counted in the period it finished in.
    let mut per_replica = vec![0; spec.replicas];
    let mut per_period = vec![vec![0; spec.replicas]; spec.periods];
    for (i, r) in replicas.iter().enumerate() {
        for (_, at) in logged_cycles(&r.log) {
            if let Some(w) = window(at) {
                per_replica[i] += 1;
                per_period[w][i] += 1;
            }
        }
    }
    // Takeover: from the kill to each account's next successful cycle (the end of it, for the
    // accounts whose lease the dead replica held).
    let mut takeover_max_s = 0.0;
    if let Some(k) = killed_at {
        for n in &names {
            if let Some((_, s, _)) = all.iter().find(|(p, s, _)| p == n && *s > k) {
                takeover_max_s = f64::max(takeover_max_s, (*s - k).as_seconds_f64());
            }
        }
        for (n, wait) in &mut held_at_kill {
            // Taken over: another replica's successful cycle of it started.
            *wait = all
                .iter()
                .find(|(p, s, _)| p == n && *s > k)
                .map_or(f64::INFINITY, |(_, s, _)| (*s - k).as_seconds_f64());
        }
    }
    let mut rows = BTreeMap::new();
    for table in [
        "tag_groups",
        "tags",
        "bindings",
        "tag_events",
        "sync_runs",
        "operations",
    ] {
        let n: Option<(i64,)> = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten();
        if let Some((n,)) = n {
            rows.insert(table.to_owned(), n);
        }
    }
    let db_bytes: (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(&pool)
        .await
        .unwrap_or((0,));
    let _ = started;
    drop(sim);
    Report {
        accounts: spec.accounts,
        tags: spec.groups * spec.tags_per_group,
        replicas: spec.replicas,
        period_s: spec.period_s,
        lease_ttl_s: spec.lease_ttl_s,
        own_hosts: spec.own_hosts,
        bootstrap_s,
        periods: spec.periods,
        missed,
        extra,
        per_replica,
        per_period,
        held_at_kill,
        takeover_max_s,
        cycle_ms: (
            percentile(&durations, 0.5),
            percentile(&durations, 0.95),
            percentile(&durations, 1.0),
        ),
        cpu_s: usage_s,
        rss_mib: replicas
            .iter()
            .map(|r| r.rss_peak_kib as f64 / 1024.0)
            .collect(),
        rows,
        db_bytes: db_bytes.0,
        kill: killed_at.is_some(),
        failed: replicas
            .iter()
            .map(|r| log_count(&r.log, "\"Cycle failed.\""))
            .collect(),
        skipped: replicas
            .iter()
            .map(|r| {
                log_count(
                    &r.log,
                    "\"Skipped a tick: the previous cycle is still running.\"",
                )
            })
            .collect(),
        elsewhere: replicas
            .iter()
            .map(|r| {
                log_count(
                    &r.log,
                    "\"Cycle skipped: another replica holds the platform.\"",
                )
            })
            .collect(),
    }
}
