//! The WeCom 企业微信 simulator: strategy (规则组) customer tags following seed 002
//! (`shared/seeds/002_c1a5ab0c6094928b.txt`) to the letter, and the corp customer tags, the access
//! token and customer marks that the seed leaves to WeCom's public documentation.
//!
//! # State machine
//! A [`Corp`] has a corp ID and a secret (the fixture's `corpId` and `token`), the access tokens it
//! issued, tag groups in creation order, and customers. A group belongs to one family: the **corp
//! tags** (no `strategy_id`) or one **strategy** (`strategy_id`, an integer on the wire, as the
//! seed's `"strategy_id":1`). Group and tag ids are strings. A group has a name unique within its
//! family (its strategy, or the corp tags), an `order` in `[0, 2^32)` (bigger sorts first:
//! order值大的排序靠前), a `create_time` in seconds, a "created in the console" flag, and at least
//! one tag (不支持创建空标签组). A tag has an id, a name unique within its group
//! (标签组内的标签不可同名), an `order` and a `create_time`. Names are at most 30 characters, counted
//! as characters (最长为30个字符). The corp tags and every strategy's tags together hold at most
//! 10,000 tags (企业标签和规则组标签合计最多可配置10000个). A customer, the external contact
//! `external_userid` of the member `userid`, carries a set of tag ids.
//!
//! **Token** *(public docs)*: `GET /cgi-bin/gettoken?corpid=&corpsecret=` answers `{errcode, errmsg,
//! access_token, expires_in}`. A token lives 7200 s by the simulator's clock (see
//! [`Corp::set_token_ttl`]); while the last one issued lives, `gettoken` answers that same token
//! (有效期内重复获取返回相同结果) with the seconds it has left. Every other call carries
//! `access_token` in the query. [`Corp::revoke_tokens`] invalidates every token early, as WeCom may.
//!
//! Then, all `POST` with a JSON body under `/cgi-bin/externalcontact/`:
//! - `get_strategy_tag_list {strategy_id?, tag_id?[], group_id?[]}` answers the groups of that
//!   strategy (of every strategy without one), each with its `strategy_id`. With `group_id`, only
//!   those groups with all their tags; else with `tag_id`, only the groups holding those tags, with
//!   those tags only; with both, `tag_id` is ignored (同时传递tag_id和group_id时,忽略tag_id).
//! - `add_strategy_tag {strategy_id, group_id?, group_name?, order?, tag:[{name, order?}]}` adds tags
//!   to the group `group_id` (then `group_name` and the group `order` are ignored:
//!   如果填写了group_id参数,则group_name和标签组的order参数会被忽略); without it, to the group of that
//!   strategy named `group_name` (如果填写的group_name和此规则组下的其他标签组同名,则会将相关标签加入
//!   已存在的同名标签组下), or to a new group with that name and `order`. Duplicate names in one call make
//!   one tag (如果传入多个同名标签,则只会创建一个). It answers `tag_group: {group_id, group_name,
//!   create_time, order, tag:[…]}` with the tags it created.
//! - `edit_strategy_tag {id, name?, order?}` renames and/or reorders a tag or a group of any
//!   strategy; names stay unique (修改后的标签组不能和已有的标签组重名,标签也不能和同一标签组下的其他
//!   标签重名). The strategy of an object never changes.
//! - `del_strategy_tag {tag_id?[], group_id?[]}` deletes tags and whole groups (not both empty:
//!   tag_id和group_id不可同时为空); a group whose last tag is deleted is deleted too
//!   (如果一个标签组下所有的标签均被删除,则标签组会被自动删除). Deleted tags leave every customer.
//! - `get_corp_tag_list {tag_id?[], group_id?[]}`, `add_corp_tag {group_id?, group_name?, order?,
//!   tag:[…], agentid?}`, `edit_corp_tag {id, name?, order?, agentid?}`, `del_corp_tag {tag_id?[],
//!   group_id?[], agentid?}` *(public docs)*: the same on the corp tags, without `strategy_id`; every
//!   group and tag they list carries `deleted` (false). A deleted corp tag or group is remembered:
//!   asked for by `tag_id` or `group_id`, it is listed with `deleted: true` (the public docs: deleted
//!   is returned when querying by id).
//! - `mark_tag {userid, external_userid, add_tag?[], remove_tag?[]}` *(public docs)* puts tags of any
//!   family on and off a customer (additions first, then removals); not both lists empty.
//! - Ownership *(public docs)*: a group created in the console (fixture `console: true`) and its tags
//!   cannot be changed by the API: adding to it, editing or deleting it or its tags answer 81011.
//!
//! Every call is all-or-nothing: a call that answers an error changes nothing.
//!
//! # Errcodes
//! The seed lists none; these are WeCom's public ones, all answered with HTTP 200 and `{errcode,
//! errmsg}`:
//! - -1 system busy (the framework's `busy` fault), 45009 call frequency exceeded (the rate limit),
//!   and any code scripted with [`Corp::fail_next`] (45033 too many concurrent calls, 6000 data
//!   version conflict, 48002 API not permitted, 60020 IP not whitelisted): nothing applied.
//! - `gettoken`: 41002 missing `corpid`, 40013 wrong `corpid`, 41004 missing `corpsecret`, 40001
//!   wrong `corpsecret`. Other calls: 41001 missing `access_token`, 40014 unknown or revoked token,
//!   42001 expired token.
//! - 47001 the body is not JSON or does not have the document's shape (a missing required field,
//!   a mistyped one, an **unknown field**: a misspelt field fails loudly).
//! - 40058 an invalid parameter: an empty `tag` list, a blank name, an order outside `[0, 2^32)`,
//!   neither `group_id` nor `group_name`, both delete lists empty, both mark lists empty, an empty
//!   `userid` or `external_userid`.
//! - 40068 an id that does not exist in the family called (an empty id `""` included).
//! - 40071 a name that exists: a rename onto another object's name, or an added tag name the group
//!   already has.
//! - 40072 a name longer than 30 characters. 40126 more than 10,000 tags in the corp.
//! - 81011 a console group or its tags. 84061 the customer is not that member's contact.
//!
//! Checks run in this order: scripted errcode, token, request shape (47001), parameters (40058), ids
//! (40068), console groups (81011), name lengths (40072), uniqueness (40071), the tag count (40126).
//!
//! # Choices where the seed is silent
//! - The seed's edit and delete request examples end with a trailing comma (`"order": 1,}`), which
//!   is not JSON; the simulator takes JSON (such a body answers 47001).
//! - `gettoken` answers the live token with its remaining seconds as `expires_in` (floored); a new
//!   token gets the full lifetime. Tokens are `simAccessToken` and a counter.
//! - The errcodes above and their order; `40058` stands for the public docs' "invalid parameter"
//!   family, `47001` for "data format error".
//! - Any `strategy_id` exists (the simulator does not model the strategy tree, its members, or the
//!   rule that only first-level strategies take tags); an `add_strategy_tag` `group_id` must belong
//!   to the `strategy_id` given, else 40068.
//! - An added tag name that the group already has answers 40071, nothing changed (the seed only
//!   says that names in a group are unique and that duplicates within one call make one tag; the
//!   first duplicate's `order` wins). The fixture switch `readings: {duplicateAdd: existing}` takes
//!   the other reading: such a name makes no tag and the answer names the existing one (with its
//!   own order), beside the tags the call did make. Adding to an existing group by `group_name`
//!   leaves its order alone.
//! - `get_corp_tag_list` takes an empty body as "no filter"; `agentid` is accepted on the corp
//!   writes and ignored. A field of the other family's document (`strategy_id` on a corp call,
//!   `agentid` on a strategy call) is unknown: 47001.
//! - An absent `order` is 0. An edit with neither `name` nor `order` changes nothing and answers 0.
//! - Filter ids that match nothing are skipped (the answer may be an empty list). Lists answer groups
//!   and tags in creation order, not sorted by `order`: the seed's own list example shows the tag of
//!   order 1 before the tag of order 2, so "order值大的排序靠前" is how clients display them. Groups
//!   asked for by `group_id` come in the order asked; tags asked for by `tag_id` too, within their
//!   group.
//! - A deleted corp group is listed, when asked for by id, with the tags it had, all `deleted: true`.
//!   Strategy tags leave nothing behind (the seed's shapes have no `deleted`).
//! - `mark_tag` takes tags of console groups (marking changes the customer, not the group) and of
//!   any strategy. An unknown tag id answers 40068.
//! - New ids are `etSimGroup`/`etSimTag` and a 12-digit counter; `create_time` comes from the clock,
//!   in seconds. Fixture timestamps are milliseconds, as for every simulator.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::clock::IdGen;
use super::fixture::NameRules;
use super::server::{
    Platform, Refusal, count_tags, find_group, find_tag, lock, order_in_range, tree_group,
};
use super::{Clock, DuplicateAdd, Fixture, SimError, SimPlatform};

