//! The mass-delete guard: a plan that deletes more tags than the limit of a run is refused before
//! anything is sent. The verdict is part of the plan, so that `plan`, the preview of `apply` and
//! the JSON form show it before anyone is asked to confirm.

use serde::{Deserialize, Serialize};

use super::PlatformPlan;

/// The guard's verdict on one plan.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DeleteGuard {
    /// Tags the plan deletes.
    pub deletes: usize,
    /// The most a run may delete (`max_deletes`, or `apply --allow-deletes N`).
    pub limit: usize,
    /// Whether apply refuses the plan (`deletes > limit`).
    pub refused: bool,
}

impl DeleteGuard {
    /// The verdict in words, e.g. "refused by the delete guard: 3 deletes > max_deletes 2; pass
    /// --allow-deletes 3".
    pub fn verdict(&self) -> String {
        let DeleteGuard { deletes, limit, .. } = *self;
        if self.refused {
            format!(
                "refused by the delete guard: {deletes} deletes > max_deletes {limit}; pass --allow-deletes {deletes}"
            )
        } else {
            format!("the delete guard allows it: {deletes} deletes ≤ max_deletes {limit}")
        }
    }
}

impl PlatformPlan {
    /// Judges the plan against the delete guard with this limit and records the verdict in the
    /// plan (none when the plan deletes nothing).
    pub fn judge_deletes(&mut self, limit: usize) {
        let deletes = self.deletes();
        self.delete_guard = (deletes > 0).then_some(DeleteGuard {
            deletes,
            limit,
            refused: deletes > limit,
        });
    }

    /// Whether the delete guard refuses this plan (as last judged).
    pub fn refused_by_guard(&self) -> bool {
        self.delete_guard.is_some_and(|g| g.refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{Action, Op, Reason, TagRef};

    fn deleting(n: usize) -> PlatformPlan {
        let tags = (0..n)
            .map(|i| TagRef {
                group_key: "级别".into(),
                group_id: "g1".into(),
                group_name: "级别".into(),
                tag_id: format!("t{i}"),
                name: format!("旧{i}"),
            })
            .collect();
        PlatformPlan {
            ops: vec![Op {
                action: Action::DeleteTags { tags },
                reason: Reason::Undeclared,
            }],
            ..PlatformPlan::default()
        }
    }

    #[test]
    fn over_the_limit_is_refused_and_says_how_to_allow_it() {
        let mut p = deleting(3);
        p.judge_deletes(2);
        assert!(p.refused_by_guard());
        assert_eq!(
            p.delete_guard.unwrap().verdict(),
            "refused by the delete guard: 3 deletes > max_deletes 2; pass --allow-deletes 3"
        );
        p.judge_deletes(3);
        assert!(!p.refused_by_guard());
        assert_eq!(
            p.delete_guard.unwrap().verdict(),
            "the delete guard allows it: 3 deletes ≤ max_deletes 3"
        );
    }

    #[test]
    fn a_plan_without_deletes_has_no_verdict() {
        let mut p = deleting(0);
        p.ops.clear();
        p.judge_deletes(0);
        assert_eq!(p.delete_guard, None);
        assert!(!p.refused_by_guard());
    }
}
