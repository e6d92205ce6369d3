//! The long soak: `cargo bench --bench soak -- --minutes 60 [--seed N] [--kill-every 3-8]
//! [--quiet-minutes 10]` (the last minutes without kills, for the RSS slope of one long life).
//! The daemon (`target/release/tagsync`, a child process) against all five simulators under
//! faults, SIGKILL and restart every few cycles, changing tag files and marks inserted by SQL; see
//! `tests/it/soak_driver.rs`. PostgreSQL when `TAGSYNC_TEST_DATABASE_URL` is set, else SQLite.
//! Prints a Markdown table for docs/BENCHMARKS.md; exits 1 when the soak found a problem.

#[path = "../tests/it/soak_driver.rs"]
mod soak_driver;
#[path = "../tests/it/soak_report.rs"]
mod soak_report;
#[path = "../tests/it/soak_taxonomy.rs"]
mod soak_taxonomy;

use std::time::Duration;

fn main() {
    let mut minutes = 60.0_f64;
    let mut seed = 1_u64;
    let mut kill_every = (3, 8);
    let mut quiet = 10.0_f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" => {
                minutes = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--minutes N")
            }
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--quiet-minutes" => {
                quiet = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--quiet-minutes N")
            }
            "--kill-every" => {
                let v = args.next().expect("--kill-every A-B");
                let (a, b) = v.split_once('-').expect("--kill-every A-B");
                kill_every = (a.parse().expect("A"), b.parse().expect("B"));
            }
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    let postgres = std::env::var("TAGSYNC_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(soak_driver::run(soak_driver::Options {
        duration: Duration::from_secs_f64(minutes * 60.0),
        seed,
        postgres,
        binary: env!("CARGO_BIN_EXE_tagsync").into(),
        kill_every,
        quiet: Duration::from_secs_f64(quiet.min(minutes) * 60.0),
        marks_per_cycle: 20,
        contacts: 200,
        fault_rate: 0.05,
        settle: Duration::from_secs(300),
        verbose: true,
    }));
    println!("{}", report.markdown());
    if !report.problems.is_empty() {
        eprintln!("work directory: {}", report.work_dir.display());
        std::process::exit(1);
    }
}
