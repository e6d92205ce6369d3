//! The 个微 CRM simulator over real loopback HTTP: every endpoint of seed 004 with the seed's own
//! request, compared field for field with the seed's own response example; every quirk; every
//! error code the simulator chose (the seed lists none); faults, the call log and fixtures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use serde_json::{Value, json};
use tagsync::sim::crm::Account;
use tagsync::sim::{
    self, FaultKind, FaultSpec, Fixture, ManualClock, SeedFile, SimError, SimHandle, SimOptions,
    SimPlatform,
};

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sim")
        .join(name)
}

fn doc_fixture() -> Fixture {
    SeedFile::load(&data_file("crm_doc.yaml"))
        .unwrap()
        .fixture(SimPlatform::WechatCrm)
        .unwrap()
        .clone()
}

/// A running simulator, its clock and a client for it.
struct Sim {
    h: SimHandle,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
}

impl Sim {
    async fn start(fixture: Fixture, faults: &str) -> Sim {
        let clock = Arc::new(ManualClock::at(1_617_094_141_715));
        let opts = SimOptions {
            fixture,
            faults: faults.parse().unwrap(),
            clock: clock.clone(),
            ..SimOptions::default()
        };
        let h = sim::start(SimPlatform::WechatCrm, opts).await.unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Sim { h, clock, http }
    }

    /// The account behind the seed's examples, with categories 189 and 1 deleted in the console
    /// (see `crm_doc.yaml`).
    async fn doc() -> Sim {
        let s = Sim::start(doc_fixture(), "none").await;
        s.account(|a| {
            assert!(a.console_delete_category(189) && a.console_delete_category(1));
        });
        s
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.h.base_url())
    }

    /// A GET with the seed's headers (`access_token`, `Content-type: text/json`).
    async fn try_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(path))
            .query(query)
            .header("Content-type", "text/json");
        if let Some(t) = token {
            req = req.header("access_token", t);
        }
        req.send().await.unwrap()
    }

    /// A GET with the right token that must answer HTTP 200 with JSON.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let resp = self.try_get(path, query, Some(self.h.token())).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// A POST of raw text with the seed's headers, answering HTTP 200 with JSON.
    async fn post_text(&self, path: &str, body: &str) -> Value {
        let resp = self
            .http
            .post(self.url(path))
            .header("access_token", self.h.token())
            .header("Content-type", "text/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    fn account<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        self.h.with_state(f).expect("a CRM simulator")
    }

    /// Sets the clock to the instant of an example's `msgTime`.
    fn clock_at(&self, example: &Value) {
        let t = DateTime::parse_from_rfc3339(example["msgTime"].as_str().unwrap()).unwrap();
        self.clock.set(t.timestamp_millis());
    }
}

/// The fractional digits of a timestamp such as `2021-03-30T16:49:01.7151839+08:00`.
fn fraction_digits(t: &str) -> usize {
    let frac = t.split_once('.').map_or("", |(_, f)| f);
    frac.chars().take_while(char::is_ascii_digit).count()
}

/// One timestamp of an answer against the example's: the same format (Beijing time, the same
/// number of fractional digits) and the same instant to the millisecond (the simulator's clock
/// and fixtures count milliseconds).
fn same_time(got: &Value, want: &Value) {
    let (g, w) = (got.as_str().unwrap(), want.as_str().unwrap());
    assert!(g.ends_with("+08:00"), "{g}");
    assert_eq!(fraction_digits(g), fraction_digits(w), "{g} vs {w}");
    let ms = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
    assert_eq!(ms(g), ms(w), "{g} vs {w}");
}

/// `got` against the seed's example `want`, field for field: the same fields with the same values
/// and JSON types, timestamps compared as [`same_time`] does.
fn assert_example(got: &Value, want: &Value) {
    let mut got = got.clone();
    same_time(&got["msgTime"], &want["msgTime"]);
    got["msgTime"] = want["msgTime"].clone();
    if let (Some(rows), Some(wanted)) = (got["values"].as_array_mut(), want["values"].as_array()) {
        for (row, w) in rows.iter_mut().zip(wanted) {
            if let Some(t) = row.get("ad_label_time") {
                same_time(t, &w["ad_label_time"]);
                row["ad_label_time"] = w["ad_label_time"].clone();
            }
        }
    }
    assert_eq!(got, *want);
}

