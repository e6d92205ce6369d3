//! `tagsync import --platform NAME [--out FILE|-] [--force]`: the tag file of what a platform holds
//! now, its keys bound in the mirror, so that `plan` right after is empty. It works on a fresh
//! setup: the configuration's `tags` need not exist yet (the default file goes into it).
//!
//! Every argument is checked before the platform is called: an unknown or write-only platform,
//! an `--out` in a missing directory or over an existing file (without `--force`) exit 2 with
//! nothing written.

use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::render::UserError;
use super::{Failure, Success};
use crate::engine::{self, Engine, ImportError};
use crate::model::tagfile::emit::EmitError;
use crate::model::{Desired, tagfile};
use crate::platforms::RetryPolicy;
use crate::settings::{self, Settings};

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The configured platform to import.
    #[arg(long, value_name = "NAME")]
    pub platform: String,
    /// Where to write the tag file; `-` for standard output. By default `NAME.yaml` in the
    /// configuration's `tags` directory (created if missing).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Where the file goes.
enum Out {
    Stdout,
    File(PathBuf),
}

pub async fn run(config: &Path, args: ImportArgs) -> Result<Success, Failure> {
    let settings = settings::load_without_tags(config)?;
    let Some(platform) = settings.platforms.get(&args.platform) else {
        let known: Vec<&str> = settings.platforms.keys().map(String::as_str).collect();
        return Err(UserError::at(
            "--platform",
            format!("no platform {:?} in {}", args.platform, config.display()),
        )
        .hint(format!("configured platforms: {}", known.join(", ")))
        .into());
    };
    if !platform.kind.capabilities().list {
        return Err(UserError::at(
            "--platform",
            format!(
                "{:?} ({}) has no list call, so tagsync cannot see what it holds: there is nothing to import",
                args.platform,
                platform.kind.as_str()
            ),
        )
        .hint("import from a platform that can list its tags, and declare this one in its groups' `platforms:`")
        .into());
    }
    let out = destination(&settings, &args)?;
    let existing = other_tag_files(&settings, &out)?;

    let targets = engine::connect(
        &settings,
        std::slice::from_ref(&args.platform),
        RetryPolicy::default(),
    )
    .map_err(UserError::from)?;
    let engine = Engine::open(&settings, crate::clock::system())
        .await
        .context("cannot open the mirror")?;
    // On stderr, cleared before the file is written: `--out -` stays clean.
    super::progress::attach(&engine, true);
    let schema = schema_path(&out);
    let result = engine.import(&targets[0], &existing, &schema).await;
    engine.store().close().await;
    let (imported, _report) = match result {
        Ok(done) => done,
        Err(ImportError::Emit(e @ EmitError::Nothing { .. })) => {
            let EmitError::Nothing { skipped, .. } = &e else {
                unreachable!("matched above")
            };
            let mut lines = vec![e.to_string()];
            lines.extend(skipped.iter().map(left_out));
            return Err(UserError::all(lines)
                .hint("create a group with at least one tag in the platform's console, or write the tag file by hand")
                .into());
        }
        Err(e) => return Err(Failure::Runtime(anyhow::Error::new(e))),
    };

    match &out {
        Out::Stdout => print!("{}", imported.text),
        Out::File(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(path, &imported.text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let into = match &out {
        Out::Stdout => "standard output".to_owned(),
        Out::File(p) => p.display().to_string(),
    };
    eprintln!(
        "Imported {} group(s) and {} tag(s) of {} into {into}; their keys are bound in the mirror.",
        imported.groups, imported.tags, args.platform
    );
    for s in &imported.skipped {
        eprintln!("  {}", left_out(s));
    }
    eprintln!(
        "Next: tagsync plan --platform {} (it should have nothing to send).",
        args.platform
    );
    Ok(Success::Done)
}

fn left_out(s: &crate::model::tagfile::emit::Skipped) -> String {
    let what = match &s.tag {
        Some(t) => format!("tag {:?} of group {:?}", t, s.group),
        None => format!("group {:?}", s.group),
    };
    format!("left out: {what}: {}", s.reason)
}

/// The file to write, checked before anything is called or written.
fn destination(settings: &Settings, args: &ImportArgs) -> Result<Out, Failure> {
    let path = match &args.out {
        Some(p) if p.as_os_str() == "-" => return Ok(Out::Stdout),
        Some(p) => {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(UserError::at(
                    "--out",
                    format!(
                        "cannot write {}: the directory {} does not exist",
                        p.display(),
                        dir.display()
                    ),
                )
                .hint("create the directory first, or choose another --out")
                .into());
            }
            p.clone()
        }
        None => default_file(&settings.tags, &args.platform),
    };
    if path.is_dir() {
        return Err(
            UserError::at("--out", format!("{} is a directory", path.display()))
                .hint(format!(
                    "name a file, e.g. {}",
                    path.join(format!("{}.yaml", args.platform)).display()
                ))
                .into(),
        );
    }
    if path.exists() && !args.force {
        return Err(UserError::new(format!(
            "{} exists; import writes a new file",
            path.display()
        ))
        .hint("pass --force to overwrite it, or --out FILE (`-` for standard output)")
        .into());
    }
    Ok(Out::File(path))
}

/// `NAME.yaml` in the `tags` directory; `tags` itself when it names a YAML file.
fn default_file(tags: &Path, platform: &str) -> PathBuf {
    let is_file = tags.is_file()
        || (!tags.exists() && tags.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    if is_file {
        tags.to_path_buf()
    } else {
        tags.join(format!("{platform}.yaml"))
    }
}

/// The other tag files, so that import leaves out what they declare: none on a fresh setup (no
/// `tags` yet, or no file in it). The file being overwritten is not one of them.
fn other_tag_files(settings: &Settings, out: &Out) -> Result<Desired, Failure> {
    let tags = &settings.tags;
    let empty = || tagfile::parse(&[], &settings.tag_context());
    let has_files = tags.is_file() || (tags.is_dir() && walk_has_yaml(tags));
    if !has_files {
        return Ok(empty()?);
    }
    let mut sources = settings::read_tag_sources(tags)?;
    if let Out::File(path) = out
        && let Ok(target) = path.canonicalize()
    {
        sources.retain(|s| Path::new(&s.name).canonicalize().ok().as_ref() != Some(&target));
    }
    Ok(tagfile::parse(&sources, &settings.tag_context())?)
}

fn walk_has_yaml(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_has_yaml(&p)
            } else {
                p.extension().is_some_and(|x| x == "yaml" || x == "yml")
            }
        })
    })
}

