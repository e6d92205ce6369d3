//! `tagsync import`: what a platform holds now, as a tag file whose keys are bound in the mirror,
//! so that planning it right after is empty.

use std::collections::BTreeSet;

use crate::model::tagfile::emit::{self, EmitError, EmitSettings, Imported};
use crate::model::{Desired, Snapshot};

use super::report::{CycleReport, Error};
use super::{Engine, Target, Trigger, rounds};

/// Why an import produced no file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The pull (or the mirror) failed.
    #[error(transparent)]
    Cycle(#[from] Error),
    /// Nothing can be written (no list call, no declarable group).
    #[error(transparent)]
    Emit(#[from] EmitError),
}

impl Engine {
    /// Pulls `target` (recorded as an `import` run), writes the tag file of what it holds and
    /// binds every written key to the object it came from. Groups that `existing` (the other tag
    /// files) already declares for this platform, bound or by name, are left out, and their keys
    /// are not reused. `schema` is the `$schema` path written on top.
    ///
    /// # Errors
    /// [`ImportError::Emit`] when the platform cannot list or holds nothing declarable (then
    /// nothing is bound); [`ImportError::Cycle`] when the pull or the mirror failed.
    pub async fn import(
        &self,
        target: &Target,
        existing: &Desired,
        schema: &str,
    ) -> Result<(Imported, CycleReport), ImportError> {
        let caps = target.client.capabilities();
        if !caps.list {
            return Err(EmitError::NotListable(target.name.clone()).into());
        }
        let mut emitted: Option<Result<Imported, EmitError>> = None;
        let report = super::lifecycle::run(
            self,
            target,
            Trigger::Import,
            false,
            None,
            async |ctx, _report| {
                let snapshot = rounds::pull(ctx).await?;
                let bound = ctx.store.bindings(ctx.name).await?;
                let (taken, managed) = already_declared(existing, ctx.name, &bound, &snapshot);
                let settings = EmitSettings {
                    platform: ctx.name,
                    caps: ctx.caps,
                    schema,
                    taken_keys: &taken,
                    managed: &managed,
                };
                let result = emit::emit(&snapshot, &settings);
                if let Ok(imported) = &result {
                    let now = ctx.clock.now();
                    for (key, id) in &imported.bindings.groups {
                        ctx.store.bind_group(ctx.name, key, id, now).await?;
                    }
                    for ((group, tag), id) in &imported.bindings.tags {
                        ctx.store.bind_tag(ctx.name, group, tag, id, now).await?;
                    }
                }
                emitted = Some(result);
                Ok(())
            },
        )
        .await?;
        let imported = emitted.expect("the body ran to its end")?;
        Ok((imported, report))
    }
}

/// The group keys other tag files use, and the remote groups they already manage on `platform`
/// (bound to one of their keys, or named as one of their groups for this platform).
fn already_declared(
    existing: &Desired,
    platform: &str,
    bound: &crate::model::Bindings,
    snapshot: &Snapshot,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let taken: BTreeSet<String> = existing.groups().iter().map(|g| g.key.clone()).collect();
    let mut managed = BTreeSet::new();
    for g in existing.groups() {
        if !g.platforms.contains(platform) {
            continue;
        }
        if let Some(id) = bound.groups.get(&g.key) {
            managed.insert(id.clone());
        }
        for remote in &snapshot.groups {
            if remote.name == g.name || g.was.contains(&remote.name) {
                managed.insert(remote.id.clone());
            }
        }
    }
    (taken, managed)
}
