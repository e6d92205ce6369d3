//! The Juzibot simulator over real loopback HTTP: every endpoint with seed 001's own request
//! example, every quirk, every fault kind, the rate limit, the call log and the CLI entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tagsync::sim::juzibot::Account;
use tagsync::sim::{
    self, FaultKind, FaultSpec, Fixture, ManualClock, SeedFile, SimError, SimHandle, SimOptions,
    SimPlatform,
};

// The seed document's ids.
const DOC_GROUP: &str = "et1LpcCQAAGLd4xufTKt4l9ERbTTQQQQ";
const DOC_TAG: &str = "etrRhyBgAAwVm8uMyEc0EMZI1HwmHwmw";
const DOC_UNION: &str = "ozynqsulJFCZ2z1aYeS8h-nuasdAAA";

// The quirks fixture's ids.
const LEVEL: &str = "etGroupLevel000000000000000000001";
const SOURCE: &str = "etGroupSource00000000000000000001";
const CONSOLE: &str = "etGroupConsole0000000000000000001";
const VIP: &str = "etTagVip00000000000000000000000001";
const NORMAL: &str = "etTagNormal000000000000000000000001";
const FAIR: &str = "etTagFair0000000000000000000000001";
const CONSOLE_TAG: &str = "etTagConsole00000000000000000001";

/// The manual clock's time: what new objects are stamped with.
const NOW: i64 = 1_750_000_000_000;

const CREATE: &str = "/api/v1/tag/create";
const LIST: &str = "/api/v1/tag/list";

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sim")
        .join(name)
}

fn fixture(file: &str) -> Fixture {
    SeedFile::load(&data_file(file))
        .unwrap()
        .fixture(SimPlatform::Juzibot)
        .unwrap()
        .clone()
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
}

/// A running simulator and a client for it.
struct Sim {
    h: SimHandle,
    http: reqwest::Client,
}

impl Sim {
    async fn start(fixture: Fixture, faults: &str) -> Sim {
        let opts = SimOptions {
            fixture,
            faults: faults.parse().unwrap(),
            clock: Arc::new(ManualClock::at(NOW)),
            ..SimOptions::default()
        };
        let h = sim::start(SimPlatform::Juzibot, opts).await.unwrap();
        Sim {
            h,
            http: client(Duration::from_secs(5)),
        }
    }

    async fn doc() -> Sim {
        Sim::start(fixture("juzibot_doc.yaml"), "none").await
    }

    async fn quirks() -> Sim {
        Sim::start(fixture("juzibot_quirks.json"), "none").await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.h.base_url())
    }

    async fn try_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        let mut q = vec![("token", self.h.token())];
        q.extend_from_slice(query);
        self.http.get(self.url(path)).query(&q).send().await
    }

    async fn try_post(&self, path: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url(path))
            .query(&[("token", self.h.token())])
            .json(body)
            .send()
            .await
    }

    /// A GET that must answer HTTP 200 with JSON.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let resp = self.try_get(path, query).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// A POST that must answer HTTP 200 with JSON.
    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self.try_post(path, &body).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// The errcode of a POST.
    async fn code(&self, path: &str, body: Value) -> i64 {
        self.post(path, body).await["errcode"].as_i64().unwrap()
    }

    fn account<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        self.h.with_state(f).expect("a Juzibot simulator")
    }

    /// The groups as (name, [tag names]), in creation order.
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

    fn customer(&self, union_id: &str) -> Vec<String> {
        self.account(|a| {
            a.customer_tags(union_id, "rocky")
                .unwrap()
                .iter()
                .cloned()
                .collect()
        })
    }
}

fn ok() -> Value {
    json!({"errcode": 0, "errmsg": "ok"})
}

/// The response example that seed 001 gives for list, detail and create, verbatim.
fn doc_groups_response() -> Value {
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "data": [{
            "id": DOC_GROUP,
            "name": "标签组名",
            "createTimestamp": 1_601_274_190_000_i64,
            "order": 0,
            "tags": [{
                "id": DOC_TAG,
                "name": "标签名",
                "createTimestamp": 1_601_274_190_000_i64,
                "order": 0,
            }]
        }]
    })
}

// ---- Every endpoint with the seed document's own request example. ----

#[tokio::test]
async fn doc_example_tag_list() {
    let s = Sim::doc().await;
    assert_eq!(s.get("tag/list", &[]).await, doc_groups_response());
}

