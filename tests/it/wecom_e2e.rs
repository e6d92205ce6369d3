//! End to end on WeCom: the real adapter, planner, apply and a SQLite mirror against the simulator
//! over loopback HTTP. Call counts are exact, `gettoken` included: API calls (and `gettoken` above
//! all, which WeCom frequency-blocks) are the scarce resource.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tagsync::engine::{self, CycleReport as Report};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::planner::{DriftCause, render_text};
use tagsync::platforms::wecom::{self, Wecom};
use tagsync::platforms::{self, Error, Http, Platform, RetryPolicy};
use tagsync::settings::{Kind, KindSettings, PlatformSettings};
use tagsync::sim::wecom::{Corp, DEFAULT_CORP_ID};
use tagsync::sim::{
    self, FaultKind, FaultSpec, Fixture, ManualClock, SimHandle, SimOptions, SimPlatform,
};
use tagsync::store::Store;

pub const SECRET: &str = "e2e-corp-secret-5b9d";
const NAME: &str = "wecom-hq";

pub fn desired(yaml: &str) -> Desired {
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

pub struct Env {
    pub sim: SimHandle,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub client: Arc<Wecom>,
    settings: PlatformSettings,
    _dir: tempfile::TempDir,
}

/// How an [`Env`] talks to its simulator.
struct Setup {
    strategy_id: Option<u64>,
    faults: FaultSpec,
    retry: RetryPolicy,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            strategy_id: Some(1),
            faults: FaultSpec::default(),
            retry: RetryPolicy::fast(),
        }
    }
}

pub async fn env(fixture_yaml: &str, faults: FaultSpec) -> Env {
    env_with(
        fixture_yaml,
        Setup {
            faults,
            ..Setup::default()
        },
    )
    .await
}

async fn env_with(fixture_yaml: &str, setup: Setup) -> Env {
    let mut fixture = if fixture_yaml.trim().is_empty() {
        Fixture::default()
    } else {
        Fixture::from_yaml(fixture_yaml).unwrap()
    };
    fixture.token = SECRET.into();
    let clock = Arc::new(ManualClock::at(1_750_000_000_000));
    let sim = sim::start(
        SimPlatform::Wecom,
        SimOptions {
            fixture,
            faults: setup.faults,
            clock: clock.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), NAME, "wecom").await;
    let settings = crate::support::settings(
        NAME,
        KindSettings::Wecom(wecom::Config {
            corp_id: DEFAULT_CORP_ID.into(),
            strategy_id: setup.strategy_id,
        }),
        &sim.base_url(),
    );
    let client = Arc::new(client_for(&settings, setup.retry));
    Env {
        sim,
        clock,
        store,
        client,
        settings,
        _dir: dir,
    }
}

/// A fresh client (cold token cache) of the configured platform.
fn client_for(settings: &PlatformSettings, retry: RetryPolicy) -> Wecom {
    let KindSettings::Wecom(config) = &settings.config else {
        panic!("a WeCom platform")
    };
    Wecom::new(
        Http::new(settings, retry).unwrap(),
        settings.base_url.clone(),
        config.corp_id.clone(),
        config.strategy_id,
        SECRET.to_string().into(),
    )
}

impl Env {
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

    /// The simulator's groups as `name: tag, …` lines, in descending order (ties by name).
    pub fn state(&self) -> Vec<String> {
        self.sim
            .with_state(|c: &mut Corp| {
                let mut groups = c.groups().to_vec();
                groups.sort_by(|a, b| b.order.cmp(&a.order).then(a.name.cmp(&b.name)));
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

    /// Calls since the last `clear_log`, as `METHOD api` lines, with their errcode when not 0.
    pub fn calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .map(|c| {
                let api = c
                    .path
                    .trim_start_matches("/cgi-bin/")
                    .trim_start_matches("externalcontact/");
                match c.errcode {
                    Some(0) | None => format!("{} {api}", c.method),
                    Some(code) => format!("{} {api} -> {code}", c.method),
                }
            })
            .collect()
    }

    /// The request bodies of the calls to `api`.
    pub fn bodies(&self, api: &str) -> Vec<serde_json::Value> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.path.ends_with(&format!("/{api}")))
            .map(|c| c.body.clone().unwrap_or_default())
            .collect()
    }

