//! The WeCom client: the access-token cache, requests, response classification, and conversion to
//! the canonical model.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::CAPABILITIES;
use super::wire;
use crate::model::NewTag;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::platforms::http::{Credential, Http, Request, Verdict};
use crate::platforms::{Error, MarkCall, MarkChange, Platform};

/// How long before its `expires_in` a token is replaced, for tokens that live long enough.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A token is never fetched again sooner than this after a fetch, unless WeCom refuses it: a
/// `gettoken` that answers the same token with seconds left must not start a stampede.
const MIN_REUSE: Duration = Duration::from_secs(1);

/// The calls of one tag family: strategy tags (seed 002) or corp tags (public docs).
struct Api {
    list: &'static str,
    add: &'static str,
    edit: &'static str,
    delete: &'static str,
}

const STRATEGY: Api = Api {
    list: "get_strategy_tag_list",
    add: "add_strategy_tag",
    edit: "edit_strategy_tag",
    delete: "del_strategy_tag",
};

const CORP: Api = Api {
    list: "get_corp_tag_list",
    add: "add_corp_tag",
    edit: "edit_corp_tag",
    delete: "del_corp_tag",
};

/// One WeCom corp's customer tags: a strategy's (规则组) with `strategy_id`, else the corp tags.
pub struct Wecom {
    http: Http,
    base: reqwest::Url,
    corp_id: String,
    secret: SecretString,
    strategy_id: Option<u64>,
    api: &'static Api,
    tokens: TokenCache,
}

impl Wecom {
    /// A client of `corp_id` (its corp `secret`), on the tags of `strategy_id` or, without one, on
    /// the corp tags. No call is made until the first request.
    pub fn new(
        http: Http,
        base_url: reqwest::Url,
        corp_id: String,
        strategy_id: Option<u64>,
        secret: SecretString,
    ) -> Self {
        Self {
            http,
            base: base_url,
            corp_id,
            secret,
            strategy_id,
            api: if strategy_id.is_some() {
                &STRATEGY
            } else {
                &CORP
            },
            tokens: TokenCache::default(),
        }
    }

    /// Puts tags on and takes tags off the customer `contact` (an `external_userid`) of the member
    /// `user` (a `userid`) with one `mark_tag` call; nothing is sent when both lists are empty.
    ///
    /// # Errors
    /// As every call: [`Error::Rejected`] for an unknown tag (40068) or a customer who is not the
    /// member's contact (84061), among others.
    pub async fn mark(
        &self,
        user: &str,
        contact: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Error> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let body = wire::MarkRequest {
            userid: user,
            external_userid: contact,
            add_tag: add,
            remove_tag: remove,
        };
        self.call::<wire::Empty, _>(self.request("mark_tag", &body, true), status)
            .await?;
        Ok(())
    }

