//! End to end on Juzibot: the real adapter, planner, apply and a SQLite mirror against the
//! simulator over loopback HTTP. Call counts are exact: API calls are the scarce resource.

use std::sync::Arc;

use tagsync::engine::{self, CycleReport as Report};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::platforms::{self, Platform, RetryPolicy};
use tagsync::sim::juzibot::Account;
use tagsync::sim::{self, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};
use tagsync::store::Store;

pub const TOKEN: &str = "e2e-secret-token-7f3a";

pub fn desired(yaml: &str) -> Desired {
    let ctx = Context {
        known_platforms: ["juzi".to_string()].into(),
        default_platforms: ["juzi".to_string()].into(),
        prune_default: false,
    };
    parse(
        &[Source {
            name: "tags.yaml".into(),
            text: yaml.into(),
        }],
        &ctx,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub struct Env {
    pub sim: SimHandle,
    pub store: Store,
    pub client: Arc<dyn Platform>,
    dir: tempfile::TempDir,
}

pub async fn env(fixture_yaml: &str, faults: FaultSpec) -> Env {
    let mut fixture = if fixture_yaml.trim().is_empty() {
        Fixture::default()
    } else {
        Fixture::from_yaml(fixture_yaml).unwrap()
    };
    fixture.token = TOKEN.into();
    let sim = sim::start(
        SimPlatform::Juzibot,
        SimOptions {
            fixture,
            faults,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "juzi", "juzibot").await;
    let settings = crate::support::settings(
        "juzi",
        tagsync::settings::KindSettings::Juzibot(Default::default()),
        &sim.base_url(),
    );
    let client =
        platforms::connect(&settings, TOKEN.to_string().into(), RetryPolicy::fast()).unwrap();
    Env {
        sim,
        store,
        client,
        dir,
    }
}

impl Env {
    /// The mirror's URL, for tests that query it directly.
    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("m.db").display())
    }

    pub async fn apply(&self, d: &Desired) -> Report {
        self.run(d, false, 5).await.unwrap()
    }

    pub async fn run(
        &self,
        d: &Desired,
        dry_run: bool,
        max_rounds: usize,
    ) -> Result<Report, engine::Error> {
        crate::support::cycle(
            &self.store,
            "juzi",
            self.client.clone(),
            d,
            crate::support::Cycle {
                dry_run,
                max_rounds,
                max_deletes: 20,
                lease_wait: std::time::Duration::from_secs(60),
            },
        )
        .await
    }

    /// The simulator's groups as `name(order): tag(order), …` lines, in descending order.
    pub fn state(&self) -> Vec<String> {
        self.sim
            .with_state(|a: &mut Account| {
                let mut groups = a.groups().to_vec();
                groups.sort_by_key(|g| std::cmp::Reverse(g.order));
                groups
                    .iter()
                    .map(|g| {
                        let mut tags = g.tags.clone();
                        tags.sort_by_key(|t| std::cmp::Reverse(t.order));
                        let tags: Vec<String> = tags.iter().map(|t| t.name.clone()).collect();
                        format!("{}: {}", g.name, tags.join(", "))
                    })
                    .collect()
            })
            .unwrap()
    }

    /// Calls by path since the last `clear_log`, as `METHOD path` lines.
    pub fn calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path.trim_start_matches("/api/v1/")))
            .collect()
    }
}

const TWO_GROUPS: &str = r#"
groups:
  - name: 客户级别
    tags: [重要客户, 普通客户]
  - name: 客户来源
    tags: [官网咨询]
"#;

#[tokio::test]
async fn bootstrap_then_no_op_cycle() {
    let e = env("", FaultSpec::default()).await;
    let d = desired(TWO_GROUPS);
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    // Two waves: the creates, then the orders of what they created (in flight together, so in
    // any order within the wave).
    let mut calls = e.calls();
    calls[3..8].sort();
    assert_eq!(
        calls,
        [
            "GET tag/list",
            "POST tag/create",
            "POST tag/create",
            "POST tag/edit",
            "POST tag/edit",
            "POST tag/edit",
            "POST tagGroup/edit",
            "POST tagGroup/edit",
            "GET tag/list",
        ]
    );
    assert_eq!(r.api_calls, 9);
    assert_eq!(
        e.state(),
        ["客户级别: 重要客户, 普通客户", "客户来源: 官网咨询"]
    );

    // Steady state: one list call, nothing else.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), ["GET tag/list"]);
    assert!(!r.plan.has_changes());
    // Every declared object is bound.
    let b = e.store.bindings("juzi").await.unwrap();
    assert_eq!((b.groups.len(), b.tags.len()), (2, 3));
}

const CONSOLE_STATE: &str = r#"
groups:
  - id: g-level
    name: 客户等级
    order: 200
    tags:
      - { id: t-vip, name: 重要客户, order: 200 }
      - { id: t-normal, name: 一般客户, order: 100 }
      - { id: t-lost, name: 已流失, order: 50 }
  - id: g-aftersales
    name: 售后服务
    order: 100
    console: true
    tags:
      - { id: t-done, name: 已回访, order: 100 }