/// The `$schema` path from the written file's directory to `schema/tags.schema.json` in the
/// directory tagsync runs in (the repository root, where the configuration's paths start).
fn schema_path(out: &Out) -> String {
    const SCHEMA: &str = "schema/tags.schema.json";
    let dir = match out {
        // Most often redirected into config/tags/.
        Out::Stdout => return format!("../../{SCHEMA}"),
        Out::File(p) => p.parent().unwrap_or(Path::new("")),
    };
    if dir.is_absolute() {
        return match std::env::current_dir() {
            Ok(cwd) => match dir.strip_prefix(&cwd) {
                Ok(rel) => up(rel, SCHEMA),
                Err(_) => cwd.join(SCHEMA).display().to_string(),
            },
            Err(_) => SCHEMA.to_owned(),
        };
    }
    up(dir, SCHEMA)
}

fn up(rel: &Path, target: &str) -> String {
    let depth = rel
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    format!("{}{target}", "../".repeat(depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_path_climbs_out_of_the_file_directory() {
        let at = |p: &str| schema_path(&Out::File(PathBuf::from(p)));
        assert_eq!(
            at("config/tags/wecom.yaml"),
            "../../schema/tags.schema.json"
        );
        assert_eq!(at("./tags.yaml"), "schema/tags.schema.json");
        assert_eq!(at("tags.yaml"), "schema/tags.schema.json");
        assert_eq!(schema_path(&Out::Stdout), "../../schema/tags.schema.json");
    }

    #[test]
    fn the_default_file_is_named_after_the_platform() {
        assert_eq!(
            default_file(Path::new("/nonexistent/tags"), "wecom-hq"),
            Path::new("/nonexistent/tags/wecom-hq.yaml")
        );
        assert_eq!(
            default_file(Path::new("/nonexistent/tags.yaml"), "wecom-hq"),
            Path::new("/nonexistent/tags.yaml")
        );
    }
}
