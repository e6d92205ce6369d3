//! End to end on Dustess: the real adapter, planner, apply and a SQLite mirror against the
//! simulator over loopback HTTP. Dustess has one call (`qwTag/add`) and no list: tagsync knows the
//! account only from its mirror and the `add` answers, and every call here is counted exactly.

use std::sync::Arc;

use serde_json::json;
use tagsync::engine::{self, CycleReport as Report};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::planner::{DriftCause, render_text};
use tagsync::platforms::{self, Platform, RetryPolicy};
use tagsync::sim::dustess::{ADD_PATH, Account};
use tagsync::sim::{self, FaultKind, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};
use tagsync::store::Store;

const TOKEN: &str = "e2e-dustess-access-token-91c2";
const NAME: &str = "dus";
const ADD: &str = "POST qwTag/add";

fn desired(yaml: &str) -> Desired {
    let ctx = Context {
        known_platforms: [NAME.to_string()].into(),
        default_platforms: [NAME.to_string()].into(),
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

struct Env {
    sim: SimHandle,
    store: Store,
    client: Arc<dyn Platform>,
    _dir: tempfile::TempDir,
}

async fn env(fixture_yaml: &str, faults: FaultSpec) -> Env {
    env_with_token(fixture_yaml, faults, TOKEN).await
}

async fn env_with_token(fixture_yaml: &str, faults: FaultSpec, token: &str) -> Env {
    let mut fixture = if fixture_yaml.trim().is_empty() {
        Fixture::default()
    } else {
        Fixture::from_yaml(fixture_yaml).unwrap()
    };
    fixture.token = TOKEN.into();
    let sim = sim::start(
        SimPlatform::Dustess,
        SimOptions {
            fixture,
            faults,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), NAME, "dustess").await;
    let settings = crate::support::settings(
        NAME,
        tagsync::settings::KindSettings::Dustess(Default::default()),
        &sim.base_url(),
    );
    let client =
        platforms::connect(&settings, token.to_string().into(), RetryPolicy::fast()).unwrap();
    Env {
        sim,
        store,
        client,
        _dir: dir,
    }
}

impl Env {
    async fn apply(&self, d: &Desired) -> Report {
        self.run(d, false, 5).await.unwrap()
    }

    async fn run(
        &self,
        d: &Desired,
        dry_run: bool,
        max_rounds: usize,
    ) -> Result<Report, engine::Error> {
        crate::support::cycle(
            &self.store,
            NAME,
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

    /// The simulator's live groups as `name(order): tag(order), …` lines, in creation order.
    fn state(&self) -> Vec<String> {
        self.sim
            .with_state(|a: &mut Account| {
                // Highest order first: creates of different groups may land in either order.
                let mut groups: Vec<_> = a.live_groups().into_iter().collect();
                groups.sort_by_key(|g| std::cmp::Reverse(g.order));
                groups
                    .iter()
                    .map(|g| {
                        let tags: Vec<String> = g
                            .tags
                            .iter()
                            .map(|t| format!("{}({})", t.name, t.order))
                            .collect();
                        format!("{}({}): {}", g.name, g.order, tags.join(", "))
                    })
                    .collect()
            })
            .unwrap()
    }

    /// Calls since the last `clear_log`, as `METHOD endpoint` lines.
    fn calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.method,
                    c.path.trim_start_matches("/open-integration-api/tag/v1/")
                )
            })
            .collect()
    }

    /// The request bodies of the calls so far.
    fn bodies(&self) -> Vec<serde_json::Value> {
        self.sim
            .calls()
            .iter()
            .map(|c| c.body.clone().unwrap_or_default())
            .collect()
    }

    /// The mirror as `name(order): tag(order), …` lines, bigger order first.
    async fn mirror(&self) -> Vec<String> {
        self.store
            .mirror_snapshot(NAME)
            .await
            .unwrap()
            .groups
            .iter()
            .map(|g| {
                let tags: Vec<String> = g
                    .tags
                    .iter()
                    .map(|t| format!("{}({})", t.name, t.order.unwrap()))
                    .collect();
                format!("{}({}): {}", g.name, g.order.unwrap(), tags.join(", "))
            })
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
async fn bootstrap_is_one_add_per_group_and_the_next_cycle_makes_no_call() {
    let e = env("", FaultSpec::default()).await;
    let d = desired(TWO_GROUPS);
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    // No list call exists: one `add` per group, with every order in it, and nothing else.
    assert_eq!(e.calls(), [ADD, ADD]);
    assert_eq!(r.api_calls, 2);
    assert_eq!(
        e.bodies(),
        [
            json!({"groupName": "客户级别", "order": 200, "tag": [{"name": "重要客户", "order": 200}, {"name": "普通客户", "order": 100}]}),
            json!({"groupName": "客户来源", "order": 100, "tag": [{"name": "官网咨询", "order": 100}]}),
        ]
    );
    let want = [
        "客户级别(200): 重要客户(200), 普通客户(100)",
        "客户来源(100): 官网咨询(100)",
    ];
    assert_eq!(e.state(), want);
    // The mirror holds what the answers returned, ids included.
    assert_eq!(e.mirror().await, want);
    let snapshot = e.store.mirror_snapshot(NAME).await.unwrap();
    let sim_ids = e
        .sim
        .with_state(|a: &mut Account| a.groups().iter().map(|g| g.id.clone()).collect::<Vec<_>>())
        .unwrap();
    let mirror_ids: Vec<String> = snapshot.groups.iter().map(|g| g.id.clone()).collect();
    assert_eq!(mirror_ids, sim_ids);
    let b = e.store.bindings(NAME).await.unwrap();
    assert_eq!((b.groups.len(), b.tags.len()), (2, 3));
    let events = e.store.events(NAME).await.unwrap();
    assert_eq!(events.len(), 5, "2 groups and 3 tags created: {events:?}");

    // The second cycle makes no call at all: there is nothing to read and nothing to do.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert!(e.calls().is_empty(), "{:?}", e.calls());
    assert_eq!(r.api_calls, 0);
    assert!(
        !r.plan.has_changes() && r.plan.drift.is_empty(),
        "{:?}",
        r.plan
    );
}

#[tokio::test]
async fn a_group_of_150_tags_takes_two_calls() {
    let e = env("", FaultSpec::default()).await;
    let tags: Vec<String> = (1..=150).map(|i| format!("t{i:03}")).collect();
    let d = desired(&format!(
        "groups:\n  - name: 大分组\n    tags: [{}]\n",
        tags.join(", ")
    ));
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(e.calls(), [ADD, ADD]);
    let bodies = e.bodies();
    assert_eq!(bodies[0]["groupName"], "大分组");
    assert_eq!(bodies[0]["tag"].as_array().unwrap().len(), 100);
    let group_id = e
        .sim
        .with_state(|a: &mut Account| a.groups()[0].id.clone())
        .unwrap();
    // The rest go to the new group by id, without its name or order.
    assert_eq!(bodies[1]["groupId"], group_id.as_str());
    assert!(bodies[1].get("groupName").is_none() && bodies[1].get("order").is_none());
    assert_eq!(bodies[1]["tag"].as_array().unwrap().len(), 50);
    assert_eq!(bodies[1]["tag"][0]["name"], "t101");
    assert_eq!(e.sim.with_state(|a: &mut Account| a.tag_count()), Some(150));
    assert_eq!(e.store.bindings(NAME).await.unwrap().tags.len(), 150);

    e.sim.clear_log();
    e.apply(&d).await;
    assert!(e.calls().is_empty());
}

#[tokio::test]
async fn rename_reorder_and_prune_show_as_drift_and_are_never_sent() {
    let e = env("", FaultSpec::default()).await;
    e.apply(&desired(
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 已流失]\n",
    ))
    .await;
    let before = e.state();
    e.sim.clear_log();

    // Renamed group and tag (via `was`), the group and a tag moved by explicit orders, one tag
    // dropped under prune, and one new tag: only the new tag can be sent.
    let d = desired(
        r#"
groups:
  - name: 客户等级
    was: [客户级别]
    order: 9
    prune: true
    tags:
      - { name: 重要客户, order: 5 }
      - { name: 一般客户, was: [普通客户] }
      - 黑名单
"#,
    );
    let plan = e.run(&d, true, 1).await.unwrap().plan;
    let text = render_text(std::slice::from_ref(&plan));
    let drift: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains('!'))
        .collect();
    assert_eq!(drift.len(), 5, "{text}");
    assert!(
        plan.drift
            .iter()
            .all(|d| d.cause == DriftCause::NotSupported),
        "{plan:?}"
    );
    for (what, line) in [
        (
            "group rename",
            r#"group "客户等级": rename "客户级别" → "客户等级": this platform cannot rename groups"#,
        ),
        (
            "group reorder",
            r#"group "客户等级": order 100 → 9: this platform cannot reorder groups"#,
        ),
        (
            "tag rename",
            r#"tag "客户等级/一般客户": rename "普通客户" → "一般客户": this platform cannot rename tags"#,
        ),
        (
            "tag reorder",
            r#"tag "客户等级/重要客户": order 300 → 5: this platform cannot reorder tags"#,
        ),
        (
            "prune",
            r#"tag "客户等级/已流失": undeclared under prune, but cannot be deleted here"#,
        ),
    ] {
        assert!(text.contains(line), "{what}: {line}\n{text}");
    }
    assert!(text.contains("(not supported here)"), "{text}");
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);

    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(e.calls(), [ADD]);
    let group_id = e
        .sim
        .with_state(|a: &mut Account| a.groups()[0].id.clone())
        .unwrap();
    assert_eq!(
        e.bodies()[0],
        json!({"groupId": group_id, "tag": [{"name": "黑名单", "order": 100}]})
    );
    assert_eq!(
        e.state(),
        [format!("{}, 黑名单(100)", before[0])],
        "nothing renamed, reordered or deleted"
    );

    // The drift stays, and costs no call.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert!(e.calls().is_empty());
    assert_eq!(r.plan.drift.len(), 5);
}

