//! End to end on Miaokol (yzj): the real adapter, planner, apply and a SQLite mirror against the
//! simulator over loopback HTTP. Call counts are exact: API calls are the scarce resource.

use std::sync::Arc;

use serde_json::json;
use tagsync::engine::{self, CycleReport as Report};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::planner::render_text;
use tagsync::platforms::{self, Platform, RetryPolicy};
use tagsync::sim::yzj::Account;
use tagsync::sim::{self, FaultSpec, Fixture, FixtureGroup, SimHandle, SimOptions, SimPlatform};
use tagsync::store::Store;

const TOKEN: &str = "yzj-e2e-access-token-5c1d";
const APP_ID: &str = "yzj-e2e-app";

fn desired(yaml: &str) -> Desired {
    let ctx = Context {
        known_platforms: ["yzj".to_string()].into(),
        default_platforms: ["yzj".to_string()].into(),
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

async fn env_with(mut fixture: Fixture, faults: FaultSpec, token: &str) -> Env {
    fixture.token = TOKEN.into();
    fixture.app_id = Some(APP_ID.into());
    let sim = sim::start(
        SimPlatform::Yzj,
        SimOptions {
            fixture,
            faults,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), "yzj", "yzj").await;
    let settings = crate::support::settings(
        "yzj",
        tagsync::settings::KindSettings::Yzj(tagsync::platforms::yzj::Config {
            app_id: APP_ID.into(),
        }),
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

async fn env(fixture_yaml: &str, faults: FaultSpec) -> Env {
    let fixture = if fixture_yaml.trim().is_empty() {
        Fixture::default()
    } else {
        Fixture::from_yaml(fixture_yaml).unwrap()
    };
    env_with(fixture, faults, TOKEN).await
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
            "yzj",
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

    /// The simulator's groups as `name: tag, …` lines, in creation order.
    fn state(&self) -> Vec<String> {
        self.sim
            .with_state(|a: &mut Account| {
                a.groups()
                    .iter()
                    .map(|g| {
                        let tags: Vec<&str> = g.tags.iter().map(|t| t.name.as_str()).collect();
                        format!("{}: {}", g.name, tags.join(", "))
                    })
                    .collect()
            })
            .unwrap()
    }

    /// Calls since the last `clear_log`: `GET list page=N` or `GET list id=N` for reads, `POST
    /// endpoint` for writes.
    fn calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .map(|c| {
                let endpoint = c.path.trim_start_matches("/smart-tag/");
                let arg = ["id", "page"]
                    .iter()
                    .find_map(|k| c.query.get(*k).map(|v| format!(" {k}={v}")))
                    .unwrap_or_default();
                format!("{} {endpoint}{arg}", c.method)
            })
            .collect()
    }

    /// The bodies of the writes, without the credentials.
    fn write_bodies(&self) -> Vec<serde_json::Value> {
        self.sim
            .writes()
            .iter()
            .map(|c| {
                let mut b = c.body.clone().unwrap();
                let obj = b.as_object_mut().unwrap();
                assert_eq!(obj.remove("app_id"), Some(json!(APP_ID)));
                assert_eq!(obj.remove("access_token"), Some(json!(sim::REDACTED)));
                b
            })
            .collect()
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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
    // Per group one `batchAddTag` with `group_id: 0` makes the group and its tags; it answers no
    // ids, which the next round's pull (the list that ends the round) binds by name: G writes plus
    // the list pages (docs/BENCHMARKS.md).
    assert_eq!(
        e.calls(),
        [
            "GET list page=1",
            "POST batchAddTag",
            "POST batchAddTag",
            "GET list page=1",
        ]
    );
    assert_eq!(r.api_calls, 4);
    assert_eq!(
        e.write_bodies(),
        [
            json!({"group_id": 0, "group_name": "客户级别", "tag_names": ["重要客户", "普通客户"]}),
            json!({"group_id": 0, "group_name": "客户来源", "tag_names": ["官网咨询"]}),
        ]
    );
    let first = &e.sim.calls()[0];
    assert_eq!(
        (
            first.query["with_tags"].as_str(),
            first.query["page_size"].as_str(),
            first.query["app_id"].as_str(),
            first.query["access_token"].as_str()
        ),
        ("1", "100", APP_ID, sim::REDACTED)
    );
    assert_eq!(
        e.state(),
        ["客户级别: 重要客户, 普通客户", "客户来源: 官网咨询"]
    );
    // Every created object was bound by the list that ended the run's last round.
    let b = e.store.bindings("yzj").await.unwrap();
    assert_eq!((b.groups.len(), b.tags.len()), (2, 3));
    assert_eq!(b.groups["客户级别"], "1");
    assert_eq!(b.tags[&("客户级别".into(), "普通客户".into())], "3");

    // Steady state: one list call, nothing else. New tags all have sort 0, which no call can
    // change; order is not managed on Miaokol, so it is no drift either.
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), ["GET list page=1"]);
    assert!(!r.plan.has_changes());
    assert!(r.plan.drift.is_empty(), "{:?}", r.plan.drift);
}

const STATE: &str = r#"
groups:
  - id: "10"
    name: 客户等级
    order: 50
    tags:
      - { id: "11", name: 重要客户, order: 3 }
      - { id: "12", name: 一般客户, order: 2 }
      - { id: "13", name: 已流失, order: 1 }
  - id: "20"
    name: 售后服务
    order: 10
    tags:
      - { id: "21", name: 已回访 }
"#;

#[tokio::test]
async fn rename_is_one_add_call_per_object_and_keeps_the_ids() {
    let e = env(STATE, FaultSpec::default()).await;
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
        ["GET list page=1", "POST add", "POST add", "GET list page=1"]
    );
    // A group edit sends id, name and type; a tag edit repeats its group (`parent_id` defaults to
    // 0, no group). No sort, no empty id.
    assert_eq!(
        e.write_bodies(),
        [
            json!({"id": 10, "name": "客户级别", "type": 2}),
            json!({"id": 12, "name": "普通客户", "type": 1, "parent_id": 10}),
        ]
    );
    e.sim
        .with_state(|a: &mut Account| {
            assert_eq!(a.group(10).unwrap().name, "客户级别");
            let (g, t) = a.tag(12).unwrap();
            assert_eq!((g.id, t.name.as_str(), t.sort), (10, "普通客户", 2));
            assert!(a.tag(13).is_some(), "without prune an undeclared tag stays");
        })
        .unwrap();
    let b = e.store.bindings("yzj").await.unwrap();
    assert_eq!(b.groups["客户级别"], "10");
}

#[tokio::test]
async fn prune_deletes_one_id_per_call() {
    let e = env(STATE, FaultSpec::default()).await;
    let d = desired("groups:\n  - {name: 客户等级, prune: true, tags: [重要客户]}\n");
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET list page=1",
            "POST delete",
            "POST delete",
            "GET list page=1"
        ]
    );
    assert_eq!(e.write_bodies(), [json!({"id": 12}), json!({"id": 13})]);
    assert_eq!(e.state(), ["客户等级: 重要客户", "售后服务: 已回访"]);
    // The group keeps existing with one tag; pruning all but none never empties it here.
    assert_eq!(r.plan.deletes(), 2);
}

