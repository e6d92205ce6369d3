//! Speaking to the platforms: one [`Platform`] trait, one module per platform, one HTTP layer.
//!
//! Architecture invariant: only this module speaks to a platform, and nothing outside a platform's
//! own directory knows its paths, field names or error codes. Everything else sees the canonical
//! model and a [`Capabilities`] table.

pub mod http;
pub mod juzibot;
pub mod wecom;

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

    /// Creates a group with its first tags; returns the group as the platform reports it.
    async fn create_group(
        &self,
        name: &str,
        order: Option<u32>,
        tags: &[NewTag],
    ) -> Result<RemoteGroup, Error>;

    /// Adds tags to a group; returns the new tags (with their ids).
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

    /// Renames and/or reorders a tag; sends only what is given.
    async fn edit_tag(&self, id: &str, name: Option<&str>, order: Option<u32>)
    -> Result<(), Error>;

    /// Deletes tags (the planner has already split them into chunks the API takes).
    async fn delete_tags(&self, ids: &[String]) -> Result<(), Error>;

    /// API calls made so far (each attempt counts).
    fn api_calls(&self) -> u64;
}

/// The capability table of a kind (PLATFORMS.md).
pub fn capabilities(kind: Kind) -> Option<&'static Capabilities> {
    match kind {
        Kind::Juzibot => Some(&juzibot::CAPABILITIES),
        Kind::Wecom => Some(&wecom::CAPABILITIES),
        _ => None,
    }
}

/// Builds the client of a configured platform with its secret.
pub fn connect(
    settings: &PlatformSettings,
    secret: SecretString,
    retry: RetryPolicy,
) -> Result<Arc<dyn Platform>, String> {
    let http = Http::new(settings, retry).map_err(|e| e.to_string())?;
    match settings.kind {
        Kind::Juzibot => Ok(Arc::new(juzibot::Juzibot::new(
            http,
            settings.base_url.clone(),
            secret,
        ))),
        Kind::Wecom => {
            let corp_id = settings
                .corp_id
                .clone()
                .ok_or_else(|| format!("platform {:?} has no corp_id", settings.name))?;
            Ok(Arc::new(wecom::Wecom::new(
                http,
                settings.base_url.clone(),
                corp_id,
                settings.strategy_id,
                secret,
            )))
        }
        other => Err(format!(
            "platform kind {other} is not supported by this build yet"
        )),
    }
}