    /// The groups `ids` with all their tags, in one filtered list call (groups that no longer
    /// exist are left out).
    ///
    /// # Errors
    /// As every call.
    pub async fn groups(&self, ids: &[String]) -> Result<Vec<RemoteGroup>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.list_where(&[], ids).await
    }

    /// Deletes whole groups, with their tags, in one call; ids already gone count as deleted.
    ///
    /// # Errors
    /// As every call; [`Error::NotOurs`] for a group made in the admin console.
    pub async fn delete_groups(&self, ids: &[String]) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let body = wire::DeleteRequest {
            tag_id: &[],
            group_id: ids,
        };
        let outcome = self
            .call(self.request(self.api.delete, &body, true), deleted)
            .await?;
        if outcome == Deleted::SomeWereGone && ids.len() > 1 {
            let left: Vec<String> = self.groups(ids).await?.into_iter().map(|g| g.id).collect();
            if !left.is_empty() {
                let body = wire::DeleteRequest {
                    tag_id: &[],
                    group_id: &left,
                };
                self.call(self.request(self.api.delete, &body, true), deleted)
                    .await?;
            }
        }
        Ok(())
    }

    fn request(&self, endpoint: &'static str, body: &impl Serialize, idempotent: bool) -> Request {
        let mut url = self.base.clone();
        let path = format!(
            "{}/cgi-bin/externalcontact/{endpoint}",
            url.path().trim_end_matches('/')
        );
        url.set_path(&path);
        Request {
            endpoint,
            method: Method::POST,
            url,
            query: Vec::new(),
            body: Some(serde_json::to_value(body).expect("request bodies serialise")),
            idempotent,
        }
    }

    /// `GET /cgi-bin/gettoken?corpid=&corpsecret=`: a new token and its lifetime.
    async fn fetch_token(&self) -> Result<(SecretString, Duration), Error> {
        let mut url = self.base.clone();
        let path = format!("{}/cgi-bin/gettoken", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let req = Request {
            endpoint: "gettoken",
            method: Method::GET,
            url,
            query: vec![("corpid", self.corp_id.clone())],
            body: None,
            idempotent: true,
        };
        let secret = Credential::Query("corpsecret", self.secret.clone());
        self.http.send(&req, &secret, token).await
    }

    /// Sends `req` with the cached token. When WeCom refuses the token (40014, 42001, 41001: it
    /// may invalidate one before it expires), fetches a new one once and sends `req` once more.
    async fn call<W, T>(
        &self,
        req: Request,
        classify: impl Fn(StatusCode, wire::Response<W>) -> Verdict<T>,
    ) -> Result<T, Error>
    where
        W: DeserializeOwned,
    {
        let token = self.tokens.get(|| self.fetch_token()).await?;
        let sent = self
            .http
            .send(
                &req,
                &Credential::Query("access_token", token.clone()),
                &classify,
            )
            .await;
        match sent {
            // Only the token codes become `Credential` on these calls, and they are answered
            // before anything is applied: the repeat is safe even for a create.
            Err(Error::Credential { .. }) => {
                tracing::debug!(
                    message = "The access token was refused; fetching a new one.",
                    platform = %self.http.platform(),
                    endpoint = req.endpoint,
                );
                let fresh = self.tokens.replace(&token, || self.fetch_token()).await?;
                self.http
                    .send(&req, &Credential::Query("access_token", fresh), &classify)
                    .await
            }
            other => other,
        }
    }

    /// A list call, filtered by tag ids or group ids (group ids win, as the seed says); live
    /// groups and tags of this family only.
    async fn list_where(
        &self,
        tag_ids: &[String],
        group_ids: &[String],
    ) -> Result<Vec<RemoteGroup>, Error> {
        let body = wire::ListRequest {
            strategy_id: self.strategy_id,
            tag_id: tag_ids,
            group_id: group_ids,
        };
        let list: wire::List = self
            .call(self.request(self.api.list, &body, true), status)
            .await?;
        let ours = self.strategy_id.and_then(|s| i64::try_from(s).ok());
        Ok(live_groups(list.tag_group, |strategy| {
            strategy.is_none() || strategy == ours
        }))
    }

    async fn add(&self, body: wire::AddRequest<'_>) -> Result<wire::Group, Error> {
        self.call(self.request(self.api.add, &body, false), added)
            .await
    }

    async fn edit(&self, id: &str, name: Option<&str>, order: Option<u32>) -> Result<(), Error> {
        if name.is_none() && order.is_none() {
            return Ok(());
        }
        let body = wire::EditRequest { id, name, order };
        self.call::<wire::Empty, _>(self.request(self.api.edit, &body, true), status)
            .await?;
        Ok(())
    }
}

/// The shared token: fetched once however many calls wait for it (the lock is held across the
/// fetch), replaced [`REFRESH_MARGIN`] before it expires, and replaced at once when WeCom refuses it.
///
/// # Guarantees
/// - At most one `gettoken` is in flight; callers that wait behind it use its token.
/// - After a refusal, a token is fetched only if no other caller replaced the refused one already,
///   so twenty calls refused together cause one fetch.
/// - A failed early refresh keeps the current token in use until it expires.
#[derive(Default)]
pub(super) struct TokenCache {
    slot: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
    expires_at: Instant,
}