mod corps;
pub use corps::Corps;

/// The corp ID a simulator accepts when its fixture names none.
pub const DEFAULT_CORP_ID: &str = "wwsimcorp0000000001";

/// A token's lifetime in seconds (public docs: "正常情况下为7200秒").
pub const TOKEN_TTL_SECS: u32 = 7200;

/// The most tags the corp tags and every strategy's tags hold together.
pub const MAX_TAGS: usize = 10_000;

/// The longest group or tag name, in characters (最长为30个字符).
const MAX_NAME_CHARS: usize = 30;

const BASE: &str = "/cgi-bin/externalcontact/";

/// The simulator, as the framework sees it.
pub(crate) struct Wecom;

impl Platform for Wecom {
    type State = Corps;
    const PLATFORM: SimPlatform = SimPlatform::Wecom;
    const SECRET_KEYS: &'static [&'static str] = &["corpsecret", "access_token"];

    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Corps, SimError> {
        Ok(Corps::new(Corp::from_fixture(fixture, clock)?))
    }

    fn view(state: &mut Corps) -> &mut dyn std::any::Any {
        state.primary_mut()
    }

    fn tenant(state: &Corps, path: &str, query: &[(String, String)]) -> Option<String> {
        state.tenant(path, query)
    }

    fn router(state: Arc<Mutex<Corps>>) -> Router {
        let api = |name: &str| format!("{BASE}{name}");
        Router::new()
            .route("/cgi-bin/gettoken", get(gettoken))
            .route(&api("get_strategy_tag_list"), post(list_strategy))
            .route(&api("add_strategy_tag"), post(add_strategy))
            .route(&api("edit_strategy_tag"), post(edit_strategy))
            .route(&api("del_strategy_tag"), post(del_strategy))
            .route(&api("get_corp_tag_list"), post(list_corp))
            .route(&api("add_corp_tag"), post(add_corp))
            .route(&api("edit_corp_tag"), post(edit_corp))
            .route(&api("del_corp_tag"), post(del_corp))
            .route(&api("mark_tag"), post(mark))
            .with_state(state)
    }

    fn is_write(method: &Method, path: &str) -> bool {
        method == Method::POST && !path.starts_with(&format!("{BASE}get_"))
    }

    fn refusal(kind: Refusal) -> Response {
        let e = match kind {
            Refusal::Busy => ApiError::Busy,
            Refusal::RateLimited => ApiError::FrequencyLimit,
        };
        Json(e.envelope()).into_response()
    }
}

/// Which tags a call works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// The corp customer tags (`*_corp_tag*`).
    Corp,
    /// Strategy tags: of one strategy, or (`None`, listing only) of every strategy.
    Strategy(Option<u64>),
}

impl Family {
    fn holds(self, g: &Group) -> bool {
        match self {
            Family::Corp => g.strategy_id.is_none(),
            Family::Strategy(None) => g.strategy_id.is_some(),
            Family::Strategy(Some(s)) => g.strategy_id == Some(s),
        }
    }
}

