//! Fleet scale: many WeCom accounts on several `tagsync run` replicas over one PostgreSQL.
//!
//! ```text
//! createdb -h 127.0.0.1 -U tagsync tagsync_bench_fleet    # password tagsync; dropped and remade by the bench
//! TAGSYNC_BENCH_DATABASE_URL=postgres://tagsync:tagsync@127.0.0.1:5432/tagsync_bench_fleet \
//!   cargo bench --bench fleet -- --accounts 300 --tags 1000 --replicas 3 --period 60 --periods 6 --kill-at 3
//! ```
//!
//! The driver (`driver.rs`, shared with `tests/it/fleet.rs`) starts one WeCom simulator serving
//! every corp, writes a configuration with one account per corp, starts the replicas (the release
//! `tagsync` binary, each with its own host name when `unshare --uts` works), waits for every
//! account's first cycle, then measures `--periods` schedule periods, killing the first replica
//! with SIGKILL a second into period `--kill-at`. It prints a Markdown summary for
//! docs/BENCHMARKS.md.

mod driver;

use std::path::PathBuf;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v:?}"))
        })
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a plain listing of benches passes `--list`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let url = std::env::var("TAGSYNC_BENCH_DATABASE_URL").unwrap_or_else(|_| {
        "postgres://tagsync:tagsync@127.0.0.1:5432/tagsync_bench_fleet".to_owned()
    });
    fresh_database(&url).await;
    let tags = arg("--tags", 1000) as usize;
    let groups = arg("--groups", (tags / 100).max(1) as u64) as usize;
    let kill_at = arg("--kill-at", 3);
    let dir = tempfile::tempdir().unwrap();
    let spec = driver::Spec {
        accounts: arg("--accounts", 300) as usize,
        groups,
        tags_per_group: tags / groups,
        replicas: arg("--replicas", 3) as usize,
        period_s: arg("--period", 60),
        periods: arg("--periods", 6) as usize,
        kill_at: (kill_at > 0).then_some(kill_at as usize),
        lease_ttl_s: arg("--ttl", 30),
        rps: arg("--rps", 50) as u32,
        database_url: url,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_tagsync")),
        dir: dir.path().to_owned(),
        own_hosts: driver::can_unshare(),
    };
    eprintln!("fleet: {spec:?}");
    let report = driver::run(&spec).await;
    println!("{}", report.markdown(spec.kill_at));
    if !report.missed.is_empty() {
        println!("missed (account, period): {:?}", report.missed);
    }
}

/// Drops and recreates the bench database, so that every run starts from an empty mirror.
async fn fresh_database(url: &str) {
    let (server, name) = url.rsplit_once('/').expect("a database URL");
    let name = name.split('?').next().unwrap_or(name).to_owned();
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
        .await
        .expect("the PostgreSQL server");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE (the role needs CREATEDB)");
}
