//! The Juzibot 句子互动 hub simulator, following seed 001 (`shared/seeds/001_6df4af794446ff8d.txt`,
//! "标签管理接口") to the letter.
//!
//! # State machine
//! An [`Account`] holds tag groups in creation order. A group has an id, a name unique among groups,
//! an `order` in `[0, 2^32)` (bigger sorts first), a `createTimestamp` in milliseconds (0 means "not
//! synced yet": 创建时间戳为0时,表示不存在,同步之后就会有), a "created in the console" flag, and at
//! least one tag (不支持创建空标签组). A tag has an id, a name unique within its group, an `order` and a
//! `createTimestamp`. A customer, the external contact `unionId` of the member `userId`, carries a
//! set of tag ids (several tags of one group are fine: 同一个标签组下现已支持多个标签).
//!
//! Every call must carry the account's `token` in the query. Then, all under `/api/v1/`:
//! - `GET tag/list` answers every group with all its tags. `GET tag/detail?tagId=` answers the group
//!   holding that tag, with that tag only.
//! - `POST tag/create {groupId?, groupName?, tag:[{name}]}` adds tags to the group `groupId`; without
//!   one, to the group named `groupName`, creating it if no group has that name. `groupId` wins: a
//!   `groupName` sent with it is ignored, even an invalid one. Duplicate names in one call make one
//!   tag, and a name the group already has makes none. Names are at most 30 characters (counted as
//!   characters, not bytes).
//! - `POST tagGroup/edit` / `tag/edit {id, name?, order?}` rename and reorder; name and order may not
//!   both be empty, and a new name must not be another group's (or, for a tag, another tag's of the
//!   same group).
//! - `POST tagGroup/delete` / `tag/delete {id:[…]}` delete; deleting a group deletes its tags, and a
//!   group whose last tag is deleted is deleted too (如果一个标签组下所有的标签均被删除,则标签组会被自动删除).
//!   Deleted tags leave every customer.
//! - `POST tag/mark {mark_list:[{unionId, userId, addTagId, delTagId}]}` puts tags on and off
//!   customers; `addTagId` and `delTagId` may not both be empty.
//! - A group created in the console cannot be changed through the API: editing or deleting it,
//!   creating tags in it, and editing or deleting its tags answer -2.
//!
//! Every call is all-or-nothing: a call that answers an error changes nothing.
//!
//! # Errcodes
//! From the seed: 0 ok; -1 标签组名称无效 (blank group name, or neither `groupId` nor `groupName`);
//! -2 标签组无权限 (console group); -3 标签组名字超过限定长度; -4 标签名字超过限定长度.
//!
//! **Not in the seed** (chosen here, positive so they cannot be mistaken for the seed's codes; all
//! answered with HTTP 200 and the same envelope):
//! - 400: malformed request: not JSON, a missing or mistyped field, an **unknown field** (so a
//!   client that sends `group_id`, as the seed's TIP text spells it, instead of `groupId`, as its
//!   example and table spell it, fails loudly), and rules the seed states without a code: an empty
//!   `tag` list, name and order both empty, an order outside `[0, 2^32)`, a blank tag name, an empty
//!   `id` list or `mark_list`, `addTagId` and `delTagId` both empty, a missing `tagId`.
//! - 401: missing or wrong `token`.
//! - 404: an id (`groupId`, edited or deleted id, marked tag id) or customer that does not exist.
//! - 409: a rename onto a name that exists (the seed forbids it but gives no code).
//!
//! Checks run in this order: token, request shape (400), ids (404), console group (-2), names
//! (-1, -3, -4, 400), uniqueness (409).
//!
//! # Choices where the seed is silent
//! - Busy and frequency errors: the seed defines no errcode for either, so the framework's `busy`
//!   fault answers HTTP 503 and the rate limit answers HTTP 429, both with a plain-text body and no
//!   envelope.
//! - `tag/create` answers `data: [group]`, as the seed's response example shows: the group (id, name,
//!   createTimestamp, order) with, under `tags`, every tag the request named, created or already
//!   there, once each, in request order. So the seed's own example, whose tag exists, answers the
//!   existing tag.
//! - Field names: the seed's list and detail tables say `data.tag.*`, its examples and the create
//!   table say `tags`; the simulator answers `tags` everywhere (the examples win). The fixture
//!   switch `readings: {tagsKey: tag | both}` answers the tables' `tag`, or both at once.
//! - `tag/detail` for an unknown tag answers errcode 0 with `data: []`: the answer is a list of
//!   groups filtered by the tag, and nothing matches.
//! - `tag/list` and `tag/detail` sort groups and tags by `order`, bigger first (order值大的排序靠前),
//!   ties in creation order.
//! - New groups and tags get `order` 0 and `createTimestamp` from the clock (never 0).
//! - New ids are `etSimG` (groups) or `etSimT` (tags) and a 26-digit counter: 32 characters, like
//!   the seed's ids.
//! - `tag/mark` may use tags of console groups: -2 is documented as "the API cannot change a group
//!   created in the console", and marking changes the customer, not the group; the mark section
//!   lists no errcode at all.
//! - `tag/mark` with one tag in both `addTagId` and `delTagId` (the seed's own example does this):
//!   additions apply first, then removals, so the tag ends up off the customer.
//! - An empty `name` (`""`) on edit and an empty `groupId` on create count as absent; names are
//!   compared exactly (no trimming, no normalization).
//! - Edits, deletes and marks answer `{errcode, errmsg}` without `data`, as their examples show.

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

