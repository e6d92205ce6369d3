//! One platform's settings: the keys every kind has, then its kind's own, checked against the
//! kind's [`Descriptor`](crate::platforms::Descriptor) and read into its typed `Config`.

use std::path::PathBuf;

use figment::value::{Dict, Value};
use serde::Deserialize;

use super::{
    Kind, KindSettings, Locator, Mode, PlatformSettings, RateLimit, SecretSource, check_cron,
};
use crate::model::diag::{Diagnostic, closest};

/// The keys of [`RawPlatform`], which every kind has.
pub(super) const COMMON_KEYS: &[&str] = &[
    "kind",
    "base_url",
    "mode",
    "rate_limit",
    "schedule",
    "secret_env",
    "secret_file",
    "timeout_seconds",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlatform {
    kind: Kind,
    base_url: Option<String>,
    #[serde(default)]
    mode: Mode,
    rate_limit: Option<RateLimit>,
    schedule: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    timeout_seconds: Option<u64>,
}

/// Moves figment's error path under `platforms.NAME`, where the value came from.
fn under_platform(name: &str, e: figment::Error) -> Vec<figment::Error> {
    e.into_iter()
        .map(|mut e| {
            e.path
                .splice(0..0, ["platforms".to_owned(), name.to_owned()]);
            e
        })
        .collect()
}

pub(super) fn validate_platform(
    name: &str,
    dict: Dict,
    at: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<PlatformSettings> {
    let before = diags.len();
    let (common, specific): (Dict, Dict) = dict
        .into_iter()
        .partition(|(k, _)| COMMON_KEYS.contains(&k.as_str()));
    let p: RawPlatform = match Value::from(common).deserialize() {
        Ok(p) => p,
        Err(e) => {
            diags.extend(under_platform(name, e).iter().map(|e| at.figment_error(e)));
            return None;
        }
    };
    let here = |k: &str| at.value(&["platforms", name, k]);
    let key_at = |k: &str| at.key(&["platforms", name, k]);
    if name.is_empty()
        || name.len() > 40
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        diags.push(
            Diagnostic::new(
                at.key(&["platforms", name]),
                format!("platform name {name:?} is not valid"),
            )
            .hint("use 1 to 40 ASCII letters, digits, `-` or `_`"),
        );
    }
    let base_url = match &p.base_url {
        None => {
            diags.push(
                Diagnostic::new(
                    at.key(&["platforms", name]),
                    format!("platform {name:?} has no `base_url`"),
                )
                .hint(format!(
                    "every platform needs its API's base URL; for {}: {}",
                    p.kind,
                    p.kind.descriptor().example_base_url
                )),
            );
            None
        }
        Some(u) => match reqwest::Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            _ => {
                let with_scheme = format!("https://{u}");
                let hint = if !u.contains("://") && reqwest::Url::parse(&with_scheme).is_ok() {
                    format!("add the scheme: {with_scheme}")
                } else {
                    format!("for {}: {}", p.kind, p.kind.descriptor().example_base_url)
                };
                diags.push(
                    Diagnostic::new(
                        here("base_url"),
                        format!("`base_url` {u:?} is not an http(s) URL"),
                    )
                    .hint(hint),
                );
                None
            }
        },
    };
    let secret = match (&p.secret_env, &p.secret_file) {
        (Some(var), None) => {
            let valid = !var.is_empty()
                && !var.starts_with(|c: char| c.is_ascii_digit())
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                diags.push(
                    Diagnostic::new(here("secret_env"), format!("`secret_env` {var:?} is not an environment variable name"))
                        .hint("name the variable that holds the secret, e.g. WECOM_HQ_SECRET; never the secret itself"),
                );
            }
            Some(SecretSource::Env(var.clone()))
        }
        (None, Some(path)) if !path.is_empty() => Some(SecretSource::File(PathBuf::from(path))),
        (Some(_), Some(_)) => {
            diags.push(
                Diagnostic::new(
                    key_at("secret_file"),
                    format!("platform {name:?} sets both `secret_env` and `secret_file`"),
                )
                .hint("keep one: a platform has exactly one secret"),
            );
            None
        }
        _ => {
            diags.push(
                Diagnostic::new(at.key(&["platforms", name]), format!("platform {name:?} has no secret"))
                    .hint("add `secret_env: VARIABLE` or `secret_file: /path`; secrets are never written in the config"),
            );
            None
        }
    };
    let config = kind_settings(name, p.kind, specific, at, diags);
    if let Some(rl) = p.rate_limit
        && rl.concurrency == Some(0)
    {
        diags.push(
            Diagnostic::new(
                here("rate_limit"),
                "`rate_limit.concurrency` must be at least 1",
            )
            .hint("1 sends one operation at a time; leave it out for the kind's default"),
        );
    }
    if let Some(rl) = p.rate_limit
        && (rl.per_second == 0 || rl.burst == 0)
    {
        diags.push(
            Diagnostic::new(
                here("rate_limit"),
                "`rate_limit` needs per_second and burst of at least 1",
            )
            .hint("e.g. { per_second: 10, burst: 10 }"),
        );
    }
    if let Some(s) = &p.schedule {
        check_cron(s, here("schedule"), diags);
    }
    if p.timeout_seconds == Some(0) {
        diags.push(Diagnostic::new(
            here("timeout_seconds"),
            "`timeout_seconds` must be at least 1",
        ));
    }
    if diags.len() > before {
        return None;
    }
    Some(PlatformSettings {
        name: name.to_owned(),
        kind: p.kind,
        base_url: base_url?,
        mode: p.mode,
        rate_limit: p.rate_limit,
        schedule: p.schedule,
        secret: secret?,
        config: config?,
        timeout: std::time::Duration::from_secs(p.timeout_seconds.unwrap_or(15)),
    })
}

