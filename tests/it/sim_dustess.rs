//! The Dustess simulator over real loopback HTTP: the one documented endpoint with seed 003's own
//! request example, the response examples field for field, every quirk and code, faults, the rate
//! limit and the call log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tagsync::sim::dustess::{ADD_PATH, Account};
use tagsync::sim::{
    self, FaultKind, FaultSpec, Fixture, ManualClock, SeedFile, SimError, SimHandle, SimOptions,
    SimPlatform,
};

// The seed document's ids.
const DOC_GROUP: &str = "etMXXWDQAAuAHdAub4i-OZwmimhLjXvg";
const DOC_TAG: &str = "etMXXWDQAAdc09chQFrN3s5gy5OnJj3g";

// The quirks fixture's ids.
const LEVEL: &str = "etGroupLevel000000000000000000001";
const SOURCE: &str = "etGroupSource00000000000000000001";
const VIP: &str = "etTagVip00000000000000000000000001";

/// The manual clock's time in milliseconds; answers carry seconds.
const NOW_MS: i64 = 1_750_000_000_000;
const NOW: i64 = 1_750_000_000;

const NEW_G1: &str = "etSimG00000000000000000000000001";
const NEW_T1: &str = "etSimT00000000000000000000000001";
const NEW_T2: &str = "etSimT00000000000000000000000002";

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sim")
        .join(name)
}

fn fixture(file: &str) -> Fixture {
    SeedFile::load(&data_file(file))
        .unwrap()
        .fixture(SimPlatform::Dustess)
        .unwrap()
        .clone()
}

struct Sim {
    h: SimHandle,
    http: reqwest::Client,
}

