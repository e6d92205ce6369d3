//! The configuration loader: in process, and `tagsync validate` with arbitrary `TAGSYNC_…`
//! variables.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::seeds::*;
use super::tag_files::check_located;
use super::*;

/// `settings::load_str`: `Ok` or diagnostics located in the text, or naming a `TAGSYNC_` variable
/// of this process's environment (line 0).
pub(super) fn check_config_bytes(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let name = "fuzz.yaml";
    let Ok(text) = String::from_utf8(bytes) else {
        // Bytes that are not UTF-8 stop at `settings::load`'s read, covered for tag files above.
        return Ok(());
    };
    let (text, result) = guarded("settings::load_str", move || {
        let r = tagsync::settings::load_str(name, &text);
        (text, r.err())
    })?;
    let Some(diags) = result else {
        return Ok(());
    };
    let (in_file, from_env): (Vec<_>, Vec<_>) =
        diags.iter().cloned().partition(|d| d.origin.line != 0);
    for d in from_env {
        prop_assert!(
            d.origin.file.to_ascii_uppercase().contains("TAGSYNC_"),
            "an error outside the file names no variable: {}",
            d
        );
    }
    check_located(name, text.as_bytes(), &in_file)
}

#[test]
fn configurations_never_panic_and_every_error_is_located() {
    let seeds = config_seeds();
    proptest!(config(cases()), |(bytes in fuzzed(seeds.clone()))| {
        check_config_bytes(bytes)?;
    });
}

/// Keys a user sets in the environment: real ones, nested ones, misspelt and odd ones.
fn env_key() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "TAGSYNC_TAGS",
        "TAGSYNC_MAX_DELETES",
        "TAGSYNC_PRUNE",
        "TAGSYNC_SCHEDULE",
        "TAGSYNC_LISTEN",
        "TAGSYNC_DATABASE_URL",
        "TAGSYNC_HTTP_TOKEN_ENV",
        "TAGSYNC_HTTP_TOKEN_FILE",
        "TAGSYNC_PLATFORMS",
        "TAGSYNC_PLATFORMS__JUZI",
        "TAGSYNC_PLATFORMS__JUZI__MODE",
        "TAGSYNC_PLATFORMS__JUZI__KIND",
        "TAGSYNC_PLATFORMS__JUZI__BASE_URL",
        "TAGSYNC_PLATFORMS__JUZI__SECRET_ENV",
        "TAGSYNC_PLATFORMS__JUZI__SECRET_FILE",
        "TAGSYNC_PLATFORMS__JUZI__RATE_LIMIT__PER_SECOND",
        "TAGSYNC_PLATFORMS__JUZI__RATE_LIMIT",
        "TAGSYNC_PLATFORMS__JUZI__CORP_ID",
        "TAGSYNC_PLATFORMS__NEW__KIND",
        "TAGSYNC_PLATFORMS____KIND",
        "TAGSYNC___",
        "TAGSYNC_",
        "tagsync_max_deletes",
        "TAGSYNC_PRUNEE",
    ]);
    prop_oneof![
        4 => known.prop_map(String::from),
        1 => "TAGSYNC_[A-Za-z_]{0,24}",
        1 => "TAGSYNC_PLATFORMS__[a-z_-]{0,8}__[A-Za-z_]{0,12}",
    ]
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "0",
            "1",
            "-1",
            "true",
            "yes",
            "observe",
            "apply",
            "juzibot",
            "wecom",
            "https://x",
            "not a url",
            "[1, 2]",
            "{a: 1}",
            "{",
            "[",
            "\"",
            "99999999999999999999",
            "1e400",
            "0 * * * * *",
            "* * *",
            "TOKEN",
            "tags",
            "/",
            "~",
            "null",
        ])
        .prop_map(String::from),
        // Anything a shell can put in a variable (no NUL).
        "[^\u{0}]{0,40}",
    ]
}

/// `tagsync validate` with arbitrary `TAGSYNC_…` variables: exit 0, or exit 2 with every error
/// located in the file or naming a variable; never a panic (exit 101).
#[test]
fn environment_overrides_never_panic_and_every_error_is_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tags")).unwrap();
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tagsync.yaml"),
        "tags: tags\nmax_deletes: 20\nplatforms:\n  juzi:\n    kind: juzibot\n    \
         base_url: https://hub.juzibot.com\n    secret_env: JUZI_MAIN_TOKEN\n",
    )
    .unwrap();
    let dir_path = dir.path().to_path_buf();
    // Each case is a process: a tenth of the in-process count.
    let n = (cases() / 10).max(12);
    let vars = proptest::collection::vec((env_key(), env_value()), 1..5);
    proptest!(config(n), |(vars in vars)| {
        let mut cmd = assert_cmd::Command::cargo_bin("tagsync").unwrap();
        cmd.current_dir(&dir_path).args(["--config", "tagsync.yaml", "validate"]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().to_ascii_uppercase().starts_with("TAGSYNC_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("NO_COLOR", "1");
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        cmd.timeout(LIMIT);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(code == Some(0) || code == Some(2), "exit {:?} for {:?}\n{}", code, vars, stderr);
        if code == Some(2) {
            let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
            prop_assert!(!errors.is_empty(), "exit 2 without an error line: {}", stderr);
            for line in errors {
                let located = line.starts_with("error: tagsync.yaml:")
                    || line.starts_with("error: tags")
                    || line.to_ascii_uppercase().starts_with("ERROR: ENVIRONMENT VARIABLE TAGSYNC_");
                prop_assert!(located, "not located: {} (for {:?})", line, vars);
            }
        }
    });
}
