use super::*;

fn ctx() -> Context {
    let all: BTreeSet<String> = ["wecom-hq", "juzi-main", "crm"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Context {
        default_platforms: ["wecom-hq", "juzi-main"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        known_platforms: all,
        prune_default: false,
    }
}

fn check(files: &[(&str, &str)]) -> String {
    let sources: Vec<Source> = files
        .iter()
        .map(|(n, t)| Source {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect();
    match parse(&sources, &ctx()) {
        Ok(d) => format!("ok: {} groups, {} tags", d.groups().len(), d.tag_count()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn probe() {
    println!(
        "{}",
        check(&[("a.yaml", "groups:\n  - name: 客户\n    tagz: [a]\n")])
    );
    println!("{}", check(&[("a.yaml", "groups:\n  - name: [1]\n")]));
    println!(
        "{}",
        check(&[(
            "a.yaml",
            "groups:\n  - name: a\n    tags: [{name: b, oder: 1}]\n"
        )])
    );
    println!(
        "{}",
        check(&[("a.yaml", "groups:\n  - name: a\n    tags: [1]\n")])
    );
    println!(
        "{}",
        check(&[(
            "a.yaml",
            "groups:\n  - name: a\n    tags:\n      - x\n      - name: y\n        order: -1\n"
        )])
    );
    println!("{}", check(&[("a.yaml", "groups: [\n")]));
}