#[tokio::test]
async fn new_tags_in_an_existing_group_are_one_batch() {
    let e = env(STATE, FaultSpec::default()).await;
    let d = desired("groups:\n  - {name: 售后服务, tags: [已回访, 投诉处理, 满意度回访]}\n");
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        ["GET list page=1", "POST batchAddTag", "GET list page=1"]
    );
    assert_eq!(
        e.write_bodies(),
        [json!({"group_id": 20, "tag_names": ["投诉处理", "满意度回访"]})]
    );
    let b = e.store.bindings("yzj").await.unwrap();
    // Ids count on above the account's highest (21), groups and tags alike.
    assert_eq!(b.tags[&("售后服务".into(), "投诉处理".into())], "22");
}

/// Orders cannot be written on Miaokol, so they are not managed there: neither declared orders nor
/// the tags' `sort` make a call or a `!` line (group orders are not even listed).
#[tokio::test]
async fn orders_are_not_managed_and_never_sent() {
    let e = env(STATE, FaultSpec::default()).await;
    let d = desired(
        r#"
groups:
  - name: 售后服务
    order: 999
    tags: [已回访]
  - name: 客户等级
    tags:
      - 已流失
      - 一般客户
      - { name: 重要客户, order: 7 }
"#,
    );
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert!(!r.plan.has_changes());
    assert!(e.sim.writes().is_empty(), "{:?}", e.calls());
    assert_eq!(e.calls(), ["GET list page=1"]);
    let text = strip_ansi(&render_text(std::slice::from_ref(&r.plan)));
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with('!')),
        "{text}"
    );
    assert!(r.plan.drift.is_empty(), "{:?}", r.plan.drift);
    // The mirror's view agrees: every declared object is simply present.
    let status = e.store.drift("yzj").await.unwrap();
    assert_eq!(status.len(), 6);
    assert!(status.iter().all(|s| s.status == "present"), "{status:?}");
    // `sort` is still read and mirrored.
    let snapshot = e.store.mirror_snapshot("yzj").await.unwrap();
    let tag = snapshot
        .groups
        .iter()
        .flat_map(|g| &g.tags)
        .find(|t| t.id == "11");
    assert_eq!(tag.unwrap().order, Some(3));
}