    fn gettokens(&self) -> usize {
        self.sim.count("/cgi-bin/gettoken")
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
    // Each group with its tags and every order in one add call: no follow-up edits.
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST add_strategy_tag",
            "POST add_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    assert_eq!(r.api_calls, 5);
    assert_eq!(
        e.bodies("add_strategy_tag")[0],
        json!({"strategy_id": 1, "group_name": "客户级别", "order": 200,
               "tag": [{"name": "重要客户", "order": 200}, {"name": "普通客户", "order": 100}]})
    );
    assert_eq!(
        e.bodies("get_strategy_tag_list")[0],
        json!({"strategy_id": 1})
    );
    assert_eq!(
        e.state(),
        ["客户级别: 重要客户, 普通客户", "客户来源: 官网咨询"]
    );

    // Steady state: one list call, and the cached token.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), ["POST get_strategy_tag_list"]);
    assert!(!r.plan.has_changes());
    let b = e.store.bindings(NAME).await.unwrap();
    assert_eq!((b.groups.len(), b.tags.len()), (2, 3));
}

const CONSOLE_STATE: &str = r#"
groups:
  - id: g-level
    name: 客户等级
    strategyId: 1
    order: 200
    tags:
      - { id: t-vip, name: 重要客户, order: 200 }
      - { id: t-normal, name: 一般客户, order: 100 }
      - { id: t-lost, name: 已流失, order: 50 }
  - id: g-aftersales
    name: 售后服务
    strategyId: 1
    order: 100
    console: true
    tags:
      - { id: t-done, name: 已回访, order: 100 }
  - id: g-other-strategy
    name: 别的规则组
    strategyId: 2
    tags: [{ id: t-other, name: 不相干 }]
customers:
  - { unionId: wmCUSTOMER, userId: zhangsan, tags: [t-normal] }
"#;

#[tokio::test]
async fn rename_via_was_is_one_edit_call_each_and_sends_the_name_alone() {
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
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST edit_strategy_tag",
            "POST edit_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    assert_eq!(
        e.bodies("edit_strategy_tag"),
        [
            json!({"id": "g-level", "name": "客户级别"}),
            json!({"id": "t-normal", "name": "普通客户"}),
        ],
        "a rename alone never resets the order"
    );
    e.sim
        .with_state(|c: &mut Corp| {
            let g = c.group("g-level").expect("same group id");
            assert_eq!((g.name.as_str(), g.order), ("客户级别", 200));
            assert_eq!(c.tag("t-normal").unwrap().1.order, 100);
            assert!(
                c.tag("t-lost").is_some(),
                "without prune an undeclared tag stays"
            );
        })
        .unwrap();
}

#[tokio::test]
async fn prune_deletes_in_one_batched_call() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired("groups:\n  - {name: 客户等级, prune: true, tags: [重要客户]}\n");
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST del_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    assert_eq!(
        e.bodies("del_strategy_tag"),
        [json!({"tag_id": ["t-normal", "t-lost"]})]
    );
    assert_eq!(e.state()[0], "客户等级: 重要客户");
    assert!(
        e.state().iter().any(|g| g == "别的规则组: 不相干"),
        "another strategy is never touched"
    );
}

/// Replacing every tag of a group: the new tags go in first, because deleting a group's last tag
/// deletes the group (`last_tag_delete_removes_group`); the group keeps its id.
#[tokio::test]
async fn replacing_every_tag_adds_before_deleting() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d =
        desired("groups:\n  - {name: 客户等级, prune: true, tags: [{name: 新客户, order: 200}]}\n");
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST add_strategy_tag",
            "POST del_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    assert_eq!(
        e.bodies("add_strategy_tag"),
        [
            json!({"strategy_id": 1, "group_id": "g-level", "tag": [{"name": "新客户", "order": 200}]})
        ],
        "an add to a group sends its id, never its name or a group order"
    );
    let kept = e
        .sim
        .with_state(|c: &mut Corp| c.group("g-level").map(|g| g.tags.len()))
        .unwrap();
    assert_eq!(kept, Some(1));
}

