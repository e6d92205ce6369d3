//! `apply` killed with SIGKILL at random points, then run again: the second run must converge to the
//! desired state with no duplicate, every declared object bound, and every intent the killed run
//! left behind resolved in `operations`.
//!
//! Each trial runs the real binary against an in-process simulator (Juzibot, WeCom, Miaokol,
//! Dustess; `scenario.rs`) with a SQLite mirror. A seeded fault spec holds 60% of calls for 40 ms, so
//! a run takes about half a second. The kill point is seed-derived: even seeds kill a random number
//! of milliseconds after the simulator answered the run's first call (so process start-up does not
//! shift it), odd seeds right after the simulator answered a random write, before the process
//! could journal the answer (the "applied, outcome not recorded" case). Miaokol's creates are
//! several calls each (`add`, `batchAddTag`, a list to learn the ids), so a kill there can leave a
//! half-made group.
//!
//! Checks after the second run: exit 0 and "in step"; the simulator's state equals the desired one
//! (names, orders where writable) and holds exactly the expected number of groups and tags; no
//! create was sent twice once applied (from the call log: the simulators answer a repeated create
//! with the existing object, so the state alone would not show it); every declared object bound to
//! the object carrying its name; no intent without outcome, and the one the kill left resolved
//! with the "resolved after an interrupted run" note. Each test asserts that kills landed inside a
//! write, and prints its tally (`--nocapture`).
//!
//! A killed holder's writer lease stays in the mirror, but its process is gone: the second run takes
//! the lease over at once (it checks the holder's pid on this host) instead of waiting it out.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use tagsync::store::{OpStatus, OperationRow};

use super::scenario::{self, DUSTESS, JUZIBOT, Rng, Scenario, WECOM, YZJ};

/// What the kill left behind, for the tally.
#[derive(Debug, Default)]
struct Tally {
    trials: usize,
    /// The run had finished before the kill.
    finished: usize,
    /// Killed while an operation was in flight (an intent without outcome was left).
    mid_write: usize,
    /// … of which the platform had applied it (resolved as applied by the second run).
    mid_write_applied: usize,
    /// … of which the platform had applied a part (a group made, its tags not yet: Miaokol).
    mid_write_partly: usize,
    /// … of which the platform cannot tell (no list call: Dustess); planned again by name.
    mid_write_unknown: usize,
    /// Killed between operations or before the first one.
    between: usize,
    /// The killed run still held the writer lease.
    lease_left: usize,
}