impl Cached {
    /// A token fetched by a request sent at `sent` that lives `ttl`.
    fn new(token: SecretString, ttl: Duration, sent: Instant) -> Self {
        let early = if ttl > 2 * REFRESH_MARGIN {
            ttl - REFRESH_MARGIN
        } else {
            ttl
        };
        Self {
            token,
            refresh_at: sent + early.max(MIN_REUSE),
            expires_at: sent + ttl,
        }
    }
}

impl TokenCache {
    /// The current token, fetched with `fetch` when there is none or it is due for refresh.
    pub(super) async fn get<F, Fut>(&self, fetch: F) -> Result<SecretString, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), Error>>,
    {
        let mut slot = self.slot.lock().await;
        let sent = Instant::now();
        if let Some(c) = slot.as_ref()
            && sent < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        match fetch().await {
            Ok((token, ttl)) => {
                *slot = Some(Cached::new(token.clone(), ttl, sent));
                Ok(token)
            }
            Err(error) => match slot.as_ref() {
                Some(c) if Instant::now() < c.expires_at => {
                    tracing::warn!(message = "Could not refresh the access token early; using the current one.", %error);
                    Ok(c.token.clone())
                }
                _ => Err(error),
            },
        }
    }

    /// A token other than `refused`: the one another caller fetched since, or a new one.
    pub(super) async fn replace<F, Fut>(
        &self,
        refused: &SecretString,
        fetch: F,
    ) -> Result<SecretString, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), Error>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref()
            && c.token.expose_secret() != refused.expose_secret()
            && Instant::now() < c.expires_at
        {
            return Ok(c.token.clone());
        }
        *slot = None;
        let sent = Instant::now();
        let (token, ttl) = fetch().await?;
        *slot = Some(Cached::new(token.clone(), ttl, sent));
        Ok(token)
    }
}

/// 40071 (public error-code list): "UserTag Name Already Exist".
pub(super) const NAME_EXISTS: i64 = 40071;

/// 81011 (public error-code list): "no privilege to access/modify tag" — the tag or group was
/// made in the admin console or by another app.
pub(super) const NO_PRIVILEGE_81011: i64 = 81011;
/// 60011 (public error-code list): "指定的成员/部门/标签参数无权限", no privilege on the
/// member, department or tag named.
pub(super) const NO_PRIVILEGE_60011: i64 = 60011;

/// What WeCom's errcodes mean (public docs): -1 busy, 6000 data version conflict, 45009 call
/// limit, 45033 too many concurrent calls: refused, not applied, retried. 40014 / 42001 / 41001:
/// the token. 81011 and 60011, the object-level no-privilege codes: not ours (remembered, never
/// sent again). Everything else (40001, 40068, 40071, 40072, 40126, 48002 "API forbidden" — the
/// app's setup, not one object — 60020, …) is permanent.
pub(super) fn status<T>(http: StatusCode, r: wire::Response<T>) -> Verdict<T> {
    if !http.is_success() {
        return Verdict::Protocol(format!("HTTP {http} with errcode {}", r.errcode));
    }
    match r.errcode {
        0 => Verdict::Ok(r.body),
        // Too many calls (45009 per period, 45033 at once) and "system busy": slow down.
        -1 | 45009 | 45033 => Verdict::Throttled(format!("{} (errcode {})", r.errmsg, r.errcode)),
        6000 => Verdict::Refused(format!("{} (errcode {})", r.errmsg, r.errcode)),
        40014 | 41001 | 42001 => {
            Verdict::CredentialExpired(format!("{} (errcode {})", r.errmsg, r.errcode))
        }
        NO_PRIVILEGE_81011 | NO_PRIVILEGE_60011 => Verdict::NotOurs {
            errcode: r.errcode,
            message: r.errmsg,
        },
        errcode => Verdict::Rejected {
            errcode,
            message: r.errmsg,
        },
    }
}

