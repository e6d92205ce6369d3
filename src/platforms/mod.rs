//! Speaking to the platforms: one [`Platform`] trait, one module per platform, one HTTP layer.
//!
//! Architecture invariant: only this module speaks to a platform, and nothing outside a platform's
//! own directory knows its paths, field names or error codes. Everything else sees the canonical
//! model and a [`Capabilities`] table.

pub mod crm;
pub mod dustess;
pub mod flex;
pub mod http;
pub mod juzibot;
pub mod wecom;
pub mod yzj;

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::planner::NewTag;
use crate::settings::{Kind, PlatformSettings};

pub use http::{Http, RetryPolicy};

/// How a call to a platform failed. Each variant is an outcome the caller treats differently.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The platform refuses because the object is not ours (created in its console): report it,
    /// never retry.
    #[error("{endpoint}: not ours: {message} (errcode {errcode})")]
    NotOurs {
        endpoint: &'static str,
        errcode: i64,
        message: String,
    },
    /// The platform rejected the request for good (invalid name, limits, permissions).
    #[error("{endpoint}: rejected: {message} (errcode {errcode})")]
    Rejected {
        endpoint: &'static str,
        errcode: i64,
        message: String,
    },
    /// Transient failures (busy, rate limited, 5xx, timeouts) outlasted the retry budget.
    #[error("{endpoint}: still failing after {attempts} attempts: {last}")]
    Exhausted {
        endpoint: &'static str,
        attempts: u32,
        last: String,
    },
    /// A write may or may not have been applied: its response was lost. The caller must re-read
    /// the platform before deciding anything; repeating the write could duplicate it.
    #[error(
        "{endpoint}: the outcome is unknown (the response was lost: {detail}); re-reading before going on"
    )]
    Indeterminate {
        endpoint: &'static str,
        detail: String,
    },
    /// The credential was refused.
    #[error("{endpoint}: the credential was refused: {message}")]
    Credential {
        endpoint: &'static str,
        message: String,
    },
    /// The response does not have the shape the platform's document describes.
    #[error("{endpoint}: unexpected response: {detail}")]
    Protocol {
        endpoint: &'static str,
        detail: String,
    },
    /// The platform's API has no call for this; the planner should never have asked.
    #[error("this platform's API cannot {what}")]
    Unsupported { what: &'static str },
}

impl Error {
    /// Whether a plain repeat of the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Exhausted { .. })
    }
}

/// One platform account, as tagsync uses it.
///
/// # Guarantees
/// Every method makes the calls its document describes and nothing else, through the shared
/// [`Http`] layer (rate limit, retries of transient failures, call counting, redacted logs).
/// Reads, edits and deletes are idempotent and are retried on transient failures; creates are not
/// retried once they may have reached the platform, and report [`Error::Indeterminate`] instead.
///
/// # Cancellation
/// Dropping a future mid-call leaves at most one request in flight whose outcome is unknown, the
/// same situation as a lost response: the next run re-reads the platform before writing.
///
/// # Errors
/// See [`Error`]; methods the platform cannot do return [`Error::Unsupported`].
#[async_trait]
pub trait Platform: Send + Sync {
    /// What this platform's API allows (the planner reads it).
    fn capabilities(&self) -> &'static Capabilities;

    /// Every group with its tags.
    async fn list(&self) -> Result<Snapshot, Error>;

    /// Creates a group with its first tags; returns the group as the platform reports it. Where
    /// the create answers no ids (Miaokol's `batchAddTag`), the group's `id` is empty and its
    /// tags are left out: apply then binds them from the list that ends the round, by name.
    async fn create_group(
        &self,
        name: &str,
        order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error>;

    /// Adds tags to a group; returns the new tags (with their ids), or none where the call
    /// answers no ids (learnt from the list that ends the round).
    async fn add_tags(
        &self,
        group_id: &str,
        group_name: &str,
        tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error>;

    /// Renames and/or reorders a group; sends only what is given.
    async fn edit_group(
        &self,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error>;

    /// Renames and/or reorders the tag `id` of the group `group_id`; sends only what is given
    /// (platforms that address a tag by its id alone ignore `group_id`; Miaokol's edit call must
    /// repeat the tag's group).
    async fn edit_tag(
        &self,
        group_id: &str,
        id: &str,
        name: Option<&str>,
        order: Option<u32>,
    ) -> Result<(), Error>;

    /// Deletes tags (the planner has already split them into chunks the API takes).
    async fn delete_tags(&self, ids: &[String]) -> Result<(), Error>;

    /// API calls made so far (each attempt counts).
    fn api_calls(&self) -> u64;
}

/// The capability table of a kind (PLATFORMS.md).
pub fn capabilities(kind: Kind) -> &'static Capabilities {
    match kind {
        Kind::Wecom => &wecom::CAPABILITIES,
        Kind::Juzibot => &juzibot::CAPABILITIES,
        Kind::Yzj => &yzj::CAPABILITIES,
        Kind::Dustess => &dustess::CAPABILITIES,
        Kind::WechatCrm => &crm::CAPABILITIES,
    }
}

/// Builds the client of a configured platform with its secret. Makes no call.
pub fn connect(
    settings: &PlatformSettings,
    secret: SecretString,
    retry: RetryPolicy,
) -> Result<Arc<dyn Platform>, String> {
    let http = Http::new(settings, retry).map_err(|e| e.to_string())?;
    let base = settings.base_url.clone();
    // Settings validation requires these per kind; the messages only guard hand-built settings.
    let required = |value: &Option<String>, key: &str| {
        value.clone().ok_or_else(|| {
            format!(
                "platform {:?} of kind {} needs `{key}`",
                settings.name, settings.kind
            )
        })
    };
    Ok(match settings.kind {
        Kind::Wecom => Arc::new(wecom::Wecom::new(
            http,
            base,
            required(&settings.corp_id, "corp_id")?,
            settings.strategy_id,
            secret,
        )),
        Kind::Juzibot => Arc::new(juzibot::Juzibot::new(http, base, secret)),
        Kind::Yzj => Arc::new(yzj::Yzj::new(
            http,
            base,
            required(&settings.app_id, "app_id")?,
            secret,
        )),
        Kind::Dustess => Arc::new(dustess::Dustess::new(http, base, secret)),
        Kind::WechatCrm => Arc::new(crm::WechatCrm::new(http, base, secret)),
    })
}
