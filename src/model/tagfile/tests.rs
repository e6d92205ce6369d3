//! Tag-file validation, one rule per test, through [`check`]: tag files in, the validated groups or
//! every diagnostic out. `UPDATE_EXPECT=1 cargo test --lib model::` rewrites the expectations;
//! read the diff.

use expect_test::{Expect, expect};

use super::*;
use crate::settings;

/// The configuration the tests validate against, unless the files include a `tagsync.yaml`:
/// two writable platforms and the read-only `wechat_crm` kind, which groups skip by default.
const CONFIG: &str = "
platforms:
  wecom-hq:
    kind: wecom
    base_url: https://qyapi.weixin.qq.com
    corp_id: ww0123456789abcdef
    secret_env: WECOM_HQ_SECRET
  juzi-main:
    kind: juzibot
    base_url: https://hub.juzibot.com
    secret_env: JUZI_MAIN_TOKEN
  crm:
    kind: wechat_crm
    base_url: https://crm.example.com/api
    secret_env: CRM_ACCESS_TOKEN
";

/// Validates `files` (name, text) and renders the outcome: each group and tag with every resolved
/// field, or the diagnostics as `tagsync validate` prints them. A file named `tagsync.yaml` is the
/// configuration instead of [`CONFIG`], so that its defaults (platforms, `prune`) come into play.
fn check(files: &[(&str, &str)], expect: Expect) {
    let config = files
        .iter()
        .find(|(n, _)| *n == "tagsync.yaml")
        .map_or(CONFIG, |(_, t)| t);
    let ctx = settings::load_str("tagsync.yaml", config)
        .expect("the test configuration is valid")
        .tag_context();
    let sources: Vec<Source> = files
        .iter()
        .filter(|(n, _)| *n != "tagsync.yaml")
        .map(|(n, t)| Source {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect();
    let actual = match parse(&sources, &ctx) {
        Ok(d) => render(&d),
        Err(e) => format!("{e}\n"),
    };
    expect.assert_eq(&actual);
}

fn render(d: &Desired) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    let order = |o: Option<u32>| o.map_or("-".to_string(), |o| o.to_string());
    let mut out = String::new();
    for g in d.groups() {
        let platforms: Vec<String> = g.platforms.iter().cloned().collect();
        out.push_str(&format!(
            "{} key={} was={} order={} prune={} platforms={} @{}\n",
            g.name,
            g.key,
            list(&g.was),
            order(g.order),
            g.prune,
            list(&platforms),
            g.origin
        ));
        for t in &g.tags {
            out.push_str(&format!(
                "  {} key={} was={} order={} @{}\n",
                t.name,
                t.key,
                list(&t.was),
                order(t.order),
                t.origin
            ));
        }
    }
    out
}

#[test]
fn bare_tags_take_every_default() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - name: 客户来源\n    tags:\n      - 官网咨询\n      - 线下活动\n",
        )],
        expect![[r#"
            客户来源 key=客户来源 was=- order=- prune=false platforms=juzi-main,wecom-hq @a.yaml:2:5
              官网咨询 key=官网咨询 was=- order=- @a.yaml:4:9
              线下活动 key=线下活动 was=- order=- @a.yaml:5:9
        "#]],
    );
}

#[test]
fn every_field_written_out() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: 客户级别
    key: customer-level
    was: [客户等级, 客户分级]
    order: 100
    platforms: [crm, juzi-main]
    prune: true
    tags:
      - name: 重要客户
        key: vip
        was: [大客户]
        order: 4294967295
      - name: 普通客户
        order: 0
",
        )],
        expect![[r#"
            客户级别 key=customer-level was=客户等级,客户分级 order=100 prune=true platforms=crm,juzi-main @a.yaml:3:5
              重要客户 key=vip was=大客户 order=4294967295 @a.yaml:10:15
              普通客户 key=普通客户 was=- order=0 @a.yaml:14:15
        "#]],
    );
}

