//! `tagsync validate`: configuration and tag files, offline, without secrets.

use std::path::Path;

use super::{Failure, Success, load_inputs};

pub fn run(config: &Path) -> Result<Success, Failure> {
    let (settings, desired) = load_inputs(config)?;
    let files = crate::settings::read_tag_sources(&settings.tags)
        .map(|s| s.len())
        .unwrap_or(0);
    println!(
        "valid: {} groups, {} tags, {} platforms ({} tag file{} in {})",
        desired.groups().len(),
        desired.tag_count(),
        settings.platforms.len(),
        files,
        if files == 1 { "" } else { "s" },
        settings.tags.display()
    );
    Ok(Success::Done)
}
