//! What a platform's API allows, as data the planner reads (PLATFORMS.md, "Capability table").
//!
//! The planner never asks which platform it plans for; it asks what the platform can do. A change
//! the API cannot make becomes a "not supported here" line, never a call.

use serde::Serialize;

/// How many objects one call can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Batch {
    /// The API has no such call.
    No,
    /// One object per call.
    One,
    /// Up to this many objects per call.
    Many(usize),
}

impl Batch {
    pub fn allowed(self) -> bool {
        !matches!(self, Batch::No)
    }

    /// The largest chunk one call takes.
    pub fn chunk(self) -> usize {
        match self {
            Batch::No | Batch::One => 1,
            Batch::Many(n) => n.max(1),
        }
    }
}

/// How a platform puts tags on a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MarkStyle {
    No,
    /// Add and remove lists in one call.
    AddRemove,
    /// The call replaces the customer's whole set.
    Overwrite,
}

/// What a platform's API allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The API lists groups and tags; without it the mirror is the only knowledge.
    pub list: bool,
    /// Order is a managed property here: declared orders are compared with the platform's (and
    /// written where the calls below allow, else shown as drift). False where the platform has no
    /// order, and where no call can write one (Miaokol reads `sort` but nothing writes it): order
    /// is then never compared, so it never shows as drift that no one could fix through the API.
    pub has_order: bool,
    /// A new group can be created (always with at least one tag).
    pub create_group: bool,
    /// The create call takes the group's and its tags' orders.
    pub create_sets_order: bool,
    /// Tags can be added to an existing group, this many per call.
    pub add_tags: Batch,
    pub rename_group: bool,
    pub reorder_group: bool,
    pub rename_tag: bool,
    pub reorder_tag: bool,
    /// Name and order of one object change in one edit call (else one call each).
    pub edit_name_and_order_together: bool,
    pub delete_tags: Batch,
    pub delete_groups: Batch,
    /// Deleting a group's last tag deletes the group.
    pub last_tag_delete_removes_group: bool,
    /// Group names are unique per account, and tag names per group, so a rename onto a name that
    /// another object holds fails.
    pub unique_names: bool,
    pub mark: MarkStyle,
}

impl Capabilities {
    /// Whether anything at all can be written.
    pub fn writable(&self) -> bool {
        self.create_group
            || self.add_tags.allowed()
            || self.rename_group
            || self.rename_tag
            || self.delete_tags.allowed()
    }
}
