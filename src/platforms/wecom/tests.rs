//! The adapter parses seed 002's own response examples (verbatim: they are strict JSON), builds the
//! seed's request shapes, classifies WeCom's errcodes, and shares one token among concurrent calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::client::{Deleted, REFRESH_MARGIN, TokenCache, deleted, status, to_group, token};
use super::wire;
use crate::model::NewTag;
use crate::platforms::Error;
use crate::platforms::http::Verdict;

/// `get_strategy_tag_list`'s response example, verbatim.
const LIST_EXAMPLE: &str = r#"{
"errcode": 0,
"errmsg": "ok",
"tag_group": [{
"group_id": "TAG_GROUPID1",
"group_name": "GOURP_NAME",
"create_time": 1557838797,
"order": 1,
"strategy_id":1,
"tag": [{
"id": "TAG_ID1",
"name": "NAME1",
"create_time": 1557838797,
"order": 1
},
{
"id": "TAG_ID2",
"name": "NAME2",
"create_time": 1557838797,
"order": 2
}
]
}]
}"#;

/// `add_strategy_tag`'s response example, verbatim.
const ADD_EXAMPLE: &str = r#"{
"errcode": 0,
"errmsg": "ok",
"tag_group": {
"group_id": "TAG_GROUPID1",
"group_name": "GOURP_NAME",
"create_time": 1557838797,
"order": 1,
"tag": [{
"id": "TAG_ID1",
"name": "NAME1",
"create_time": 1557838797,
"order": 1
},
{
"id": "TAG_ID2",
"name": "NAME2",
"create_time": 1557838797,
"order": 2
}
]
}
}"#;

/// The response example of `edit_strategy_tag` and `del_strategy_tag`, verbatim.
const OK_EXAMPLE: &str = r#"{
"errcode": 0,
"errmsg": "ok"
}"#;

fn ok<T>(v: Verdict<T>) -> T {
    match v {
        Verdict::Ok(t) => t,
        other => panic!("not ok: {}", describe(&other)),
    }
}

fn describe<T>(v: &Verdict<T>) -> String {
    match v {
        Verdict::Ok(_) => "ok".into(),
        Verdict::Refused(s) | Verdict::Throttled(s) => format!("refused: {s}"),
        Verdict::Unknown(s) => format!("unknown: {s}"),
        Verdict::CredentialExpired(s) => format!("credential: {s}"),
        Verdict::NotOurs { errcode, .. } => format!("not ours {errcode}"),
        Verdict::Rejected { errcode, .. } => format!("rejected {errcode}"),
        Verdict::Protocol(s) => format!("protocol: {s}"),
    }
}

#[test]
fn parses_the_seed_list_example() {
    let r: wire::Response<wire::List> = serde_json::from_str(LIST_EXAMPLE).unwrap();
    let list = ok(status(StatusCode::OK, r));
    assert_eq!(list.tag_group.len(), 1);
    assert_eq!(list.tag_group[0].strategy_id, Some(1));
    let g = to_group(list.tag_group[0].clone());
    assert_eq!(g.id, "TAG_GROUPID1");
    assert_eq!(g.name, "GOURP_NAME");
    assert_eq!(g.order, Some(1));
    assert_eq!(g.created_at.unwrap().timestamp(), 1_557_838_797, "seconds");
    let tags: Vec<(&str, &str, Option<u32>)> = g
        .tags
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str(), t.order))
        .collect();
    assert_eq!(
        tags,
        [("TAG_ID1", "NAME1", Some(1)), ("TAG_ID2", "NAME2", Some(2))]
    );
    assert_eq!(g.tags[1].created_at.unwrap().timestamp(), 1_557_838_797);
}

#[test]
fn parses_the_seed_add_example() {
    let r: wire::Response<wire::Added> = serde_json::from_str(ADD_EXAMPLE).unwrap();
    let g = to_group(ok(status(StatusCode::OK, r)).tag_group.unwrap());
    assert_eq!((g.id.as_str(), g.order), ("TAG_GROUPID1", Some(1)));
    assert_eq!(g.tags.len(), 2);
    assert_eq!(g.tags[0].id, "TAG_ID1");
}

#[test]
fn parses_the_seed_edit_and_delete_example() {
    let r: wire::Response<wire::Empty> = serde_json::from_str(OK_EXAMPLE).unwrap();
    ok(status(StatusCode::OK, r));
    let r: wire::Response<wire::Empty> = serde_json::from_str(OK_EXAMPLE).unwrap();
    assert_eq!(ok(deleted(StatusCode::OK, r)), Deleted::All);
}

