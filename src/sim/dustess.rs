//! The Dustess 尘锋 simulator, following seed 003 (`shared/seeds/003_f85d006f124e7a21.txt`,
//! "新增好友标签") to the letter.
//!
//! # State machine
//! An [`Account`] holds friend-tag groups (好友标签组) in creation order. A group has an id, a name, an
//! `order` in `[0, 2^32)` (bigger sorts first: order值大的排序靠前), a `create_time` in **seconds**
//! (the seed's example: `1684836846`), a `deleted` flag and its tags. A tag has an id, a name, an
//! `order`, a `create_time` and a `deleted` flag. Among the groups that are not deleted, names are
//! unique; among a group's tags that are not deleted, names are unique.
//!
//! The seed documents one call, and so does the simulator:
//! `POST /open-integration-api/tag/v1/qwTag/add?accessToken=… {groupId?, groupName?, order?,
//! tag:[{name, order?}]}`. It adds the tags to the group `groupId`; without one, to the group named
//! `groupName`, creating that group (with `order`) if no group has the name. `tag` holds 1 to 100
//! tags (单次最多100个); names are at most 30 characters (最长为30个字符), counted as characters, not
//! bytes; orders are integers in `[0, 2^32)` and default to 0 (不传默认为0). `groupId` and
//! `groupName` cannot both be empty (不能同时为空); with a `groupId`, `groupName` is not read at all
//! (存在groupID的情况不用此字段无效), so the seed's own example, which sends `"groupName": ""`
//! with its `groupId`, is valid.
//!
//! There is no list, edit, delete or mark call: what an account holds is seen only through the
//! answers of `add`, and through [`SimHandle::with_state`](super::SimHandle::with_state) in tests.
//! [`Account::delete_in_console`] stands for a person deleting something in Dustess's console: the
//! object stays, flagged `deleted`, and the API is never told.
//!
//! Every call is all-or-nothing: a call that answers an error changes nothing, except the
//! [`Account::answer_unknown_after_applying`] hook, which applies a call and then answers 10001.
//!
//! # The envelope
//! Two layers, as the seed's response table shows: Dustess's own `{success, code, msg, data,
//! trace_id}` around WeCom's result `data: {errcode, errmsg, tag_group}` (企微操作结果). A success is
//! `success: true, code: 0, msg: "ok"` with `data.errcode: 0, data.errmsg: "ok"` and `data.tag_group`
//! the group. A Dustess-level failure is `success: false`, a non-zero `code` and `data: null`, with
//! no trace id, exactly as the seed's failure example.
//!
//! # Codes
//! From the seed: `code` 0 ok; `code` 10001 "system unknown error" (the framework's `busy` fault,
//! and the hook above; the seed does not say whether the call was applied).
//!
//! **Not in the seed** (chosen here):
//! - `code` 400, `data: null`: a malformed request: not JSON, a missing or mistyped field, an
//!   **unknown field** (so a client that sends `group_id` instead of `groupId` fails loudly), an
//!   empty or missing `tag` list, more than 100 tags, a blank name or one over 30 characters, an
//!   order outside `[0, 2^32)`, `groupId` and `groupName` both empty.
//! - `code` 401, `data: null`: a missing or wrong `accessToken`.
//! - `code` 0 with `data.errcode` 40068 (WeCom's public "invalid tagid") and `data.tag_group: null`,
//!   `success: true`: the `groupId` names no group, or a group deleted in the console. Dustess
//!   relayed the call; WeCom refused it. `success` stays true because Dustess's own layer succeeded,
//!   which is why a client must check both `code` and `data.errcode`.
//!
//! Checks run in this order: token (401), request shape and limits (400), `groupId` (40068).
//!
//! # Choices where the seed is silent
//! - An existing `groupName` adds to that group, and its `order` is left as it is; a tag name the
//!   group already has makes no new tag: the answer names the existing tag, with its own order.
//!   The fixture switch `readings: {duplicateAdd: refuse}` takes the other reading: such a call is
//!   refused with WeCom's 40071 in `data.errcode` (`code` 0, `tag_group: null`), nothing changed.
//!   Duplicate names in one call make one tag (the first one's order wins). This is what WeCom's
//!   public `add_corp_tag` does with an existing `group_name`, and it makes a repeated call (after
//!   a lost answer) return what the first one made instead of duplicating it.
//! - With a `groupId`, the request's group `order` is ignored as `groupName` is (the seed says so
//!   only for `groupName`); it is still checked against the range.
//! - `data.tag_group.tag` lists the tags the request named, created or already there, once each,
//!   in request order; not every tag of the group. (The seed's example answers a tag the request
//!   did not name, so it cannot tell.)
//! - `data.tag_group.type` is always `""`, as in the example; the seed does not say what else it
//!   could be.
//! - The trace id: the response table says `traceId`, the example says `trace_id`; the simulator
//!   answers `trace_id` (the example wins), a deterministic UUID-shaped counter; the fixture switch
//!   `readings: {traceId: table | both}` answers `traceId` or both at once. Failures carry none, as
//!   the failure example.
//! - Busy and rate limit: the framework's `busy` fault answers the seed's 10001 envelope with HTTP
//!   200, applying nothing; the rate limit answers HTTP 429 with a plain-text body (the seed names
//!   no frequency error).
//! - An empty `groupId` (`""`) counts as absent; names are compared exactly (no trimming).
//! - A deleted group (console) keeps its name out of the way: `groupName` creates a new group of
//!   that name. A deleted tag likewise: its name can be added again as a new tag.
//! - New groups and tags get `create_time` from the clock, in seconds; fixture `createTimestamp`
//!   values (milliseconds, as every fixture writes them) are divided by 1000.
//! - New ids are `etSimG` (groups) or `etSimT` (tags) and a 26-digit counter: 32 characters, like
//!   the seed's ids. Ids are strings everywhere, as the table and the example show them.
//! - Fixtures: `console: true` is accepted and changes nothing (the seed has no ownership rule);
//!   customers are refused (the seed has no customer call); groups need at least one tag, as the
//!   API cannot make an empty one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::clock::IdGen;
use super::fixture::NameRules;
use super::server::{
    Platform, Refusal, find_group, find_group_named, find_tag, lock, order_in_range, tree_group,
};
use super::{Clock, DuplicateAdd, Fixture, SimError, SimPlatform, TraceId};

