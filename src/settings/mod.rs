//! The daemon configuration (SPEC §2): a YAML file, overridden by `TAGSYNC_…` environment variables.
//!
//! Loading runs in three steps so that every mistake points at its place:
//! 1. serde-saphyr reads the file into a [`located::Node`] tree, which remembers the line and column
//!    of every key and value (and reports YAML syntax errors with theirs);
//! 2. figment merges the file with the environment (`TAGSYNC_MAX_DELETES=5`,
//!    `TAGSYNC_PLATFORMS__CRM__BASE_URL=…`: nested keys with `__`) and extracts the typed values,
//!    rejecting unknown keys and wrong types;
//! 3. semantic checks (platform kinds and their fields, URLs, cron, limits) run on the merged values.
//!
//! Errors from steps 2 and 3 are located through the tree, or name the environment variable that
//! supplied the value. Secrets are never read here: [`SecretSource`] only says where a secret lives,
//! and [`SecretSource::read`] is called by commands that talk to a platform, before their first call.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format};
use figment::value::Dict;
use serde::Deserialize;

use crate::model::diag::{Diagnostic, Diagnostics, Origin, closest, from_yaml_error, yaml_options};
use crate::model::tagfile;

pub use crate::platforms::{Kind, KindSettings};

mod located;
mod platform;
mod secret;
mod tagdir;

pub use located::Node;
use platform::validate_platform;
#[cfg(test)]
use platform::{COMMON_KEYS, RawPlatform};
pub use secret::{SecretError, SecretSource};
pub use tagdir::read_tag_sources;

/// The default location of the configuration file.
pub const DEFAULT_CONFIG: &str = "config/tagsync.yaml";
/// The environment variable prefix for overrides.
pub const ENV_PREFIX: &str = "TAGSYNC_";
/// `TAGSYNC_` variables that are not configuration keys (the CLI and the test suite read them).
/// `TAGSYNC_HTTP_TOKEN` is the conventional home of the HTTP token (`http_token_env`).
const ENV_RESERVED: &[&str] = &[
    "config",
    "log",
    "log_format",
    "test_database_url",
    "http_token",
];

/// Whether tagsync writes to a platform or only mirrors it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Observe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Observe => "observe",
        }
    }
}

/// Requests per second and burst for one platform's rate limiter, and how many independent
/// operations apply keeps in flight (the kind's default when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

/// One configured platform, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformSettings {
    pub name: String,
    pub kind: Kind,
    pub base_url: reqwest::Url,
    pub mode: Mode,
    pub rate_limit: Option<RateLimit>,
    pub schedule: Option<String>,
    pub secret: SecretSource,
    /// The settings only this platform's kind has (`config.kind() == kind`).
    pub config: KindSettings,
    /// Per-request timeout.
    pub timeout: std::time::Duration,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The file the settings came from, as given.
    pub path: PathBuf,
    pub database_url: String,
    pub tags: PathBuf,
    pub schedule: String,
    pub listen: SocketAddr,
    /// The bearer token guarding `/metrics` and `/` (`http_token_env` / `http_token_file`); the
    /// daemon reads it at start. Required when `listen` is not a loopback address.
    pub http_token: Option<SecretSource>,
    pub prune: bool,
    pub max_deletes: u32,
    /// How long a platform's writer lease outlives its holder (`lease_ttl_seconds`, default 120):
    /// with replicas, a replica that dies has its platforms taken over within this time.
    pub lease_ttl: std::time::Duration,
    pub platforms: BTreeMap<String, PlatformSettings>,
}

impl Settings {
    /// What tag-file validation needs to know from the configuration.
    pub fn tag_context(&self) -> tagfile::Context {
        tagfile::Context {
            known_platforms: self.platforms.keys().cloned().collect(),
            default_platforms: self
                .platforms
                .values()
                .filter(|p| p.kind.capabilities().writable())
                .map(|p| p.name.clone())
                .collect(),
            prune_default: self.prune,
        }
    }