impl Sim {
    async fn start(fixture: Fixture, faults: &str) -> Sim {
        let opts = SimOptions {
            fixture,
            faults: faults.parse().unwrap(),
            clock: Arc::new(ManualClock::at(NOW_MS)),
            ..SimOptions::default()
        };
        Sim {
            h: sim::start(SimPlatform::Dustess, opts).await.unwrap(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    async fn doc() -> Sim {
        Sim::start(fixture("dustess_doc.yaml"), "none").await
    }

    async fn quirks() -> Sim {
        Sim::start(fixture("dustess_quirks.yaml"), "none").await
    }

    fn url(&self) -> String {
        format!("{}{ADD_PATH}", self.h.base_url())
    }

    async fn try_add(&self, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url())
            .query(&[("accessToken", self.h.token())])
            .json(body)
            .send()
            .await
    }

    /// An `add` that must answer HTTP 200 with JSON.
    async fn add(&self, body: Value) -> Value {
        let resp = self.try_add(&body).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// `(code, data.errcode)` of an `add`.
    async fn codes(&self, body: Value) -> (i64, Option<i64>) {
        let v = self.add(body).await;
        (v["code"].as_i64().unwrap(), v["data"]["errcode"].as_i64())
    }

    fn account<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        self.h.with_state(f).expect("a Dustess simulator")
    }

    /// Live groups as (name, [tag names]), in creation order.
    fn names(&self) -> Vec<(String, Vec<String>)> {
        self.account(|a| {
            a.live_groups()
                .iter()
                .map(|g| {
                    (
                        g.name.clone(),
                        g.tags.iter().map(|t| t.name.clone()).collect(),
                    )
                })
                .collect()
        })
    }
}

/// The seed's success example, verbatim.
fn doc_success() -> Value {
    json!({
        "success": true,
        "code": 0,
        "msg": "ok",
        "data": {
            "errcode": 0,
            "errmsg": "ok",
            "tag_group": {
                "create_time": 1_684_836_846,
                "deleted": false,
                "group_id": DOC_GROUP,
                "group_name": "openAPI专用",
                "order": 0,
                "type": "",
                "tag": [{
                    "create_time": 1_684_840_186,
                    "deleted": false,
                    "id": DOC_TAG,
                    "name": "3号",
                    "order": 2
                }]
            }
        },
        "trace_id": "c5b491a6-6d76-40c8-b3ad-352fea509867"
    })
}

/// The seed's failure example, verbatim.
fn doc_failure() -> Value {
    json!({"success": false, "code": 10001, "msg": "system unknown error", "data": null})
}

/// A value's shape: every key, recursively, with the JSON type of its value (arrays by their first
/// element), so that two answers compare field for field whatever their values.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!("int"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// Replaces the trace id, which is the simulator's own counter.
fn with_trace(mut v: Value, trace: &str) -> Value {
    v["trace_id"] = json!(trace);
    v
}

// ---- The documented endpoint with the seed's own examples. ----

#[tokio::test]
async fn doc_request_example_answers_the_documented_shape() {
    let s = Sim::doc().await;
    // Request-Example1, verbatim: `groupName` is "" and `order` 2 beside a `groupId`.
    let request = json!({
        "groupId": DOC_GROUP,
        "groupName": "",
        "order": 2,
        "tag": [{"name": "测试标签名称", "order": 1}]
    });
    let resp = s.add(request).await;
    assert_eq!(shape(&resp), shape(&doc_success()), "{resp}");
    assert_eq!(
        resp,
        json!({
            "success": true, "code": 0, "msg": "ok",
            "data": {"errcode": 0, "errmsg": "ok", "tag_group": {
                "create_time": 1_684_836_846, "deleted": false, "group_id": DOC_GROUP,
                "group_name": "openAPI专用",
                "order": 0, // the request's group order is not read beside a groupId
                "type": "",
                "tag": [{"create_time": NOW, "deleted": false, "id": NEW_T1, "name": "测试标签名称", "order": 1}]
            }},
            "trace_id": "00000000-0000-4000-8000-000000000001"
        })
    );
    assert_eq!(
        s.names(),
        [(
            "openAPI专用".into(),
            vec!["3号".into(), "测试标签名称".into()]
        )]
    );
}

#[tokio::test]
async fn doc_success_example_is_answered_verbatim_for_its_own_tag() {
    let s = Sim::doc().await;
    // Naming the example's tag, which exists, answers exactly the seed's example.
    let resp = s
        .add(json!({"groupId": DOC_GROUP, "tag": [{"name": "3号", "order": 2}]}))
        .await;
    assert_eq!(
        resp,
        with_trace(doc_success(), "00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(s.account(|a| a.tag_count()), 1, "nothing added");
}

#[tokio::test]
async fn doc_failure_example_is_the_busy_answer() {
    let s = Sim::doc().await;
    s.h.fail_next(ADD_PATH, FaultKind::Busy, 1);
    let resp = s
        .add(json!({"groupName": "新", "tag": [{"name": "x"}]}))
        .await;
    assert_eq!(resp, doc_failure());
    assert_eq!(s.account(|a| a.groups().len()), 1, "busy applies nothing");
    let call = &s.h.calls()[0];
    assert_eq!((call.errcode, call.applied), (Some(10001), false));
}

#[tokio::test]
async fn there_is_no_list_call() {
    let s = Sim::doc().await;
    let url = format!(
        "{}/open-integration-api/tag/v1/qwTag/list?accessToken={}",
        s.h.base_url(),
        s.h.token()
    );
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 404);
    let get = s
        .http
        .get(s.url())
        .query(&[("accessToken", s.h.token())])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405, "add is POST only");
}

// ---- Quirks. ----

#[tokio::test]
async fn a_new_group_takes_its_order_and_the_tags_theirs() {
    let s = Sim::quirks().await;
    let resp = s
        .add(json!({"groupName": "新分组", "order": 7, "tag": [{"name": "a", "order": 3}, {"name": "b"}]}))
        .await;
    assert_eq!(
        resp["data"]["tag_group"],
        json!({
            "create_time": NOW, "deleted": false, "group_id": NEW_G1, "group_name": "新分组",
            "order": 7, "type": "",
            "tag": [
                {"create_time": NOW, "deleted": false, "id": NEW_T1, "name": "a", "order": 3},
                {"create_time": NOW, "deleted": false, "id": NEW_T2, "name": "b", "order": 0},
            ]
        })
    );
}

#[tokio::test]
async fn an_existing_group_name_adds_to_that_group_and_keeps_its_order() {
    let s = Sim::quirks().await;
    let resp = s
        .add(json!({"groupName": "客户等级", "order": 99, "tag": [{"name": "黑卡"}]}))
        .await;
    let g = &resp["data"]["tag_group"];
    assert_eq!(
        (g["group_id"].as_str(), g["order"].as_u64()),
        (Some(LEVEL), Some(10))
    );
    assert_eq!(g["create_time"], 1_700_000_000);
    assert_eq!(g["tag"].as_array().unwrap().len(), 1, "only the tags named");
    assert_eq!(s.account(|a| a.groups().len()), 2);
    assert_eq!(s.names()[0].1, ["VIP", "普通", "黑卡"]);
}

#[tokio::test]
async fn group_id_wins_and_group_name_is_not_read() {
    let s = Sim::quirks().await;
    let name_31 = "名".repeat(31);
    let resp = s
        .add(json!({"groupId": SOURCE, "groupName": name_31, "tag": [{"name": "官网"}]}))
        .await;
    assert_eq!(resp["data"]["tag_group"]["group_id"], SOURCE, "{resp}");
    assert_eq!(
        s.names()[1],
        ("来源".into(), vec!["展会".into(), "官网".into()])
    );
}

#[tokio::test]
async fn a_name_already_there_makes_no_tag_and_answers_the_existing_one() {
    let s = Sim::quirks().await;
    let resp = s
        .add(json!({"groupId": LEVEL, "tag": [{"name": "新", "order": 5}, {"name": "新", "order": 6}, {"name": "VIP", "order": 9}]}))
        .await;
    let tags = resp["data"]["tag_group"]["tag"].as_array().unwrap().clone();
    assert_eq!(tags.len(), 2, "duplicates in one call make one tag");
    assert_eq!(
        (tags[0]["name"].as_str(), tags[0]["order"].as_u64()),
        (Some("新"), Some(5))
    );
    assert_eq!(
        (tags[1]["id"].as_str(), tags[1]["order"].as_u64()),
        (Some(VIP), Some(2)),
        "the existing tag, with its own order"
    );
    assert_eq!(s.account(|a| a.tag_count()), 4);
    // Repeating the whole call (as after a lost answer) answers the same ids and adds nothing.
    let again = s
        .add(json!({"groupId": LEVEL, "tag": [{"name": "新", "order": 5}, {"name": "VIP", "order": 9}]}))
        .await;
    assert_eq!(again["data"]["tag_group"]["tag"][0]["id"], tags[0]["id"]);
    assert_eq!(s.account(|a| a.tag_count()), 4);
}

#[tokio::test]
async fn at_most_100_tags_per_call() {
    let s = Sim::quirks().await;
    let tags = |n: usize| -> Value { (0..n).map(|i| json!({"name": format!("t{i}")})).collect() };
    let resp = s.add(json!({"groupName": "大", "tag": tags(101)})).await;
    assert_eq!(
        (
            resp["success"].as_bool(),
            resp["code"].as_i64(),
            &resp["data"]
        ),
        (Some(false), Some(400), &Value::Null)
    );
    assert_eq!(s.account(|a| a.groups().len()), 2, "nothing applied");
    assert_eq!(
        s.codes(json!({"groupName": "大", "tag": tags(100)})).await,
        (0, Some(0))
    );
    assert_eq!(s.account(|a| a.tag_count()), 103);
}

#[tokio::test]
async fn names_are_at_most_30_characters_counted_as_characters() {
    let s = Sim::quirks().await;
    // 30 CJK characters are 90 bytes.
    let (n30, n31) = ("组".repeat(30), "组".repeat(31));
    let tag = json!([{"name": "x"}]);
    assert_eq!(
        s.codes(json!({"groupName": n31, "tag": tag})).await,
        (400, None)
    );
    let both = json!({"groupId": LEVEL, "tag": [{"name": "fine"}, {"name": n31}]});
    assert_eq!(s.codes(both).await, (400, None));
    assert_eq!(s.account(|a| a.tag_count()), 3, "all or nothing");
    assert_eq!(
        s.codes(json!({"groupName": n30, "tag": [{"name": n30}]}))
            .await,
        (0, Some(0))
    );
}

#[tokio::test]
async fn orders_are_integers_in_0_to_2_pow_32() {
    let s = Sim::quirks().await;
    for bad in [json!(-1), json!(4_294_967_296_u64), json!(1.5), json!("2")] {
        assert_eq!(
            s.codes(json!({"groupName": "新", "order": bad, "tag": [{"name": "x"}]}))
                .await,
            (400, None),
            "{bad}"
        );
        assert_eq!(
            s.codes(json!({"groupId": LEVEL, "tag": [{"name": "x", "order": bad}]}))
                .await,
            (400, None),
            "{bad}"
        );
    }
    assert_eq!(s.account(|a| a.tag_count()), 3);
    let max = 4_294_967_295_u64;
    let resp = s
        .add(json!({"groupName": "新", "order": max, "tag": [{"name": "x", "order": max}]}))
        .await;
    assert_eq!(resp["data"]["tag_group"]["order"], max);
    assert_eq!(resp["data"]["tag_group"]["tag"][0]["order"], max);
}

#[tokio::test]
async fn group_id_and_group_name_cannot_both_be_empty() {
    let s = Sim::quirks().await;
    let tag = json!([{"name": "x"}]);
    for body in [
        json!({"tag": tag}),
        json!({"groupId": "", "groupName": "", "tag": tag}),
        json!({"groupName": "  ", "tag": tag}),
    ] {
        let resp = s.add(body.clone()).await;
        assert_eq!(resp["code"], 400, "{body}");
        assert!(resp.get("trace_id").is_none(), "failures carry no trace id");
    }
    assert_eq!(s.account(|a| a.groups().len()), 2);
}

#[tokio::test]
async fn tag_is_required_and_never_empty() {
    let s = Sim::quirks().await;
    assert_eq!(s.codes(json!({"groupName": "空"})).await, (400, None));
    assert_eq!(
        s.codes(json!({"groupName": "空", "tag": []})).await,
        (400, None)
    );
    assert_eq!(
        s.codes(json!({"groupName": "空", "tag": [{"name": " "}]}))
            .await,
        (400, None)
    );
    assert_eq!(s.account(|a| a.groups().len()), 2);
}

#[tokio::test]
async fn an_unknown_group_id_is_wecom_40068_inside_a_dustess_success() {
    let s = Sim::quirks().await;
    let resp = s
        .add(json!({"groupId": "etNoSuchGroup", "tag": [{"name": "x"}]}))
        .await;
    assert_eq!(
        resp,
        json!({
            "success": true, "code": 0, "msg": "ok",
            "data": {"errcode": 40068, "errmsg": "invalid tagid", "tag_group": null},
            "trace_id": "00000000-0000-4000-8000-000000000001"
        })
    );
    let call = &s.h.calls()[0];
    assert_eq!((call.errcode, call.applied), (Some(40068), false));
    assert_eq!(s.account(|a| a.tag_count()), 3);
}

#[tokio::test]
async fn console_deletions_are_invisible_but_felt() {
    let s = Sim::quirks().await;
    assert!(s.account(|a| a.delete_in_console(LEVEL)));
    assert!(s.account(|a| a.delete_in_console(s_fair())));
    assert!(!s.account(|a| a.delete_in_console("etNoSuch")));
    // By id: the deleted group is gone for the API.
    assert_eq!(
        s.codes(json!({"groupId": LEVEL, "tag": [{"name": "x"}]}))
            .await,
        (0, Some(40068))
    );
    // By name: a new group of that name; a deleted tag's name makes a new tag.
    let resp = s
        .add(json!({"groupName": "客户等级", "tag": [{"name": "VIP"}]}))
        .await;
    assert_eq!(resp["data"]["tag_group"]["group_id"], NEW_G1);
    let resp = s
        .add(json!({"groupId": SOURCE, "tag": [{"name": "展会"}]}))
        .await;
    assert_eq!(resp["data"]["tag_group"]["tag"][0]["id"], NEW_T2);
    assert_eq!(
        s.names(),
        [
            ("来源".into(), vec!["展会".into()]),
            ("客户等级".into(), vec!["VIP".into()])
        ]
    );
    assert_eq!(
        s.account(|a| a.groups().len()),
        3,
        "the deleted one is kept, flagged"
    );
}

fn s_fair() -> &'static str {
    "etTagFair0000000000000000000000001"
}

#[tokio::test]
async fn unknown_fields_and_bodies_that_are_not_json_are_refused() {
    let s = Sim::quirks().await;
    // `group_id` is how the answer spells it; the request spells it `groupId`.
    assert_eq!(
        s.codes(json!({"group_id": LEVEL, "tag": [{"name": "x"}]}))
            .await,
        (400, None)
    );
    assert_eq!(
        s.codes(json!({"groupId": LEVEL, "tag": [{"name": "x", "id": "t"}]}))
            .await,
        (400, None)
    );
    let not_json = s
        .http
        .post(s.url())
        .query(&[("accessToken", s.h.token())])
        .body("groupName=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.json::<Value>().await.unwrap()["code"], 400);
    assert_eq!(s.account(|a| a.tag_count()), 3);
}

#[tokio::test]
async fn a_missing_or_wrong_access_token_is_refused() {
    let s = Sim::quirks().await;
    let body = json!({"groupName": "新", "tag": [{"name": "x"}]});
    let missing: Value = s
        .http
        .post(s.url())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        missing,
        json!({"success": false, "code": 401, "msg": "invalid accessToken", "data": null})
    );
    let wrong: Value = s
        .http
        .post(s.url())
        .query(&[("accessToken", "not-the-token")])
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["code"], 401);
    assert_eq!(s.account(|a| a.groups().len()), 2);
}

