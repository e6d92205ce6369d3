//! The WeCom simulator over real loopback HTTP: every endpoint with seed 002's own request example
//! (and, for the token, corp tags and marks, the public documentation's), every quirk, every
//! errcode, the framework's faults in WeCom's words, and the call log without secrets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tagsync::sim::wecom::{Corp, DEFAULT_CORP_ID};
use tagsync::sim::{
    self, FaultKind, Fixture, ManualClock, REDACTED, SeedFile, SimError, SimHandle, SimOptions,
    SimPlatform,
};

/// The manual clock's time: what new objects are stamped with (in seconds on the wire).
const NOW: i64 = 1_750_000_000_000;
const NOW_SECS: i64 = NOW / 1000;
const DOC_TIME: i64 = 1_557_838_797;

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sim")
        .join(name)
}

fn fixture(file: &str) -> Fixture {
    SeedFile::load(&data_file(file))
        .unwrap()
        .fixture(SimPlatform::Wecom)
        .unwrap()
        .clone()
}

/// A running simulator, its clock, a client, and a token fetched from it.
struct Sim {
    h: SimHandle,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
    token: String,
}

impl Sim {
    async fn start(fixture: Fixture, faults: &str) -> Sim {
        let corp_id = fixture
            .corp_id
            .clone()
            .unwrap_or_else(|| DEFAULT_CORP_ID.to_owned());
        let clock = Arc::new(ManualClock::at(NOW));
        let opts = SimOptions {
            fixture,
            faults: faults.parse().unwrap(),
            clock: clock.clone(),
            ..SimOptions::default()
        };
        let h = sim::start(SimPlatform::Wecom, opts).await.unwrap();
        let mut s = Sim {
            h,
            clock,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            token: String::new(),
        };
        let t = s.gettoken(&corp_id, s.h.token()).await;
        s.token = t["access_token"].as_str().unwrap().to_owned();
        s.h.clear_log();
        s
    }

    async fn doc() -> Sim {
        Sim::start(fixture("wecom_doc.yaml"), "none").await
    }

    async fn corp_doc() -> Sim {
        Sim::start(fixture("wecom_corp_doc.yaml"), "none").await
    }

    async fn empty() -> Sim {
        Sim::start(Fixture::default(), "none").await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/cgi-bin/{path}", self.h.base_url())
    }