use super::clock::IdGen;
use super::fixture::NameRules;
use super::server::{
    Platform, Refusal, count_tags, find_group, find_group_named, find_tag, lock, order_in_range,
    tree_group,
};
use super::{Clock, Fixture, SimError, SimPlatform, TagsKey};

/// The longest group or tag name, in characters (最长为30个字符).
const MAX_NAME_CHARS: usize = 30;

/// The simulator, as the framework sees it.
pub(crate) struct Juzibot;

impl Platform for Juzibot {
    type State = Account;
    const PLATFORM: SimPlatform = SimPlatform::Juzibot;
    const SECRET_KEYS: &'static [&'static str] = &["token"];

    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Account, SimError> {
        Account::from_fixture(fixture, clock)
    }

    fn router(state: Arc<Mutex<Account>>) -> Router {
        Router::new()
            .route("/api/v1/tag/list", get(list))
            .route("/api/v1/tag/detail", get(detail))
            .route("/api/v1/tag/create", post(create))
            .route("/api/v1/tagGroup/edit", post(edit_group))
            .route("/api/v1/tag/edit", post(edit_tag))
            .route("/api/v1/tagGroup/delete", post(delete_groups))
            .route("/api/v1/tag/delete", post(delete_tags))
            .route("/api/v1/tag/mark", post(mark))
            .with_state(state)
    }

    fn is_write(method: &Method, _path: &str) -> bool {
        method == Method::POST
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

/// A Juzibot account: the simulator's whole state (read it through
/// [`SimHandle::with_state`](super::SimHandle::with_state)).
#[derive(Debug)]
pub struct Account {
    token: String,
    groups: Vec<Group>,
    customers: BTreeMap<(String, String), BTreeSet<String>>,
    clock: Arc<dyn Clock>,
    group_ids: IdGen,
    tag_ids: IdGen,
    /// How answers spell a group's tags (fixture `readings.tagsKey`).
    tags_key: TagsKey,
}

/// A tag group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub order: u32,
    /// Milliseconds since the epoch; 0 means "not synced yet".
    pub create_timestamp: i64,
    /// Created in the console: read-only to the API (-2).
    pub console: bool,
    /// Never empty.
    pub tags: Vec<Tag>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub order: u32,
    pub create_timestamp: i64,
}

tree_group!(Group, Tag, str);

