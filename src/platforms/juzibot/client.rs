//! The hub client: requests, response classification, conversion to the canonical model.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::CAPABILITIES;
use super::wire;
use crate::model::NewTag;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::platforms::http::{Credential, Http, Request, Verdict};
use crate::platforms::{Error, MarkCall, MarkChange, Platform};

/// A Juzibot hub account.
pub struct Juzibot {
    http: Http,
    base: reqwest::Url,
    token: Credential,
}

impl Juzibot {
    pub fn new(http: Http, base_url: reqwest::Url, token: SecretString) -> Self {
        Self {
            http,
            base: base_url,
            token: Credential::Query("token", token),
        }
    }

    fn request(
        &self,
        endpoint: &'static str,
        method: Method,
        body: Option<serde_json::Value>,
        idempotent: bool,
    ) -> Request {
        let mut url = self.base.clone();
        let path = format!("{}/api/v1/{endpoint}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Request {
            endpoint,
            method,
            url,
            query: Vec::new(),
            body,
            idempotent,
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<Option<T>, Error> {
        self.http.send(&req, &self.token, classify::<T>).await
    }

    /// `tagGroup/delete {id:[…]}`: deletes whole groups, their tags with them (-2 on a group made
    /// in the console: not ours). Idempotent. The planner never plans a group delete (a declared
    /// group always keeps at least one tag, and undeclared groups are left alone: SPEC §1), so the
    /// `Platform` trait has no such method; this serves tools and tests that remove what
    /// tagsync made.
    pub async fn delete_groups(&self, ids: &[String]) -> Result<(), Error> {
        let body = serde_json::to_value(wire::DeleteRequest { id: ids }).expect("serialises");
        self.call::<serde_json::Value>(self.request(
            "tagGroup/delete",
            Method::POST,
            Some(body),
            true,
        ))
        .await?;
        Ok(())
    }
}

/// The hub's envelope: errcode 0 is success; -2 "not ours"; other codes are rejections.
pub(super) fn classify<T>(status: StatusCode, env: wire::Envelope<T>) -> Verdict<Option<T>> {
    match env.errcode {
        0 if status.is_success() => Verdict::Ok(env.data),
        0 => Verdict::Protocol(format!("HTTP {status} with errcode 0")),
        -2 => Verdict::NotOurs {
            errcode: -2,
            message: env.errmsg,
        },
        code => Verdict::Rejected {
            errcode: code,
            message: env.errmsg,
        },
    }
}

fn order(v: Option<i64>) -> Option<u32> {
    v.and_then(|o| u32::try_from(o).ok())
}

/// Milliseconds since the epoch; 0 means "not yet synced" (seed 001).
fn timestamp(ms: i64) -> Option<DateTime<Utc>> {
    (ms > 0)
        .then(|| DateTime::from_timestamp_millis(ms))
        .flatten()
}

pub(super) fn to_group(g: wire::Group) -> RemoteGroup {
    RemoteGroup {
        order: order(g.order).or(Some(0)),
        created_at: timestamp(g.create_timestamp),
        id: g.id.clone(),
        name: g.name.clone(),
        tags: g.into_tags().into_iter().map(to_tag).collect(),
    }
}

fn to_tag(t: wire::Tag) -> RemoteTag {
    RemoteTag {
        id: t.id,
        name: t.name,
        order: order(t.order).or(Some(0)),
        created_at: timestamp(t.create_timestamp),
    }
}

#[async_trait]
impl Platform for Juzibot {
    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    async fn list(&self) -> Result<Snapshot, Error> {
        let data: Option<wire::OneOrMany> = self
            .call(self.request("tag/list", Method::GET, None, true))
            .await?;
        Ok(Snapshot {
            groups: data
                .map(wire::OneOrMany::into_vec)
                .unwrap_or_default()
                .into_iter()
                .map(to_group)
                .collect(),
        })
    }

    async fn create_group(
        &self,
        name: &str,
        _order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        let body = wire::CreateRequest {
            group_id: None,
            group_name: Some(name),
            tag: tags
                .iter()
                .map(|t| wire::NewTag { name: &t.name })
                .collect(),
        };
        let data: Option<wire::OneOrMany> = self
            .call(self.request(
                "tag/create",
                Method::POST,
                Some(serde_json::to_value(body).expect("serialises")),
                false,
            ))
            .await?;
        let groups = data.map(wire::OneOrMany::into_vec).unwrap_or_default();
        groups
            .into_iter()
            .find(|g| g.name == name)
            .map(to_group)
            .ok_or(Error::Protocol {
                endpoint: "tag/create",
                detail: format!("the response does not contain group {name:?}"),
            })
    }

    async fn add_tags(
        &self,
        group_id: &str,
        _group_name: &str,
        tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error> {
        let body = wire::CreateRequest {
            group_id: Some(group_id),
            group_name: None,
            tag: tags
                .iter()
                .map(|t| wire::NewTag { name: &t.name })
                .collect(),
        };
        let data: Option<wire::OneOrMany> = self
            .call(self.request(
                "tag/create",
                Method::POST,
                Some(serde_json::to_value(body).expect("serialises")),
                false,
            ))
            .await?;
        let group = data
            .map(wire::OneOrMany::into_vec)
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.id == group_id)
            .ok_or(Error::Protocol {
                endpoint: "tag/create",
                detail: format!("the response does not contain group {group_id}"),
            })?;
        let wanted: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        Ok(group
            .into_tags()
            .into_iter()
            .filter(|t| wanted.contains(&t.name.as_str()))
            .map(to_tag)
            .collect())
    }

    async fn edit_group(
        &self,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        let body = serde_json::to_value(wire::EditRequest { id, name, order }).expect("serialises");
        self.call::<serde_json::Value>(self.request(
            "tagGroup/edit",
            Method::POST,
            Some(body),
            true,
        ))
        .await?;
        Ok(())
    }

    async fn edit_tag(
        &self,
        _group_id: &str,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error> {
        let body = serde_json::to_value(wire::EditRequest { id, name, order }).expect("serialises");
        self.call::<serde_json::Value>(self.request("tag/edit", Method::POST, Some(body), true))
            .await?;
        Ok(())
    }

    async fn delete_tags(&self, ids: &[String]) -> Result<(), Error> {
        let body = serde_json::to_value(wire::DeleteRequest { id: ids }).expect("serialises");
        self.call::<serde_json::Value>(self.request("tag/delete", Method::POST, Some(body), true))
            .await?;
        Ok(())
    }

    fn marks_per_call(&self) -> usize {
        super::MARKS_PER_CALL
    }

    /// One `tag/mark` for every customer given (`mark_list`).
    async fn mark(&self, marks: &[MarkCall]) -> Result<(), Error> {
        let mut list = Vec::with_capacity(marks.len());
        for m in marks {
            let MarkChange::Edit { add, remove } = &m.change else {
                return Err(Error::Unsupported {
                    what: "replace a customer's whole set",
                });
            };
            list.push(wire::MarkItem {
                union_id: &m.contact,
                user_id: &m.user,
                add_tag_id: add,
                del_tag_id: remove,
            });
        }
        if list.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_value(wire::MarkRequest { mark_list: list }).expect("serialises");
        self.call::<serde_json::Value>(self.request("tag/mark", Method::POST, Some(body), true))
            .await?;
        Ok(())
    }

    fn api_calls(&self) -> u64 {
        self.http.api_calls()
    }

    fn concurrency(&self) -> usize {
        self.http.concurrency()
    }
}