    async fn gettoken(&self, corpid: &str, secret: &str) -> Value {
        self.http
            .get(self.url("gettoken"))
            .query(&[("corpid", corpid), ("corpsecret", secret)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A POST with a raw body and a given token; must answer HTTP 200 with JSON.
    async fn raw(&self, api: &str, token: Option<&str>, body: &str) -> Value {
        let mut req = self
            .http
            .post(self.url(&format!("externalcontact/{api}")))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.query(&[("access_token", t)]);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    async fn post(&self, api: &str, body: Value) -> Value {
        self.raw(api, Some(&self.token), &body.to_string()).await
    }

    async fn code(&self, api: &str, body: Value) -> i64 {
        self.post(api, body).await["errcode"].as_i64().unwrap()
    }

    fn corp<R>(&self, f: impl FnOnce(&mut Corp) -> R) -> R {
        self.h.with_state(f).expect("a WeCom simulator")
    }

    /// Every live group as (name, [tag names]), in creation order.
    fn names(&self) -> Vec<(String, Vec<String>)> {
        self.corp(|c| {
            c.groups()
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

    fn tag_count(&self) -> usize {
        self.corp(|c| c.tag_count())
    }
}

fn ok() -> Value {
    json!({"errcode": 0, "errmsg": "ok"})
}

/// Replaces every leaf by its JSON type, so that two answers can be compared field for field.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!("integer"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// `get_strategy_tag_list`'s and `add_strategy_tag`'s response examples (the latter has no
/// `strategy_id` and one group, not a list).
fn doc_list_response() -> Value {
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "tag_group": [{
            "group_id": "TAG_GROUPID1",
            "group_name": "GOURP_NAME",
            "create_time": 1557838797,
            "order": 1,
            "strategy_id": 1,
            "tag": [
                {"id": "TAG_ID1", "name": "NAME1", "create_time": 1557838797, "order": 1},
                {"id": "TAG_ID2", "name": "NAME2", "create_time": 1557838797, "order": 2}
            ]
        }]
    })
}

fn doc_add_response() -> Value {
    let mut v = doc_list_response();
    let mut group = v["tag_group"][0].take();
    group.as_object_mut().unwrap().remove("strategy_id");
    v["tag_group"] = group;
    v
}

// ---- Every endpoint with the document's own request example. ----

#[tokio::test]
async fn doc_example_gettoken() {
    let s = Sim::doc().await;
    let t = s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    assert_eq!(
        shape(&t),
        json!({"errcode": "integer", "errmsg": "string", "access_token": "string", "expires_in": "integer"})
    );
    assert_eq!(
        (t["errcode"].as_i64(), t["expires_in"].as_i64()),
        (Some(0), Some(7200))
    );
    // Within its lifetime the same token comes back, with the seconds it has left.
    s.clock.advance(100_000);
    let again = s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    assert_eq!(again["access_token"], t["access_token"]);
    assert_eq!(again["expires_in"], 7100);
    assert_eq!(s.corp(|c| c.tokens_issued()), 1);
}

#[tokio::test]
async fn doc_example_get_strategy_tag_list() {
    let s = Sim::doc().await;
    // The seed's request, verbatim: its group ids exist nowhere, and group_id wins over tag_id.
    let request = r#"{
"strategy_id":1,
"tag_id":
[
"etXXXXXXXXXX",
"etYYYYYYYYYY"
],
"group_id":
[
"etZZZZZZZZZZZZZ",
"etYYYYYYYYYYYYY"
]
}"#;
    let resp = s
        .raw("get_strategy_tag_list", Some(&s.token), request)
        .await;
    assert_eq!(resp, json!({"errcode": 0, "errmsg": "ok", "tag_group": []}));
    // The same request naming the example's group answers the seed's response example exactly.
    let request = request.replace("etZZZZZZZZZZZZZ", "TAG_GROUPID1");
    let resp = s
        .raw("get_strategy_tag_list", Some(&s.token), &request)
        .await;
    assert_eq!(resp, doc_list_response());
}

#[tokio::test]
async fn doc_example_add_strategy_tag() {
    let s = Sim::doc().await;
    let request = r#"{
"strategy_id":1,
"group_id": "GROUP_ID",
"group_name": "GROUP_NAME",
"order": 1,
"tag": [{
"name": "TAG_NAME_1",
"order": 1
},
{
"name": "TAG_NAME_2",
"order": 2
}
]
}"#;
    let resp = s.raw("add_strategy_tag", Some(&s.token), request).await;
    assert_eq!(shape(&resp), shape(&doc_add_response()));
    let g = &resp["tag_group"];
    assert_eq!(
        (
            &g["group_id"],
            &g["group_name"],
            &g["create_time"],
            &g["order"]
        ),
        (
            &json!("GROUP_ID"),
            &json!("GROUP_NAME"),
            &json!(DOC_TIME),
            &json!(1)
        )
    );
    let tags: Vec<(&str, i64, i64)> = g["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["order"].as_i64().unwrap(),
                t["create_time"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tags,
        [("TAG_NAME_1", 1, NOW_SECS), ("TAG_NAME_2", 2, NOW_SECS)]
    );
    assert!(g["tag"][0]["id"].as_str().unwrap().starts_with("etSimTag"));
}

#[tokio::test]
async fn doc_example_edit_strategy_tag() {
    let s = Sim::doc().await;
    // The seed's example ends `"order": 1,}`, which is not JSON: the simulator takes JSON.
    let seed_text = "{\n\"id\": \"TAG_ID\",\n\"name\": \"NEW_TAG_NAME\",\n\"order\": 1,\n}";
    assert_eq!(
        s.raw("edit_strategy_tag", Some(&s.token), seed_text).await["errcode"],
        47001
    );
    let json_text = seed_text.replace(",\n}", "\n}");
    assert_eq!(
        s.raw("edit_strategy_tag", Some(&s.token), &json_text).await,
        ok()
    );
    let (name, order) = s.corp(|c| {
        let t = c.tag("TAG_ID").unwrap().1;
        (t.name.clone(), t.order)
    });
    assert_eq!((name.as_str(), order), ("NEW_TAG_NAME", 1));
}

#[tokio::test]
async fn doc_example_del_strategy_tag() {
    let s = Sim::doc().await;
    let seed_text = r#"{
"tag_id": [
"TAG_ID_1",
"TAG_ID_2"
],
"group_id": [
"GROUP_ID_1",
"GROUP_ID_2"
],
}"#;
    assert_eq!(
        s.raw("del_strategy_tag", Some(&s.token), seed_text).await["errcode"],
        47001
    );
    let json_text = seed_text.replace("],\n}", "]\n}");
    assert_eq!(
        s.raw("del_strategy_tag", Some(&s.token), &json_text).await,
        ok()
    );
    let names: Vec<String> = s.names().into_iter().map(|(g, _)| g).collect();
    assert_eq!(names, ["GOURP_NAME", "GROUP_NAME"]);
    assert_eq!(s.names()[1].1, ["TAG_NAME"]);
}

/// The public documentation's `get_corp_tag_list` answer: the seed's shape without `strategy_id`,
/// with `deleted` on groups and tags.
fn corp_list_response() -> Value {
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "tag_group": [{
            "group_id": "TAG_GROUPID1",
            "group_name": "GOURP_NAME",
            "create_time": 1557838797,
            "order": 1,
            "deleted": false,
            "tag": [
                {"id": "TAG_ID1", "name": "NAME1", "create_time": 1557838797, "order": 1, "deleted": false},
                {"id": "TAG_ID2", "name": "NAME2", "create_time": 1557838797, "order": 2, "deleted": false}
            ]
        }]
    })
}

#[tokio::test]
async fn doc_example_get_corp_tag_list() {
    let s = Sim::corp_doc().await;
    let request = json!({
        "tag_id": ["etXXXXXXXXXX", "etYYYYYYYYYY"],
        "group_id": ["TAG_GROUPID1", "etYYYYYYYYYYYYY"]
    });
    assert_eq!(
        s.post("get_corp_tag_list", request).await,
        corp_list_response()
    );
    // No body at all lists everything.
    let all = s.raw("get_corp_tag_list", Some(&s.token), "").await;
    assert_eq!(all["tag_group"].as_array().unwrap().len(), 5);
    assert_eq!(all["tag_group"][0], corp_list_response()["tag_group"][0]);
}

#[tokio::test]
async fn doc_example_add_corp_tag() {
    let s = Sim::corp_doc().await;
    let request = json!({
        "group_id": "GROUP_ID",
        "group_name": "GROUP_NAME",
        "order": 1,
        "tag": [{"name": "TAG_NAME_1", "order": 1}, {"name": "TAG_NAME_2", "order": 2}],
        "agentid": 1000014
    });
    let resp = s.post("add_corp_tag", request).await;
    assert_eq!(shape(&resp), shape(&doc_add_response()));
    assert_eq!(resp["tag_group"]["group_id"], "GROUP_ID");
    assert_eq!(resp["tag_group"]["tag"][1]["name"], "TAG_NAME_2");
}

#[tokio::test]
async fn doc_example_edit_corp_tag() {
    let s = Sim::corp_doc().await;
    let request = json!({"id": "TAG_ID", "name": "NEW_TAG_NAME", "order": 1, "agentid": 1000014});
    assert_eq!(s.post("edit_corp_tag", request).await, ok());
    assert_eq!(
        s.corp(|c| c.tag("TAG_ID").unwrap().1.name.clone()),
        "NEW_TAG_NAME"
    );
}

#[tokio::test]
async fn doc_example_del_corp_tag() {
    let s = Sim::corp_doc().await;
    let request = json!({
        "tag_id": ["TAG_ID_1", "TAG_ID_2"],
        "group_id": ["GROUP_ID_1", "GROUP_ID_2"],
        "agentid": 1000014
    });
    assert_eq!(s.post("del_corp_tag", request).await, ok());
    assert_eq!(s.corp(|c| c.corp_groups().len()), 3);
}

#[tokio::test]
async fn doc_example_mark_tag() {
    let s = Sim::corp_doc().await;
    let request = json!({
        "userid": "zhangsan",
        "external_userid": "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA",
        "add_tag": ["TAGID1", "TAGID2"],
        "remove_tag": ["TAGID3", "TAGID4"]
    });
    assert_eq!(s.post("mark_tag", request).await, ok());
    let tags = s.corp(|c| {
        c.customer_tags("woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "zhangsan")
            .unwrap()
            .clone()
    });
    assert_eq!(tags.into_iter().collect::<Vec<_>>(), ["TAGID1", "TAGID2"]);
}

// ---- Quirks, one test each. ----

#[tokio::test]
async fn list_filters_tag_id_answers_only_those_tags_and_group_id_wins() {
    let s = Sim::doc().await;
    let by_tag = s
        .post(
            "get_strategy_tag_list",
            json!({"tag_id": ["TAG_ID2", "TAG_A", "nope"]}),
        )
        .await;
    let groups: Vec<(&str, Vec<&str>)> = by_tag["tag_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group_id"].as_str().unwrap(),
                g["tag"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("TAG_GROUPID1", vec!["TAG_ID2"]),
            ("GROUP_ID_1", vec!["TAG_A"])
        ]
    );
    let both = s
        .post(
            "get_strategy_tag_list",
            json!({"tag_id": ["TAG_ID2"], "group_id": ["GROUP_ID_2"]}),
        )
        .await;
    assert_eq!(both["tag_group"][0]["group_id"], "GROUP_ID_2");
    assert_eq!(both["tag_group"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn lists_keep_creation_order_and_strategies_apart() {
    let s = Sim::doc().await;
    assert_eq!(
        s.code(
            "add_strategy_tag",
            json!({"strategy_id": 2, "group_name": "GOURP_NAME", "order": 900, "tag": [{"name": "x"}]})
        )
        .await,
        0,
        "the same group name in another strategy is another group"
    );
    let all = s.post("get_strategy_tag_list", json!({})).await;
    let ids: Vec<(&str, i64)> = all["tag_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group_name"].as_str().unwrap(),
                g["strategy_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("GOURP_NAME", 1),
            ("GROUP_NAME", 1),
            ("标签组一", 1),
            ("标签组二", 1),
            ("GOURP_NAME", 2)
        ],
        "creation order, not by order; every strategy without strategy_id"
    );
    let two = s
        .post("get_strategy_tag_list", json!({"strategy_id": 2}))
        .await;
    assert_eq!(two["tag_group"].as_array().unwrap().len(), 1);
    let corp = s.post("get_corp_tag_list", json!({})).await;
    assert_eq!(
        corp["tag_group"],
        json!([]),
        "strategy tags are not corp tags"
    );
}

#[tokio::test]
async fn group_id_ignores_group_name_and_group_order() {
    let s = Sim::doc().await;
    let resp = s
        .post(
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_id": "GROUP_ID_1", "group_name": "别的名字", "order": 77, "tag": [{"name": "丙"}]}),
        )
        .await;
    assert_eq!(resp["tag_group"]["group_name"], "标签组一");
    assert_eq!(resp["tag_group"]["order"], 0);
    assert_eq!(s.names()[2].1, ["甲", "丙"]);
}

#[tokio::test]
async fn an_existing_group_name_adds_to_that_group() {
    let s = Sim::doc().await;
    let resp = s
        .post(
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_name": "标签组二", "order": 50, "tag": [{"name": "丁", "order": 3}]}),
        )
        .await;
    assert_eq!(resp["tag_group"]["group_id"], "GROUP_ID_2");
    assert_eq!(
        resp["tag_group"]["order"], 0,
        "the group's order is left alone"
    );
    assert_eq!(
        resp["tag_group"]["tag"].as_array().unwrap().len(),
        1,
        "only the new tag"
    );
    assert_eq!(s.names().len(), 4);
}

#[tokio::test]
async fn a_new_group_takes_its_order_and_its_tags_orders() {
    let s = Sim::empty().await;
    let resp = s
        .post(
            "add_strategy_tag",
            json!({"strategy_id": 9, "group_name": "新组", "order": 4294967295u64, "tag": [{"name": "a", "order": 5}, {"name": "b"}]}),
        )
        .await;
    let g = &resp["tag_group"];
    assert_eq!(g["group_id"], "etSimGroup000000000001");
    assert_eq!(g["order"], 4_294_967_295u64);
    assert_eq!(g["create_time"], NOW_SECS);
    assert_eq!(
        (&g["tag"][0]["order"], &g["tag"][1]["order"]),
        (&json!(5), &json!(0))
    );
    assert_eq!(g["tag"][0]["id"], "etSimTag000000000001");
}

#[tokio::test]
async fn empty_groups_cannot_be_created() {
    let s = Sim::empty().await;
    let code = s
        .code(
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_name": "空", "tag": []}),
        )
        .await;
    assert_eq!(code, 40058);
    assert!(s.names().is_empty());
}

#[tokio::test]
async fn duplicate_names_in_one_call_make_one_tag() {
    let s = Sim::empty().await;
    let resp = s
        .post(
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_name": "组", "tag": [{"name": "同", "order": 1}, {"name": "同", "order": 2}]}),
        )
        .await;
    assert_eq!(resp["tag_group"]["tag"].as_array().unwrap().len(), 1);
    assert_eq!(
        resp["tag_group"]["tag"][0]["order"], 1,
        "the first one's order"
    );
    assert_eq!(s.tag_count(), 1);
}

#[tokio::test]
async fn a_tag_name_the_group_has_answers_40071() {
    let s = Sim::doc().await;
    let code = s
        .code(
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_id": "GROUP_ID_1", "tag": [{"name": "新"}, {"name": "甲"}]}),
        )
        .await;
    assert_eq!(code, 40071);
    assert_eq!(s.names()[2].1, ["甲"], "all or nothing");
}

#[tokio::test]
async fn edit_works_on_tags_and_groups_and_a_name_alone_keeps_the_order() {
    let s = Sim::doc().await;
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "TAG_GROUPID1", "name": "改名"})
        )
        .await,
        0
    );
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "TAG_ID2", "name": "新名"})
        )
        .await,
        0
    );
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": "TAG_ID1", "order": 9}))
            .await,
        0
    );
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": "TAG_ID1"})).await,
        0,
        "nothing to change"
    );
    s.corp(|c| {
        let g = c.group("TAG_GROUPID1").unwrap();
        assert_eq!((g.name.as_str(), g.order), ("改名", 1));
        assert_eq!((g.tags[1].name.as_str(), g.tags[1].order), ("新名", 2));
        assert_eq!((g.tags[0].name.as_str(), g.tags[0].order), ("NAME1", 9));
    });
}