/// The one change WeCom cannot make is to a group made in the admin console: refused once with
/// 81011, then shown as `!` drift and never sent again. A rename onto a taken name is a `!` too.
#[tokio::test]
async fn what_cannot_be_changed_shows_as_drift_and_is_never_sent() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired(
        r#"
groups:
  - name: 售后服务
    prune: true
    tags: [{name: 已回访, order: 7}, 投诉处理]
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
    assert_eq!(
        writes,
        [(
            "/cgi-bin/externalcontact/edit_strategy_tag".to_string(),
            Some(81011)
        )],
        "one attempt, then the group is known to be not ours"
    );
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), ["POST get_strategy_tag_list"]);
    assert!(!r.plan.has_changes());
    assert!(r.plan.drift.iter().all(|d| d.cause == DriftCause::NotOurs));
    let what: Vec<&str> = r.plan.drift.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(what.len(), 2, "{what:?}");
    let text = render_text(std::slice::from_ref(&r.plan));
    assert_eq!(text.matches('!').count(), 2, "{text}");

    // A rename onto a name another tag of the group holds: a person must decide.
    let bound = desired("groups:\n  - {name: 客户等级, tags: [{key: n, name: 一般客户}]}\n");
    e.apply(&bound).await;
    e.sim.clear_log();
    let d = desired("groups:\n  - {name: 客户等级, tags: [{key: n, name: 已流失}]}\n");
    let r = e.apply(&d).await;
    let conflicts: Vec<_> = r
        .plan
        .drift
        .iter()
        .filter(|d| d.cause == DriftCause::Conflict)
        .collect();
    assert_eq!(conflicts.len(), 1, "{:?}", r.plan.drift);
    assert_eq!(e.calls(), ["POST get_strategy_tag_list"], "never sent");
}

// ---- The token. ----

/// A token that expires between two runs: the first call answers 42001, one `gettoken` follows,
/// and the call is sent once more.
#[tokio::test]
async fn a_token_that_expires_mid_run_is_fetched_once() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let d = desired(TWO_GROUPS);
    e.apply(&d).await;
    assert_eq!(e.gettokens(), 1);
    e.sim.clear_log();
    e.clock.advance(7_200_000);
    let r = e.apply(&desired("groups:\n  - {name: 客户级别, tags: [重要客户, 普通客户, 新标签]}\n  - {name: 客户来源, tags: [官网咨询]}\n")).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "POST get_strategy_tag_list -> 42001",
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST add_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    // Revoked while valid (WeCom may): the same, on a create, with no duplicate.
    e.sim.clear_log();
    e.sim.with_state(|c: &mut Corp| c.revoke_tokens()).unwrap();
    let r = e.apply(&desired("groups:\n  - {name: 客户级别, tags: [重要客户, 普通客户, 新标签, 另一个]}\n  - {name: 客户来源, tags: [官网咨询]}\n")).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "POST get_strategy_tag_list -> 40014",
            "GET gettoken",
            "POST get_strategy_tag_list",
            "POST add_strategy_tag",
            "POST get_strategy_tag_list",
        ]
    );
    e.sim.clear_log();
    e.sim
        .with_state(|c: &mut Corp| c.fail_next("add_strategy_tag", 41001, 1))
        .unwrap();
    let r = e.apply(&desired("groups:\n  - {name: 客户级别, tags: [重要客户, 普通客户, 新标签, 另一个, 第五个]}\n  - {name: 客户来源, tags: [官网咨询]}\n")).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "POST get_strategy_tag_list",
            "POST add_strategy_tag -> 41001",
            "GET gettoken",
            "POST add_strategy_tag",
            "POST get_strategy_tag_list",
        ],
        "a create refused for its token is sent once more: it was not applied"
    );
    let tags = e.sim.with_state(|c: &mut Corp| c.tag_count()).unwrap();
    assert_eq!(tags, 5 + 3 + 3, "no duplicate");
}

#[tokio::test]
async fn a_token_refused_twice_is_a_credential_error_after_one_refresh() {
    let e = env("", FaultSpec::default()).await;
    e.sim
        .with_state(|c: &mut Corp| c.fail_next("get_strategy_tag_list", 42001, 5))
        .unwrap();
    let err = e.client.list().await.unwrap_err();
    assert!(matches!(err, Error::Credential { .. }), "{err}");
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST get_strategy_tag_list -> 42001",
            "GET gettoken",
            "POST get_strategy_tag_list -> 42001",
        ]
    );
    // A wrong secret is a credential error too, with no retry.
    let mut wrong = e.settings.clone();
    wrong.config = KindSettings::Wecom(wecom::Config {
        corp_id: "wwnotthiscorp".into(),
        strategy_id: Some(1),
    });
    let other = client_for(&wrong, RetryPolicy::fast());
    let err = other.list().await.unwrap_err();
    assert!(err.to_string().contains("credential was refused"), "{err}");
}