#[tokio::test]
async fn plan_says_the_mirror_is_the_only_knowledge() {
    let e = env("", FaultSpec::default()).await;
    let r = e.run(&desired(TWO_GROUPS), true, 1).await.unwrap();
    let text = render_text(std::slice::from_ref(&r.plan));
    assert!(
        text.contains(
            "note: this platform has no list call: what exists is known only from the mirror and tagsync's own creates"
        ),
        "{text}"
    );
    assert_eq!(r.plan.ops.len(), 2);
    assert!(
        e.calls().is_empty(),
        "plan reads the mirror, not the platform"
    );
}

/// Faults that apply nothing (10001 from the busy fault, HTTP 500, a reset connection, a timeout):
/// the create is not repeated within the call (its outcome is unknown), the round stops, and the
/// next round sends it again.
#[tokio::test]
async fn unknown_outcomes_that_applied_nothing_are_sent_again_next_round() {
    for kind in [
        FaultKind::Busy,
        FaultKind::Http500,
        FaultKind::Reset,
        FaultKind::Timeout,
    ] {
        let e = env("", "hang=2s".parse().unwrap()).await;
        e.sim.fail_next(ADD_PATH, kind, 1);
        let r = e.apply(&desired(TWO_GROUPS)).await;
        assert!(r.converged(), "{kind}: {r:?}");
        assert_eq!(e.calls(), [ADD, ADD, ADD], "{kind}");
        let faults: Vec<_> = e.sim.calls().iter().map(|c| (c.fault, c.applied)).collect();
        assert_eq!(
            faults,
            [(Some(kind), false), (None, true), (None, true)],
            "{kind}"
        );
        // Round 1 stops at the unknown outcome, round 2 sends both, round 3 finds nothing to do.
        assert_eq!((r.rounds, r.failed, r.succeeded), (3, 1, 2), "{kind}");
        assert_eq!(
            e.state(),
            [
                "客户级别(200): 重要客户(200), 普通客户(100)",
                "客户来源(100): 官网咨询(100)"
            ],
            "{kind}"
        );
        assert!(e.store.pending_intents(NAME).await.unwrap().is_empty());
    }
}