#[tokio::test]
async fn renames_must_stay_unique_40071() {
    let s = Sim::doc().await;
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "GROUP_ID_1", "name": "标签组二"})
        )
        .await,
        40071
    );
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "TAG_ID1", "name": "NAME2"})
        )
        .await,
        40071
    );
    // A tag may share a name with a tag of another group, and a group keep its own name.
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": "TAG_ID1", "name": "甲"}))
            .await,
        0
    );
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "GROUP_ID_1", "name": "标签组一"})
        )
        .await,
        0
    );
}

#[tokio::test]
async fn deleting_the_last_tag_deletes_the_group_and_customers_lose_tags() {
    let s = Sim::corp_doc().await;
    assert_eq!(
        s.code("del_corp_tag", json!({"tag_id": ["TAG_A"]})).await,
        0
    );
    assert!(s.corp(|c| c.group("GROUP_ID_1").is_none()));
    assert_eq!(
        s.code("del_corp_tag", json!({"tag_id": ["TAGID3"]})).await,
        0
    );
    let tags = s.corp(|c| {
        c.customer_tags("woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "zhangsan")
            .unwrap()
            .len()
    });
    assert_eq!(tags, 0);
}

#[tokio::test]
async fn a_delete_needs_ids_and_every_id_must_exist_40058_40068() {
    let s = Sim::doc().await;
    assert_eq!(s.code("del_strategy_tag", json!({})).await, 40058);
    assert_eq!(
        s.code("del_strategy_tag", json!({"tag_id": [], "group_id": []}))
            .await,
        40058
    );
    assert_eq!(
        s.code("del_strategy_tag", json!({"tag_id": ["TAG_A", "gone"]}))
            .await,
        40068
    );
    assert_eq!(s.tag_count(), 7, "all or nothing");
}

#[tokio::test]
async fn deleted_corp_tags_are_listed_as_deleted_when_asked_for_by_id() {
    let s = Sim::corp_doc().await;
    assert_eq!(
        s.code("del_corp_tag", json!({"tag_id": ["TAG_ID_1", "TAG_A"]}))
            .await,
        0
    );
    let resp = s
        .post(
            "get_corp_tag_list",
            json!({"tag_id": ["TAG_ID_1", "TAG_A", "TAG_ID"]}),
        )
        .await;
    // `id` for a live object, `id†` for a deleted one.
    let mark = |v: &Value, id: &str| {
        let id = v[id].as_str().unwrap();
        if v["deleted"].as_bool().unwrap() {
            format!("{id}†")
        } else {
            id.to_owned()
        }
    };
    let seen: Vec<String> = resp["tag_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let tags: Vec<String> = g["tag"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| mark(t, "id"))
                .collect();
            format!("{}: {}", mark(g, "group_id"), tags.join(", "))
        })
        .collect();
    assert_eq!(seen, ["GROUP_ID: TAG_ID_1†, TAG_ID", "GROUP_ID_1†: TAG_A†"]);
    let by_group = s
        .post("get_corp_tag_list", json!({"group_id": ["GROUP_ID_1"]}))
        .await;
    assert_eq!(by_group["tag_group"][0]["deleted"], true);
    let all = s.post("get_corp_tag_list", json!({})).await;
    assert!(
        !all.to_string().contains("TAG_ID_1"),
        "never in the full list"
    );
}

