//! The two-minute soak (the driver is `soak_driver.rs`; `cargo bench --bench soak` runs it for
//! longer): the daemon against all five simulators under faults, kills and changing tag files,
//! with marks streaming in by SQL. On PostgreSQL when `TAGSYNC_TEST_DATABASE_URL` is set, else
//! SQLite.

use std::time::Duration;

use super::soak_driver::{Options, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_survives_a_two_minute_soak_of_faults_kills_edits_and_marks() {
    let postgres = std::env::var("TAGSYNC_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let report = run(Options {
        duration: Duration::from_secs(70),
        seed: 14,
        postgres,
        binary: env!("CARGO_BIN_EXE_tagsync").into(),
        kill_every: (2, 4),
        quiet: Duration::from_secs(20),
        marks_per_cycle: 10,
        contacts: 40,
        fault_rate: 0.05,
        settle: Duration::from_secs(40),
        verbose: std::env::var_os("SOAK_VERBOSE").is_some(),
    })
    .await;
    eprintln!("{}", report.markdown());
    assert!(
        report.problems.is_empty(),
        "the soak found problems (work directory {}):\n{}",
        report.work_dir.display(),
        report.problems.join("\n")
    );
    assert!(report.kills >= 2, "{}", report.markdown());
}