    /// Selects platforms by name (all when `names` is empty); an unknown name is an input error.
    pub fn select(&self, names: &[String]) -> Result<Vec<&PlatformSettings>, SelectError> {
        if names.is_empty() {
            return Ok(self.platforms.values().collect());
        }
        let mut selected: Vec<&PlatformSettings> = Vec::with_capacity(names.len());
        for n in names {
            let p = self.platforms.get(n).ok_or_else(|| SelectError::Unknown {
                name: n.clone(),
                configured: self.platforms.keys().cloned().collect(),
            })?;
            // `--platform X --platform X` is X once.
            if !selected.iter().any(|s| s.name == p.name) {
                selected.push(p);
            }
        }
        Ok(selected)
    }
}

/// A platform named on the command line is not configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("unknown platform {name:?}; configured: {}", configured.join(", "))]
    Unknown {
        name: String,
        configured: Vec<String>,
    },
}

// The typed shape of the file and the environment, merged by figment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    tags: Option<String>,
    schedule: Option<String>,
    listen: Option<String>,
    http_token_env: Option<String>,
    http_token_file: Option<String>,
    #[serde(default)]
    prune: bool,
    max_deletes: Option<u32>,
    lease_ttl_seconds: Option<u64>,
    /// Split per platform into the keys every kind has ([`RawPlatform`]) and the kind's own
    /// ([`KindSettings`]), which can only be read once the kind is known.
    #[serde(default)]
    platforms: BTreeMap<String, Dict>,
}

/// Loads and validates the configuration at `path`, with `TAGSYNC_…` environment overrides.
pub fn load(path: &Path) -> Result<Settings, Diagnostics> {
    load_file(path, true)
}

/// [`load`] for commands that need no tag files (`import`, `status`): `tags` need not exist.
pub fn load_without_tags(path: &Path) -> Result<Settings, Diagnostics> {
    load_file(path, false)
}

fn load_file(path: &Path, check_paths: bool) -> Result<Settings, Diagnostics> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics::one(
            Diagnostic::new(
                Origin::file(&shown),
                format!(
                    "cannot read the configuration: {}",
                    crate::model::diag::io_reason(&e)
                ),
            )
            .hint(
                "pass --config PATH or set TAGSYNC_CONFIG; config/tagsync.example.yaml is a start",
            ),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostics::one(crate::model::diag::not_utf8(
            &shown,
            e.as_bytes(),
            e.utf8_error(),
        ))
    })?;
    load_text(&shown, &text, check_paths)
}

/// Validates configuration text reported as `file`, with the process environment as overrides.
///
/// Unlike [`load`], it does not look at the file system: `tags` need not exist.
pub fn load_str(file: &str, text: &str) -> Result<Settings, Diagnostics> {
    load_text(file, text, false)
}

fn load_text(file: &str, text: &str, check_paths: bool) -> Result<Settings, Diagnostics> {
    let tree: located::Node = if text.trim().is_empty() {
        located::Node::empty()
    } else {
        serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| Diagnostics::one(from_yaml_error(file, text, &e)))?
    };
    let env_vars: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        // figment matches the prefix in any case (`tagsync_max_deletes` counts), so blame does too.
        .filter(|k| {
            k.get(..ENV_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
                && !is_reserved(&k[ENV_PREFIX.len()..])
        })
        .collect();
    let locate = Locator {
        file,
        tree: &tree,
        env_vars: &env_vars,
    };
    let figment = Figment::new().merge(StrictYaml::string(text)).merge(
        Env::prefixed(ENV_PREFIX)
            .split("__")
            .filter(|k| !is_reserved(k.as_str())),
    );
    let raw: RawConfig = figment.extract().map_err(|e| {
        let all: Vec<Diagnostic> = e.into_iter().map(|e| locate.figment_error(&e)).collect();
        Diagnostics::from_vec(all).expect("figment errors are never empty")
    })?;
    validate(file, raw, &locate, check_paths)
}