#[tokio::test]
async fn names_are_at_most_30_characters_40072() {
    let s = Sim::empty().await;
    let thirty = "字".repeat(30);
    let long = "字".repeat(31);
    let add = |group: &str, tag: &str| json!({"strategy_id": 1, "group_name": group, "tag": [{"name": tag}]});
    assert_eq!(
        s.code("add_strategy_tag", add(&thirty, &thirty)).await,
        0,
        "90 bytes, 30 characters"
    );
    assert_eq!(s.code("add_strategy_tag", add(&long, "t")).await, 40072);
    assert_eq!(s.code("add_strategy_tag", add("g", &long)).await, 40072);
    let id = s.corp(|c| c.groups()[0].id.clone());
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": id, "name": long}))
            .await,
        40072
    );
    assert_eq!(
        s.code("add_strategy_tag", add("  ", "t")).await,
        40058,
        "blank"
    );
}

#[tokio::test]
async fn orders_are_in_0_to_2_pow_32_40058() {
    let s = Sim::doc().await;
    for bad in [json!(4_294_967_296u64), json!(-1), json!(1.5), json!("1")] {
        assert_eq!(
            s.code("edit_strategy_tag", json!({"id": "TAG_ID1", "order": bad}))
                .await,
            40058,
            "{bad}"
        );
        let add =
            json!({"strategy_id": 1, "group_name": "n", "order": bad, "tag": [{"name": "t"}]});
        assert_eq!(s.code("add_strategy_tag", add).await, 40058, "{bad}");
    }
    assert_eq!(
        s.code(
            "edit_strategy_tag",
            json!({"id": "TAG_ID1", "order": 4_294_967_295u64})
        )
        .await,
        0
    );
}