/// A WeCom corp: the simulator's whole state (read it through
/// [`SimHandle::with_state`](super::SimHandle::with_state)).
#[derive(Debug)]
pub struct Corp {
    corp_id: String,
    secret: String,
    tokens: Vec<Token>,
    token_ttl: u32,
    groups: Vec<Group>,
    /// Deleted corp groups (with the tags they had) and deleted corp tags of live groups.
    dead_groups: Vec<Group>,
    dead_tags: Vec<(String, Tag)>,
    customers: BTreeMap<(String, String), BTreeSet<String>>,
    tag_limit: usize,
    /// What an add of a name the group has answers (fixture `readings.duplicateAdd`).
    duplicate_add: DuplicateAdd,
    /// Tags a person adds in the console right before the next add call: (strategy, group, tag).
    console_adds: Vec<(Option<u64>, String, String)>,
    scripted: Vec<Scripted>,
    clock: Arc<dyn Clock>,
    group_ids: IdGen,
    tag_ids: IdGen,
    token_ids: IdGen,
    /// Put before every token this corp issues, so that tokens of a simulator's corps never
    /// collide (empty for the fixture's corp: its tokens are spelt as they always were).
    token_prefix: String,
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    expires_at_ms: i64,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Scripted {
    api: Option<String>,
    errcode: i64,
    remaining: usize,
}

/// A tag group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub order: u32,
    /// Seconds since the epoch.
    pub create_time: i64,
    /// `None` for a corp tag group.
    pub strategy_id: Option<u64>,
    /// Created in the console: read-only to the API (81011).
    pub console: bool,
    /// Never empty while the group lives.
    pub tags: Vec<Tag>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub order: u32,
    pub create_time: i64,
}

tree_group!(Group, Tag, str);

impl Corp {
    /// The live groups of every family, in creation order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The live corp tag groups (no strategy), in creation order.
    pub fn corp_groups(&self) -> Vec<&Group> {
        self.family(Family::Corp).collect()
    }

    /// The live groups of one strategy, in creation order.
    pub fn strategy_groups(&self, strategy_id: u64) -> Vec<&Group> {
        self.family(Family::Strategy(Some(strategy_id))).collect()
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        find_group(&self.groups, id)
    }

    /// A live tag and its group.
    pub fn tag(&self, id: &str) -> Option<(&Group, &Tag)> {
        find_tag(&self.groups, id)
    }

    /// Live tags of every family.
    pub fn tag_count(&self) -> usize {
        count_tags(&self.groups)
    }

    /// The tag ids on a customer; `None` when the fixture has no such customer.
    pub fn customer_tags(&self, external_userid: &str, userid: &str) -> Option<&BTreeSet<String>> {
        self.customers
            .get(&(external_userid.to_owned(), userid.to_owned()))
    }

    /// How many tokens `gettoken` has issued (a repeated answer of a live token is not counted).
    pub fn tokens_issued(&self) -> usize {
        self.tokens.len()
    }

    /// The lifetime of tokens issued from now on, in seconds.
    pub fn set_token_ttl(&mut self, secs: u32) {
        self.token_ttl = secs;
    }

    /// Invalidates every token issued so far (calls with them answer 40014), as WeCom may before
    /// a token expires.
    pub fn revoke_tokens(&mut self) {
        for t in &mut self.tokens {
            t.revoked = true;
        }
    }

    /// The most tags the corp holds (10,000 unless changed): a test can reach 40126 quickly.
    pub fn set_tag_limit(&mut self, limit: usize) {
        self.tag_limit = limit;
    }

    /// Answers the next `times` calls to `api` (e.g. `add_strategy_tag`, `gettoken`; `"*"` for
    /// every call) with `errcode`, applying nothing: for the codes the simulator has no state for
    /// (45033, 6000, 48002, 60020, …).
    pub fn fail_next(&mut self, api: &str, errcode: i64, times: usize) {
        self.scripted.push(Scripted {
            api: (api != "*").then(|| api.to_owned()),
            errcode,
            remaining: times,
        });
    }

