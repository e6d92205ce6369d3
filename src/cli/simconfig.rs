//! A configuration for running simulators, for `tagsync sim --write-config` and `tagsync demo`:
//! one platform per simulator, named as in `config/tagsync.example.yaml` (whose names the example
//! tag files use), each with the credentials its simulator accepts and its secret in a file
//! beside the configuration (mode 0600), the way a deployment keeps them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::settings::{Kind, Mode};
use crate::sim::{SeedFile, SimHandle};

const EXAMPLE_CONFIG: &str = include_str!("../../config/tagsync.example.yaml");
/// The example tag files, written beside a configuration that has none.
pub const TAG_FILES: [(&str, &str); 2] = [
    (
        "10-customer.yaml",
        include_str!("../../config/tags/10-customer.yaml"),
    ),
    (
        "20-intent.yaml",
        include_str!("../../config/tags/20-intent.yaml"),
    ),
];

#[derive(serde::Deserialize)]
struct Example {
    platforms: BTreeMap<String, ExamplePlatform>,
}

#[derive(serde::Deserialize)]
struct ExamplePlatform {
    kind: Kind,
    #[serde(default)]
    mode: Mode,
}

/// The example configuration's platform name and mode for each kind.
fn example_names() -> BTreeMap<Kind, (String, Mode)> {
    let example: Example =
        serde_saphyr::from_str(EXAMPLE_CONFIG).expect("the example configuration is valid");
    example
        .platforms
        .into_iter()
        .map(|(name, p)| (p.kind, (name, p.mode)))
        .collect()
}

/// Writes the configuration `path` for `sims` (started from `seed`), the secrets beside it, and
/// the example tag files into `tags/` beside it unless that directory exists. Paths in the file
/// are absolute, so it works from any directory. Returns the file's text.
pub fn write(path: &Path, sims: &[SimHandle], seed: &SeedFile) -> std::io::Result<String> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    let tags = dir.join("tags");
    if !tags.exists() {
        std::fs::create_dir_all(&tags)?;
        for (file, text) in TAG_FILES {
            std::fs::write(tags.join(file), text)?;
        }
    }
    let names = example_names();
    let mut config = format!(
        "# Written by tagsync for its simulators (`tagsync sim --write-config`, `tagsync demo`).\n\
         database_url: sqlite://{}/tagsync.db?mode=rwc\ntags: {}\nplatforms:\n",
        dir.display(),
        tags.display()
    );
    for h in sims {
        let kind =
            Kind::from_name(h.platform().name()).expect("every simulator is of a configured kind");
        let (name, mode) = names
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| (kind.as_str().to_owned(), Mode::Enforce));
        let secret = dir.join(format!("{name}.secret"));
        write_secret(&secret, h.token())?;
        let _ = write!(
            config,
            "  {name}:\n    kind: {kind}\n    base_url: {}\n    mode: {}\n    secret_file: {}\n",
            h.base_url(),
            mode.as_str(),
            secret.display()
        );
        let fixture = seed.fixture(h.platform()).cloned().unwrap_or_default();
        for (key, value) in h.platform().account(&fixture) {
            let _ = writeln!(config, "    {key}: {value}");
        }
    }
    std::fs::write(path, &config)?;
    Ok(config)
}

/// A secret file only its owner can read, ending with the newline editors add.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode when opened: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(f, "{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimPlatform;

    #[test]
    fn every_simulator_is_a_kind_with_an_example_name() {
        let names = example_names();
        for p in SimPlatform::ALL {
            let kind = Kind::from_name(p.name()).unwrap_or_else(|| panic!("{p}"));
            assert!(names.contains_key(&kind), "{kind}");
        }
        assert_eq!(names[&Kind::WechatCrm], ("crm".to_owned(), Mode::Observe));
    }
}
