//! The 个微 WeChat CRM simulator, following seed 004 (`shared/seeds/004_e44edf6c42719d2e.txt`,
//! "基础数据类接口") to the letter. The API is read only: the seed documents seven reads and not a
//! single write.
//!
//! # State machine
//! An [`Account`] holds two tables, as the two tag endpoints suggest:
//! - **categories** (标签分类, `GET Label`): an integer id (`ad_label_id`), a name and a choice mode
//!   `ad_choose` (0 单选 single, 1 多选 multi);
//! - **labels** (标签配置, `GET wecahtlabel`): an integer id (`ad_label_info_id`), a name, the id of
//!   their category (`ad_label_id`), and the time they were added (`ad_label_time`). A label also
//!   repeats its category's name (`ad_label_name`) and choice mode (`ad_choose`); the simulator
//!   keeps the last ones it knew, which matter only once the category is gone.
//!
//! Nothing changes through the API. Between calls, a test plays the platform's console through the
//! `console_*` methods: add, rename or delete categories and labels. **Deleting a category leaves
//! its labels**: they stay listed by `wecahtlabel` under the old category id and name while `Label`
//! no longer lists the category — the orphan case an adapter must handle. (The seed describes no
//! deletion at all; two tables that each repeat the category is the reading that makes orphans
//! possible, so the simulator lets a test produce them.)
//!
//! Every call must carry the account's token in the `access_token` **header** (Headers:
//! access_token:token). Then, all at the root of the configured base URL (the seed gives no host):
//! - `GET Label` answers every category, in the order they were created.
//! - `GET wecahtlabel?categories=` answers the labels (the path is spelled `wecahtlabel`, as in the
//!   seed; `wechatlabel` does not exist). `categories` is `-1` (查询所有, also the default when absent
//!   or empty) or a category id, which answers only that category's labels (所属的分类详细列表).
//! - The five directory endpoints — `GET WeCaht?ad_wechat_lei=` (运营号配置; path spelled as in the
//!   seed), `GET staff?ad_staff_state=&ad_staff_code=&ad_staff_name=&ad_staff_addtime=` (员工配置),
//!   `GET AdManage` (投放组配置), `GET friend/GetCustomAttributeList` (好友自定义属性配置) and
//!   `POST staff/GetStaffWechat {ad_staff_code?}` (员工管理运营机) — answer the seed's own example
//!   rows, a fixed directory that tagsync never reads, filtered by their documented parameters.
//!
//! # Envelope
//! `{errmsg, succeed, msgTime, values}`: `errmsg` is a **number**, 20000 meaning success, with
//! `succeed: true`. Each endpoint answers the extra fields its example shows, and only those:
//! `Label` and `friend/GetCustomAttributeList` add `errdesc: null`; `staff/GetStaffWechat` starts
//! with `requestId: null` and adds `errdesc: null`; `WeCaht`, `staff`, `wecahtlabel` and
//! `AdManage` have neither. `msgTime` is the simulator's clock in Beijing time with seven
//! fractional digits (`2021-03-30T16:49:01.7151839+08:00`, .NET ticks); `ad_label_time` has six
//! (`2018-01-18T21:17:35.613849+08:00`). Ids are JSON integers everywhere, as every example shows
//! them (the label table calls `ad_label_id` a string; the example wins; the fixture switch
//! `readings: {numbers: strings}` answers every id as a string).
//!
//! # Choices where the seed is silent
//! The seed documents no error at all: no code, no message, not even a failed envelope. Chosen here,
//! all answered with HTTP 200 and the envelope, `succeed: false`, `values: null`, and an `errdesc`
//! saying why (also on endpoints whose success answer has no `errdesc`). The codes read 20000 as
//! "HTTP 200 × 100" and follow the same pattern:
//! - 40000: a malformed request — `categories`, `ad_wechat_lei` or `ad_staff_state` not an integer,
//!   or a `staff/GetStaffWechat` body that is not a JSON object of the documented fields (unknown
//!   fields included; the seed's own request example lacks its opening brace and is refused).
//! - 40100: the `access_token` header is missing or wrong (a token in the query does not count).
//! - 42900: the rate limit was exceeded (the framework's `rps`).
//! - 50300: busy, try later (the framework's `busy` fault).
//!
//! Refusals (42900, 50300) stamp `msgTime` with the real clock and use the plain shape (plus
//! `errdesc`) on every endpoint: the framework's refusal hook knows neither the account's clock nor
//! the path. Every other choice:
//! - `categories` naming no category answers success with `values: []`, as a filter matching
//!   nothing; `categories` may name a deleted category and then answers its orphan labels.
//! - `wecahtlabel` lists labels by id, biggest first, as its example does (1158, 1072, 1071, 991,
//!   976); `Label` lists categories in creation order (its example has one row).
//! - `merchant_id` is always `null`, as in every example.
//! - No name rule: the seed states no length limit (its own example label, 测试超长标签添加…, "testing
//!   an over-long label", has 24 characters) and nothing is written through the API, so names are
//!   served as the console stored them, longer than 30 characters included. Names need not be
//!   unique, and a category may have no labels.
//! - Paths are matched exactly, case included; a wrong method answers HTTP 405 and an unknown path
//!   HTTP 404, both without the envelope. The `Content-type: text/json` header is accepted but not
//!   required. Unknown query parameters are ignored.
//! - Fixtures: ids must be positive integers (ids are integers on the wire, and `-1` means "all");
//!   missing ids are numbered 1, 2, … in fixture order, categories first, skipping ids the fixture
//!   uses. `multiSelect` gives `ad_choose: 1`. `order`, `console` and `customers` are ignored: the
//!   CRM has no order, everything in it was made in its console, and no customer endpoint exists.
//!   A tag's `createTimestamp` (milliseconds) becomes `ad_label_time`; absent, the clock at start.
//! - `staff` filters: `ad_staff_state` -1 (the default) keeps every state; names and codes match
//!   exactly; `ad_staff_addtime` is accepted and ignored (the rows carry no add time).
//!   `WeCaht`'s `ad_wechat_lei` defaults to 0 and keeps the rows of that kind.
//! - Every call is a read (`staff/GetStaffWechat` is a POST that reads), so a scripted `lost`
//!   fault never fires here.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::Value;