/// serde-saphyr's figment provider with [`yaml_options`]: its own reads `Y`, `yes` and `on` as
/// booleans (YAML 1.1), so `secret_env: Y` would fail with a baffling "found bool true".
struct StrictYaml;

impl figment::providers::Format for StrictYaml {
    type Error = serde_saphyr::Error;
    const NAME: &'static str = "YAML";

    fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Self::Error> {
        serde_saphyr::from_str_with_options(text, yaml_options())
    }
}

fn is_reserved(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ENV_RESERVED.contains(&key.as_str()) || key.starts_with("test_")
}

/// Finds where a configuration key came from: a line and column in the file, or an env variable.
struct Locator<'a> {
    file: &'a str,
    tree: &'a located::Node,
    /// The `TAGSYNC_…` variables that override keys.
    env_vars: &'a [String],
}

impl Locator<'_> {
    fn env_var(&self, path: &[&str]) -> Option<String> {
        let wanted = format!("{ENV_PREFIX}{}", path.join("__")).to_ascii_uppercase();
        let exact = self
            .env_vars
            .iter()
            .find(|k| k.to_ascii_uppercase() == wanted);
        if exact.is_some() || path.is_empty() || self.tree.contains(path) {
            return exact.cloned();
        }
        // A key the file lacks, brought in by a variable that sets a key below it.
        let below = format!("{wanted}__");
        self.env_vars
            .iter()
            .find(|k| k.to_ascii_uppercase().starts_with(&below))
            .cloned()
    }

    /// The value at `path`, or the nearest ancestor the file has.
    fn value(&self, path: &[&str]) -> Origin {
        if let Some(var) = self.env_var(path) {
            return Origin::new(format!("environment variable {var}"), 0, 0);
        }
        let (line, column) = self.tree.value_position(path);
        Origin::new(self.file, line, column)
    }

    /// The key at `path` itself (for unknown and misplaced keys).
    fn key(&self, path: &[&str]) -> Origin {
        if let Some(var) = self.env_var(path) {
            return Origin::new(format!("environment variable {var}"), 0, 0);
        }
        let (line, column) = self.tree.key_position(path);
        Origin::new(self.file, line, column)
    }

    fn figment_error(&self, e: &figment::Error) -> Diagnostic {
        use figment::error::Kind as K;
        let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
        let dotted = e.path.join(".");
        match &e.kind {
            K::UnknownField(field, expected) => {
                // figment puts the unknown key at the end of the path already.
                let mut full = path.clone();
                if full.last().copied() != Some(field.as_ref()) {
                    full.push(field);
                }
                let hint = match closest(field, expected) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("accepted keys here: {}", expected.join(", ")),
                };
                Diagnostic::new(self.key(&full), format!("unknown key `{}`", full.join(".")))
                    .hint(hint)
            }
            K::MissingField(field) => {
                let mut full = path.clone();
                if full.last().copied() != Some(field.as_ref()) {
                    full.push(field);
                }
                let origin = self.key(&path);
                let hint = if origin.line == 0 && path.len() == 2 && path[0] == "platforms" {
                    format!(
                        "the file has no platform {:?}, so the variable declares a new one; a \
                         variable cannot name a platform whose name has `-`: set its keys in the file",
                        path[1]
                    )
                } else if field.as_ref() == "kind" {
                    format!("add `kind:`, one of {}", Kind::NAMES.join(", "))
                } else {
                    format!("add `{field}:`; see config/tagsync.example.yaml")
                };
                Diagnostic::new(origin, format!("missing key `{}`", full.join("."))).hint(hint)
            }
            K::InvalidType(actual, expected) => {
                let origin = self.value(&path);
                let hint = type_hint(&origin, expected);
                Diagnostic::new(
                    origin,
                    format!(
                        "`{dotted}` has the wrong type: found {actual}, expected {}",
                        plain_expected(expected)
                    ),
                )
                .hint(hint)
            }
            K::InvalidValue(actual, expected) => {
                let origin = self.value(&path);
                // The message says what is expected; only a variable needs more.
                let hint = (origin.line == 0).then(|| type_hint(&origin, expected));
                let d = Diagnostic::new(
                    origin,
                    format!(
                        "`{dotted}` has an invalid value: found {actual}, expected {}",
                        plain_expected(expected)
                    ),
                );
                match hint {
                    Some(h) => d.hint(h),
                    None => d,
                }
            }
            K::UnknownVariant(v, expected) => {
                Diagnostic::new(self.value(&path), format!("`{dotted}` cannot be {v:?}"))
                    .hint(format!("one of: {}", expected.join(", ")))
            }
            other => Diagnostic::new(self.value(&path), format!("`{dotted}`: {other}")),
        }
    }
}

