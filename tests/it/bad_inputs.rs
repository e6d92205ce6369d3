//! The input corpus: `tagsync validate` run as users run it, on every case under `tests/data/`.
//!
//! Each case is a directory: `tagsync.yaml` (its `tags:` is relative to the case directory, which is
//! the working directory), usually a `tags/` directory, optionally `env` (`KEY=VALUE` lines, `#`
//! comments, set for the child process), and `expected.txt`:
//! - `tests/data/bad/<case>`: exit code 2, and `expected.txt` is the exact stderr;
//! - `tests/data/good/<case>`: exit code 0, and `expected.txt` is the exact stdout.
//!
//! The child sees none of the `TAGSYNC_…` variables of the environment the tests run in, only the
//! case's own. To add a case, create its directory, name it in `cases!` below, then run
//! `UPDATE_EXPECT=1 cargo test --test it bad_inputs` to write its `expected.txt`, and read it: the
//! message must point at the exact line and column of the mistake, and the hint must help fix it.
//! The same command rewrites every expectation that changed; review the diff before committing.

use std::path::{Path, PathBuf};
use std::process::Output;

/// One `#[test]` per case, and the lists that `every_case_directory_is_listed` compares with the
/// directories on disk, so that no case is silently skipped.
macro_rules! cases {
    (bad: [$($bad:ident),* $(,)?], good: [$($good:ident),* $(,)?] $(,)?) => {
        mod bad {
            $(
                #[test]
                fn $bad() {
                    super::check_case(super::Expect::Invalid, stringify!($bad));
                }
            )*
        }
        mod good {
            $(
                #[test]
                fn $good() {
                    super::check_case(super::Expect::Valid, stringify!($good));
                }
            )*
        }
        const BAD: &[&str] = &[$(stringify!($bad)),*];
        const GOOD: &[&str] = &[$(stringify!($good)),*];
    };
}

cases! {
    bad: [
        // Tag files: YAML syntax.
        tag_malformed_yaml,
        tag_tab_indent,
        tag_duplicate_yaml_key,
        // Tag files: shapes and types.
        tag_top_level_list,
        tag_groups_null,
        tag_groups_empty_list,
        tag_order_string,
        tag_order_word_and_float,
        tag_tags_mapping,
        tag_name_list,
        tag_tag_number,
        tag_prune_string,
        tag_prune_yes,
        tag_unknown_field_group,
        tag_unknown_field_tag,
        tag_name_missing,
        tag_name_null,
        // Tag files: names, keys and orders.
        tag_name_31_chars,
        tag_name_spaces,
        tag_name_empty,
        tag_name_control_char,
        tag_key_invalid,
        tag_order_negative,
        tag_order_too_big,
        // Tag files: duplicates and identity.
        tag_group_twice_two_files,
        tag_duplicate_tag,
        tag_duplicate_group_key,
        tag_duplicate_tag_key,
        tag_group_name_twice_on_platform,
        tag_nfc_nfd_duplicate,
        tag_was_declared,
        tag_was_declared_tag,
        tag_was_current_name,
        tag_was_twice,
        tag_was_shared,
        // Tag files: groups, platforms, files.
        tag_empty_tags_list,
        tag_no_tags,
        tag_unknown_platform,
        tag_platform_twice,
        tag_platforms_empty,
        tag_empty_file,
        tag_only_comments,
        tag_dir_without_tag_files,
        tag_path_missing,
        tag_several_errors,
        // Configuration: YAML and keys.
        config_malformed_yaml,
        config_bad_indentation,
        config_duplicate_key,
        config_typo_max_delets,
        config_unknown_key_in_platform,
        config_unknown_key_in_rate_limit,
        // Configuration: values.
        config_unknown_kind,
        config_missing_kind,
        config_missing_base_url,
        config_bad_base_url,
        config_both_secrets,
        config_no_secret,
        config_secret_env_not_a_name,
        config_corp_id_on_juzibot,
        config_wecom_without_corp_id,
        config_yzj_without_app_id,
        config_bad_schedule,
        config_bad_platform_schedule,
        config_bad_listen,
        config_bad_database_url,
        config_rate_limit_zero,
        config_rate_limit_wrong_type,
        config_no_platforms,
        config_max_deletes_negative,
        config_prune_yes,
        config_bad_mode,
        config_bad_platform_name,
        config_several_errors,
        // Configuration: environment overrides.
        env_max_deletes_not_a_number,
        env_unknown_key,
        env_bad_nested_base_url,
    ],
    good: [
        name_30_chars_and_order_limits,
        defaults_and_yaml12_booleans,
        same_name_on_disjoint_platforms,
        env_overrides,
    ],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exit code 2; `expected.txt` is stderr.
    Invalid,
    /// Exit code 0; `expected.txt` is stdout.
    Valid,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Runs `tagsync --config tagsync.yaml validate` in `dir`, with no `TAGSYNC_…` variable but the
/// case's own.
fn run_validate(dir: &Path, config: &str, env: &[(String, String)]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("tagsync").expect("the tagsync binary is built");
    cmd.current_dir(dir).args(["--config", config, "validate"]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TAGSYNC_") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("tagsync runs")
}

/// The case's `env` file: `KEY=VALUE` lines; blank lines and `#` comments are skipped.
fn case_env(dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("env")) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: `{l}` is not KEY=VALUE", dir.display()));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn check_case(expect: Expect, name: &str) {
    let kind = match expect {
        Expect::Invalid => "bad",
        Expect::Valid => "good",
    };
    let dir = data_dir().join(kind).join(name);
    assert!(
        dir.join("tagsync.yaml").is_file(),
        "{} has no tagsync.yaml",
        dir.display()
    );
    let out = run_validate(&dir, "tagsync.yaml", &case_env(&dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (code, actual) = match expect {
        Expect::Invalid => (2, stderr.as_ref()),
        Expect::Valid => (0, stdout.as_ref()),
    };
    let expected_path = dir.join("expected.txt");
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if actual != expected && std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, actual.as_bytes()).expect("expected.txt is writable");
    } else {
        assert!(
            actual == expected,
            "{}: output differs from expected.txt (UPDATE_EXPECT=1 rewrites it; then read it)\n\
             --- expected\n{expected}--- actual\n{actual}--- the other stream\n{}",
            dir.display(),
            match expect {
                Expect::Invalid => &stdout,
                Expect::Valid => &stderr,
            }
        );
    }
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}: exit code\nstdout:\n{stdout}\nstderr:\n{stderr}",
        dir.display()
    );
}

