//! The adapter parses seed 004's own response examples, verbatim, and classifies every kind of
//! envelope.

use reqwest::StatusCode;

use super::client::{Oddities, classify, to_snapshot};
use super::wire;
use crate::platforms::http::Verdict;

/// `GET Label`'s response example, verbatim.
const LABEL_EXAMPLE: &str = r#"{
"errmsg": 20000,
"succeed": true,
"msgTime": "2021-03-30T16:49:01.7151839+08:00",
"values": [
{
"ad_label_id": 263,
"ad_label_name": "A.客户级别",
"ad_choose": 0
}
],
"errdesc": null
}"#;

/// `GET wecahtlabel`'s response example, verbatim (no `errdesc`).
const WECAHTLABEL_EXAMPLE: &str = r#"{
"errmsg": 20000,
"succeed": true,
"msgTime": "2018-05-11T15:40:14.1523923+08:00",
"values": [
{
"ad_label_info_id": 1158,
"ad_label_info_name": "测试超长标签添加测试超长标签添加测试超长标签添加",
"ad_label_id": 189,
"ad_label_time": "2018-01-18T21:17:35.613849+08:00",
"merchant_id": null,
"ad_label_name": "客户意向",
"ad_choose": 0
},
{
"ad_label_info_id": 1072,
"ad_label_info_name": "潜在",
"ad_label_id": 189,
"ad_label_time": "2018-01-05T11:53:23.580502+08:00",
"merchant_id": null,
"ad_label_name": "客户意向",
"ad_choose": 0
},
{
"ad_label_info_id": 1071,
"ad_label_info_name": "成交",
"ad_label_id": 189,
"ad_label_time": "2018-01-05T11:53:10.641563+08:00",
"merchant_id": null,
"ad_label_name": "客户意向",
"ad_choose": 0
},
{
"ad_label_info_id": 991,
"ad_label_info_name": "零售",
"ad_label_id": 1,
"ad_label_time": "2017-12-08T10:43:22.802228+08:00",
"merchant_id": null,
"ad_label_name": "职务",
"ad_choose": 0
},
{
"ad_label_info_id": 976,
"ad_label_info_name": "炒股",
"ad_label_id": 1,
"ad_label_time": "2017-12-07T10:24:22.527081+08:00",
"merchant_id": null,
"ad_label_name": "职务",
"ad_choose": 0
}
]
}"#;

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> wire::Envelope<T> {
    serde_json::from_str(text).unwrap()
}

fn ok<T: std::fmt::Debug>(v: Verdict<Vec<T>>) -> Vec<T> {
    match v {
        Verdict::Ok(values) => values,
        other => panic!("not a success: {other:?}"),
    }
}

fn categories(json: &str) -> Vec<wire::Category> {
    serde_json::from_str(json).unwrap()
}

fn labels(json: &str) -> Vec<wire::Label> {
    serde_json::from_str(json).unwrap()
}

#[test]
fn parses_the_seed_label_example() {
    let values = ok(classify(
        StatusCode::OK,
        parse::<wire::Category>(LABEL_EXAMPLE),
    ));
    let (snapshot, odd) = to_snapshot(values, Vec::new());
    assert_eq!(odd, Oddities::default());
    assert_eq!(snapshot.groups.len(), 1);
    let g = &snapshot.groups[0];
    assert_eq!((g.id.as_str(), g.name.as_str()), ("263", "A.客户级别"));
    assert_eq!((g.order, g.created_at), (None, None));
    assert!(
        g.tags.is_empty(),
        "a category without labels is an empty group"
    );
}