"#;

#[tokio::test]
async fn rename_via_was_is_one_edit_call_and_keeps_the_id() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired(
        r#"
groups:
  - name: 客户级别
    was: [客户等级]
    tags:
      - 重要客户
      - { name: 普通客户, was: [一般客户] }
"#,
    );
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET tag/list",
            "POST tagGroup/edit",
            "POST tag/edit",
            "GET tag/list"
        ]
    );
    e.sim
        .with_state(|a: &mut Account| {
            let g = a.group("g-level").expect("same group id");
            assert_eq!(g.name, "客户级别");
            assert_eq!(a.tag("t-normal").unwrap().1.name, "普通客户");
            assert!(
                a.tag("t-lost").is_some(),
                "without prune an undeclared tag stays"
            );
        })
        .unwrap();
    let b = e.store.bindings("juzi").await.unwrap();
    assert_eq!(b.groups["客户级别"], "g-level");
}

#[tokio::test]
async fn prune_deletes_in_one_batched_call() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired(
        r#"
groups:
  - name: 客户等级
    prune: true
    tags: [重要客户]
"#,
    );
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        ["GET tag/list", "POST tag/delete", "GET tag/list"]
    );
    let deleted = &e.sim.calls()[1];
    assert_eq!(
        deleted.body.as_ref().unwrap()["id"],
        serde_json::json!(["t-normal", "t-lost"])
    );
    assert_eq!(e.state()[0], "客户等级: 重要客户");
}

#[tokio::test]
async fn not_ours_is_reported_after_one_attempt_and_never_retried() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired(
        r#"
groups:
  - name: 售后服务
    tags: [已回访, 投诉处理]
"#,
    );
    let r = e.apply(&d).await;
    assert_eq!(r.not_ours, 1);
    let writes: Vec<_> = e
        .sim
        .writes()
        .iter()
        .map(|c| (c.path.clone(), c.errcode))
        .collect();
    assert_eq!(writes, [("/api/v1/tag/create".to_string(), Some(-2))]);
    // Remembered: the next cycle shows drift and sends nothing.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), ["GET tag/list"]);
    assert!(!r.plan.has_changes());
    assert_eq!(r.plan.drift.len(), 1, "{:?}", r.plan.drift);
    let ops = e.store.operations(1).await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].status.map(|s| s.as_str()), Some("not_ours"));
}

#[tokio::test]
async fn mass_delete_guard_refuses_before_any_write() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired("groups:\n  - {name: 客户等级, prune: true, tags: [重要客户]}\n");
    let err = crate::support::cycle(
        &e.store,
        "juzi",
        e.client.clone(),
        &d,
        crate::support::Cycle {
            dry_run: false,
            max_rounds: 5,
            max_deletes: 1,
            lease_wait: std::time::Duration::from_secs(60),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "juzi: the plan deletes 2 tags, more than the limit of 1 per run; review the plan, then raise `max_deletes` or pass --allow-deletes 2"
    );
    assert!(e.sim.writes().is_empty());
}

const BIG: &str = r#"
groups:
  - name: 客户级别
    was: [客户等级]
    prune: true
    tags: [重要客户, 普通客户, 潜在客户, 沉睡客户]
  - name: 客户来源
    tags: [官网咨询, 线下活动, 老客户转介绍, 抖音直播, 小红书]
  - name: 购买意向
    tags: [{name: 高意向, order: 30}, {name: 中意向, order: 20}, {name: 低意向, order: 10}]
"#;

/// Under 30% faults of every kind, lost responses included, apply converges with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_without_duplicates() {
    for seed in [1u64, 7, 42, 99] {
        let faults: FaultSpec = format!("seed={seed},rate=0.3,kinds=all,delay=20ms,hang=1s")
            .parse()
            .unwrap();
        let e = env(CONSOLE_STATE, faults).await;
        let d = desired(BIG);
        let r = e
            .run(&d, false, 12)
            .await
            .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        let faulted = e.sim.calls().iter().filter(|c| c.fault.is_some()).count();
        assert!(faulted > 0, "seed {seed}: no fault was injected");
        assert!(
            r.converged(),
            "seed {seed}: {:?}\n{:?}",
            r.errors,
            r.remaining.ops
        );
        // Tags in declared order; groups compared as a set (the unmanaged one has no place).
        let mut state = e.state();
        state.sort();
        let mut want = [
            "客户级别: 重要客户, 普通客户, 潜在客户, 沉睡客户",
            "客户来源: 官网咨询, 线下活动, 老客户转介绍, 抖音直播, 小红书",
            "购买意向: 高意向, 中意向, 低意向",
            "售后服务: 已回访",
        ];
        want.sort();
        assert_eq!(state, want, "seed {seed}");
        // Every operation has an outcome, and bindings cover every declared object.
        let b = e.store.bindings("juzi").await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (3, 12), "seed {seed}");
        assert!(
            e.store.pending_intents("juzi").await.unwrap().is_empty(),
            "seed {seed}"
        );
    }
}

