//! End to end on the 个微 CRM (read only): the real adapter, planner, apply and a SQLite mirror
//! against the simulator over loopback HTTP. Every sync is exactly two reads, whatever the tag
//! files say; every difference is a `!` line and nothing is ever sent.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tagsync::engine::{self, CycleReport as Report};
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::model::{Desired, Snapshot};
use tagsync::planner::{self, DriftCause};
use tagsync::platforms::{self, Error as PlatformError, Platform, RetryPolicy};
use tagsync::settings::Kind;
use tagsync::sim::crm::Account;
use tagsync::sim::{self, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};
use tagsync::store::Store;

const TOKEN: &str = "e2e-crm-secret-9c1d";
const NAME: &str = "crm";

/// Validates a tag file for the platforms `crm` (this CRM) and `juzi` (a writable one). Groups
/// without `platforms:` go where the settings send them by default: only to kinds that can write.
fn desired(yaml: &str) -> Desired {
    let kinds = [(NAME, Kind::WechatCrm), ("juzi", Kind::Juzibot)];
    let ctx = Context {
        known_platforms: kinds.iter().map(|(n, _)| n.to_string()).collect(),
        default_platforms: kinds
            .iter()
            .filter(|(_, k)| k.capabilities().writable())
            .map(|(n, _)| n.to_string())
            .collect(),
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

async fn env(fixture_yaml: &str, faults: FaultSpec, token: &str) -> Env {
    env_with(fixture_yaml, faults, token, RetryPolicy::fast()).await
}

async fn env_with(fixture_yaml: &str, faults: FaultSpec, token: &str, retry: RetryPolicy) -> Env {
    let mut fixture = Fixture::from_yaml(fixture_yaml).unwrap();
    fixture.token = TOKEN.into();
    let sim = sim::start(
        SimPlatform::WechatCrm,
        SimOptions {
            fixture,
            faults,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::mirror(dir.path(), NAME, "wechat_crm").await;
    let settings = crate::support::settings(
        NAME,
        tagsync::settings::KindSettings::WechatCrm(Default::default()),
        &format!("{}/", sim.base_url()),
    );
    let client = platforms::connect(&settings, token.to_string().into(), retry).unwrap();
    Env {
        sim,
        store,
        client,
        _dir: dir,
    }
}

impl Env {
    async fn apply(&self, d: &Desired) -> Report {
        self.run(d, false).await.unwrap()
    }

    async fn run(&self, d: &Desired, dry_run: bool) -> Result<Report, engine::Error> {
        crate::support::cycle(
            &self.store,
            NAME,
            self.client.clone(),
            d,
            crate::support::Cycle {
                dry_run,
                max_rounds: 5,
                max_deletes: 20,
                lease_wait: std::time::Duration::from_secs(60),
            },
        )
        .await
    }

    /// Calls since the last `clear_log`, as `METHOD path?query` lines.
    fn calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .map(|c| {
                let query: Vec<String> = c.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if query.is_empty() {
                    format!("{} {}", c.method, c.path)
                } else {
                    format!("{} {}?{}", c.method, c.path, query.join("&"))
                }
            })
            .collect()
    }

    fn console<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        self.sim.with_state(f).unwrap()
    }
}

/// Every listing: these two calls, in this order, and nothing else.
const LISTING: [&str; 2] = ["GET /Label", "GET /wecahtlabel?categories=-1"];

/// A CRM account as its console made it.
const CONSOLE: &str = r#"
groups:
  - id: "263"
    name: 客户级别
    tags:
      - { id: "1001", name: 重要客户 }
      - { id: "1002", name: 普通客户 }
      - { id: "1003", name: 已流失 }
  - id: "189"
    name: 客户意向
    multiSelect: true
    tags:
      - { id: "1072", name: 潜在 }
      - { id: "1071", name: 成交 }
"#;

/// Exactly what `CONSOLE` holds, named for the CRM.
const MATCHING: &str = r#"
groups:
  - name: 客户级别
    platforms: [crm]
    tags: [重要客户, 普通客户, 已流失]
  - name: 客户意向
    platforms: [crm]
    tags: [潜在, 成交]
"#;

/// Groups and tags as sorted `group: tag, tag` lines, ids left out.
fn names(s: &Snapshot) -> Vec<String> {
    let mut lines: Vec<String> = s
        .groups
        .iter()
        .map(|g| {
            let mut tags: Vec<&str> = g.tags.iter().map(|t| t.name.as_str()).collect();
            tags.sort();
            format!("{}({}): {}", g.name, g.id, tags.join(", "))
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn bootstrap_is_two_reads_and_the_mirror_records_the_listing() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired(MATCHING);
    let r = e.apply(&d).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(e.calls(), LISTING);
    assert_eq!((r.api_calls, r.rounds), (2, 1));
    assert!(
        r.plan.ops.is_empty() && r.plan.drift.is_empty(),
        "{:?}",
        r.plan
    );
    // The mirror holds the listing: `tag_groups` and `tags`.
    let mirror = e.store.mirror_snapshot(NAME).await.unwrap();
    let want = [
        "客户意向(189): 成交, 潜在",
        "客户级别(263): 已流失, 普通客户, 重要客户",
    ];
    assert_eq!(names(&mirror), want);
    assert!(
        mirror.groups.iter().all(|g| g.order.is_none()),
        "no order here"
    );
    let events = e.store.events(NAME).await.unwrap();
    assert_eq!(events.len(), 7, "2 groups and 5 tags created, by the pull");
    // Name matches are remembered: every declared object is bound.
    let b = e.store.bindings(NAME).await.unwrap();
    assert_eq!((b.groups["客户级别"].as_str(), b.tags.len()), ("263", 5));
}

#[tokio::test]
async fn a_no_op_cycle_is_the_same_two_reads() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired(MATCHING);
    e.apply(&d).await;
    e.sim.clear_log();
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), LISTING);
    assert_eq!(r.api_calls, 2);
    assert!(!r.plan.has_changes() && r.plan.drift.is_empty());
    let text = planner::render_text(std::slice::from_ref(&r.plan));
    assert!(
        text.contains("read only: mirrored and reported, never written"),
        "{text}"
    );
    assert!(text.contains("in step: nothing to do"), "{text}");
}

/// A rename in the file (through `was`) and one in the console are both drift: two reads, no call.
#[tokio::test]
async fn renames_are_drift_and_never_sent() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    e.apply(&desired(MATCHING)).await;
    e.console(|a| assert!(a.console_rename_label(1002, "一般客户")));
    e.sim.clear_log();
    let d = desired(
        r#"
groups:
  - name: 客户级别
    platforms: [crm]
    tags: [重要客户, 普通客户, 已流失]
  - name: 购买意向
    was: [客户意向]
    platforms: [crm]
    tags: [潜在, {name: 已成交, was: [成交]}]
"#,
    );
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), LISTING);
    assert!(r.plan.ops.is_empty(), "{:?}", r.plan.ops);
    let drift: Vec<String> = r.plan.drift.iter().map(|d| d.what.clone()).collect();
    assert_eq!(
        drift,
        [
            "rename \"一般客户\" → \"普通客户\": this platform cannot rename tags",
            "rename \"客户意向\" → \"购买意向\": this platform cannot rename groups",
            "rename \"成交\" → \"已成交\": this platform cannot rename tags",
        ]
    );
    assert!(
        r.plan
            .drift
            .iter()
            .all(|d| d.cause == DriftCause::NotSupported)
    );
    // The binding followed the console's rename: still the same label.
    let b = e.store.bindings(NAME).await.unwrap();
    assert_eq!(
        b.tags[&("客户级别".to_string(), "普通客户".to_string())],
        "1002"
    );
}

