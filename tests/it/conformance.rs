//! The wire conformance corpus (`tests/data/wire/<platform>/`, see its README): every answer file
//! is parsed and classified as the client does, and every request tagsync builds is compared to
//! the document's request examples (field names and JSON types). Adding a case is adding a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tagsync::planner::NewTag;
use tagsync::platforms::http::Outcome;
use tagsync::platforms::{self, Http, Platform, RetryPolicy};
use tagsync::settings::Kind;
use tagsync::sim::{self, CallRecord, Fixture, SimOptions, SimPlatform};

const PLATFORMS: [&str; 5] = ["wecom", "juzibot", "yzj", "dustess", "crm"];

fn corpus(platform: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wire")
        .join(platform)
}

fn files(platform: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus(platform))
        .unwrap_or_else(|e| panic!("{platform}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn read(platform: &str, name: &str) -> String {
    std::fs::read_to_string(corpus(platform).join(name)).unwrap()
}

/// The platform's parse entry (`platforms::<name>::wire::parse`).
fn parse(platform: &str, call: &str, body: &[u8]) -> Option<Outcome> {
    match platform {
        "wecom" => platforms::wecom::wire::parse(call, 200, body),
        "juzibot" => platforms::juzibot::wire::parse(call, 200, body),
        "yzj" => platforms::yzj::wire::parse(call, 200, body),
        "dustess" => platforms::dustess::wire::parse(call, 200, body),
        "crm" => platforms::crm::wire::parse(call, 200, body),
        other => panic!("no platform {other}"),
    }
}

/// The verdict a file name's third part names.
fn verdict(word: &str) -> Option<&'static str> {
    Some(match word {
        "ok" => "ok",
        "refused" => "refused",
        "unknown" => "unknown",
        "credential" => "credential expired",
        "not-ours" => "not ours",
        "rejected" => "rejected",
        "protocol" => "protocol",
        _ => return None,
    })
}

/// `<call>.<case>.<verdict>.response.json`, `<call>.<case>.<verdict>.expect.{json,txt}`,
/// `<call>.<case>.request.json`: the parts, or `None` for a name that follows no convention.
fn kind_of(name: &str) -> Option<(&str, Vec<&str>)> {
    for suffix in [
        ".response.json",
        ".expect.json",
        ".expect.txt",
        ".request.json",
    ] {
        if let Some(stem) = name.strip_suffix(suffix) {
            return Some((suffix, stem.splitn(3, '.').collect()));
        }
    }
    None
}

#[test]
fn every_file_of_the_corpus_follows_the_naming_convention() {
    let mut bad = Vec::new();
    for p in PLATFORMS {
        let names: BTreeSet<String> = files(p).into_iter().collect();
        for name in &names {
            let ok = match kind_of(name) {
                Some((".request.json", parts)) => parts.len() == 2,
                Some((".response.json", parts)) => parts.len() == 3 && verdict(parts[2]).is_some(),
                Some((suffix, parts)) => {
                    let stem = name.strip_suffix(suffix).unwrap();
                    parts.len() == 3 && names.contains(&format!("{stem}.response.json"))
                }
                None => false,
            };
            if !ok {
                bad.push(format!("{p}/{name}"));
            }
        }
    }
    assert!(bad.is_empty(), "files that follow no convention: {bad:#?}");
}

