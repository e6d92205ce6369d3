//! Logs: to stderr (stdout carries plans and JSON), filtered by `TAGSYNC_LOG`, as text or as one
//! JSON object per line (`TAGSYNC_LOG_FORMAT=json`). Colour only on a terminal without `NO_COLOR`.
//!
//! A value tagsync cannot use is an input error naming the variable, never silently ignored: a
//! user who asked for debug logs and got none would chase the wrong problem.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::model::{Diagnostic, Diagnostics, Origin};

pub const LOG_VAR: &str = "TAGSYNC_LOG";
pub const FORMAT_VAR: &str = "TAGSYNC_LOG_FORMAT";

/// How logs are written, read from the environment.
#[derive(Debug)]
pub struct LogSettings {
    pub filter: EnvFilter,
    pub json: bool,
    pub colour: bool,
}

/// Warnings, and each retry of a platform call: waiting on a failing platform is never silent.
fn default_filter() -> EnvFilter {
    EnvFilter::new(format!(
        "warn,{}=info",
        crate::platforms::http::RETRY_TARGET
    ))
}

/// Reads the logging variables; `get` looks one up (the process environment in [`init`]).
pub fn settings(
    get: impl Fn(&str) -> Option<String>,
    stderr_is_terminal: bool,
) -> Result<LogSettings, Diagnostics> {
    let mut diags = Vec::new();
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let filter = match var(LOG_VAR) {
        None => default_filter(),
        Some(v) => match EnvFilter::builder().parse(&v) {
            Ok(f) => f,
            Err(e) => {
                diags.push(
                    Diagnostic::new(
                        Origin::new(format!("environment variable {LOG_VAR}"), 0, 0),
                        format!("{v:?} is not a log filter: {e}"),
                    )
                    .hint(format!(
                        "a level (error, warn, info, debug, trace), or targets with levels such as \
                         `tagsync=debug,warn`; unset {LOG_VAR} for warnings and retries"
                    )),
                );
                default_filter()
            }
        },
    };
    let json = match var(FORMAT_VAR).as_deref().map(str::trim) {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            diags.push(
                Diagnostic::new(
                    Origin::new(format!("environment variable {FORMAT_VAR}"), 0, 0),
                    format!("{other:?} is not a log format"),
                )
                .hint(format!(
                    "`json` for one JSON object per line, `text` (the default), or unset {FORMAT_VAR}"
                )),
            );
            false
        }
    };
    // https://no-color.org: set and not empty.
    let colour = stderr_is_terminal && get("NO_COLOR").is_none_or(|v| v.is_empty());
    match Diagnostics::from_vec(diags) {
        Some(d) => Err(d),
        None => Ok(LogSettings {
            filter,
            json,
            colour,
        }),
    }
}

/// Installs the process's log subscriber.
pub fn init() -> Result<(), Diagnostics> {
    let s = settings(|k| std::env::var(k).ok(), std::io::stderr().is_terminal())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(s.filter)
        .with_ansi(s.colour)
        .with_writer(std::io::stderr);
    if s.json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &[(&str, &str)], terminal: bool) -> Result<(bool, bool), String> {
        settings(
            |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            },
            terminal,
        )
        .map(|s| (s.json, s.colour))
        .map_err(|d| d.to_string())
    }

    #[test]
    fn unusable_values_are_errors_naming_the_variable() {
        assert_eq!(
            check(
                &[("TAGSYNC_LOG", "bogus=[["), ("TAGSYNC_LOG_FORMAT", "xml")],
                false
            )
            .unwrap_err(),
            "error: environment variable TAGSYNC_LOG: \"bogus=[[\" is not a log filter: error parsing level filter: expected one of \"off\", \"error\", \"warn\", \"info\", \"debug\", \"trace\", or a number 0-5\n  \
             hint: a level (error, warn, info, debug, trace), or targets with levels such as `tagsync=debug,warn`; unset TAGSYNC_LOG for warnings and retries\n\
             error: environment variable TAGSYNC_LOG_FORMAT: \"xml\" is not a log format\n  \
             hint: `json` for one JSON object per line, `text` (the default), or unset TAGSYNC_LOG_FORMAT"
        );
        assert_eq!(
            check(
                &[
                    ("TAGSYNC_LOG", "tagsync=debug,warn"),
                    ("TAGSYNC_LOG_FORMAT", "json")
                ],
                false
            ),
            Ok((true, false))
        );
        assert_eq!(
            check(
                &[("TAGSYNC_LOG", ""), ("TAGSYNC_LOG_FORMAT", "text")],
                false
            ),
            Ok((false, false))
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert_eq!(check(&[], true), Ok((false, true)));
        assert_eq!(check(&[], false), Ok((false, false)));
        assert_eq!(check(&[("NO_COLOR", "1")], true), Ok((false, false)));
        assert_eq!(check(&[("NO_COLOR", "")], true), Ok((false, true)));
    }
}
