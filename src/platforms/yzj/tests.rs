//! The adapter parses seed 000's own response examples (copied from the document with only the
//! `HTTP/1.1 200 OK` line and the `//客户信息` comment taken out), and both spellings of every
//! id-like and number-like field.

use reqwest::StatusCode;
use serde_json::json;

use super::client::{classify, to_group};
use super::wire;
use crate::platforms::http::Verdict;

/// 获取自定义标签列表, 响应示例.
const LIST_EXAMPLE: &str = r#"{     "data":[         {             "id":1,             "name":"api分组",             "type":2,             "number":0,             "tags":[                 {                     "id":"2",                     "name":"删",                     "parent_id":"1",                     "sort":"2",                     "contact_cnt":0                 },                 {                     "id":"3",                     "name":"增",                     "parent_id":"1",                     "sort":"1",                     "contact_cnt":0                 }             ]         }     ],     "pager":{         "page":1,         "perPage":20,         "numRecords":1,         "numPages":1,         "firstRecord":0,         "lastRecord":0     },     "errcode":0 }"#;

/// 创建/编辑标签或标签分组, 响应示例.
const ADD_EXAMPLE: &str = r#"{     "data":{         "id":1,         "user_id":2,         "sub_user_id":0,         "corp_id":0,         "module":47,         "name":"api分组",         "type":2,         "is_delete":0,         "number":0,         "parent_id":0,         "ctime":1655969708,         "utime":1655969708,         "sort":0,         "extra":null     },     "errcode":0 }"#;

/// 删除标签或标签分组 and 批量新增标签到标签分组, 响应示例 (the same text).
const NULL_DATA_EXAMPLE: &str = r#"{     "data":null,     "errcode":0 }"#;

/// 给客户打智能标签, 响应示例: `{ "data":{}//客户信息 "errcode":0 }` in the document, which is not
/// JSON; without the comment, and with the comma the comment swallowed.
const UPDATE_CONTACT_EXAMPLE: &str = r#"{     "data":{},     "errcode":0 }"#;

fn ok<T: std::fmt::Debug>(v: Verdict<T>) -> T {
    match v {
        Verdict::Ok(t) => t,
        other => panic!("not a success: {other:?}"),
    }
}

#[test]
fn parses_the_seed_list_example() {
    let env: wire::Envelope<Vec<wire::Group>> = serde_json::from_str(LIST_EXAMPLE).unwrap();
    let (data, pager) = ok(classify(StatusCode::OK, env));
    assert_eq!(pager.unwrap().num_pages, 1);
    let mut groups = data.unwrap();
    assert_eq!(groups.len(), 1);
    let g = to_group(groups.remove(0));
    assert_eq!((g.id.as_str(), g.name.as_str()), ("1", "api分组"));
    assert_eq!(
        g.order, None,
        "the list shows no group sort: unknown, not 0"
    );
    let tags: Vec<(&str, &str, Option<u32>)> = g
        .tags
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str(), t.order))
        .collect();
    assert_eq!(tags, [("2", "删", Some(2)), ("3", "增", Some(1))]);
}

#[test]
fn parses_the_seed_add_example() {
    let env: wire::Envelope<wire::Row> = serde_json::from_str(ADD_EXAMPLE).unwrap();
    let (row, pager) = ok(classify(StatusCode::OK, env));
    let row = row.unwrap();
    assert_eq!((row.id.as_str(), row.name.as_str()), ("1", "api分组"));
    assert!(pager.is_none());
}

#[test]
fn parses_the_seed_delete_batch_add_and_update_contact_examples() {
    let env: wire::Envelope<serde_json::Value> = serde_json::from_str(NULL_DATA_EXAMPLE).unwrap();
    assert_eq!(ok(classify(StatusCode::OK, env)).0, None);
    let env: wire::Envelope<serde_json::Value> =
        serde_json::from_str(UPDATE_CONTACT_EXAMPLE).unwrap();
    assert_eq!(ok(classify(StatusCode::OK, env)).0, Some(json!({})));
}

/// The Must-show of issue 5: ids (and numbers) given as strings and as ints both parse, whichever
/// field the document happens to type one way or the other.
#[test]
fn ids_given_as_strings_and_as_ints_both_parse() {
    let as_documented = json!({
        "data": [{"id": 7, "name": "g", "type": 2, "number": 0,
                  "tags": [{"id": "8", "name": "t", "parent_id": "7", "sort": "5", "contact_cnt": 0}]}],
        "pager": {"page": 1, "perPage": 100, "numRecords": 1, "numPages": 1, "firstRecord": 0, "lastRecord": 0},
        "errcode": 0
    });
    let flipped = json!({
        "data": [{"id": "7", "name": "g", "type": "2", "number": "0",
                  "tags": [{"id": 8, "name": "t", "parent_id": 7, "sort": 5, "contact_cnt": "0"}]}],
        "pager": {"page": "1", "perPage": "100", "numRecords": "1", "numPages": "1", "firstRecord": "0", "lastRecord": "0"},
        "errcode": "0"
    });
    let parse = |v: serde_json::Value| {
        let env: wire::Envelope<Vec<wire::Group>> = serde_json::from_value(v).unwrap();
        let (data, pager) = ok(classify(StatusCode::OK, env));
        (
            data.unwrap().into_iter().map(to_group).collect::<Vec<_>>(),
            pager.unwrap().num_pages,
        )
    };
    let (a, pages_a) = parse(as_documented);
    let (b, pages_b) = parse(flipped);
    assert_eq!(a, b);
    assert_eq!((pages_a, pages_b), (1, 1));
    assert_eq!((a[0].id.as_str(), a[0].tags[0].id.as_str()), ("7", "8"));
    assert_eq!(a[0].tags[0].order, Some(5));

    let row: wire::Envelope<wire::Row> =
        serde_json::from_value(json!({"data": {"id": "12", "name": "x"}, "errcode": 0})).unwrap();
    assert_eq!(row.data.unwrap().id, "12");
}

