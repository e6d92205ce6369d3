//! The Miaokol client: requests, response classification, conversion to the canonical model.

use std::collections::BTreeSet;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::CAPABILITIES;
use super::wire;
use crate::model::NewTag;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::platforms::http::{Credential, Http, Request, Verdict};
use crate::platforms::{Error, MarkCall, MarkChange, Platform};

/// The largest page `list` answers (每页条数,默认10,最大100).
pub(super) const PAGE_SIZE: u64 = 100;
/// A bound on the pages one listing walks, against a pager that never ends (10,000 groups at 100
/// per page is far beyond any account the document hints at).
const MAX_PAGES: u64 = 100;

/// A Miaokol smart-tag account.
pub struct Yzj {
    http: Http,
    base: reqwest::Url,
    app_id: String,
    /// `access_token` in the query (GET).
    in_query: Credential,
    /// `access_token` in the JSON body (POST).
    in_body: Credential,
}

impl Yzj {
    pub fn new(http: Http, base_url: reqwest::Url, app_id: String, token: SecretString) -> Self {
        Self {
            http,
            base: base_url,
            app_id,
            in_query: Credential::Query("access_token", token.clone()),
            in_body: Credential::Body("access_token", token),
        }
    }

    fn url(&self, endpoint: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let path = format!("{}/smart-tag/{endpoint}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }

    /// A `GET` (a read): `app_id` in the query; the token is added by [`Credential::Query`].
    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        params: &[(&'static str, String)],
    ) -> Result<(Option<T>, Option<wire::Pager>), Error> {
        let mut query = vec![("app_id", self.app_id.clone())];
        query.extend_from_slice(params);
        let req = Request {
            endpoint,
            method: Method::GET,
            url: self.url(endpoint),
            query,
            body: None,
            idempotent: true,
        };
        self.http.send(&req, &self.in_query, classify::<T>).await
    }

    /// A `POST` of `body` (which carries `app_id`); the token is added by [`Credential::Body`].
    async fn post(
        &self,
        endpoint: &'static str,
        body: impl serde::Serialize,
        idempotent: bool,
    ) -> Result<Option<serde_json::Value>, Error> {
        let req = Request {
            endpoint,
            method: Method::POST,
            url: self.url(endpoint),
            query: Vec::new(),
            body: Some(serde_json::to_value(body).expect("serialises")),
            idempotent,
        };
        let (data, _) = self
            .http
            .send(&req, &self.in_body, classify::<serde_json::Value>)
            .await?;
        Ok(data)
    }

    /// `delete {id}` for each id, one per call (groups and tags share one id space).
    async fn delete_each(&self, ids: &[String]) -> Result<(), Error> {
        for id in ids {
            let body = wire::DeleteRequest {
                app_id: &self.app_id,
                id: wire_id("delete", id)?,
            };
            self.post("delete", body, true).await?;
        }
        Ok(())
    }

    /// Deletes whole groups, one `delete` per group. The planner never plans a group delete (a
    /// declared group always keeps a tag; undeclared groups are left alone), so the `Platform`
    /// trait has no such method; this serves tools and tests that remove what tagsync made.
    pub async fn delete_groups(&self, ids: &[String]) -> Result<(), Error> {
        self.delete_each(ids).await
    }

    /// One `batchAddTag`: into the group `group_id`, or (`group_id` 0) into a new group
    /// `group_name`. It answers `data: null`: the new ids are learnt from the next list.
    async fn batch_add(
        &self,
        group_id: u64,
        group_name: Option<&str>,
        tags: &[NewTag],
    ) -> Result<(), Error> {
        let body = wire::BatchAddTagRequest {
            app_id: &self.app_id,
            group_id,
            group_name,
            tag_names: tags.iter().map(|t| t.name.as_str()).collect(),
        };
        self.post("batchAddTag", body, false).await?;
        Ok(())
    }
}

/// The envelope: errcode 0 is success, anything else (the document knows only 1) a rejection;
/// HTTP 401/403 is a refused credential. 429 and 5xx never get here (the HTTP layer).
pub(super) fn classify<T>(
    status: StatusCode,
    env: wire::Envelope<T>,
) -> Verdict<(Option<T>, Option<wire::Pager>)> {
    let message = || env.errmsg.clone().unwrap_or_default();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Verdict::CredentialExpired(format!("HTTP {status}: {}", message()));
    }
    match env.errcode {
        0 if status.is_success() => Verdict::Ok((env.data, env.pager)),
        0 => Verdict::Protocol(format!("HTTP {status} with errcode 0")),
        code => Verdict::Rejected {
            errcode: code,
            message: message(),
        },
    }
}

/// Miaokol ids are positive integers on the way in; tagsync keeps them as strings.
fn wire_id(endpoint: &'static str, id: &str) -> Result<u64, Error> {
    id.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::Protocol {
            endpoint,
            detail: format!("`{id}` is not a Miaokol id (a positive integer)"),
        })
}

/// A group as `list` answers it, in the canonical shape. The list shows no group `sort`: the
/// order is unknown, not 0.
pub(super) fn to_group(g: wire::Group) -> RemoteGroup {
    RemoteGroup {
        id: g.id,
        name: g.name,
        order: None,
        created_at: None,
        tags: g.tags.into_iter().map(to_tag).collect(),
    }
}

/// A tag as `list` answers it; its `sort` is its order (a value outside `[0, 2^32)` is unknown).
pub(super) fn to_tag(t: wire::Tag) -> RemoteTag {
    RemoteTag {
        id: t.id,
        name: t.name,
        order: t.sort.and_then(|s| u32::try_from(s).ok()),
        created_at: None,
    }
}

#[async_trait]
impl Platform for Yzj {
    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    async fn list(&self) -> Result<Snapshot, Error> {
        let mut groups = Vec::new();
        let mut seen = BTreeSet::new();
        let mut page = 1;
        loop {
            let (data, pager) = self
                .get::<Vec<wire::Group>>(
                    "list",
                    &[
                        ("with_tags", "1".into()),
                        ("page", page.to_string()),
                        ("page_size", PAGE_SIZE.to_string()),
                    ],
                )
                .await?;
            // A group that moved across a page boundary between two calls is kept once.
            for g in data.unwrap_or_default() {
                if seen.insert(g.id.clone()) {
                    groups.push(to_group(g));
                }
            }
            let pages = pager
                .ok_or(Error::Protocol {
                    endpoint: "list",
                    detail: "the answer has no `pager`".into(),
                })?
                .num_pages;
            if page >= pages {
                break;
            }
            if page >= MAX_PAGES {
                return Err(Error::Protocol {
                    endpoint: "list",
                    detail: format!(
                        "the pager claims {pages} pages; refusing to walk past {MAX_PAGES}"
                    ),
                });
            }
            page += 1;
        }
        Ok(Snapshot { groups })
    }

