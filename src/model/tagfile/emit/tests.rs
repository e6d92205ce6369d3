//! Import's tag files: snapshots of the emitted text, and a property test that what is emitted
//! reads back as exactly what the platform holds and plans to nothing.

use std::collections::BTreeSet;

use expect_test::{Expect, expect};
use proptest::prelude::*;

use super::*;
use crate::model::tagfile::{Context, Source, parse};
use crate::model::{Batch, MarkStyle, RemoteTag};
use crate::planner::{PlanInput, plan};

/// A platform with orders (like WeCom or Juzibot).
const ORDERED: Capabilities = Capabilities {
    list: true,
    has_order: true,
    create_group: true,
    create_sets_order: true,
    add_tags: Batch::Many(100),
    rename_group: true,
    reorder_group: true,
    rename_tag: true,
    reorder_tag: true,
    edit_name_and_order_together: true,
    delete_tags: Batch::Many(100),
    delete_groups: Batch::Many(100),
    last_tag_delete_removes_group: true,
    unique_names: true,
    mark: MarkStyle::AddRemove,
};

/// A platform without orders (like Miaokol).
const UNORDERED: Capabilities = Capabilities {
    has_order: false,
    create_sets_order: false,
    reorder_group: false,
    reorder_tag: false,
    ..ORDERED
};

const SCHEMA: &str = "../../schema/tags.schema.json";

static NONE: BTreeSet<String> = BTreeSet::new();

fn settings<'a>(
    platform: &'a str,
    caps: &'a Capabilities,
    taken: &'a BTreeSet<String>,
) -> EmitSettings<'a> {
    EmitSettings {
        platform,
        caps,
        schema: SCHEMA,
        taken_keys: taken,
        managed: &NONE,
    }
}

fn snapshot(yaml: &str) -> Snapshot {
    serde_saphyr::from_str(yaml).unwrap()
}

/// Emits `remote` for platform `p` and shows the file, then the bindings and what was skipped.
fn check(remote: &str, caps: Capabilities, taken: &[&str], expect: Expect) {
    let taken: BTreeSet<String> = taken.iter().map(|s| s.to_string()).collect();
    let out = match emit(&snapshot(remote), &settings("p", &caps, &taken)) {
        Ok(i) => {
            let mut out = i.text;
            out.push_str("---\n");
            for (k, id) in &i.bindings.groups {
                out.push_str(&format!("bind {k:?} -> {id}\n"));
            }
            for ((g, t), id) in &i.bindings.tags {
                out.push_str(&format!("bind {g:?}/{t:?} -> {id}\n"));
            }
            for s in &i.skipped {
                out.push_str(&format!(
                    "skipped {:?}{} ({}): {}\n",
                    s.group,
                    s.tag
                        .as_ref()
                        .map(|t| format!("/{t:?}"))
                        .unwrap_or_default(),
                    s.remote_id,
                    s.reason
                ));
            }
            out.push_str(&format!("{} groups, {} tags\n", i.groups, i.tags));
            out
        }
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&out);
}