#[test]
fn odd_values_are_unknown_or_refused() {
    let tag = |sort: serde_json::Value| {
        serde_json::from_value::<wire::Tag>(json!({"id": 1, "name": "t", "sort": sort}))
    };
    // Missing, null or empty: no order known. Outside [0, 2^32): no order known either.
    for sort in [json!(null), json!(""), json!(-1), json!(4_294_967_296_u64)] {
        let t = super::client::to_tag(tag(sort.clone()).unwrap());
        assert_eq!(t.order, None, "{sort}");
    }
    let no_sort: wire::Tag = serde_json::from_value(json!({"id": 1, "name": "t"})).unwrap();
    assert_eq!(no_sort.sort, None);
    assert_eq!(
        super::client::to_tag(tag(json!("4294967295")).unwrap()).order,
        Some(u32::MAX)
    );
    // Not an integer at all: the answer does not match the document.
    assert!(tag(json!("high")).is_err());
    assert!(tag(json!(1.5)).is_err());
    assert!(serde_json::from_value::<wire::Tag>(json!({"id": "", "name": "t"})).is_err());
    assert!(serde_json::from_value::<wire::Tag>(json!({"id": null, "name": "t"})).is_err());
    // A group without `tags` (with_tags=0) has none.
    let g: wire::Group = serde_json::from_value(json!({"id": 1, "name": "g"})).unwrap();
    assert!(g.tags.is_empty());
}

#[test]
fn failures_are_classified() {
    let env = |v: serde_json::Value| -> wire::Envelope<serde_json::Value> {
        serde_json::from_value(v).unwrap()
    };
    let failure = json!({"data": null, "errcode": 1, "errmsg": "标签分组名称`x`已存在"});
    match classify(StatusCode::OK, env(failure.clone())) {
        Verdict::Rejected { errcode, message } => {
            assert_eq!((errcode, message.as_str()), (1, "标签分组名称`x`已存在"));
        }
        other => panic!("{other:?}"),
    }
    // The document shows no failure body: a bare errcode 1 is a rejection too.
    assert!(matches!(
        classify(StatusCode::OK, env(json!({"errcode": 1}))),
        Verdict::Rejected { errcode: 1, .. }
    ));
    assert!(matches!(
        classify(StatusCode::UNAUTHORIZED, env(failure.clone())),
        Verdict::CredentialExpired(_)
    ));
    assert!(matches!(
        classify(StatusCode::FORBIDDEN, env(json!({"errcode": 0}))),
        Verdict::CredentialExpired(_)
    ));
    assert!(matches!(
        classify(StatusCode::BAD_REQUEST, env(json!({"errcode": 0}))),
        Verdict::Protocol(_)
    ));
}

#[test]
fn requests_send_only_what_the_operation_needs() {
    let edit_tag = wire::AddRequest {
        app_id: "app",
        id: 3,
        name: "新名",
        kind: wire::TYPE_TAG,
        parent_id: Some(1),
    };
    assert_eq!(
        serde_json::to_value(edit_tag).unwrap(),
        json!({"app_id": "app", "id": 3, "name": "新名", "type": 1, "parent_id": 1})
    );
    let new_group = wire::AddRequest {
        app_id: "app",
        id: 0,
        name: "组",
        kind: wire::TYPE_GROUP,
        parent_id: None,
    };
    assert_eq!(
        serde_json::to_value(new_group).unwrap(),
        json!({"app_id": "app", "id": 0, "name": "组", "type": 2})
    );
    let batch = wire::BatchAddTagRequest {
        app_id: "app",
        group_id: 1,
        group_name: None,
        tag_names: vec!["增", "删"],
    };
    assert_eq!(
        serde_json::to_value(batch).unwrap(),
        json!({"app_id": "app", "group_id": 1, "tag_names": ["增", "删"]})
    );
    let delete = wire::DeleteRequest {
        app_id: "app",
        id: 1,
    };
    assert_eq!(
        serde_json::to_value(delete).unwrap(),
        json!({"app_id": "app", "id": 1})
    );
}