/// serde's name for an expected type ("u32", "struct RateLimit"), as a config writer knows it.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" => format!(
            "a whole number from 0 to {}",
            match expected {
                "u8" => u64::from(u8::MAX),
                "u16" => u64::from(u16::MAX),
                _ => u64::from(u32::MAX),
            }
        ),
        "u64" => "a whole number (0 or more)".into(),
        "a map" => "a mapping (`key: value` lines)".into(),
        e if e.starts_with("struct ") => "a mapping (`key: value` lines)".into(),
        e => e.into(),
    }
}

fn type_hint(origin: &Origin, expected: &str) -> String {
    // Line 0: the value came from an environment variable, where nothing is quoted.
    if origin.line == 0 {
        return format!(
            "set the variable to {}, or unset it",
            plain_expected(expected)
        );
    }
    let hint = match expected {
        "a boolean" => "write `true` or `false` (unquoted)",
        "a string" => "quote the value if it looks like a number or a boolean",
        e if e.starts_with('u') => "write a number without quotes",
        "struct RateLimit" => "write it as { per_second: 10, burst: 10 }",
        _ => "see config/tagsync.example.yaml",
    };
    hint.into()
}

fn validate(
    file: &str,
    mut raw: RawConfig,
    at: &Locator,
    check_paths: bool,
) -> Result<Settings, Diagnostics> {
    let mut diags = Vec::new();
    let tags = PathBuf::from(raw.tags.as_deref().unwrap_or("config/tags"));
    // Checked here rather than when the tag files are read, so that the error points at the
    // setting to fix.
    if check_paths && !tags.exists() {
        let message = match &raw.tags {
            Some(t) => format!("cannot read the tag files {t:?}: no such file"),
            None => "cannot read the tag files \"config/tags\" (the default: `tags` is not set): no such file".into(),
        };
        diags.push(Diagnostic::new(at.value(&["tags"]), message).hint(
            "name a tag file or a directory of them; a relative path is taken from the \
             directory tagsync runs in, not from the configuration file's",
        ));
    }
    let database_url = raw
        .database_url
        .unwrap_or_else(|| "sqlite://tagsync.db?mode=rwc".into());
    let db_scheme = database_url.split(':').next().unwrap_or("");
    if !matches!(db_scheme, "sqlite" | "postgres" | "postgresql") {
        diags.push(
            Diagnostic::new(
                at.value(&["database_url"]),
                "`database_url` must start with sqlite: or postgres:",
            )
            .hint("e.g. sqlite://tagsync.db?mode=rwc or postgres://tagsync@localhost/tagsync"),
        );
    }
    let schedule = raw.schedule.unwrap_or_else(|| "0 */5 * * * *".into());
    check_cron(&schedule, at.value(&["schedule"]), &mut diags);
    let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:9187".into());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            diags.push(
                Diagnostic::new(
                    at.value(&["listen"]),
                    format!("`listen` {listen_text:?} is not an address with a port"),
                )
                .hint("e.g. 127.0.0.1:9187"),
            );
            SocketAddr::from(([127, 0, 0, 1], 9187))
        }
    };
    let http_token = http_token(
        raw.http_token_env.take(),
        raw.http_token_file.take(),
        listen,
        at,
        &mut diags,
    );
    if raw.platforms.is_empty() {
        diags.push(
            Diagnostic::new(at.key(&["platforms"]), "no platform is configured")
                .hint("add at least one entry under `platforms:`; see config/tagsync.example.yaml"),
        );
    }
    let lease_ttl_seconds = raw.lease_ttl_seconds.unwrap_or(120);
    if !(LEASE_TTL_RANGE).contains(&lease_ttl_seconds) {
        diags.push(
            Diagnostic::new(
                at.value(&["lease_ttl_seconds"]),
                format!(
                    "`lease_ttl_seconds` {lease_ttl_seconds} is out of range {}..={}",
                    LEASE_TTL_RANGE.start(),
                    LEASE_TTL_RANGE.end()
                ),
            )
            .hint("the lease is renewed every third of it; 120 is the default"),
        );
    }
    let mut platforms = BTreeMap::new();
    for (name, dict) in raw.platforms {
        if let Some(ps) = validate_platform(&name, dict, at, &mut diags) {
            platforms.insert(name, ps);
        }
    }
    if let Some(d) = Diagnostics::from_vec(diags) {
        return Err(d);
    }
    Ok(Settings {
        path: PathBuf::from(file),
        database_url,
        tags,
        schedule,
        listen,
        http_token,
        prune: raw.prune,
        max_deletes: raw.max_deletes.unwrap_or(20),
        lease_ttl: std::time::Duration::from_secs(lease_ttl_seconds),
        platforms,
    })
}