/// An add: its answer must carry the group (`tag_group`) with the tags made. 40071 on an add
/// means a tag name the call adds exists already (the seed leaves open whether WeCom refuses it or
/// answers the existing tag, and whether the call's other tags were made): the outcome is unknown
/// and the list that follows binds what exists, by name, so the add is never repeated blindly.
pub(super) fn added(http: StatusCode, r: wire::Response<wire::Added>) -> Verdict<wire::Group> {
    if r.errcode == NAME_EXISTS && http.is_success() {
        return Verdict::Unknown(format!(
            "{} (errcode {NAME_EXISTS}): a tag name the call adds exists already; re-reading to bind it",
            r.errmsg
        ));
    }
    match status(http, r) {
        Verdict::Ok(wire::Added { tag_group: Some(g) }) => Verdict::Ok(g),
        Verdict::Ok(_) => Verdict::Protocol("the answer has no tag_group".into()),
        other => retype(other),
    }
}

/// `gettoken`: a wrong corp ID or secret (40013, 40001) or a missing one (41002, 41004) is a
/// refused credential; the rest as [`status`].
pub(super) fn token(
    http: StatusCode,
    r: wire::Response<wire::Token>,
) -> Verdict<(SecretString, Duration)> {
    match r.errcode {
        40001 | 40013 | 41002 | 41004 => {
            Verdict::CredentialExpired(format!("{} (errcode {})", r.errmsg, r.errcode))
        }
        _ => match status(http, r) {
            Verdict::Ok(t) if t.access_token.is_empty() => {
                Verdict::Protocol("gettoken answered no access_token".into())
            }
            Verdict::Ok(t) => Verdict::Ok((
                SecretString::from(t.access_token),
                Duration::from_secs(u64::try_from(t.expires_in).unwrap_or(0)),
            )),
            other => retype(other),
        },
    }
}

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deleted {
    All,
    /// 40068: an id does not exist (already deleted). Whether the others were deleted is not
    /// said: the caller checks.
    SomeWereGone,
}

/// A delete: 40068 (invalid id) means "already gone", which is what a delete wants.
pub(super) fn deleted(http: StatusCode, r: wire::Response<wire::Empty>) -> Verdict<Deleted> {
    if r.errcode == 40068 && http.is_success() {
        return Verdict::Ok(Deleted::SomeWereGone);
    }
    match status(http, r) {
        Verdict::Ok(_) => Verdict::Ok(Deleted::All),
        other => retype(other),
    }
}

/// A verdict that is not `Ok`, for another success type.
fn retype<T, U>(v: Verdict<T>) -> Verdict<U> {
    match v {
        Verdict::Ok(_) => Verdict::Protocol("unexpected success".into()),
        Verdict::Refused(s) => Verdict::Refused(s),
        Verdict::Throttled(s) => Verdict::Throttled(s),
        Verdict::Unknown(s) => Verdict::Unknown(s),
        Verdict::CredentialExpired(s) => Verdict::CredentialExpired(s),
        Verdict::NotOurs { errcode, message } => Verdict::NotOurs { errcode, message },
        Verdict::Rejected { errcode, message } => Verdict::Rejected { errcode, message },
        Verdict::Protocol(s) => Verdict::Protocol(s),
    }
}

fn order(v: Option<i64>) -> Option<u32> {
    v.and_then(|o| u32::try_from(o).ok())
}

/// Seconds since the epoch; 0 or absent means unknown.
fn time(secs: i64) -> Option<DateTime<Utc>> {
    (secs > 0)
        .then(|| DateTime::from_timestamp(secs, 0))
        .flatten()
}

/// Wire → canonical: the groups of a list not flagged `deleted` whose `strategy_id` `family`
/// accepts, each with its live tags.
pub(super) fn live_groups(
    groups: Vec<wire::Group>,
    family: impl Fn(Option<i64>) -> bool,
) -> Vec<RemoteGroup> {
    groups
        .into_iter()
        .filter(|g| !g.deleted && family(g.strategy_id))
        .map(to_group)
        .collect()
}