    /// A group with tags: one `batchAddTag` with `group_id` 0 makes the group and its tags at
    /// once. It answers no id, so the group comes back with an empty id and no tags: apply learns
    /// the ids from the list that ends the round (by name). A group without tags (not planned:
    /// every declared group has one) is made by `add` with type 2, which answers its id.
    async fn create_group(
        &self,
        name: &str,
        _order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        if !tags.is_empty() {
            self.batch_add(0, Some(name), tags).await?;
            return Ok(RemoteGroup {
                id: String::new(),
                name: name.to_owned(),
                order: None,
                created_at: None,
                tags: Vec::new(),
            });
        }
        let body = wire::AddRequest {
            app_id: &self.app_id,
            id: 0,
            name,
            kind: wire::TYPE_GROUP,
            parent_id: None,
        };
        let data = self.post("add", body, false).await?;
        let row: wire::Row = data
            .and_then(|d| serde_json::from_value(d).ok())
            .ok_or_else(|| Error::Protocol {
                endpoint: "add",
                detail: format!("the answer for new group {name:?} has no row with an id"),
            })?;
        wire_id("add", &row.id)?;
        Ok(RemoteGroup {
            id: row.id,
            name: row.name,
            order: None,
            created_at: None,
            tags: Vec::new(),
        })
    }

    /// One `batchAddTag`. It answers no ids: the tags come back empty and apply learns their ids
    /// from the list that ends the round (by name).
    async fn add_tags(
        &self,
        group_id: &str,
        _group_name: &str,
        tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error> {
        let id = wire_id("batchAddTag", group_id)?;
        self.batch_add(id, None, tags).await?;
        Ok(Vec::new())
    }

    async fn edit_group(
        &self,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        if order.is_some() {
            return Err(Error::Unsupported {
                what: "reorder groups",
            });
        }
        let Some(name) = name else {
            return Ok(());
        };
        let body = wire::AddRequest {
            app_id: &self.app_id,
            id: wire_id("add", id)?,
            name,
            kind: wire::TYPE_GROUP,
            parent_id: None,
        };
        self.post("add", body, true).await?;
        Ok(())
    }

    async fn edit_tag(
        &self,
        group_id: &str,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        if order.is_some() {
            return Err(Error::Unsupported {
                what: "reorder tags",
            });
        }
        let Some(name) = name else {
            return Ok(());
        };
        // `parent_id` defaults to 0 (no group): an edit without it would detach the tag.
        let body = wire::AddRequest {
            app_id: &self.app_id,
            id: wire_id("add", id)?,
            name,
            kind: wire::TYPE_TAG,
            parent_id: Some(wire_id("add", group_id)?),
        };
        self.post("add", body, true).await?;
        Ok(())
    }

    async fn delete_tags(&self, ids: &[String]) -> Result<(), Error> {
        self.delete_each(ids).await
    }

    /// `updateContact` per customer with the whole resulting set: the call replaces the set, so
    /// an add/remove edit cannot be sent (the engine keeps each customer's known set).
    async fn mark(&self, marks: &[MarkCall]) -> Result<(), Error> {
        for m in marks {
            let MarkChange::Replace(set) = &m.change else {
                return Err(Error::Unsupported {
                    what: "add or remove single tags (updateContact replaces the whole set)",
                });
            };
            let body = wire::UpdateContactRequest {
                app_id: &self.app_id,
                rel_wxid: &m.user,
                contact_wxid: &m.contact,
                smart_tag_ids: set
                    .iter()
                    .map(|id| wire_id("updateContact", id))
                    .collect::<Result<_, _>>()?,
            };
            self.post("updateContact", body, true).await?;
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
