//! The canonical, platform-neutral model: what the user declares ([`Desired`]) and what a platform
//! holds ([`Snapshot`]).
//!
//! Architecture invariant: this module does no I/O. It never reads a file, opens a socket or looks
//! at the clock; callers hand it text and values. A [`Desired`] can only be made by validation
//! ([`tagfile::parse`]), so everything downstream may rely on its invariants: names are NFC, 1..=30
//! characters with no surrounding spaces; keys are unique; every group has at least one tag.

pub mod capabilities;
pub mod diag;
pub mod tagfile;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use capabilities::{Batch, Capabilities, MarkStyle};
pub use diag::{Diagnostic, Diagnostics, Origin};

/// The longest group or tag name any platform accepts, in characters.
pub const MAX_NAME_CHARS: usize = 30;

/// The validated desired state: every group of every tag file, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    groups: Vec<DesiredGroup>,
}

/// A declared tag group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredGroup {
    /// Stable identity; the name when the file gives no key.
    pub key: String,
    pub name: String,
    /// Earlier names, matched (in this order) when neither binding nor name finds the group.
    pub was: Vec<String>,
    /// An explicit order to enforce; `None` means "by position".
    pub order: Option<u32>,
    /// The platforms this group is synced to (already resolved from the default).
    pub platforms: BTreeSet<String>,
    /// Whether undeclared remote tags of this group are deleted (already resolved from the default).
    pub prune: bool,
    pub tags: Vec<DesiredTag>,
    pub origin: Origin,
}

/// A declared tag inside a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredTag {
    pub key: String,
    pub name: String,
    pub was: Vec<String>,
    pub order: Option<u32>,
    pub origin: Origin,
}

impl Desired {
    /// Only validation builds a `Desired`; see [`tagfile::parse`].
    pub(crate) fn new(groups: Vec<DesiredGroup>) -> Self {
        Self { groups }
    }

    /// Every declared group, in declaration order (files sorted by path, then position).
    pub fn groups(&self) -> &[DesiredGroup] {
        &self.groups
    }

    /// The groups synced to `platform`, in declaration order.
    pub fn for_platform<'a>(&'a self, platform: &'a str) -> impl Iterator<Item = &'a DesiredGroup> {
        self.groups
            .iter()
            .filter(move |g| g.platforms.contains(platform))
    }

    pub fn tag_count(&self) -> usize {
        self.groups.iter().map(|g| g.tags.len()).sum()
    }

    /// The platforms at least one group is synced to.
    pub fn platforms(&self) -> BTreeSet<&str> {
        self.groups
            .iter()
            .flat_map(|g| g.platforms.iter().map(String::as_str))
            .collect()
    }
}

/// What one platform holds, as read by its adapter and converted to the canonical shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub groups: Vec<RemoteGroup>,
}

/// A tag group as a platform reports it. Ids are strings whatever the wire uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RemoteGroup {
    pub id: String,
    pub name: String,
    /// `None` on platforms without an order, or where the platform does not report this
    /// object's order (the planner then does not compare it).
    pub order: Option<u32>,
    pub created_at: Option<DateTime<Utc>>,
    pub tags: Vec<RemoteTag>,
}

/// A tag as a platform reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RemoteTag {
    pub id: String,
    pub name: String,
    /// As [`RemoteGroup::order`].
    pub order: Option<u32>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Snapshot {
    pub fn group(&self, id: &str) -> Option<&RemoteGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    pub fn tag_count(&self) -> usize {
        self.groups.iter().map(|g| g.tags.len()).sum()
    }
}

/// A tag to create: what the planner asks for and a platform's create call sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NewTag {
    pub key: String,
    pub name: String,
    /// Sent with the create where the platform takes it.
    pub order: Option<u32>,
}

/// Normalises a name the way every comparison in tagsync sees it: Unicode NFC, nothing else.
pub fn normalize_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
}

/// Which remote object each declared key is bound to on one platform (kept in the mirror).
///
/// A binding outlives renames on both sides: once bound, a key follows its remote id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Bindings {
    /// Group key → remote group id.
    pub groups: std::collections::BTreeMap<String, String>,
    /// (group key, tag key) → remote tag id.
    pub tags: std::collections::BTreeMap<(String, String), String>,
}
