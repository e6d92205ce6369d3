//! The engine as the command line and the daemon use it: platforms cycled at once (a slow one
//! holds up no other), a cancelled cycle that leaves nothing locked, and times from the clock.

use std::sync::Arc;
use std::time::Duration;

use tagsync::clock::TestClock;
use tagsync::engine::{CycleRequest, Engine, Policy, RunMode, Target, Trigger};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::platforms::{self, RetryPolicy};
use tagsync::sim::{self, FaultKind, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};
use tagsync::store::{OpStatus, RunStatus, Store};

const TOKEN: &str = "engine-test-token";
const CREATE: &str = "/api/v1/tag/create";

/// Two groups to create on an empty platform.
const TAGS: &str =
    "groups:\n  - {name: 客户等级, tags: [重要客户, 一般客户]}\n  - {name: 意向, tags: [高, 低]}\n";

/// What the tag files declare, already on the platform.
const IN_STEP: &str = r#"
groups:
  - id: g1
    name: 客户等级
    order: 2
    tags:
      - { id: t1, name: 重要客户, order: 2 }
      - { id: t2, name: 一般客户, order: 1 }
  - id: g2
    name: 意向
    order: 1
    tags:
      - { id: t3, name: 高, order: 2 }
      - { id: t4, name: 低, order: 1 }
"#;