#[tokio::test]
async fn prune_is_drift_and_deletes_nothing() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired(
        r#"
groups:
  - name: 客户级别
    platforms: [crm]
    prune: true
    tags: [重要客户]
"#,
    );
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), LISTING);
    assert_eq!(r.plan.deletes(), 0);
    let drift: Vec<(Option<String>, String)> = r
        .plan
        .drift
        .iter()
        .map(|d| (d.tag.clone(), d.what.clone()))
        .collect();
    let why = "undeclared under prune, but cannot be deleted here".to_string();
    assert_eq!(
        drift,
        // In listing order: `wecahtlabel` answers the biggest id first.
        [
            (Some("已流失".into()), why.clone()),
            (Some("普通客户".into()), why)
        ]
    );
    assert_eq!(e.console(|a| a.labels().len()), 5);
}

/// Each change the CRM cannot make is a `!` line, and the whole run sends two reads.
#[tokio::test]
async fn every_unsupported_change_is_a_bang_line_and_nothing_is_sent() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired(
        r#"
groups:
  - name: 客户等级
    was: [客户级别]
    platforms: [crm]
    prune: true
    tags: [重要客户, {name: 一般客户, was: [普通客户]}, 潜力客户]
  - name: 购买意向
    platforms: [crm]
    tags: [高意向]
"#,
    );
    // What `tagsync plan` would show, then a real apply.
    let dry = e.run(&d, true).await.unwrap();
    let r = e.apply(&d).await;
    assert_eq!(dry.plan.drift, r.plan.drift);
    assert!(r.plan.ops.is_empty());
    assert_eq!(e.calls(), [LISTING, LISTING].concat());
    let lines: Vec<(String, Option<String>, String)> = r
        .plan
        .drift
        .iter()
        .map(|d| (d.group.clone(), d.tag.clone(), d.what.clone()))
        .collect();
    let s = |v: &str| v.to_string();
    assert_eq!(
        lines,
        [
            (
                s("客户等级"),
                None,
                s("rename \"客户级别\" → \"客户等级\": this platform cannot rename groups")
            ),
            (
                s("客户等级"),
                Some(s("一般客户")),
                s("rename \"普通客户\" → \"一般客户\": this platform cannot rename tags")
            ),
            (
                s("客户等级"),
                Some(s("潜力客户")),
                s("declared but missing: this platform cannot add tags")
            ),
            (
                s("客户等级"),
                Some(s("已流失")),
                s("undeclared under prune, but cannot be deleted here")
            ),
            (
                s("购买意向"),
                None,
                s("declared but missing; this platform cannot create groups")
            ),
        ]
    );
    assert!(
        r.plan
            .drift
            .iter()
            .all(|d| d.cause == DriftCause::NotSupported)
    );
    let text = planner::render_text(std::slice::from_ref(&r.plan));
    assert!(
        text.contains(": 0 write calls: 0 to create, 0 to change, 0 to delete; 5 drift"),
        "{text}"
    );
    assert_eq!(text.matches("\x1b[35m!\x1b[0m").count(), 5, "{text}");
    assert_eq!(text.matches("(not supported here)").count(), 5, "{text}");
    // The state table says the same.
    let states: BTreeSet<String> = e
        .store
        .drift(NAME)
        .await
        .unwrap()
        .iter()
        .map(|row| row.status.clone())
        .collect();
    assert!(states.contains("not_supported"), "{states:?}");
}