/// Twenty calls on a cold cache share one `gettoken`; twenty calls refused for an expired token
/// share one more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_cause_one_gettoken_each_time() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let burst = |client: Arc<Wecom>| async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let c = client.clone();
            set.spawn(async move { c.list().await.map(|s| s.groups.len()) });
        }
        set.join_all().await
    };
    let groups = burst(e.client.clone()).await;
    assert!(groups.iter().all(|g| matches!(g, Ok(2))), "{groups:?}");
    assert_eq!(e.gettokens(), 1);
    assert_eq!(
        e.sim
            .count("/cgi-bin/externalcontact/get_strategy_tag_list"),
        20
    );

    e.sim.clear_log();
    e.clock.advance(7_200_000);
    let groups = burst(e.client.clone()).await;
    assert!(groups.iter().all(|g| matches!(g, Ok(2))), "{groups:?}");
    assert_eq!(e.gettokens(), 1, "one refresh for twenty refusals");
    let refused = e
        .sim
        .calls()
        .iter()
        .filter(|c| c.errcode == Some(42001))
        .count();
    assert!(refused >= 1);
    assert_eq!(
        e.sim
            .count("/cgi-bin/externalcontact/get_strategy_tag_list"),
        20 + refused
    );
}

/// A burst against WeCom's frequency limit (45009) is retried with backoff until it fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_burst_converges() {
    let patient = RetryPolicy {
        max_retries: 10,
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        max_elapsed: Duration::from_secs(8),
    };
    let e = env_with(
        CONSOLE_STATE,
        Setup {
            faults: "rps=10".parse().unwrap(),
            retry: patient,
            ..Setup::default()
        },
    )
    .await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = e.client.clone();
        set.spawn(async move { c.list().await.map(|s| s.groups.len()) });
    }
    let groups = set.join_all().await;
    assert!(groups.iter().all(|g| matches!(g, Ok(2))), "{groups:?}");
    assert_eq!(e.gettokens(), 1);
    let limited = e
        .sim
        .calls()
        .iter()
        .filter(|c| c.errcode == Some(45009))
        .count();
    assert!(limited >= 10, "the burst hit the limit: {limited}");
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

/// Under 30% faults of every kind (WeCom's own -1 busy included, and lost responses), a rate limit
/// (45009) and scripted 45033 / 6000 refusals, apply converges with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_and_rate_limits_without_duplicates() {
    let mut runs = tokio::task::JoinSet::new();
    for seed in [1u64, 7, 42, 99] {
        runs.spawn(async move {
            let faults: FaultSpec =
                format!("seed={seed},rate=0.3,kinds=all,delay=20ms,hang=1s,rps=25")
                    .parse()
                    .unwrap();
            let e = env_with(
                CONSOLE_STATE,
                Setup {
                    faults,
                    retry: RetryPolicy {
                        max_retries: 8,
                        min_delay: Duration::from_millis(20),
                        max_delay: Duration::from_millis(200),
                        max_elapsed: Duration::from_secs(5),
                    },
                    ..Setup::default()
                },
            )
            .await;
            e.sim
                .with_state(|c: &mut Corp| {
                    c.fail_next("add_strategy_tag", 45033, 1);
                    c.fail_next("edit_strategy_tag", 6000, 1);
                    c.fail_next("get_strategy_tag_list", -1, 1);
                })
                .unwrap();
            let d = desired(BIG);
            let r = e
                .run(&d, false, 12)
                .await
                .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
            let calls = e.sim.calls();
            assert!(
                calls.iter().any(|c| c.fault.is_some()),
                "seed {seed}: no fault"
            );
            for code in [45033, 6000, -1] {
                assert!(
                    calls.iter().any(|c| c.errcode == Some(code)),
                    "seed {seed}: no {code}"
                );
            }
            assert!(
                r.converged(),
                "seed {seed}: {:?}\n{:?}",
                r.errors,
                r.remaining.ops
            );
            let mut state = e.state();
            state.sort();
            let mut want = [
                "客户级别: 重要客户, 普通客户, 潜在客户, 沉睡客户",
                "客户来源: 官网咨询, 线下活动, 老客户转介绍, 抖音直播, 小红书",
                "购买意向: 高意向, 中意向, 低意向",
                "售后服务: 已回访",
                "别的规则组: 不相干",
            ];
            want.sort();
            assert_eq!(state, want, "seed {seed}: no duplicate, nothing missing");
            let b = e.store.bindings(NAME).await.unwrap();
            assert_eq!((b.groups.len(), b.tags.len()), (3, 12), "seed {seed}");
            assert!(
                e.store.pending_intents(NAME).await.unwrap().is_empty(),
                "seed {seed}"
            );
        });
    }
    while let Some(done) = runs.join_next().await {
        done.unwrap();
    }
}