#[tokio::test]
async fn at_most_10000_tags_40126() {
    let s = Sim::doc().await;
    s.corp(|c| c.set_tag_limit(8));
    let add = |n: usize| {
        let tags: Vec<Value> = (0..n).map(|i| json!({"name": format!("t{i}")})).collect();
        json!({"strategy_id": 3, "group_name": "多", "tag": tags})
    };
    assert_eq!(s.code("add_strategy_tag", add(2)).await, 40126, "7 + 2 > 8");
    assert_eq!(s.code("add_strategy_tag", add(1)).await, 0);
    assert_eq!(s.tag_count(), 8);
}

const CONSOLE: &str = r#"
groups:
  - { id: G_CONSOLE, name: 后台组, strategyId: 1, console: true, tags: [{ id: T_CONSOLE, name: 后台标签 }] }
  - { id: G_OURS, name: 我们的, strategyId: 1, tags: [{ id: T_OURS, name: 我们的标签 }] }
customers:
  - { unionId: wmEXTERNAL, userId: lisi, tags: [] }
"#;

#[tokio::test]
async fn console_tags_are_not_ours_81011() {
    let s = Sim::start(Fixture::from_yaml(CONSOLE).unwrap(), "none").await;
    let cases = [
        (
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_id": "G_CONSOLE", "tag": [{"name": "x"}]}),
        ),
        (
            "add_strategy_tag",
            json!({"strategy_id": 1, "group_name": "后台组", "tag": [{"name": "x"}]}),
        ),
        ("edit_strategy_tag", json!({"id": "G_CONSOLE", "name": "x"})),
        ("edit_strategy_tag", json!({"id": "T_CONSOLE", "order": 1})),
        ("del_strategy_tag", json!({"tag_id": ["T_CONSOLE"]})),
        ("del_strategy_tag", json!({"group_id": ["G_CONSOLE"]})),
        (
            "del_strategy_tag",
            json!({"tag_id": ["T_OURS", "T_CONSOLE"]}),
        ),
    ];
    for (api, body) in cases {
        assert_eq!(s.code(api, body.clone()).await, 81011, "{api} {body}");
    }
    assert_eq!(s.tag_count(), 2);
    // Marking changes the customer, not the group.
    let mark = json!({"userid": "lisi", "external_userid": "wmEXTERNAL", "add_tag": ["T_CONSOLE"]});
    assert_eq!(s.code("mark_tag", mark).await, 0);
}