/// The one documented path.
pub const ADD_PATH: &str = "/open-integration-api/tag/v1/qwTag/add";

/// The longest group or tag name, in characters (最长为30个字符).
const MAX_NAME_CHARS: usize = 30;

/// The most tags one call takes (单次最多100个).
const MAX_TAGS_PER_CALL: usize = 100;

/// The seed's code for "system unknown error".
const UNKNOWN_ERROR: i64 = 10001;

/// WeCom's public "tag name exists" (UserTag Name Already Exist), relayed in `data.errcode` under
/// the `duplicateAdd: refuse` reading.
const NAME_EXISTS: i64 = 40071;

/// The simulator, as the framework sees it.
pub(crate) struct Dustess;

impl Platform for Dustess {
    type State = Account;
    const PLATFORM: SimPlatform = SimPlatform::Dustess;
    const SECRET_KEYS: &'static [&'static str] = &["accessToken"];

    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Account, SimError> {
        Account::from_fixture(fixture, clock)
    }

    fn router(state: Arc<Mutex<Account>>) -> Router {
        Router::new().route(ADD_PATH, post(add)).with_state(state)
    }

    fn is_write(method: &Method, _path: &str) -> bool {
        method == Method::POST
    }

    /// `code` when it is not 0, else WeCom's `data.errcode`.
    fn errcode(body: &Value) -> Option<i64> {
        let code = body.get("code")?.as_i64()?;
        if code != 0 {
            return Some(code);
        }
        Some(
            body.get("data")
                .and_then(|d| d.get("errcode"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )
    }

    fn refusal(kind: Refusal) -> Response {
        match kind {
            Refusal::Busy => Json(wire::Envelope::failure(
                UNKNOWN_ERROR,
                "system unknown error".into(),
            ))
            .into_response(),
            Refusal::RateLimited => {
                (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
            }
        }
    }
}

/// A Dustess account: the simulator's whole state (read it through
/// [`SimHandle::with_state`](super::SimHandle::with_state)).
#[derive(Debug)]
pub struct Account {
    token: String,
    groups: Vec<Group>,
    clock: Arc<dyn Clock>,
    group_ids: IdGen,
    tag_ids: IdGen,
    traces: u64,
    /// What an add of a tag name the group has answers (fixture `readings.duplicateAdd`).
    duplicate_add: DuplicateAdd,
    /// How answers spell the trace id (fixture `readings.traceId`).
    trace_spelling: TraceId,
    unknown_after_applying: usize,
}

/// A friend-tag group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub order: u32,
    /// Seconds since the epoch.
    pub create_time: i64,
    /// Deleted in the console (the API has no delete call).
    pub deleted: bool,
    pub tags: Vec<Tag>,
}

/// A friend tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub order: u32,
    /// Seconds since the epoch.
    pub create_time: i64,
    pub deleted: bool,
}