/// The faults that did apply the create (a lost answer; 10001 after the change was made): the
/// repeat, addressed by name, answers the objects the first call made, and they are bound: no
/// duplicate, as far as the platform answers a known name with the existing object.
#[tokio::test]
async fn unknown_outcomes_that_did_apply_are_repeated_by_name_without_duplicates() {
    for lost in [true, false] {
        let e = env("", FaultSpec::default()).await;
        if lost {
            e.sim.fail_next(ADD_PATH, FaultKind::Lost, 1);
        } else {
            e.sim
                .with_state(|a: &mut Account| a.answer_unknown_after_applying(1))
                .unwrap();
        }
        let r = e.apply(&desired(TWO_GROUPS)).await;
        assert!(r.converged(), "{r:?}");
        assert_eq!(e.calls(), [ADD, ADD, ADD]);
        let bodies = e.bodies();
        assert_eq!(bodies[0], bodies[1], "the same create, sent again");
        let calls = e.sim.calls();
        assert!(calls[0].applied || !lost, "the lost call was applied");
        assert_eq!(
            e.state(),
            [
                "客户级别(200): 重要客户(200), 普通客户(100)",
                "客户来源(100): 官网咨询(100)"
            ],
            "lost={lost}"
        );
        let first_group = e
            .sim
            .with_state(|a: &mut Account| a.groups()[0].id.clone())
            .unwrap();
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!(b.groups["客户级别"], first_group);
        assert_eq!((b.groups.len(), b.tags.len()), (2, 3));

        e.sim.clear_log();
        e.apply(&desired(TWO_GROUPS)).await;
        assert!(e.calls().is_empty());
    }
}