#[test]
fn every_answer_in_the_corpus_parses_as_its_name_says() {
    let mut failures = Vec::new();
    let mut counted = BTreeMap::new();
    for p in PLATFORMS {
        for name in files(p) {
            let Some(stem) = name.strip_suffix(".response.json") else {
                continue;
            };
            let parts: Vec<&str> = stem.splitn(3, '.').collect();
            let (call, want) = (parts[0], verdict(parts[2]).unwrap());
            let body = read(p, &name);
            let Some(got) = parse(p, call, body.as_bytes()) else {
                failures.push(format!("{p}/{name}: no call `{call}` on {p}"));
                continue;
            };
            *counted.entry(p).or_insert(0) += 1;
            if got.verdict != want {
                failures.push(format!(
                    "{p}/{name}: {} ({}), want {want}",
                    got.verdict, got.value
                ));
                continue;
            }
            let expect = corpus(p).join(format!("{stem}.expect.json"));
            if expect.exists() {
                let want: Value =
                    serde_json::from_str(&std::fs::read_to_string(&expect).unwrap()).unwrap();
                if got.value != want {
                    failures.push(format!("{p}/{name}: got {}\n  want {want}", got.value));
                }
            }
            let expect = corpus(p).join(format!("{stem}.expect.txt"));
            if expect.exists() {
                let want = std::fs::read_to_string(&expect).unwrap();
                let text = got.value.as_str().unwrap_or_default();
                if !text.contains(want.trim()) {
                    failures.push(format!(
                        "{p}/{name}: `{text}` does not say `{}`",
                        want.trim()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The seeds' examples plus the variants: a corpus that shrank by accident fails here.
    for (p, at_least) in [
        ("wecom", 25),
        ("juzibot", 20),
        ("yzj", 15),
        ("dustess", 15),
        ("crm", 8),
    ] {
        assert!(counted[p] >= at_least, "{p}: {} answers", counted[p]);
    }
}

#[test]
fn the_examples_of_each_seed_are_in_the_corpus() {
    let examples: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "wecom",
            &[
                "list.example.ok.response.json",
                "list.example.request.json",
                "add.example.ok.response.json",
                "add.example.request.json",
                "edit.example.ok.response.json",
                "edit.example.request.json",
                "delete.example.ok.response.json",
                "delete.example.request.json",
            ][..],
        ),
        (
            "juzibot",
            &[
                "list.example.ok.response.json",
                "detail.example.ok.response.json",
                "create.example.ok.response.json",
                "create.example.request.json",
                "edit.group-example.request.json",
                "edit.tag-example.request.json",
                "edit.example.ok.response.json",
                "delete.group-example.request.json",
                "delete.tag-example.request.json",
                "delete.example.ok.response.json",
                "mark.example.request.json",
                "mark.example.ok.response.json",
            ][..],
        ),
        (
            "yzj",
            &[
                "list.example.ok.response.json",
                "list.example.request.json",
                "add.example.request.json",
                "add.example.ok.response.json",
                "delete.example.request.json",
                "delete.example.ok.response.json",
                "batchAddTag.example.request.json",
                "batchAddTag.example.ok.response.json",
                "updateContact.example.request.json",
                "updateContact.example.ok.response.json",
            ][..],
        ),
        (
            "dustess",
            &[
                "add.example.request.json",
                "add.example.ok.response.json",
                "add.failure-example.unknown.response.json",
            ][..],
        ),
        (
            "crm",
            &[
                "Label.example.ok.response.json",
                "wecahtlabel.example.ok.response.json",
            ][..],
        ),
    ]);
    for (p, names) in examples {
        let have: BTreeSet<String> = files(p).into_iter().collect();
        for n in names {
            assert!(have.contains(*n), "{p}/{n} is missing");
        }
    }
}

/// The JSON type of a value, as a document's example shows it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `sent` must be one the examples show, with the type they show it with
/// (recursively; an array's items against the examples' items).
fn compare(path: &str, sent: &Value, examples: &[&Value], problems: &mut Vec<String>) {
    let shown: BTreeSet<&str> = examples.iter().map(|e| json_type(e)).collect();
    if !shown.contains(json_type(sent)) {
        problems.push(format!(
            "`{path}` is sent as {}, the document shows {shown:?}",
            json_type(sent)
        ));
        return;
    }
    match sent {
        Value::Object(map) => {
            for (k, v) in map {
                let same: Vec<&Value> = examples.iter().filter_map(|e| e.get(k)).collect();
                if same.is_empty() {
                    problems.push(format!("`{path}.{k}` is not a field the document shows"));
                } else {
                    compare(&format!("{path}.{k}"), v, &same, problems);
                }
            }
        }
        Value::Array(items) => {
            let shown_items: Vec<&Value> = examples
                .iter()
                .filter_map(|e| e.as_array())
                .flatten()
                .collect();
            for item in items {
                if !shown_items.is_empty() {
                    compare(&format!("{path}[]"), item, &shown_items, problems);
                }
            }
        }
        _ => {}
    }
}

/// What one recorded request sent: the JSON body of a POST, the query of a GET.
fn sent(call: &CallRecord) -> Value {
    if call.method == "GET" {
        Value::Object(
            call.query
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    } else {
        call.body.clone().unwrap_or(Value::Null)
    }
}

/// Checks each recorded request against the corpus's request examples of its call.
fn check_requests(platform: &str, calls: &[CallRecord], name_of: impl Fn(&str) -> String) {
    let mut examples: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for name in files(platform) {
        if let Some(stem) = name.strip_suffix(".request.json") {
            let call = stem.split('.').next().unwrap().to_owned();
            let value: Value = serde_json::from_str(&read(platform, &name))
                .unwrap_or_else(|e| panic!("{platform}/{name}: {e}"));
            examples.entry(call).or_default().push(value);
        }
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for c in calls {
        let call = name_of(&c.path);
        seen.insert(call.clone());
        let Some(shown) = examples.get(&call) else {
            problems.push(format!(
                "{} {}: no request example for `{call}`",
                c.method, c.path
            ));
            continue;
        };
        let shown: Vec<&Value> = shown.iter().collect();
        let mut found = Vec::new();
        compare(&call, &sent(c), &shown, &mut found);
        problems.extend(
            found
                .into_iter()
                .map(|f| format!("{} {}: {f}", c.method, c.path)),
        );
    }
    assert!(problems.is_empty(), "{platform}:\n{}", problems.join("\n"));
    assert!(!seen.is_empty(), "{platform}: no request was checked");
}

fn new_tags(names: &[&str], order: Option<u32>) -> Vec<NewTag> {
    names
        .iter()
        .map(|n| NewTag {
            key: n.to_string(),
            name: n.to_string(),
            order,
        })
        .collect()
}

async fn start(platform: SimPlatform, yaml: &str) -> sim::SimHandle {
    let mut fixture = Fixture::from_yaml(yaml).unwrap();
    fixture.token = "conformance-token".into();
    sim::start(
        platform,
        SimOptions {
            fixture,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

fn http(kind: Kind, sim: &sim::SimHandle) -> (Http, reqwest::Url) {
    use tagsync::settings::KindSettings;
    // Only the HTTP layer's settings matter here; each client is built with its own ids below.
    let config = match kind {
        Kind::Wecom => KindSettings::Wecom(platforms::wecom::Config {
            corp_id: "ww-conformance".into(),
            strategy_id: None,
        }),
        Kind::Yzj => KindSettings::Yzj(platforms::yzj::Config {
            app_id: "conformance".into(),
        }),
        Kind::Juzibot => KindSettings::Juzibot(Default::default()),
        Kind::Dustess => KindSettings::Dustess(Default::default()),
        Kind::WechatCrm => KindSettings::WechatCrm(Default::default()),
    };
    let settings = crate::support::settings("p", config, &sim.base_url());
    (
        Http::new(&settings, RetryPolicy::fast()).unwrap(),
        sim.base_url().parse().unwrap(),
    )
}

/// Every write of the trait, each with and without the optional parts.
async fn exercise(client: &dyn Platform, group: &str, group_name: &str, tag: &str) {
    client.list().await.unwrap();
    client
        .create_group("新组", Some(3), &new_tags(&["甲", "乙"], Some(1)))
        .await
        .unwrap();
    client
        .create_group("新组二", None, &new_tags(&["丙"], None))
        .await
        .unwrap();
    client
        .add_tags(group, group_name, &new_tags(&["丁"], Some(2)))
        .await
        .unwrap();
    let caps = client.capabilities();
    client
        .edit_group(group, Some("改名"), caps.reorder_group.then_some(9))
        .await
        .unwrap();
    client
        .edit_group(group, Some("改名二"), None)
        .await
        .unwrap();
    client
        .edit_tag(group, tag, Some("新名"), None)
        .await
        .unwrap();
    if caps.reorder_tag {
        client.edit_tag(group, tag, None, Some(4)).await.unwrap();
    }
    client.delete_tags(&[tag.to_owned()]).await.unwrap();
}

const STATE: &str = r#"
groups:
  - { id: "11", name: 客户等级, strategyId: 1, tags: [{ id: "21", name: 重要 }, { id: "22", name: 一般 }] }
  - { id: "12", name: 来源, strategyId: 1, tags: [{ id: "23", name: 官网 }] }
customers:
  - { unionId: wmCUSTOMER, userId: rocky, tags: ["21"] }
"#;

#[tokio::test]
async fn wecom_requests_match_the_document() {
    for strategy in [Some(1), None] {
        let s = start(SimPlatform::Wecom, STATE).await;
        let (h, base) = http(Kind::Wecom, &s);
        let client = platforms::wecom::Wecom::new(
            h,
            base,
            sim::wecom::DEFAULT_CORP_ID.into(),
            strategy,
            "conformance-token".to_string().into(),
        );
        if strategy.is_some() {
            client
                .mark("rocky", "wmCUSTOMER", &["22".into()], &["21".into()])
                .await
                .unwrap();
            exercise(&client, "11", "客户等级", "21").await;
            client.groups(&["12".into()]).await.unwrap();
            client.delete_groups(&["12".into()]).await.unwrap();
        } else {
            client.list().await.unwrap();
        }
        check_requests("wecom", &s.calls(), |path| {
            let last = path.rsplit('/').next().unwrap();
            match last {
                "gettoken" => "gettoken",
                "mark_tag" => "mark",
                l if l.starts_with("get_") => "list",
                l if l.starts_with("add_") => "add",
                l if l.starts_with("edit_") => "edit",
                l if l.starts_with("del_") => "delete",
                l => panic!("unexpected call {l}"),
            }
            .to_owned()
        });
    }
}

#[tokio::test]
async fn juzibot_requests_match_the_document() {
    let s = start(SimPlatform::Juzibot, STATE).await;
    let (h, base) = http(Kind::Juzibot, &s);
    let client = platforms::juzibot::Juzibot::new(h, base, "conformance-token".to_string().into());
    exercise(&client, "11", "客户等级", "21").await;
    client.delete_groups(&["12".into()]).await.unwrap();
    let calls = s.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.path.ends_with("tagGroup/delete") && c.applied),
        "tagGroup/delete is sent and performed"
    );
    check_requests("juzibot", &calls, |path| {
        let last = path.rsplit('/').next().unwrap();
        last.to_owned()
    });
}

#[tokio::test]
async fn yzj_requests_match_the_document() {
    let s = start(SimPlatform::Yzj, STATE).await;
    let (h, base) = http(Kind::Yzj, &s);
    let client = platforms::yzj::Yzj::new(
        h,
        base,
        sim::yzj::DEFAULT_APP_ID.into(),
        "conformance-token".to_string().into(),
    );
    exercise(&client, "11", "客户等级", "21").await;
    client.delete_groups(&["12".into()]).await.unwrap();
    assert!(
        s.with_state(|a: &mut tagsync::sim::yzj::Account| a.group(12).is_none())
            .unwrap(),
        "the group is deleted"
    );
    check_requests("yzj", &s.calls(), |path| {
        path.rsplit('/').next().unwrap().to_owned()
    });
}

#[tokio::test]
async fn dustess_requests_match_the_document() {
    let s = start(
        SimPlatform::Dustess,
        STATE.split("customers:").next().unwrap(),
    )
    .await;
    let (h, base) = http(Kind::Dustess, &s);
    let client = platforms::dustess::Dustess::new(h, base, "conformance-token".to_string().into());
    client
        .create_group("新组", Some(3), &new_tags(&["甲", "乙"], Some(1)))
        .await
        .unwrap();
    client
        .add_tags("11", "客户等级", &new_tags(&["丁"], None))
        .await
        .unwrap();
    check_requests("dustess", &s.calls(), |_| "add".to_owned());
}

#[tokio::test]
async fn crm_requests_match_the_document() {
    let s = start(SimPlatform::WechatCrm, STATE).await;
    let (h, base) = http(Kind::WechatCrm, &s);
    let client = platforms::crm::WechatCrm::new(h, base, "conformance-token".to_string().into());
    client.list().await.unwrap();
    check_requests("crm", &s.calls(), |path| {
        path.rsplit('/').next().unwrap().to_owned()
    });
}

#[test]
fn a_request_field_the_document_does_not_show_or_types_differently_is_caught() {
    let shown = serde_json::json!({"id": "x", "order": 1, "tag": [{"name": "a"}]});
    let mut problems = Vec::new();
    compare(
        "edit",
        &serde_json::json!({"id": 7, "nmae": "b", "tag": [{"name": "a", "order": 2}]}),
        &[&shown],
        &mut problems,
    );
    assert_eq!(
        problems,
        [
            "`edit.id` is sent as number, the document shows {\"string\"}",
            "`edit.nmae` is not a field the document shows",
            "`edit.tag[].order` is not a field the document shows",
        ]
    );
}
