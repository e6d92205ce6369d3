//! `tagsync validate`: configuration and tag files, offline, without secrets.

use std::path::Path;

use super::{Failure, Success, load_inputs};

pub fn run(config: &Path) -> Result<Success, Failure> {
    let inputs = load_inputs(config)?;
    let (groups, tags, platforms) = (
        inputs.desired.groups().len(),
        inputs.desired.tag_count(),
        inputs.settings.platforms.len(),
    );
    println!(
        "valid: {groups} group{}, {tags} tag{}, {platforms} platform{} ({} tag file{} in {})",
        plural(groups),
        plural(tags),
        plural(platforms),
        inputs.files,
        plural(inputs.files),
        inputs.settings.tags.display()
    );
    Ok(Success::Done)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