/// The Must-show of issue 5: 250 groups are read in exactly three page calls of 100.
#[tokio::test]
async fn a_listing_of_250_groups_is_three_page_calls() {
    let fixture = Fixture {
        groups: (1..=250)
            .map(|i| FixtureGroup {
                id: None,
                name: format!("分组{i:03}"),
                order: 0,
                create_timestamp: None,
                console: false,
                multi_select: false,
                strategy_id: None,
                tags: vec![tagsync::sim::FixtureTag {
                    id: None,
                    name: "标签".into(),
                    order: u32::from(i % 3 == 0),
                    create_timestamp: None,
                }],
            })
            .collect(),
        ..Fixture::default()
    };
    let e = env_with(fixture, FaultSpec::default(), TOKEN).await;
    let snapshot = e.client.list().await.unwrap();
    assert_eq!(
        e.calls(),
        ["GET list page=1", "GET list page=2", "GET list page=3"]
    );
    assert!(
        e.sim
            .calls()
            .iter()
            .all(|c| c.query["page_size"] == "100" && c.query["with_tags"] == "1")
    );
    assert_eq!(snapshot.groups.len(), 250);
    assert_eq!(snapshot.tag_count(), 250);
    // Group ids are ints on the wire and tag ids strings: both are strings here.
    assert_eq!(
        (
            snapshot.groups[0].id.as_str(),
            snapshot.groups[0].tags[0].id.as_str()
        ),
        ("1", "2")
    );
    assert_eq!(snapshot.groups[249].name, "分组250");
    assert_eq!(snapshot.groups[0].order, None, "no group order is listed");
    assert_eq!(snapshot.groups[2].tags[0].order, Some(1));

    // A whole dry run costs the same three calls.
    e.sim.clear_log();
    let r = e.run(&desired(TWO_GROUPS), true, 5).await.unwrap();
    assert_eq!(r.api_calls, 3);
}

#[tokio::test]
async fn a_refused_credential_stops_before_any_write() {
    let e = env_with(Fixture::default(), FaultSpec::default(), "not-the-token").await;
    let err = e.run(&desired(TWO_GROUPS), false, 5).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("yzj: list: the credential was refused: HTTP 401 Unauthorized"),
        "{err}"
    );
    assert_eq!(
        e.calls(),
        ["GET list page=1"],
        "no retry of a refused credential"
    );
}

#[tokio::test]
async fn a_rejected_write_is_one_call_and_carries_the_platforms_message() {
    let e = env(STATE, FaultSpec::default()).await;
    // errcode 1 (the document's only failure code) is permanent: no retry.
    let err = e
        .client
        .edit_group("10", Some("售后服务"), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "add: rejected: 标签分组名称`售后服务`已存在 (errcode 1)"
    );
    assert_eq!(e.calls(), ["POST add"]);
    // Orders are never sent: the adapter refuses before any call.
    let err = e
        .client
        .edit_tag("10", "11", None, Some(5))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "this platform's API cannot reorder tags");
    assert_eq!(e.calls(), ["POST add"]);
}

/// Under 30% faults of every kind, lost responses included, apply converges with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_without_duplicates() {
    for seed in [3u64, 11, 42] {
        let faults: FaultSpec = format!("seed={seed},rate=0.3,kinds=all,delay=20ms,hang=1s")
            .parse()
            .unwrap();
        let e = env(STATE, faults).await;
        let d = desired(
            r#"
groups:
  - name: 客户级别
    was: [客户等级]
    prune: true
    tags: [重要客户, {name: 普通客户, was: [一般客户]}, 潜在客户]
  - name: 客户来源
    tags: [官网咨询, 线下活动, 老客户转介绍]
  - name: 售后服务
    tags: [已回访, 投诉处理]
"#,
        );
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
        let mut state = e.state();
        state.sort();
        assert_eq!(
            state,
            [
                "售后服务: 已回访, 投诉处理",
                "客户来源: 官网咨询, 线下活动, 老客户转介绍",
                "客户级别: 重要客户, 普通客户, 潜在客户",
            ],
            "seed {seed}"
        );
        let b = e.store.bindings("yzj").await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (3, 8), "seed {seed}");
        assert!(
            e.store.pending_intents("yzj").await.unwrap().is_empty(),
            "seed {seed}"
        );
    }
}