use super::server::{Platform, Refusal, lock};
use super::{Clock, Fixture, Numbers, SimError, SimPlatform};

/// The header that carries the token.
const TOKEN_HEADER: &str = "access_token";

/// Success (`errmsg`).
const OK: i64 = 20000;

/// The simulator, as the framework sees it.
pub(crate) struct Crm;

impl Platform for Crm {
    type State = Account;
    const PLATFORM: SimPlatform = SimPlatform::WechatCrm;
    /// The token travels in a header, which the call log does not record; a client that puts it in
    /// the query or body by mistake still has it removed.
    const SECRET_KEYS: &'static [&'static str] = &[TOKEN_HEADER];
    const SUCCESS_CODE: i64 = OK;

    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Account, SimError> {
        Account::from_fixture(fixture, clock)
    }

    fn router(state: Arc<Mutex<Account>>) -> Router {
        Router::new()
            .route("/WeCaht", get(operator_accounts))
            .route("/staff", get(staff))
            .route("/Label", get(categories))
            .route("/wecahtlabel", get(labels))
            .route("/AdManage", get(ad_groups))
            .route("/friend/GetCustomAttributeList", get(custom_attributes))
            .route("/staff/GetStaffWechat", post(staff_operator_accounts))
            .with_state(state)
    }

    fn is_write(_method: &Method, _path: &str) -> bool {
        false
    }

    fn errcode(body: &Value) -> Option<i64> {
        body.get("errmsg").and_then(Value::as_i64)
    }

    fn refusal(kind: Refusal) -> Response {
        let error = match kind {
            Refusal::Busy => ApiError::Busy,
            Refusal::RateLimited => ApiError::RateLimited,
        };
        let now = Utc::now().timestamp_millis();
        Json(wire::Envelope::<Value>::failed(Shape::PLAIN, &error, now)).into_response()
    }
}