/// Without `platforms: [crm]`, a group is not synced here: no `!` line, two reads.
#[tokio::test]
async fn groups_are_not_synced_here_by_default() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired("groups:\n  - {name: 购买意向, tags: [高意向]}\n");
    assert_eq!(d.for_platform(NAME).count(), 0);
    let r = e.apply(&d).await;
    assert_eq!(e.calls(), LISTING);
    assert!(r.plan.ops.is_empty() && r.plan.drift.is_empty());
    // Still mirrored.
    assert_eq!(e.store.mirror_snapshot(NAME).await.unwrap().tag_count(), 5);
}

/// A label whose category `Label` no longer lists keeps its place under the category id and name
/// it carries, in the snapshot, the mirror and the plan.
#[tokio::test]
async fn labels_of_a_deleted_category_stay_in_their_group() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    e.apply(&desired(MATCHING)).await;
    e.console(|a| assert!(a.console_delete_category(189)));
    e.sim.clear_log();
    let snapshot = e.client.list().await.unwrap();
    assert_eq!(
        names(&snapshot),
        [
            "客户意向(189): 成交, 潜在",
            "客户级别(263): 已流失, 普通客户, 重要客户"
        ]
    );
    let r = e.apply(&desired(MATCHING)).await;
    assert!(r.plan.drift.is_empty(), "{:?}", r.plan.drift);
    assert_eq!(e.calls(), [LISTING, LISTING].concat());
    let mirror = e.store.mirror_snapshot(NAME).await.unwrap();
    assert_eq!(names(&mirror), names(&snapshot));
}

/// Console changes reach the mirror on the next pull: a rename, a new label and a deleted one.
#[tokio::test]
async fn the_mirror_follows_the_console() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let d = desired("groups:\n  - {name: 购买意向, tags: [高意向]}\n");
    e.apply(&d).await;
    e.console(|a| {
        assert!(a.console_rename_category(263, "客户等级"));
        assert!(a.console_delete_label(1003));
        assert!(a.console_add_label(189, "复购").is_some());
    });
    e.apply(&d).await;
    assert_eq!(
        names(&e.store.mirror_snapshot(NAME).await.unwrap()),
        [
            "客户意向(189): 复购, 成交, 潜在",
            "客户等级(263): 普通客户, 重要客户",
        ]
    );
    let kinds: Vec<String> = e
        .store
        .events(NAME)
        .await
        .unwrap()
        .iter()
        .skip(7)
        .map(|ev| format!("{:?} {:?} {}", ev.kind, ev.object, ev.remote_id))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}

#[tokio::test]
async fn a_refused_token_fails_the_pull_after_one_call() {
    let e = env(CONSOLE, FaultSpec::default(), "not-the-token").await;
    let err = e.run(&desired(MATCHING), false).await.unwrap_err();
    match &err {
        engine::Error::Pull {
            source: PlatformError::Credential { endpoint, message },
            ..
        } => {
            assert_eq!(*endpoint, "Label");
            assert!(message.contains("40100"), "{message}");
        }
        other => panic!("not a credential error: {other:?}"),
    }
    assert_eq!(e.calls(), ["GET /Label"]);
    assert!(!err.to_string().contains("not-the-token"));
    // The run is recorded as failed, with the reason.
    let runs = e.store.runs(NAME, 1).await.unwrap();
    assert!(
        runs[0].error.as_deref().unwrap().contains("credential"),
        "{runs:?}"
    );
}