const BIG: &str = r#"
groups:
  - name: 客户级别
    tags: [重要客户, 普通客户, 潜在客户, 沉睡客户]
  - name: 客户来源
    tags: [官网咨询, 线下活动, 老客户转介绍, 抖音直播, 小红书]
  - name: 购买意向
    tags: [{name: 高意向, order: 30}, {name: 中意向, order: 20}, {name: 低意向, order: 10}]
"#;

/// Under 30% faults of every kind, lost answers included, apply converges with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_without_duplicates() {
    let mut faults_seen = Vec::new();
    for seed in 1u64..=8 {
        let faults: FaultSpec = format!("seed={seed},rate=0.3,kinds=all,delay=20ms,hang=1s")
            .parse()
            .unwrap();
        let e = env("", faults).await;
        let d = desired(BIG);
        let r = e
            .run(&d, false, 15)
            .await
            .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        faults_seen.extend(e.sim.calls().iter().filter_map(|c| c.fault));
        assert!(
            r.converged(),
            "seed {seed}: {:?}\n{:?}",
            r.errors,
            r.remaining.ops
        );
        let mut state = e.state();
        state.sort();
        assert_eq!(
            state,
            [
                "客户来源(200): 官网咨询(500), 线下活动(400), 老客户转介绍(300), 抖音直播(200), 小红书(100)",
                "客户级别(300): 重要客户(400), 普通客户(300), 潜在客户(200), 沉睡客户(100)",
                "购买意向(100): 高意向(30), 中意向(20), 低意向(10)",
            ],
            "seed {seed}"
        );
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (3, 12), "seed {seed}");
        assert!(
            e.store.pending_intents(NAME).await.unwrap().is_empty(),
            "seed {seed}"
        );
    }
    assert!(faults_seen.len() >= 5, "{faults_seen:?}");
    assert!(faults_seen.contains(&FaultKind::Lost), "{faults_seen:?}");
}

/// A group made in the console is invisible (no list), so tagsync creates its declared group by
/// name; Dustess adds to the group of that name. The answer's order is the console group's, which
/// the mirror records; the console's other tags stay unknown.
#[tokio::test]
async fn a_console_group_of_the_same_name_is_joined_not_duplicated() {
    let console = r#"
groups:
  - id: etConsoleLevel
    name: 客户级别
    order: 7
    tags: [{id: etConsoleOld, name: 老客户, order: 1}]
"#;
    let e = env(console, FaultSpec::default()).await;
    let d = desired("groups:\n  - name: 客户级别\n    tags: [重要客户]\n");
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(e.calls(), [ADD]);
    assert_eq!(e.state(), ["客户级别(7): 老客户(1), 重要客户(100)"]);
    assert_eq!(e.mirror().await, ["客户级别(7): 重要客户(100)"]);
    assert_eq!(
        e.store.bindings(NAME).await.unwrap().groups["客户级别"],
        "etConsoleLevel"
    );
}

/// Deleting in the console is invisible too: the mirror still holds the group, and the next add
/// to it is refused (WeCom's 40068 inside a Dustess success) once, and reported.
#[tokio::test]
async fn a_group_deleted_in_the_console_is_refused_once_and_reported() {
    let e = env("", FaultSpec::default()).await;
    e.apply(&desired(TWO_GROUPS)).await;
    let id = e
        .sim
        .with_state(|a: &mut Account| a.groups()[0].id.clone())
        .unwrap();
    e.sim
        .with_state(|a: &mut Account| a.delete_in_console(&id))
        .unwrap();
    e.sim.clear_log();
    let r = e
        .apply(&desired(
            "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 新标签]\n",
        ))
        .await;
    assert_eq!(e.calls(), [ADD]);
    assert_eq!(e.sim.calls()[0].errcode, Some(40068));
    assert_eq!(r.failed, 1);
    assert!(
        r.errors[0].class == engine::ErrorClass::Platform
            && r.errors[0]
                .message
                .contains("rejected: invalid tagid (traceId ")
            && r.errors[0].message.contains("(errcode 40068)"),
        "{:?}",
        r.errors
    );
}