/// A 个微 CRM account: the simulator's whole state (read it, or play the console, through
/// [`SimHandle::with_state`](super::SimHandle::with_state)).
#[derive(Debug)]
pub struct Account {
    token: String,
    categories: Vec<Category>,
    labels: Vec<Label>,
    clock: Arc<dyn Clock>,
    /// The biggest id used so far; new ids count up from here.
    last_id: i64,
    /// The JSON type of ids in answers (fixture `readings.numbers`).
    numbers: Numbers,
}

/// A tag category (标签分类), `Label`'s row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: i64,
    pub name: String,
    /// `ad_choose`: 0 single choice, 1 multiple choice.
    pub choose: u8,
}

/// A label (标签), `wecahtlabel`'s row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub category_id: i64,
    /// The category's name and choice mode as last known (listed when the category is gone).
    pub category_name: String,
    pub category_choose: u8,
    /// When it was added, in milliseconds since the epoch.
    pub time_ms: i64,
}

impl Account {
    /// The categories in creation order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The labels in creation order.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn category(&self, id: i64) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn label(&self, id: i64) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// The console adds a category; returns its id.
    pub fn console_add_category(&mut self, name: &str, multi_select: bool) -> i64 {
        let id = self.fresh_id();
        self.categories.push(Category {
            id,
            name: name.to_owned(),
            choose: u8::from(multi_select),
        });
        id
    }

    /// The console adds a label to a category, stamped with the clock; `None` when the category
    /// does not exist.
    pub fn console_add_label(&mut self, category_id: i64, name: &str) -> Option<i64> {
        let category = self.category(category_id)?.clone();
        let id = self.fresh_id();
        self.labels.push(Label {
            id,
            name: name.to_owned(),
            category_id,
            category_name: category.name,
            category_choose: category.choose,
            time_ms: self.clock.now_ms(),
        });
        Some(id)
    }

    /// The console renames a category; false when it does not exist.
    pub fn console_rename_category(&mut self, id: i64, name: &str) -> bool {
        let Some(c) = self.categories.iter_mut().find(|c| c.id == id) else {
            return false;
        };
        c.name = name.to_owned();
        for l in self.labels.iter_mut().filter(|l| l.category_id == id) {
            l.category_name = name.to_owned();
        }
        true
    }

    /// The console renames a label; false when it does not exist.
    pub fn console_rename_label(&mut self, id: i64, name: &str) -> bool {
        let Some(l) = self.labels.iter_mut().find(|l| l.id == id) else {
            return false;
        };
        l.name = name.to_owned();
        true
    }

    /// The console deletes a category **and leaves its labels** (see the module docs); false when
    /// it does not exist.
    pub fn console_delete_category(&mut self, id: i64) -> bool {
        let before = self.categories.len();
        self.categories.retain(|c| c.id != id);
        self.categories.len() != before
    }

    /// The console deletes a label; false when it does not exist.
    pub fn console_delete_label(&mut self, id: i64) -> bool {
        let before = self.labels.len();
        self.labels.retain(|l| l.id != id);
        self.labels.len() != before
    }

    fn fresh_id(&mut self) -> i64 {
        loop {
            self.last_id += 1;
            let id = self.last_id;
            if self.category(id).is_none() && self.label(id).is_none() {
                return id;
            }
        }
    }

