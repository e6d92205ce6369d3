//! The adapter parses seed 001's own response examples (JSON5-like in the document; rewritten here
//! as strict JSON with the same fields and values).

use super::client::to_group;
use super::wire;

const LIST_EXAMPLE: &str = r#"{
  "errcode": 0,
  "errmsg": "ok",
  "data": [{
    "id": "et1LpcCQAAGLd4xufTKt4l9ERbTTQQQQ",
    "name": "标签组名",
    "createTimestamp": 1601274190000,
    "order": 0,
    "tags": [{
      "id": "etrRhyBgAAwVm8uMyEc0EMZI1HwmHwmw",
      "name": "标签名",
      "createTimestamp": 1601274190000,
      "order": 0
    }]
  }]
}"#;

#[test]
fn parses_the_seed_list_example() {
    let env: wire::Envelope<Vec<wire::Group>> = serde_json::from_str(LIST_EXAMPLE).unwrap();
    assert_eq!(env.errcode, 0);
    let g = to_group(env.data.unwrap().remove(0));
    assert_eq!(g.id, "et1LpcCQAAGLd4xufTKt4l9ERbTTQQQQ");
    assert_eq!(g.name, "标签组名");
    assert_eq!(g.order, Some(0));
    assert_eq!(g.created_at.unwrap().timestamp_millis(), 1_601_274_190_000);
    assert_eq!(g.tags[0].id, "etrRhyBgAAwVm8uMyEc0EMZI1HwmHwmw");
    assert_eq!(g.tags[0].name, "标签名");
}

#[test]
fn create_response_may_be_one_group_or_a_list() {
    let one = r#"{"errcode":0,"errmsg":"ok","data":{"id":"g","name":"n","createTimestamp":0,"order":5,"tags":[]}}"#;
    let env: wire::Envelope<wire::OneOrMany> = serde_json::from_str(one).unwrap();
    let g = to_group(env.data.unwrap().into_vec().remove(0));
    assert_eq!(g.created_at, None, "0 means not yet synced");
    assert_eq!(g.order, Some(5));
}

#[test]
fn edit_sends_only_what_changes() {
    let body = serde_json::to_value(wire::EditRequest {
        id: "x",
        name: None,
        order: Some(123),
    })
    .unwrap();
    assert_eq!(body, serde_json::json!({"id": "x", "order": 123}));
    let body = serde_json::to_value(wire::CreateRequest {
        group_id: Some("g"),
        group_name: None,
        tag: vec![wire::NewTag { name: "a" }],
    })
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"groupId": "g", "tag": [{"name": "a"}]})
    );
}

#[test]
fn error_envelope_without_data() {
    let env: wire::Envelope<serde_json::Value> =
        serde_json::from_str(r#"{"errcode":-2,"errmsg":"no permission"}"#).unwrap();
    assert_eq!(env.errcode, -2);
    assert!(env.data.is_none());
}