fn desired(platforms: &[&str]) -> Desired {
    let names: std::collections::BTreeSet<String> =
        platforms.iter().map(|p| p.to_string()).collect();
    let ctx = Context {
        known_platforms: names.clone(),
        default_platforms: names,
        prune_default: false,
    };
    parse(
        &[Source {
            name: "tags.yaml".into(),
            text: TAGS.into(),
        }],
        &ctx,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A Juzibot simulator holding `fixture`, with `delay` for its delay faults.
async fn juzibot(fixture: &str, delay: Duration) -> SimHandle {
    let mut fixture = if fixture.is_empty() {
        Fixture::default()
    } else {
        Fixture::from_yaml(fixture).unwrap()
    };
    fixture.token = TOKEN.into();
    sim::start(
        SimPlatform::Juzibot,
        SimOptions {
            fixture,
            faults: FaultSpec {
                delay,
                ..FaultSpec::default()
            },
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

/// A client of `sim` that waits for an answer as long as a delay fault holds it back.
fn target(name: &str, sim: &SimHandle) -> Target {
    let settings = tagsync::settings::PlatformSettings {
        timeout: Duration::from_secs(600),
        ..crate::support::settings(
            name,
            tagsync::settings::KindSettings::Juzibot(Default::default()),
            &sim.base_url(),
        )
    };
    let client =
        platforms::connect(&settings, TOKEN.to_string().into(), RetryPolicy::fast()).unwrap();
    Target::new(name, client)
}

fn apply() -> CycleRequest {
    CycleRequest {
        trigger: Trigger::Apply,
        mode: RunMode::Enforce,
        max_deletes: 0,
    }
}

/// Polls `ready` until it holds; panics with `what` after a minute. A liveness bound, not a
/// timing assertion: every condition polled here holds within milliseconds when the code is right.
async fn until<F: Future<Output = bool>>(what: &str, mut ready: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !ready().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn last_run_ended(store: &Store, platform: &str) -> bool {
    store
        .runs(platform, 1)
        .await
        .unwrap()
        .first()
        .is_some_and(|r| r.status.is_some())
}

/// Platform `a` (first in the configuration) answers its listing only after a five-minute delay
/// fault; platform `b` is created, written and verified in the meantime. Were platforms cycled
/// one after another, `b` would not even start before `a` ended.
#[tokio::test]
async fn a_slow_platform_holds_up_no_other() {
    let slow = juzibot(IN_STEP, Duration::from_secs(300)).await;
    slow.fail_next("*", FaultKind::Delay, 1);
    let fast = juzibot("", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    store
        .upsert_platform("b", "juzibot", "enforce", chrono::Utc::now())
        .await
        .unwrap();
    let engine = Engine::new(store.clone());
    let targets = vec![target("a", &slow), target("b", &fast)];
    let d = desired(&["a", "b"]);
    let cycle = tokio::spawn({
        let engine = engine.clone();
        let targets = targets.clone();
        async move { engine.cycle_all(&targets, &d, &apply()).await }
    });

    until("b's cycle never ended while a was slow", || {
        last_run_ended(&store, "b")
    })
    .await;
    assert!(
        !last_run_ended(&store, "a").await,
        "a is still waiting for its listing"
    );
    let made = fast.writes().len();
    assert!(made > 0, "b wrote meanwhile");
    let groups = fast
        .with_state(|a: &mut sim::juzibot::Account| a.groups().len())
        .unwrap();
    assert_eq!(groups, 2, "b holds both groups");

    // Stopping the slow simulator ends its delay: the listing is answered, and `a` finds
    // nothing to do.
    slow.shutdown().await.unwrap();
    let results = cycle.await.unwrap();
    let platforms: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().unwrap().platform.as_str())
        .collect();
    assert_eq!(platforms, ["a", "b"], "results in configuration order");
    let (a, b) = (results[0].as_ref().unwrap(), results[1].as_ref().unwrap());
    assert!(a.converged() && a.succeeded == 0, "{a:?}");
    assert!(b.converged() && b.succeeded > 0, "{b:?}");
    assert_eq!(
        fast.writes().len(),
        made,
        "b sent nothing after its cycle ended"
    );
    let runs = store.runs("a", 1).await.unwrap();
    assert_eq!(runs[0].status, Some(RunStatus::Succeeded));
}

/// A cycle cancelled while a write hangs (a delay fault) leaves its lease, an intent and a run
/// without an end. The same process's next cycle starts at once (well within a lease wait far
/// shorter than the lease's two minutes), resolves what was left, and converges.
#[tokio::test]
async fn a_cancelled_cycle_never_locks_the_platform_out() {
    let sim = juzibot("", Duration::from_secs(300)).await;
    sim.fail_next(CREATE, FaultKind::Delay, 1);
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    let engine = Engine::with(
        store.clone(),
        tagsync::clock::system(),
        Policy {
            lease_wait: Duration::from_secs(5),
            ..Policy::default()
        },
    );
    let t = target("a", &sim);
    let d = desired(&["a"]);
    let first = tokio::spawn({
        let (engine, t, d) = (engine.clone(), t.clone(), d.clone());
        async move { engine.cycle(&t, &d, &apply()).await }
    });
    until("the first create was never sent", || async {
        !store.pending_intents("a").await.unwrap().is_empty()
    })
    .await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let interrupted = store.runs("a", 1).await.unwrap()[0].clone();
    assert_eq!(interrupted.status, None, "cancelled mid-apply");

    let second = engine.cycle(&t, &d, &apply()).await.unwrap();
    assert!(second.converged(), "{second:?}");
    let runs = store.runs("a", 10).await.unwrap();
    let closed = runs.iter().find(|r| r.id == interrupted.id).unwrap();
    assert_eq!(closed.status, Some(RunStatus::Failed));
    assert!(
        closed.error.as_deref().unwrap().starts_with("interrupted:"),
        "{closed:?}"
    );
    // Both creates are independent: one batch, journaled together before either was sent.
    // The create that was answered got its outcome at once, while the other hung; the hung
    // one stayed an intent and was resolved by the next writer.
    let ops = store.operations(interrupted.id).await.unwrap();
    assert_eq!(ops.len(), 2, "{ops:?}");
    let resolved = |o: &&tagsync::store::OperationRow| {
        o.error
            .as_deref()
            .is_some_and(|e| e.starts_with("resolved after an interrupted run"))
    };
    assert!(
        ops.iter().all(
            |o| matches!(o.status, Some(OpStatus::Skipped | OpStatus::Succeeded))
                && (resolved(&o) || o.status == Some(OpStatus::Succeeded))
        ),
        "every intent resolved: {ops:?}"
    );
    assert!(ops.iter().any(|o| resolved(&o)), "the hung create: {ops:?}");
    // Converged on the platform: both groups, each once.
    let groups = sim
        .with_state(|a: &mut sim::juzibot::Account| a.groups().len())
        .unwrap();
    assert_eq!(groups, 2);
    // And the lease is free for any other writer.
    assert_eq!(
        store
            .try_lease(
                "writer:a",
                "someone-else",
                Duration::from_secs(1),
                chrono::Utc::now()
            )
            .await
            .unwrap(),
        None
    );
}

/// Run, journal and binding times come from the engine's clock.
#[tokio::test]
async fn times_come_from_the_clock() {
    let sim = juzibot("", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    let at = chrono::DateTime::parse_from_rfc3339("2031-05-06T07:08:09Z")
        .unwrap()
        .to_utc();
    let clock = TestClock::at(at);
    let engine = Engine::with(store.clone(), Arc::new(clock.clone()), Policy::default());
    let r = engine
        .cycle(&target("a", &sim), &desired(&["a"]), &apply())
        .await
        .unwrap();
    assert_eq!((r.started_at, r.finished_at), (at, at));
    assert_eq!(r.duration(), Duration::ZERO);
    let run = store.runs("a", 1).await.unwrap()[0].clone();
    assert_eq!(run.started_at, at);
    assert_eq!(run.finished_at, Some(at));
    assert_eq!(run.trigger, "apply");
    for op in store.operations(run.id).await.unwrap() {
        assert_eq!(op.created_at, at, "{op:?}");
    }
}

/// Another writer's lease holds a cycle for the lease wait, then the cycle gives up, naming the
/// holder, and records its run as failed. Lease expiry is judged by the engine's clock, which
/// stands still here: the other lease cannot run out during the wait. (The wait itself is on the
/// runtime's clock; sqlx's pool does not work on paused time, so it is a short real wait.)
#[tokio::test]
async fn another_writers_lease_stops_a_cycle_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    let at = chrono::DateTime::parse_from_rfc3339("2031-05-06T07:08:09Z")
        .unwrap()
        .to_utc();
    let taken = store
        .try_lease(
            "writer:a",
            "elsewhere:1:00000001",
            Duration::from_secs(120),
            at,
        )
        .await
        .unwrap();
    assert_eq!(taken, None);
    let engine = Engine::with(
        store.clone(),
        Arc::new(TestClock::at(at)),
        Policy {
            lease_wait: Duration::from_millis(300),
            ..Policy::default()
        },
    );
    // Never called: the cycle stops before its first request.
    let client = platforms::connect(
        &crate::support::settings(
            "a",
            tagsync::settings::KindSettings::Juzibot(Default::default()),
            "http://127.0.0.1:9",
        ),
        TOKEN.to_string().into(),
        RetryPolicy::fast(),
    )
    .unwrap();
    let err = engine
        .cycle(&Target::new("a", client), &desired(&["a"]), &apply())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, tagsync::engine::Error::Busy { holder, waited, .. }
            if holder == "elsewhere:1:00000001" && *waited >= Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(err.class(), tagsync::engine::ErrorClass::Busy);
    let run = store.runs("a", 1).await.unwrap()[0].clone();
    assert_eq!(run.status, Some(RunStatus::Failed));
    assert_eq!(run.finished_at, Some(at));
}

/// Everything a cycle logs is inside a `cycle` span naming the platform, the trigger and the run:
/// `tagsync demo` as a process (a subscriber of its own; in this binary, tests running at once
/// share tracing's callsite cache), its log read back.
#[test]
fn a_cycle_logs_inside_its_span() {
    let out = assert_cmd::Command::cargo_bin("tagsync")
        .unwrap()
        .arg("demo")
        .env("TAGSYNC_LOG", "tagsync::engine=info")
        .env("NO_COLOR", "1")
        .env_remove("TAGSYNC_LOG_FORMAT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let logs = anstream::adapter::strip_str(&String::from_utf8_lossy(&out.stderr)).to_string();
    // Five platforms, three cycles each (plan, apply, plan again); run ids in the order the
    // platforms' cycles happened to start.
    let mut cycles: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for line in logs.lines().filter(|l| l.contains("Cycle ended.")) {
        let span = line
            .split_once("cycle{platform=")
            .and_then(|(_, rest)| rest.split_once("}:"))
            .unwrap_or_else(|| panic!("not in a cycle span: {line}"))
            .0;
        let (platform, rest) = span.split_once(" trigger=demo run=").expect(line);
        cycles
            .entry(platform.to_owned())
            .or_default()
            .push(rest.parse().expect(line));
    }
    let platforms: Vec<&str> = cycles.keys().map(String::as_str).collect();
    assert_eq!(
        platforms,
        ["crm", "dustess", "juzi-main", "wecom-hq", "yzj"],
        "{logs}"
    );
    let mut runs: Vec<i64> = cycles.values().flatten().copied().collect();
    runs.sort();
    assert_eq!(
        runs,
        (1..=15).collect::<Vec<_>>(),
        "one run id per cycle: {logs}"
    );
}

/// Progress events, as the command line's sink receives them.
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<tagsync::engine::ProgressEvent>>);

impl tagsync::engine::Progress for Events {
    fn event(&self, e: tagsync::engine::ProgressEvent) {
        self.0.lock().unwrap().push(e);
    }
}

/// The engine reports a cycle's progress to the sink a caller sets (the command line draws it):
/// each pull (its requests so far, then what it read), the round's operations, each one sent,
/// and the end. It prints nothing itself.
#[tokio::test]
async fn progress_counts_the_operations_sent() {
    use tagsync::engine::ProgressEvent::{Finished, Pulled, Pulling, Sending, Sent};

    let sim = juzibot("", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    let engine = Engine::new(store);
    let events = Arc::new(Events::default());
    engine.report_progress(events.clone());
    let r = engine
        .cycle(&target("a", &sim), &desired(&["a"]), &apply())
        .await
        .unwrap();
    assert!(r.converged(), "{r:?}");
    let n = r.plan.ops.len();
    assert!(n > 0);
    let a = || "a".to_owned();
    let events = events.0.lock().unwrap().clone();
    let sends: Vec<_> = events
        .iter()
        .filter(|e| !matches!(e, Pulling { .. } | Pulled { .. }))
        .cloned()
        .collect();
    let mut expected = vec![Sending {
        platform: a(),
        operations: n,
    }];
    expected.extend((0..n).map(|_| Sent { platform: a() }));
    expected.push(Finished { platform: a() });
    assert_eq!(sends, expected);
    // Two pulls (the plan's, then the one that finds it in step), each ended before what follows.
    let pulled: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Pulled { .. } | Sending { .. } | Finished { .. }))
        .cloned()
        .collect();
    assert_eq!(
        pulled,
        [
            Pulled {
                platform: a(),
                groups: 0,
                tags: 0
            },
            expected[0].clone(),
            Pulled {
                platform: a(),
                groups: 2,
                tags: 4
            },
            Finished { platform: a() },
        ]
    );
}

/// A long pull (a large account's paged list) shows the requests it has made while it runs, not
/// only when it ends: the listing is held back for a second here, long enough for the count to
/// be looked at (every 100 ms) while it is in flight.
#[tokio::test]
async fn a_long_pull_reports_its_requests_while_it_runs() {
    use tagsync::engine::ProgressEvent::{Finished, Pulled, Pulling};

    let sim = juzibot(IN_STEP, Duration::from_secs(1)).await;
    sim.fail_next("*", FaultKind::Delay, 1);
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "a", "juzibot").await;
    let engine = Engine::new(store);
    let events = Arc::new(Events::default());
    engine.report_progress(events.clone());
    let plan = CycleRequest {
        trigger: Trigger::Plan,
        mode: RunMode::DryRun,
        max_deletes: 0,
    };
    engine
        .cycle(&target("a", &sim), &desired(&["a"]), &plan)
        .await
        .unwrap();
    let events = events.0.lock().unwrap().clone();
    let a = || "a".to_owned();
    assert_eq!(
        events.first(),
        Some(&Pulling {
            platform: a(),
            requests: 0
        })
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Pulling { requests, .. } if *requests > 0)),
        "the request in flight is counted before the pull ends: {events:?}"
    );
    assert_eq!(
        events[events.len() - 2..],
        [
            Pulled {
                platform: a(),
                groups: 2,
                tags: 4
            },
            Finished { platform: a() }
        ]
    );
}