    fn from_fixture(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: SimPlatform::WechatCrm,
            message,
        };
        let parse_id = |id: &Option<String>| -> Result<Option<i64>, SimError> {
            id.as_deref()
                .map(|s| match s.parse::<i64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(fail(format!(
                        "id `{s}` is not a positive integer (the CRM's ids are integers)"
                    ))),
                })
                .transpose()
        };
        let mut given = BTreeSet::new();
        for g in &fixture.groups {
            given.extend(parse_id(&g.id)?);
            for t in &g.tags {
                given.extend(parse_id(&t.id)?);
            }
        }
        let mut next = 0;
        let mut fresh = || loop {
            next += 1;
            if !given.contains(&next) {
                return next;
            }
        };
        let now = clock.now_ms();
        let mut categories = Vec::new();
        for g in &fixture.groups {
            let id = parse_id(&g.id)?.unwrap_or_else(&mut fresh);
            categories.push(Category {
                id,
                name: g.name.clone(),
                choose: u8::from(g.multi_select),
            });
        }
        let mut labels = Vec::new();
        for (g, c) in fixture.groups.iter().zip(&categories) {
            for t in &g.tags {
                let id = parse_id(&t.id)?.unwrap_or_else(&mut fresh);
                labels.push(Label {
                    id,
                    name: t.name.clone(),
                    category_id: c.id,
                    category_name: c.name.clone(),
                    category_choose: c.choose,
                    time_ms: t.create_timestamp.unwrap_or(now),
                });
            }
        }
        // New ids count up from the biggest ever used, so that a deleted category's id, still
        // named by its orphan labels, is never handed out again.
        let last_id = given.iter().copied().max().unwrap_or(0).max(next);
        Ok(Self {
            token: fixture.token.clone(),
            categories,
            labels,
            clock,
            last_id,
            numbers: fixture.readings.numbers.unwrap_or(Numbers::Example),
        })
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match headers.get(TOKEN_HEADER).map(|v| v.as_bytes()) {
            Some(t) if t == self.token.as_bytes() => Ok(()),
            _ => Err(ApiError::InvalidToken),
        }
    }

    fn list_categories(&self) -> Vec<wire::Category> {
        self.categories
            .iter()
            .map(|c| wire::Category {
                ad_label_id: self.numbers.value(c.id, false),
                ad_label_name: c.name.clone(),
                ad_choose: c.choose,
            })
            .collect()
    }

    fn list_labels(&self, params: &HashMap<String, String>) -> Result<Vec<wire::Label>, ApiError> {
        let filter = int_param(params, "categories")?.unwrap_or(-1);
        let mut labels: Vec<&Label> = self
            .labels
            .iter()
            .filter(|l| filter == -1 || l.category_id == filter)
            .collect();
        labels.sort_by_key(|l| std::cmp::Reverse(l.id));
        Ok(labels
            .into_iter()
            .map(|l| {
                // The category's current name and mode while it exists, the last known ones after.
                let (name, choose) = match self.category(l.category_id) {
                    Some(c) => (c.name.clone(), c.choose),
                    None => (l.category_name.clone(), l.category_choose),
                };
                wire::Label {
                    ad_label_info_id: self.numbers.value(l.id, false),
                    ad_label_info_name: l.name.clone(),
                    ad_label_id: self.numbers.value(l.category_id, false),
                    ad_label_time: label_time(l.time_ms),
                    merchant_id: None,
                    ad_label_name: name,
                    ad_choose: choose,
                }
            })
            .collect())
    }
}

/// An integer query parameter; absent or empty is `None`.
fn int_param(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    match params.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("`{key}` must be an integer, not `{v}`"))),
    }
}

/// Beijing time, in which every timestamp of the seed is written.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

fn at(ms: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&beijing())
}

/// `msgTime`: seven fractional digits (`2021-03-30T16:49:01.7151839+08:00`).
fn msg_time(ms: i64) -> String {
    let t = at(ms);
    format!(
        "{}.{:07}{}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100,
        t.format("%:z")
    )
}

/// `ad_label_time`: six fractional digits (`2018-01-18T21:17:35.613849+08:00`).
fn label_time(ms: i64) -> String {
    at(ms).format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
}