// ---- Deletes, filtered lists, groups, marks, corp tags. ----

#[tokio::test]
async fn a_delete_that_finds_an_id_gone_deletes_the_rest() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let ids = ["t-normal".to_string(), "t-gone".into(), "t-lost".into()];
    e.client.delete_tags(&ids).await.unwrap();
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST del_strategy_tag -> 40068",
            "POST get_strategy_tag_list",
            "POST del_strategy_tag",
        ]
    );
    assert_eq!(
        e.bodies("get_strategy_tag_list"),
        [json!({"strategy_id": 1, "tag_id": ids})],
        "one list filtered by the ids"
    );
    assert_eq!(
        e.bodies("del_strategy_tag")[1],
        json!({"tag_id": ["t-normal", "t-lost"]})
    );
    assert_eq!(e.state()[0], "客户等级: 重要客户");

    // A lost answer: the repeat finds everything gone (40068), which is success.
    e.sim.clear_log();
    e.sim.fail_next(
        "/cgi-bin/externalcontact/del_strategy_tag",
        FaultKind::Lost,
        1,
    );
    e.client.delete_tags(&["t-vip".to_string()]).await.unwrap();
    assert_eq!(
        e.calls(),
        ["POST del_strategy_tag", "POST del_strategy_tag -> 40068"]
    );
}