/// The kind-specific settings of one platform: each key must be one of its kind's
/// [fields](crate::platforms::Descriptor::fields), each required one present.
fn kind_settings(
    name: &str,
    kind: Kind,
    specific: Dict,
    at: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<KindSettings> {
    let before = diags.len();
    let descriptor = kind.descriptor();
    for (key, value) in &specific {
        let path = ["platforms", name, key.as_str()];
        if descriptor.field(key).is_some() {
            if matches!(value, Value::String(_, s) if s.trim().is_empty()) {
                diags.push(Diagnostic::new(
                    at.value(&path),
                    format!("`{key}` is empty"),
                ));
            }
            continue;
        }
        let others: Vec<&str> = Kind::having(key).map(Kind::as_str).collect();
        if !others.is_empty() {
            let origin = at.key(&path);
            // Line 0: a variable set it.
            let fix = if origin.line == 0 {
                "unset it"
            } else {
                "remove it"
            };
            diags.push(
                Diagnostic::new(origin, format!("`{key}` does not apply to kind {kind}")).hint(
                    format!("{fix}; {key} is a setting of {}", others.join(", ")),
                ),
            );
            continue;
        }
        let accepted: Vec<&str> = COMMON_KEYS
            .iter()
            .copied()
            .chain(descriptor.fields.iter().map(|f| f.name))
            .collect();
        let hint = match closest(key, &accepted) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("accepted keys here: {}", accepted.join(", ")),
        };
        diags.push(
            Diagnostic::new(
                at.key(&path),
                format!("unknown key `platforms.{name}.{key}`"),
            )
            .hint(hint),
        );
    }
    // A kind set by a variable is what makes the field required: blame the variable.
    let kind_at = at.value(&["platforms", name, "kind"]);
    let needs_at = if kind_at.line == 0 {
        kind_at
    } else {
        at.key(&["platforms", name])
    };
    for field in descriptor.fields {
        if field.required && !specific.contains_key(field.name) {
            diags.push(
                Diagnostic::new(
                    needs_at.clone(),
                    format!("platform {name:?} of kind {kind} needs `{}`", field.name),
                )
                .hint(field.hint),
            );
        }
    }
    if diags.len() > before {
        return None;
    }
    match KindSettings::parse(kind, &Value::from(specific)) {
        Ok(config) => Some(config),
        Err(e) => {
            diags.extend(under_platform(name, *e).iter().map(|e| at.figment_error(e)));
            None
        }
    }
}