    fn from_fixture(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self, SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: SimPlatform::Wecom,
            message,
        };
        fixture.check_names(&NameRules {
            platform: SimPlatform::Wecom,
            check: &|_, name| check_name(name).map_err(|e| e.message()),
            no_empty_groups: Some("WeCom has no empty groups"),
            // Group names are unique per strategy, and among the corp tags.
            namespace: &|g| g.strategy_id,
        })?;
        let tags: usize = fixture.groups.iter().map(|g| g.tags.len()).sum();
        if tags > MAX_TAGS {
            return Err(fail(format!("{tags} tags, more than WeCom's {MAX_TAGS}")));
        }
        let given = fixture.given_ids();
        let mut group_ids = IdGen::new("etSimGroup", 12);
        let mut tag_ids = IdGen::new("etSimTag", 12);
        let now = clock.now_ms();
        let secs = |ms: Option<i64>| ms.unwrap_or(now).div_euclid(1000);
        let groups = fixture
            .groups
            .iter()
            .map(|g| Group {
                id: group_ids.given_or_next(&g.id, &given),
                name: g.name.clone(),
                order: g.order,
                create_time: secs(g.create_timestamp),
                strategy_id: g.strategy_id,
                console: g.console,
                tags: g
                    .tags
                    .iter()
                    .map(|t| Tag {
                        id: tag_ids.given_or_next(&t.id, &given),
                        name: t.name.clone(),
                        order: t.order,
                        create_time: secs(t.create_timestamp),
                    })
                    .collect(),
            })
            .collect();
        let customers = fixture.customer_map(str::to_owned);
        Ok(Self {
            corp_id: fixture
                .corp_id
                .clone()
                .unwrap_or_else(|| DEFAULT_CORP_ID.to_owned()),
            secret: fixture.token.clone(),
            tokens: Vec::new(),
            token_ttl: TOKEN_TTL_SECS,
            groups,
            dead_groups: Vec::new(),
            dead_tags: Vec::new(),
            customers,
            tag_limit: MAX_TAGS,
            duplicate_add: fixture
                .readings
                .duplicate_add
                .unwrap_or(DuplicateAdd::Refuse),
            console_adds: Vec::new(),
            scripted: Vec::new(),
            clock,
            group_ids,
            tag_ids,
            token_ids: IdGen::new("simAccessToken", 10),
            token_prefix: String::new(),
        })
    }

    fn family(&self, family: Family) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(move |g| family.holds(g))
    }

    /// A scripted errcode for this call, if one is due.
    fn scripted(&mut self, api: &str) -> Result<(), ApiError> {
        let hit = self
            .scripted
            .iter_mut()
            .find(|s| s.remaining > 0 && s.api.as_deref().is_none_or(|a| a == api));
        let code = hit.map(|s| {
            s.remaining -= 1;
            s.errcode
        });
        self.scripted.retain(|s| s.remaining > 0);
        match code {
            Some(code) => Err(ApiError::Scripted(code)),
            None => Ok(()),
        }
    }

    fn gettoken(&mut self, q: &HashMap<String, String>) -> Result<wire::TokenBody, ApiError> {
        match q.get("corpid").filter(|c| !c.is_empty()) {
            None => return Err(ApiError::MissingCorpId),
            Some(c) if *c != self.corp_id => return Err(ApiError::BadCorpId),
            Some(_) => {}
        }
        match q.get("corpsecret").filter(|c| !c.is_empty()) {
            None => return Err(ApiError::MissingSecret),
            Some(s) if *s != self.secret => return Err(ApiError::BadSecret),
            Some(_) => {}
        }
        let now = self.clock.now_ms();
        if let Some(t) = self.tokens.last()
            && !t.revoked
            && now < t.expires_at_ms
        {
            return Ok(wire::TokenBody {
                access_token: t.value.clone(),
                expires_in: (t.expires_at_ms - now) / 1000,
            });
        }
        let value = format!("{}{}", self.token_prefix, self.token_ids.next(|_| false));
        self.tokens.push(Token {
            value: value.clone(),
            expires_at_ms: now + i64::from(self.token_ttl) * 1000,
            revoked: false,
        });
        Ok(wire::TokenBody {
            access_token: value,
            expires_in: i64::from(self.token_ttl),
        })
    }

    fn authorize(&self, token: Option<&String>) -> Result<(), ApiError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ApiError::MissingToken);
        };
        match self.tokens.iter().find(|t| t.value == *token) {
            Some(t) if t.revoked => Err(ApiError::InvalidToken),
            Some(t) if self.clock.now_ms() >= t.expires_at_ms => Err(ApiError::TokenExpired),
            Some(_) => Ok(()),
            None => Err(ApiError::InvalidToken),
        }
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    fn list(&self, family: Family, req: wire::ListRequest) -> Vec<wire::Group> {
        let corp = family == Family::Corp;
        fn live(g: &Group) -> Vec<(&Tag, bool)> {
            g.tags.iter().map(|t| (t, false)).collect()
        }
        let group_ids = req.group_id.unwrap_or_default();
        let tag_ids = req.tag_id.unwrap_or_default();
        if !group_ids.is_empty() {
            let mut out = Vec::new();
            for id in &group_ids {
                if let Some(g) = self.family(family).find(|g| g.id == *id) {
                    out.push(wire::Group::new(g, false, live(g), corp));
                } else if let Some(g) = self.dead_groups.iter().find(|g| corp && g.id == *id) {
                    let tags = g.tags.iter().map(|t| (t, true)).collect();
                    out.push(wire::Group::new(g, true, tags, corp));
                }
            }
            return out;
        }
        if !tag_ids.is_empty() {
            // Groups in the order their first tag was asked for; tags in the order asked.
            let mut found: Vec<Listed> = Vec::new();
            for id in &tag_ids {
                let hit = self
                    .family(family)
                    .find_map(|g| {
                        g.tags
                            .iter()
                            .find(|t| t.id == *id)
                            .map(|t| (g, false, t, false))
                    })
                    .or_else(|| {
                        let (gid, t) = self.dead_tags.iter().find(|(_, t)| corp && t.id == *id)?;
                        let g = self.groups.iter().find(|g| g.id == *gid)?;
                        Some((g, false, t, true))
                    })
                    .or_else(|| {
                        self.dead_groups.iter().filter(|_| corp).find_map(|g| {
                            g.tags
                                .iter()
                                .find(|t| t.id == *id)
                                .map(|t| (g, true, t, true))
                        })
                    });
                let Some((g, g_dead, t, t_dead)) = hit else {
                    continue;
                };
                match found.iter_mut().find(|(f, _, _)| f.id == g.id) {
                    Some((_, _, tags)) => {
                        if !tags.iter().any(|(x, _)| x.id == t.id) {
                            tags.push((t, t_dead));
                        }
                    }
                    None => found.push((g, g_dead, vec![(t, t_dead)])),
                }
            }
            return found
                .into_iter()
                .map(|(g, dead, tags)| wire::Group::new(g, dead, tags, corp))
                .collect();
        }
        self.family(family)
            .map(|g| wire::Group::new(g, false, live(g), corp))
            .collect()
    }

    fn group_index(&self, family: Family, id: &str) -> Result<usize, ApiError> {
        self.groups
            .iter()
            .position(|g| family.holds(g) && g.id == id)
            .ok_or_else(|| ApiError::InvalidId(format!("no tag group has id `{id}`")))
    }

    /// Stands for a person adding the tag `tag` to the API-made group `group` (of the strategy
    /// `strategy`, or the corp tags) in the console right before the next add call arrives: the
    /// race in which an add names a tag that its group already has.
    pub fn console_add_before_next_add(&mut self, strategy: Option<u64>, group: &str, tag: &str) {
        self.console_adds
            .push((strategy, group.to_owned(), tag.to_owned()));
    }

    fn apply_console_adds(&mut self) {
        for (strategy, group, tag) in std::mem::take(&mut self.console_adds) {
            let now = self.now_secs();
            let id = self.tag_ids.next(|id| id_taken(&self.groups, id));
            if let Some(g) = self
                .groups
                .iter_mut()
                .find(|g| g.strategy_id == strategy && g.name == group)
            {
                g.tags.push(Tag {
                    id,
                    name: tag,
                    order: 0,
                    create_time: now,
                });
            }
        }
    }

    fn add(&mut self, family: Family, req: wire::AddRequest) -> Result<wire::AddedGroup, ApiError> {
        self.apply_console_adds();
        enum Target {
            Existing(usize),
            New(String, u32),
        }
        if req.tag.is_empty() {
            return Err(ApiError::InvalidParam(
                "`tag` must hold at least one tag: empty groups cannot be created".into(),
            ));
        }
        let mut new_tags: Vec<(String, u32)> = Vec::new();
        for t in &req.tag {
            let order = order_of(t.order.as_ref())?.unwrap_or(0);
            if t.name.trim().is_empty() {
                return Err(ApiError::InvalidParam("a tag name cannot be blank".into()));
            }
            if !new_tags.iter().any(|(n, _)| *n == t.name) {
                new_tags.push((t.name.clone(), order));
            }
        }
        let group_order = order_of(req.order.as_ref())?;
        let target = match &req.group_id {
            Some(id) => Target::Existing(self.group_index(family, id)?),
            None => {
                let name = req
                    .group_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| {
                        ApiError::InvalidParam("give `group_id` or a non-blank `group_name`".into())
                    })?;
                match self
                    .groups
                    .iter()
                    .position(|g| family.holds(g) && g.name == name)
                {
                    Some(gi) => Target::Existing(gi),
                    None => Target::New(name, group_order.unwrap_or(0)),
                }
            }
        };
        if let Target::Existing(gi) = target
            && self.groups[gi].console
        {
            return Err(ApiError::NoPermission);
        }
        if let Target::New(name, _) = &target {
            check_name(name)?;
        }
        for (name, _) in &new_tags {
            check_name(name)?;
        }
        if let Target::Existing(gi) = target
            && self.duplicate_add == DuplicateAdd::Refuse
            && let Some((name, _)) = new_tags
                .iter()
                .find(|(n, _)| self.groups[gi].tags.iter().any(|t| t.name == *n))
        {
            return Err(ApiError::NameExists(format!(
                "group `{}` already has a tag named `{name}`",
                self.groups[gi].name
            )));
        }
        let existing = |gi: usize, name: &str, groups: &[Group]| {
            groups[gi].tags.iter().position(|t| t.name == name)
        };
        let really_new = match target {
            Target::Existing(gi) => new_tags
                .iter()
                .filter(|(n, _)| existing(gi, n, &self.groups).is_none())
                .count(),
            Target::New(..) => new_tags.len(),
        };
        if self.tag_count() + really_new > self.tag_limit {
            return Err(ApiError::TooManyTags);
        }
        let now = self.now_secs();
        let gi = match target {
            Target::Existing(gi) => gi,
            Target::New(name, order) => {
                let id = self.group_ids.next(|id| id_taken(&self.groups, id));
                let strategy_id = match family {
                    Family::Strategy(s) => s,
                    Family::Corp => None,
                };
                self.groups.push(Group {
                    id,
                    name,
                    order,
                    create_time: now,
                    strategy_id,
                    console: false,
                    tags: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        // Under the "existing" reading a name the group has makes no tag; the answer names it.
        let mut named = Vec::new();
        for (name, order) in new_tags {
            let ti = match existing(gi, &name, &self.groups) {
                Some(ti) => ti,
                None => {
                    let id = self.tag_ids.next(|id| id_taken(&self.groups, id));
                    self.groups[gi].tags.push(Tag {
                        id,
                        name,
                        order,
                        create_time: now,
                    });
                    self.groups[gi].tags.len() - 1
                }
            };
            named.push(self.groups[gi].tags[ti].clone());
        }
        Ok(wire::AddedGroup::new(&self.groups[gi], &named))
    }

    fn edit(&mut self, family: Family, req: wire::EditRequest) -> Result<(), ApiError> {
        let order = order_of(req.order.as_ref())?;
        if let Some(name) = &req.name
            && name.trim().is_empty()
        {
            return Err(ApiError::InvalidParam("a name cannot be blank".into()));
        }
        let gi = self
            .groups
            .iter()
            .position(|g| family.holds(g) && g.id == req.id);
        let target = match gi {
            Some(gi) => (gi, None),
            None => self
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| family.holds(g))
                .find_map(|(gi, g)| {
                    g.tags
                        .iter()
                        .position(|t| t.id == req.id)
                        .map(|ti| (gi, Some(ti)))
                })
                .ok_or_else(|| {
                    ApiError::InvalidId(format!("no tag or group has id `{}`", req.id))
                })?,
        };
        let (gi, ti) = target;
        if self.groups[gi].console {
            return Err(ApiError::NoPermission);
        }
        if let Some(name) = &req.name {
            check_name(name)?;
            let g = &self.groups[gi];
            let taken = match ti {
                None => self
                    .groups
                    .iter()
                    .enumerate()
                    .any(|(i, o)| i != gi && o.strategy_id == g.strategy_id && o.name == *name),
                Some(ti) => g
                    .tags
                    .iter()
                    .enumerate()
                    .any(|(i, t)| i != ti && t.name == *name),
            };
            if taken {
                return Err(ApiError::NameExists(format!("the name `{name}` is taken")));
            }
        }
        let g = &mut self.groups[gi];
        let (name_slot, order_slot) = match ti {
            None => (&mut g.name, &mut g.order),
            Some(ti) => {
                let t = &mut g.tags[ti];
                (&mut t.name, &mut t.order)
            }
        };
        if let Some(name) = req.name {
            *name_slot = name;
        }
        if let Some(order) = order {
            *order_slot = order;
        }
        Ok(())
    }

    fn delete(&mut self, family: Family, req: wire::DeleteRequest) -> Result<(), ApiError> {
        let tag_ids = req.tag_id.unwrap_or_default();
        let group_ids = req.group_id.unwrap_or_default();
        if tag_ids.is_empty() && group_ids.is_empty() {
            return Err(ApiError::InvalidParam(
                "`tag_id` and `group_id` cannot both be empty".into(),
            ));
        }
        for id in &group_ids {
            self.group_index(family, id)?;
        }
        for id in &tag_ids {
            if !self
                .family(family)
                .any(|g| g.tags.iter().any(|t| t.id == *id))
            {
                return Err(ApiError::InvalidId(format!("no tag has id `{id}`")));
            }
        }
        let console = self.family(family).any(|g| {
            g.console
                && (group_ids.contains(&g.id) || g.tags.iter().any(|t| tag_ids.contains(&t.id)))
        });
        if console {
            return Err(ApiError::NoPermission);
        }
        let corp = family == Family::Corp;
        let mut gone: BTreeSet<String> = tag_ids.iter().cloned().collect();
        let mut kept = Vec::new();
        for mut g in std::mem::take(&mut self.groups) {
            if !family.holds(&g) {
                kept.push(g);
                continue;
            }
            if group_ids.contains(&g.id) {
                gone.extend(g.tags.iter().map(|t| t.id.clone()));
                if corp {
                    self.dead_groups.push(g);
                }
                continue;
            }
            let (dead, live): (Vec<Tag>, Vec<Tag>) =
                g.tags.into_iter().partition(|t| tag_ids.contains(&t.id));
            g.tags = live;
            if g.tags.is_empty() {
                // A group whose last tag was deleted is deleted too.
                if corp {
                    g.tags = dead;
                    self.dead_groups.push(g);
                }
                continue;
            }
            if corp {
                self.dead_tags
                    .extend(dead.into_iter().map(|t| (g.id.clone(), t)));
            }
            kept.push(g);
        }
        self.groups = kept;
        for tags in self.customers.values_mut() {
            tags.retain(|t| !gone.contains(t));
        }
        Ok(())
    }

    fn mark(&mut self, req: wire::MarkRequest) -> Result<(), ApiError> {
        if req.userid.is_empty() || req.external_userid.is_empty() {
            return Err(ApiError::InvalidParam(
                "`userid` and `external_userid` are required".into(),
            ));
        }
        let add = req.add_tag.unwrap_or_default();
        let remove = req.remove_tag.unwrap_or_default();
        if add.is_empty() && remove.is_empty() {
            return Err(ApiError::InvalidParam(
                "`add_tag` and `remove_tag` cannot both be empty".into(),
            ));
        }
        if let Some(id) = add.iter().chain(&remove).find(|id| self.tag(id).is_none()) {
            return Err(ApiError::InvalidId(format!("no tag has id `{id}`")));
        }
        let key = (req.external_userid, req.userid);
        let Some(tags) = self.customers.get_mut(&key) else {
            return Err(ApiError::NotAContact(format!(
                "`{}` is not an external contact of `{}`",
                key.0, key.1
            )));
        };
        tags.extend(add);
        for id in remove {
            tags.remove(&id);
        }
        Ok(())
    }
}

/// A group being listed, whether it is deleted, and its tags with whether each is deleted.
type Listed<'a> = (&'a Group, bool, Vec<(&'a Tag, bool)>);

fn id_taken(groups: &[Group], id: &str) -> bool {
    groups
        .iter()
        .any(|g| g.id == id || g.tags.iter().any(|t| t.id == id))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::InvalidParam("a name cannot be blank".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::NameTooLong);
    }
    Ok(())
}

/// An `order` as sent: absent, or an integer in `[0, 2^32)`.
fn order_of(v: Option<&Value>) -> Result<Option<u32>, ApiError> {
    order_in_range(v).map_err(ApiError::InvalidParam)
}

/// Why a call was refused, with the errcode it answers (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    /// -1 system busy.
    Busy,
    /// 40001 invalid secret.
    BadSecret,
    /// 40013 invalid corpid.
    BadCorpId,
    /// 40014 invalid access_token.
    InvalidToken,
    /// 40058 invalid parameter.
    InvalidParam(String),
    /// 40068 invalid tag id.
    InvalidId(String),
    /// 40071 the name exists.
    NameExists(String),
    /// 40072 the name is too long.
    NameTooLong,
    /// 40126 too many tags.
    TooManyTags,
    /// 41001 missing access_token.
    MissingToken,
    /// 41002 missing corpid.
    MissingCorpId,
    /// 41004 missing corpsecret.
    MissingSecret,
    /// 42001 access_token expired.
    TokenExpired,
    /// 45009 call frequency exceeded.
    FrequencyLimit,
    /// 47001 data format error.
    BadFormat(String),
    /// 81011 no permission on this tag.
    NoPermission,
    /// 84061 not an external contact of that member.
    NotAContact(String),
    /// An errcode scripted with [`Corp::fail_next`].
    Scripted(i64),
}