tree_group!(Group, Tag, str);

impl Account {
    /// Every group in creation order, deleted ones included.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The groups that are not deleted, with only their tags that are not deleted.
    pub fn live_groups(&self) -> Vec<Group> {
        self.groups
            .iter()
            .filter(|g| !g.deleted)
            .map(|g| Group {
                tags: g.tags.iter().filter(|t| !t.deleted).cloned().collect(),
                ..g.clone()
            })
            .collect()
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        find_group(&self.groups, id)
    }

    /// The live group of that name.
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        find_group_named(&self.groups, name, |g| !g.deleted)
    }

    /// A tag and its group.
    pub fn tag(&self, id: &str) -> Option<(&Group, &Tag)> {
        find_tag(&self.groups, id)
    }

    /// How many live tags live groups hold.
    pub fn tag_count(&self) -> usize {
        self.live_groups().iter().map(|g| g.tags.len()).sum()
    }

    /// A person deletes a group (with its tags) or a tag in Dustess's console; the API is never
    /// told. Returns whether the id was found.
    pub fn delete_in_console(&mut self, id: &str) -> bool {
        for g in &mut self.groups {
            if g.id == id {
                g.deleted = true;
                g.tags.iter_mut().for_each(|t| t.deleted = true);
                return true;
            }
            if let Some(t) = g.tags.iter_mut().find(|t| t.id == id) {
                t.deleted = true;
                return true;
            }
        }
        false
    }

    /// The next `times` valid `add` calls are applied and then answered with 10001 "system unknown
    /// error": the case the seed leaves open, where the error hides a change that was made.
    pub fn answer_unknown_after_applying(&mut self, times: usize) {
        self.unknown_after_applying = times;
    }

    fn from_fixture(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: SimPlatform::Dustess,
            message,
        };
        if !fixture.customers.is_empty() {
            return Err(fail(
                "customers are not supported: seed 003 documents no customer call".into(),
            ));
        }
        fixture.check_names(&NameRules {
            platform: SimPlatform::Dustess,
            check: &|what, name| check_name(what, name).map_err(|e| e.message()),
            no_empty_groups: Some("the API cannot create an empty group"),
            namespace: &|_| None,
        })?;
        let given = fixture.given_ids();
        let mut group_ids = IdGen::new("etSimG", 26);
        let mut tag_ids = IdGen::new("etSimT", 26);
        let now = seconds(clock.now_ms());
        let groups = fixture
            .groups
            .iter()
            .map(|g| Group {
                id: group_ids.given_or_next(&g.id, &given),
                name: g.name.clone(),
                order: g.order,
                create_time: g.create_timestamp.map_or(now, seconds),
                deleted: false,
                tags: g
                    .tags
                    .iter()
                    .map(|t| Tag {
                        id: tag_ids.given_or_next(&t.id, &given),
                        name: t.name.clone(),
                        order: t.order,
                        create_time: t.create_timestamp.map_or(now, seconds),
                        deleted: false,
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            token: fixture.token.clone(),
            groups,
            clock,
            group_ids,
            tag_ids,
            traces: 0,
            unknown_after_applying: 0,
            duplicate_add: fixture
                .readings
                .duplicate_add
                .unwrap_or(DuplicateAdd::Existing),
            trace_spelling: fixture.readings.trace_id.unwrap_or(TraceId::Example),
        })
    }

    fn authorize(&self, token: Option<&String>) -> Result<(), ApiError> {
        match token {
            Some(t) if *t == self.token => Ok(()),
            _ => Err(ApiError::InvalidToken),
        }
    }

    fn next_trace(&mut self) -> wire::Trace {
        self.traces += 1;
        wire::Trace::new(
            format!("00000000-0000-4000-8000-{:012}", self.traces),
            self.trace_spelling,
        )
    }

    fn add(&mut self, req: wire::AddRequest) -> Result<wire::TagGroup, ApiError> {
        // Shape and limits first: nothing below may fail half-way.
        let tags = req
            .tag
            .ok_or_else(|| ApiError::BadRequest("`tag` is required".into()))?;
        if tags.is_empty() {
            return Err(ApiError::BadRequest(
                "`tag` must name at least one tag".into(),
            ));
        }
        if tags.len() > MAX_TAGS_PER_CALL {
            return Err(ApiError::BadRequest(format!(
                "`tag` holds {} tags; at most {MAX_TAGS_PER_CALL} per call",
                tags.len()
            )));
        }
        let group_order = order(req.order.as_ref())?;
        let mut wanted: Vec<(String, Option<u32>)> = Vec::new();
        for t in tags {
            check_name("tag", &t.name)?;
            let o = order(t.order.as_ref())?;
            if !wanted.iter().any(|(n, _)| *n == t.name) {
                wanted.push((t.name, o));
            }
        }
        enum Target {
            Existing(usize),
            New(String),
        }
        let target = match req.group_id.filter(|id| !id.is_empty()) {
            // `groupName` is not read at all with a `groupId`.
            Some(id) => Target::Existing(
                self.groups
                    .iter()
                    .position(|g| g.id == id && !g.deleted)
                    .ok_or(ApiError::InvalidGroupId)?,
            ),
            None => {
                let name = req.group_name.unwrap_or_default();
                if name.is_empty() {
                    return Err(ApiError::BadRequest(
                        "`groupId` and `groupName` cannot both be empty".into(),
                    ));
                }
                check_name("group", &name)?;
                match self
                    .groups
                    .iter()
                    .position(|g| !g.deleted && g.name == name)
                {
                    Some(gi) => Target::Existing(gi),
                    None => Target::New(name),
                }
            }
        };

        if let Target::Existing(gi) = target
            && self.duplicate_add == DuplicateAdd::Refuse
            && let Some((name, _)) = wanted.iter().find(|(n, _)| {
                self.groups[gi]
                    .tags
                    .iter()
                    .any(|t| !t.deleted && t.name == *n)
            })
        {
            return Err(ApiError::NameExists(name.clone()));
        }
        let now = seconds(self.clock.now_ms());
        let gi = match target {
            Target::Existing(gi) => gi,
            Target::New(name) => {
                let id = self.group_ids.next(|id| id_taken(&self.groups, id));
                self.groups.push(Group {
                    id,
                    name,
                    order: group_order.unwrap_or(0),
                    create_time: now,
                    deleted: false,
                    tags: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        let mut named = Vec::new();
        for (name, o) in wanted {
            let existing = self.groups[gi]
                .tags
                .iter()
                .position(|t| !t.deleted && t.name == name);
            let ti = match existing {
                Some(ti) => ti,
                None => {
                    let id = self.tag_ids.next(|id| id_taken(&self.groups, id));
                    self.groups[gi].tags.push(Tag {
                        id,
                        name,
                        order: o.unwrap_or(0),
                        create_time: now,
                        deleted: false,
                    });
                    self.groups[gi].tags.len() - 1
                }
            };
            named.push(ti);
        }
        if self.unknown_after_applying > 0 {
            self.unknown_after_applying -= 1;
            return Err(ApiError::UnknownError);
        }
        let group = &self.groups[gi];
        Ok(wire::TagGroup::new(
            group,
            named.into_iter().map(|ti| &group.tags[ti]),
        ))
    }
}

fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn id_taken(groups: &[Group], id: &str) -> bool {
    groups
        .iter()
        .any(|g| g.id == id || g.tags.iter().any(|t| t.id == id))
}

fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::BadRequest(format!(
            "a {what} name cannot be blank"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "{what} name `{name}` has {chars} characters; at most {MAX_NAME_CHARS}"
        )));
    }
    Ok(())
}

/// An order as sent: absent or `null` is `None`; otherwise an integer in `[0, 2^32)`.
fn order(v: Option<&Value>) -> Result<Option<u32>, ApiError> {
    order_in_range(v).map_err(ApiError::BadRequest)
}

/// Why a call was refused, with the codes it answers (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    /// `code` 10001, from the seed.
    UnknownError,
    /// `code` 400, not in the seed.
    BadRequest(String),
    /// `code` 401, not in the seed.
    InvalidToken,
    /// `data.errcode` 40068 (WeCom's), not in the seed.
    InvalidGroupId,
    /// `data.errcode` 40071 (WeCom's) under the `duplicateAdd: refuse` reading, not in the seed.
    NameExists(String),
}

