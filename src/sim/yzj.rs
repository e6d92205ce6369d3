//! The Miaokol 云真机 smart-tag simulator, following seed 000
//! (`shared/seeds/000_2eb0c538c8ee7afb.txt`, "云真机 API接口文档 / 智能标签"; its readable copy is the
//! `.clean.txt` beside it) to the letter.
//!
//! # State machine
//! An [`Account`] holds smart-tag groups in creation order. Groups and tags are rows of one kind
//! (`type` 2 is a group, 1 a tag, and a tag's `parent_id` is its group), so they share **one id
//! space**: the seed's examples number a group 1 and its tags 2 and 3, and `delete {id}` takes
//! either. A group has a positive integer id, a name unique among groups, a `sort`, a creation and
//! an update time in seconds (`ctime`, `utime`), and any number of tags, none at all included (the
//! `add` example creates a group alone). A tag has an id, a name unique within its group, a `sort`
//! and its times. A customer, the contact `contact_wxid` of the WeCom account `rel_wxid`, carries a
//! set of tag ids.
//!
//! Every call must carry the account's `app_id` and `access_token`: in the query for `GET`, in the
//! JSON body for `POST` (each only there). Then, all under `/smart-tag/`:
//! - `GET list?with_tags=&id=&page=&page_size=` pages through the groups (`page` from 1, `page_size`
//!   10 by default, at most 100), each with its tags when `with_tags=1`, only group `id` when given.
//!   The answer is `{data:[…], pager:{page, perPage, numRecords, numPages, firstRecord,
//!   lastRecord}, errcode:0}`, and its types are mixed exactly as the seed's example shows them: a
//!   group's `id`, `type` and `number` are ints, a tag's `id`, `parent_id` and `sort` are strings,
//!   its `contact_cnt` an int. The fixture switch `readings: {numbers: ints | strings}` answers
//!   every id, `parent_id` and `sort` as an int (as the table's `tags[0].id int` says) or as a
//!   string instead.
//! - `POST add {id, name, type, parent_id}`: `id` 0 (or absent) creates, any other id edits that
//!   object; `type` 1 is a tag, 2 a group; `parent_id` is a tag's group, and defaults to 0 (默认为0),
//!   which is no group: a tag created **or edited** without it is refused, and an edit naming
//!   another group moves the tag there. The answer is the whole row (`id`, `user_id`,
//!   `sub_user_id`, `corp_id`, `module`, `name`, `type`, `is_delete`, `number`, `parent_id`,
//!   `ctime`, `utime`, `sort`, `extra`), all ints as the example shows. The call has no sort field:
//!   **a sort cannot be written through the API**.
//! - `POST delete {id}` deletes one group (with its tags) or one tag; deleted tags leave every
//!   customer. A group keeps existing when its last tag goes.
//! - `POST batchAddTag {group_id, group_name, tag_names:[…]}` adds tags to group `group_id`, or, with
//!   `group_id` 0 (or absent), creates the group `group_name` (then required: 则group_name不能为空)
//!   with them. `group_name` is ignored with a non-zero `group_id`. It answers `data: null`: the new
//!   ids are only learnt by listing.
//! - `POST updateContact {rel_wxid, contact_wxid, smart_tag_ids:[…]}` **replaces** the customer's
//!   whole set (全量覆盖); an empty list clears it. It answers `data: {}` (the seed's comment says the
//!   customer's information; it documents no field of it).
//!
//! Every call is all-or-nothing: a call that answers an error changes nothing.
//!
//! # Errcodes
//! From the seed: `errcode` 0 success, 1 failure (0成功;1异常); nothing else. Every refusal of a
//! request answers HTTP 200 with `{data: null, errcode: 1, errmsg}`.
//!
//! # Choices where the seed is silent
//! - Failure bodies: the seed shows none. `errmsg` (a Chinese sentence saying what is wrong) is this
//!   simulator's; success answers have no `errmsg`, as every example shows.
//! - A missing or wrong `app_id` / `access_token` answers **HTTP 401** with the same failure
//!   envelope (errcode 1), so that a client can tell a credential problem from a refused request.
//!   Credentials sent in the query of a `POST`, or in anything but a JSON object body, count as
//!   missing.
//! - Busy and frequency errors have no code in the seed: the framework's `busy` fault answers HTTP
//!   503 and the rate limit HTTP 429, both with a plain-text body and no envelope.
//! - Request types are the tables' types: ids, `type`, `parent_id`, `group_id` and `smart_tag_ids`
//!   are JSON integers (a string id is refused, even though `list` answers tag ids as strings);
//!   unknown fields are refused, so a misspelt field fails loudly. In the `list` query an
//!   unparsable number is refused.
//! - `add` without `type` makes a group: the table marks `type` required, but the seed's own `add`
//!   example sends only `name` and answers a group (`type: 2`, id 1). `parent_id` on a group must be
//!   0. An id that is not of the given type (a tag id with `type` 2) is refused.
//! - Names: the seed states no limit; the simulator applies tagsync's common limit (PLATFORMS.md)
//!   of 30 characters, counted as characters, not bytes. A blank name is refused. Names are unique
//!   (groups per account, tags per group): a create or rename onto a taken name is refused, a
//!   `batchAddTag` that names a tag twice or a tag the group has is refused as a whole, and
//!   `batchAddTag` needs at least one name. Names are compared exactly.
//! - Sort: new groups and tags get `sort` 0, as the `add` example answers for a new group; only a
//!   fixture (the console) sets others, in `[0, 2^32)`. `list` sorts groups and tags by `sort`,
//!   bigger first (the example lists `"sort":"2"` before `"sort":"1"`), ties by id. `list` does not
//!   show a group's `sort` (the example has none).
//! - Paging: a `page` below 1 is page 1; a `page_size` below 1 is the default 10, above 100 is 100.
//!   `perPage` answers the page size in force (the seed's example answers `perPage: 20` to a request
//!   for `page_size=10`, which no rule explains). `numPages` is ⌈numRecords / perPage⌉ (0 when there
//!   is nothing); `firstRecord` is the 0-based index of the page's first group and `lastRecord` of
//!   its last (both 0 in the example's one-group answer; equal to `firstRecord` on an empty page). A
//!   page past the end answers `data: []`. With `with_tags` other than 1 the groups have no `tags`
//!   key. All of a group's tags are answered: paging counts groups.
//! - `number` (a group) and `contact_cnt` (a tag) are customer counts: customers carrying any tag of
//!   the group, and customers carrying the tag (0 in the example, whose group has two tags).
//! - `add`'s `user_id`, `sub_user_id`, `corp_id` and `module` are the account's constants 2, 0, 0
//!   and 47 (the example's); `is_delete` is 0 and `extra` null (deleted rows are gone for good);
//!   `number` is as above.
//! - Ids: fixture objects without an id get the lowest ids the fixture leaves free; new objects
//!   count on above the highest id so far, in the shared id space, and ids are never reused.
//!   `delete` of an id that does not exist (again) is refused.
//! - `updateContact`: the customer must be known (a fixture customer: its `userId` is the
//!   `rel_wxid`, its `unionId` the `contact_wxid`), and every id must be a tag's (a group id is
//!   refused); duplicates count once.
//! - Fixtures: ids must be positive integers; "created in the console" (`console: true`) is refused,
//!   since the seed knows no objects the API may not change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::fixture::NameRules;
use super::server::{
    Platform, Refusal, count_tags, find_group, find_group_named, find_tag, lock, tree_group,
};
use super::{Clock, Fixture, Numbers, SimError, SimPlatform};