/// `GET Label`'s response example, verbatim.
fn label_example() -> Value {
    json!({
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
    })
}

/// `GET wecahtlabel`'s response example, verbatim: no `errdesc`.
fn wecahtlabel_example() -> Value {
    json!({
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
    })
}

// ---- Every endpoint with the seed document's own request. ----
// The seed's "请求示例" is empty for every GET: the request is the bare path with the documented
// headers. Only `staff/GetStaffWechat` shows a body.

#[tokio::test]
async fn doc_example_label() {
    let s = Sim::doc().await;
    let want = label_example();
    s.clock_at(&want);
    assert_example(&s.get("Label", &[]).await, &want);
}

#[tokio::test]
async fn doc_example_wecahtlabel() {
    let s = Sim::doc().await;
    let want = wecahtlabel_example();
    s.clock_at(&want);
    assert_example(&s.get("wecahtlabel", &[]).await, &want);
    // `categories=-1` (what the adapter sends) is the documented default.
    assert_example(&s.get("wecahtlabel", &[("categories", "-1")]).await, &want);
}

#[tokio::test]
async fn doc_example_wecaht() {
    let s = Sim::doc().await;
    let want = json!({
        "errmsg": 20000,
        "succeed": true,
        "msgTime": "2018-05-11T15:40:14.1523923+08:00",
        "values": [
            {
                "ad_wechat_id": 135389,
                "ad_wechat_nober": "微信号",
                "ad_wechat_nick": "昵称",
                "ad_wechat_qrcode":"二维码",
                "ad_wechat_addtime": "添加时间",
                "ad_original_nober": "原始微信号",
                "ad_wechat_usercode": null,
                "ad_wechat_viewnum": 0,
                "ad_wechat_vnumday": 0,
                "ad_wechat_vnumlday": 0,
                "ad_wechat_rfriend": 0,
                "ad_wechat_friend": 1709,
                "ad_wechat_group": 23,
                "ad_wechat_weight": 0,
                "ad_wechat_friends": true,
                "ad_wechat_chat": true,
                "ad_state": null,
                "ad_wechat_nickname": "刘潇",
                "ad_wechat_initiative": false,
                "ad_wechat_passive": false,
                "ad_wechat_y3": true,
                "ad_receive_code": null,
                "ad_key_code": null,
                "ad_chatroom_code": null,
                "ad_wechat_push": true,
                "ad_wechat_new": 1705,
                "is_receiveaddfriendtask": 1,
                "ad_wechat_lei": 0,
                "ad_wechat_record": false,
                "imei": null
            }
        ]
    });
    s.clock_at(&want);
    assert_example(&s.get("WeCaht", &[]).await, &want);
}

#[tokio::test]
async fn doc_example_staff() {
    let s = Sim::doc().await;
    let want = json!({
        "errmsg": 20000,
        "succeed": true,
        "msgTime": "2019-11-05T20:43:44.6250063+08:00",
        "values": [
            {
                "ad_staff_code": "b01",
                "ad_staff_name": "b01",
                "ad_staff_state": 1,
                "ad_self_user": "b08"
            }
        ]
    });
    s.clock_at(&want);
    assert_example(&s.get("staff", &[]).await, &want);
}