/// Allowed writer-lease lifetimes, in seconds: renewed every third, it must outlast a slow
/// statement, and a dead replica should not hold its platforms for more than an hour.
const LEASE_TTL_RANGE: std::ops::RangeInclusive<u64> = 3..=3600;

/// Where the HTTP bearer token lives; off loopback, `/metrics` and the status page need one.
fn http_token(
    env: Option<String>,
    file: Option<String>,
    listen: SocketAddr,
    at: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<SecretSource> {
    match (env, file) {
        (Some(_), Some(_)) => {
            diags.push(
                Diagnostic::new(
                    at.key(&["http_token_file"]),
                    "both `http_token_env` and `http_token_file` are set",
                )
                .hint("keep one"),
            );
            None
        }
        (Some(var), None) => Some(SecretSource::Env(var)),
        (None, Some(path)) => Some(SecretSource::File(PathBuf::from(path))),
        (None, None) if !listen.ip().is_loopback() => {
            diags.push(
                Diagnostic::new(
                    at.value(&["listen"]),
                    format!(
                        "`listen` {listen} is not a loopback address, and no HTTP token is set"
                    ),
                )
                .hint(
                    "set `http_token_env: VARIABLE` or `http_token_file: /path`: off loopback, \
                     /metrics and the status page need `Authorization: Bearer <token>`",
                ),
            );
            None
        }
        (None, None) => None,
    }
}

fn check_cron(expr: &str, origin: Origin, diags: &mut Vec<Diagnostic>) {
    // The same dialect as tokio-cron-scheduler, which runs the schedule: seconds first, and a
    // day of month together with a day of week must both match.
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build();
    match parser.parse(expr) {
        // Any fixed start will do: no field of the dialect names a year.
        Ok(cron)
            if cron
                .find_next_occurrence(&chrono::DateTime::<chrono::Utc>::UNIX_EPOCH, false)
                .is_err() =>
        {
            diags.push(
                Diagnostic::new(origin, format!("schedule {expr:?} never fires"))
                    .hint("check the day of month against the month (there is no February 30th)"),
            );
        }
        Ok(_) => {}
        Err(e) => {
            diags.push(
            Diagnostic::new(
                origin,
                format!("schedule {expr:?} is not a valid cron expression: {e}"),
            )
            .hint(
                "six fields with seconds first, in UTC: \"0 */5 * * * *\" runs every five minutes",
            ),
        );
        }
    }
}

#[cfg(test)]
mod tests;