/// The `app_id` a fixture accepts when it names none.
pub const DEFAULT_APP_ID: &str = "sim-app-id";

/// The longest group or tag name, in characters (tagsync's common limit; the seed states none).
const MAX_NAME_CHARS: usize = 30;
/// `page_size`: 默认10,最大100.
const DEFAULT_PAGE_SIZE: u64 = 10;
const MAX_PAGE_SIZE: u64 = 100;
/// `type`: 1:标签;2:标签分组.
const TYPE_TAG: i64 = 1;
const TYPE_GROUP: i64 = 2;
/// The account constants of the seed's `add` response example.
const USER_ID: i64 = 2;
const SUB_USER_ID: i64 = 0;
const CORP_ID: i64 = 0;
const MODULE: i64 = 47;

/// The simulator, as the framework sees it.
pub(crate) struct Yzj;

impl Platform for Yzj {
    type State = Account;
    const PLATFORM: SimPlatform = SimPlatform::Yzj;
    const SECRET_KEYS: &'static [&'static str] = &["access_token"];

    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Account, SimError> {
        Account::from_fixture(fixture, clock)
    }

    fn router(state: Arc<Mutex<Account>>) -> Router {
        Router::new()
            .route("/smart-tag/list", get(list))
            .route("/smart-tag/add", post(add))
            .route("/smart-tag/delete", post(delete))
            .route("/smart-tag/batchAddTag", post(batch_add_tag))
            .route("/smart-tag/updateContact", post(update_contact))
            .with_state(state)
    }

    fn is_write(method: &Method, _path: &str) -> bool {
        method == Method::POST
    }

    fn errcode(body: &Value) -> Option<i64> {
        match body.get("errcode")? {
            Value::String(s) => s.parse().ok(),
            v => v.as_i64(),
        }
    }

    fn refusal(kind: Refusal) -> Response {
        match kind {
            Refusal::Busy => {
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
            }
            Refusal::RateLimited => {
                (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
            }
        }
    }
}

