//! The Juzibot adapter alone against the simulator over loopback: every call, every errcode.

use tagsync::model::RemoteGroup;
use tagsync::planner::NewTag;
use tagsync::platforms::Error;
use tagsync::sim::FaultSpec;

use crate::juzibot_e2e::{TOKEN, env};

fn new(names: &[&str]) -> Vec<NewTag> {
    names
        .iter()
        .map(|n| NewTag {
            key: n.to_string(),
            name: n.to_string(),
            order: None,
        })
        .collect()
}

const STATE: &str = r#"
groups:
  - id: g1
    name: 客户等级
    order: 5
    tags:
      - { id: t1, name: 重要客户, order: 2 }
      - { id: t2, name: 一般客户, order: 1 }
  - id: g2
    name: 售后服务
    console: true
    tags:
      - { id: t3, name: 已回访 }
"#;

#[tokio::test]
async fn list_maps_every_field() {
    let e = env(STATE, FaultSpec::default()).await;
    let s = e.client.list().await.unwrap();
    let g: &RemoteGroup = s.group("g1").unwrap();
    assert_eq!((g.name.as_str(), g.order), ("客户等级", Some(5)));
    assert_eq!(
        g.tags
            .iter()
            .map(|t| (t.id.as_str(), t.name.as_str(), t.order))
            .collect::<Vec<_>>(),
        [("t1", "重要客户", Some(2)), ("t2", "一般客户", Some(1))]
    );
    assert!(g.created_at.is_some());
    assert_eq!(e.calls(), ["GET tag/list"]);
    assert_eq!(
        e.sim.calls()[0].query["token"],
        "***",
        "the call log redacts the token"
    );
    assert_eq!(e.client.api_calls(), 1);
}

#[tokio::test]
async fn each_write_makes_one_call_with_the_documented_body() {
    let e = env(STATE, FaultSpec::default()).await;
    let g = e
        .client
        .create_group("购买意向", None, &new(&["高意向", "低意向"]))
        .await
        .unwrap();
    assert_eq!(g.tags.len(), 2);
    let added = e
        .client
        .add_tags("g1", "客户等级", &new(&["潜在客户"]))
        .await
        .unwrap();
    assert_eq!(added.len(), 1);
    e.client
        .edit_group("g1", Some("客户级别"), None)
        .await
        .unwrap();
    e.client.edit_tag("g1", "t2", None, Some(7)).await.unwrap();
    e.client
        .delete_tags(&["t1".to_string(), added[0].id.clone()])
        .await
        .unwrap();
    let bodies: Vec<String> = e
        .sim
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.path, c.body.as_ref().unwrap()))
        .collect();
    assert_eq!(
        bodies,
        [
            r#"/api/v1/tag/create {"groupName":"购买意向","tag":[{"name":"高意向"},{"name":"低意向"}]}"#.to_string(),
            r#"/api/v1/tag/create {"groupId":"g1","tag":[{"name":"潜在客户"}]}"#.to_string(),
            r#"/api/v1/tagGroup/edit {"id":"g1","name":"客户级别"}"#.to_string(),
            r#"/api/v1/tag/edit {"id":"t2","order":7}"#.to_string(),
            format!(r#"/api/v1/tag/delete {{"id":["t1","{}"]}}"#, added[0].id),
        ]
    );
}

#[tokio::test]
async fn errcodes_are_classified() {
    let e = env(STATE, FaultSpec::default()).await;
    // -2: a group made in the console.
    let err = e
        .client
        .edit_group("g2", Some("售后"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOurs { errcode: -2, .. }), "{err:?}");
    // -3 / -4: names over 30 characters (validation never lets them through; the API still says so).
    let long = "长".repeat(31);
    let err = e
        .client
        .create_group(&long, None, &new(&["a"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { errcode: -3, .. }),
        "{err:?}"
    );
    let err = e
        .client
        .add_tags("g1", "客户等级", &new(&[&long]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { errcode: -4, .. }),
        "{err:?}"
    );
    // -1: an invalid (empty) group name.
    let err = e
        .client
        .create_group("", None, &new(&["a"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { errcode: -1, .. }),
        "{err:?}"
    );
    // Not in the document (the simulator's choice): a name already taken is a rejection too.
    let err = e
        .client
        .edit_tag("g1", "t2", Some("重要客户"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err:?}");
    // Every one of them was sent exactly once: permanent errors are never retried.
    assert_eq!(e.sim.calls().len(), 5);
}

#[tokio::test]
async fn wrong_token_is_an_error_and_sends_once() {
    let mut e = env(STATE, FaultSpec::default()).await;
    let settings = tagsync::settings::PlatformSettings {
        timeout: std::time::Duration::from_secs(2),
        ..crate::support::settings(
            "juzi",
            tagsync::settings::KindSettings::Juzibot(Default::default()),
            &e.sim.base_url(),
        )
    };
    e.client = tagsync::platforms::connect(
        &settings,
        format!("{TOKEN}-wrong").into(),
        tagsync::platforms::RetryPolicy::fast(),
    )
    .unwrap();
    let err = e.client.list().await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err:?}");
    assert_eq!(e.sim.calls().len(), 1);
}

#[tokio::test]
async fn transient_failures_are_retried_but_a_lost_create_is_not() {
    let e = env(STATE, FaultSpec::default()).await;
    e.sim
        .fail_next("/api/v1/tag/list", tagsync::sim::FaultKind::Http500, 2);
    e.client.list().await.unwrap();
    assert_eq!(e.calls(), ["GET tag/list", "GET tag/list", "GET tag/list"]);
    e.sim.clear_log();
    e.sim
        .fail_next("/api/v1/tag/create", tagsync::sim::FaultKind::Lost, 1);
    let err = e
        .client
        .create_group("购买意向", None, &new(&["高意向"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Indeterminate { .. }), "{err:?}");
    assert_eq!(
        e.calls(),
        ["POST tag/create"],
        "a create whose response was lost is not repeated"
    );
    e.sim.clear_log();
    e.sim
        .fail_next("/api/v1/tag/create", tagsync::sim::FaultKind::Http429, 1);
    e.client
        .create_group("来源", None, &new(&["官网"]))
        .await
        .unwrap();
    assert_eq!(
        e.calls(),
        ["POST tag/create", "POST tag/create"],
        "429 means not processed: repeated"
    );
}
