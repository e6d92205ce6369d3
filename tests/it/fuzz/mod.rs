//! Fuzzing on the stable toolchain: proptest-driven, not `cargo fuzz` (libFuzzer needs nightly,
//! which the build machines do not have).
//!
//! Targets: the tag-file parser (`model::tagfile::parse`), the configuration loader
//! (`settings::load_str` in process, and `tagsync validate` as a child process for arbitrary
//! `TAGSYNC_…` overrides, since the loader reads the process environment and tests run in
//! parallel), and each platform's response parser (`platforms::<name>::wire::parse`).
//!
//! Inputs are the corpora mutated (`tests/data/{good,bad}`, `config/`, `tests/data/wire/`): byte
//! flips, truncations, deletions, duplicated lines, YAML syntax, anchors and aliases, merge keys,
//! huge numbers and invalid UTF-8 spliced in; plus generated deep nesting, alias bombs, raw
//! bytes, and arbitrary JSON put in place of any subtree of a real answer.
//!
//! The property, for every input: no panic, an answer within [`LIMIT`] (a hang guard, not a
//! performance test: the benches measure speed), and every error typed and located: a tag-file
//! or config diagnostic points at a line and column inside the text (or names the variable), a
//! wire answer is one of the client's verdicts, and a `protocol` verdict says what did not match.
//!
//! A short run is part of `cargo test`. A long campaign (about ten minutes on two cores):
//!
//! ```sh
//! TAGSYNC_TEST_FUZZ_CASES=100000 cargo test --release --test it fuzz
//! ```
//!
//! The variable starts with `TAGSYNC_TEST_` so that the configuration loader under test ignores
//! it. Every failure found becomes a plain regression test in `regressions.rs`.
//!
//! Files: `seeds.rs` (the corpora and their mutations), `tag_files.rs`, `config.rs` (the loader,
//! in process and through `TAGSYNC_…` variables), `wire.rs` (each platform's response parser),
//! `regressions.rs` (every campaign's findings).

mod config;
mod regressions;
mod seeds;
mod tag_files;
mod wire;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The longest one input may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(10);

/// Cases per target: a few dozen in `cargo test`, `TAGSYNC_TEST_FUZZ_CASES` for a campaign.
fn cases() -> u32 {
    std::env::var("TAGSYNC_TEST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        // Findings become plain regression tests below, not a persistence file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` on its own thread: a panic or an answer later than [`LIMIT`] fails the case (the
/// thread of a hang is left behind; the test fails anyway). The thread has Rust's default 2 MiB
/// stack, as tokio's workers do, so that deep recursion shows here as it would in the daemon.
fn guarded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::Builder::new()
        .name(format!("fuzz {what}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("a thread starts");
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("{what} panicked: {msg}")))
        }
        Err(_) => Err(TestCaseError::fail(format!(
            "{what} took more than {:?} (hang?)",
            started.elapsed()
        ))),
    }
}