/// Wire → canonical: a group with its live tags. An absent order is WeCom's default, 0.
pub(super) fn to_group(g: wire::Group) -> RemoteGroup {
    RemoteGroup {
        id: g.group_id,
        name: g.group_name,
        order: order(g.order).or(Some(0)),
        created_at: time(g.create_time),
        tags: g
            .tag
            .into_iter()
            .filter(|t| !t.deleted)
            .map(to_tag)
            .collect(),
    }
}

fn to_tag(t: wire::Tag) -> RemoteTag {
    RemoteTag {
        id: t.id,
        name: t.name,
        order: order(t.order).or(Some(0)),
        created_at: time(t.create_time),
    }
}

/// Canonical → wire: the tags of an add, each with its order where the plan gives one.
pub(super) fn to_new_tags(tags: &[NewTag]) -> Vec<wire::NewTag<'_>> {
    tags.iter()
        .map(|t| wire::NewTag {
            name: &t.name,
            order: t.order,
        })
        .collect()
}

#[async_trait]
impl Platform for Wecom {
    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    async fn list(&self) -> Result<Snapshot, Error> {
        Ok(Snapshot {
            groups: self.list_where(&[], &[]).await?,
        })
    }

    async fn create_group(
        &self,
        name: &str,
        order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        let g = self
            .add(wire::AddRequest {
                strategy_id: self.strategy_id,
                group_id: None,
                group_name: Some(name),
                order,
                tag: to_new_tags(tags),
            })
            .await?;
        Ok(to_group(g))
    }

    async fn add_tags(
        &self,
        group_id: &str,
        group_name: &str,
        tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error> {
        // An empty id is left out (never sent as ""): the group is then found by its name.
        let group_id = Some(group_id).filter(|id| !id.is_empty());
        let g = self
            .add(wire::AddRequest {
                strategy_id: self.strategy_id,
                group_id,
                group_name: group_id.is_none().then_some(group_name),
                order: None,
                tag: to_new_tags(tags),
            })
            .await?;
        let wanted: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        Ok(to_group(g)
            .tags
            .into_iter()
            .filter(|t| wanted.contains(&t.name.as_str()))
            .collect())
    }

    async fn edit_group(
        &self,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        self.edit(id, name, order).await
    }

    async fn edit_tag(
        &self,
        _group_id: &str,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        self.edit(id, name, order).await
    }

    /// One call for all `ids`. When WeCom answers 40068 (an id is already gone) for several ids,
    /// one list filtered by those ids tells which remain, and one more call deletes them.
    async fn delete_tags(&self, ids: &[String]) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let body = wire::DeleteRequest {
            tag_id: ids,
            group_id: &[],
        };
        let outcome = self
            .call(self.request(self.api.delete, &body, true), deleted)
            .await?;
        if outcome == Deleted::SomeWereGone && ids.len() > 1 {
            let left: Vec<String> = self
                .list_where(ids, &[])
                .await?
                .into_iter()
                .flat_map(|g| g.tags)
                .map(|t| t.id)
                .filter(|id| ids.contains(id))
                .collect();
            if !left.is_empty() {
                let body = wire::DeleteRequest {
                    tag_id: &left,
                    group_id: &[],
                };
                self.call(self.request(self.api.delete, &body, true), deleted)
                    .await?;
            }
        }
        Ok(())
    }

    /// One `mark_tag` per customer (`add_tag` and `remove_tag` together).
    async fn mark(&self, marks: &[MarkCall]) -> Result<(), Error> {
        for m in marks {
            let MarkChange::Edit { add, remove } = &m.change else {
                return Err(Error::Unsupported {
                    what: "replace a customer's whole set",
                });
            };
            Wecom::mark(self, &m.user, &m.contact, add, remove).await?;
        }
        Ok(())
    }

    fn api_calls(&self) -> u64 {
        self.http.api_calls()
    }

    fn concurrency(&self) -> usize {
        self.http.concurrency()
    }
}