/// TRACE-level logs of a full apply (the token travels in the query of reads and in the body of
/// writes), failures and retries included, never contain the token; neither does the mirror.
#[tokio::test]
async fn no_secret_in_trace_logs_or_the_mirror() {
    let capture = crate::support::LogCapture::start();

    let e = env(STATE, FaultSpec::default()).await;
    e.sim
        .fail_next("/smart-tag/batchAddTag", sim::FaultKind::Lost, 1);
    e.sim
        .fail_next("/smart-tag/add", sim::FaultKind::Http500, 2);
    e.sim.fail_next("/smart-tag/list", sim::FaultKind::Reset, 1);
    let r = e.apply(&desired(TWO_GROUPS)).await;
    assert!(r.converged(), "{r:?}");
    // A rejected write too (a rename onto a taken name), so that error paths are logged.
    let _ = e
        .client
        .edit_group("10", Some("售后服务"), None)
        .await
        .unwrap_err();

    let logs = capture.text();
    assert!(logs.contains("endpoint"), "no request spans:\n{logs}");
    assert!(logs.contains("Retrying"), "no retry was logged:\n{logs}");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    for run in e.store.runs("yzj", 10).await.unwrap() {
        for op in e.store.operations(run.id).await.unwrap() {
            assert!(!format!("{op:?}").contains(TOKEN));
        }
        assert!(!format!("{run:?}").contains(TOKEN));
    }
}

/// The Must-show of issue 10 (docs/BENCHMARKS.md): a bootstrap of G groups costs G writes (one
/// `batchAddTag` with `group_id: 0` per group) plus the list pages: one page of the empty account
/// before, and ⌈G/100⌉ pages of the list that ends the round and learns every new id.
#[tokio::test]
async fn a_bootstrap_of_g_groups_is_g_writes_plus_the_list_pages() {
    const G: usize = 120;
    let e = env("", FaultSpec::default()).await;
    let yaml: String = std::iter::once("groups:\n".to_owned())
        .chain((1..=G).map(|i| format!("  - {{name: 分组{i:03}, tags: [甲, 乙, 丙]}}\n")))
        .collect();
    let r = e.apply(&desired(&yaml)).await;
    assert!(r.converged(), "{r:?}");
    let writes = e.sim.writes();
    assert_eq!(writes.len(), G);
    assert!(
        writes.iter().all(|c| c.path.ends_with("/batchAddTag")
            && c.body.as_ref().unwrap()["group_id"] == json!(0))
    );
    let pages = 1 + G.div_ceil(100);
    assert_eq!(r.api_calls, (G + pages) as u64);
    assert_eq!(
        e.sim.calls().len(),
        G + 3,
        "120 writes, 1 page before, 2 after"
    );
    // Every group and tag is bound, from that one list.
    let b = e.store.bindings("yzj").await.unwrap();
    assert_eq!((b.groups.len(), b.tags.len()), (G, 3 * G));
}

/// Issue 10: the document mixes JSON types (its example: a group's `id` an int, a tag's `id`,
/// `parent_id` and `sort` strings; its table: `tags[0].id int`). Under every reading of the
/// simulator tagsync bootstraps, binds and then reads one page a cycle.
#[tokio::test]
async fn every_reading_of_the_id_types_converges() {
    for numbers in ["example", "ints", "strings"] {
        let e = env(
            &format!("readings: {{numbers: {numbers}}}\n"),
            FaultSpec::default(),
        )
        .await;
        let d = desired(TWO_GROUPS);
        let r = e.apply(&d).await;
        assert!(r.converged(), "{numbers}: {r:?}");
        let b = e.store.bindings("yzj").await.unwrap();
        assert_eq!((b.groups.len(), b.tags.len()), (2, 3), "{numbers}");
        assert_eq!(b.groups["客户级别"], "1", "{numbers}");
        e.sim.clear_log();
        let r = e.apply(&d).await;
        assert!(!r.plan.has_changes(), "{numbers}");
        assert_eq!(e.calls(), ["GET list page=1"], "{numbers}");
    }
}