#[tokio::test]
async fn doc_example_ad_manage() {
    let s = Sim::doc().await;
    let want = json!({
        "errmsg": 20000,
        "succeed": true,
        "msgTime": "2019-09-29T20:45:05.1353996+08:00",
        "values": [
            {
                "ad_brand_id": 155,
                "ad_brand_name": "12",
                "ad_brand_code": "21",
                "ad_brand_welist": "[\"3516\", \"3521\"]",
                "merchantid": "640462692",
                "ad_wechat_nick": "P05(dong23287),P04(mioz888)",
                "wechats": "[{\"ad_wechat_nober\" : \"dong23287\", \"ad_wechat_qrcode\" : \"http://7nimg.agsoft.net/wxid_w4ebc6txje6622mmqrcode1568877590436.png\"}, {\"ad_wechat_nober\" : \"mioz888\", \"ad_wechat_qrcode\" : \"http://7nimg.agsoft.net/wxid_9g3nmp3wywf622mmqrcode1568711034785.png\"}]",
                "ad_brand_region_code": "360800"
            },
            {
                "ad_brand_id": 151,
                "ad_brand_name": "景田百岁山广告",
                "ad_brand_code": "001",
                "ad_brand_welist": "[]",
                "merchantid": "640462692",
                "ad_wechat_nick": null,
                "wechats": null,
                "ad_brand_region_code": "440100"
            }
        ]
    });
    s.clock_at(&want);
    assert_example(&s.get("AdManage", &[]).await, &want);
}

#[tokio::test]
async fn doc_example_friend_get_custom_attribute_list() {
    let s = Sim::doc().await;
    let want = json!({
        "errmsg": 20000,
        "succeed": true,
        "msgTime": "2020-06-24T17:04:11.6360253+08:00",
        "values": [
            {
                "id": "15",
                "sort": 1,
                "merchantId": null,
                "customName": "住址",
                "customType": 1,
                "customLength": 20,
                "customIsred": false,
                "customAddtime": "2019-08-09T15:42:30.946993+08:00",
                "customAddtimeStr": "2019-08-09 15:42:30",
                "customValJsonStr": [],
                "customDateformat": "YYYY-MM-DD",
                "customVal": "[]"
            },
            {
                "id": "14",
                "sort": 1,
                "merchantId": null,
                "customName": "爱好",
                "customType": 4,
                "customLength": 0,
                "customIsred": false,
                "customAddtime": "2019-07-26T10:18:08.189804+08:00",
                "customAddtimeStr": "2019-07-26 10:18:08",
                "customValJsonStr": [
                    {"key": "足球", "value": "1"},
                    {"key": "篮球", "value": "2"},
                    {"key": "游泳", "value": "3"}
                ],
                "customDateformat": "YYYY-MM-DD",
                "customVal": "[{\"key\": \"足球\", \"value\": \"1\"}, {\"key\": \"篮球\", \"value\": \"2\"}, {\"key\": \"游泳\", \"value\": \"3\"}]"
            },
            {
                "id": "13",
                "sort": 1,
                "merchantId": null,
                "customName": "结婚纪念日",
                "customType": 2,
                "customLength": 0,
                "customIsred": false,
                "customAddtime": "2019-07-26T10:16:12.899589+08:00",
                "customAddtimeStr": "2019-07-26 10:16:12",
                "customValJsonStr": [],
                "customDateformat": "YYYY-MM-DD",
                "customVal": "[]"
            },
            {
                "id": "12",
                "sort": 1,
                "merchantId": null,
                "customName": "专业",
                "customType": 1,
                "customLength": 50,
                "customIsred": false,
                "customAddtime": "2019-07-26T10:15:48.139436+08:00",
                "customAddtimeStr": "2019-07-26 10:15:48",
                "customValJsonStr": [],
                "customDateformat": "YYYY-MM-DD",
                "customVal": "[]"
            }
        ],
        "errdesc": null
    });
    s.clock_at(&want);
    assert_example(&s.get("friend/GetCustomAttributeList", &[]).await, &want);
}