/// The two examples come from different accounts: every label of the `wecahtlabel` example names
/// a category (189, 1) that the `Label` example does not list. Both listings still make one
/// snapshot: the labels' own category ids and names make their groups.
#[test]
fn parses_the_seed_wecahtlabel_example_and_joins_both_examples() {
    let cats = ok(classify(
        StatusCode::OK,
        parse::<wire::Category>(LABEL_EXAMPLE),
    ));
    let labs = ok(classify(
        StatusCode::OK,
        parse::<wire::Label>(WECAHTLABEL_EXAMPLE),
    ));
    assert_eq!(labs.len(), 5);
    let (snapshot, odd) = to_snapshot(cats, labs);
    assert_eq!(odd.orphan_categories, ["189", "1"]);
    assert!(odd.unplaced_labels.is_empty());
    // `group id name: tag id name, …` per group, in snapshot order.
    let shape: Vec<String> = snapshot
        .groups
        .iter()
        .map(|g| {
            let tags: Vec<String> = g
                .tags
                .iter()
                .map(|t| format!("{} {}", t.id, t.name))
                .collect();
            format!("{} {}: {}", g.id, g.name, tags.join(", "))
        })
        .collect();
    assert_eq!(
        shape,
        [
            "263 A.客户级别: ",
            "189 客户意向: 1158 测试超长标签添加测试超长标签添加测试超长标签添加, 1072 潜在, 1071 成交",
            "1 职务: 991 零售, 976 炒股",
        ]
    );
    let first = &snapshot.groups[1].tags[0];
    assert_eq!(first.order, None);
    assert_eq!(
        first.created_at.unwrap().to_rfc3339(),
        "2018-01-18T13:17:35.613849+00:00",
        "Beijing time, microseconds kept"
    );
}

#[test]
fn labels_attach_to_their_listed_category_whose_name_wins() {
    let cats =
        categories(r#"[{"ad_label_id": 189, "ad_label_name": "客户意向(新)", "ad_choose": 1}]"#);
    let labs = labels(
        r#"[{"ad_label_info_id": 1072, "ad_label_info_name": "潜在", "ad_label_id": "189",
             "ad_label_name": "客户意向", "ad_label_time": "2018-01-05T11:53:23.580502+08:00"}]"#,
    );
    let (snapshot, odd) = to_snapshot(cats, labs);
    assert_eq!(odd, Oddities::default());
    assert_eq!(snapshot.groups.len(), 1);
    assert_eq!(snapshot.groups[0].name, "客户意向(新)");
    assert_eq!(snapshot.groups[0].tags[0].name, "潜在");
}

#[test]
fn ids_parse_as_integers_and_as_strings() {
    let cats = categories(
        r#"[{"ad_label_id": 1, "ad_label_name": "a"}, {"ad_label_id": "2", "ad_label_name": "b"}]"#,
    );
    let labs = labels(
        r#"[{"ad_label_info_id": "10", "ad_label_info_name": "x", "ad_label_id": 1},
            {"ad_label_info_id": 11, "ad_label_info_name": "y", "ad_label_id": "2"}]"#,
    );
    let (snapshot, odd) = to_snapshot(cats, labs);
    assert_eq!(odd, Oddities::default());
    assert_eq!(snapshot.groups[0].tags[0].id, "10");
    assert_eq!(snapshot.groups[1].tags[0].id, "11");
}

#[test]
fn labels_without_a_category_are_left_out_and_duplicates_keep_the_first() {
    let cats = categories(
        r#"[{"ad_label_id": 1, "ad_label_name": "a"}, {"ad_label_id": 1, "ad_label_name": "again"}]"#,
    );
    let labs = labels(
        r#"[{"ad_label_info_id": 10, "ad_label_info_name": "x", "ad_label_id": 1},
            {"ad_label_info_id": 10, "ad_label_info_name": "x again", "ad_label_id": 1},
            {"ad_label_info_id": 12, "ad_label_info_name": "nowhere", "ad_label_id": null},
            {"ad_label_info_id": 13, "ad_label_info_name": "blank", "ad_label_id": ""},
            {"ad_label_info_id": 14, "ad_label_info_name": "orphan", "ad_label_id": 7, "ad_label_name": ""}]"#,
    );
    let (snapshot, odd) = to_snapshot(cats, labs);
    assert_eq!(odd.unplaced_labels, ["12", "13"]);
    assert_eq!(odd.orphan_categories, ["7"]);
    assert_eq!(snapshot.groups.len(), 2);
    assert_eq!(snapshot.groups[0].name, "a");
    assert_eq!(snapshot.groups[0].tags.len(), 1);
    assert_eq!(snapshot.groups[0].tags[0].name, "x");
    assert_eq!(snapshot.groups[1].name, "#7", "no name anywhere: the id");
}

