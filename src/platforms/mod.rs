//! Speaking to the platforms: one [`Platform`] trait, one module per platform, one HTTP layer.
//!
//! Architecture invariant: only this module speaks to a platform, and nothing outside a platform's
//! own directory knows its paths, field names or error codes. Everything else sees the canonical
//! model and a [`Capabilities`] table.

pub mod flex;
pub mod http;
pub mod limit;
#[macro_use]
pub mod registry;

// Every platform kind: its directory and this one line.
registry! {
    Wecom => wecom,
    Juzibot => juzibot,
    Yzj => yzj,
    Dustess => dustess,
    WechatCrm => crm,
}

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::model::NewTag;
use crate::model::{Capabilities, RemoteGroup, RemoteTag, Snapshot};
use crate::settings::PlatformSettings;

pub use http::{Http, RetryPolicy};
pub use registry::{Descriptor, Field, Limits};

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
    ///
    /// The default answers [`Error::Unsupported`], as read-only platforms do for every write.
    async fn create_group(
        &self,
        _name: &str,
        _order: Option<u32>,
        _tags: &[NewTag],
    ) -> Result<RemoteGroup, Error> {
        Err(Error::Unsupported {
            what: "create groups",
        })
    }

    /// Adds tags to a group; returns the new tags (with their ids), or none where the call
    /// answers no ids (learnt from the list that ends the round).
    async fn add_tags(
        &self,
        _group_id: &str,
        _group_name: &str,
        _tags: &[NewTag],
    ) -> Result<Vec<RemoteTag>, Error> {
        Err(Error::Unsupported { what: "add tags" })
    }

    /// Renames and/or reorders a group; sends only what is given.
    async fn edit_group(
        &self,
        _id: &str,
        _name: Option<&str>,
        _order: Option<u32>,
    ) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "edit groups",
        })
    }

    /// Renames and/or reorders the tag `id` of the group `group_id`; sends only what is given
    /// (platforms that address a tag by its id alone ignore `group_id`; Miaokol's edit call must
    /// repeat the tag's group).
    async fn edit_tag(
        &self,
        _group_id: &str,
        _id: &str,
        _name: Option<&str>,
        _order: Option<u32>,
    ) -> Result<(), Error> {
        Err(Error::Unsupported { what: "edit tags" })
    }

    /// Deletes tags (the planner has already split them into chunks the API takes).
    async fn delete_tags(&self, _ids: &[String]) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "delete tags",
        })
    }

    /// How many customers one [`Platform::mark`] call takes (Juzibot's `mark_list` batches; the
    /// others mark one customer per call).
    fn marks_per_call(&self) -> usize {
        1
    }

    /// Puts tags on and off customers, at most [`Platform::marks_per_call`] of them, in one call.
    /// Tag ids are the platform's. The change is as [`Capabilities::mark`] says: add/remove lists
    /// where the platform takes them, the whole resulting set where its call replaces the set.
    /// Idempotent: sending the same change again leaves the same sets, so it is retried on a lost
    /// response.
    ///
    /// # Errors
    /// As every write; a call that answers an error changes no customer (the documents' calls are
    /// all-or-nothing).
    async fn mark(&self, _marks: &[MarkCall]) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "mark customers",
        })
    }

    /// API calls made so far (each attempt counts).
    fn api_calls(&self) -> u64;

    /// How many independent operations apply may have in flight at once; the rate limiter still
    /// paces every call.
    fn concurrency(&self) -> usize {
        1
    }
}

/// One customer's tag change in a [`Platform::mark`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkCall {
    /// The customer (WeCom `external_userid`, Juzibot `unionId`, Miaokol `contact_wxid`).
    pub contact: String,
    /// The staff member (WeCom `userid`, Juzibot `userId`, Miaokol `rel_wxid`).
    pub user: String,
    pub change: MarkChange,
}

/// What a mark call does to one customer's set, in the platform's tag ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkChange {
    /// Put these on and take those off (disjoint lists); other tags stay.
    Edit {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// The customer's whole set becomes exactly this.
    Replace(Vec<String>),
}

/// A configured platform's client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The HTTP client could not be set up (TLS roots, proxy settings).
    #[error("platform {platform:?}: cannot set up the HTTP client: {source}")]
    Http {
        platform: String,
        #[source]
        source: reqwest::Error,
    },
}

/// Builds the client of a configured platform with its secret. Makes no call.
pub fn connect(
    settings: &PlatformSettings,
    secret: SecretString,
    retry: RetryPolicy,
) -> Result<Arc<dyn Platform>, ConnectError> {
    let http = Http::new(settings, retry).map_err(|source| ConnectError::Http {
        platform: settings.name.clone(),
        source,
    })?;
    Ok(settings
        .config
        .connect(http, settings.base_url.clone(), secret))
}