#[tokio::test]
async fn doc_example_staff_get_staff_wechat() {
    let s = Sim::doc().await;
    let want = json!({
        "requestId": null,
        "errmsg": 20000,
        "succeed": true,
        "msgTime": "2021-12-27T15:18:13.1647541+08:00",
        "values": [{
            "ad_staff_code": "b03",
            "ad_wechat_id": 3547,
            "ad_wechat_nober": "zznn72537",
            "ad_wechat_nick": "P03",
            "ad_wechat_nickname": "秀逗吖Q.",
            "ad_wechat_qrcode": "http://img-1259062805.cos.ap-chengdu.myqcloud.com/640462692/other/wxid_2yfwlz5fu21922mmqrcode1632752533600.png",
            "ad_original_nober": "wxid_2yfwlz5fu21922"
        }],
        "errdesc": null
    });
    s.clock_at(&want);
    // The seed's example lacks its opening brace; this is the object it means.
    let got = s
        .post_text("staff/GetStaffWechat", r#"{"ad_staff_code":"b03"}"#)
        .await;
    assert_example(&got, &want);
}

// ---- Quirks. ----

#[tokio::test]
async fn the_path_is_spelled_wecahtlabel_and_paths_are_exact() {
    let s = Sim::doc().await;
    for path in ["wechatlabel", "label", "WeChat", "api/Label"] {
        let resp = s.try_get(path, &[], Some(s.h.token())).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    let wrong_method = s
        .http
        .post(s.url("Label"))
        .header("access_token", s.h.token())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn categories_filters_labels_by_category_id() {
    let s = Sim::doc().await;
    let ids = |v: &Value| -> Vec<i64> {
        v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["ad_label_info_id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(&s.get("wecahtlabel", &[("categories", "189")]).await),
        [1158, 1072, 1071],
        "a deleted category still answers its orphan labels"
    );
    assert_eq!(
        ids(&s.get("wecahtlabel", &[("categories", "1")]).await),
        [991, 976]
    );
    let none = s.get("wecahtlabel", &[("categories", "263")]).await;
    assert_eq!(
        (none["errmsg"].as_i64(), none["values"].clone()),
        (Some(20000), json!([]))
    );
    let unknown = s.get("wecahtlabel", &[("categories", "999")]).await;
    assert_eq!(unknown["values"], json!([]));
    assert_eq!(
        ids(&s.get("wecahtlabel", &[("categories", "")]).await).len(),
        5
    );
}

#[tokio::test]
async fn labels_list_biggest_id_first_and_categories_in_creation_order() {
    let s = Sim::doc().await;
    s.account(|a| {
        let c = a.console_add_category("B.来源", false);
        assert_eq!(c, 1159, "the next free id after the fixture's");
        assert_eq!(a.console_add_label(263, "VIP"), Some(1160));
        assert_eq!(
            a.console_add_label(1, "nope"),
            None,
            "a deleted category takes no label"
        );
    });
    let labels = s.get("wecahtlabel", &[]).await;
    assert_eq!(labels["values"][0]["ad_label_info_id"], 1160);
    assert_eq!(labels["values"][0]["ad_label_name"], "A.客户级别");
    assert_eq!(
        labels["values"][0]["ad_label_time"], "2021-03-30T16:49:01.715000+08:00",
        "stamped by the clock"
    );
    let categories = s.get("Label", &[]).await;
    let names: Vec<&str> = categories["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ad_label_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A.客户级别", "B.来源"]);
}

#[tokio::test]
async fn deleting_a_category_leaves_its_labels_under_the_old_name() {
    let s = Sim::start(doc_fixture(), "none").await;
    let before = s.get("Label", &[]).await;
    assert_eq!(before["values"].as_array().unwrap().len(), 3);
    s.account(|a| {
        assert!(a.console_rename_category(189, "客户意向(旧)"));
        assert!(a.console_delete_category(189));
        assert!(!a.console_delete_category(189));
    });
    let after = s.get("Label", &[]).await;
    assert_eq!(after["values"].as_array().unwrap().len(), 2);
    let labels = s.get("wecahtlabel", &[("categories", "189")]).await;
    for l in labels["values"].as_array().unwrap() {
        assert_eq!(l["ad_label_id"], 189);
        assert_eq!(l["ad_label_name"], "客户意向(旧)", "the last name it had");
    }
}

#[tokio::test]
async fn renames_in_the_console_show_in_both_listings() {
    let s = Sim::start(doc_fixture(), "none").await;
    s.account(|a| {
        assert!(a.console_rename_category(1, "岗位"));
        assert!(a.console_rename_label(991, "零售业"));
        assert!(a.console_delete_label(976));
        assert!(!a.console_rename_label(976, "x"));
    });
    let labels = s.get("wecahtlabel", &[("categories", "1")]).await;
    assert_eq!(
        labels["values"],
        json!([{
            "ad_label_info_id": 991,
            "ad_label_info_name": "零售业",
            "ad_label_id": 1,
            "ad_label_time": "2017-12-08T10:43:22.802000+08:00",
            "merchant_id": null,
            "ad_label_name": "岗位",
            "ad_choose": 0
        }])
    );
}

#[tokio::test]
async fn ad_choose_is_1_for_multi_select_categories_and_their_labels() {
    let fixture = Fixture::from_yaml(
        "groups:\n  - {id: '7', name: 兴趣, multiSelect: true, tags: [{id: '70', name: 篮球}]}\n",
    )
    .unwrap();
    let s = Sim::start(fixture, "none").await;
    assert_eq!(
        s.get("Label", &[]).await["values"],
        json!([{"ad_label_id": 7, "ad_label_name": "兴趣", "ad_choose": 1}])
    );
    assert_eq!(s.get("wecahtlabel", &[]).await["values"][0]["ad_choose"], 1);
}

#[tokio::test]
async fn names_have_no_length_limit_here() {
    let long = "长".repeat(31);
    let fixture = Fixture::from_yaml(&format!(
        "groups:\n  - {{name: {long}, tags: [{{name: {long}}}]}}\n"
    ))
    .unwrap();
    let s = Sim::start(fixture, "none").await;
    assert_eq!(
        s.get("Label", &[]).await["values"][0]["ad_label_name"],
        long
    );
    assert_eq!(
        s.get("wecahtlabel", &[]).await["values"][0]["ad_label_info_name"],
        long
    );
}

#[tokio::test]
async fn get_staff_wechat_filters_by_staff_code() {
    let s = Sim::doc().await;
    for body in ["", "{}", r#"{"ad_staff_code": ""}"#] {
        let all = s.post_text("staff/GetStaffWechat", body).await;
        assert_eq!(all["values"].as_array().unwrap().len(), 1, "{body:?}");
    }
    let other = s
        .post_text("staff/GetStaffWechat", r#"{"ad_staff_code":"b04"}"#)
        .await;
    assert_eq!(
        (other["errmsg"].as_i64(), other["values"].clone()),
        (Some(20000), json!([]))
    );
}

#[tokio::test]
async fn staff_and_wecaht_filter_by_their_parameters() {
    let s = Sim::doc().await;
    let count = |v: Value| v["values"].as_array().unwrap().len();
    assert_eq!(count(s.get("staff", &[("ad_staff_state", "-1")]).await), 1);
    assert_eq!(count(s.get("staff", &[("ad_staff_state", "1")]).await), 1);
    assert_eq!(count(s.get("staff", &[("ad_staff_state", "0")]).await), 0);
    assert_eq!(count(s.get("staff", &[("ad_staff_code", "b01")]).await), 1);
    assert_eq!(count(s.get("staff", &[("ad_staff_name", "b02")]).await), 0);
    assert_eq!(
        count(s.get("staff", &[("ad_staff_addtime", "2019-01-01")]).await),
        1,
        "ignored"
    );
    assert_eq!(count(s.get("WeCaht", &[("ad_wechat_lei", "0")]).await), 1);
    assert_eq!(count(s.get("WeCaht", &[("ad_wechat_lei", "3")]).await), 0);
}

// ---- Error codes (none is in the seed: see `sim::crm`'s docs). ----

/// A failure envelope: `succeed: false`, `values: null`, an `errdesc`, and the endpoint's own
/// optional fields.
fn assert_failure(v: &Value, errmsg: i64) {
    assert_eq!(v["errmsg"], errmsg, "{v}");
    assert_eq!(v["succeed"], false, "{v}");
    assert_eq!(v["values"], Value::Null, "{v}");
    assert!(v["errdesc"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    assert_eq!(fraction_digits(v["msgTime"].as_str().unwrap()), 7, "{v}");
}

#[tokio::test]
async fn error_40000_malformed_requests() {
    let s = Sim::doc().await;
    for (path, key, value) in [
        ("wecahtlabel", "categories", "all"),
        ("wecahtlabel", "categories", "1.5"),
        ("staff", "ad_staff_state", "on"),
        ("WeCaht", "ad_wechat_lei", "x"),
    ] {
        let v = s.get(path, &[(key, value)]).await;
        assert_failure(&v, 40000);
        assert!(v["errdesc"].as_str().unwrap().contains(key), "{v}");
        assert!(v.get("requestId").is_none());
    }
    // The seed's own request example, verbatim: its opening brace is missing.
    let literal = s
        .post_text("staff/GetStaffWechat", "\"ad_staff_code\":\"b03\"\n}")
        .await;
    assert_failure(&literal, 40000);
    assert_eq!(literal["requestId"], Value::Null);
    assert!(literal.as_object().unwrap().contains_key("requestId"));
    let unknown_field = s
        .post_text("staff/GetStaffWechat", r#"{"ad_staff_id":"b03"}"#)
        .await;
    assert_failure(&unknown_field, 40000);
}

#[tokio::test]
async fn error_40100_the_token_goes_in_the_access_token_header() {
    let s = Sim::doc().await;
    for path in [
        "Label",
        "wecahtlabel",
        "WeCaht",
        "staff",
        "AdManage",
        "friend/GetCustomAttributeList",
    ] {
        for token in [None, Some("wrong"), Some("")] {
            let v: Value = s.try_get(path, &[], token).await.json().await.unwrap();
            assert_failure(&v, 40100);
        }
    }
    // In the query it does not count (and is still kept out of the log).
    let v: Value = s
        .try_get("Label", &[("access_token", "crm-doc-token")], None)
        .await
        .json()
        .await
        .unwrap();
    assert_failure(&v, 40100);
    let last = s.h.calls().pop().unwrap();
    assert_eq!(last.query["access_token"], sim::REDACTED);
    let post = s
        .http
        .post(s.url("staff/GetStaffWechat"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_failure(&post.json().await.unwrap(), 40100);
}

#[tokio::test]
async fn error_42900_the_rate_limit() {
    let s = Sim::start(doc_fixture(), "rps=2").await;
    for _ in 0..2 {
        assert_eq!(s.get("Label", &[]).await["errmsg"], 20000);
    }
    let refused = s.get("Label", &[]).await;
    assert_failure(&refused, 42900);
    let last = s.h.calls().pop().unwrap();
    assert!(last.rate_limited && !last.applied);
    assert_eq!((last.status, last.errcode), (Some(200), Some(42900)));
}

#[tokio::test]
async fn error_50300_busy_and_the_other_faults() {
    let s = Sim::doc().await;
    s.h.fail_next("/wecahtlabel", FaultKind::Busy, 1);
    assert_failure(&s.get("wecahtlabel", &[]).await, 50300);
    s.h.fail_next("/Label", FaultKind::Http500, 1);
    assert_eq!(
        s.try_get("Label", &[], Some(s.h.token())).await.status(),
        500
    );
    s.h.fail_next("/Label", FaultKind::Http429, 1);
    assert_eq!(
        s.try_get("Label", &[], Some(s.h.token())).await.status(),
        429
    );
    // A scripted `lost` waits for a write, and nothing here is one.
    s.h.fail_next("*", FaultKind::Lost, 1);
    assert_eq!(s.get("Label", &[]).await["errmsg"], 20000);
    let log: Vec<_> =
        s.h.calls()
            .iter()
            .map(|c| (c.path.clone(), c.fault, c.status, c.errcode, c.applied))
            .collect();
    assert_eq!(
        log,
        [
            (
                "/wecahtlabel".into(),
                Some(FaultKind::Busy),
                Some(200),
                Some(50300),
                false
            ),
            (
                "/Label".into(),
                Some(FaultKind::Http500),
                Some(500),
                None,
                false
            ),
            (
                "/Label".into(),
                Some(FaultKind::Http429),
                Some(429),
                None,
                false
            ),
            ("/Label".into(), None, Some(200), Some(20000), true),
        ]
    );
}

// ---- The call log, fixtures, seed files. ----

#[tokio::test]
async fn the_call_log_has_no_token_and_counts_20000_as_success() {
    let s = Sim::doc().await;
    s.get("Label", &[]).await;
    s.get("wecahtlabel", &[("categories", "-1")]).await;
    s.post_text(
        "staff/GetStaffWechat",
        r#"{"ad_staff_code":"b03","access_token":"crm-doc-token"}"#,
    )
    .await;
    let calls = s.h.calls();
    let seen: Vec<_> = calls
        .iter()
        .map(|c| {
            (
                c.method.as_str(),
                c.path.as_str(),
                c.write,
                c.applied,
                c.errcode,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "/Label", false, true, Some(20000)),
            ("GET", "/wecahtlabel", false, true, Some(20000)),
            // An unknown field: refused, and the token in it is redacted.
            ("POST", "/staff/GetStaffWechat", false, false, Some(40000)),
        ]
    );
    assert_eq!(calls[1].query["categories"], "-1");
    assert_eq!(
        calls[2].body.as_ref().unwrap()["access_token"],
        sim::REDACTED
    );
    let everything = format!("{calls:?} {}", serde_json::to_string(&calls).unwrap());
    assert!(!everything.contains("crm-doc-token"), "{everything}");
    assert!(!format!("{:?}", s.h).contains("crm-doc-token"));
    assert!(s.h.writes().is_empty());
}

#[tokio::test]
async fn fixtures_need_integer_ids_and_get_numbered_ones() {
    let start = |yaml: &str| {
        let fixture = Fixture::from_yaml(yaml).unwrap();
        sim::start(
            SimPlatform::WechatCrm,
            SimOptions {
                fixture,
                ..SimOptions::default()
            },
        )
    };
    for bad in ["etGroup1", "-1", "0", "1.5"] {
        let err = start(&format!("groups: [{{id: '{bad}', name: g}}]"))
            .await
            .unwrap_err();
        assert!(matches!(err, SimError::Fixture { .. }), "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
    let h =
        start("groups: [{name: a, tags: [{name: x}, {id: '2', name: y}]}, {name: b, order: 9}]")
            .await
            .unwrap();
    let ids = h
        .with_state(|a: &mut Account| {
            (
                a.categories().iter().map(|c| c.id).collect::<Vec<_>>(),
                a.labels().iter().map(|l| l.id).collect::<Vec<_>>(),
            )
        })
        .unwrap();
    assert_eq!(
        ids,
        (vec![1, 3], vec![4, 2]),
        "categories first, skipping given ids"
    );
}

#[tokio::test]
async fn start_all_serves_the_crm_from_its_seed_file_key() {
    let seed = SeedFile::load(&data_file("crm_doc.yaml")).unwrap();
    let spec: FaultSpec = "none".parse().unwrap();
    let handles = sim::start_all(None, &seed, &spec).await.unwrap();
    let h = handles
        .iter()
        .find(|h| h.platform() == SimPlatform::WechatCrm)
        .unwrap();
    assert_eq!(h.platform().to_string(), "wechat_crm");
    assert_eq!(
        "wechat_crm".parse::<SimPlatform>().unwrap(),
        SimPlatform::WechatCrm
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let body: Value = http
        .get(format!("{}/Label", h.base_url()))
        .header("access_token", h.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["values"].as_array().unwrap().len(), 3);
    for h in handles {
        h.shutdown().await.unwrap();
    }
}
