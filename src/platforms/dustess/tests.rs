//! The adapter parses seed 003's own examples, verbatim, and classifies every kind of answer.

use reqwest::StatusCode;
use serde_json::json;

use super::client::{Target, add_request, classify, to_group};
use super::wire;
use crate::model::NewTag;
use crate::platforms::http::Verdict;

/// The seed's success example, byte for byte (note `trace_id`, where the table says `traceId`).
const SUCCESS_EXAMPLE: &str = r#"{
"success": true,
"code": 0,
"msg": "ok",
"data": {
"errcode": 0,
"errmsg": "ok",
"tag_group": {
"create_time": 1684836846,
"deleted": false,
"group_id": "etMXXWDQAAuAHdAub4i-OZwmimhLjXvg",
"group_name": "openAPI专用",
"order": 0,
"type": "",
"tag": [{
"create_time": 1684840186,
"deleted": false,
"id": "etMXXWDQAAdc09chQFrN3s5gy5OnJj3g",
"name": "3号",
"order": 2
}]
}
},
"trace_id": "c5b491a6-6d76-40c8-b3ad-352fea509867"
}"#;

/// The seed's failure example, byte for byte.
const FAILURE_EXAMPLE: &str = r#"{
"success": false,
"code": 10001,
"msg": "system unknown error",
"data": null
}"#;

fn parse(text: &str) -> wire::Envelope {
    serde_json::from_str(text).unwrap()
}

fn new_tag(name: &str, order: Option<u32>) -> NewTag {
    NewTag {
        key: name.into(),
        name: name.into(),
        order,
    }
}

#[test]
fn parses_the_seed_success_example() {
    let env = parse(SUCCESS_EXAMPLE);
    assert_eq!(
        env.trace_id.as_deref(),
        Some("c5b491a6-6d76-40c8-b3ad-352fea509867")
    );
    let Verdict::Ok(group) = classify(StatusCode::OK, env) else {
        panic!("the seed's success example is a success");
    };
    let g = to_group(group);
    assert_eq!(g.id, "etMXXWDQAAuAHdAub4i-OZwmimhLjXvg");
    assert_eq!(g.name, "openAPI专用");
    assert_eq!(g.order, Some(0));
    assert_eq!(g.created_at.unwrap().timestamp(), 1_684_836_846, "seconds");
    assert_eq!(g.tags.len(), 1);
    assert_eq!(g.tags[0].id, "etMXXWDQAAdc09chQFrN3s5gy5OnJj3g");
    assert_eq!(g.tags[0].name, "3号");
    assert_eq!(g.tags[0].order, Some(2));
    assert_eq!(g.tags[0].created_at.unwrap().timestamp(), 1_684_840_186);
}

#[test]
fn the_seed_failure_example_is_an_unknown_outcome() {
    let env = parse(FAILURE_EXAMPLE);
    assert!(env.data.is_none());
    match classify(StatusCode::OK, env) {
        Verdict::Unknown(why) => assert_eq!(why, "code 10001: system unknown error"),
        other => panic!("10001 may have been applied: {other:?}"),
    }
}