/// One trial: start, kill, look, run again, check.
async fn trial(s: &Scenario, seed: u64, (span_ms, writes): (u64, usize), tally: &mut Tally) {
    let mut rng = Rng(seed);
    let faults = format!("seed={seed},rate=0.6,kinds=delay,delay=40ms");
    let sim = s.start(faults.parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let config = s.prepare(dir.path(), &sim, &url).await;
    let ctx = format!("{} seed {seed}", s.name);

    // The run to kill.
    let mut cmd = scenario::tagsync(&config, &["apply", "--yes"]);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("killed.stderr")).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while sim.calls().is_empty()
        && child.try_wait().unwrap().is_none()
        && started.elapsed() < Duration::from_secs(20)
    {
        scenario::sleep_ms(1).await;
    }
    // Half the trials kill after a random time; the other half right after the simulator answered
    // a random write, before the dead process could record the answer.
    let kill_after = rng.range(0, span_ms);
    let after_write = (seed % 2 == 1).then(|| rng.range(1, writes as u64) as usize);
    match after_write {
        None => scenario::sleep_ms(kill_after).await,
        Some(k) => {
            while sim.writes().iter().filter(|c| c.applied).count() < k {
                if child.try_wait().unwrap().is_some()
                    || started.elapsed() > Duration::from_secs(20)
                {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
    }
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!sim.calls().is_empty(), "{ctx}: the run made no call");
    // Let the simulator finish (or drop) what the dead process had in flight.
    scenario::sleep_ms(80).await;
    let held_after_kill = s.held(&sim);

    let store = scenario::open(&url).await;
    let pending = store.pending_intents(s.name).await.unwrap();
    // Intents are journaled a batch at a time (every write of these plans fits in one batch).
    assert!(pending.len() <= writes, "{ctx}: {pending:?}");
    let lease = format!("writer:{}", s.name);
    let held = store
        .try_lease(&lease, "crash-test-probe", Duration::ZERO, Utc::now())
        .await
        .unwrap();
    if held.is_none() {
        store
            .release_lease(&lease, "crash-test-probe")
            .await
            .unwrap();
    }
    store.close().await;

    // The normal run.
    let out = scenario::output(scenario::tagsync(&config, &["apply", "--yes"])).await;
    let report = scenario::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{ctx}: {report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if held.is_some() {
        assert!(
            stderr.contains("Took over the lease of a writer that no longer runs."),
            "{ctx}: {stderr}"
        );
    }
    assert!(
        !stderr.contains("Waiting for another writer"),
        "{ctx}: a dead holder made the run wait: {stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("; in step"),
        "{ctx}: {report}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Waiting for another writer"),
        "{ctx}: {report}"
    );

    // The platform holds exactly the desired state: every object once.
    assert_eq!(s.state(&sim), s.expected, "{ctx}: {report}");
    assert_eq!(s.counts(&sim), s.expected_counts(), "{ctx}: duplicates");
    // No create was sent again after it had been applied (the simulators would have answered the
    // existing object, so only the call log shows a blind repeat).
    if let Some(mut creates) = s.creates_sent(&sim) {
        creates.sort();
        let mut repeated = creates.clone();
        repeated.dedup();
        assert_eq!(creates, repeated, "{ctx}: a create was sent twice");
        assert_eq!(creates.len(), scenario::CREATES, "{ctx}: {creates:?}");
    }
    let store = scenario::open(&url).await;
    let bindings = store.bindings(s.name).await.unwrap();
    let problems = s.binding_problems(&sim, &bindings);
    assert!(problems.is_empty(), "{ctx}: {problems:#?}");

    // Every intent has its outcome; the one the kill left is resolved, and says so.
    let left = store.pending_intents(s.name).await.unwrap();
    assert!(left.is_empty(), "{ctx}: {left:?}");
    // The killed run is closed as interrupted, not left "running" forever.
    let runs = store.runs(s.name, 10).await.unwrap();
    assert!(runs.iter().all(|r| r.status.is_some()), "{ctx}: {runs:?}");
    // (unless the kill came after it had finished).
    let killed = runs.last().unwrap();
    assert!(
        killed.status == Some(tagsync::store::RunStatus::Succeeded)
            || killed
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("interrupted")),
        "{ctx}: {killed:?}"
    );
    let mut outcome = "";
    for p in &pending {
        let row = resolved(&store, p).await;
        assert!(
            matches!(row.status, Some(OpStatus::Succeeded | OpStatus::Skipped)),
            "{ctx}: {row:?}"
        );
        let note = row.error.clone().unwrap_or_default();
        outcome = match note.as_str() {
            "resolved after an interrupted run: it was applied" => "applied",
            "resolved after an interrupted run: not applied; planned again" => {
                let made = p.kind == "create_group"
                    && held_after_kill
                        .iter()
                        .any(|g| Some(g.name.as_str()) == p.target.strip_prefix("group:"));
                if made {
                    "partly applied"
                } else {
                    "not applied"
                }
            }
            "resolved after an interrupted run: outcome unknown; planned again from the current state" => {
                "outcome unknown"
            }
            _ => panic!("{ctx}: not resolved as after an interrupted run: {row:?}"),
        };
    }
    store.close().await;

    tally.trials += 1;
    tally.lease_left += usize::from(held.is_some());
    if finished {
        tally.finished += 1;
    } else if pending.is_empty() {
        tally.between += 1;
    } else {
        tally.mid_write += 1;
        match outcome {
            "applied" => tally.mid_write_applied += 1,
            "partly applied" => tally.mid_write_partly += 1,
            "outcome unknown" => tally.mid_write_unknown += 1,
            _ => {}
        }
    }
    eprintln!(
        "{ctx}: killed {}: {}{}",
        match after_write {
            None => format!("{kill_after} ms after the first answer"),
            Some(k) => format!("after write {k} was answered"),
        },
        match (finished, pending.first()) {
            (true, _) => "already finished".to_owned(),
            (false, None) => "between operations".to_owned(),
            (false, Some(p)) => format!("during {} {} ({outcome})", p.kind, p.target),
        },
        if held.is_some() { ", lease left" } else { "" }
    );
}

/// The row of `intent` as it stands now.
async fn resolved(store: &tagsync::store::Store, intent: &OperationRow) -> OperationRow {
    store
        .operations(intent.run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.id == intent.id)
        .expect("the intent's row is kept")
}

/// `trials` seeded trials on one platform; returns the tally.
async fn trials(s: &Scenario, seeds: std::ops::Range<u64>, shape: (u64, usize)) -> Tally {
    let started = Instant::now();
    let mut tally = Tally::default();
    for seed in seeds {
        trial(s, seed, shape, &mut tally).await;
    }
    eprintln!("{}: {tally:?} in {:?}", s.name, started.elapsed());
    assert!(
        tally.mid_write >= 2,
        "{}: too few kills landed inside a write: {tally:?}",
        s.name
    );
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juzibot_killed_at_random_points_converges() {
    trials(&JUZIBOT, 100..108, (700, 19)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_killed_at_random_points_converges() {
    trials(&WECOM, 200..208, (400, 9)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yzj_killed_at_random_points_converges() {
    let tally = trials(&YZJ, 300..308, (500, 7)).await;
    let _ = tally;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dustess_killed_at_random_points_converges() {
    trials(&DUSTESS, 400..406, (150, 4)).await;
}