#[tokio::test]
async fn groups_are_read_by_id_and_deleted_many_per_call() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    let groups = e
        .client
        .groups(&["g-level".into(), "g-missing".into()])
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].tags.len(), 3);
    assert_eq!(
        e.bodies("get_strategy_tag_list"),
        [json!({"strategy_id": 1, "group_id": ["g-level", "g-missing"]})]
    );
    e.client.delete_groups(&["g-level".into()]).await.unwrap();
    assert_eq!(
        e.bodies("del_strategy_tag"),
        [json!({"group_id": ["g-level"]})]
    );
    let err = e
        .client
        .delete_groups(&["g-aftersales".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotOurs { errcode: 81011, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn marks_add_and_remove_in_one_call() {
    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    e.client
        .mark(
            "zhangsan",
            "wmCUSTOMER",
            &["t-vip".into(), "t-done".into()],
            &["t-normal".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        e.bodies("mark_tag"),
        [
            json!({"userid": "zhangsan", "external_userid": "wmCUSTOMER",
                "add_tag": ["t-vip", "t-done"], "remove_tag": ["t-normal"]})
        ]
    );
    let tags = e
        .sim
        .with_state(|c: &mut Corp| c.customer_tags("wmCUSTOMER", "zhangsan").unwrap().clone())
        .unwrap();
    assert_eq!(tags.into_iter().collect::<Vec<_>>(), ["t-done", "t-vip"]);
    // Nothing to do is no call; an unknown customer is a rejection.
    e.sim.clear_log();
    e.client
        .mark("zhangsan", "wmCUSTOMER", &[], &[])
        .await
        .unwrap();
    assert!(e.calls().is_empty());
    let err = e
        .client
        .mark("lisi", "wmCUSTOMER", &["t-vip".into()], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { errcode: 84061, .. }),
        "{err}"
    );
}

const CORP_STATE: &str = r#"
groups:
  - id: c-level
    name: 客户等级
    order: 10
    tags:
      - { id: c-vip, name: 重要客户, order: 10 }
      - { id: c-old, name: 旧标签, order: 5 }
  - id: s-group
    name: 规则组标签
    strategyId: 1
    tags: [{ id: s-tag, name: 不相干 }]
"#;

/// Without `strategy_id`, the same adapter works on the corp tags; deleted corp tags that the
/// list reports are left out.
#[tokio::test]
async fn corp_tags_without_strategy_id() {
    let e = env_with(
        CORP_STATE,
        Setup {
            strategy_id: None,
            ..Setup::default()
        },
    )
    .await;
    let d = desired(
        r#"
groups:
  - name: 客户等级
    prune: true
    tags: [重要客户, 新客户]
  - name: 客户来源
    tags: [官网咨询]
"#,
    );
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET gettoken",
            "POST get_corp_tag_list",
            "POST del_corp_tag",
            "POST add_corp_tag",
            "POST add_corp_tag",
            "POST get_corp_tag_list",
        ]
    );
    assert_eq!(e.bodies("get_corp_tag_list")[0], json!({}));
    assert!(
        e.bodies("add_corp_tag")
            .iter()
            .all(|b| b.get("strategy_id").is_none()),
        "no strategy_id on corp tags"
    );
    let corp: Vec<String> = e
        .sim
        .with_state(|c: &mut Corp| c.corp_groups().iter().map(|g| g.name.clone()).collect())
        .unwrap();
    assert_eq!(corp, ["客户等级", "客户来源"]);
    assert!(
        e.sim
            .with_state(|c: &mut Corp| c.tag("s-tag").is_some())
            .unwrap()
    );
    // A delete naming the deleted tag: 40068; the list by id reports it `deleted: true`, and only
    // the live one is deleted again.
    e.sim.clear_log();
    e.client
        .delete_tags(&["c-old".into(), "c-vip".into()])
        .await
        .unwrap();
    assert_eq!(
        e.calls(),
        [
            "POST del_corp_tag -> 40068",
            "POST get_corp_tag_list",
            "POST del_corp_tag",
        ]
    );
    assert_eq!(e.bodies("del_corp_tag")[1], json!({"tag_id": ["c-vip"]}));
}

#[tokio::test]
async fn connect_builds_the_kind_of_the_settings_and_registers_the_capabilities() {
    // A WeCom platform without a corp_id cannot be built: `KindSettings::Wecom` has one.
    let e = env("", FaultSpec::default()).await;
    let client =
        platforms::connect(&e.settings, SECRET.to_string().into(), RetryPolicy::fast()).unwrap();
    assert_eq!(client.capabilities(), &wecom::CAPABILITIES);
    assert_eq!(Kind::Wecom.capabilities(), &wecom::CAPABILITIES);
    assert_eq!(e.settings.kind, Kind::Wecom);
}

/// A writer that keeps everything the subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// TRACE-level logs of full applies, token refreshes, failures and retries included, never contain
/// the corp secret or an access token; neither does the mirror or the simulator's call log.
#[tokio::test]
async fn no_secret_or_token_in_trace_logs_the_mirror_or_the_call_log() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let e = env(CONSOLE_STATE, FaultSpec::default()).await;
    e.sim.fail_next(
        "/cgi-bin/externalcontact/add_strategy_tag",
        FaultKind::Lost,
        1,
    );
    e.sim.fail_next(
        "/cgi-bin/externalcontact/edit_strategy_tag",
        FaultKind::Http500,
        2,
    );
    e.sim.fail_next("/cgi-bin/gettoken", FaultKind::Reset, 1);
    let r = e.apply(&desired(BIG)).await;
    assert!(r.converged(), "{r:?}");
    e.clock.advance(7_200_000);
    let r = e
        .apply(&desired("groups:\n  - {name: 售后服务, tags: [新标签]}\n"))
        .await;
    assert_eq!(r.not_ours, 1);

    // The tokens the simulator issued, read from a fresh fetch of its own.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .get(format!("{}/cgi-bin/gettoken", e.sim.base_url()))
        .query(&[("corpid", DEFAULT_CORP_ID), ("corpsecret", SECRET)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        e.sim.with_state(|c: &mut Corp| c.tokens_issued()).unwrap(),
        2
    );
    let first = token.replace("0000000002", "0000000001");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("endpoint"),
        "TRACE capture lacks request spans:\n{logs}"
    );
    assert!(logs.contains("Retrying"), "no retry was logged:\n{logs}");
    assert!(
        logs.contains("access token was refused"),
        "no refresh was logged:\n{logs}"
    );
    for secret in [SECRET, token.as_str(), first.as_str()] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
        assert!(
            !format!("{:?}", e.sim.calls()).contains(secret),
            "{secret} in the call log"
        );
        for run in e.store.runs(NAME, 10).await.unwrap() {
            for op in e.store.operations(run.id).await.unwrap() {
                assert!(!format!("{op:?}").contains(secret));
            }
            assert!(!format!("{run:?}").contains(secret));
        }
    }
}