/// A Miaokol account: the simulator's whole state (read it through
/// [`SimHandle::with_state`](super::SimHandle::with_state)).
#[derive(Debug)]
pub struct Account {
    app_id: String,
    access_token: String,
    groups: Vec<Group>,
    /// (`rel_wxid`, `contact_wxid`) → tag ids.
    customers: BTreeMap<(String, String), BTreeSet<u64>>,
    clock: Arc<dyn Clock>,
    /// The next id to try; ids are never reused.
    next_id: u64,
    /// The JSON types of ids and numbers in `list` (fixture `readings.numbers`).
    numbers: Numbers,
}

/// A smart-tag group (`type` 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: u64,
    pub name: String,
    /// Not shown by `list`; only a fixture sets it.
    pub sort: u32,
    /// Seconds since the epoch.
    pub ctime: i64,
    pub utime: i64,
    pub tags: Vec<Tag>,
}

/// A smart tag (`type` 1); its `parent_id` is the group holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: u64,
    pub name: String,
    pub sort: u32,
    pub ctime: i64,
    pub utime: i64,
}

tree_group!(Group, Tag, u64);

impl Account {
    /// The groups in creation order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, id: u64) -> Option<&Group> {
        find_group(&self.groups, &id)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        find_group_named(&self.groups, name, |_| true)
    }

    /// A tag and its group.
    pub fn tag(&self, id: u64) -> Option<(&Group, &Tag)> {
        find_tag(&self.groups, &id)
    }

    /// How many tags all groups hold.
    pub fn tag_count(&self) -> usize {
        count_tags(&self.groups)
    }

    /// The tag ids on the contact `contact_wxid` of `rel_wxid`; `None` for an unknown customer.
    pub fn customer_tags(&self, rel_wxid: &str, contact_wxid: &str) -> Option<&BTreeSet<u64>> {
        self.customers
            .get(&(rel_wxid.to_owned(), contact_wxid.to_owned()))
    }

    fn from_fixture(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: SimPlatform::Yzj,
            message,
        };
        let parse_id = |id: &Option<String>| -> Result<Option<u64>, SimError> {
            match id {
                None => Ok(None),
                Some(s) => match s.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(fail(format!(
                        "id `{s}` is not a positive integer (Miaokol ids are numbers)"
                    ))),
                },
            }
        };
        fixture.check_names(&NameRules {
            platform: SimPlatform::Yzj,
            check: &|_, name| check_name(name).map_err(|e| e.message()),
            // `add` with type 2 makes a group alone.
            no_empty_groups: None,
            namespace: &|_| None,
        })?;
        let mut given = BTreeSet::new();
        for g in &fixture.groups {
            if g.console {
                return Err(fail(format!(
                    "group `{}` is marked `console`, but Miaokol documents no objects the API may not change",
                    g.name
                )));
            }
            given.extend(parse_id(&g.id)?);
            for t in &g.tags {
                given.extend(parse_id(&t.id)?);
            }
        }
        let now = clock.now_ms().div_euclid(1000);
        let seconds = |ms: Option<i64>| ms.map_or(now, |ms| ms.div_euclid(1000));
        let mut account = Self {
            app_id: fixture
                .app_id
                .clone()
                .unwrap_or_else(|| DEFAULT_APP_ID.to_owned()),
            access_token: fixture.token.clone(),
            groups: Vec::new(),
            customers: BTreeMap::new(),
            clock,
            next_id: 1,
            numbers: fixture.readings.numbers.unwrap_or(Numbers::Example),
        };
        // Generated ids skip every id the fixture gives, wherever it comes in the file.
        let new_id = |account: &mut Self| {
            while given.contains(&account.next_id) {
                account.next_id += 1;
            }
            account.new_id()
        };
        for g in &fixture.groups {
            let id = match parse_id(&g.id)? {
                Some(id) => id,
                None => new_id(&mut account),
            };
            let mut tags = Vec::new();
            for t in &g.tags {
                let tag_id = match parse_id(&t.id)? {
                    Some(id) => id,
                    None => new_id(&mut account),
                };
                let ctime = seconds(t.create_timestamp);
                tags.push(Tag {
                    id: tag_id,
                    name: t.name.clone(),
                    sort: t.order,
                    ctime,
                    utime: ctime,
                });
            }
            let ctime = seconds(g.create_timestamp);
            account.groups.push(Group {
                id,
                name: g.name.clone(),
                sort: g.order,
                ctime,
                utime: ctime,
                tags,
            });
        }
        // Later creates count on above every fixture id.
        if let Some(max) = given.iter().max() {
            account.next_id = account.next_id.max(max + 1);
        }
        for c in &fixture.customers {
            let mut tags = BTreeSet::new();
            for t in &c.tags {
                // `check_common` made sure each is a tag id of the fixture, hence a number.
                tags.extend(parse_id(&Some(t.clone()))?);
            }
            account
                .customers
                .insert((c.user_id.clone(), c.union_id.clone()), tags);
        }
        Ok(account)
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn now(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    fn authorize(&self, app_id: Option<&str>, token: Option<&str>) -> Result<(), ApiError> {
        if app_id == Some(self.app_id.as_str()) && token == Some(self.access_token.as_str()) {
            Ok(())
        } else {
            Err(ApiError::Credential)
        }
    }

    fn group_index(&self, id: u64) -> Option<usize> {
        self.groups.iter().position(|g| g.id == id)
    }

    fn tag_index(&self, id: u64) -> Option<(usize, usize)> {
        self.groups
            .iter()
            .enumerate()
            .find_map(|(gi, g)| g.tags.iter().position(|t| t.id == id).map(|ti| (gi, ti)))
    }

    fn contact_cnt(&self, tag: u64) -> i64 {
        self.customers.values().filter(|s| s.contains(&tag)).count() as i64
    }

    fn number(&self, group: &Group) -> i64 {
        self.customers
            .values()
            .filter(|s| group.tags.iter().any(|t| s.contains(&t.id)))
            .count() as i64
    }

    fn list(&self, q: &HashMap<String, String>) -> Result<wire::ListAnswer, ApiError> {
        let int = |key: &str| -> Result<Option<i64>, ApiError> {
            match q.get(key).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| ApiError::Invalid(format!("参数{key}必须是整数,收到`{v}`"))),
            }
        };
        let with_tags = int("with_tags")? == Some(1);
        let filter = int("id")?.filter(|&id| id != 0);
        let page = int("page")?.unwrap_or(1).max(1) as u64;
        let per_page = match int("page_size")? {
            Some(n) if n >= 1 => (n as u64).min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        };
        let mut groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| filter.is_none_or(|id| i64::try_from(g.id) == Ok(id)))
            .collect();
        groups.sort_by_key(|g| (std::cmp::Reverse(g.sort), g.id));
        let records = groups.len() as u64;
        let first = (page - 1).saturating_mul(per_page);
        let data: Vec<wire::ListGroup> = groups
            .into_iter()
            .skip(usize::try_from(first).unwrap_or(usize::MAX))
            .take(per_page as usize)
            .map(|g| {
                let tags = with_tags.then(|| {
                    let mut tags: Vec<&Tag> = g.tags.iter().collect();
                    tags.sort_by_key(|t| (std::cmp::Reverse(t.sort), t.id));
                    tags.into_iter()
                        .map(|t| wire::ListTag {
                            id: self.numbers.value(t.id as i64, true),
                            name: t.name.clone(),
                            parent_id: self.numbers.value(g.id as i64, true),
                            sort: self.numbers.value(i64::from(t.sort), true),
                            contact_cnt: self.contact_cnt(t.id),
                        })
                        .collect()
                });
                wire::ListGroup {
                    id: self.numbers.value(g.id as i64, false),
                    name: g.name.clone(),
                    r#type: TYPE_GROUP,
                    number: self.number(g),
                    tags,
                }
            })
            .collect();
        let count = data.len() as u64;
        Ok(wire::ListAnswer {
            data,
            pager: wire::Pager {
                page,
                per_page,
                num_records: records,
                num_pages: records.div_ceil(per_page),
                first_record: first,
                last_record: first + count.saturating_sub(1),
            },
            errcode: 0,
        })
    }

    fn add(&mut self, req: wire::AddRequest) -> Result<wire::Row, ApiError> {
        let kind = req.r#type.unwrap_or(TYPE_GROUP);
        if kind != TYPE_TAG && kind != TYPE_GROUP {
            return Err(ApiError::Invalid(format!(
                "type必须是1(标签)或2(标签分组),收到{kind}"
            )));
        }
        check_name(&req.name)?;
        let now = self.now();
        let id = req.id.unwrap_or(0);
        let parent = req.parent_id.unwrap_or(0);
        if kind == TYPE_GROUP {
            if parent != 0 {
                return Err(ApiError::Invalid("标签分组没有parent_id".into()));
            }
            let gi = if id == 0 {
                None
            } else {
                Some(
                    self.group_index(id)
                        .ok_or_else(|| ApiError::Invalid(format!("标签分组{id}不存在")))?,
                )
            };
            if self
                .groups
                .iter()
                .enumerate()
                .any(|(i, g)| Some(i) != gi && g.name == req.name)
            {
                return Err(ApiError::Invalid(format!(
                    "标签分组名称`{}`已存在",
                    req.name
                )));
            }
            let gi = match gi {
                Some(gi) => {
                    let g = &mut self.groups[gi];
                    g.name = req.name;
                    g.utime = now;
                    gi
                }
                None => {
                    let id = self.new_id();
                    self.groups.push(Group {
                        id,
                        name: req.name,
                        sort: 0,
                        ctime: now,
                        utime: now,
                        tags: Vec::new(),
                    });
                    self.groups.len() - 1
                }
            };
            let g = &self.groups[gi];
            return Ok(wire::Row {
                id: g.id,
                user_id: USER_ID,
                sub_user_id: SUB_USER_ID,
                corp_id: CORP_ID,
                module: MODULE,
                name: g.name.clone(),
                r#type: TYPE_GROUP,
                is_delete: 0,
                number: self.number(g),
                parent_id: 0,
                ctime: g.ctime,
                utime: g.utime,
                sort: g.sort,
                extra: Value::Null,
            });
        }
        // A tag: `parent_id` names its group, created or edited (默认为0, which is no group).
        let target = self
            .group_index(parent)
            .ok_or_else(|| ApiError::Invalid(format!("parent_id {parent} 不是标签分组")))?;
        let current = if id == 0 {
            None
        } else {
            Some(
                self.tag_index(id)
                    .ok_or_else(|| ApiError::Invalid(format!("标签{id}不存在")))?,
            )
        };
        let taken = self.groups[target]
            .tags
            .iter()
            .any(|t| t.name == req.name && t.id != id);
        if taken {
            return Err(ApiError::Invalid(format!(
                "标签分组`{}`已有标签`{}`",
                self.groups[target].name, req.name
            )));
        }
        let tag = match current {
            Some((gi, ti)) => {
                let mut tag = self.groups[gi].tags.remove(ti);
                tag.name = req.name;
                tag.utime = now;
                tag
            }
            None => Tag {
                id: self.new_id(),
                name: req.name,
                sort: 0,
                ctime: now,
                utime: now,
            },
        };
        let row = wire::Row {
            id: tag.id,
            user_id: USER_ID,
            sub_user_id: SUB_USER_ID,
            corp_id: CORP_ID,
            module: MODULE,
            name: tag.name.clone(),
            r#type: TYPE_TAG,
            is_delete: 0,
            number: self.contact_cnt(tag.id),
            parent_id: self.groups[target].id,
            ctime: tag.ctime,
            utime: tag.utime,
            sort: tag.sort,
            extra: Value::Null,
        };
        match current {
            // Put back in place when the group stays, so that creation order is kept.
            Some((gi, ti)) if gi == target => self.groups[gi].tags.insert(ti, tag),
            _ => self.groups[target].tags.push(tag),
        }
        Ok(row)
    }

    fn delete(&mut self, req: wire::DeleteRequest) -> Result<(), ApiError> {
        let id = req.id;
        let gone: BTreeSet<u64> = if let Some(gi) = self.group_index(id) {
            let g = self.groups.remove(gi);
            g.tags.iter().map(|t| t.id).collect()
        } else if let Some((gi, ti)) = self.tag_index(id) {
            self.groups[gi].tags.remove(ti);
            BTreeSet::from([id])
        } else {
            return Err(ApiError::Invalid(format!("标签或标签分组{id}不存在")));
        };
        for tags in self.customers.values_mut() {
            tags.retain(|t| !gone.contains(t));
        }
        Ok(())
    }

    fn batch_add_tag(&mut self, req: wire::BatchAddTagRequest) -> Result<(), ApiError> {
        let group_id = req.group_id.unwrap_or(0);
        let existing = if group_id == 0 {
            let name = req.group_name.unwrap_or_default();
            if name.trim().is_empty() {
                return Err(ApiError::Invalid("group_id为0时group_name不能为空".into()));
            }
            check_name(&name)?;
            if self.group_by_name(&name).is_some() {
                return Err(ApiError::Invalid(format!("标签分组名称`{name}`已存在")));
            }
            Err(name)
        } else {
            Ok(self
                .group_index(group_id)
                .ok_or_else(|| ApiError::Invalid(format!("标签分组{group_id}不存在")))?)
        };
        if req.tag_names.is_empty() {
            return Err(ApiError::Invalid("tag_names不能为空".into()));
        }
        let mut seen = BTreeSet::new();
        for name in &req.tag_names {
            check_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(ApiError::Invalid(format!("tag_names重复:`{name}`")));
            }
            if let Ok(gi) = existing
                && self.groups[gi].tags.iter().any(|t| t.name == *name)
            {
                return Err(ApiError::Invalid(format!(
                    "标签分组`{}`已有标签`{name}`",
                    self.groups[gi].name
                )));
            }
        }
        let now = self.now();
        let gi = match existing {
            Ok(gi) => gi,
            Err(name) => {
                let id = self.new_id();
                self.groups.push(Group {
                    id,
                    name,
                    sort: 0,
                    ctime: now,
                    utime: now,
                    tags: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        for name in req.tag_names {
            let id = self.new_id();
            self.groups[gi].tags.push(Tag {
                id,
                name,
                sort: 0,
                ctime: now,
                utime: now,
            });
        }
        Ok(())
    }

    fn update_contact(&mut self, req: wire::UpdateContactRequest) -> Result<(), ApiError> {
        if req.rel_wxid.is_empty() || req.contact_wxid.is_empty() {
            return Err(ApiError::Invalid("rel_wxid和contact_wxid不能为空".into()));
        }
        if let Some(bad) = req
            .smart_tag_ids
            .iter()
            .find(|&&id| self.tag_index(id).is_none())
        {
            return Err(ApiError::Invalid(format!("标签{bad}不存在")));
        }
        let key = (req.rel_wxid, req.contact_wxid);
        let Some(tags) = self.customers.get_mut(&key) else {
            return Err(ApiError::Invalid(format!(
                "客户{}不是{}的联系人",
                key.1, key.0
            )));
        };
        *tags = req.smart_tag_ids.into_iter().collect();
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::Invalid("名称不能为空".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Invalid(format!(
            "名称不能超过{MAX_NAME_CHARS}个字符"
        )));
    }
    Ok(())
}

/// Why a call was refused (see the module docs: the seed has one failure code, 1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    /// HTTP 401, errcode 1: missing or wrong `app_id` / `access_token`.
    Credential,
    /// HTTP 200, errcode 1: anything else, with the reason.
    Invalid(String),
}

impl ApiError {
    /// The `errmsg` (also used in fixture errors).
    fn message(&self) -> String {
        match self {
            ApiError::Credential => "app_id或access_token无效".into(),
            ApiError::Invalid(m) => m.clone(),
        }
    }
}

fn failure(e: ApiError) -> Response {
    let status = match e {
        ApiError::Credential => StatusCode::UNAUTHORIZED,
        ApiError::Invalid(_) => StatusCode::OK,
    };
    let body = wire::Failure {
        data: Value::Null,
        errcode: 1,
        errmsg: e.message(),
    };
    (status, Json(body)).into_response()
}

type Shared = Arc<Mutex<Account>>;
type Params = Query<HashMap<String, String>>;

async fn list(State(s): State<Shared>, Query(q): Params) -> Response {
    let account = lock(&s);
    let outcome = account
        .authorize(
            q.get("app_id").map(String::as_str),
            q.get("access_token").map(String::as_str),
        )
        .and_then(|()| account.list(&q));
    match outcome {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => failure(e),
    }
}

/// Checks the credentials in the body, parses the rest as `T`, and runs `op` under the lock.
fn post_call<T: DeserializeOwned, R: serde::Serialize>(
    shared: &Shared,
    body: &[u8],
    op: impl FnOnce(&mut Account, T) -> Result<R, ApiError>,
) -> Response {
    let mut account = lock(shared);
    let mut fields: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        // Without a JSON object there are no credentials to read.
        _ => Map::new(),
    };
    let app_id = fields.remove("app_id");
    let token = fields.remove("access_token");
    let outcome = account
        .authorize(
            app_id.as_ref().and_then(Value::as_str),
            token.as_ref().and_then(Value::as_str),
        )
        .and_then(|()| {
            serde_json::from_value::<T>(Value::Object(fields))
                .map_err(|e| ApiError::Invalid(format!("请求参数错误: {e}")))
        })
        .and_then(|req| op(&mut account, req));
    match outcome {
        Ok(data) => Json(wire::Success { data, errcode: 0 }).into_response(),
        Err(e) => failure(e),
    }
}