#[tokio::test]
async fn code_10001_can_hide_an_applied_call() {
    let s = Sim::quirks().await;
    s.account(|a| a.answer_unknown_after_applying(1));
    let body = json!({"groupName": "新", "tag": [{"name": "x"}]});
    assert_eq!(s.add(body.clone()).await, doc_failure());
    assert_eq!(s.account(|a| a.groups().len()), 3, "applied all the same");
    // The repeat answers what the first call made.
    let again = s.add(body).await;
    assert_eq!(again["data"]["tag_group"]["group_id"], NEW_G1);
    assert_eq!(again["data"]["tag_group"]["tag"][0]["id"], NEW_T1);
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

// ---- The call log, faults and the rate limit. ----

#[tokio::test]
async fn the_call_log_records_every_call_without_the_access_token() {
    let s = Sim::quirks().await;
    s.add(json!({"groupName": "新", "tag": [{"name": "x"}]}))
        .await;
    s.add(json!({"groupId": "etNoSuchGroup", "tag": [{"name": "x"}]}))
        .await;
    let calls = s.h.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", ADD_PATH)
    );
    assert_eq!(calls[0].query["accessToken"], "***");
    assert_eq!(
        (
            calls[0].status,
            calls[0].errcode,
            calls[0].write,
            calls[0].applied
        ),
        (Some(200), Some(0), true, true)
    );
    assert_eq!(
        calls[0].body,
        Some(json!({"groupName": "新", "tag": [{"name": "x"}]}))
    );
    assert_eq!((calls[1].errcode, calls[1].applied), (Some(40068), false));
    let everything = format!("{calls:?} {}", serde_json::to_string(&calls).unwrap());
    assert!(!everything.contains("dustess-test-token"), "{everything}");
    assert_eq!(s.h.count(ADD_PATH), 2);
}