impl Account {
    /// The groups in creation order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        find_group(&self.groups, id)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        find_group_named(&self.groups, name, |_| true)
    }

    /// A tag and its group.
    pub fn tag(&self, id: &str) -> Option<(&Group, &Tag)> {
        find_tag(&self.groups, id)
    }

    /// How many tags all groups hold.
    pub fn tag_count(&self) -> usize {
        count_tags(&self.groups)
    }

    /// The tag ids on a customer; `None` when the fixture has no such customer.
    pub fn customer_tags(&self, union_id: &str, user_id: &str) -> Option<&BTreeSet<String>> {
        self.customers
            .get(&(union_id.to_owned(), user_id.to_owned()))
    }

    fn from_fixture(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        fixture.check_names(&NameRules {
            platform: SimPlatform::Juzibot,
            check: &|what, name| {
                match what {
                    "group" => check_group_name(name),
                    _ => check_tag_name(name),
                }
                .map_err(|e| e.message())
            },
            no_empty_groups: Some("Juzibot has no empty groups"),
            namespace: &|_| None,
        })?;
        let given = fixture.given_ids();
        let mut group_ids = IdGen::new("etSimG", 26);
        let mut tag_ids = IdGen::new("etSimT", 26);
        let now = clock.now_ms();
        let groups = fixture
            .groups
            .iter()
            .map(|g| Group {
                id: group_ids.given_or_next(&g.id, &given),
                name: g.name.clone(),
                order: g.order,
                create_timestamp: g.create_timestamp.unwrap_or(now),
                console: g.console,
                tags: g
                    .tags
                    .iter()
                    .map(|t| Tag {
                        id: tag_ids.given_or_next(&t.id, &given),
                        name: t.name.clone(),
                        order: t.order,
                        create_timestamp: t.create_timestamp.unwrap_or(now),
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            token: fixture.token.clone(),
            groups,
            customers: fixture.customer_map(str::to_owned),
            clock,
            group_ids,
            tag_ids,
            tags_key: fixture.readings.tags_key.unwrap_or(TagsKey::Tags),
        })
    }

    fn authorize(&self, token: Option<&String>) -> Result<(), ApiError> {
        match token {
            Some(t) if *t == self.token => Ok(()),
            _ => Err(ApiError::InvalidToken),
        }
    }

    fn group_index(&self, id: &str) -> Result<usize, ApiError> {
        self.groups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(|| ApiError::NotFound(format!("no tag group has id `{id}`")))
    }

    fn tag_index(&self, id: &str) -> Result<(usize, usize), ApiError> {
        self.groups
            .iter()
            .enumerate()
            .find_map(|(gi, g)| g.tags.iter().position(|t| t.id == id).map(|ti| (gi, ti)))
            .ok_or_else(|| ApiError::NotFound(format!("no tag has id `{id}`")))
    }

    fn list(&self) -> Vec<wire::Group> {
        let mut groups: Vec<&Group> = self.groups.iter().collect();
        // A stable sort keeps creation order among equal orders.
        groups.sort_by_key(|g| std::cmp::Reverse(g.order));
        groups
            .into_iter()
            .map(|g| {
                let mut tags: Vec<&Tag> = g.tags.iter().collect();
                tags.sort_by_key(|t| std::cmp::Reverse(t.order));
                wire::Group::new(g, tags, self.tags_key)
            })
            .collect()
    }

    fn detail(&self, tag_id: Option<&String>) -> Result<Vec<wire::Group>, ApiError> {
        let tag_id = tag_id
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::BadRequest("`tagId` is required".into()))?;
        Ok(self
            .tag(tag_id)
            .map(|(g, t)| wire::Group::new(g, vec![t], self.tags_key))
            .into_iter()
            .collect())
    }

    fn create(&mut self, req: wire::CreateRequest) -> Result<Vec<wire::Group>, ApiError> {
        // `groupId` wins; `groupName` is only read without it (如果填写了group_id参数,则group_name参数会被忽略).
        enum Target {
            Existing(usize),
            New(String),
        }
        let target = match req.group_id.filter(|id| !id.is_empty()) {
            Some(id) => Target::Existing(self.group_index(&id)?),
            None => {
                let name = req.group_name.unwrap_or_default();
                check_group_name(&name)?;
                match self.groups.iter().position(|g| g.name == name) {
                    Some(gi) => Target::Existing(gi),
                    None => Target::New(name),
                }
            }
        };
        if let Target::Existing(gi) = target {
            if self.groups[gi].console {
                return Err(ApiError::ConsoleGroup);
            }
        }
        if req.tag.is_empty() {
            return Err(ApiError::BadRequest(
                "`tag` must name at least one tag (empty groups are not supported)".into(),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for tag in req.tag {
            check_tag_name(&tag.name)?;
            if !names.contains(&tag.name) {
                names.push(tag.name);
            }
        }

        let now = self.clock.now_ms();
        let gi = match target {
            Target::Existing(gi) => gi,
            Target::New(name) => {
                let id = self.group_ids.next(|id| id_taken(&self.groups, id));
                self.groups.push(Group {
                    id,
                    name,
                    order: 0,
                    create_timestamp: now,
                    console: false,
                    tags: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        let mut named = Vec::new();
        for name in names {
            let existing = self.groups[gi].tags.iter().position(|t| t.name == name);
            let ti = match existing {
                Some(ti) => ti,
                None => {
                    let id = self.tag_ids.next(|id| id_taken(&self.groups, id));
                    self.groups[gi].tags.push(Tag {
                        id,
                        name,
                        order: 0,
                        create_timestamp: now,
                    });
                    self.groups[gi].tags.len() - 1
                }
            };
            named.push(ti);
        }
        let group = &self.groups[gi];
        let tags = named.into_iter().map(|ti| &group.tags[ti]).collect();
        Ok(vec![wire::Group::new(group, tags, self.tags_key)])
    }

    fn edit_group(&mut self, req: wire::EditRequest) -> Result<(), ApiError> {
        let (name, order) = req.changes()?;
        let gi = self.group_index(&req.id)?;
        if self.groups[gi].console {
            return Err(ApiError::ConsoleGroup);
        }
        if let Some(name) = &name {
            check_group_name(name)?;
            let taken = self
                .groups
                .iter()
                .enumerate()
                .any(|(i, g)| i != gi && g.name == *name);
            if taken {
                return Err(ApiError::NameTaken(format!(
                    "another tag group is named `{name}`"
                )));
            }
        }
        let group = &mut self.groups[gi];
        if let Some(name) = name {
            group.name = name;
        }
        if let Some(order) = order {
            group.order = order;
        }
        Ok(())
    }

    fn edit_tag(&mut self, req: wire::EditRequest) -> Result<(), ApiError> {
        let (name, order) = req.changes()?;
        let (gi, ti) = self.tag_index(&req.id)?;
        let group = &mut self.groups[gi];
        if group.console {
            return Err(ApiError::ConsoleGroup);
        }
        if let Some(name) = &name {
            check_tag_name(name)?;
            let taken = group
                .tags
                .iter()
                .enumerate()
                .any(|(i, t)| i != ti && t.name == *name);
            if taken {
                return Err(ApiError::NameTaken(format!(
                    "another tag of group `{}` is named `{name}`",
                    group.name
                )));
            }
        }
        let tag = &mut group.tags[ti];
        if let Some(name) = name {
            tag.name = name;
        }
        if let Some(order) = order {
            tag.order = order;
        }
        Ok(())
    }

    fn delete_groups(&mut self, req: wire::DeleteRequest) -> Result<(), ApiError> {
        if req.id.is_empty() {
            return Err(ApiError::BadRequest(
                "`id` must list at least one id".into(),
            ));
        }
        for id in &req.id {
            let gi = self.group_index(id)?;
            if self.groups[gi].console {
                return Err(ApiError::ConsoleGroup);
            }
        }
        let ids: BTreeSet<&String> = req.id.iter().collect();
        let mut gone = BTreeSet::new();
        self.groups.retain(|g| {
            let delete = ids.contains(&g.id);
            if delete {
                gone.extend(g.tags.iter().map(|t| t.id.clone()));
            }
            !delete
        });
        self.forget_tags(&gone);
        Ok(())
    }

    fn delete_tags(&mut self, req: wire::DeleteRequest) -> Result<(), ApiError> {
        if req.id.is_empty() {
            return Err(ApiError::BadRequest(
                "`id` must list at least one id".into(),
            ));
        }
        for id in &req.id {
            let (gi, _) = self.tag_index(id)?;
            if self.groups[gi].console {
                return Err(ApiError::ConsoleGroup);
            }
        }
        let gone: BTreeSet<String> = req.id.into_iter().collect();
        for group in &mut self.groups {
            group.tags.retain(|t| !gone.contains(&t.id));
        }
        // A group whose last tag was deleted is deleted too.
        self.groups.retain(|g| !g.tags.is_empty());
        self.forget_tags(&gone);
        Ok(())
    }

    fn forget_tags(&mut self, gone: &BTreeSet<String>) {
        for tags in self.customers.values_mut() {
            tags.retain(|t| !gone.contains(t));
        }
    }

    fn mark(&mut self, req: wire::MarkRequest) -> Result<(), ApiError> {
        if req.mark_list.is_empty() {
            return Err(ApiError::BadRequest(
                "`mark_list` must hold at least one entry".into(),
            ));
        }
        for item in &req.mark_list {
            if item.union_id.is_empty() || item.user_id.is_empty() {
                return Err(ApiError::BadRequest(
                    "`unionId` and `userId` are required".into(),
                ));
            }
            let add = item.add_tag_id.as_deref().unwrap_or_default();
            let del = item.del_tag_id.as_deref().unwrap_or_default();
            if add.is_empty() && del.is_empty() {
                return Err(ApiError::BadRequest(
                    "`addTagId` and `delTagId` cannot both be empty".into(),
                ));
            }
            for id in add.iter().chain(del) {
                self.tag_index(id)?;
            }
            if self.customer_tags(&item.union_id, &item.user_id).is_none() {
                return Err(ApiError::NotFound(format!(
                    "`{}` is not an external contact of `{}`",
                    item.union_id, item.user_id
                )));
            }
        }
        for item in req.mark_list {
            let key = (item.union_id, item.user_id);
            let Some(tags) = self.customers.get_mut(&key) else {
                continue;
            };
            tags.extend(item.add_tag_id.unwrap_or_default());
            for id in item.del_tag_id.unwrap_or_default() {
                tags.remove(&id);
            }
        }
        Ok(())
    }
}

fn id_taken(groups: &[Group], id: &str) -> bool {
    groups
        .iter()
        .any(|g| g.id == id || g.tags.iter().any(|t| t.id == id))
}

fn check_group_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::InvalidGroupName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::GroupNameTooLong);
    }
    Ok(())
}

fn check_tag_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::BadRequest("a tag name cannot be blank".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::TagNameTooLong);
    }
    Ok(())
}

/// Why a call was refused, with the errcode it answers (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    /// -1 标签组名称无效.
    InvalidGroupName,
    /// -2 标签组无权限.
    ConsoleGroup,
    /// -3 标签组名字超过限定长度.
    GroupNameTooLong,
    /// -4 标签名字超过限定长度.
    TagNameTooLong,
    /// 400, not in the seed.
    BadRequest(String),
    /// 401, not in the seed.
    InvalidToken,
    /// 404, not in the seed.
    NotFound(String),
    /// 409, not in the seed.
    NameTaken(String),
}

impl ApiError {
    fn code(&self) -> i64 {
        match self {
            ApiError::InvalidGroupName => -1,
            ApiError::ConsoleGroup => -2,
            ApiError::GroupNameTooLong => -3,
            ApiError::TagNameTooLong => -4,
            ApiError::BadRequest(_) => 400,
            ApiError::InvalidToken => 401,
            ApiError::NotFound(_) => 404,
            ApiError::NameTaken(_) => 409,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::InvalidGroupName => "标签组名称无效".into(),
            ApiError::ConsoleGroup => "标签组无权限,即api接口无法更改企业控制台创建的标签组".into(),
            ApiError::GroupNameTooLong => "标签组名字超过限定长度".into(),
            ApiError::TagNameTooLong => "标签名字超过限定长度".into(),
            ApiError::InvalidToken => "invalid token".into(),
            ApiError::BadRequest(m) | ApiError::NotFound(m) | ApiError::NameTaken(m) => m.clone(),
        }
    }
}

type Shared = Arc<Mutex<Account>>;
type Params = Query<HashMap<String, String>>;

/// Checks the token, runs `op` under the lock and wraps its outcome in the envelope.
fn answer(
    shared: &Shared,
    params: &HashMap<String, String>,
    op: impl FnOnce(&mut Account) -> Result<Option<Vec<wire::Group>>, ApiError>,
) -> Json<wire::Envelope> {
    let mut account = lock(shared);
    let outcome = account
        .authorize(params.get("token"))
        .and_then(|()| op(&mut account));
    Json(match outcome {
        Ok(data) => wire::Envelope {
            errcode: 0,
            errmsg: "ok".into(),
            data,
        },
        Err(e) => wire::Envelope {
            errcode: e.code(),
            errmsg: e.message(),
            data: None,
        },
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

async fn list(State(s): State<Shared>, Query(q): Params) -> Json<wire::Envelope> {
    answer(&s, &q, |a| Ok(Some(a.list())))
}

async fn detail(State(s): State<Shared>, Query(q): Params) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.detail(q.get("tagId")).map(Some))
}

async fn create(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.create(parse(&body)?).map(Some))
}

async fn edit_group(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.edit_group(parse(&body)?).map(|()| None))
}

