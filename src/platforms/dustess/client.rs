//! The Dustess client: the one `add` request, response classification, conversion to and from
//! the canonical model.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;

use super::CAPABILITIES;
use super::wire;
use crate::model::NewTag;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::platforms::http::{Credential, Http, Request, Verdict};
use crate::platforms::{Error, Platform};

/// The endpoint's name in logs and errors.
const ADD: &str = "qwTag/add";

/// A Dustess account.
pub struct Dustess {
    http: Http,
    add_url: reqwest::Url,
    token: Credential,
}

impl Dustess {
    pub fn new(http: Http, base_url: reqwest::Url, access_token: SecretString) -> Self {
        let mut add_url = base_url;
        let path = format!(
            "{}/open-integration-api/tag/v1/qwTag/add",
            add_url.path().trim_end_matches('/')
        );
        add_url.set_path(&path);
        Self {
            http,
            add_url,
            token: Credential::Query("accessToken", access_token),
        }
    }

    /// Sends one `add`. Never repeated once it may have reached the platform: a create.
    async fn add(&self, body: wire::AddRequest<'_>) -> Result<wire::TagGroup, Error> {
        let req = Request {
            endpoint: ADD,
            method: Method::POST,
            url: self.add_url.clone(),
            query: Vec::new(),
            body: Some(serde_json::to_value(body).expect("serialises")),
            idempotent: false,
        };
        self.http.send(&req, &self.token, classify).await
    }
}

/// WeCom's "tag name exists" (40071), relayed in `data.errcode`.
const NAME_EXISTS: i64 = 40071;

/// The prefix of an id Dustess never told: an object its answer said exists (40071) without
/// naming it. No Dustess call takes a tag id (there is no edit, delete or mark), and a group so
/// named is addressed by its name, so such an id is never sent.
pub(super) const UNTOLD: &str = "untold:";