/// TRACE-level logs of a full apply, failures and retries included, never contain the token;
/// neither does anything the mirror recorded.
#[tokio::test]
async fn no_secret_in_trace_logs_or_the_mirror() {
    let capture = crate::support::LogCapture::start();

    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    e.sim
        .fail_next("/api/v1/tag/create", sim::FaultKind::Lost, 1);
    e.sim
        .fail_next("/api/v1/tag/edit", sim::FaultKind::Http500, 2);
    e.sim
        .fail_next("/api/v1/tag/list", sim::FaultKind::Reset, 1);
    let r = e.apply(&desired(BIG)).await;
    assert!(r.converged(), "{r:?}");
    // A refused write too, so that error paths are logged.
    let _ = e
        .apply(&desired("groups:\n  - {name: 售后服务, tags: [新标签]}\n"))
        .await;

    let logs = capture.text();
    assert!(
        logs.contains("endpoint"),
        "TRACE capture is empty or lacks request spans:\n{logs}"
    );
    assert!(
        logs.contains("retry") || logs.contains("Retrying"),
        "no retry was logged:\n{logs}"
    );
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    for run in e.store.runs("juzi", 10).await.unwrap() {
        for op in e.store.operations(run.id).await.unwrap() {
            assert!(!format!("{op:?}").contains(TOKEN));
        }
        assert!(!format!("{run:?}").contains(TOKEN));
    }
}

/// Issue 10: the list and detail tables spell a group's tags `data.tag`, the examples `tags`.
/// Under every reading of the simulator (either key, or both at once) tagsync bootstraps,
/// converges and then makes one list call a cycle.
#[tokio::test]
async fn every_spelling_of_a_groups_tags_converges() {
    for key in ["tags", "tag", "both"] {
        let e = env(
            &format!("readings: {{tagsKey: {key}}}\n"),
            FaultSpec::default(),
        )
        .await;
        let d = desired(TWO_GROUPS);
        let r = e.apply(&d).await;
        assert!(r.converged(), "{key}: {r:?}");
        let b = e.store.bindings("juzi").await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (2, 3), "{key}");
        assert_eq!(
            e.state(),
            ["客户级别: 重要客户, 普通客户", "客户来源: 官网咨询"],
            "{key}"
        );
        e.sim.clear_log();
        let r = e.apply(&d).await;
        assert!(!r.plan.has_changes(), "{key}: {:?}", r.plan);
        assert_eq!(e.calls(), ["GET tag/list"], "{key}");
    }
}

/// Pipelining keeps every dependency: in the simulator's call log, an edit of a new group or
/// tag comes after its group's create, while independent steps go at once. (Freed names, rename
/// chains and swaps: the unit and property tests of `planner::deps`.)
#[tokio::test]
async fn a_dependent_operation_is_never_sent_before_what_it_depends_on() {
    let e = env(
        r#"
groups:
  - id: g-a
    name: 甲组
    order: 300
    tags:
      - { id: t-1, name: 一, order: 500 }
      - { id: t-2, name: 二, order: 400 }
      - { id: t-3, name: 三, order: 300 }
      - { id: t-gone, name: 旧, order: 200 }
      - { id: t-4, name: 四, order: 100 }
"#,
        FaultSpec::default(),
    )
    .await;
    // `旧` is pruned; a new group with three tags; `四` moves to the top (an independent order
    // edit).
    let d = desired(
        r#"
groups:
  - name: 甲组
    prune: true
    tags:
      - { name: 四, order: 900 }
      - 一
      - 二
      - 三
  - name: 新组
    tags: [子, 丑, 寅]
"#,
    );
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    let calls = e.sim.calls();
    let seq = |pred: &dyn Fn(&tagsync::sim::CallRecord) -> bool, what: &str| -> Vec<u64> {
        let found: Vec<u64> = calls.iter().filter(|c| pred(c)).map(|c| c.seq).collect();
        assert!(!found.is_empty(), "no call {what}: {calls:#?}");
        found
    };
    let body = |c: &tagsync::sim::CallRecord, key: &str| {
        c.body
            .as_ref()
            .and_then(|b| b.get(key))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let create = seq(&|c| c.path.ends_with("tag/create"), "the create")[0];
    let new_group = e
        .sim
        .with_state(|a: &mut Account| {
            let g = a.groups().iter().find(|g| g.name == "新组").unwrap();
            (
                g.id.clone(),
                g.tags.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            )
        })
        .unwrap();
    for id in std::iter::once(&new_group.0).chain(&new_group.1) {
        for c in calls
            .iter()
            .filter(|c| c.path.ends_with("edit") && body(c, "id").contains(id.as_str()))
        {
            assert!(
                c.seq > create,
                "{id} edited before its group's create: {calls:#?}"
            );
        }
    }
    // The plan's independent steps were not sent one by one: some were in one wave.
    let waves = tagsync::planner::deps::waves(&r.plan.ops);
    assert!(waves.len() < r.plan.ops.len(), "{waves:?}");
}