#[test]
fn corp_lists_carry_deleted_and_ids_may_be_numbers() {
    let text = json!({
        "errcode": 0, "errmsg": "ok",
        "tag_group": [{
            "group_id": "G", "group_name": "n", "create_time": 0, "order": 5, "deleted": false,
            "tag": [
                {"id": "a", "name": "A", "create_time": 1, "order": 1, "deleted": false},
                {"id": 7, "name": "B", "create_time": 1, "order": 1, "deleted": true}
            ]
        }]
    });
    let r: wire::Response<wire::List> = serde_json::from_value(text).unwrap();
    let list = ok(status(StatusCode::OK, r));
    assert_eq!(list.tag_group[0].tag[1].id, "7");
    let g = to_group(list.tag_group[0].clone());
    assert_eq!(g.created_at, None, "0 is no time");
    assert_eq!(g.tags.len(), 1, "deleted tags are left out");
}

#[test]
fn requests_are_spelled_as_the_seed_and_send_only_what_changes() {
    let tags = [
        NewTag {
            key: "k1".into(),
            name: "TAG_NAME_1".into(),
            order: Some(1),
        },
        NewTag {
            key: "k2".into(),
            name: "TAG_NAME_2".into(),
            order: Some(2),
        },
    ];
    let add = wire::AddRequest {
        strategy_id: Some(1),
        group_id: None,
        group_name: Some("GROUP_NAME"),
        order: Some(1),
        tag: super::client::to_new_tags(&tags),
    };
    assert_eq!(
        serde_json::to_value(&add).unwrap(),
        json!({
            "strategy_id": 1,
            "group_name": "GROUP_NAME",
            "order": 1,
            "tag": [{"name": "TAG_NAME_1", "order": 1}, {"name": "TAG_NAME_2", "order": 2}]
        })
    );
    let rename = wire::EditRequest {
        id: "TAG_ID",
        name: Some("NEW_TAG_NAME"),
        order: None,
    };
    assert_eq!(
        serde_json::to_value(&rename).unwrap(),
        json!({"id": "TAG_ID", "name": "NEW_TAG_NAME"}),
        "a rename alone must not reset the order"
    );
    let del = wire::DeleteRequest {
        tag_id: &["TAG_ID_1".to_owned(), "TAG_ID_2".to_owned()],
        group_id: &[],
    };
    assert_eq!(
        serde_json::to_value(&del).unwrap(),
        json!({"tag_id": ["TAG_ID_1", "TAG_ID_2"]})
    );
    let list = wire::ListRequest {
        strategy_id: None,
        tag_id: &[],
        group_id: &[],
    };
    assert_eq!(serde_json::to_value(&list).unwrap(), json!({}));
    let mark = wire::MarkRequest {
        userid: "zhangsan",
        external_userid: "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA",
        add_tag: &["TAG1".to_owned()],
        remove_tag: &[],
    };
    assert_eq!(
        serde_json::to_value(&mark).unwrap(),
        json!({"userid": "zhangsan", "external_userid": "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "add_tag": ["TAG1"]})
    );
}

fn code(errcode: i64) -> String {
    let text = format!(r#"{{"errcode":{errcode},"errmsg":"m"}}"#);
    let r: wire::Response<wire::Empty> = serde_json::from_str(&text).unwrap();
    describe(&status(StatusCode::OK, r))
}

#[test]
fn every_errcode_is_classified() {
    for busy in [-1, 6000, 45009, 45033] {
        assert_eq!(code(busy), format!("refused: m (errcode {busy})"));
    }
    for token in [40014, 41001, 42001] {
        assert_eq!(code(token), format!("credential: m (errcode {token})"));
    }
    assert_eq!(code(81011), "not ours 81011");
    for permanent in [40001, 40068, 40071, 40072, 40126, 48002, 60020, 12345] {
        assert_eq!(code(permanent), format!("rejected {permanent}"));
    }
}

#[test]
fn a_delete_of_an_id_already_gone_is_success() {
    let r: wire::Response<wire::Empty> =
        serde_json::from_str(r#"{"errcode":40068,"errmsg":"invalid tagid"}"#).unwrap();
    assert_eq!(ok(deleted(StatusCode::OK, r)), Deleted::SomeWereGone);
    let r: wire::Response<wire::Empty> =
        serde_json::from_str(r#"{"errcode":81011,"errmsg":"no privilege"}"#).unwrap();
    assert_eq!(describe(&deleted(StatusCode::OK, r)), "not ours 81011");
}

#[test]
fn gettoken_answers() {
    let r: wire::Response<wire::Token> = serde_json::from_value(json!({
        "errcode": 0, "errmsg": "ok", "access_token": "accesstoken000001", "expires_in": 7200
    }))
    .unwrap();
    assert!(
        !format!("{r:?}").contains("accesstoken000001"),
        "Debug hides it"
    );
    let (t, ttl) = ok(token(StatusCode::OK, r));
    assert_eq!(t.expose_secret(), "accesstoken000001");
    assert_eq!(ttl, Duration::from_secs(7200));
    for bad in [40001, 40013, 41002, 41004] {
        let r: wire::Response<wire::Token> =
            serde_json::from_value(json!({"errcode": bad, "errmsg": "m"})).unwrap();
        assert!(describe(&token(StatusCode::OK, r)).starts_with("credential"));
    }
    let r: wire::Response<wire::Token> =
        serde_json::from_value(json!({"errcode": 45009, "errmsg": "m"})).unwrap();
    assert!(describe(&token(StatusCode::OK, r)).starts_with("refused"));
}

/// A `gettoken` stand-in that counts its calls and takes 10 ms.
#[derive(Clone, Default)]
struct Fetcher(Arc<AtomicUsize>);

impl Fetcher {
    async fn fetch(&self, ttl: Duration) -> Result<(SecretString, Duration), Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok((SecretString::from(format!("token-{n}")), ttl))
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

const TTL: Duration = Duration::from_secs(7200);

#[tokio::test(start_paused = true)]
async fn twenty_callers_on_a_cold_cache_share_one_fetch() {
    let cache = Arc::new(TokenCache::default());
    let f = Fetcher::default();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (cache, f) = (cache.clone(), f.clone());
        set.spawn(async move {
            let t = cache.get(|| f.fetch(TTL)).await.unwrap();
            t.expose_secret().to_owned()
        });
    }
    let tokens = set.join_all().await;
    assert_eq!(f.count(), 1);
    assert!(tokens.iter().all(|t| t == "token-1"));
}

#[tokio::test(start_paused = true)]
async fn the_token_is_refreshed_early_before_expires_in() {
    let cache = TokenCache::default();
    let f = Fetcher::default();
    let get = || async { cache.get(|| f.fetch(TTL)).await.unwrap() };
    assert_eq!(get().await.expose_secret(), "token-1");
    tokio::time::advance(TTL - REFRESH_MARGIN - Duration::from_secs(1)).await;
    assert_eq!(get().await.expose_secret(), "token-1", "still fresh");
    assert_eq!(f.count(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        get().await.expose_secret(),
        "token-2",
        "refreshed {}s before it expires",
        REFRESH_MARGIN.as_secs() - 1
    );
    assert_eq!(f.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_early_refresh_keeps_the_live_token() {
    let cache = TokenCache::default();
    let f = Fetcher::default();
    cache.get(|| f.fetch(TTL)).await.unwrap();
    tokio::time::advance(TTL - Duration::from_secs(60)).await;
    let busy = || async {
        Err(Error::Exhausted {
            endpoint: "gettoken",
            attempts: 3,
            last: "busy".into(),
        })
    };
    assert_eq!(cache.get(busy).await.unwrap().expose_secret(), "token-1");
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(
        cache.get(busy).await.is_err(),
        "expired: no token to fall back on"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_answer_does_not_start_a_stampede() {
    // `gettoken` answering a live token with only 3 s left: used until it runs out.
    let cache = TokenCache::default();
    let f = Fetcher::default();
    for _ in 0..10 {
        cache.get(|| f.fetch(Duration::from_secs(3))).await.unwrap();
    }
    assert_eq!(f.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_is_replaced_once_for_all_callers() {
    let cache = Arc::new(TokenCache::default());
    let f = Fetcher::default();
    let refused = cache.get(|| f.fetch(TTL)).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (cache, f, refused) = (cache.clone(), f.clone(), refused.clone());
        set.spawn(async move {
            let t = cache.replace(&refused, || f.fetch(TTL)).await.unwrap();
            t.expose_secret().to_owned()
        });
    }
    let tokens = set.join_all().await;
    assert_eq!(
        f.count(),
        2,
        "one fetch for the cold cache, one replacement"
    );
    assert!(tokens.iter().all(|t| t == "token-2"));
}
