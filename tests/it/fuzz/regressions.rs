//! Regressions: every finding of a campaign, as the smallest input that showed it.

use tagsync::model::tagfile::{Source, parse};

use super::config::check_config_bytes;
use super::tag_files::{check_tag_bytes, tag_context};

/// Campaign of 2026-12-02: a six-level alias bomb (each level refers 11 times to the one
/// before) in a configuration ran for seconds in the position tree and figment's values, which
/// accept any expansion, until serde-saphyr's node budget stopped it at 250,000. Now aliases
/// replay at most 20,000 events, and the error says so where the alias is used.
#[test]
fn an_alias_bomb_is_refused_at_its_alias() {
    let mut s = String::from("a0: &a0 [\"lol\"]\n");
    for l in 1..6 {
        let refs = vec![format!("*a{}", l - 1); 11].join(", ");
        s.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
    }
    s.push_str("groups:\n  - name: *a5\n    tags: *a5\n");
    let expected = "error: fuzz.yaml:5:25: aliases (`*name`) expand to more than 20000 values\n  \
                    hint: write the values out, or refer to each anchor (`&name`) fewer times";
    let config = tagsync::settings::load_str("fuzz.yaml", &s).unwrap_err();
    assert_eq!(config.to_string(), expected);
    check_config_bytes(s.clone().into_bytes()).unwrap();
    // The tag file's types refuse the list where a name belongs, before expanding it.
    check_tag_bytes(s.into_bytes()).unwrap();
}

/// Campaign of 2026-12-02: `{a: ` nested 50 times overflowed a 2 MiB thread (tokio's workers,
/// where SIGHUP re-reads the configuration) in the configuration's position tree, in a debug
/// build: about 40 KB of stack per level, and serde-saphyr allowed 64 levels. Now at most 16
/// levels, located.
#[test]
fn deep_nesting_is_refused_at_its_level_on_a_small_stack() {
    let config = format!("tags: tags\nplatforms: {}", "{a: ".repeat(50));
    let tags = format!("groups:\n  - name: a\n    tags: {}", "[".repeat(50));
    let (config_err, tags_err) = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let c = tagsync::settings::load_str("tagsync.yaml", &config).unwrap_err();
            let t = parse(
                &[Source {
                    name: "a.yaml".into(),
                    text: tags,
                }],
                &tag_context(),
            )
            .unwrap_err();
            (c.to_string(), t.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    let hint = "check the indentation and the brackets: the file's lists and mappings nest a few levels at most";
    assert_eq!(
        config_err,
        format!("error: tagsync.yaml:2:72: nested more than 16 levels deep\n  hint: {hint}")
    );
    assert!(
        tags_err.starts_with("error: a.yaml:3:"),
        "a tag file's nesting is refused where it starts: {tags_err}"
    );
}