#[test]
fn prune_defaults_to_the_config_and_a_group_may_say_otherwise() {
    let config = format!("prune: true\n{CONFIG}");
    check(
        &[
            ("tagsync.yaml", &config),
            (
                "a.yaml",
                "groups:\n  - name: a\n    tags: [x]\n  - name: b\n    prune: false\n    tags: [y]\n",
            ),
        ],
        expect![[r#"
            a key=a was=- order=- prune=true platforms=juzi-main,wecom-hq @a.yaml:2:5
              x key=x was=- order=- @a.yaml:3:12
            b key=b was=- order=- prune=false platforms=juzi-main,wecom-hq @a.yaml:4:5
              y key=y was=- order=- @a.yaml:6:12
        "#]],
    );
}

#[test]
fn default_platforms_are_the_writable_ones_including_observed() {
    // `mode: observe` does not take a platform out of the default: its drift is still reported.
    // Only the `wechat_crm` kind, which cannot write, is left out.
    let config = "
platforms:
  dustess:
    kind: dustess
    base_url: https://qw-openapi-tx.dustess.com
    mode: observe
    secret_env: DUSTESS_ACCESS_TOKEN
  yzj:
    kind: yzj
    base_url: https://oapi-yzj.miaokol.com
    app_id: 44n2AsVZArKefJbuaE
    secret_env: YZJ_ACCESS_TOKEN
  crm:
    kind: wechat_crm
    base_url: https://crm.example.com/api
    secret_env: CRM_ACCESS_TOKEN
";
    check(
        &[
            ("tagsync.yaml", config),
            (
                "a.yaml",
                "groups:\n  - name: a\n    tags: [x]\n  - name: b\n    platforms: [crm]\n    tags: [y]\n",
            ),
        ],
        expect![[r#"
            a key=a was=- order=- prune=false platforms=dustess,yzj @a.yaml:2:5
              x key=x was=- order=- @a.yaml:3:12
            b key=b was=- order=- prune=false platforms=crm @a.yaml:4:5
              y key=y was=- order=- @a.yaml:6:12
        "#]],
    );
}

#[test]
fn several_files_merge_in_the_order_given() {
    check(
        &[
            ("10-a.yaml", "groups:\n  - name: 甲\n    tags: [一]\n"),
            (
                "20-b.yaml",
                "groups:\n  - name: 乙\n    tags: [二]\n  - name: 丙\n    tags: [三]\n",
            ),
        ],
        expect![[r#"
            甲 key=甲 was=- order=- prune=false platforms=juzi-main,wecom-hq @10-a.yaml:2:5
              一 key=一 was=- order=- @10-a.yaml:3:12
            乙 key=乙 was=- order=- prune=false platforms=juzi-main,wecom-hq @20-b.yaml:2:5
              二 key=二 was=- order=- @20-b.yaml:3:12
            丙 key=丙 was=- order=- prune=false platforms=juzi-main,wecom-hq @20-b.yaml:4:5
              三 key=三 was=- order=- @20-b.yaml:5:12
        "#]],
    );
}

#[test]
fn a_group_declared_in_two_files_names_both_places() {
    check(
        &[
            (
                "a.yaml",
                "groups:\n  - name: 客户级别\n    tags: [重要客户]\n",
            ),
            (
                "b.yaml",
                "groups:\n  - name: 其他\n    tags: [x]\n  - name: 客户级别\n    tags: [普通客户]\n",
            ),
        ],
        expect![[r#"
            error: b.yaml:4:5: group "客户级别" is declared twice; first at a.yaml:2:5
              hint: declare each group once; several files are merged into one set
        "#]],
    );
}

#[test]
fn a_broken_file_does_not_hide_the_errors_of_the_others() {
    check(
        &[
            ("a.yaml", "groups:\n  - name: 客户\n    tags: [a\n"),
            ("b.yaml", "groups:\n  - name: \" 来源\"\n    tags: [b]\n"),
        ],
        expect![[r#"
            error: a.yaml:3:11: unclosed bracket '['
              hint: close it; a quote or bracket opened here is never closed
            error: b.yaml:2:11: group name " 来源" has leading or trailing spaces
              hint: names are compared exactly; remove the spaces
        "#]],
    );
}

#[test]
fn names_count_characters_not_bytes() {
    let thirty = "一二三四五六七八九十".repeat(3);
    // 30 characters are 90 bytes in UTF-8: accepted.
    check(
        &[(
            "a.yaml",
            &format!("groups:\n  - name: {thirty}\n    tags: [{thirty}]\n"),
        )],
        expect![[r#"
            一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十 key=一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十 was=- order=- prune=false platforms=juzi-main,wecom-hq @a.yaml:2:5
              一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十 key=一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十 was=- order=- @a.yaml:3:12
        "#]],
    );
    check(
        &[(
            "a.yaml",
            &format!("groups:\n  - name: {thirty}多\n    tags: [a, {thirty}多]\n"),
        )],
        expect![[r#"
            error: a.yaml:2:11: group name "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十多" is 31 characters long; the limit is 30
              hint: every platform rejects longer names; shorten it
            error: a.yaml:3:15: tag name "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十多" is 31 characters long; the limit is 30
              hint: every platform rejects longer names; shorten it
        "#]],
    );
}

#[test]
fn names_are_nfc_normalised_before_counting_and_comparing() {
    // 30 × "é" written decomposed (e + U+0301) is 60 code points, but 30 characters once NFC.
    let decomposed = "e\u{301}".repeat(30);
    let sources = [Source {
        name: "a.yaml".into(),
        text: format!("groups:\n  - name: \"{decomposed}\"\n    tags: [\"cafe\u{301}\"]\n"),
    }];
    let desired = parse(&sources, &Context::default()).expect("valid once normalised");
    let g = &desired.groups()[0];
    assert_eq!(g.name, "\u{e9}".repeat(30));
    assert_eq!(g.tags[0].name, "caf\u{e9}");
    assert_eq!(
        g.tags[0].key, "caf\u{e9}",
        "the default key is the NFC name"
    );

    check(
        &[(
            "a.yaml",
            "groups:\n  - name: 咖啡\n    tags: [\"caf\u{e9}\", \"cafe\u{301}\"]\n",
        )],
        expect![[r#"
            error: a.yaml:3:20: tag "café" is declared twice in group "咖啡"; first at a.yaml:3:12
              hint: a group's tags must have distinct names; remove one (names are compared after Unicode NFC normalisation, so composed and decomposed accents are the same name)
        "#]],
    );
    check(
        &[
            (
                "a.yaml",
                "groups:\n  - name: \"caf\u{e9}\"\n    tags: [x]\n",
            ),
            (
                "b.yaml",
                "groups:\n  - name: \"cafe\u{301}\"\n    tags: [y]\n",
            ),
        ],
        expect![[r#"
            error: b.yaml:2:5: group "café" is declared twice; first at a.yaml:2:5
              hint: declare each group once; several files are merged into one set (names are compared after Unicode NFC normalisation, so composed and decomposed accents are the same name)
        "#]],
    );
}

#[test]
fn names_are_not_trimmed_or_case_folded() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - name: \" a\"\n    tags: [\"b \", \"c\u{3000}\", \"\", \"x\\ty\", VIP, vip]\n",
        )],
        expect![[r#"
            error: a.yaml:2:11: group name " a" has leading or trailing spaces
              hint: names are compared exactly; remove the spaces
            error: a.yaml:3:12: tag name "b " has leading or trailing spaces
              hint: names are compared exactly; remove the spaces
            error: a.yaml:3:18: tag name "c\u{3000}" has leading or trailing spaces
              hint: names are compared exactly; remove the spaces
            error: a.yaml:3:24: tag name is empty
              hint: give it 1 to 30 characters
            error: a.yaml:3:28: tag name "x\ty" contains a control character
              hint: remove the tab or line break
        "#]],
    );
}

#[test]
fn a_missing_name_is_reported_where_the_group_or_tag_starts() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - key: k\n    tags:\n      - key: t\n  - name:\n    tags: [x]\n",
        )],
        expect![[r#"
            error: a.yaml:2:5: group has no name
              hint: write the group's name after `name:`, 1 to 30 characters
            error: a.yaml:4:9: tag has no name
              hint: write the tag's name after `name:`, 1 to 30 characters
            error: a.yaml:5:5: group has no name
              hint: write the group's name after `name:`, 1 to 30 characters
        "#]],
    );
}

#[test]
fn keys_must_be_usable() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - name: a\n    key: \"\"\n    tags:\n      - name: b\n        key: \"b \"\n",
        )],
        expect![[r#"
            error: a.yaml:3:10: key "" is not valid
              hint: a key is 1 to 64 characters with no leading or trailing spaces
            error: a.yaml:6:14: key "b " is not valid
              hint: a key is 1 to 64 characters with no leading or trailing spaces
        "#]],
    );
}

#[test]
fn order_is_an_unsigned_32_bit_integer() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    order: -1
    tags:
      - name: b
        order: 4294967296
      - name: c
        order: 4294967295
      - name: d
        order: \"5\"
      - name: e
        order: 1.5
      - name: f
        order: 99999999999999999999999
",
        )],
        expect![[r#"
            error: a.yaml:4:12: order -1 is out of range 0..=4294967295
              hint: platforms store the order as an unsigned 32-bit number; bigger sorts first
            error: a.yaml:7:16: order 4294967296 is out of range 0..=4294967295
              hint: platforms store the order as an unsigned 32-bit number; bigger sorts first
            error: a.yaml:11:16: wrong type: `order` must be an integer, found the string "5"
              hint: write a number from 0 to 4294967295 without quotes
            error: a.yaml:13:16: wrong type: `order` must be an integer, found the number 1.5
              hint: write a number from 0 to 4294967295 without quotes
            error: a.yaml:15:16: wrong type: `order` must be an integer, found the number 100000000000000000000000
              hint: write a number from 0 to 4294967295 without quotes
        "#]],
    );
}

#[test]
fn prune_is_a_yaml_1_2_boolean() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    prune: yes
    tags: [x]
  - name: b
    prune: \"true\"
    tags: [x]
  - name: c
    prune: 1
    tags: [x]
",
        )],
        expect![[r#"
            error: a.yaml:4:12: wrong type: `prune` must be true or false, found the string "yes"
              hint: write `true` or `false` without quotes (yes/no/on/off are not booleans)
            error: a.yaml:7:12: wrong type: `prune` must be true or false, found the string "true"
              hint: write `true` or `false` without quotes (yes/no/on/off are not booleans)
            error: a.yaml:10:12: wrong type: `prune` must be true or false, found the integer 1
              hint: write `true` or `false` without quotes (yes/no/on/off are not booleans)
        "#]],
    );
}

#[test]
fn wrong_shapes_stop_the_file_at_the_value() {
    check(
        &[
            ("a.yaml", "groups:\n  - name: [a, b]\n    tags: [x]\n"),
            ("b.yaml", "groups:\n  - name: b\n    tags:\n      x: 1\n"),
            ("c.yaml", "groups:\n  - name: c\n    tags: [x, 2024]\n"),
            ("d.yaml", "- name: d\n  tags: [x]\n"),
            ("e.yaml", "groups:\n"),
        ],
        expect![[r#"
            error: a.yaml:2:11: wrong type: expected a single value (text) here, found a list or a mapping
              hint: check the value's type against the reference in README.md
            error: b.yaml:4:7: wrong type: expected a list here
              hint: write a list as `[a, b]` or as lines starting with `- `
            error: c.yaml:3:15: wrong type: found integer `2024`, expected a tag name (a string) or a mapping with `name`
              hint: quote a name that YAML would read as a number or a boolean: "2024"
            error: d.yaml:1:1: wrong type: expected a mapping (`key: value` lines) here
              hint: check the value's type against the reference in README.md
            error: e.yaml:1:7: wrong type: expected a list here
              hint: write a list as `[a, b]` or as lines starting with `- `
        "#]],
    );
}

#[test]
fn unknown_fields_suggest_the_closest() {
    check(
        &[
            ("a.yaml", "groups:\n  - name: a\n    tag: [x]\n"),
            (
                "b.yaml",
                "groups:\n  - name: b\n    tags:\n      - name: x\n        oder: 1\n",
            ),
            (
                "c.yaml",
                "groups:\n  - name: c\n    colour: red\n    tags: [x]\n",
            ),
            ("d.yaml", "group:\n  - name: d\n"),
        ],
        expect![[r#"
            error: a.yaml:3:5: unknown field `tag`, expected one of name, key, was, order, platforms, prune, tags
              hint: did you mean `tags`?
            error: b.yaml:5:9: unknown field `oder`, expected one of name, key, was, order
              hint: did you mean `order`?
            error: c.yaml:3:5: unknown field `colour`, expected one of name, key, was, order, platforms, prune, tags
              hint: check the spelling; see the reference in README.md for the accepted keys
            error: d.yaml:1:1: unknown field `group`, expected one of groups
              hint: did you mean `groups`?
        "#]],
    );
}

#[test]
fn yaml_syntax_mistakes() {
    check(
        &[
            (
                "a.yaml",
                "groups:\n  - name: a\n    name: b\n    tags: [x]\n",
            ),
            ("b.yaml", "groups:\n  - name: b\n\ttags: [x]\n"),
            ("c.yaml", "groups:\n  - name: \"c\n    tags: [x]\n"),
        ],
        expect![[r#"
            error: a.yaml:3:5: key `name` appears twice in this mapping
              hint: a key may appear only once in a mapping; remove one
            error: b.yaml:3:1: a tab is used for indentation
              hint: indent with spaces; YAML does not allow tabs for indentation
            error: c.yaml:2:11: unclosed quote
              hint: close it; a quote or bracket opened here is never closed
        "#]],
    );
}

#[test]
fn empty_files_are_errors() {
    check(
        &[
            ("a.yaml", ""),
            ("b.yaml", "# 待补充\n\n# todo\n"),
            ("c.yaml", "---\n"),
        ],
        expect![[r#"
            error: a.yaml:1:1: the tag file is empty
              hint: declare `groups:` with at least one group, or delete the file
            error: b.yaml:1:1: the tag file is empty
              hint: declare `groups:` with at least one group, or delete the file
            error: c.yaml:1:1: the tag file is empty
              hint: declare `groups:` with at least one group, or delete the file
        "#]],
    );
}

#[test]
fn a_group_declares_at_least_one_tag() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - name: a\n    tags: []\n  - name: b\n  - name: c\n    tags:\n",
        )],
        expect![[r#"
            error: a.yaml:3:11: group "a" declares no tags
              hint: no platform can create an empty group; add at least one tag
            error: a.yaml:4:5: group "b" declares no tags
              hint: no platform can create an empty group; add at least one tag under `tags:`
            error: a.yaml:5:5: group "c" declares no tags
              hint: no platform can create an empty group; add at least one tag under `tags:`
        "#]],
    );
}

#[test]
fn duplicates_within_a_group() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: g
    tags:
      - a
      - b
      - a
      - name: c
        key: k
      - name: d
        key: k
",
        )],
        expect![[r#"
            error: a.yaml:7:9: tag "a" is declared twice in group "g"; first at a.yaml:5:9
              hint: a group's tags must have distinct names; remove one
            error: a.yaml:11:14: tag key "k" is used twice in group "g"; first at a.yaml:9:14
              hint: keys identify tags; give each its own
        "#]],
    );
}

#[test]
fn the_same_tag_name_in_two_groups_is_fine() {
    check(
        &[(
            "a.yaml",
            "groups:\n  - name: a\n    tags: [x]\n  - name: b\n    tags: [x]\n",
        )],
        expect![[r#"
            a key=a was=- order=- prune=false platforms=juzi-main,wecom-hq @a.yaml:2:5
              x key=x was=- order=- @a.yaml:3:12
            b key=b was=- order=- prune=false platforms=juzi-main,wecom-hq @a.yaml:4:5
              x key=x was=- order=- @a.yaml:5:12
        "#]],
    );
}

#[test]
fn group_keys_are_unique_and_names_unique_per_platform() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    key: k
    tags: [x]
  - name: b
    key: k
    tags: [x]
  - name: c
    key: c1
    platforms: [wecom-hq]
    tags: [x]
  - name: c
    key: c2
    platforms: [juzi-main]
    tags: [x]
  - name: c
    key: c3
    platforms: [juzi-main, crm]
    tags: [x]
",
        )],
        expect![[r#"
            error: a.yaml:7:10: group key "k" is used twice; first at a.yaml:4:10
              hint: keys identify groups across renames; give each group its own
            error: a.yaml:17:5: group name "c" is declared twice on platform "juzi-main"; first at a.yaml:13:5
              hint: group names must be unique on each platform
        "#]],
    );
}

#[test]
fn was_names_must_be_unambiguous() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    was: [old, a, old, b]
    tags:
      - name: x
        was: [y, x]
      - name: y
      - name: z
        was: [w]
      - name: v
        was: [w]
  - name: b
    tags: [t]
  - name: c
    was: [old]
    tags: [t]
",
        )],
        expect![[r#"
            error: a.yaml:4:16: `was` repeats the current name "a"
              hint: list only earlier names in `was`
            error: a.yaml:4:19: `was` lists "old" twice
              hint: list each earlier name once
            error: a.yaml:4:24: group "a" was once called "b", but "b" is also declared at a.yaml:13:5
              hint: a group cannot be renamed to a name that is still declared; remove "b" from `was` or rename the other one
            error: a.yaml:7:15: tag "x" was once called "y", but "y" is also declared at a.yaml:8:15
              hint: a tag cannot be renamed to a name that is still declared; remove "y" from `was` or rename the other one
            error: a.yaml:7:18: `was` repeats the current name "x"
              hint: list only earlier names in `was`
            error: a.yaml:12:15: tags "z" and "v" both list "w" in `was`; first at a.yaml:10:15
              hint: an earlier name can belong to only one of them
            error: a.yaml:16:11: groups "a" and "c" both list "old" in `was`; first at a.yaml:4:11
              hint: an earlier name can belong to only one of them
        "#]],
    );
}

#[test]
fn was_names_may_repeat_on_disjoint_platforms() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    was: [old]
    platforms: [wecom-hq]
    tags: [x]
  - name: b
    was: [old]
    platforms: [juzi-main]
    tags: [x]
",
        )],
        expect![[r#"
            a key=a was=old order=- prune=false platforms=wecom-hq @a.yaml:3:5
              x key=x was=- order=- @a.yaml:6:12
            b key=b was=old order=- prune=false platforms=juzi-main @a.yaml:7:5
              x key=x was=- order=- @a.yaml:10:12
        "#]],
    );
}

#[test]
fn platforms_must_be_configured_listed_once_and_not_empty() {
    check(
        &[(
            "a.yaml",
            "
groups:
  - name: a
    platforms: [wecom-hq, wecom, wecom-hq]
    tags: [x]
  - name: b
    platforms: []
    tags: [x]
",
        )],
        expect![[r#"
            error: a.yaml:4:27: unknown platform "wecom"
              hint: configured platforms: crm, juzi-main, wecom-hq; configure "wecom" under `platforms:` in the configuration, or remove it from this list
            error: a.yaml:4:34: platform "wecom-hq" is listed twice
              hint: list each platform once
            error: a.yaml:7:16: group "b" lists no platforms
              hint: remove `platforms:` to sync the group everywhere, or name at least one platform
        "#]],
    );
}

#[test]
fn the_schema_is_generated_from_the_types() {
    let schema: serde_json::Value =
        serde_json::from_str(&json_schema()).expect("the schema is JSON");
    assert_eq!(schema["title"], "tagsync tag file");
    assert_eq!(schema["required"], serde_json::json!(["groups"]));
    assert_eq!(
        schema["$defs"]["GroupSpec"]["properties"]["order"]["type"],
        serde_json::json!(["integer", "null"])
    );
}

#[test]
fn a_null_tag_name_says_it_cannot_be_empty() {
    check(
        &[
            ("a.yaml", "groups:\n  - name: a\n    tags: [~]\n"),
            (
                "b.yaml",
                "groups:\n  - name: b\n    tags:\n      - x\n      - null\n",
            ),
        ],
        expect![[r#"
            error: a.yaml:3:12: a tag name cannot be empty (null)
            error: b.yaml:5:9: a tag name cannot be empty (null)
        "#]],
    );
}
