//! Customer marks (issue 12): `tagsync mark`, the SQL `INSERT` of other systems and the daemon's
//! drain all go through here. `fold.rs` is the pure part (names to ids, checks, coalescing);
//! `drain.rs` the outbox worker (claim, deliver, record).
//!
//! # Guarantees
//! - A request is checked before it is queued ([`Engine::enqueue_mark`]): a platform that cannot
//!   mark, nothing to do, a missing staff id, a contact id no document allows, a tag named both
//!   ways, a name that is not a declared tag of the platform, or a tag not yet created there are
//!   refused ([`MarkRefusal`]) and nothing is queued or sent.
//! - Exactly once in effect: a request is claimed (holder, lease) before it is sent and gets its
//!   outcome after. A claim whose holder died is put back (at once when the holder was a process
//!   of this host that is gone, else when its lease runs out) and sent again: marks are
//!   idempotent (add/remove lists on Juzibot and WeCom; the whole set on Miaokol).
//! - Per-customer order: a customer's later request is never sent before an earlier one has an
//!   outcome; a customer's consecutive requests are folded into one call with the same effect.
//! - Retries with backoff per request (`attempts`, `next_attempt_at`, `last_error`); after
//!   [`MAX_ATTEMPTS`], or on a permanent refusal, the request is dead (status `dead`) with the reason.
//!   Dead requests never block the queue: the customer's next request goes on.

mod drain;
pub mod fold;

use crate::model::{Desired, MarkStyle};
use crate::settings::PlatformSettings;
use crate::store::{self, MarkId, NewMark};

pub use drain::{DrainReport, MAX_ATTEMPTS, backoff};
pub use fold::{TagIndex, Unresolved};

use super::Engine;

/// A mark as the user asks for it: tags by declared `GROUP/TAG` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkInput {
    pub contact: String,
    pub user: Option<String>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// Why a mark was refused before it was queued (the user's input: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkRefusal {
    #[error("platform {platform:?} ({kind}) cannot mark customers: its API has no mark call")]
    CannotMark { platform: String, kind: String },
    #[error("nothing to mark: no --add and no --remove")]
    Nothing,
    #[error("platform {platform:?} ({kind}) needs the staff member who owns the customer (--user)")]
    NeedsUser { platform: String, kind: String },
    #[error("{what} {id:?} cannot be an id on platform {platform:?}: {problem}")]
    BadId {
        what: &'static str,
        id: String,
        platform: String,
        problem: &'static str,
    },
    #[error("`{tag}` is both added and removed")]
    BothWays { tag: String },
    #[error("`{name}` is not a tag name: write GROUP/TAG")]
    NotGroupTag { name: String },
    #[error("`{name}` is not a declared tag of platform {platform:?}")]
    Undeclared {
        name: String,
        platform: String,
        suggestion: Option<String>,
    },
    #[error("`{name}` is declared but not yet on platform {platform:?} (it has no binding)")]
    Unbound { name: String, platform: String },
}