#[tokio::test]
async fn ids_belong_to_their_family_and_empty_ids_are_invalid_40068() {
    let s = Sim::doc().await;
    let other_strategy =
        json!({"strategy_id": 2, "group_id": "GROUP_ID_1", "tag": [{"name": "x"}]});
    assert_eq!(s.code("add_strategy_tag", other_strategy).await, 40068);
    let empty_id =
        json!({"strategy_id": 1, "group_id": "", "group_name": "标签组一", "tag": [{"name": "x"}]});
    assert_eq!(
        s.code("add_strategy_tag", empty_id).await,
        40068,
        "\"\" is not absent"
    );
    assert_eq!(
        s.code("edit_corp_tag", json!({"id": "TAG_ID1", "name": "x"}))
            .await,
        40068
    );
    assert_eq!(
        s.code("del_corp_tag", json!({"tag_id": ["TAG_ID1"]})).await,
        40068
    );
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": "", "name": "x"}))
            .await,
        40068
    );
    assert_eq!(
        s.code(
            "add_strategy_tag",
            json!({"strategy_id": 1, "tag": [{"name": "x"}]})
        )
        .await,
        40058
    );
}

#[tokio::test]
async fn malformed_and_misspelt_requests_answer_47001() {
    let s = Sim::doc().await;
    assert_eq!(
        s.raw("add_strategy_tag", Some(&s.token), "not json").await["errcode"],
        47001
    );
    let cases = [
        (
            "add_strategy_tag",
            json!({"group_name": "n", "tag": [{"name": "x"}]}),
        ),
        (
            "add_strategy_tag",
            json!({"strategy_id": 1, "groupName": "n", "tag": [{"name": "x"}]}),
        ),
        (
            "add_strategy_tag",
            json!({"strategy_id": 1, "agentid": 1, "group_name": "n", "tag": [{"name": "x"}]}),
        ),
        (
            "add_corp_tag",
            json!({"strategy_id": 1, "group_name": "n", "tag": [{"name": "x"}]}),
        ),
        ("get_corp_tag_list", json!({"strategy_id": 1})),
        ("edit_strategy_tag", json!({"id": "TAG_ID1", "agentid": 1})),
        ("edit_strategy_tag", json!({"id": 5})),
        ("del_strategy_tag", json!({"tag_id": "TAG_ID1"})),
        ("mark_tag", json!({"userid": "u", "add_tag": ["TAG_ID1"]})),
    ];
    for (api, body) in cases {
        assert_eq!(s.code(api, body.clone()).await, 47001, "{api} {body}");
    }
    assert_eq!(s.tag_count(), 7);
}