/// Issue 10: the seed leaves open what `add_strategy_tag` does with a tag name the group already
/// has. A person adds 普通客户 in the console between tagsync's list and its add; under both
/// readings of the simulator (the answer names the existing tag; 40071) the run converges with the
/// existing tag bound, and the add is never sent again.
#[tokio::test]
async fn an_add_of_a_name_the_group_has_converges_under_both_readings() {
    for reading in ["existing", "refuse"] {
        let e = env(
            &format!(
                "readings: {{duplicateAdd: {reading}}}\ngroups:\n  - {{id: g1, name: 客户级别, strategyId: 1, tags: [{{id: t1, name: 重要客户}}]}}\n"
            ),
            FaultSpec::default(),
        )
        .await;
        e.sim
            .with_state(|c: &mut Corp| {
                c.console_add_before_next_add(Some(1), "客户级别", "普通客户")
            })
            .unwrap();
        let d = desired("groups:\n  - {name: 客户级别, tags: [重要客户, 普通客户]}\n");
        let r = e.apply(&d).await;
        assert!(r.converged(), "{reading}: {r:?}");
        let console_tag = e
            .sim
            .with_state(|c: &mut Corp| {
                let g = c.group("g1").unwrap();
                assert_eq!(g.tags.len(), 2, "{reading}: no duplicate");
                g.tags[1].id.clone()
            })
            .unwrap();
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!(
            b.tags[&("客户级别".into(), "普通客户".into())],
            console_tag,
            "{reading}"
        );
        if reading == "existing" {
            // The answer named the existing tag: bound at once.
            assert_eq!(
                e.calls(),
                [
                    "GET gettoken",
                    "POST get_strategy_tag_list",
                    "POST edit_strategy_tag",
                    "POST add_strategy_tag",
                    "POST get_strategy_tag_list"
                ]
            );
        } else {
            // Refused: the round's list finds the tag by name and binds it; nothing is left.
            assert_eq!(
                e.calls(),
                [
                    "GET gettoken",
                    "POST get_strategy_tag_list",
                    "POST edit_strategy_tag",
                    "POST add_strategy_tag -> 40071",
                    "POST get_strategy_tag_list"
                ]
            );
        }
        e.sim.clear_log();
        let r = e.apply(&d).await;
        assert!(r.converged() && !r.plan.has_changes(), "{reading}");
        assert_eq!(e.calls(), ["POST get_strategy_tag_list"], "{reading}");
    }
}

/// Issue 10: 81011 and 60011 (the public list's object-level no-privilege codes) are "not ours":
/// reported once, the group remembered, never sent again on later runs.
#[tokio::test]
async fn no_privilege_codes_are_not_ours_and_never_retried() {
    for code in [81011, 60011] {
        let e = env(
            "groups:\n  - {id: g1, name: 客户级别, strategyId: 1, tags: [{id: t1, name: 重要客户}]}\n",
            FaultSpec::default(),
        )
        .await;
        e.sim
            .with_state(|c: &mut Corp| c.fail_next("edit_strategy_tag", code, 1))
            .unwrap();
        let d = desired("groups:\n  - {name: 客户级别, order: 7, tags: [重要客户]}\n");
        let r = e.apply(&d).await;
        assert_eq!(r.not_ours, 1, "{code}: {r:?}");
        e.sim.clear_log();
        for _ in 0..2 {
            e.apply(&d).await;
        }
        assert!(
            e.sim.writes().is_empty(),
            "{code}: sent again: {:?}",
            e.calls()
        );
    }
}