impl MarkRefusal {
    /// How to fix it.
    pub fn hint(&self) -> String {
        match self {
            MarkRefusal::CannotMark { .. } => {
                "marks go to WeCom, Juzibot or Miaokol platforms (PLATFORMS.md, capability table)"
                    .into()
            }
            MarkRefusal::Nothing => {
                "give at least one --add GROUP/TAG or --remove GROUP/TAG".into()
            }
            MarkRefusal::NeedsUser { .. } => {
                "pass --user ID (WeCom `userid`, Juzibot `userId`, Miaokol `rel_wxid`)".into()
            }
            MarkRefusal::BadId { .. } => "pass the id exactly as the platform gives it".into(),
            MarkRefusal::BothWays { .. } => "name each tag once: --add or --remove".into(),
            MarkRefusal::NotGroupTag { .. } => {
                "name tags by their declared group and tag names, e.g. 客户等级/重要客户".into()
            }
            MarkRefusal::Undeclared {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`? names are the tag files' names"),
            MarkRefusal::Undeclared { .. } => {
                "names are the tag files' group and tag names, for a group synced to this platform"
                    .into()
            }
            MarkRefusal::Unbound { .. } => {
                "run `tagsync apply` so that the tag exists on the platform, then mark".into()
            }
        }
    }
}

/// Enqueueing failed.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    /// The request is refused (exit 2); nothing was queued.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<MarkRefusal>),
    #[error("the mirror failed: {0}")]
    Store(#[from] store::Error),
}

impl Engine {
    /// Checks a mark for `platform` and queues it; returns its id. Needs no secret and makes no
    /// platform call.
    ///
    /// # Errors
    /// [`MarkError::Refused`] with every problem found (nothing queued); [`MarkError::Store`].
    pub async fn enqueue_mark(
        &self,
        platform: &PlatformSettings,
        desired: &Desired,
        input: &MarkInput,
    ) -> Result<MarkId, MarkError> {
        let problems = self.check_mark(platform, desired, input).await?;
        if !problems.is_empty() {
            return Err(MarkError::Refused(problems));
        }
        let mark = NewMark {
            contact: input.contact.clone(),
            user_id: input.user.clone(),
            add_tags: input.add.clone(),
            remove_tags: input.remove.clone(),
        };
        Ok(self
            .store()
            .queue_mark(&platform.name, &mark, self.clock().now())
            .await?)
    }

    /// Every problem of a mark, in the order a user fixes them.
    async fn check_mark(
        &self,
        platform: &PlatformSettings,
        desired: &Desired,
        input: &MarkInput,
    ) -> Result<Vec<MarkRefusal>, store::Error> {
        let name = platform.name.clone();
        let kind = platform.kind.to_string();
        if platform.kind.capabilities().mark == MarkStyle::No {
            return Ok(vec![MarkRefusal::CannotMark {
                platform: name,
                kind,
            }]);
        }
        if input.add.is_empty() && input.remove.is_empty() {
            return Ok(vec![MarkRefusal::Nothing]);
        }
        let mut problems = Vec::new();
        match &input.user {
            None => problems.push(MarkRefusal::NeedsUser {
                platform: name.clone(),
                kind,
            }),
            Some(user) => {
                if let Some(problem) = fold::id_problem(user) {
                    problems.push(MarkRefusal::BadId {
                        what: "--user",
                        id: user.clone(),
                        platform: name.clone(),
                        problem,
                    });
                }
            }
        }
        if let Some(problem) = fold::id_problem(&input.contact) {
            problems.push(MarkRefusal::BadId {
                what: "--contact",
                id: input.contact.clone(),
                platform: name.clone(),
                problem,
            });
        }
        if let Some(tag) = fold::added_and_removed(&input.add, &input.remove) {
            problems.push(MarkRefusal::BothWays {
                tag: tag.to_owned(),
            });
        }
        let bindings = self.store().bindings(&name).await?;
        let index = TagIndex::new(desired, &name, &bindings);
        for tag in input.add.iter().chain(&input.remove) {
            if !tag.contains('/') {
                problems.push(MarkRefusal::NotGroupTag { name: tag.clone() });
                continue;
            }
            match index.resolve(tag) {
                Ok(_) => {}
                Err(Unresolved::Undeclared) => problems.push(MarkRefusal::Undeclared {
                    name: tag.clone(),
                    platform: name.clone(),
                    suggestion: index.suggest(tag).map(str::to_owned),
                }),
                Err(Unresolved::Unbound) => problems.push(MarkRefusal::Unbound {
                    name: tag.clone(),
                    platform: name.clone(),
                }),
            }
        }
        Ok(problems)
    }

    /// Puts dead requests (of one platform, or all) back in the queue; returns how many.
    ///
    /// # Errors
    /// The mirror's.
    pub async fn retry_dead_marks(&self, platform: Option<&str>) -> Result<u64, store::Error> {
        self.store()
            .requeue_dead_marks(platform, self.clock().now())
            .await
    }
}