/// Every directory under `tests/data/{bad,good}` is a case listed in `cases!`, and the reverse.
#[test]
fn every_case_directory_is_listed() {
    for (kind, listed) in [("bad", BAD), ("good", GOOD)] {
        let mut on_disk: Vec<String> = std::fs::read_dir(data_dir().join(kind))
            .unwrap_or_else(|e| panic!("tests/data/{kind}: {e}"))
            .map(|e| e.expect("a directory entry").file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        listed.sort();
        let missing: Vec<_> = on_disk.iter().filter(|d| !listed.contains(d)).collect();
        let stale: Vec<_> = listed.iter().filter(|d| !on_disk.contains(d)).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "tests/data/{kind}: directories not named in `cases!`: {missing:?}; \
             named but missing: {stale:?}"
        );
    }
    assert!(BAD.len() >= 40, "the corpus keeps at least 40 bad inputs");
}

/// The shipped examples validate, with no secret set: `validate` runs in CI and git hooks.
#[test]
fn examples_validate_without_secrets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = "config/tagsync.example.yaml";
    let mut cmd = assert_cmd::Command::cargo_bin("tagsync").expect("the tagsync binary is built");
    cmd.current_dir(root).args(["--config", config, "validate"]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TAGSYNC_") {
            cmd.env_remove(key);
        }
    }
    // Whatever the example's platforms read their secrets from is unset too.
    let text = std::fs::read_to_string(root.join(config)).expect("the example config");
    for line in text.lines() {
        if let Some(var) = line.trim().strip_prefix("secret_env:") {
            let var = var.split('#').next().unwrap_or("").trim();
            cmd.env_remove(var);
        }
    }
    let out = cmd.output().expect("tagsync runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the examples must validate\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.starts_with("valid: ") && stdout.contains("5 platforms"),
        "unexpected summary: {stdout}"
    );
    assert_eq!(
        stderr, "",
        "validate prints nothing on stderr when all is well"
    );
}

/// `docs/BAD_INPUTS.md`, the census of issue 14, names every case of the corpus.
#[test]
fn the_census_lists_every_case() {
    let census =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BAD_INPUTS.md"))
            .expect("docs/BAD_INPUTS.md");
    let missing: Vec<_> = BAD
        .iter()
        .filter(|case| !census.contains(&format!("| `{case}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/BAD_INPUTS.md does not list {missing:?}"
    );
}