#[tokio::test]
async fn http_faults_apply_nothing_and_a_lost_answer_applies_the_write() {
    let s = Sim::quirks().await;
    let body = json!({"groupName": "新", "tag": [{"name": "x"}]});
    for (kind, status) in [(FaultKind::Http500, 500), (FaultKind::Http429, 429)] {
        s.h.fail_next(ADD_PATH, kind, 1);
        assert_eq!(s.try_add(&body).await.unwrap().status(), status, "{kind}");
    }
    s.h.fail_next(ADD_PATH, FaultKind::Reset, 1);
    assert!(s.try_add(&body).await.is_err());
    assert_eq!(s.account(|a| a.groups().len()), 2, "nothing applied");
    s.h.fail_next(ADD_PATH, FaultKind::Lost, 1);
    assert!(s.try_add(&body).await.unwrap_err().status().is_none());
    assert_eq!(s.account(|a| a.groups().len()), 3, "the write happened");
    let lost = s.h.calls().pop().unwrap();
    assert_eq!(
        (lost.fault, lost.status, lost.errcode, lost.applied),
        (Some(FaultKind::Lost), None, Some(0), true)
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_and_applies_nothing() {
    let s = Sim::start(fixture("dustess_quirks.yaml"), "rps=2").await;
    for i in 0..2 {
        let (code, errcode) = s
            .codes(json!({"groupName": format!("组{i}"), "tag": [{"name": "x"}]}))
            .await;
        assert_eq!((code, errcode), (0, Some(0)));
    }
    let resp = s
        .try_add(&json!({"groupName": "多", "tag": [{"name": "x"}]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(s.account(|a| a.groups().len()), 4);
    assert!(s.h.calls().pop().unwrap().rate_limited);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    async fn run() -> Vec<(Option<FaultKind>, Option<u16>, bool)> {
        let s = Sim::start(
            fixture("dustess_quirks.yaml"),
            "seed=5,rate=0.5,kinds=http500+busy+reset+lost,delay=1ms",
        )
        .await;
        for i in 0..12 {
            let _ = s
                .try_add(&json!({"groupName": format!("组{i}"), "tag": [{"name": "x"}]}))
                .await;
        }
        let calls = s.h.calls();
        let created = s.account(|a| a.groups().len()) - 2;
        assert_eq!(created, calls.iter().filter(|c| c.applied).count());
        calls
            .iter()
            .map(|c| (c.fault, c.status, c.applied))
            .collect()
    }
    let first = run().await;
    assert!(
        first.iter().any(|c| c.0 == Some(FaultKind::Busy)),
        "{first:?}"
    );
    assert_eq!(first, run().await);
}

// ---- Fixtures and registration. ----

#[tokio::test]
async fn fixtures_are_checked() {
    let start = |yaml: &str| {
        let fixture = Fixture::from_yaml(yaml).unwrap();
        sim::start(
            SimPlatform::Dustess,
            SimOptions {
                fixture,
                ..SimOptions::default()
            },
        )
    };
    let cases = [
        "groups: [{name: 空}]",
        "groups: [{name: g, tags: [{name: t}]}, {name: g, tags: [{name: u}]}]",
        "groups: [{name: g, tags: [{name: t}, {name: t}]}]",
        "groups: [{name: g, tags: [{id: t, name: t}]}]\ncustomers: [{unionId: u, userId: m, tags: [t]}]",
    ];
    for yaml in cases {
        let err = start(yaml).await.unwrap_err();
        assert!(matches!(err, SimError::Fixture { .. }), "{yaml}: {err}");
    }
    let long = format!(
        "groups: [{{name: g, tags: [{{name: {}}}]}}]",
        "长".repeat(31)
    );
    assert!(matches!(
        start(&long).await.unwrap_err(),
        SimError::Fixture { .. }
    ));

    let h = start("groups: [{name: g, console: true, tags: [{name: t}, {id: etGiven, name: u}]}]")
        .await
        .unwrap();
    assert_eq!(h.token(), sim::DEFAULT_TOKEN);
    let ids = h
        .with_state(|a: &mut Account| {
            let g = &a.groups()[0];
            (g.id.clone(), g.tags[0].id.clone(), g.tags[1].id.clone())
        })
        .unwrap();
    assert_eq!(ids, (NEW_G1.into(), NEW_T1.into(), "etGiven".into()));
}

#[tokio::test]
async fn registered_by_name_and_served_by_start_all() {
    assert_eq!(
        "dustess".parse::<SimPlatform>().unwrap(),
        SimPlatform::Dustess
    );
    assert_eq!(SimPlatform::Dustess.to_string(), "dustess");
    assert!(SimPlatform::ALL.contains(&SimPlatform::Dustess));
    let seed = SeedFile::load(&data_file("dustess_doc.yaml")).unwrap();
    let handles = sim::start_all(None, &seed, &FaultSpec::default())
        .await
        .unwrap();
    let h = handles
        .iter()
        .find(|h| h.platform() == SimPlatform::Dustess)
        .unwrap();
    assert_eq!(h.token(), "dustess-doc-token");
    let resp: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!(
            "{}{ADD_PATH}?accessToken={}",
            h.base_url(),
            h.token()
        ))
        .json(&json!({"groupId": DOC_GROUP, "tag": [{"name": "3号", "order": 2}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        resp,
        with_trace(doc_success(), "00000000-0000-4000-8000-000000000001")
    );
}
