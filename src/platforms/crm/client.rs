//! The CRM client: two reads, response classification, conversion to the canonical model.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::CAPABILITIES;
use super::wire;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::platforms::http::{Credential, Http, Request, Verdict};
use crate::platforms::{Error, Platform};

/// `errmsg` of a successful call.
const SUCCESS: i64 = 20000;

/// A 个微 CRM account (read only).
pub struct WechatCrm {
    http: Http,
    base: reqwest::Url,
    token: Credential,
}

impl WechatCrm {
    pub fn new(http: Http, base_url: reqwest::Url, token: SecretString) -> Self {
        Self {
            http,
            base: base_url,
            token: Credential::Header("access_token", token),
        }
    }

    /// A GET of `endpoint` (a path as the seed spells it) under the base URL.
    fn request(&self, endpoint: &'static str, query: Vec<(&'static str, String)>) -> Request {
        let mut url = self.base.clone();
        let path = format!("{}/{endpoint}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Request {
            endpoint,
            method: Method::GET,
            url,
            query,
            body: None,
            idempotent: true,
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<Vec<T>, Error> {
        self.http.send(&req, &self.token, classify::<T>).await
    }
}

/// The envelope: `errmsg` 20000 with `succeed: true` is success; see the module docs for the rest.
pub(super) fn classify<T>(status: StatusCode, env: wire::Envelope<T>) -> Verdict<Vec<T>> {
    let code = env.errmsg.number();
    let message = || {
        env.errdesc
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| match &env.errmsg {
                wire::Code::Text(t) if code.is_none() => t.clone(),
                _ if !env.succeed => "succeed is false".to_owned(),
                _ => "no errdesc".to_owned(),
            })
    };
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Verdict::CredentialExpired(format!("HTTP {status}: {}", message()));
    }
    match code {
        Some(SUCCESS) if env.succeed && status.is_success() => match env.values {
            Some(values) => Verdict::Ok(values),
            None => Verdict::Protocol("errmsg 20000 without `values`".into()),
        },
        Some(SUCCESS) if env.succeed => {
            Verdict::Protocol(format!("HTTP {status} with errmsg 20000"))
        }
        // The seed names no error code; read the code as an HTTP status times 100, as 20000 is.
        Some(c) if matches!(c / 100, 401 | 403) => {
            Verdict::CredentialExpired(format!("{} (errmsg {c})", message()))
        }
        // Too many requests, or busy: slow down.
        Some(c) if matches!(c / 100, 429 | 503) => {
            Verdict::Throttled(format!("{} (errmsg {c})", message()))
        }
        Some(c) if (50000..60000).contains(&c) => {
            Verdict::Unknown(format!("{} (errmsg {c})", message()))
        }
        Some(c) => Verdict::Rejected {
            errcode: c,
            message: message(),
        },
        None => Verdict::Rejected {
            errcode: 0,
            message: message(),
        },
    }
}

/// What one listing found besides the snapshot, for the logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Oddities {
    /// Category ids that only labels name (the category is missing from `Label`).
    pub orphan_categories: Vec<String>,
    /// Labels without a category id, left out.
    pub unplaced_labels: Vec<String>,
}

/// Both listings → one snapshot: categories are groups, in `Label`'s order; labels are tags,
/// attached to their category in `wecahtlabel`'s order. See the module docs for missing
/// categories, conflicts and duplicates.
pub(super) fn to_snapshot(
    categories: Vec<wire::Category>,
    labels: Vec<wire::Label>,
) -> (Snapshot, Oddities) {
    let mut groups: Vec<RemoteGroup> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut odd = Oddities::default();
    for c in categories {
        let Some(id) = c.ad_label_id else {
            continue;
        };
        if index.contains_key(&id) {
            continue;
        }
        index.insert(id.clone(), groups.len());
        groups.push(RemoteGroup {
            id,
            name: c.ad_label_name,
            order: None,
            created_at: None,
            tags: Vec::new(),
        });
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for l in labels {
        let Some(id) = l.ad_label_info_id else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(category) = l.ad_label_id else {
            odd.unplaced_labels.push(id);
            continue;
        };
        let gi = *index.entry(category.clone()).or_insert_with(|| {
            let name = l
                .ad_label_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("#{category}"));
            odd.orphan_categories.push(category.clone());
            groups.push(RemoteGroup {
                id: category.clone(),
                name,
                order: None,
                created_at: None,
                tags: Vec::new(),
            });
            groups.len() - 1
        });
        groups[gi].tags.push(RemoteTag {
            id,
            name: l.ad_label_info_name,
            order: None,
            created_at: l.ad_label_time.as_deref().and_then(label_time),
        });
    }
    (Snapshot { groups }, odd)
}

/// `ad_label_time`: RFC 3339 with the offset, or without one in Beijing time.
fn label_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let beijing = FixedOffset::east_opt(8 * 3600)?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()?
        .and_local_timezone(beijing)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[async_trait]
impl Platform for WechatCrm {
    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    /// Two calls, one after the other: `Label`, then `wecahtlabel?categories=-1`.
    async fn list(&self) -> Result<Snapshot, Error> {
        let categories: Vec<wire::Category> = self.call(self.request("Label", Vec::new())).await?;
        let labels: Vec<wire::Label> = self
            .call(self.request("wecahtlabel", vec![("categories", "-1".to_owned())]))
            .await?;
        let (snapshot, odd) = to_snapshot(categories, labels);
        if !odd.orphan_categories.is_empty() {
            tracing::warn!(
                message = "Labels name categories that `Label` does not list; grouped by the names the labels carry.",
                platform = %self.http.platform(),
                categories = ?odd.orphan_categories,
            );
        }
        if !odd.unplaced_labels.is_empty() {
            tracing::warn!(
                message = "Labels without a category id were left out.",
                platform = %self.http.platform(),
                labels = ?odd.unplaced_labels,
            );
        }
        Ok(snapshot)
    }

    fn api_calls(&self) -> u64 {
        self.http.api_calls()
    }

    fn concurrency(&self) -> usize {
        self.http.concurrency()
    }
}