#[tokio::test]
async fn a_wrong_access_token_is_refused_once_per_group_and_never_retried() {
    let e = env_with_token("", FaultSpec::default(), "not-the-token").await;
    let r = e.apply(&desired(TWO_GROUPS)).await;
    // Apply stops each group at its first permanent error, and sends nothing again this run.
    assert_eq!(e.calls(), [ADD, ADD]);
    assert_eq!(r.failed, 2);
    assert!(
        r.errors[0].class == engine::ErrorClass::Credential
            && r.errors[0]
                .message
                .contains("qwTag/add: the credential was refused: invalid accessToken"),
        "{:?}",
        r.errors
    );
    assert!(
        e.store
            .mirror_snapshot(NAME)
            .await
            .unwrap()
            .groups
            .is_empty()
    );
}

/// Issue 10: the seed leaves open what an `add` of a tag name the group already has does. Under
/// both readings of the simulator (the answer names the existing tag; the call is refused with
/// 40071) the repeat after a lost answer converges: every object bound, no duplicate, and the next
/// cycle sends nothing.
#[tokio::test]
async fn a_repeated_add_converges_under_both_readings_of_an_existing_name() {
    for reading in ["existing", "refuse"] {
        let e = env(
            &format!("readings: {{duplicateAdd: {reading}}}\n"),
            FaultSpec::default(),
        )
        .await;
        e.sim.fail_next(ADD_PATH, FaultKind::Lost, 1);
        let r = e.apply(&desired(TWO_GROUPS)).await;
        assert!(r.converged(), "{reading}: {r:?}");
        assert_eq!(
            e.state(),
            [
                "客户级别(200): 重要客户(200), 普通客户(100)",
                "客户来源(100): 官网咨询(100)"
            ],
            "{reading}: no duplicate"
        );
        let codes: Vec<Option<i64>> = e.sim.calls().iter().map(|c| c.errcode).collect();
        if reading == "existing" {
            assert_eq!(e.calls(), [ADD, ADD, ADD], "{reading}");
        } else {
            // The lost create, its repeat refused (40071), each tag alone (both refused: they
            // exist), then the second group.
            assert_eq!(e.calls(), [ADD, ADD, ADD, ADD, ADD], "{reading}");
            assert_eq!(
                codes,
                [Some(0), Some(40071), Some(40071), Some(40071), Some(0)]
            );
        }
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (2, 3), "{reading}");
        e.sim.clear_log();
        let r = e.apply(&desired(TWO_GROUPS)).await;
        assert!(e.calls().is_empty(), "{reading}: {:?}", e.calls());
        assert!(r.converged() && !r.plan.has_changes(), "{reading}");
        // A tag added later to the group known by name only goes by `groupName`.
        let more = "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户]\n  - name: 客户来源\n    tags: [官网咨询]\n";
        let r = e.apply(&desired(more)).await;
        assert!(r.converged(), "{reading}: {r:?}");
        assert_eq!(e.calls(), [ADD], "{reading}");
        assert_eq!(
            e.state()[0],
            "客户级别(200): 重要客户(200), 普通客户(100), 潜在客户(50)",
            "{reading}"
        );
    }
}

/// Issue 10: answers that spell the trace id as the table does, or both ways at once, converge
/// like the example's spelling (a serde `alias` would refuse the latter as a duplicate field).
#[tokio::test]
async fn answers_with_either_or_both_trace_id_spellings_converge() {
    for spelling in ["example", "table", "both"] {
        let e = env(
            &format!("readings: {{traceId: {spelling}}}\n"),
            FaultSpec::default(),
        )
        .await;
        let r = e.apply(&desired(TWO_GROUPS)).await;
        assert!(r.converged(), "{spelling}: {r:?}");
        assert_eq!(e.calls(), [ADD, ADD], "{spelling}");
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (2, 3), "{spelling}");
        e.sim.clear_log();
        e.apply(&desired(TWO_GROUPS)).await;
        assert!(e.calls().is_empty(), "{spelling}");
    }
}