#[tokio::test]
async fn doc_example_tag_detail() {
    let s = Sim::doc().await;
    assert_eq!(
        s.get("tag/detail", &[("tagId", DOC_TAG)]).await,
        doc_groups_response()
    );
}

#[tokio::test]
async fn doc_example_tag_create() {
    let s = Sim::doc().await;
    let request =
        json!({"groupId": DOC_GROUP, "groupName": "标签组名", "tag": [{"name": "标签名"}]});
    // The tag exists already, so the answer is exactly the document's example and nothing is added.
    assert_eq!(s.post("tag/create", request).await, doc_groups_response());
    assert_eq!(s.names(), [("标签组名".into(), vec!["标签名".into()])]);
}

#[tokio::test]
async fn doc_example_tag_group_edit() {
    let s = Sim::doc().await;
    let request = json!({"id": DOC_GROUP, "name": "标签组名", "order": 123});
    assert_eq!(s.post("tagGroup/edit", request).await, ok());
    assert_eq!(s.get("tag/list", &[]).await["data"][0]["order"], 123);
}

#[tokio::test]
async fn doc_example_tag_edit() {
    let s = Sim::doc().await;
    let request = json!({"id": DOC_TAG, "name": "标签名", "order": 123});
    assert_eq!(s.post("tag/edit", request).await, ok());
    assert_eq!(
        s.get("tag/list", &[]).await["data"][0]["tags"][0]["order"],
        123
    );
}

#[tokio::test]
async fn doc_example_tag_group_delete() {
    let s = Sim::doc().await;
    assert_eq!(
        s.post("tagGroup/delete", json!({"id": [DOC_GROUP]})).await,
        ok()
    );
    assert_eq!(
        s.get("tag/list", &[]).await,
        json!({"errcode": 0, "errmsg": "ok", "data": []})
    );
    assert!(
        s.customer(DOC_UNION).is_empty(),
        "deleted tags leave customers"
    );
}

#[tokio::test]
async fn doc_example_tag_delete() {
    let s = Sim::doc().await;
    assert_eq!(s.post("tag/delete", json!({"id": [DOC_TAG]})).await, ok());
    // It was the group's last tag, so the group went with it.
    assert_eq!(s.get("tag/list", &[]).await["data"], json!([]));
}

#[tokio::test]
async fn doc_example_tag_mark() {
    let s = Sim::doc().await;
    let request = json!({"mark_list": [{
        "unionId": DOC_UNION,
        "userId": "rocky",
        "addTagId": [DOC_TAG],
        "delTagId": [DOC_TAG],
    }]});
    assert_eq!(s.post("tag/mark", request).await, ok());
    // Additions apply before removals, so a tag in both lists ends up off.
    assert!(s.customer(DOC_UNION).is_empty());
}

// ---- Quirks. ----

#[tokio::test]
async fn an_existing_group_name_adds_to_that_group() {
    let s = Sim::quirks().await;
    let resp = s
        .post(
            "tag/create",
            json!({"groupName": "客户等级", "tag": [{"name": "黑卡"}]}),
        )
        .await;
    assert_eq!(
        resp,
        json!({"errcode": 0, "errmsg": "ok", "data": [{
            "id": LEVEL, "name": "客户等级", "createTimestamp": 1_700_000_000_000_i64, "order": 10,
            "tags": [{"id": "etSimT00000000000000000000000001", "name": "黑卡", "createTimestamp": NOW, "order": 0}]
        }]})
    );
    assert_eq!(s.account(|a| a.groups().len()), 3);
    assert_eq!(s.names()[0].1, ["VIP", "普通", "黑卡"]);
}

#[tokio::test]
async fn group_id_wins_over_group_name() {
    let s = Sim::quirks().await;
    let name_31 = "名".repeat(31);
    let resp = s
        .post(
            "tag/create",
            json!({"groupId": SOURCE, "groupName": name_31, "tag": [{"name": "官网"}]}),
        )
        .await;
    assert_eq!(resp["errcode"], 0, "{resp}");
    assert_eq!(resp["data"][0]["id"], SOURCE);
    assert_eq!(
        s.names()[1],
        ("来源".into(), vec!["展会".into(), "官网".into()])
    );
}

