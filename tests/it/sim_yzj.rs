//! The Miaokol (yzj) simulator over real loopback HTTP: every endpoint with seed 000's own request
//! example, every quirk and failure the simulator documents, the call log, faults and fixtures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tagsync::sim::yzj::{Account, DEFAULT_APP_ID};
use tagsync::sim::{
    self, FaultKind, Fixture, FixtureGroup, FixtureTag, ManualClock, SeedFile, SimError, SimHandle,
    SimOptions, SimPlatform,
};

// The seed document's credentials (its POST examples).
const DOC_APP_ID: &str = "44n2AsVZArKefJbuaE";
const DOC_TOKEN: &str = "2550fae1f260f21489ceaed103ec472d";
/// The `ctime` of the seed's `add` example, in milliseconds: the manual clock's time.
const DOC_NOW_MS: i64 = 1_655_969_708_000;

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sim")
        .join(name)
}

fn fixture(file: &str) -> Fixture {
    SeedFile::load(&data_file(file))
        .unwrap()
        .fixture(SimPlatform::Yzj)
        .unwrap()
        .clone()
}

/// An empty account with the document's credentials.
fn empty_doc_account() -> Fixture {
    Fixture {
        token: DOC_TOKEN.into(),
        app_id: Some(DOC_APP_ID.into()),
        ..Fixture::default()
    }
}

/// A running simulator, its credentials and a client.
struct Sim {
    h: SimHandle,
    app_id: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start(fixture: Fixture, faults: &str) -> Sim {
        let app_id = fixture
            .app_id
            .clone()
            .unwrap_or_else(|| DEFAULT_APP_ID.into());
        let opts = SimOptions {
            fixture,
            faults: faults.parse().unwrap(),
            clock: Arc::new(ManualClock::at(DOC_NOW_MS)),
            ..SimOptions::default()
        };
        let h = sim::start(SimPlatform::Yzj, opts).await.unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Sim { h, app_id, http }
    }

    async fn doc() -> Sim {
        Sim::start(fixture("yzj_doc.yaml"), "none").await
    }

    async fn quirks() -> Sim {
        Sim::start(fixture("yzj_quirks.yaml"), "none").await
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/smart-tag/{endpoint}", self.h.base_url())
    }