async fn add(State(s): State<Shared>, body: Bytes) -> Response {
    post_call(&s, &body, Account::add)
}

async fn delete(State(s): State<Shared>, body: Bytes) -> Response {
    post_call(&s, &body, |a, req| a.delete(req).map(|()| Value::Null))
}

async fn batch_add_tag(State(s): State<Shared>, body: Bytes) -> Response {
    post_call(&s, &body, |a, req| {
        a.batch_add_tag(req).map(|()| Value::Null)
    })
}

async fn update_contact(State(s): State<Shared>, body: Bytes) -> Response {
    post_call(&s, &body, |a, req| {
        a.update_contact(req).map(|()| Value::Object(Map::new()))
    })
}

/// The wire types, spelled and typed as seed 000's examples show them. Requests reject unknown
/// fields (`app_id` and `access_token` are taken out before parsing).
mod wire {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// A success: `{data, errcode: 0}` (no `errmsg`, as every example shows).
    #[derive(Debug, Serialize)]
    pub(super) struct Success<T> {
        pub data: T,
        pub errcode: i64,
    }

    /// A failure: `{data: null, errcode: 1, errmsg}`.
    #[derive(Debug, Serialize)]
    pub(super) struct Failure {
        pub data: Value,
        pub errcode: i64,
        pub errmsg: String,
    }