#[test]
fn orders_are_explicit_where_the_platform_has_them() {
    let remote = r#"
groups:
  - {id: g1, name: 客户级别, order: 200, tags: [{id: t1, name: 重要客户, order: 30}, {id: t2, name: 普通客户, order: 20}]}
  - {id: g2, name: 客户来源, order: 100, tags: [{id: t3, name: 官网咨询}]}
"#;
    check(
        remote,
        ORDERED,
        &[],
        expect![[r##"
            # yaml-language-server: $schema=../../schema/tags.schema.json
            # Imported from platform p by `tagsync import`.
            groups:
              - name: 客户级别
                order: 200
                platforms: [p]
                tags:
                  - name: 重要客户
                    order: 30
                  - name: 普通客户
                    order: 20
              - name: 客户来源
                order: 100
                platforms: [p]
                tags:
                  - 官网咨询
            ---
            bind "客户来源" -> g2
            bind "客户级别" -> g1
            bind "客户来源"/"官网咨询" -> t3
            bind "客户级别"/"普通客户" -> t2
            bind "客户级别"/"重要客户" -> t1
            2 groups, 3 tags
        "##]],
    );
}

#[test]
fn no_orders_on_a_platform_without_them() {
    let remote = r#"
groups:
  - {id: g1, name: 客户级别, order: 200, tags: [{id: t1, name: 重要客户, order: 30}]}
"#;
    check(
        remote,
        UNORDERED,
        &[],
        expect![[r##"
            # yaml-language-server: $schema=../../schema/tags.schema.json
            # Imported from platform p by `tagsync import`.
            groups:
              - name: 客户级别
                platforms: [p]
                tags:
                  - 重要客户
            ---
            bind "客户级别" -> g1
            bind "客户级别"/"重要客户" -> t1
            1 groups, 1 tags
        "##]],
    );
}

#[test]
fn names_yaml_would_misread_are_quoted() {
    let remote = r##"
groups:
  - id: g1
    name: "123"
    tags:
      - {id: t1, name: "true"}
      - {id: t2, name: "null"}
      - {id: t3, name: "~"}
      - {id: t4, name: "#话题"}
      - {id: t5, name: "a: b"}
      - {id: t6, name: "- 列表"}
      - {id: t7, name: "'单引号'"}
      - {id: t8, name: "\"双引号\""}
      - {id: t9, name: "[a]"}
      - {id: t10, name: "{b}"}
      - {id: t11, name: "*星"}
      - {id: t12, name: "&锚"}
      - {id: t13, name: "!标签"}
      - {id: t14, name: "%百分"}
      - {id: t15, name: "@某人"}
      - {id: t16, name: "`反引号`"}
      - {id: t17, name: "|竖线"}
      - {id: t18, name: ">大于"}
      - {id: t19, name: "a\\b"}
      - {id: t20, name: "Yes"}
      - {id: t21, name: "1e3"}
      - {id: t22, name: "a #b"}
      - {id: t23, name: "零宽\u200B字符"}
      - {id: t24, name: "老客户 转介绍"}
      - {id: t25, name: "VIP-1.5 (A/B)"}
  - {id: g2, name: "true", tags: [{id: t30, name: "false"}]}
"##;
    check(
        remote,
        UNORDERED,
        &[],
        expect![[r##"
        # yaml-language-server: $schema=../../schema/tags.schema.json
        # Imported from platform p by `tagsync import`.
        groups:
          - name: "123"
            platforms: [p]
            tags:
              - "true"
              - "null"
              - "~"
              - "#话题"
              - "a: b"
              - "- 列表"
              - "'单引号'"
              - "\"双引号\""
              - "[a]"
              - "{b}"
              - "*星"
              - "&锚"
              - "!标签"
              - "%百分"
              - "@某人"
              - "`反引号`"
              - "|竖线"
              - ">大于"
              - "a\\b"
              - "Yes"
              - "1e3"
              - "a #b"
              - "零宽\u200B字符"
              - 老客户 转介绍
              - VIP-1.5 (A/B)
          - name: "true"
            platforms: [p]
            tags:
              - "false"
        ---
        bind "123" -> g1
        bind "true" -> g2
        bind "123"/"!标签" -> t13
        bind "123"/"\"双引号\"" -> t8
        bind "123"/"#话题" -> t4
        bind "123"/"%百分" -> t14
        bind "123"/"&锚" -> t12
        bind "123"/"'单引号'" -> t7
        bind "123"/"*星" -> t11
        bind "123"/"- 列表" -> t6
        bind "123"/"1e3" -> t21
        bind "123"/">大于" -> t18
        bind "123"/"@某人" -> t15
        bind "123"/"VIP-1.5 (A/B)" -> t25
        bind "123"/"Yes" -> t20
        bind "123"/"[a]" -> t9
        bind "123"/"`反引号`" -> t16
        bind "123"/"a #b" -> t22
        bind "123"/"a: b" -> t5
        bind "123"/"a\\b" -> t19
        bind "123"/"null" -> t2
        bind "123"/"true" -> t1
        bind "123"/"{b}" -> t10
        bind "123"/"|竖线" -> t17
        bind "123"/"~" -> t3
        bind "123"/"老客户 转介绍" -> t24
        bind "123"/"零宽\u{200b}字符" -> t23
        bind "true"/"false" -> t30
        2 groups, 26 tags
    "##]],
    );
}

#[test]
fn invalid_and_duplicate_names_are_skipped_and_the_group_stops_pruning() {
    let remote = r#"
groups:
  - id: g1
    name: 级别
    tags:
      - {id: t1, name: 重要}
      - {id: t2, name: " 前空格"}
      - {id: t3, name: 重要}
      - {id: t4, name: "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一"}
      - {id: t5, name: "换\n行"}
      - {id: t6, name: "e\u0301"}
  - {id: g2, name: 级别, tags: [{id: t7, name: 甲}]}
  - {id: g3, name: 空组, tags: []}
  - {id: g4, name: "", tags: [{id: t8, name: 乙}]}
"#;
    check(
        remote,
        ORDERED,
        &[],
        expect![[r##"
            # yaml-language-server: $schema=../../schema/tags.schema.json
            # Imported from platform p by `tagsync import`.
            groups:
              - name: 级别
                platforms: [p]
                prune: false             # some tags could not be imported
                tags:
                  - 重要
            ---
            bind "级别" -> g1
            bind "级别"/"重要" -> t1
            skipped "级别"/" 前空格" (t2): its name has leading or trailing spaces
            skipped "级别"/"重要" (t3): an earlier one has the same name
            skipped "级别"/"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一" (t4): its name is longer than 30 characters
            skipped "级别"/"换\n行" (t5): its name contains a control character
            skipped "级别"/"e\u{301}" (t6): its name is not in Unicode NFC form
            skipped "级别" (g2): an earlier one has the same name
            skipped "空组" (g3): it has no tag a tag file can declare
            skipped "" (g4): its name is empty
            1 groups, 1 tags
        "##]],
    );
}

const TWO_GROUPS: &str = r#"
groups:
  - {id: g1, name: 级别, tags: [{id: t1, name: 重要}]}
  - {id: g2, name: 来源, tags: [{id: t2, name: 官网}]}
"#;

#[test]
fn a_name_other_files_use_as_a_key_gets_its_own_key() {
    let remote = TWO_GROUPS;
    check(
        remote,
        UNORDERED,
        &["级别", "级别@p"],
        expect![[r##"
            # yaml-language-server: $schema=../../schema/tags.schema.json
            # Imported from platform p by `tagsync import`.
            groups:
              - name: 级别
                key: "级别@p-2"
                platforms: [p]
                tags:
                  - 重要
              - name: 来源
                platforms: [p]
                tags:
                  - 官网
            ---
            bind "来源" -> g2
            bind "级别@p-2" -> g1
            bind "来源"/"官网" -> t2
            bind "级别@p-2"/"重要" -> t1
            2 groups, 2 tags
        "##]],
    );
}

#[test]
fn groups_other_files_manage_are_left_out() {
    let remote = TWO_GROUPS;
    let managed: BTreeSet<String> = ["g1".to_string()].into();
    let imported = emit(
        &snapshot(remote),
        &EmitSettings {
            managed: &managed,
            ..settings("p", &UNORDERED, &NONE)
        },
    )
    .unwrap();
    expect![[r#"
        # yaml-language-server: $schema=../../schema/tags.schema.json
        # Imported from platform p by `tagsync import`.
        groups:
          - name: 来源
            platforms: [p]
            tags:
              - 官网
    "#]]
    .assert_eq(&imported.text);
    assert_eq!(
        imported.skipped,
        [Skipped {
            group: "级别".into(),
            tag: None,
            remote_id: "g1".into(),
            reason: SkipReason::Managed
        }]
    );
}

#[test]
fn nothing_to_import_is_an_error() {
    check(
        "groups: []",
        ORDERED,
        &[],
        expect![[r#"
        error: platform "p" has no tag group that a tag file can declare (0 left out)
    "#]],
    );
    let no_list = Capabilities {
        list: false,
        ..ORDERED
    };
    check(
        "groups: []",
        no_list,
        &[],
        expect![[r#"
        error: platform "p" cannot list its tags, so there is nothing to import
    "#]],
    );
}

#[test]
fn yaml_string_reads_back_exactly() {
    for s in [
        "123",
        "true",
        "True",
        "NULL",
        "~",
        "#x",
        "a: b",
        "- x",
        "'",
        "\"",
        "[",
        "{",
        "*",
        "&",
        "!",
        "%",
        "@",
        "`",
        "|",
        ">",
        "?",
        ":",
        ",",
        "a\\b",
        "\t",
        "a\u{2028}b",
        "\u{FEFF}x",
        "nan",
        ".inf",
        "0x1F",
        "0o7",
        "1_000",
        "+1",
        "-1",
        "1.5",
        "yes",
        "off",
        "y",
        "n",
        "=",
        "<<",
        "客户",
        "老客户 转介绍",
        "a  b",
        "emoji 😀",
        "---",
        "...",
    ] {
        let yaml = format!("v: {}\nw: [{}]\n", yaml_string(s), yaml_string(s));
        #[derive(serde::Deserialize)]
        struct V {
            v: String,
            w: Vec<String>,
        }
        let back: V = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert_eq!(back.v, s, "{yaml}");
        assert_eq!(back.w, [s], "{yaml}");
    }
}

// ---- property test: emit → parse → plan is empty ----

/// Fragments that YAML or the planner find hard, and plain ones.
const FRAGMENTS: &[&str] = &[
    "客户", "级别", "a", "Z", "1", "123", "true", "null", "~", "#", "a: b", ": ", " #", "- ", "'",
    "\"", "[", "]", "{", "}", "*", "&", "!", "%", "@", "`", "|", ">", "\\", ",", "?", " ", "yes",
    "e\u{301}", "é", "\u{200B}", "\t", "😀", "...", "---",
];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 1..5).prop_map(|v| v.concat())
}

fn remote() -> impl Strategy<Value = Snapshot> {
    let tag = (name(), prop::option::of(0u32..1000));
    let group = (
        name(),
        prop::option::of(0u32..1000),
        prop::collection::vec(tag, 0..5),
    );
    prop::collection::vec(group, 1..5).prop_map(|groups| Snapshot {
        groups: groups
            .into_iter()
            .enumerate()
            .map(|(i, (name, order, tags))| RemoteGroup {
                id: format!("g{i}"),
                name,
                order,
                created_at: None,
                tags: tags
                    .into_iter()
                    .enumerate()
                    .map(|(j, (name, order))| RemoteTag {
                        id: format!("t{i}.{j}"),
                        name,
                        order,
                        created_at: None,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// A group as the test compares it: remote id, name, order, and its tags (id, name, order).
type Shape<'a> = (
    &'a str,
    &'a str,
    Option<u32>,
    Vec<(&'a str, &'a str, Option<u32>)>,
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emitted_files_read_back_exactly_and_plan_to_nothing(
        snapshot in remote(),
        ordered in any::<bool>(),
        taken_mask in any::<u8>(),
        managed_mask in prop::bits::u8::masked(0b0000_1001),
    ) {
        let caps = if ordered { ORDERED } else { UNORDERED };
        let platform = "wecom-hq";
        // Some imported names are already keys in another file, for another platform.
        let taken: BTreeSet<String> = snapshot
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| taken_mask & (1 << i) != 0)
            .map(|(_, g)| g.name.clone())
            .filter(|n| name_problem(n).is_none())
            .collect();
        // Other files already manage some groups (the first or the fourth, now and then).
        let managed: BTreeSet<String> = snapshot
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| managed_mask & (1 << i) != 0)
            .map(|(_, g)| g.id.clone())
            .collect();
        let emit_settings = EmitSettings { managed: &managed, ..settings(platform, &caps, &taken) };
        let imported = match emit(&snapshot, &emit_settings) {
            Ok(i) => i,
            Err(EmitError::Nothing { skipped, .. }) => {
                prop_assert!(skipped.iter().filter(|s| s.tag.is_none()).count() == snapshot.groups.len());
                return Ok(());
            }
            Err(e) => panic!("{e}"),
        };
        let mut sources = vec![Source { name: "imported.yaml".into(), text: imported.text.clone() }];
        if !taken.is_empty() {
            let mut other = String::from("groups:\n");
            for (i, k) in taken.iter().enumerate() {
                other.push_str(&format!(
                    "  - {{name: other{i}, key: {}, platforms: [other], tags: [x]}}\n",
                    yaml_string(k)
                ));
            }
            sources.push(Source { name: "other.yaml".into(), text: other });
        }
        let ctx = Context {
            known_platforms: [platform.to_string(), "other".to_string()].into(),
            default_platforms: BTreeSet::new(),
            // A configured prune must not delete what import had to leave out.
            prune_default: true,
        };
        let desired = parse(&sources, &ctx)
            .unwrap_or_else(|e| panic!("{}\n{e}", imported.text));

        // Exactly the groups, tags, names and orders the platform holds, less what was skipped.
        let skipped: BTreeSet<&str> = imported.skipped.iter().map(|s| s.remote_id.as_str()).collect();
        let expected: Vec<Shape> = snapshot
            .groups
            .iter()
            .filter(|g| !skipped.contains(g.id.as_str()))
            .map(|g| {
                let tags = g
                    .tags
                    .iter()
                    .filter(|t| !skipped.contains(t.id.as_str()))
                    .map(|t| (t.id.as_str(), t.name.as_str(), t.order.filter(|_| ordered)))
                    .collect();
                (g.id.as_str(), g.name.as_str(), g.order.filter(|_| ordered), tags)
            })
            .collect();
        let got: Vec<Shape> = desired
            .for_platform(platform)
            .map(|g| {
                let id = imported.bindings.groups[&g.key].as_str();
                let tags = g
                    .tags
                    .iter()
                    .map(|t| {
                        let id = imported.bindings.tags[&(g.key.clone(), t.key.clone())].as_str();
                        (id, t.name.as_str(), t.order)
                    })
                    .collect();
                (id, g.name.as_str(), g.order, tags)
            })
            .collect();
        prop_assert_eq!(&got, &expected, "{}", imported.text);
        prop_assert_eq!(imported.groups, expected.len());
        prop_assert_eq!(imported.tags, expected.iter().map(|g| g.3.len()).sum::<usize>());

        // Everything left out has a reason that holds.
        for s in &imported.skipped {
            let name = s.tag.as_deref().unwrap_or(&s.group);
            match &s.reason {
                SkipReason::InvalidName(_) => prop_assert!(
                    name.is_empty()
                        || name.trim() != name
                        || name.chars().count() > 30
                        || name.chars().any(char::is_control)
                        || normalize_name(name) != name,
                    "{name:?}"
                ),
                SkipReason::DuplicateName => {
                    let earlier = match &s.tag {
                        None => expected.iter().any(|g| g.1 == s.group),
                        Some(t) => snapshot.groups.iter().any(|g| {
                            g.name == s.group
                                && g.tags.iter().any(|o| o.name == *t && o.id != s.remote_id)
                        }),
                    };
                    prop_assert!(earlier, "{:?}", s);
                }
                SkipReason::NoTags => {}
                SkipReason::Managed => prop_assert!(managed.contains(&s.remote_id)),
            }
        }

        // Import then plan is empty: no call, no drift, nothing left to bind.
        let p = plan(&PlanInput {
            platform,
            desired: &desired,
            snapshot: &snapshot,
            bindings: &imported.bindings,
            caps: &caps,
            not_ours: &BTreeSet::new(),
        });
        prop_assert!(p.ops.is_empty() && p.drift.is_empty() && p.bind.is_empty(),
            "{}\n{:#?}", imported.text, p);
    }
}
