//! The tag-file parser.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tagsync::model::tagfile::{Context, Source, parse};

use super::seeds::{fuzzed, tag_seeds};
use super::*;

pub(super) fn tag_context() -> Context {
    let names: std::collections::BTreeSet<String> = [
        "wecom-hq",
        "juzi-main",
        "juzi",
        "yzj",
        "dustess",
        "crm",
        "p",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    Context {
        default_platforms: names.iter().filter(|n| *n != "crm").cloned().collect(),
        known_platforms: names,
        prune_default: false,
    }
}

/// The tag-file half of `settings::tagdir` (bytes to text) and `tagfile::parse`: `Ok` or located
/// diagnostics, each inside the text.
pub(super) fn check_tag_bytes(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let name = "fuzz.yaml";
    let errors = guarded("tagfile::parse", move || match String::from_utf8(bytes) {
        Err(e) => {
            let d = tagsync::model::diag::not_utf8(name, e.as_bytes(), e.utf8_error());
            (e.into_bytes(), vec![d])
        }
        Ok(text) => {
            let sources = [Source {
                name: name.into(),
                text,
            }];
            let errors = match parse(&sources, &tag_context()) {
                Ok(desired) => {
                    // A valid parse is a usable one.
                    assert!(!desired.groups().is_empty(), "a Desired has groups");
                    Vec::new()
                }
                Err(diags) => diags.iter().cloned().collect(),
            };
            let [src] = sources;
            (src.text.into_bytes(), errors)
        }
    })?;
    let (bytes, diags) = errors;
    check_located(name, &bytes, &diags)
}

/// Each diagnostic names `file`, a line and column inside `bytes` (columns in characters; one past
/// the end of a line or of the text is where "unexpected end" points), a message and words only.
pub(super) fn check_located(
    file: &str,
    bytes: &[u8],
    diags: &[tagsync::model::Diagnostic],
) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    // Lines as YAML counts them: `\n`, `\r\n` and a lone `\r` all end one.
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diags {
        prop_assert_eq!(&d.origin.file, file, "{}", d);
        prop_assert!(!d.message.trim().is_empty(), "empty message: {:?}", d);
        prop_assert!(d.origin.line >= 1 && d.origin.column >= 1, "{}", d);
        let max_line = lines.len() + text.matches('\r').count() + 1;
        prop_assert!(
            (d.origin.line as usize) <= max_line,
            "line past the end ({} lines): {}",
            lines.len(),
            d
        );
    }
    Ok(())
}

#[test]
fn tag_files_never_panic_and_every_error_is_located() {
    let seeds = tag_seeds();
    proptest!(config(cases()), |(bytes in fuzzed(seeds.clone()))| {
        check_tag_bytes(bytes)?;
    });
}