impl ApiError {
    fn message(&self) -> String {
        match self {
            ApiError::UnknownError => "system unknown error".into(),
            ApiError::BadRequest(m) => m.clone(),
            ApiError::InvalidToken => "invalid accessToken".into(),
            ApiError::InvalidGroupId => "invalid tagid".into(),
            ApiError::NameExists(name) => {
                format!("UserTag Name Already Exist: the group already has `{name}`")
            }
        }
    }
}

type Shared = Arc<Mutex<Account>>;

async fn add(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Json<wire::Envelope> {
    let mut account = lock(&s);
    let outcome = account.authorize(q.get("accessToken")).and_then(|()| {
        let req = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?;
        account.add(req)
    });
    Json(match outcome {
        Ok(group) => wire::Envelope::success(
            wire::Data {
                errcode: 0,
                errmsg: "ok".into(),
                tag_group: Some(group),
            },
            account.next_trace(),
        ),
        Err(ApiError::InvalidGroupId) => wire::Envelope::success(
            wire::Data {
                errcode: 40068,
                errmsg: ApiError::InvalidGroupId.message(),
                tag_group: None,
            },
            account.next_trace(),
        ),
        Err(e @ ApiError::NameExists(_)) => wire::Envelope::success(
            wire::Data {
                errcode: NAME_EXISTS,
                errmsg: e.message(),
                tag_group: None,
            },
            account.next_trace(),
        ),
        Err(e @ ApiError::UnknownError) => wire::Envelope::failure(UNKNOWN_ERROR, e.message()),
        Err(e @ ApiError::BadRequest(_)) => wire::Envelope::failure(400, e.message()),
        Err(e @ ApiError::InvalidToken) => wire::Envelope::failure(401, e.message()),
    })
}

/// The wire types, spelled as seed 003 spells them. Requests reject unknown fields.
mod wire {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// `{success, code, msg, data, trace_id}`; `data` is `null` on failure, and a failure has no
    /// trace id.
    #[derive(Debug, Serialize)]
    pub(super) struct Envelope {
        success: bool,
        code: i64,
        msg: String,
        data: Option<Data>,
        #[serde(flatten)]
        trace: Trace,
    }

    /// The trace id under the spelling(s) the fixture's reading picks.
    #[derive(Debug, Default, Serialize)]
    pub(super) struct Trace {
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
        #[serde(rename = "traceId", skip_serializing_if = "Option::is_none")]
        trace_id_table: Option<String>,
    }

    impl Trace {
        pub(super) fn new(id: String, spelling: super::TraceId) -> Self {
            use super::TraceId;
            let (example, table) = match spelling {
                TraceId::Example => (Some(id), None),
                TraceId::Table => (None, Some(id)),
                TraceId::Both => (Some(id.clone()), Some(id)),
            };
            Self {
                trace_id: example,
                trace_id_table: table,
            }
        }
    }

    impl Envelope {
        /// Dustess relayed the call (`code` 0); `data.errcode` says how WeCom took it.
        pub(super) fn success(data: Data, trace: Trace) -> Self {
            Self {
                success: true,
                code: 0,
                msg: "ok".into(),
                data: Some(data),
                trace,
            }
        }

        pub(super) fn failure(code: i64, msg: String) -> Self {
            Self {
                success: false,
                code,
                msg,
                data: None,
                trace: Trace::default(),
            }
        }
    }

    /// `data`: `{errcode, errmsg, tag_group}`.
    #[derive(Debug, Serialize)]
    pub(super) struct Data {
        pub errcode: i64,
        pub errmsg: String,
        pub tag_group: Option<TagGroup>,
    }

    /// `data.tag_group`.
    #[derive(Debug, Serialize)]
    pub(super) struct TagGroup {
        create_time: i64,
        deleted: bool,
        group_id: String,
        group_name: String,
        order: u32,
        #[serde(rename = "type")]
        kind: String,
        tag: Vec<Tag>,
    }

    /// `data.tag_group.tag[]`.
    #[derive(Debug, Serialize)]
    pub(super) struct Tag {
        create_time: i64,
        deleted: bool,
        id: String,
        name: String,
        order: u32,
    }

    impl TagGroup {
        pub(super) fn new<'a>(
            group: &super::Group,
            tags: impl Iterator<Item = &'a super::Tag>,
        ) -> Self {
            Self {
                create_time: group.create_time,
                deleted: group.deleted,
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                order: group.order,
                kind: String::new(),
                tag: tags
                    .map(|t| Tag {
                        create_time: t.create_time,
                        deleted: t.deleted,
                        id: t.id.clone(),
                        name: t.name.clone(),
                        order: t.order,
                    })
                    .collect(),
            }
        }
    }

    /// `qwTag/add`: `{groupId?, groupName?, order?, tag:[{name, order?}]}`. `tag` is optional here
    /// only so that its absence gets the simulator's 400 with a clear message.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct AddRequest {
        pub group_id: Option<String>,
        pub group_name: Option<String>,
        /// Read as any JSON value, so that an out-of-range order gets the range error.
        pub order: Option<Value>,
        pub tag: Option<Vec<NewTag>>,
    }

    /// `tag[]`: `{name, order?}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct NewTag {
        pub name: String,
        pub order: Option<Value>,
    }
}