impl ApiError {
    fn code(&self) -> i64 {
        match self {
            ApiError::Busy => -1,
            ApiError::BadSecret => 40001,
            ApiError::BadCorpId => 40013,
            ApiError::InvalidToken => 40014,
            ApiError::InvalidParam(_) => 40058,
            ApiError::InvalidId(_) => 40068,
            ApiError::NameExists(_) => 40071,
            ApiError::NameTooLong => 40072,
            ApiError::TooManyTags => 40126,
            ApiError::MissingToken => 41001,
            ApiError::MissingCorpId => 41002,
            ApiError::MissingSecret => 41004,
            ApiError::TokenExpired => 42001,
            ApiError::FrequencyLimit => 45009,
            ApiError::BadFormat(_) => 47001,
            ApiError::NoPermission => 81011,
            ApiError::NotAContact(_) => 84061,
            ApiError::Scripted(code) => *code,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Busy => "system busy".into(),
            ApiError::BadSecret => "invalid credential (corpsecret)".into(),
            ApiError::BadCorpId => "invalid corpid".into(),
            ApiError::InvalidToken => "invalid access_token".into(),
            ApiError::NameTooLong => "invalid tag name length: at most 30 characters".into(),
            ApiError::TooManyTags => "tag count exceeds the limit".into(),
            ApiError::MissingToken => "access_token missing".into(),
            ApiError::MissingCorpId => "corpid missing".into(),
            ApiError::MissingSecret => "corpsecret missing".into(),
            ApiError::TokenExpired => "access_token expired".into(),
            ApiError::FrequencyLimit => "api freq out of limit".into(),
            ApiError::NoPermission => "no privilege to access/modify this tag".into(),
            ApiError::Scripted(code) => format!("scripted errcode {code}"),
            ApiError::InvalidParam(m)
            | ApiError::InvalidId(m)
            | ApiError::NameExists(m)
            | ApiError::BadFormat(m)
            | ApiError::NotAContact(m) => m.clone(),
        }
    }