impl Dustess {
    /// An `add` that converges under both readings of a name the group already has (the seed is
    /// silent): answered with the existing tag, or refused with 40071. A refusal changed nothing,
    /// so the tags are sent again one per call (each still addressed by name, so an existing one is
    /// never made twice): the new ones are made and answered, each refused one exists already and
    /// is returned under an [`UNTOLD`] id, so that it is bound and never sent again.
    async fn add_tolerant(
        &self,
        target: Target<'_>,
        group_name: &str,
        order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        match self.add(add_request(target, group_name, order, tags)).await {
            Ok(g) => return Ok(to_group(g)),
            Err(Error::Rejected {
                errcode: NAME_EXISTS,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        let mut group: Option<RemoteGroup> = None;
        let mut existing = Vec::new();
        for t in tags {
            let one = add_request(target, group_name, order, std::slice::from_ref(t));
            match self.add(one).await {
                Ok(g) => {
                    let g = to_group(g);
                    match &mut group {
                        Some(acc) => acc.tags.extend(g.tags),
                        None => group = Some(g),
                    }
                }
                Err(Error::Rejected {
                    errcode: NAME_EXISTS,
                    ..
                }) => existing.push(t),
                Err(e) => return Err(e),
            }
        }
        let mut group = group.unwrap_or_else(|| RemoteGroup {
            id: match target {
                Target::Id(id) if !id.is_empty() => id.to_owned(),
                _ => format!("{UNTOLD}{group_name}"),
            },
            name: group_name.to_owned(),
            order,
            created_at: None,
            tags: Vec::new(),
        });
        let prefix = format!("{UNTOLD}{}/", group.name);
        group.tags.extend(existing.into_iter().map(|t| RemoteTag {
            id: format!("{prefix}{}", t.name),
            name: t.name.clone(),
            order: t.order,
            created_at: None,
        }));
        Ok(group)
    }
}

/// Where an `add` puts its tags.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// A group of this name: created if none has it, added to if one does.
    Name(&'a str),
    /// An existing group.
    Id(&'a str),
}

/// Canonical → wire: the `add` request for `tags` in `target`, sending only what is set. An empty
/// or [`UNTOLD`] group id is never sent; the group's name addresses it instead.
pub(super) fn add_request<'a>(
    target: Target<'a>,
    group_name: &'a str,
    order: Option<u32>,
    tags: &'a [NewTag],
) -> wire::AddRequest<'a> {
    let (group_id, group_name, order) = match target {
        Target::Id(id) if !id.is_empty() && !id.starts_with(UNTOLD) => (Some(id), None, None),
        Target::Id(_) => (None, Some(group_name), None),
        Target::Name(name) => (None, Some(name), order),
    };
    wire::AddRequest {
        group_id,
        group_name,
        order,
        tag: tags
            .iter()
            .map(|t| wire::NewTag {
                name: &t.name,
                order: t.order,
            })
            .collect(),
    }
}

/// The double envelope (see the module docs): both `code` and `data.errcode` must be 0.
pub(super) fn classify(status: StatusCode, env: wire::Envelope) -> Verdict<wire::TagGroup> {
    let trace = env
        .trace()
        .map(|t| format!(" (traceId {t})"))
        .unwrap_or_default();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Verdict::CredentialExpired(format!("HTTP {status}: {}{trace}", env.msg));
    }
    match env.code {
        0 => {}
        10001 => return Verdict::Unknown(format!("code 10001: {}{trace}", env.msg)),
        401 | 403 => return Verdict::CredentialExpired(format!("{}{trace}", env.msg)),
        code => {
            return Verdict::Rejected {
                errcode: code,
                message: format!("{}{trace}", env.msg),
            };
        }
    }
    if !status.is_success() {
        return Verdict::Protocol(format!("HTTP {status} with code 0"));
    }
    let Some(data) = env.data else {
        return Verdict::Protocol(format!("code 0 without data{trace}"));
    };
    let message = format!("{}{trace}", data.errmsg);
    match data.errcode {
        0 => {}
        // WeCom's frequency errors and "system busy", relayed: slow down.
        -1 | 45009 | 45033 => {
            return Verdict::Throttled(format!("WeCom errcode {}: {message}", data.errcode));
        }
        6000 => {
            return Verdict::Refused(format!("WeCom errcode {}: {message}", data.errcode));
        }
        // WeCom's object-level no-privilege codes (81011 on a tag, 60011 on a member, department
        // or tag), relayed.
        81011 | 60011 => {
            return Verdict::NotOurs {
                errcode: data.errcode,
                message,
            };
        }
        errcode => return Verdict::Rejected { errcode, message },
    }
    if env.success == Some(false) {
        return Verdict::Protocol(format!("code 0 and errcode 0, but success is false{trace}"));
    }
    match data.tag_group {
        Some(g) if g.deleted => Verdict::Protocol(format!(
            "the answer's group {} is flagged deleted{trace}",
            g.group_id
        )),
        Some(g) => Verdict::Ok(g),
        None => Verdict::Protocol(format!("success without data.tag_group{trace}")),
    }
}

fn order(v: Option<i64>) -> Option<u32> {
    v.and_then(|o| u32::try_from(o).ok())
}

/// Seconds since the epoch; 0 is taken as "not given".
fn timestamp(s: i64) -> Option<DateTime<Utc>> {
    (s > 0).then(|| DateTime::from_timestamp(s, 0)).flatten()
}

/// Wire → canonical: a group from an `add` answer, without tags flagged deleted. An absent order
/// is the documented default, 0.
pub(super) fn to_group(g: wire::TagGroup) -> RemoteGroup {
    RemoteGroup {
        id: g.group_id,
        name: g.group_name,
        order: order(g.order).or(Some(0)),
        created_at: timestamp(g.create_time),
        tags: g
            .tag
            .into_iter()
            .filter(|t| !t.deleted)
            .map(|t| RemoteTag {
                id: t.id,
                name: t.name,
                order: order(t.order).or(Some(0)),
                created_at: timestamp(t.create_time),
            })
            .collect(),
    }
}

#[async_trait]
impl Platform for Dustess {
    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    /// Seed 003 documents no list call; apply reads this platform from the mirror.
    async fn list(&self) -> Result<Snapshot, Error> {
        Err(Error::Unsupported {
            what: "list tags (seed 003 documents no list call)",
        })
    }

    /// One `add` by `groupName`, with the group's and the tags' orders. An existing group of that
    /// name is added to (its order then stays as it was; the answer says which).
    async fn create_group(
        &self,
        name: &str,
        order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        self.add_tolerant(Target::Name(name), name, order, tags)
            .await
    }

    /// One `add` by `groupId`; returns the tags the answer gives for the names sent.
    async fn add_tags(
        &self,
        group_id: &str,
        group_name: &str,
        tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error> {
        let group = self
            .add_tolerant(Target::Id(group_id), group_name, None, tags)
            .await?;
        if !group_id.is_empty() && !group_id.starts_with(UNTOLD) && group.id != group_id {
            return Err(Error::Protocol {
                endpoint: ADD,
                detail: format!(
                    "asked to add to group {group_id}, answered group {}",
                    group.id
                ),
            });
        }
        Ok(group
            .tags
            .into_iter()
            .filter(|t| tags.iter().any(|n| n.name == t.name))
            .collect())
    }

    async fn edit_group(
        &self,
        _id: &str,
        _name: Option<&str>,
        _order: Option<u32>,
    ) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "rename or reorder tag groups",
        })
    }

    async fn edit_tag(
        &self,
        _group_id: &str,
        _id: &str,
        _name: Option<&str>,
        _order: Option<u32>,
    ) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "rename or reorder tags",
        })
    }

    async fn delete_tags(&self, _ids: &[String]) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "delete tags",
        })
    }

    fn api_calls(&self) -> u64 {
        self.http.api_calls()
    }

    fn concurrency(&self) -> usize {
        self.http.concurrency()
    }
}
