//! Snapshot tests of the Markdown plan (`plan --format markdown`), on plans the planner makes.

use expect_test::{Expect, expect};

use super::tests::{Case, NO_ORDER};
use super::*;

fn check(plans: &[PlatformPlan], errors: &[String], expect: Expect) {
    expect.assert_eq(&render_markdown(plans, errors));
}

fn named(mut p: PlatformPlan, name: &str) -> PlatformPlan {
    p.platform = name.into();
    p
}

#[test]
fn an_empty_plan_says_no_changes() {
    let d = "groups:\n  - name: 级别\n    tags: [重要]\n";
    let r =
        "groups:\n  - {id: g1, name: 级别, order: 100, tags: [{id: t1, name: 重要, order: 100}]}\n";
    let p = Case::new(d, r).plan();
    check(
        &[named(p.clone(), "wecom-hq"), named(p, "juzi-main")],
        &[],
        expect![[r#"
            ### tagsync plan

            | Platform | Create | Change | Delete | Write calls | Drift `!` |
            |---|--:|--:|--:|--:|--:|
            | wecom-hq | 0 | 0 | 0 | 0 | 0 |
            | juzi-main | 0 | 0 | 0 | 0 | 0 |
            | **Total** | **0** | **0** | **0** | **0** | **0** |

            **No changes.** Every platform is in step with the tag files.
        "#]],
    );
}

#[test]
fn no_platform_at_all() {
    check(
        &[],
        &[],
        expect![[r#"
        ### tagsync plan

        No platform to plan.
    "#]],
    );
}

#[test]
fn failed_platforms_are_never_reported_as_in_step() {
    let d = "groups:\n  - name: 级别\n    tags: [重要]\n";
    let r =
        "groups:\n  - {id: g1, name: 级别, order: 100, tags: [{id: t1, name: 重要, order: 100}]}\n";
    let errors = ["juzi-main: tag/list: the credential was refused: token expired".to_string()];
    check(
        &[],
        &errors,
        expect![[r#"
        ### tagsync plan

        #### Not planned

        - :x: juzi-main\: tag/list\: the credential was refused\: token expired
    "#]],
    );
    check(
        &[named(Case::new(d, r).plan(), "wecom-hq")],
        &errors,
        expect![[r#"
        ### tagsync plan

        | Platform | Create | Change | Delete | Write calls | Drift `!` |
        |---|--:|--:|--:|--:|--:|
        | wecom-hq | 0 | 0 | 0 | 0 | 0 |

        **No changes** on the platforms planned; the others could not be planned.

        #### Not planned

        - :x: juzi-main\: tag/list\: the credential was refused\: token expired
    "#]],
    );
}

#[test]
fn operations_and_drift_with_reasons_in_words() {
    let d = r#"
groups:
  - name: 客户级别
    was: [客户等级]
    prune: true
    tags: [重要客户, 普通客户]
  - name: 售后
    tags: [已回访, 待回访]
"#;
    let r = r#"
groups:
  - {id: g1, name: 客户等级, order: 200, tags: [{id: t1, name: 重要客户, order: 200}, {id: t2, name: 流失, order: 100}]}
  - {id: g9, name: 售后, order: 100, tags: [{id: t3, name: 已回访, order: 100}]}
"#;
    let p = Case::new(d, r).not_ours("g9").plan();
    check(
        &[named(p, "wecom-hq")],
        &["yzj: the platform refused the credential (errcode 40001)".into()],
        expect![[r#"
            ### tagsync plan

            | Platform | Create | Change | Delete | Write calls | Drift `!` |
            |---|--:|--:|--:|--:|--:|
            | wecom-hq | 1 | 2 | 1 | 4 | 1 |

            **4 write calls**: 1 to create, 2 to change, 1 to delete; 1 drift that no call can fix.

            #### wecom-hq

            - `-` **delete** tag **客户级别** / **流失** — _undeclared, and the group prunes_
            - `~` group **客户等级**: rename to **客户级别** — _found under its earlier name **客户等级**_
            - `+` add tag to **客户级别**: **普通客户** — _declared, missing here_
            - `~` tag **客户级别** / **普通客户**: order → 100 — _order of a new object (the create call cannot set it)_

            **Needs a person** (`!`: no API call can fix these):

            - `!` tag **售后** / **待回访**: declared but missing\: the group was created in the console — _the group was created in the console and the platform refuses tagsync's changes to it_

            #### Not planned

            - :x: yzj\: the platform refused the credential (errcode 40001)
        "#]],
    );
}

#[test]
fn names_are_escaped() {
    let d = r#"
groups:
  - name: "a|b *c* <d>"
    tags: ["`x`", "[y](z)", "_u_ #1", '\&amp; ~~s~~']
"#;
    let p = Case::new(d, "").caps(NO_ORDER).plan();
    check(
        &[named(p, "p")],
        &[],
        expect![[r#"
            ### tagsync plan

            | Platform | Create | Change | Delete | Write calls | Drift `!` |
            |---|--:|--:|--:|--:|--:|
            | p | 5 | 0 | 0 | 1 | 0 |

            **1 write call**: 5 to create, 0 to change, 0 to delete; 0 drift that no call can fix.

            #### p

            - `+` create group **a\|b \*c\* \<d\>** with 4 tags: **\`x\`**, **\[y\](z)**, **\_u\_ \#1**, **\\\&amp; \~\~s\~\~** — _declared, missing here_
        "#]],
    );
}

#[test]
fn a_long_platform_section_folds() {
    let tags: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    let d = "groups:\n  - name: g\n    prune: true\n    tags: [keep]\n";
    let remote_tags: Vec<String> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{{id: r{i}, name: {t}}}"))
        .collect();
    let r = format!(
        "groups:\n  - {{id: g1, name: g, tags: [{{id: k, name: keep}}, {}]}}\n",
        remote_tags.join(", ")
    );
    let mut caps = NO_ORDER;
    caps.delete_tags = crate::model::Batch::One;
    let p = Case::new(d, &r).caps(caps).plan();
    let text = render_markdown(&[named(p, "yzj<1>")], &[]);
    let folded = text.split_once("#### yzj\\<1\\>\n\n").unwrap().1;
    expect![[r#"
        <details><summary>12 write calls and 0 drift on yzj&lt;1&gt;</summary>

        - `-` **delete** tag **g** / **t00** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t01** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t02** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t03** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t04** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t05** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t06** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t07** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t08** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t09** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t10** — _undeclared, and the group prunes_
        - `-` **delete** tag **g** / **t11** — _undeclared, and the group prunes_

        </details>
    "#]]
    .assert_eq(folded);
}

#[test]
fn escape_leaves_no_markdown_syntax() {
    // Every ASCII punctuation character that can mean something is escaped, nothing else touched.
    for c in (0u8..128).map(char::from) {
        let e = markdown::escape(&c.to_string());
        if c.is_ascii_punctuation() && !",;\"'?-+=/()".contains(c) {
            assert_eq!(e, format!("\\{c}"));
        } else if c == '\n' || c == '\r' {
            assert_eq!(e, " ");
        } else {
            assert_eq!(e, c.to_string());
        }
    }
    assert_eq!(markdown::escape("客户|级别"), "客户\\|级别");
}

#[test]
fn the_delete_guards_refusal_is_shown() {
    let d = "groups:\n  - name: 级别\n    prune: true\n    tags: [甲]\n";
    let r = "groups:\n  - {id: g1, name: 级别, tags: [{id: t1, name: 甲}, {id: t2, name: 乙}]}\n";
    let mut p = Case::new(d, r).plan();
    p.judge_deletes(0);
    check(
        &[named(p, "juzi")],
        &[],
        expect![[r#"
            ### tagsync plan

            | Platform | Create | Change | Delete | Write calls | Drift `!` |
            |---|--:|--:|--:|--:|--:|
            | juzi | 0 | 0 | 1 | 1 | 0 |

            **1 write call**: 0 to create, 0 to change, 1 to delete; 0 drift that no call can fix.

            #### juzi

            > **refused by the delete guard\: 1 deletes \> max\_deletes 0; pass --allow-deletes 1**

            - `-` **delete** tag **级别** / **乙** — _undeclared, and the group prunes_
        "#]],
    );
}