/// Why a call was refused, with the `errmsg` it answers. None of these is in the seed (see the
/// module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    /// 40000.
    BadRequest(String),
    /// 40100.
    InvalidToken,
    /// 42900.
    RateLimited,
    /// 50300.
    Busy,
}

impl ApiError {
    fn code(&self) -> i64 {
        match self {
            ApiError::BadRequest(_) => 40000,
            ApiError::InvalidToken => 40100,
            ApiError::RateLimited => 42900,
            ApiError::Busy => 50300,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m) => m.clone(),
            ApiError::InvalidToken => "access_token 无效".into(),
            ApiError::RateLimited => "请求过于频繁,请稍后再试".into(),
            ApiError::Busy => "系统繁忙,请稍后再试".into(),
        }
    }
}

/// Which optional envelope fields an endpoint's example shows.
#[derive(Debug, Clone, Copy)]
struct Shape {
    request_id: bool,
    errdesc: bool,
}

impl Shape {
    /// `WeCaht`, `staff`, `wecahtlabel`, `AdManage`.
    const PLAIN: Shape = Shape {
        request_id: false,
        errdesc: false,
    };
    /// `Label`, `friend/GetCustomAttributeList`.
    const ERRDESC: Shape = Shape {
        request_id: false,
        errdesc: true,
    };
    /// `staff/GetStaffWechat`.
    const REQUEST_ID: Shape = Shape {
        request_id: true,
        errdesc: true,
    };
}

type Shared = Arc<Mutex<Account>>;
type Params = Query<HashMap<String, String>>;

/// Checks the token, runs `op` under the lock and wraps its outcome in the envelope.
fn answer<T: Serialize>(
    shared: &Shared,
    headers: &HeaderMap,
    shape: Shape,
    op: impl FnOnce(&Account) -> Result<Vec<T>, ApiError>,
) -> Json<wire::Envelope<T>> {
    let account = lock(shared);
    let now = account.clock.now_ms();
    let outcome = account.authorize(headers).and_then(|()| op(&account));
    Json(match outcome {
        Ok(values) => wire::Envelope::ok(shape, values, now),
        Err(e) => wire::Envelope::failed(shape, &e, now),
    })
}

