//! The scheduler and readiness on paused time, with a fake [`CycleRunner`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio::time::advance;

use super::cycle::{CycleOutcome, CycleRunner, Trigger};
use super::desired::DesiredSource;
use super::health::{Health, ReadinessPolicy};
use super::metrics;
use super::scheduler::{Dispatcher, Schedule, Tick, schedules};
use crate::clock::TokioClock;
use crate::model::Desired;

/// A runner whose cycles take a set time per platform, and which records what it was given.
#[derive(Default)]
struct FakeRunner {
    took: BTreeMap<String, Duration>,
    fail: Mutex<Option<String>>,
    calls: Mutex<Vec<(String, Trigger, usize)>>,
    finished: Mutex<Vec<String>>,
}

impl FakeRunner {
    fn new(took: &[(&str, u64)]) -> Self {
        Self {
            took: took
                .iter()
                .map(|(p, s)| (p.to_string(), Duration::from_secs(*s)))
                .collect(),
            ..Self::default()
        }
    }
    fn calls(&self) -> Vec<(String, Trigger, usize)> {
        self.calls.lock().unwrap().clone()
    }
    fn finished(&self) -> Vec<String> {
        self.finished.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl CycleRunner for FakeRunner {
    async fn run_cycle(
        &self,
        platform: &str,
        trigger: Trigger,
        desired: Arc<Desired>,
    ) -> CycleOutcome {
        self.calls
            .lock()
            .unwrap()
            .push((platform.into(), trigger, desired.groups().len()));
        tokio::time::sleep(self.took.get(platform).copied().unwrap_or_default()).await;
        self.finished.lock().unwrap().push(platform.into());
        match self.fail.lock().unwrap().clone() {
            Some(e) => CycleOutcome::failed(e),
            None => CycleOutcome::ok(),
        }
    }
}

fn desired(groups: &[&str]) -> Desired {
    let mut yaml = String::from("groups:\n");
    for g in groups {
        yaml.push_str(&format!("  - name: {g}\n    tags: [a]\n"));
    }
    let ctx = crate::model::tagfile::Context {
        known_platforms: ["p".to_string()].into(),
        default_platforms: ["p".to_string()].into(),
        prune_default: false,
    };
    crate::model::tagfile::parse(
        &[crate::model::tagfile::Source {
            name: "tags.yaml".into(),
            text: yaml,
        }],
        &ctx,
    )
    .unwrap()
}

fn start_of_2026() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

struct Rig {
    runner: Arc<FakeRunner>,
    health: Arc<Health>,
    dispatcher: Arc<Dispatcher>,
    desired: Arc<DesiredSource>,
    /// What the mirror was told about the tag files, in order.
    reports: Arc<Mutex<Vec<Option<String>>>>,
}

fn rig(
    runner: FakeRunner,
    schedules: &[(&str, &str)],
    policy: ReadinessPolicy,
    load: super::desired::Loader,
) -> Rig {
    metrics::install();
    let runner = Arc::new(runner);
    let health = Arc::new(Health::new(
        Arc::new(TokioClock::starting_at(start_of_2026())),
        policy,
        schedules
            .iter()
            .map(|(p, e)| (p.to_string(), Schedule::parse(e).unwrap())),
    ));
    let reports = Arc::new(Mutex::new(Vec::new()));
    let told = reports.clone();
    let desired = Arc::new(DesiredSource::new(
        load,
        desired(&["g"]),
        health.clone(),
        Box::new(move |e| told.lock().unwrap().push(e.map(str::to_owned))),
    ));
    let dispatcher = Arc::new(Dispatcher::new(
        runner.clone(),
        desired.clone(),
        health.clone(),
        schedules.iter().map(|(p, _)| p.to_string()),
    ));
    Rig {
        runner,
        health,
        dispatcher,
        desired,
        reports,
    }
}

fn always(groups: &'static [&'static str]) -> super::desired::Loader {
    Box::new(move || Ok(desired(groups)))
}

/// Lets spawned cycles run up to their next await.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// The value of a metric sample with exactly these labels, from the rendered Prometheus text.
fn sample(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = metrics::install().render();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[tokio::test(start_paused = true)]
async fn overlapping_ticks_are_skipped_and_counted() {
    let p = "skip-slow";
    let r = rig(
        FakeRunner::new(&[(p, 3)]),
        &[(p, "* * * * * *")],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    assert_eq!(r.dispatcher.tick(p, Trigger::Start), Tick::Started);
    settle().await;
    advance(Duration::from_secs(1)).await;
    assert_eq!(r.dispatcher.tick(p, Trigger::Schedule), Tick::Skipped);
    advance(Duration::from_secs(1)).await;
    assert_eq!(r.dispatcher.tick(p, Trigger::Schedule), Tick::Skipped);
    advance(Duration::from_millis(1500)).await;
    settle().await;
    assert_eq!(r.runner.finished(), vec![p.to_string()]);
    assert_eq!(r.dispatcher.tick(p, Trigger::Schedule), Tick::Started);
    settle().await;
    let triggers: Vec<Trigger> = r.runner.calls().iter().map(|c| c.1).collect();
    assert_eq!(triggers, vec![Trigger::Start, Trigger::Schedule]);
    assert_eq!(
        sample("tagsync_skipped_ticks_total", &[("platform", p)]),
        Some(2.0)
    );
    assert_eq!(
        r.dispatcher.tick("not-configured", Trigger::Schedule),
        Tick::Ignored
    );
}

#[tokio::test(start_paused = true)]
async fn platforms_run_concurrently() {
    let r = rig(
        FakeRunner::new(&[("conc-slow", 10), ("conc-fast", 1)]),
        &[("conc-slow", "* * * * * *"), ("conc-fast", "* * * * * *")],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    r.dispatcher.tick("conc-slow", Trigger::Start);
    r.dispatcher.tick("conc-fast", Trigger::Start);
    settle().await;
    advance(Duration::from_millis(1500)).await;
    settle().await;
    // The fast platform finished while the slow one still runs.
    assert_eq!(r.runner.finished(), vec!["conc-fast".to_string()]);
    assert_eq!(
        r.dispatcher.tick("conc-fast", Trigger::Schedule),
        Tick::Started
    );
    assert_eq!(
        r.dispatcher.tick("conc-slow", Trigger::Schedule),
        Tick::Skipped
    );
}

#[tokio::test(start_paused = true)]
async fn an_overdue_platform_turns_readiness_red() {
    let p = "overdue";
    let policy = ReadinessPolicy {
        periods: 2,
        grace: Duration::from_secs(5),
        heartbeat_stale: Duration::from_secs(60),
    };
    let r = rig(
        FakeRunner::new(&[]),
        &[(p, "*/10 * * * * *")],
        policy,
        always(&["g"]),
    );
    r.dispatcher.tick(p, Trigger::Start);
    settle().await;
    assert_eq!(r.runner.finished().len(), 1);
    // Finished at 00:00:00; the ticks at :10 and :20 may pass, plus 5 s of grace.
    advance(Duration::from_secs(24)).await;
    assert!(r.health.readiness(Ok(())).ok);
    advance(Duration::from_secs(2)).await;
    let v = r.health.readiness(Ok(()));
    assert!(!v.ok);
    assert_eq!(v.failing.len(), 1);
    assert_eq!(v.failing[0].name, "platform:overdue");
    assert_eq!(
        v.failing[0].detail.as_deref(),
        Some(
            "overdue: no cycle finished since 2026-01-01T00:00:00+00:00 (schedule \"*/10 * * * * *\")"
        )
    );
    // A cycle finishing recovers it.
    r.dispatcher.tick(p, Trigger::Schedule);
    settle().await;
    assert!(r.health.readiness(Ok(())).ok);
}

#[tokio::test(start_paused = true)]
async fn a_platforms_own_schedule_overrides_the_global_one() {
    let settings = crate::settings::load_str(
        "config.yaml",
        "schedule: \"0 0 * * * *\"\nplatforms:\n  a:\n    kind: dustess\n    base_url: http://127.0.0.1:1\n    secret_env: A_SECRET\n  b:\n    kind: dustess\n    base_url: http://127.0.0.1:1\n    secret_env: B_SECRET\n    schedule: \"*/10 * * * * *\"\n",
    )
    .unwrap();
    let resolved = schedules(&settings);
    assert_eq!(
        resolved,
        vec![
            ("a".to_string(), "0 0 * * * *".to_string()),
            ("b".to_string(), "*/10 * * * * *".to_string())
        ]
    );
    let resolved: Vec<(&str, &str)> = resolved
        .iter()
        .map(|(p, e)| (p.as_str(), e.as_str()))
        .collect();
    let policy = ReadinessPolicy {
        grace: Duration::from_secs(5),
        ..ReadinessPolicy::default()
    };
    let r = rig(FakeRunner::new(&[]), &resolved, policy, always(&["g"]));
    // No cycle at all: after a minute, b (every 10 s) is overdue, a (hourly) is not.
    advance(Duration::from_secs(60)).await;
    let v = r.health.readiness(Ok(()));
    let failing: Vec<&str> = v.failing.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(failing, vec!["platform:b"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_cycle_turns_readiness_red_until_one_succeeds() {
    let p = "fails";
    let r = rig(
        FakeRunner::new(&[]),
        &[(p, "* * * * * *")],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    *r.runner.fail.lock().unwrap() = Some("dustess: HTTP 500".into());
    r.dispatcher.tick(p, Trigger::Start);
    settle().await;
    let v = r.health.readiness(Ok(()));
    assert_eq!(
        v.failing[0].detail.as_deref(),
        Some("the last cycle failed: dustess: HTTP 500")
    );
    assert_eq!(
        sample(
            "tagsync_cycles_total",
            &[("platform", p), ("outcome", "failed")]
        ),
        Some(1.0)
    );
    *r.runner.fail.lock().unwrap() = None;
    r.dispatcher.tick(p, Trigger::Schedule);
    settle().await;
    assert!(r.health.readiness(Ok(())).ok);
    let v = r.health.readiness(Err("connection refused".into()));
    assert_eq!(v.failing.len(), 1);
    assert_eq!(v.failing[0].name, "database");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_edit_keeps_the_last_valid_state_and_turns_readiness_red() {
    let p = "edits";
    let answer: Arc<Mutex<Result<Vec<&'static str>, String>>> =
        Arc::new(Mutex::new(Ok(vec!["g", "h"])));
    let shared = answer.clone();
    let load: super::desired::Loader = Box::new(move || {
        shared
            .lock()
            .unwrap()
            .clone()
            .map(|groups| desired(&groups))
    });
    let r = rig(
        FakeRunner::new(&[]),
        &[(p, "* * * * * *")],
        ReadinessPolicy::default(),
        load,
    );
    r.dispatcher.tick(p, Trigger::Start);
    settle().await;
    *answer.lock().unwrap() = Err("error: tags/a.yaml:3:5: duplicate tag \"a\"".into());
    r.dispatcher.tick(p, Trigger::Schedule);
    settle().await;
    let v = r.health.readiness(Ok(()));
    assert_eq!(v.failing[0].name, "desired_state");
    assert_eq!(
        v.failing[0].detail.as_deref(),
        Some("desired state invalid: error: tags/a.yaml:3:5: duplicate tag \"a\"")
    );
    *answer.lock().unwrap() = Ok(vec!["g", "h", "i"]);
    r.dispatcher.tick(p, Trigger::Schedule);
    settle().await;
    assert!(r.health.readiness(Ok(())).ok);
    // The cycles saw the new state, the last valid one while the edit was invalid, then the fix.
    let groups: Vec<usize> = r.runner.calls().iter().map(|c| c.2).collect();
    assert_eq!(groups, vec![2, 2, 3]);
    assert_eq!(r.desired.current().groups().len(), 3);
    // The mirror was told once per change: valid at start, the located error, valid again.
    assert_eq!(
        *r.reports.lock().unwrap(),
        vec![
            None,
            Some("error: tags/a.yaml:3:5: duplicate tag \"a\"".to_string()),
            None
        ]
    );
}

/// SIGHUP's new configuration: a removed platform's ticks are ignored, a kept one keeps its last
/// cycle (and its slot, so a tick during its running cycle is still skipped), a new one is
/// counted as overdue from when it was added, not from the start.
#[tokio::test(start_paused = true)]
async fn a_new_configuration_swaps_the_platforms_and_their_readiness() {
    let r = rig(
        FakeRunner::new(&[("kept", 30)]),
        &[("kept", "*/10 * * * * *"), ("gone", "*/10 * * * * *")],
        ReadinessPolicy {
            periods: 2,
            grace: Duration::from_secs(5),
            ..ReadinessPolicy::default()
        },
        always(&["g"]),
    );
    assert_eq!(r.dispatcher.tick("kept", Trigger::Start), Tick::Started);
    settle().await;
    advance(Duration::from_secs(40)).await;
    settle().await;
    let failing: Vec<String> = r
        .health
        .readiness(Ok(()))
        .failing
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(failing, vec!["platform:gone"]);
    assert_eq!(r.dispatcher.tick("kept", Trigger::Schedule), Tick::Started);
    settle().await;
    let new = [("kept", "*/10 * * * * *"), ("new", "*/10 * * * * *")];
    r.dispatcher
        .set_platforms(new.iter().map(|(p, _)| p.to_string()));
    r.health.set_schedules(
        new.iter()
            .map(|(p, e)| (p.to_string(), Schedule::parse(e).unwrap())),
    );
    assert_eq!(r.dispatcher.tick("gone", Trigger::Schedule), Tick::Ignored);
    assert_eq!(
        r.dispatcher.tick("kept", Trigger::Schedule),
        Tick::Skipped,
        "the cycle started before the change still runs"
    );
    assert!(r.health.readiness(Ok(())).ok, "new is counted from now");
    advance(Duration::from_secs(31)).await;
    settle().await;
    let v = r.health.readiness(Ok(()));
    let failing: Vec<&str> = v.failing.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(failing, vec!["platform:new"]);
    assert_eq!(
        v.failing[0].detail.as_deref(),
        Some(
            "overdue: no cycle finished since the start at 2026-01-01T00:00:40+00:00 (schedule \"*/10 * * * * *\")"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_cycles_within_the_bound_and_cancels_the_rest() {
    let r = rig(
        FakeRunner::new(&[("drain-a", 2), ("drain-b", 100)]),
        &[("drain-a", "* * * * * *"), ("drain-b", "* * * * * *")],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    r.dispatcher.tick("drain-a", Trigger::Start);
    settle().await;
    assert!(r.dispatcher.drain(Duration::from_secs(5)).await);
    assert_eq!(r.runner.finished(), vec!["drain-a".to_string()]);
    // After a drain, ticks start nothing.
    assert_eq!(
        r.dispatcher.tick("drain-b", Trigger::Schedule),
        Tick::Ignored
    );

    let r = rig(
        FakeRunner::new(&[("drain-b", 100)]),
        &[("drain-b", "* * * * * *")],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    r.dispatcher.tick("drain-b", Trigger::Start);
    settle().await;
    assert!(!r.dispatcher.drain(Duration::from_secs(5)).await);
    assert!(r.runner.finished().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silent_scheduler_fails_liveness() {
    let r = rig(
        FakeRunner::new(&[]),
        &[],
        ReadinessPolicy::default(),
        always(&["g"]),
    );
    assert!(r.health.liveness().ok);
    advance(Duration::from_secs(61)).await;
    let v = r.health.liveness();
    assert_eq!(
        v.failing[0].detail.as_deref(),
        Some("the scheduler has not fired for 61s")
    );
    r.health.heartbeat();
    assert!(r.health.liveness().ok);
}

#[test]
fn schedules_find_their_ticks() {
    let s = Schedule::parse("0 */5 * * * *").unwrap();
    let t = start_of_2026();
    assert_eq!(s.nth_after(t, 1), Some(t + chrono::Duration::minutes(5)));
    assert_eq!(s.nth_after(t, 2), Some(t + chrono::Duration::minutes(10)));
    let never = Schedule::parse("0 0 0 30 2 *").unwrap();
    assert_eq!(never.nth_after(t, 1), None);
}