#[tokio::test]
async fn mark_adds_then_removes_and_checks_the_contact() {
    let s = Sim::corp_doc().await;
    let mark = |add: Value, remove: Value| json!({"userid": "zhangsan", "external_userid": "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "add_tag": add, "remove_tag": remove});
    assert_eq!(
        s.code("mark_tag", mark(json!(["TAGID1"]), json!(["TAGID1"])))
            .await,
        0
    );
    assert_eq!(s.code("mark_tag", mark(json!([]), json!([]))).await, 40058);
    assert_eq!(
        s.code("mark_tag", mark(json!(["nope"]), json!([]))).await,
        40068
    );
    let stranger = json!({"userid": "lisi", "external_userid": "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "add_tag": ["TAGID1"]});
    assert_eq!(s.code("mark_tag", stranger).await, 84061);
    let tags = s.corp(|c| {
        c.customer_tags("woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA", "zhangsan")
            .unwrap()
            .clone()
    });
    assert_eq!(tags.into_iter().collect::<Vec<_>>(), ["TAGID3"]);
}

// ---- The token. ----

#[tokio::test]
async fn gettoken_checks_the_corp_and_its_secret() {
    let s = Sim::doc().await;
    let code = |v: Value| v["errcode"].as_i64().unwrap();
    assert_eq!(code(s.gettoken("", "wecom-doc-secret").await), 41002);
    assert_eq!(code(s.gettoken("wwother", "wecom-doc-secret").await), 40013);
    assert_eq!(code(s.gettoken("wwdoccorp0000000001", "").await), 41004);
    assert_eq!(
        code(s.gettoken("wwdoccorp0000000001", "wrong").await),
        40001
    );
    let refused = s.gettoken("wwdoccorp0000000001", "wrong").await;
    assert_eq!(
        shape(&refused),
        json!({"errcode": "integer", "errmsg": "string"})
    );
}

#[tokio::test]
async fn tokens_expire_and_can_be_revoked_41001_40014_42001() {
    let s = Sim::doc().await;
    let list = |token: Option<String>| {
        let s = &s;
        async move { s.raw("get_strategy_tag_list", token.as_deref(), "{}").await["errcode"].clone() }
    };
    assert_eq!(list(Some(s.token.clone())).await, 0);
    assert_eq!(list(None).await, 41001);
    assert_eq!(list(Some("made-up".into())).await, 40014);
    s.clock.advance(7_200_000);
    assert_eq!(list(Some(s.token.clone())).await, 42001);
    let fresh = s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    assert_ne!(fresh["access_token"], s.token.as_str());
    assert_eq!(fresh["expires_in"], 7200);
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    assert_eq!(list(Some(fresh.clone())).await, 0);
    s.corp(|c| c.revoke_tokens());
    assert_eq!(list(Some(fresh.clone())).await, 40014);
    let third = s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    assert_ne!(
        third["access_token"],
        fresh.as_str(),
        "a revoked token is not handed out again"
    );
    s.corp(|c| c.set_token_ttl(60));
    s.corp(|c| c.revoke_tokens());
    let short = s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    assert_eq!(short["expires_in"], 60);
}

// ---- Refusals and faults in WeCom's words. ----

#[tokio::test]
async fn busy_answers_minus_1_and_the_rate_limit_45009_applying_nothing() {
    let s = Sim::start(fixture("wecom_doc.yaml"), "rps=3").await;
    s.h.fail_next(
        "/cgi-bin/externalcontact/del_strategy_tag",
        FaultKind::Busy,
        1,
    );
    let del = json!({"tag_id": ["TAG_A"]});
    let busy = s.post("del_strategy_tag", del.clone()).await;
    assert_eq!(busy, json!({"errcode": -1, "errmsg": "system busy"}));
    // The token fetch and the busy call count: one call of the window is left.
    assert_eq!(
        s.code("edit_strategy_tag", json!({"id": "TAG_A", "name": "x"}))
            .await,
        0
    );
    let limited = s.post("del_strategy_tag", del).await;
    assert_eq!(limited["errcode"], 45009);
    assert_eq!(s.tag_count(), 7);
    let calls = s.h.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.errcode, c.applied, c.rate_limited))
            .collect::<Vec<_>>(),
        [
            (Some(-1), false, false),
            (Some(0), true, false),
            (Some(45009), false, true)
        ]
    );
}

#[tokio::test]
async fn scripted_errcodes_45033_6000_48002_60020_apply_nothing() {
    let s = Sim::doc().await;
    s.corp(|c| {
        c.fail_next("add_strategy_tag", 45033, 1);
        c.fail_next("add_strategy_tag", 6000, 1);
        c.fail_next("*", 48002, 1);
        c.fail_next("gettoken", 60020, 1);
    });
    let add = json!({"strategy_id": 1, "group_name": "新", "tag": [{"name": "x"}]});
    assert_eq!(s.code("add_strategy_tag", add.clone()).await, 45033);
    assert_eq!(s.code("add_strategy_tag", add.clone()).await, 6000);
    assert_eq!(s.code("add_strategy_tag", add.clone()).await, 48002);
    assert_eq!(
        s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await["errcode"],
        60020
    );
    assert_eq!(s.tag_count(), 7);
    assert_eq!(s.code("add_strategy_tag", add).await, 0);
}

#[tokio::test]
async fn lists_are_reads_and_lost_responses_apply_writes() {
    let s = Sim::doc().await;
    s.h.fail_next("*", FaultKind::Lost, 1);
    // A read is not a write: the scripted `lost` waits for the next write.
    assert_eq!(s.code("get_strategy_tag_list", json!({})).await, 0);
    let lost = s
        .http
        .post(s.url("externalcontact/edit_strategy_tag"))
        .query(&[("access_token", &s.token)])
        .json(&json!({"id": "TAG_A", "name": "丢"}))
        .send()
        .await;
    assert!(lost.is_err());
    assert_eq!(s.corp(|c| c.tag("TAG_A").unwrap().1.name.clone()), "丢");
    let writes: Vec<bool> = s.h.calls().iter().map(|c| c.write).collect();
    assert_eq!(writes, [false, true]);
}

#[tokio::test]
async fn the_call_log_never_holds_the_secret_or_the_token() {
    let s = Sim::doc().await;
    s.gettoken("wwdoccorp0000000001", "wecom-doc-secret").await;
    s.post("get_strategy_tag_list", json!({})).await;
    let calls = s.h.calls();
    assert_eq!(calls[0].query["corpsecret"], REDACTED);
    assert_eq!(calls[0].query["corpid"], "wwdoccorp0000000001");
    assert_eq!(calls[1].query["access_token"], REDACTED);
    let log = format!("{calls:?}");
    assert!(!log.contains("wecom-doc-secret") && !log.contains(&s.token));
}

// ---- Fixtures and registration. ----

#[tokio::test]
async fn fixtures_are_checked() {
    let start = |yaml: &str| {
        let f = Fixture::from_yaml(yaml).unwrap();
        async move {
            sim::start(
                SimPlatform::Wecom,
                SimOptions {
                    fixture: f,
                    ..SimOptions::default()
                },
            )
            .await
        }
    };
    let empty = start("groups: [{name: g, tags: []}]").await.unwrap_err();
    assert!(matches!(empty, SimError::Fixture { .. }), "{empty}");
    let long = start(&format!(
        "groups: [{{name: g, tags: [{{name: {}}}]}}]",
        "字".repeat(31)
    ))
    .await
    .unwrap_err();
    assert!(long.to_string().contains("30 characters"), "{long}");
    let twice = start("groups: [{name: g, tags: [{name: a}]}, {name: g, tags: [{name: b}]}]")
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("two groups"), "{twice}");
    // The same name in two strategies, or in a strategy and the corp tags, is fine.
    start("groups: [{name: g, strategyId: 1, tags: [{name: a}]}, {name: g, tags: [{name: b}]}]")
        .await
        .unwrap();
}

#[tokio::test]
async fn wecom_is_a_known_simulator() {
    assert_eq!("wecom".parse::<SimPlatform>().unwrap(), SimPlatform::Wecom);
    assert!(SimPlatform::ALL.contains(&SimPlatform::Wecom));
    let seed = SeedFile::load(&data_file("wecom_doc.yaml")).unwrap();
    let handles = sim::start_all(None, &seed, &"none".parse().unwrap())
        .await
        .unwrap();
    let h = handles
        .iter()
        .find(|h| h.platform() == SimPlatform::Wecom)
        .unwrap();
    assert_eq!(h.platform().to_string(), "wecom");
    assert_eq!(h.token(), "wecom-doc-secret");
}