async fn categories(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Json<wire::Envelope<wire::Category>> {
    answer(&s, &headers, Shape::ERRDESC, |a| Ok(a.list_categories()))
}

async fn labels(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Params,
) -> Json<wire::Envelope<wire::Label>> {
    answer(&s, &headers, Shape::PLAIN, |a| a.list_labels(&q))
}

async fn operator_accounts(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Params,
) -> Json<wire::Envelope<Value>> {
    answer(&s, &headers, Shape::PLAIN, |_| {
        let kind = int_param(&q, "ad_wechat_lei")?.unwrap_or(0);
        Ok(directory::operator_accounts()
            .into_iter()
            .filter(|row| row["ad_wechat_lei"].as_i64() == Some(kind))
            .collect())
    })
}

async fn staff(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Params,
) -> Json<wire::Envelope<Value>> {
    answer(&s, &headers, Shape::PLAIN, |_| {
        let state = int_param(&q, "ad_staff_state")?.unwrap_or(-1);
        let exact = |key: &str, row: &Value| {
            q.get(key)
                .filter(|v| !v.is_empty())
                .is_none_or(|v| row[key].as_str() == Some(v.as_str()))
        };
        Ok(directory::staff()
            .into_iter()
            .filter(|row| state == -1 || row["ad_staff_state"].as_i64() == Some(state))
            .filter(|row| exact("ad_staff_code", row) && exact("ad_staff_name", row))
            .collect())
    })
}

async fn ad_groups(State(s): State<Shared>, headers: HeaderMap) -> Json<wire::Envelope<Value>> {
    answer(&s, &headers, Shape::PLAIN, |_| Ok(directory::ad_groups()))
}

async fn custom_attributes(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Json<wire::Envelope<Value>> {
    answer(&s, &headers, Shape::ERRDESC, |_| {
        Ok(directory::custom_attributes())
    })
}

async fn staff_operator_accounts(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<wire::Envelope<Value>> {
    answer(&s, &headers, Shape::REQUEST_ID, |_| {
        // 不传获取所有员工管理运营机: no body, or no code, means every staff member's.
        let req: wire::StaffWechatRequest = if body.iter().all(u8::is_ascii_whitespace) {
            wire::StaffWechatRequest::default()
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?
        };
        let code = req.ad_staff_code.filter(|c| !c.is_empty());
        Ok(directory::staff_operator_accounts()
            .into_iter()
            .filter(|row| {
                code.as_deref()
                    .is_none_or(|c| row["ad_staff_code"].as_str() == Some(c))
            })
            .collect())
    })
}

/// The wire types, spelled as seed 004 spells them.
mod wire {
    use serde::{Deserialize, Serialize};

    use super::{ApiError, OK, Shape, msg_time};

    /// `{requestId?, errmsg, succeed, msgTime, values, errdesc?}`; see the module docs for which
    /// endpoint shows which optional field.
    #[derive(Debug, Serialize)]
    pub(super) struct Envelope<T> {
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<Option<String>>,
        errmsg: i64,
        succeed: bool,
        #[serde(rename = "msgTime")]
        msg_time: String,
        values: Option<Vec<T>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        errdesc: Option<Option<String>>,
    }

    impl<T> Envelope<T> {
        pub(super) fn ok(shape: Shape, values: Vec<T>, now_ms: i64) -> Self {
            Self {
                request_id: shape.request_id.then_some(None),
                errmsg: OK,
                succeed: true,
                msg_time: msg_time(now_ms),
                values: Some(values),
                errdesc: shape.errdesc.then_some(None),
            }
        }

        /// A failure always says why in `errdesc`.
        pub(super) fn failed(shape: Shape, error: &ApiError, now_ms: i64) -> Self {
            Self {
                request_id: shape.request_id.then_some(None),
                errmsg: error.code(),
                succeed: false,
                msg_time: msg_time(now_ms),
                values: None,
                errdesc: Some(Some(error.message())),
            }
        }
    }

    /// `Label`'s `values[]`.
    #[derive(Debug, Serialize)]
    pub(super) struct Category {
        pub ad_label_id: serde_json::Value,
        pub ad_label_name: String,
        pub ad_choose: u8,
    }

    /// `wecahtlabel`'s `values[]`, fields in the example's order.
    #[derive(Debug, Serialize)]
    pub(super) struct Label {
        pub ad_label_info_id: serde_json::Value,
        pub ad_label_info_name: String,
        pub ad_label_id: serde_json::Value,
        pub ad_label_time: String,
        pub merchant_id: Option<String>,
        pub ad_label_name: String,
        pub ad_choose: u8,
    }

    /// `staff/GetStaffWechat`: `{ad_staff_code?}`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct StaffWechatRequest {
        pub ad_staff_code: Option<String>,
    }
}

/// The fixed directory behind the endpoints tagsync does not use: the seed's own example rows,
/// verbatim.
mod directory {
    use serde_json::{Value, json};

    /// `WeCaht`.
    pub(super) fn operator_accounts() -> Vec<Value> {
        vec![json!({
            "ad_wechat_id": 135389,
            "ad_wechat_nober": "微信号",
            "ad_wechat_nick": "昵称",
            "ad_wechat_qrcode": "二维码",
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
        })]
    }

    /// `staff`.
    pub(super) fn staff() -> Vec<Value> {
        vec![json!({
            "ad_staff_code": "b01",
            "ad_staff_name": "b01",
            "ad_staff_state": 1,
            "ad_self_user": "b08"
        })]
    }

    /// `AdManage`.
    pub(super) fn ad_groups() -> Vec<Value> {
        vec![
            json!({
                "ad_brand_id": 155,
                "ad_brand_name": "12",
                "ad_brand_code": "21",
                "ad_brand_welist": "[\"3516\", \"3521\"]",
                "merchantid": "640462692",
                "ad_wechat_nick": "P05(dong23287),P04(mioz888)",
                "wechats": "[{\"ad_wechat_nober\" : \"dong23287\", \"ad_wechat_qrcode\" : \"http://7nimg.agsoft.net/wxid_w4ebc6txje6622mmqrcode1568877590436.png\"}, {\"ad_wechat_nober\" : \"mioz888\", \"ad_wechat_qrcode\" : \"http://7nimg.agsoft.net/wxid_9g3nmp3wywf622mmqrcode1568711034785.png\"}]",
                "ad_brand_region_code": "360800"
            }),
            json!({
                "ad_brand_id": 151,
                "ad_brand_name": "景田百岁山广告",
                "ad_brand_code": "001",
                "ad_brand_welist": "[]",
                "merchantid": "640462692",
                "ad_wechat_nick": null,
                "wechats": null,
                "ad_brand_region_code": "440100"
            }),
        ]
    }

    /// `friend/GetCustomAttributeList`.
    pub(super) fn custom_attributes() -> Vec<Value> {
        let attribute = |id: &str,
                         name: &str,
                         kind: i64,
                         length: i64,
                         added: &str,
                         added_str: &str,
                         values: Value,
                         raw: &str| {
            json!({
                "id": id,
                "sort": 1,
                "merchantId": null,
                "customName": name,
                "customType": kind,
                "customLength": length,
                "customIsred": false,
                "customAddtime": added,
                "customAddtimeStr": added_str,
                "customValJsonStr": values,
                "customDateformat": "YYYY-MM-DD",
                "customVal": raw
            })
        };
        vec![
            attribute(
                "15",
                "住址",
                1,
                20,
                "2019-08-09T15:42:30.946993+08:00",
                "2019-08-09 15:42:30",
                json!([]),
                "[]",
            ),
            attribute(
                "14",
                "爱好",
                4,
                0,
                "2019-07-26T10:18:08.189804+08:00",
                "2019-07-26 10:18:08",
                json!([
                    {"key": "足球", "value": "1"},
                    {"key": "篮球", "value": "2"},
                    {"key": "游泳", "value": "3"}
                ]),
                "[{\"key\": \"足球\", \"value\": \"1\"}, {\"key\": \"篮球\", \"value\": \"2\"}, {\"key\": \"游泳\", \"value\": \"3\"}]",
            ),
            attribute(
                "13",
                "结婚纪念日",
                2,
                0,
                "2019-07-26T10:16:12.899589+08:00",
                "2019-07-26 10:16:12",
                json!([]),
                "[]",
            ),
            attribute(
                "12",
                "专业",
                1,
                50,
                "2019-07-26T10:15:48.139436+08:00",
                "2019-07-26 10:15:48",
                json!([]),
                "[]",
            ),
        ]
    }

    /// `staff/GetStaffWechat`.
    pub(super) fn staff_operator_accounts() -> Vec<Value> {
        vec![json!({
            "ad_staff_code": "b03",
            "ad_wechat_id": 3547,
            "ad_wechat_nober": "zznn72537",
            "ad_wechat_nick": "P03",
            "ad_wechat_nickname": "秀逗吖Q.",
            "ad_wechat_qrcode": "http://img-1259062805.cos.ap-chengdu.myqcloud.com/640462692/other/wxid_2yfwlz5fu21922mmqrcode1632752533600.png",
            "ad_original_nober": "wxid_2yfwlz5fu21922"
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_beijing_time_with_the_seeds_precision() {
        // 2018-01-18T21:17:35.613+08:00
        let ms = 1_516_281_455_613;
        assert_eq!(label_time(ms), "2018-01-18T21:17:35.613000+08:00");
        assert_eq!(msg_time(ms), "2018-01-18T21:17:35.6130000+08:00");
    }
}