    /// `list`: `{data:[…], pager:{…}, errcode}`.
    #[derive(Debug, Serialize)]
    pub(super) struct ListAnswer {
        pub data: Vec<ListGroup>,
        pub pager: Pager,
        pub errcode: i64,
    }

    /// `data[]`: a group's `id` is an int.
    #[derive(Debug, Serialize)]
    pub(super) struct ListGroup {
        pub id: Value,
        pub name: String,
        pub r#type: i64,
        pub number: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tags: Option<Vec<ListTag>>,
    }

    /// `data[].tags[]`: `id`, `parent_id` and `sort` are strings, `contact_cnt` an int.
    #[derive(Debug, Serialize)]
    pub(super) struct ListTag {
        pub id: Value,
        pub name: String,
        pub parent_id: Value,
        pub sort: Value,
        pub contact_cnt: i64,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Pager {
        pub page: u64,
        pub per_page: u64,
        pub num_records: u64,
        pub num_pages: u64,
        pub first_record: u64,
        pub last_record: u64,
    }

    /// `add`'s `data`: the whole row, every number an int.
    #[derive(Debug, Serialize)]
    pub(super) struct Row {
        pub id: u64,
        pub user_id: i64,
        pub sub_user_id: i64,
        pub corp_id: i64,
        pub module: i64,
        pub name: String,
        pub r#type: i64,
        pub is_delete: i64,
        pub number: i64,
        pub parent_id: u64,
        pub ctime: i64,
        pub utime: i64,
        pub sort: u32,
        pub extra: Value,
    }

    /// `add {id?, name, type, parent_id?}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct AddRequest {
        pub id: Option<u64>,
        pub name: String,
        pub r#type: Option<i64>,
        pub parent_id: Option<u64>,
    }

    /// `delete {id}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct DeleteRequest {
        pub id: u64,
    }

    /// `batchAddTag {group_id?, group_name?, tag_names}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct BatchAddTagRequest {
        pub group_id: Option<u64>,
        pub group_name: Option<String>,
        pub tag_names: Vec<String>,
    }

    /// `updateContact {rel_wxid, contact_wxid, smart_tag_ids}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct UpdateContactRequest {
        pub rel_wxid: String,
        pub contact_wxid: String,
        pub smart_tag_ids: Vec<u64>,
    }
}