    /// `GET list` with `query` as given (no credentials added).
    async fn raw_list(&self, query: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url("list"))
            .query(query)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `GET list` with the credentials, answering HTTP 200.
    async fn list(&self, query: &[(&str, &str)]) -> Value {
        let mut q = vec![
            ("app_id", self.app_id.as_str()),
            ("access_token", self.h.token()),
        ];
        q.extend_from_slice(query);
        let (status, body) = self.raw_list(&q).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A POST of `body` exactly as given.
    async fn raw_post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(endpoint))
            .json(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// A POST with the credentials added to `body`, answering HTTP 200.
    async fn post(&self, endpoint: &str, mut body: Value) -> Value {
        body["app_id"] = json!(self.app_id);
        body["access_token"] = json!(self.h.token());
        let (status, answer) = self.raw_post(endpoint, &body).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The errcode of a POST with the credentials.
    async fn code(&self, endpoint: &str, body: Value) -> i64 {
        self.post(endpoint, body).await["errcode"].as_i64().unwrap()
    }

    fn account<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        self.h.with_state(f).expect("a Miaokol simulator")
    }

    /// Groups as (name, [tag names]) in creation order.
    fn names(&self) -> Vec<(String, Vec<String>)> {
        self.account(|a| {
            a.groups()
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

    fn customer(&self, rel: &str, contact: &str) -> Vec<u64> {
        self.account(|a| {
            a.customer_tags(rel, contact)
                .unwrap()
                .iter()
                .copied()
                .collect()
        })
    }
}

fn ok_null() -> Value {
    json!({"data": null, "errcode": 0})
}

/// Asserts a refusal: errcode 1, `data` null, and an `errmsg` containing `needle`.
fn assert_refused(answer: &Value, needle: &str) {
    assert_eq!(answer["errcode"], 1, "{answer}");
    assert_eq!(answer["data"], Value::Null, "{answer}");
    let msg = answer["errmsg"].as_str().unwrap();
    assert!(msg.contains(needle), "errmsg {msg:?} lacks {needle:?}");
}

/// The response example of 获取自定义标签列表, verbatim.
fn doc_list_response() -> Value {
    json!({
        "data": [{
            "id": 1, "name": "api分组", "type": 2, "number": 0,
            "tags": [
                {"id": "2", "name": "删", "parent_id": "1", "sort": "2", "contact_cnt": 0},
                {"id": "3", "name": "增", "parent_id": "1", "sort": "1", "contact_cnt": 0}
            ]
        }],
        "pager": {"page": 1, "perPage": 20, "numRecords": 1, "numPages": 1, "firstRecord": 0, "lastRecord": 0},
        "errcode": 0
    })
}

// ---- Every endpoint with the seed document's own request example. ----

#[tokio::test]
async fn doc_example_list() {
    let s = Sim::doc().await;
    // The example's query, with the account's credentials in place of its `xxx` / `xxxx`.
    let answer = s
        .list(&[
            ("page", "1"),
            ("page_size", "10"),
            ("with_tags", "1"),
            ("id", "1"),
        ])
        .await;
    // Field for field the document's answer, but for `perPage`: the example asks for 10 per page
    // and answers 20; the simulator answers the page size in force.
    let mut want = doc_list_response();
    want["pager"]["perPage"] = json!(10);
    assert_eq!(answer, want);
}

#[tokio::test]
async fn doc_example_add() {
    let s = Sim::start(empty_doc_account(), "none").await;
    let (status, answer) = s
        .raw_post(
            "add",
            &json!({"app_id": DOC_APP_ID, "access_token": DOC_TOKEN, "name": "api分组"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({
            "data": {
                "id": 1, "user_id": 2, "sub_user_id": 0, "corp_id": 0, "module": 47,
                "name": "api分组", "type": 2, "is_delete": 0, "number": 0, "parent_id": 0,
                "ctime": 1_655_969_708, "utime": 1_655_969_708, "sort": 0, "extra": null
            },
            "errcode": 0
        })
    );
}

#[tokio::test]
async fn doc_example_delete() {
    let s = Sim::doc().await;
    let (status, answer) = s
        .raw_post(
            "delete",
            &json!({"app_id": DOC_APP_ID, "access_token": DOC_TOKEN, "id": 1}),
        )
        .await;
    assert_eq!((status, answer), (200, ok_null()));
    // Deleting the group deleted its tags.
    assert_eq!(
        s.account(|a| (a.groups().len(), a.tag(2).is_none())),
        (0, true)
    );
}

#[tokio::test]
async fn doc_example_batch_add_tag() {
    // The state the `add` example leaves behind: group 1 "api分组" without tags.
    let s = Sim::start(empty_doc_account(), "none").await;
    s.post("add", json!({"name": "api分组"})).await;
    let (status, answer) = s
        .raw_post(
            "batchAddTag",
            &json!({"app_id": DOC_APP_ID, "access_token": DOC_TOKEN, "group_id": 1, "tag_names": ["增", "删"]}),
        )
        .await;
    assert_eq!((status, answer), (200, ok_null()));
    // The answer has no ids: listing the group shows them, in the shared id space after the group.
    let listed = s.list(&[("with_tags", "1"), ("id", "1")]).await;
    assert_eq!(
        listed["data"][0]["tags"],
        json!([
            {"id": "2", "name": "增", "parent_id": "1", "sort": "0", "contact_cnt": 0},
            {"id": "3", "name": "删", "parent_id": "1", "sort": "0", "contact_cnt": 0}
        ])
    );
}

#[tokio::test]
async fn doc_example_update_contact() {
    // The example puts tags 1 and 2 on the customer: an account where those ids are tags.
    let mut f = fixture("yzj_doc.yaml");
    f.groups = vec![FixtureGroup {
        id: Some("10".into()),
        name: "分组".into(),
        order: 0,
        create_timestamp: None,
        console: false,
        multi_select: false,
        strategy_id: None,
        tags: ["1", "2"]
            .map(|id| FixtureTag {
                id: Some(id.into()),
                name: format!("标签{id}"),
                order: 0,
                create_timestamp: None,
            })
            .to_vec(),
    }];
    let s = Sim::start(f, "none").await;
    let (status, answer) = s
        .raw_post(
            "updateContact",
            &json!({
                "app_id": DOC_APP_ID, "access_token": DOC_TOKEN,
                "rel_wxid": "1688851873049028", "contact_wxid": "7881302795046315",
                "smart_tag_ids": [1, 2]
            }),
        )
        .await;
    // `"data":{}//客户信息`: the document names no field of the customer's information.
    assert_eq!((status, answer), (200, json!({"data": {}, "errcode": 0})));
    assert_eq!(s.customer("1688851873049028", "7881302795046315"), [1, 2]);
}

// ---- list: mixed types, paging, filters, order. ----

#[tokio::test]
async fn list_types_are_mixed_as_the_document_shows() {
    let s = Sim::quirks().await;
    let answer = s.list(&[("with_tags", "1")]).await;
    let group = &answer["data"][1];
    assert!(group["id"].is_u64() && group["type"].is_u64() && group["number"].is_u64());
    let tag = &group["tags"][0];
    for key in ["id", "parent_id", "sort"] {
        assert!(tag[key].is_string(), "{key}: {tag}");
    }
    assert!(tag["contact_cnt"].is_u64());
    assert!(group.get("sort").is_none(), "the list shows no group sort");
    assert!(answer.get("errmsg").is_none(), "a success has no errmsg");
}

#[tokio::test]
async fn list_sorts_by_sort_bigger_first_then_id() {
    let s = Sim::quirks().await;
    let answer = s.list(&[("with_tags", "1")]).await;
    let names: Vec<&str> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["来源", "客户等级", "空分组"]);
    assert_eq!(answer["data"][1]["tags"][0]["name"], "VIP");
    assert_eq!(answer["data"][2]["tags"], json!([]), "an empty group");
}

/// The Must-show of issue 5 on the simulator's side: 250 groups are three pages of 100.
#[tokio::test]
async fn a_listing_of_250_groups_is_three_pages() {
    let f = Fixture {
        groups: (1..=250)
            .map(|i| FixtureGroup {
                id: None,
                name: format!("分组{i:03}"),
                order: 0,
                create_timestamp: None,
                console: false,
                multi_select: false,
                strategy_id: None,
                tags: vec![],
            })
            .collect(),
        ..Fixture::default()
    };
    let s = Sim::start(f, "none").await;
    let page = async |n: &str| {
        s.list(&[("with_tags", "1"), ("page", n), ("page_size", "100")])
            .await
    };
    let mut ids = Vec::new();
    for (n, len, first, last) in [("1", 100, 0, 99), ("2", 100, 100, 199), ("3", 50, 200, 249)] {
        let answer = page(n).await;
        let data = answer["data"].as_array().unwrap();
        assert_eq!(data.len(), len);
        ids.extend(data.iter().map(|g| g["id"].as_u64().unwrap()));
        assert_eq!(
            answer["pager"],
            json!({"page": n.parse::<u64>().unwrap(), "perPage": 100, "numRecords": 250, "numPages": 3,
                   "firstRecord": first, "lastRecord": last})
        );
    }
    assert_eq!(ids, (1..=250).collect::<Vec<u64>>());
    // Past the end: nothing, with the same totals.
    let after = page("4").await;
    assert_eq!(after["data"], json!([]));
    assert_eq!(after["pager"]["numPages"], 3);
    assert_eq!(s.h.count("/smart-tag/list"), 4);
}

#[tokio::test]
async fn page_size_defaults_to_10_and_stops_at_100() {
    let f = Fixture {
        groups: (1..=120)
            .map(|i| FixtureGroup {
                id: None,
                name: format!("g{i}"),
                order: 0,
                create_timestamp: None,
                console: false,
                multi_select: false,
                strategy_id: None,
                tags: vec![],
            })
            .collect(),
        ..Fixture::default()
    };
    let s = Sim::start(f, "none").await;
    let default = s.list(&[]).await;
    assert_eq!(default["data"].as_array().unwrap().len(), 10);
    assert_eq!(default["pager"]["perPage"], 10);
    assert_eq!(default["pager"]["numPages"], 12);
    let big = s.list(&[("page_size", "500")]).await;
    assert_eq!(big["data"].as_array().unwrap().len(), 100);
    assert_eq!(big["pager"]["perPage"], 100);
    // A page below 1 is page 1; a page size below 1 is the default.
    let zero = s.list(&[("page", "0"), ("page_size", "0")]).await;
    assert_eq!(zero["pager"]["page"], 1);
    assert_eq!(zero["pager"]["perPage"], 10);
    // An unparsable number is refused.
    assert_refused(&s.list(&[("page", "two")]).await, "page");
}

#[tokio::test]
async fn without_with_tags_groups_have_no_tags_key() {
    let s = Sim::quirks().await;
    for q in [&[][..], &[("with_tags", "0")][..]] {
        let answer = s.list(q).await;
        for g in answer["data"].as_array().unwrap() {
            assert!(g.get("tags").is_none(), "{g}");
        }
    }
}

#[tokio::test]
async fn the_id_filter_answers_one_group_or_none() {
    let s = Sim::quirks().await;
    let one = s.list(&[("with_tags", "1"), ("id", "10")]).await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["name"], "客户等级");
    // A tag's id, or an unknown one: no group, no pages.
    for id in ["11", "999"] {
        let none = s.list(&[("id", id)]).await;
        assert_eq!(none["data"], json!([]));
        assert_eq!(
            none["pager"],
            json!({"page": 1, "perPage": 10, "numRecords": 0, "numPages": 0, "firstRecord": 0, "lastRecord": 0})
        );
    }
}

// ---- add: id 0 creates, otherwise edits; type; parent_id. ----

#[tokio::test]
async fn add_id_0_creates_and_any_other_id_edits() {
    let s = Sim::quirks().await;
    let group = s
        .post("add", json!({"id": 0, "name": "新分组", "type": 2}))
        .await;
    assert_eq!(group["data"]["id"], 31, "ids count on above the fixture's");
    assert_eq!(group["data"]["type"], 2);
    let tag = s
        .post(
            "add",
            json!({"id": 0, "name": "新标签", "type": 1, "parent_id": 31}),
        )
        .await;
    assert_eq!(
        (
            tag["data"]["id"].clone(),
            tag["data"]["type"].clone(),
            tag["data"]["parent_id"].clone()
        ),
        (json!(32), json!(1), json!(31))
    );
    // Edits keep the id and the creation time.
    let renamed = s
        .post(
            "add",
            json!({"id": 11, "name": "黑卡", "type": 1, "parent_id": 10}),
        )
        .await;
    assert_eq!(renamed["errcode"], 0);
    assert_eq!(renamed["data"]["id"], 11);
    assert_eq!(renamed["data"]["ctime"], 1_700_000_000);
    assert_eq!(renamed["data"]["utime"], DOC_NOW_MS / 1000);
    assert_eq!(renamed["data"]["number"], 1, "a tag's count of customers");
    assert_eq!(
        s.post("add", json!({"id": 10, "name": "客户级别", "type": 2}))
            .await["data"]["name"],
        "客户级别"
    );
    assert_eq!(
        s.names()[0],
        ("客户级别".into(), vec!["黑卡".into(), "普通".into()])
    );
    assert_eq!(
        s.account(|a| a.group(10).unwrap().tags[0].sort),
        2,
        "sort untouched"
    );
}

#[tokio::test]
async fn a_tag_without_parent_id_is_refused_created_or_edited() {
    let s = Sim::quirks().await;
    // parent_id defaults to 0, which is no group: an edit without it would detach the tag.
    let create = s
        .post("add", json!({"id": 0, "name": "孤儿", "type": 1}))
        .await;
    assert_refused(&create, "parent_id 0");
    let edit = s
        .post("add", json!({"id": 11, "name": "改名", "type": 1}))
        .await;
    assert_refused(&edit, "parent_id 0");
    assert_eq!(s.names()[0].1, ["VIP", "普通"]);
}

#[tokio::test]
async fn an_edit_naming_another_group_moves_the_tag() {
    let s = Sim::quirks().await;
    let moved = s
        .post(
            "add",
            json!({"id": 12, "name": "普通", "type": 1, "parent_id": 30}),
        )
        .await;
    assert_eq!(moved["data"]["parent_id"], 30);
    assert_eq!(s.names()[0].1, ["VIP"]);
    assert_eq!(s.names()[2].1, ["普通"]);
}

#[tokio::test]
async fn type_is_checked_and_defaults_to_group() {
    let s = Sim::quirks().await;
    // No `type` makes a group (the document's own example).
    let g = s.post("add", json!({"name": "默认分组"})).await;
    assert_eq!(
        (g["data"]["type"].clone(), g["data"]["id"].clone()),
        (json!(2), json!(31))
    );
    assert_refused(
        &s.post("add", json!({"name": "x", "type": 3})).await,
        "type",
    );
    // An id of the other kind, and a group with a parent.
    assert_refused(
        &s.post("add", json!({"id": 11, "name": "x", "type": 2}))
            .await,
        "11",
    );
    assert_refused(
        &s.post(
            "add",
            json!({"id": 10, "name": "x", "type": 1, "parent_id": 20}),
        )
        .await,
        "10",
    );
    assert_refused(
        &s.post(
            "add",
            json!({"id": 0, "name": "x", "type": 2, "parent_id": 10}),
        )
        .await,
        "parent_id",
    );
    assert_eq!(s.account(|a| a.groups().len()), 4);
}

#[tokio::test]
async fn sort_cannot_be_written() {
    let s = Sim::quirks().await;
    let answer = s
        .post(
            "add",
            json!({"id": 11, "name": "VIP", "type": 1, "parent_id": 10, "sort": 99}),
        )
        .await;
    assert_refused(&answer, "sort");
    let batch = s
        .post(
            "batchAddTag",
            json!({"group_id": 10, "tag_names": ["x"], "sort": 1}),
        )
        .await;
    assert_refused(&batch, "sort");
    assert_eq!(s.account(|a| a.tag(11).unwrap().1.sort), 2);
}

#[tokio::test]
async fn request_ids_are_integers() {
    let s = Sim::quirks().await;
    // `list` answers tag ids as strings, but requests take the tables' ints.
    for (endpoint, body) in [
        (
            "add",
            json!({"id": "11", "name": "x", "type": 1, "parent_id": 10}),
        ),
        (
            "add",
            json!({"id": 11, "name": "x", "type": 1, "parent_id": "10"}),
        ),
        ("delete", json!({"id": "11"})),
        ("batchAddTag", json!({"group_id": "10", "tag_names": ["x"]})),
        (
            "updateContact",
            json!({"rel_wxid": "wx-sales", "contact_wxid": "wx-bob", "smart_tag_ids": ["11"]}),
        ),
    ] {
        assert_refused(&s.post(endpoint, body.clone()).await, "请求参数错误");
    }
    assert_eq!(s.account(|a| a.tag_count()), 3);
}

// ---- Names. ----

#[tokio::test]
async fn names_are_at_most_30_characters_and_not_blank() {
    let s = Sim::quirks().await;
    // 30 CJK characters are 90 bytes: the limit counts characters.
    let ok = "名".repeat(30);
    let long = "名".repeat(31);
    assert_eq!(s.code("add", json!({"name": ok, "type": 2})).await, 0);
    assert_refused(&s.post("add", json!({"name": long, "type": 2})).await, "30");
    assert_refused(
        &s.post(
            "batchAddTag",
            json!({"group_id": 10, "tag_names": ["fine", long]}),
        )
        .await,
        "30",
    );
    assert_refused(
        &s.post(
            "add",
            json!({"id": 11, "name": long, "type": 1, "parent_id": 10}),
        )
        .await,
        "30",
    );
    assert_refused(&s.post("add", json!({"name": "  ", "type": 2})).await, "空");
    assert_refused(
        &s.post("batchAddTag", json!({"group_id": 10, "tag_names": [""]}))
            .await,
        "空",
    );
    assert_eq!(s.account(|a| (a.groups().len(), a.tag_count())), (4, 3));
}

#[tokio::test]
async fn names_are_unique_among_groups_and_within_a_group() {
    let s = Sim::quirks().await;
    assert_refused(
        &s.post("add", json!({"name": "来源", "type": 2})).await,
        "已存在",
    );
    assert_refused(
        &s.post("add", json!({"id": 10, "name": "来源", "type": 2}))
            .await,
        "已存在",
    );
    assert_refused(
        &s.post(
            "add",
            json!({"id": 0, "name": "普通", "type": 1, "parent_id": 10}),
        )
        .await,
        "已有标签",
    );
    assert_refused(
        &s.post(
            "add",
            json!({"id": 11, "name": "普通", "type": 1, "parent_id": 10}),
        )
        .await,
        "已有标签",
    );
    // Another group may hold the name, and a name may be "renamed" to itself.
    assert_eq!(
        s.code(
            "add",
            json!({"id": 11, "name": "展会", "type": 1, "parent_id": 10})
        )
        .await,
        0
    );
    assert_eq!(
        s.code("add", json!({"id": 10, "name": "客户等级", "type": 2}))
            .await,
        0
    );
    assert_eq!(s.names()[0].1, ["展会", "普通"]);
}

// ---- batchAddTag. ----

#[tokio::test]
async fn batch_add_tag_with_group_id_0_creates_the_group() {
    let s = Sim::quirks().await;
    let answer = s
        .post(
            "batchAddTag",
            json!({"group_id": 0, "group_name": "意向", "tag_names": ["高", "中", "低"]}),
        )
        .await;
    assert_eq!(answer, ok_null());
    assert_eq!(
        s.names()[3],
        ("意向".into(), vec!["高".into(), "中".into(), "低".into()])
    );
    let ids = s.account(|a| {
        let g = a.group_by_name("意向").unwrap();
        (
            g.id,
            g.tags.iter().map(|t| t.id).collect::<Vec<_>>(),
            g.tags[0].sort,
        )
    });
    assert_eq!(ids, (31, vec![32, 33, 34], 0));
    // No `group_id` is 0 too; then a name is required (则group_name不能为空) and must be free.
    assert_refused(
        &s.post("batchAddTag", json!({"tag_names": ["x"]})).await,
        "group_name",
    );
    assert_refused(
        &s.post(
            "batchAddTag",
            json!({"group_id": 0, "group_name": "意向", "tag_names": ["x"]}),
        )
        .await,
        "已存在",
    );
}

#[tokio::test]
async fn batch_add_tag_ignores_group_name_with_a_group_id() {
    let s = Sim::quirks().await;
    let answer = s
        .post(
            "batchAddTag",
            json!({"group_id": 30, "group_name": "来源", "tag_names": ["a", "b"]}),
        )
        .await;
    assert_eq!(answer, ok_null());
    assert_eq!(
        s.names()[2],
        ("空分组".into(), vec!["a".into(), "b".into()])
    );
    assert_eq!(s.names()[1].1, ["展会"]);
}

#[tokio::test]
async fn batch_add_tag_is_all_or_nothing() {
    let s = Sim::quirks().await;
    for (body, needle) in [
        (
            json!({"group_id": 10, "tag_names": ["新", "VIP"]}),
            "已有标签",
        ),
        (json!({"group_id": 10, "tag_names": ["新", "新"]}), "重复"),
        (json!({"group_id": 10, "tag_names": []}), "tag_names"),
        (json!({"group_id": 10}), "tag_names"),
        (json!({"group_id": 999, "tag_names": ["新"]}), "999"),
        (json!({"group_id": 11, "tag_names": ["新"]}), "11"),
    ] {
        assert_refused(&s.post("batchAddTag", body.clone()).await, needle);
    }
    assert_eq!(s.account(|a| a.tag_count()), 3);
}

// ---- delete. ----

#[tokio::test]
async fn delete_takes_one_id_of_a_group_or_a_tag() {
    let s = Sim::quirks().await;
    // A tag: it leaves its customers; its group stays, even when empty.
    assert_eq!(s.post("delete", json!({"id": 21})).await, ok_null());
    assert_eq!(s.names()[1], ("来源".into(), vec![]));
    assert_eq!(s.post("delete", json!({"id": 11})).await, ok_null());
    assert!(s.customer("wx-sales", "wx-alice").is_empty());
    // A group goes with its tags.
    assert_eq!(s.post("delete", json!({"id": 10})).await, ok_null());
    assert!(s.account(|a| a.tag(12).is_none() && a.group(10).is_none()));
    // Gone already, unknown, or a list of ids: refused.
    assert_refused(&s.post("delete", json!({"id": 10})).await, "不存在");
    assert_refused(&s.post("delete", json!({"id": 0})).await, "不存在");
    assert_refused(
        &s.post("delete", json!({"id": [20, 30]})).await,
        "请求参数错误",
    );
    assert_eq!(s.account(|a| a.groups().len()), 2);
}

// ---- updateContact. ----

#[tokio::test]
async fn update_contact_replaces_the_whole_set() {
    let s = Sim::quirks().await;
    let set = |ids: Value| json!({"rel_wxid": "wx-sales", "contact_wxid": "wx-alice", "smart_tag_ids": ids});
    assert_eq!(
        s.post("updateContact", set(json!([12, 21, 12]))).await,
        json!({"data": {}, "errcode": 0})
    );
    assert_eq!(
        s.customer("wx-sales", "wx-alice"),
        [12, 21],
        "VIP is off: a full overwrite"
    );
    // Counts follow: `contact_cnt` per tag, `number` per group.
    let listed = s.list(&[("with_tags", "1")]).await;
    assert_eq!(listed["data"][0]["number"], 1);
    assert_eq!(listed["data"][1]["tags"][0]["contact_cnt"], 0, "VIP");
    assert_eq!(listed["data"][1]["tags"][1]["contact_cnt"], 1, "普通");
    // An empty list clears the set.
    assert_eq!(s.code("updateContact", set(json!([]))).await, 0);
    assert!(s.customer("wx-sales", "wx-alice").is_empty());
}

#[tokio::test]
async fn update_contact_refusals_change_nothing() {
    let s = Sim::quirks().await;
    let body = |rel: &str, contact: &str, ids: Value| json!({"rel_wxid": rel, "contact_wxid": contact, "smart_tag_ids": ids});
    for (b, needle) in [
        (body("wx-sales", "wx-alice", json!([12, 999])), "999"),
        (body("wx-sales", "wx-alice", json!([10])), "10"),
        (body("wx-sales", "wx-eve", json!([12])), "wx-eve"),
        (body("", "wx-alice", json!([12])), "rel_wxid"),
        (
            json!({"rel_wxid": "wx-sales", "contact_wxid": "wx-alice"}),
            "smart_tag_ids",
        ),
    ] {
        assert_refused(&s.post("updateContact", b.clone()).await, needle);
    }
    assert_eq!(s.customer("wx-sales", "wx-alice"), [11]);
}

// ---- Credentials and failures. ----

#[tokio::test]
async fn credentials_go_in_the_query_for_get_and_the_body_for_post() {
    let s = Sim::quirks().await;
    let refused = json!({"data": null, "errcode": 1, "errmsg": "app_id或access_token无效"});
    let token = s.h.token().to_owned();
    for q in [
        vec![],
        vec![("app_id", "yzj-test-app")],
        vec![("app_id", "wrong"), ("access_token", token.as_str())],
        vec![("app_id", "yzj-test-app"), ("access_token", "wrong")],
    ] {
        assert_eq!(s.raw_list(&q).await, (401, refused.clone()), "{q:?}");
    }
    // A POST reads them from the body only: in the query they count as missing.
    let in_query = s
        .http
        .post(s.url("add"))
        .query(&[("app_id", "yzj-test-app"), ("access_token", token.as_str())])
        .json(&json!({"name": "x", "type": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 401);
    let not_json = s
        .http
        .post(s.url("add"))
        .body(format!("app_id=yzj-test-app&access_token={token}&name=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 401);
    assert_eq!(
        s.raw_post(
            "delete",
            &json!({"app_id": "yzj-test-app", "access_token": "wrong", "id": 10})
        )
        .await,
        (401, refused)
    );
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

#[tokio::test]
async fn unknown_fields_are_refused() {
    let s = Sim::quirks().await;
    // A misspelt field fails loudly instead of being ignored.
    assert_refused(&s.post("add", json!({"name": "x", "typ": 2})).await, "typ");
    assert_refused(
        &s.post("batchAddTag", json!({"groupId": 10, "tag_names": ["x"]}))
            .await,
        "groupId",
    );
    assert_eq!(s.account(|a| (a.groups().len(), a.tag_count())), (3, 3));
}

// ---- The call log and faults. ----

#[tokio::test]
async fn the_call_log_redacts_the_access_token() {
    let s = Sim::quirks().await;
    s.list(&[("with_tags", "1")]).await;
    s.post("add", json!({"name": "新", "type": 2})).await;
    let calls = s.h.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("GET", "/smart-tag/list")
    );
    assert_eq!(calls[0].query["access_token"], "***");
    assert_eq!(
        calls[0].query["app_id"], "yzj-test-app",
        "the app id is no secret"
    );
    assert!(!calls[0].write && calls[1].write);
    assert_eq!(
        calls[1].body,
        Some(json!({"app_id": "yzj-test-app", "access_token": "***", "name": "新", "type": 2}))
    );
    assert_eq!((calls[1].errcode, calls[1].applied), (Some(0), true));
    let everything = format!("{calls:?} {}", serde_json::to_string(&calls).unwrap());
    assert!(!everything.contains("yzj-test-token"), "{everything}");
}

#[tokio::test]
async fn refusals_are_logged_with_errcode_1_and_not_applied() {
    let s = Sim::quirks().await;
    s.post("add", json!({"name": "来源", "type": 2})).await;
    let call = &s.h.calls()[0];
    assert_eq!(
        (call.status, call.errcode, call.applied),
        (Some(200), Some(1), false)
    );
}

#[tokio::test]
async fn busy_and_rate_limit_answer_without_an_envelope() {
    let s = Sim::start(fixture("yzj_quirks.yaml"), "rps=2").await;
    s.h.fail_next("/smart-tag/add", FaultKind::Busy, 1);
    let busy = s
        .http
        .post(s.url("add"))
        .json(&json!({"app_id": "yzj-test-app", "access_token": "yzj-test-token", "name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    s.list(&[]).await;
    let limited = s
        .http
        .get(s.url("list"))
        .query(&[
            ("app_id", "yzj-test-app"),
            ("access_token", "yzj-test-token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

#[tokio::test]
async fn a_lost_response_applies_the_write() {
    let s = Sim::quirks().await;
    s.h.fail_next("*", FaultKind::Lost, 1);
    let lost = s
        .http
        .post(s.url("batchAddTag"))
        .json(&json!({"app_id": "yzj-test-app", "access_token": "yzj-test-token", "group_id": 30, "tag_names": ["x"]}))
        .send()
        .await;
    assert!(lost.is_err());
    assert_eq!(s.names()[2].1, ["x"]);
    // A blind repeat is refused: the name is taken now.
    assert_refused(
        &s.post("batchAddTag", json!({"group_id": 30, "tag_names": ["x"]}))
            .await,
        "已有标签",
    );
}

// ---- Fixtures and registration. ----

#[tokio::test]
async fn fixtures_are_checked_and_ids_generated() {
    let start = |yaml: &str| {
        sim::start(
            SimPlatform::Yzj,
            SimOptions {
                fixture: Fixture::from_yaml(yaml).unwrap(),
                ..SimOptions::default()
            },
        )
    };
    for (yaml, needle) in [
        ("groups: [{id: g1, name: g}]", "positive integer"),
        ("groups: [{id: '0', name: g}]", "positive integer"),
        ("groups: [{name: g, console: true}]", "console"),
        ("groups: [{name: g}, {name: g}]", "two groups"),
        (
            "groups: [{name: g, tags: [{name: t}, {name: t}]}]",
            "two tags",
        ),
    ] {
        let err = start(yaml).await.unwrap_err();
        assert!(matches!(err, SimError::Fixture { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let h = start("groups: [{name: g, tags: [{name: t}, {id: '2', name: u}]}, {name: empty}]")
        .await
        .unwrap();
    let ids = h
        .with_state(|a: &mut Account| {
            a.groups()
                .iter()
                .map(|g| (g.id, g.tags.iter().map(|t| t.id).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(ids, [(1, vec![3, 2]), (4, vec![])]);
    assert_eq!(h.token(), sim::DEFAULT_TOKEN);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!(
        "{}/smart-tag/list?app_id={DEFAULT_APP_ID}&access_token={}",
        h.base_url(),
        sim::DEFAULT_TOKEN
    );
    let body: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["pager"]["numRecords"], 2);
}

#[tokio::test]
async fn registered_as_yzj() {
    assert_eq!("yzj".parse::<SimPlatform>(), Ok(SimPlatform::Yzj));
    assert_eq!(SimPlatform::Yzj.to_string(), "yzj");
    assert!(SimPlatform::ALL.contains(&SimPlatform::Yzj));
    let seed = SeedFile::load(&data_file("yzj_doc.yaml")).unwrap();
    let handles = sim::start_all(None, &seed, &"none".parse().unwrap())
        .await
        .unwrap();
    let h = handles
        .iter()
        .find(|h| h.platform() == SimPlatform::Yzj)
        .unwrap();
    assert_eq!(h.token(), DOC_TOKEN);
}