#[test]
fn label_times_without_an_offset_are_beijing_time_and_bad_ones_are_none() {
    let labs = labels(
        r#"[{"ad_label_info_id": 1, "ad_label_info_name": "a", "ad_label_id": 9, "ad_label_time": "2018-01-05T11:53:23.5805023"},
            {"ad_label_info_id": 2, "ad_label_info_name": "b", "ad_label_id": 9, "ad_label_time": "添加时间"}]"#,
    );
    let (snapshot, _) = to_snapshot(Vec::new(), labs);
    let tags = &snapshot.groups[0].tags;
    assert_eq!(
        tags[0].created_at.unwrap().to_rfc3339(),
        "2018-01-05T03:53:23.580502300+00:00"
    );
    assert_eq!(tags[1].created_at, None);
}

/// Every envelope the seed's rules allow, and the ones tagsync reads by the HTTP-status pattern.
#[test]
fn envelopes_are_classified() {
    fn verdict(status: u16, body: &str) -> String {
        let env: wire::Envelope<wire::Category> = serde_json::from_str(body).unwrap();
        let v = classify(StatusCode::from_u16(status).unwrap(), env);
        let kind = match &v {
            Verdict::Ok(_) => "ok",
            Verdict::Refused(_) | Verdict::Throttled(_) => "refused",
            Verdict::Unknown(_) => "unknown",
            Verdict::CredentialExpired(_) => "credential",
            Verdict::NotOurs { .. } => "not ours",
            Verdict::Rejected { .. } => "rejected",
            Verdict::Protocol(_) => "protocol",
        };
        format!("{kind}: {v:?}")
    }
    let cases = [
        (
            200,
            r#"{"errmsg": 20000, "succeed": true, "values": []}"#,
            "ok",
        ),
        (
            200,
            r#"{"errmsg": "20000", "succeed": true, "values": []}"#,
            "ok",
        ),
        (
            200,
            r#"{"errmsg": 20000, "succeed": false, "values": []}"#,
            "rejected",
        ),
        (200, r#"{"errmsg": 20000, "values": []}"#, "rejected"),
        (
            200,
            r#"{"errmsg": 20000, "succeed": true, "values": null}"#,
            "protocol",
        ),
        (
            400,
            r#"{"errmsg": 20000, "succeed": true, "values": []}"#,
            "protocol",
        ),
        (
            200,
            r#"{"errmsg": 40100, "succeed": false, "values": null, "errdesc": "access_token 无效"}"#,
            "credential",
        ),
        (
            200,
            r#"{"errmsg": 40300, "succeed": false, "values": null}"#,
            "credential",
        ),
        (
            401,
            r#"{"errmsg": 40000, "succeed": false, "values": null}"#,
            "credential",
        ),
        (
            403,
            r#"{"errmsg": 20000, "succeed": true, "values": []}"#,
            "credential",
        ),
        (
            200,
            r#"{"errmsg": 42900, "succeed": false, "values": null}"#,
            "refused",
        ),
        (
            200,
            r#"{"errmsg": 50300, "succeed": false, "values": null}"#,
            "refused",
        ),
        (
            200,
            r#"{"errmsg": 50000, "succeed": false, "values": null}"#,
            "unknown",
        ),
        (
            200,
            r#"{"errmsg": 40000, "succeed": false, "values": null, "errdesc": "bad"}"#,
            "rejected",
        ),
        (
            200,
            r#"{"errmsg": "token error", "succeed": false}"#,
            "rejected",
        ),
    ];
    for (status, body, want) in cases {
        let got = verdict(status, body);
        assert!(got.starts_with(&format!("{want}: ")), "{body} → {got}");
    }
    // The platform's words reach the error.
    let got = verdict(
        200,
        r#"{"errmsg": 40000, "succeed": false, "values": null, "errdesc": "bad"}"#,
    );
    assert!(
        got.contains("errcode: 40000") && got.contains("\"bad\""),
        "{got}"
    );
    let got = verdict(200, r#"{"errmsg": "token error", "succeed": false}"#);
    assert!(got.contains("token error"), "{got}");
}

#[test]
fn the_capabilities_allow_listing_only() {
    let caps = super::CAPABILITIES;
    assert!(caps.list && !caps.writable());
    assert!(!caps.has_order);
}