#[tokio::test]
async fn a_new_group_gets_deterministic_ids_and_the_clock_time() {
    let s = Sim::quirks().await;
    let resp = s
        .post(
            "tag/create",
            json!({"groupName": "新分组", "tag": [{"name": "a"}, {"name": "b"}]}),
        )
        .await;
    assert_eq!(
        resp["data"],
        json!([{
            "id": "etSimG00000000000000000000000001", "name": "新分组", "createTimestamp": NOW, "order": 0,
            "tags": [
                {"id": "etSimT00000000000000000000000001", "name": "a", "createTimestamp": NOW, "order": 0},
                {"id": "etSimT00000000000000000000000002", "name": "b", "createTimestamp": NOW, "order": 0},
            ]
        }])
    );
}

#[tokio::test]
async fn duplicate_names_in_one_call_make_one_tag() {
    let s = Sim::quirks().await;
    let resp = s
        .post(
            "tag/create",
            json!({"groupName": "新分组", "tag": [{"name": "a"}, {"name": "a"}, {"name": "b"}]}),
        )
        .await;
    let tags = resp["data"][0]["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 2);
    let a_id = tags[0]["id"].clone();
    let group_id = resp["data"][0]["id"].as_str().unwrap().to_owned();

    // A name the group already has makes no new tag either; the answer names the existing one.
    let again = s
        .post(
            "tag/create",
            json!({"groupId": group_id, "tag": [{"name": "a"}, {"name": "c"}]}),
        )
        .await;
    assert_eq!(again["data"][0]["tags"][0]["id"], a_id);
    assert_eq!(again["data"][0]["tags"][1]["name"], "c");
    assert_eq!(s.names()[3].1, ["a", "b", "c"]);
}

#[tokio::test]
async fn empty_groups_cannot_be_created() {
    let s = Sim::quirks().await;
    assert_eq!(
        s.code("tag/create", json!({"groupName": "空", "tag": []}))
            .await,
        400
    );
    assert_eq!(s.code("tag/create", json!({"groupName": "空"})).await, 400);
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

#[tokio::test]
async fn deleting_the_last_tag_deletes_the_group() {
    let s = Sim::quirks().await;
    assert_eq!(s.code("tag/delete", json!({"id": [VIP]})).await, 0);
    assert_eq!(s.names()[0], ("客户等级".into(), vec!["普通".into()]));
    assert!(s.customer("union-alice").is_empty());

    assert_eq!(s.code("tag/delete", json!({"id": [FAIR]})).await, 0);
    assert!(s.account(|a| a.group(SOURCE).is_none()));
    assert_eq!(s.account(|a| a.groups().len()), 2);
}

#[tokio::test]
async fn minus_1_invalid_group_name() {
    let s = Sim::quirks().await;
    let tag = json!([{"name": "x"}]);
    assert_eq!(
        s.code("tag/create", json!({"groupName": "", "tag": tag}))
            .await,
        -1
    );
    assert_eq!(
        s.code("tag/create", json!({"groupName": "   ", "tag": tag}))
            .await,
        -1
    );
    assert_eq!(s.code("tag/create", json!({"tag": tag})).await, -1);
    assert_eq!(
        s.code("tagGroup/edit", json!({"id": LEVEL, "name": " "}))
            .await,
        -1
    );
    let resp = s.post("tag/create", json!({"tag": tag})).await;
    assert_eq!(resp["errmsg"], "标签组名称无效");
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

#[tokio::test]
async fn minus_2_console_groups_cannot_be_changed() {
    let s = Sim::quirks().await;
    let before = s.account(|a| a.groups().to_vec());
    let refused = [
        (
            "tag/create",
            json!({"groupId": CONSOLE, "tag": [{"name": "新"}]}),
        ),
        (
            "tag/create",
            json!({"groupName": "控制台分组", "tag": [{"name": "新"}]}),
        ),
        ("tagGroup/edit", json!({"id": CONSOLE, "name": "改名"})),
        ("tagGroup/edit", json!({"id": CONSOLE, "order": 1})),
        ("tagGroup/delete", json!({"id": [LEVEL, CONSOLE]})),
        ("tag/edit", json!({"id": CONSOLE_TAG, "name": "改名"})),
        ("tag/delete", json!({"id": [VIP, CONSOLE_TAG]})),
    ];
    for (path, body) in refused {
        let resp = s.post(path, body.clone()).await;
        assert_eq!(resp["errcode"], -2, "{path} {body}");
        assert_eq!(
            resp["errmsg"],
            "标签组无权限,即api接口无法更改企业控制台创建的标签组"
        );
    }
    assert_eq!(
        s.account(|a| a.groups().to_vec()),
        before,
        "nothing changed"
    );

    // Marking a customer with a console tag changes the customer, not the group: allowed.
    let mark = json!({"mark_list": [{"unionId": "union-bob", "userId": "rocky", "addTagId": [CONSOLE_TAG]}]});
    assert_eq!(s.code("tag/mark", mark).await, 0);
    assert_eq!(s.customer("union-bob"), [CONSOLE_TAG]);
}

#[tokio::test]
async fn minus_3_group_name_over_30_characters() {
    let s = Sim::quirks().await;
    let tag = json!([{"name": "x"}]);
    // 30 CJK characters are 90 bytes: the limit counts characters.
    let name_30 = "组".repeat(30);
    let name_31 = "组".repeat(31);
    assert_eq!(
        s.code("tag/create", json!({"groupName": name_31, "tag": tag}))
            .await,
        -3
    );
    assert_eq!(
        s.code("tagGroup/edit", json!({"id": LEVEL, "name": name_31}))
            .await,
        -3
    );
    assert_eq!(
        s.code("tag/create", json!({"groupName": name_30, "tag": tag}))
            .await,
        0
    );
    assert_eq!(s.account(|a| a.groups().len()), 4);
}

#[tokio::test]
async fn minus_4_tag_name_over_30_characters() {
    let s = Sim::quirks().await;
    let name_30 = "签".repeat(30);
    let name_31 = "签".repeat(31);
    let both = json!({"groupId": LEVEL, "tag": [{"name": "fine"}, {"name": name_31}]});
    assert_eq!(s.code("tag/create", both).await, -4);
    assert_eq!(s.account(|a| a.tag_count()), 4, "all or nothing");
    assert_eq!(
        s.code("tag/edit", json!({"id": VIP, "name": name_31}))
            .await,
        -4
    );
    assert_eq!(
        s.code("tag/edit", json!({"id": VIP, "name": name_30}))
            .await,
        0
    );
}

#[tokio::test]
async fn renames_must_stay_unique() {
    let s = Sim::quirks().await;
    assert_eq!(
        s.code("tagGroup/edit", json!({"id": LEVEL, "name": "来源"}))
            .await,
        409
    );
    assert_eq!(
        s.code("tag/edit", json!({"id": VIP, "name": "普通"})).await,
        409
    );
    // A tag may share a name with a tag of another group, and a name may be "renamed" to itself.
    assert_eq!(
        s.code("tag/edit", json!({"id": VIP, "name": "展会"})).await,
        0
    );
    assert_eq!(
        s.code("tagGroup/edit", json!({"id": LEVEL, "name": "客户等级"}))
            .await,
        0
    );
    assert_eq!(s.names()[0].1, ["展会", "普通"]);
}

#[tokio::test]
async fn name_and_order_cannot_both_be_empty() {
    let s = Sim::quirks().await;
    for path in ["tagGroup/edit", "tag/edit"] {
        let id = if path == "tag/edit" { VIP } else { LEVEL };
        assert_eq!(s.code(path, json!({"id": id})).await, 400);
        assert_eq!(s.code(path, json!({"id": id, "name": ""})).await, 400);
        assert_eq!(
            s.code(path, json!({"id": id, "name": null, "order": null}))
                .await,
            400
        );
        // An empty name with an order only reorders.
        assert_eq!(
            s.code(path, json!({"id": id, "name": "", "order": 0}))
                .await,
            0
        );
    }
    assert_eq!(s.account(|a| a.group(LEVEL).unwrap().order), 0);
    assert_eq!(s.names()[0].0, "客户等级");
}

#[tokio::test]
async fn order_must_be_in_0_to_2_pow_32() {
    let s = Sim::quirks().await;
    for bad in [json!(-1), json!(4_294_967_296_u64), json!(1.5), json!("7")] {
        assert_eq!(
            s.code("tag/edit", json!({"id": VIP, "order": bad})).await,
            400,
            "{bad}"
        );
        assert_eq!(
            s.code("tagGroup/edit", json!({"id": LEVEL, "order": bad}))
                .await,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        s.code(
            "tagGroup/edit",
            json!({"id": LEVEL, "order": 4_294_967_295_u64})
        )
        .await,
        0
    );
    assert_eq!(
        s.get("tag/list", &[]).await["data"][0]["order"],
        4_294_967_295_u64
    );
}

#[tokio::test]
async fn list_sorts_by_order_bigger_first() {
    let s = Sim::quirks().await;
    let data = s.get("tag/list", &[]).await["data"].clone();
    let groups: Vec<&str> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["来源", "客户等级", "控制台分组"]);
    assert_eq!(data[1]["tags"][0]["name"], "VIP");
}

#[tokio::test]
async fn mark_adds_and_removes_tags() {
    let s = Sim::quirks().await;
    let mark = |add: Value, del: Value| {
        json!({"mark_list": [
            {"unionId": "union-alice", "userId": "rocky", "addTagId": add, "delTagId": del},
            {"unionId": "union-bob", "userId": "rocky", "addTagId": [FAIR]},
        ]})
    };
    assert_eq!(
        s.code("tag/mark", mark(json!([NORMAL, FAIR]), json!([VIP])))
            .await,
        0
    );
    assert_eq!(s.customer("union-alice"), [FAIR, NORMAL]);
    assert_eq!(s.customer("union-bob"), [FAIR]);

    // Refused calls change nothing, for any customer of the list.
    assert_eq!(s.code("tag/mark", mark(json!([]), json!([]))).await, 400);
    assert_eq!(
        s.code("tag/mark", mark(json!(["etNoSuchTag"]), json!([])))
            .await,
        404
    );
    assert_eq!(s.code("tag/mark", json!({"mark_list": []})).await, 400);
    let stranger =
        json!({"mark_list": [{"unionId": "union-eve", "userId": "rocky", "addTagId": [VIP]}]});
    assert_eq!(s.code("tag/mark", stranger).await, 404);
    assert_eq!(s.customer("union-alice"), [FAIR, NORMAL]);
}

#[tokio::test]
async fn detail_of_an_unknown_tag_is_an_empty_list() {
    let s = Sim::quirks().await;
    assert_eq!(
        s.get("tag/detail", &[("tagId", "etNoSuchTag")]).await,
        json!({"errcode": 0, "errmsg": "ok", "data": []})
    );
    assert_eq!(s.get("tag/detail", &[]).await["errcode"], 400);
    let one = s.get("tag/detail", &[("tagId", NORMAL)]).await;
    assert_eq!(one["data"][0]["id"], LEVEL);
    assert_eq!(one["data"][0]["tags"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused() {
    let s = Sim::quirks().await;
    let missing: Value = s
        .http
        .get(s.url("tag/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing, json!({"errcode": 401, "errmsg": "invalid token"}));
    let wrong = s
        .http
        .post(s.url("tag/create"))
        .query(&[("token", "not-the-token")])
        .json(&json!({"groupName": "新", "tag": [{"name": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 200);
    assert_eq!(wrong.json::<Value>().await.unwrap()["errcode"], 401);
    assert_eq!(s.account(|a| a.groups().len()), 3);
}

#[tokio::test]
async fn malformed_requests_and_unknown_ids_change_nothing() {
    let s = Sim::quirks().await;
    // The seed's TIP text says `group_id`, its example and table `groupId`: only the latter is read.
    assert_eq!(
        s.code(
            "tag/create",
            json!({"group_id": LEVEL, "tag": [{"name": "x"}]})
        )
        .await,
        400
    );
    assert_eq!(
        s.code(
            "tag/create",
            json!({"groupId": LEVEL, "tag": [{"name": "x", "order": 1}]})
        )
        .await,
        400
    );
    assert_eq!(
        s.code(
            "tag/create",
            json!({"groupId": LEVEL, "tag": [{"name": " "}]})
        )
        .await,
        400
    );
    let not_json = s
        .http
        .post(s.url("tag/delete"))
        .query(&[("token", s.h.token())])
        .body("id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.json::<Value>().await.unwrap()["errcode"], 400);
    assert_eq!(
        s.code(
            "tag/create",
            json!({"groupId": "etNoSuchGroup", "tag": [{"name": "x"}]})
        )
        .await,
        404
    );
    assert_eq!(
        s.code("tagGroup/edit", json!({"id": "etNoSuchGroup", "order": 1}))
            .await,
        404
    );
    assert_eq!(
        s.code("tag/edit", json!({"id": "etNoSuchTag", "order": 1}))
            .await,
        404
    );
    assert_eq!(
        s.code("tagGroup/delete", json!({"id": [SOURCE, "etNoSuchGroup"]}))
            .await,
        404
    );
    assert_eq!(
        s.code("tag/delete", json!({"id": [VIP, "etNoSuchTag"]}))
            .await,
        404
    );
    assert_eq!(s.code("tag/delete", json!({"id": []})).await, 400);
    assert_eq!(s.account(|a| a.tag_count()), 4);
}

// ---- The call log. ----

#[tokio::test]
async fn the_call_log_records_every_call_without_the_token() {
    let s = Sim::quirks().await;
    s.get("tag/list", &[]).await;
    s.post(
        "tag/create",
        json!({"groupName": "新", "tag": [{"name": "x"}], "token": "juzi-test-token"}),
    )
    .await;
    s.post(
        "tag/create",
        json!({"groupName": "新", "tag": [{"name": "x"}]}),
    )
    .await;

    let calls = s.h.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("GET", LIST)
    );
    assert_eq!(calls[0].query["token"], "***");
    assert_eq!(
        (calls[0].status, calls[0].errcode, calls[0].write),
        (Some(200), Some(0), false)
    );
    assert_eq!(calls[1].body.as_ref().unwrap()["token"], "***");
    assert_eq!(calls[1].errcode, Some(400), "an unknown field");
    assert_eq!(
        calls[2].body,
        Some(json!({"groupName": "新", "tag": [{"name": "x"}]}))
    );
    assert!(calls[2].applied && !calls[1].applied);
    let everything = format!("{calls:?} {}", serde_json::to_string(&calls).unwrap());
    assert!(!everything.contains("juzi-test-token"), "{everything}");
    assert!(!format!("{:?}", s.h).contains("juzi-test-token"));

    assert_eq!(s.h.count(CREATE), 2);
    assert_eq!(s.h.writes().len(), 2);
    s.h.clear_log();
    assert!(s.h.calls().is_empty());
    s.get("tag/list", &[]).await;
    assert_eq!(s.h.calls()[0].seq, 4, "sequence numbers keep counting");
}

// ---- Faults, scripted for precision. ----

#[tokio::test]
async fn http500_http429_and_busy_answer_without_applying() {
    let s = Sim::quirks().await;
    let body = json!({"groupName": "新", "tag": [{"name": "x"}]});
    for (kind, status) in [
        (FaultKind::Http500, 500),
        (FaultKind::Http429, 429),
        (FaultKind::Busy, 503),
    ] {
        s.h.fail_next(CREATE, kind, 1);
        let resp = s.try_post("tag/create", &body).await.unwrap();
        assert_eq!(resp.status(), status, "{kind}");
        assert_eq!(s.account(|a| a.groups().len()), 3, "{kind} applied nothing");
    }
    // The script is used up: the next call goes through.
    assert_eq!(s.post("tag/create", body).await["errcode"], 0);
    let faults: Vec<_> = s.h.calls().iter().map(|c| (c.fault, c.status)).collect();
    assert_eq!(
        faults,
        [
            (Some(FaultKind::Http500), Some(500)),
            (Some(FaultKind::Http429), Some(429)),
            (Some(FaultKind::Busy), Some(503)),
            (None, Some(200)),
        ]
    );
}

#[tokio::test]
async fn delay_answers_correctly_but_late() {
    let s = Sim::start(fixture("juzibot_doc.yaml"), "delay=150ms").await;
    s.h.fail_next(LIST, FaultKind::Delay, 1);
    let started = Instant::now();
    assert_eq!(s.get("tag/list", &[]).await, doc_groups_response());
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn timeout_keeps_the_client_waiting_and_applies_nothing() {
    let s = Sim::start(fixture("juzibot_quirks.json"), "hang=30s").await;
    s.h.fail_next("*", FaultKind::Timeout, 1);
    let impatient = client(Duration::from_millis(300));
    let err = impatient
        .post(s.url("tag/create"))
        .query(&[("token", s.h.token())])
        .json(&json!({"groupName": "新", "tag": [{"name": "x"}]}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(s.account(|a| a.groups().len()), 3);
    assert_eq!(s.h.calls()[0].fault, Some(FaultKind::Timeout));
    // Shutting down ends the hanging call at once instead of waiting 30 s.
    let started = Instant::now();
    s.h.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn reset_drops_the_connection_and_applies_nothing() {
    let s = Sim::quirks().await;
    s.h.fail_next(CREATE, FaultKind::Reset, 1);
    let err = s
        .try_post(
            "tag/create",
            &json!({"groupName": "新", "tag": [{"name": "x"}]}),
        )
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(s.account(|a| a.groups().len()), 3);
    let call = &s.h.calls()[0];
    assert_eq!(
        (call.fault, call.status, call.errcode),
        (Some(FaultKind::Reset), None, None)
    );
    // The client's next call works on a fresh connection.
    assert_eq!(s.get("tag/list", &[]).await["errcode"], 0);
}

#[tokio::test]
async fn a_lost_response_applies_the_write() {
    let s = Sim::quirks().await;
    // A scripted `lost` skips reads and waits for the next write.
    s.h.fail_next("*", FaultKind::Lost, 1);
    assert_eq!(s.get("tag/list", &[]).await["errcode"], 0);
    let body = json!({"groupName": "新", "tag": [{"name": "x"}]});
    let err = s.try_post("tag/create", &body).await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(s.account(|a| a.groups().len()), 4, "the write happened");
    let call = &s.h.calls()[1];
    assert_eq!(
        (call.fault, call.status, call.errcode),
        (Some(FaultKind::Lost), None, Some(0))
    );
    assert!(call.applied);
    // Re-reading shows it; on Juzibot a repeated create by name adds nothing either.
    let again = s.post("tag/create", body).await;
    assert_eq!(again["data"][0]["id"], "etSimG00000000000000000000000001");
    assert_eq!(s.account(|a| a.tag_count()), 5);
}

// ---- Random faults and the rate limit. ----

/// Makes the same 24 calls and returns what the log says about each.
async fn fault_run(spec: &str) -> Vec<(Option<FaultKind>, Option<u16>, bool)> {
    let s = Sim::start(fixture("juzibot_quirks.json"), spec).await;
    for i in 0..12 {
        let _ = s.try_get("tag/list", &[]).await;
        let body = json!({"groupName": format!("组{i}"), "tag": [{"name": "x"}]});
        let _ = s.try_post("tag/create", &body).await;
    }
    let calls = s.h.calls();
    let created = s.account(|a| a.groups().len()) - 3;
    assert_eq!(
        created,
        calls.iter().filter(|c| c.write && c.applied).count()
    );
    calls
        .iter()
        .map(|c| (c.fault, c.status, c.applied))
        .collect()
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let spec = "seed=42,rate=0.5,kinds=http500+http429+busy+delay+reset+lost,delay=1ms";
    let first = fault_run(spec).await;
    assert_eq!(first, fault_run(spec).await);
    let kinds: std::collections::BTreeSet<_> = first.iter().filter_map(|c| c.0).collect();
    assert!(kinds.len() >= 4, "a varied sequence: {first:?}");
    assert!(
        first.iter().all(|c| c.0 != Some(FaultKind::Lost) || c.2),
        "lost responses are applied"
    );
    let other =
        fault_run("seed=43,rate=0.5,kinds=http500+http429+busy+delay+reset+lost,delay=1ms").await;
    assert_ne!(first, other);
}

#[tokio::test]
async fn the_rate_limit_answers_429_and_applies_nothing() {
    let s = Sim::start(fixture("juzibot_quirks.json"), "rps=3").await;
    for _ in 0..3 {
        assert_eq!(s.get("tag/list", &[]).await["errcode"], 0);
    }
    let resp = s
        .try_post(
            "tag/create",
            &json!({"groupName": "新", "tag": [{"name": "x"}]}),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(s.account(|a| a.groups().len()), 3);
    let last = s.h.calls().pop().unwrap();
    assert!(last.rate_limited && !last.applied);
    assert_eq!(last.status, Some(429));
}

// ---- Fixtures, specs, the CLI entry and shutdown. ----

#[tokio::test]
async fn fixtures_are_checked_and_ids_generated() {
    let start = |yaml: &str| {
        let fixture = Fixture::from_yaml(yaml).unwrap();
        sim::start(
            SimPlatform::Juzibot,
            SimOptions {
                fixture,
                ..SimOptions::default()
            },
        )
    };
    let empty_group = start("groups: [{name: 空}]").await.unwrap_err();
    assert!(
        matches!(empty_group, SimError::Fixture { .. }),
        "{empty_group}"
    );
    let unknown_tag = start("groups: [{name: g, tags: [{name: t}]}]\ncustomers: [{unionId: u, userId: m, tags: [nope]}]")
        .await
        .unwrap_err();
    assert!(unknown_tag.to_string().contains("nope"), "{unknown_tag}");
    let long = start(&format!(
        "groups: [{{name: {}, tags: [{{name: t}}]}}]",
        "长".repeat(31)
    ))
    .await
    .unwrap_err();
    assert!(matches!(long, SimError::Fixture { .. }), "{long}");
    assert!(Fixture::from_yaml("groups: [{name: g, colour: red}]").is_err());

    let h = start("groups: [{name: g, tags: [{name: t}, {id: etGiven, name: u}]}]")
        .await
        .unwrap();
    assert_eq!(h.token(), sim::DEFAULT_TOKEN);
    let ids = h
        .with_state(|a: &mut Account| {
            let g = &a.groups()[0];
            (g.id.clone(), g.tags[0].id.clone(), g.tags[1].id.clone())
        })
        .unwrap();
    assert_eq!(
        ids,
        (
            "etSimG00000000000000000000000001".into(),
            "etSimT00000000000000000000000001".into(),
            "etGiven".into()
        )
    );
    assert!(
        h.with_state(|_: &mut String| ()).is_none(),
        "a wrong state type"
    );
}

#[tokio::test]
async fn seed_files_name_known_platforms_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.yaml");
    std::fs::write(&path, "wechat: {}\n").unwrap();
    let err = SeedFile::load(&path).unwrap_err();
    assert!(
        err.to_string().contains("unknown platform `wechat`"),
        "{err}"
    );
    let missing = SeedFile::load(&dir.path().join("nope.yaml")).unwrap_err();
    assert!(matches!(missing, SimError::ReadSeed { .. }), "{missing}");
}

#[tokio::test]
async fn the_cli_entry_refuses_a_bad_spec_before_serving() {
    let err = sim::run_cli(None, None, Some("rate=lots".into()), |_, _| Ok(()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid fault spec item `rate=lots`: the rate must be a number between 0 and 1 \
         (expected e.g. `seed=42,rate=0.3,kinds=http500+lost,delay=200ms,hang=60s,rps=20`)"
    );
}

#[tokio::test]
async fn start_all_serves_the_seed_file_and_shuts_down() {
    let seed = SeedFile::load(&data_file("juzibot_doc.yaml")).unwrap();
    let spec: FaultSpec = "none".parse().unwrap();
    let handles = sim::start_all(None, &seed, &spec).await.unwrap();
    assert_eq!(handles.len(), SimPlatform::ALL.len());
    let at = handles
        .iter()
        .position(|h| h.platform() == SimPlatform::Juzibot)
        .unwrap();
    let h = &handles[at];
    assert_eq!(h.platform().to_string(), "juzibot");
    assert!(h.base_url().starts_with("http://127.0.0.1:"));
    let url = format!("{}/api/v1/tag/list?token={}", h.base_url(), h.token());
    let http = client(Duration::from_secs(5));
    let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body, doc_groups_response());

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut handles = handles;
    let stopping = tokio::spawn(handles.remove(at).stop_on(async {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    stopping.await.unwrap().unwrap();
    let fresh = client(Duration::from_secs(2));
    assert!(fresh.get(&url).send().await.is_err(), "no longer listening");
}

#[tokio::test]
async fn a_call_abandoned_during_a_delay_is_still_logged() {
    let s = Sim::start(fixture("juzibot_quirks.json"), "delay=3s").await;
    s.h.fail_next(CREATE, FaultKind::Delay, 1);
    let impatient = client(Duration::from_millis(100));
    let err = impatient
        .post(s.url("tag/create"))
        .query(&[("token", s.h.token())])
        .json(&json!({"groupName": "新", "tag": [{"name": "x"}]}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let started = Instant::now();
    while s.h.calls().is_empty() && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let call = &s.h.calls()[0];
    assert_eq!(
        (call.fault, call.status, call.applied),
        (Some(FaultKind::Delay), None, false)
    );
    assert_eq!(s.account(|a| a.groups().len()), 3);
}