/// Busy (50300) and rate-limited (42900) envelopes, HTTP 500 and resets are retried; every call is
/// a read, so repeating is safe.
#[tokio::test]
async fn transient_failures_are_retried() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    e.sim.fail_next("/Label", sim::FaultKind::Busy, 2);
    e.sim.fail_next("/wecahtlabel", sim::FaultKind::Http500, 1);
    e.sim.fail_next("/wecahtlabel", sim::FaultKind::Reset, 1);
    let r = e.apply(&desired(MATCHING)).await;
    assert!(r.converged(), "{r:?}");
    assert_eq!(
        e.calls(),
        [
            "GET /Label",
            "GET /Label",
            "GET /Label",
            "GET /wecahtlabel?categories=-1",
            "GET /wecahtlabel?categories=-1",
            "GET /wecahtlabel?categories=-1",
        ]
    );
    assert_eq!(r.api_calls, 6);

    // One call a second: the second read is refused until the window moves on, which takes
    // longer than the fast policy's whole budget.
    let patient = RetryPolicy {
        max_retries: 10,
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        max_elapsed: Duration::from_secs(5),
    };
    let limited = env_with(CONSOLE, "rps=1".parse().unwrap(), TOKEN, patient).await;
    let r = limited.apply(&desired(MATCHING)).await;
    assert!(r.converged(), "{r:?}");
    let refused = limited
        .sim
        .calls()
        .iter()
        .filter(|c| c.errcode == Some(42900))
        .count();
    assert!(refused >= 1, "the second call comes within the same second");
    assert_eq!(limited.sim.calls().len(), 2 + refused);
}

/// Every write method refuses without a call: the planner never asks, and the adapter would not.
#[tokio::test]
async fn write_methods_are_unsupported_and_send_nothing() {
    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    let c = e.client.as_ref();
    let results = [
        c.create_group("g", None, &[]).await.map(|_| ()),
        c.add_tags("263", "客户级别", &[]).await.map(|_| ()),
        c.edit_group("263", Some("x"), None).await,
        c.edit_tag("1", "1001", Some("x"), None).await,
        c.delete_tags(&["1001".to_string()]).await,
    ];
    for r in results {
        assert!(matches!(r, Err(PlatformError::Unsupported { .. })), "{r:?}");
    }
    assert!(e.sim.calls().is_empty());
    assert_eq!(c.api_calls(), 0);
    assert!(!c.capabilities().writable());
}

/// TRACE-level logs of a run never show the token.
#[tokio::test]
async fn the_token_stays_out_of_logs_and_the_mirror() {
    let capture = crate::support::LogCapture::start();

    let e = env(CONSOLE, FaultSpec::default(), TOKEN).await;
    e.sim.fail_next("/Label", sim::FaultKind::Busy, 1);
    e.console(|a| assert!(a.console_delete_category(189)));
    let r = e.apply(&desired(MATCHING)).await;
    assert!(r.converged(), "{r:?}");
    let logs = capture.text();
    assert!(logs.contains("endpoint"), "no request spans:\n{logs}");
    assert!(
        logs.contains("Labels name categories"),
        "the orphan warning:\n{logs}"
    );
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    for run in e.store.runs(NAME, 10).await.unwrap() {
        assert!(!format!("{run:?}").contains(TOKEN));
    }
}

/// Issue 10: the examples show ids as integers, the label table calls `ad_label_id` a string. Under
/// every reading of the simulator the listing is the same mirror and the same bindings.
#[tokio::test]
async fn every_reading_of_the_id_types_mirrors_the_same() {
    for numbers in ["example", "ints", "strings"] {
        let fixture = format!("readings: {{numbers: {numbers}}}\n{CONSOLE}");
        let e = env(&fixture, FaultSpec::default(), TOKEN).await;
        let r = e.apply(&desired(MATCHING)).await;
        assert!(r.converged(), "{numbers}: {r:?}");
        let mirror = e.store.mirror_snapshot(NAME).await.unwrap();
        assert_eq!(
            names(&mirror),
            [
                "客户意向(189): 成交, 潜在",
                "客户级别(263): 已流失, 普通客户, 重要客户",
            ],
            "{numbers}"
        );
        let b = e.store.bindings(NAME).await.unwrap();
        assert_eq!((b.groups["客户级别"].as_str(), b.tags.len()), ("263", 5));
    }
}