    fn envelope(&self) -> wire::Envelope<()> {
        wire::Envelope {
            errcode: self.code(),
            errmsg: self.message(),
            body: None,
        }
    }
}

type Shared = Arc<Mutex<Corps>>;
type Params = Query<HashMap<String, String>>;

/// Runs a scripted errcode check, the token check and `op` under the lock, and wraps the outcome
/// in the envelope.
fn answer<T: Serialize>(
    shared: &Shared,
    api: &str,
    params: &HashMap<String, String>,
    op: impl FnOnce(&mut Corp) -> Result<T, ApiError>,
) -> Json<wire::Envelope<T>> {
    let mut corps = lock(shared);
    let corp = corps.by_token(params.get("access_token"));
    let outcome = corp
        .scripted(api)
        .and_then(|()| corp.authorize(params.get("access_token")))
        .and_then(|()| op(corp));
    Json(match outcome {
        Ok(body) => wire::Envelope {
            errcode: 0,
            errmsg: "ok".into(),
            body: Some(body),
        },
        Err(e) => wire::Envelope {
            errcode: e.code(),
            errmsg: e.message(),
            body: None,
        },
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadFormat(format!("data format error: {e}")))
}

async fn gettoken(
    State(s): State<Shared>,
    Query(q): Params,
) -> Json<wire::Envelope<wire::TokenBody>> {
    let mut corps = lock(&s);
    let corp = corps.by_corp_id(q.get("corpid"));
    let outcome = corp.scripted("gettoken").and_then(|()| corp.gettoken(&q));
    Json(match outcome {
        Ok(body) => wire::Envelope {
            errcode: 0,
            errmsg: "ok".into(),
            body: Some(body),
        },
        Err(e) => wire::Envelope {
            errcode: e.code(),
            errmsg: e.message(),
            body: None,
        },
    })
}

type Answer<T> = Json<wire::Envelope<T>>;

/// Reads a request of `family`: the fields the other family's document has are unknown here.
fn parse_for<T: DeserializeOwned + Fields>(family: Family, body: &[u8]) -> Result<T, ApiError> {
    // `get_corp_tag_list` may be called with an empty body (no filter).
    let req: T = if body.iter().all(u8::is_ascii_whitespace) && T::EMPTY_OK {
        serde_json::from_slice(b"{}").map_err(|e| ApiError::BadFormat(e.to_string()))?
    } else {
        parse(body)?
    };
    let (strategy_id, agentid) = req.family_fields();
    let stray = match family {
        Family::Corp => strategy_id.then_some("strategy_id"),
        Family::Strategy(_) => agentid.then_some("agentid"),
    };
    match stray {
        Some(field) => Err(ApiError::BadFormat(format!(
            "data format error: unknown field `{field}`"
        ))),
        None => Ok(req),
    }
}

/// Which family-specific fields a request carries.
trait Fields {
    /// Whether an empty body stands for `{}`.
    const EMPTY_OK: bool = false;
    /// (has `strategy_id`, has `agentid`).
    fn family_fields(&self) -> (bool, bool);
}

impl Fields for wire::ListRequest {
    const EMPTY_OK: bool = true;
    fn family_fields(&self) -> (bool, bool) {
        (self.strategy_id.is_some(), false)
    }
}

impl Fields for wire::AddRequest {
    fn family_fields(&self) -> (bool, bool) {
        (self.strategy_id.is_some(), self.agentid.is_some())
    }
}

impl Fields for wire::EditRequest {
    fn family_fields(&self) -> (bool, bool) {
        (false, self.agentid.is_some())
    }
}

impl Fields for wire::DeleteRequest {
    fn family_fields(&self) -> (bool, bool) {
        (false, self.agentid.is_some())
    }
}

async fn list_strategy(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Answer<wire::ListBody> {
    answer(&s, "get_strategy_tag_list", &q, |c| {
        let req: wire::ListRequest = parse_for(Family::Strategy(None), &body)?;
        let family = Family::Strategy(req.strategy_id);
        Ok(wire::ListBody {
            tag_group: c.list(family, req),
        })
    })
}

async fn list_corp(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Answer<wire::ListBody> {
    answer(&s, "get_corp_tag_list", &q, |c| {
        let req: wire::ListRequest = parse_for(Family::Corp, &body)?;
        Ok(wire::ListBody {
            tag_group: c.list(Family::Corp, req),
        })
    })
}

async fn add_strategy(
    State(s): State<Shared>,
    Query(q): Params,
    body: Bytes,
) -> Answer<wire::AddBody> {
    answer(&s, "add_strategy_tag", &q, |c| {
        let req: wire::AddRequest = parse_for(Family::Strategy(None), &body)?;
        let strategy = req.strategy_id.ok_or_else(|| {
            ApiError::BadFormat("data format error: missing field `strategy_id`".into())
        })?;
        let group = c.add(Family::Strategy(Some(strategy)), req)?;
        Ok(wire::AddBody { tag_group: group })
    })
}

async fn add_corp(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<wire::AddBody> {
    answer(&s, "add_corp_tag", &q, |c| {
        let req: wire::AddRequest = parse_for(Family::Corp, &body)?;
        let group = c.add(Family::Corp, req)?;
        Ok(wire::AddBody { tag_group: group })
    })
}

async fn edit_strategy(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<()> {
    answer(&s, "edit_strategy_tag", &q, |c| {
        c.edit(
            Family::Strategy(None),
            parse_for(Family::Strategy(None), &body)?,
        )
    })
}

async fn edit_corp(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<()> {
    answer(&s, "edit_corp_tag", &q, |c| {
        c.edit(Family::Corp, parse_for(Family::Corp, &body)?)
    })
}

async fn del_strategy(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<()> {
    answer(&s, "del_strategy_tag", &q, |c| {
        c.delete(
            Family::Strategy(None),
            parse_for(Family::Strategy(None), &body)?,
        )
    })
}

async fn del_corp(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<()> {
    answer(&s, "del_corp_tag", &q, |c| {
        c.delete(Family::Corp, parse_for(Family::Corp, &body)?)
    })
}

async fn mark(State(s): State<Shared>, Query(q): Params, body: Bytes) -> Answer<()> {
    answer(&s, "mark_tag", &q, |c| c.mark(parse(&body)?))
}

/// The wire types, spelled as seed 002 (and, for tokens, corp tags and marks, WeCom's public
/// documentation) spells them. Requests reject unknown fields.
mod wire {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// `{errcode, errmsg, …}`: the fields of a successful answer sit beside the status.
    #[derive(Debug, Serialize)]
    pub(super) struct Envelope<T> {
        pub errcode: i64,
        pub errmsg: String,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        pub body: Option<T>,
    }

    /// `gettoken`: `{access_token, expires_in}`.
    #[derive(Debug, Serialize)]
    pub(super) struct TokenBody {
        pub access_token: String,
        pub expires_in: i64,
    }

    /// The lists: `{tag_group:[…]}`.
    #[derive(Debug, Serialize)]
    pub(super) struct ListBody {
        pub tag_group: Vec<Group>,
    }

    /// `add_*`: `{tag_group:{…}}`.
    #[derive(Debug, Serialize)]
    pub(super) struct AddBody {
        pub tag_group: AddedGroup,
    }

    /// `tag_group[]` of a list. Strategy lists carry `strategy_id`; corp lists carry `deleted`
    /// on groups and tags instead.
    #[derive(Debug, Serialize)]
    pub(super) struct Group {
        group_id: String,
        group_name: String,
        create_time: i64,
        order: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        strategy_id: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        deleted: Option<bool>,
        tag: Vec<Tag>,
    }

    /// `tag_group[].tag[]`.
    #[derive(Debug, Serialize)]
    pub(super) struct Tag {
        id: String,
        name: String,
        create_time: i64,
        order: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        deleted: Option<bool>,
    }

    impl Group {
        /// `corp`: the corp-tag shape (with `deleted`), else the strategy shape.
        pub(super) fn new(
            g: &super::Group,
            dead: bool,
            tags: Vec<(&super::Tag, bool)>,
            corp: bool,
        ) -> Self {
            Self {
                group_id: g.id.clone(),
                group_name: g.name.clone(),
                create_time: g.create_time,
                order: g.order,
                strategy_id: g.strategy_id.filter(|_| !corp),
                deleted: corp.then_some(dead),
                tag: tags
                    .into_iter()
                    .map(|(t, dead)| Tag {
                        id: t.id.clone(),
                        name: t.name.clone(),
                        create_time: t.create_time,
                        order: t.order,
                        deleted: corp.then_some(dead),
                    })
                    .collect(),
            }
        }
    }

    /// `tag_group` of an add answer: the group and the tags created (no `strategy_id`, no
    /// `deleted`, as the seed's example shows).
    #[derive(Debug, Serialize)]
    pub(super) struct AddedGroup {
        group_id: String,
        group_name: String,
        create_time: i64,
        order: u32,
        tag: Vec<AddedTag>,
    }

    #[derive(Debug, Serialize)]
    pub(super) struct AddedTag {
        id: String,
        name: String,
        create_time: i64,
        order: u32,
    }

    impl AddedGroup {
        pub(super) fn new(g: &super::Group, tags: &[super::Tag]) -> Self {
            Self {
                group_id: g.id.clone(),
                group_name: g.name.clone(),
                create_time: g.create_time,
                order: g.order,
                tag: tags
                    .iter()
                    .map(|t| AddedTag {
                        id: t.id.clone(),
                        name: t.name.clone(),
                        create_time: t.create_time,
                        order: t.order,
                    })
                    .collect(),
            }
        }
    }

    /// Both lists: `{strategy_id?, tag_id?[], group_id?[]}`; `get_corp_tag_list` has no
    /// `strategy_id`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct ListRequest {
        pub strategy_id: Option<u64>,
        pub tag_id: Option<Vec<String>>,
        pub group_id: Option<Vec<String>>,
    }

    /// Both adds: `{strategy_id, group_id?, group_name?, order?, tag:[{name, order?}]}`;
    /// `add_corp_tag` has no `strategy_id` and may name the calling `agentid` (ignored).
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct AddRequest {
        pub strategy_id: Option<u64>,
        pub agentid: Option<u64>,
        pub group_id: Option<String>,
        pub group_name: Option<String>,
        /// Read as any JSON value, so that an out-of-range order gets the range error.
        pub order: Option<Value>,
        pub tag: Vec<NewTag>,
    }

    /// `tag[]`: `{name, order?}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct NewTag {
        pub name: String,
        pub order: Option<Value>,
    }

    /// Both edits: `{id, name?, order?}`; `edit_corp_tag` may add `agentid`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct EditRequest {
        pub agentid: Option<u64>,
        pub id: String,
        pub name: Option<String>,
        pub order: Option<Value>,
    }

    /// Both deletes: `{tag_id?[], group_id?[]}`; `del_corp_tag` may add `agentid`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct DeleteRequest {
        pub agentid: Option<u64>,
        pub tag_id: Option<Vec<String>>,
        pub group_id: Option<Vec<String>>,
    }

    /// `mark_tag`: `{userid, external_userid, add_tag?[], remove_tag?[]}`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct MarkRequest {
        pub userid: String,
        pub external_userid: String,
        pub add_tag: Option<Vec<String>>,
        pub remove_tag: Option<Vec<String>>,
    }
}