#[test]
fn the_trace_id_is_read_under_either_spelling_and_quoted_in_errors() {
    let env = parse(
        r#"{"success":true,"code":0,"msg":"ok","traceId":"t-1",
            "data":{"errcode":40068,"errmsg":"invalid tagid","tag_group":null}}"#,
    );
    match classify(StatusCode::OK, env) {
        Verdict::Rejected { errcode, message } => {
            assert_eq!(errcode, 40068);
            assert_eq!(message, "invalid tagid (traceId t-1)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn both_layers_must_say_success() {
    // Dustess relayed the call, WeCom refused it: `success` and `code` alone would call it done.
    let env = parse(
        r#"{"success":true,"code":0,"msg":"ok","data":{"errcode":40071,"errmsg":"name exists"}}"#,
    );
    assert!(matches!(
        classify(StatusCode::OK, env),
        Verdict::Rejected { errcode: 40071, .. }
    ));
    // Both codes 0 but `success: false`, or no group: not what the document describes.
    let env = parse(
        r#"{"success":false,"code":0,"msg":"ok","data":{"errcode":0,"errmsg":"ok","tag_group":null}}"#,
    );
    assert!(matches!(
        classify(StatusCode::OK, env),
        Verdict::Protocol(_)
    ));
    let env = parse(r#"{"success":true,"code":0,"msg":"ok","data":null}"#);
    assert!(matches!(
        classify(StatusCode::OK, env),
        Verdict::Protocol(_)
    ));
}

#[test]
fn dustess_level_codes() {
    let fail = |code: i64| {
        parse(&format!(
            r#"{{"success":false,"code":{code},"msg":"m","data":null}}"#
        ))
    };
    assert!(matches!(
        classify(StatusCode::OK, fail(401)),
        Verdict::CredentialExpired(_)
    ));
    assert!(matches!(
        classify(StatusCode::UNAUTHORIZED, fail(0)),
        Verdict::CredentialExpired(_)
    ));
    assert!(matches!(
        classify(StatusCode::OK, fail(400)),
        Verdict::Rejected { errcode: 400, .. }
    ));
}

#[test]
fn relayed_wecom_busy_codes_are_refusals_and_81011_is_not_ours() {
    let wecom = |errcode: i64| {
        parse(&format!(
            r#"{{"success":true,"code":0,"msg":"ok","data":{{"errcode":{errcode},"errmsg":"m"}}}}"#
        ))
    };
    for busy in [-1, 6000, 45009, 45033] {
        assert!(
            matches!(
                classify(StatusCode::OK, wecom(busy)),
                Verdict::Refused(_) | Verdict::Throttled(_)
            ),
            "{busy}"
        );
    }
    assert!(matches!(
        classify(StatusCode::OK, wecom(81011)),
        Verdict::NotOurs { errcode: 81011, .. }
    ));
}

#[test]
fn tags_flagged_deleted_are_not_part_of_the_model() {
    let g: wire::TagGroup = serde_json::from_value(json!({
        "group_id": "g", "group_name": "n", "order": 4294967295u64, "create_time": 0,
        "deleted": false, "type": "",
        "tag": [
            {"id": "a", "name": "a", "order": 1, "create_time": 1, "deleted": true},
            {"id": "b", "name": "b", "create_time": 1, "deleted": false}
        ]
    }))
    .unwrap();
    let g = to_group(g);
    assert_eq!(g.order, Some(u32::MAX));
    assert_eq!(g.created_at, None);
    assert_eq!(g.tags.len(), 1);
    assert_eq!(g.tags[0].order, Some(0), "absent order is the default, 0");
}

#[test]
fn requests_send_only_what_is_set() {
    let tags = [new_tag("测试标签名称", Some(1)), new_tag("b", None)];
    // A new group: by name, with its order.
    let body = serde_json::to_value(add_request(Target::Name("g"), "g", Some(2), &tags)).unwrap();
    assert_eq!(
        body,
        json!({"groupName": "g", "order": 2, "tag": [{"name": "测试标签名称", "order": 1}, {"name": "b"}]})
    );
    // Tags for an existing group: the seed's request example without its ignored fields
    // (`"groupName": ""` and the group `order` are not read beside a `groupId`).
    let body = serde_json::to_value(add_request(
        Target::Id("etMXXWDQAAuAHdAub4i-OZwmimhLjXvg"),
        "g",
        Some(2),
        &tags[..1],
    ))
    .unwrap();
    assert_eq!(
        body,
        json!({"groupId": "etMXXWDQAAuAHdAub4i-OZwmimhLjXvg", "tag": [{"name": "测试标签名称", "order": 1}]})
    );
    // An empty id is never sent.
    let body = serde_json::to_value(add_request(Target::Id(""), "g", None, &tags[1..])).unwrap();
    assert_eq!(body, json!({"groupName": "g", "tag": [{"name": "b"}]}));
}