async fn edit_tag(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.edit_tag(parse(&body)?).map(|()| None))
}

async fn delete_groups(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.delete_groups(parse(&body)?).map(|()| None))
}

async fn delete_tags(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.delete_tags(parse(&body)?).map(|()| None))
}

async fn mark(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Json<wire::Envelope> {
    answer(&s, &q, |a| a.mark(parse(&body)?).map(|()| None))
}

/// The wire types, spelled as seed 001 spells them. Requests reject unknown fields.
mod wire {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    use super::ApiError;

    /// `{errcode, errmsg, data?}`.
    #[derive(Debug, Serialize)]
    pub(super) struct Envelope {
        pub errcode: i64,
        pub errmsg: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub data: Option<Vec<Group>>,
    }

    /// `data[]`: a group with its tags.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Group {
        id: String,
        name: String,
        create_timestamp: i64,
        order: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        tags: Option<Vec<Tag>>,
        /// The tables' spelling, under the `tagsKey: tag | both` readings.
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<Vec<Tag>>,
    }

    /// `data[].tags[]`.
    #[derive(Debug, Clone, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Tag {
        id: String,
        name: String,
        create_timestamp: i64,
        order: u32,
    }

    impl Group {
        pub(super) fn new(
            group: &super::Group,
            tags: Vec<&super::Tag>,
            key: super::TagsKey,
        ) -> Self {
            use super::TagsKey;
            let tags: Vec<Tag> = tags
                .into_iter()
                .map(|t| Tag {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    create_timestamp: t.create_timestamp,
                    order: t.order,
                })
                .collect();
            let (tags, tag) = match key {
                TagsKey::Tags => (Some(tags), None),
                TagsKey::Tag => (None, Some(tags)),
                TagsKey::Both => (Some(tags.clone()), Some(tags)),
            };
            Self {
                id: group.id.clone(),
                name: group.name.clone(),
                create_timestamp: group.create_timestamp,
                order: group.order,
                tags,
                tag,
            }
        }
    }

    /// `tag/create`: `{groupId?, groupName?, tag:[{name}]}`.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct CreateRequest {
        pub group_id: Option<String>,
        pub group_name: Option<String>,
        pub tag: Vec<NewTag>,
    }

    /// `tag[]`: `{name}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct NewTag {
        pub name: String,
    }

    /// `tagGroup/edit` and `tag/edit`: `{id, name?, order?}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct EditRequest {
        pub id: String,
        pub name: Option<String>,
        /// Read as any JSON value, so that an out-of-range order gets the range error.
        pub order: Option<Value>,
    }

    impl EditRequest {
        /// The new name (an empty one counts as absent) and order; not both absent.
        pub(super) fn changes(&self) -> Result<(Option<String>, Option<u32>), ApiError> {
            let name = self.name.clone().filter(|n| !n.is_empty());
            let order = super::order_in_range(self.order.as_ref()).map_err(ApiError::BadRequest)?;
            if name.is_none() && order.is_none() {
                return Err(ApiError::BadRequest(
                    "name and order cannot both be empty".into(),
                ));
            }
            Ok((name, order))
        }
    }

    /// `tagGroup/delete` and `tag/delete`: `{id:[…]}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct DeleteRequest {
        pub id: Vec<String>,
    }

    /// `tag/mark`: `{mark_list:[…]}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct MarkRequest {
        pub mark_list: Vec<MarkItem>,
    }

    /// `mark_list[]`: `{unionId, userId, addTagId, delTagId}`.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct MarkItem {
        pub union_id: String,
        pub user_id: String,
        pub add_tag_id: Option<Vec<String>>,
        pub del_tag_id: Option<Vec<String>>,
    }
}
