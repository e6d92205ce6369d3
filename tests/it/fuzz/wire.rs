//! The platforms' response parsers.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::path::Path;

use proptest::sample::Index;
use serde_json::Value;
use tagsync::platforms::http::Outcome;

use super::seeds::*;
use super::*;

type WireParse = fn(&str, u16, &[u8]) -> Option<Outcome>;

const PLATFORMS: &[(&str, WireParse)] = &[
    ("wecom", tagsync::platforms::wecom::wire::parse),
    ("juzibot", tagsync::platforms::juzibot::wire::parse),
    ("yzj", tagsync::platforms::yzj::wire::parse),
    ("dustess", tagsync::platforms::dustess::wire::parse),
    ("crm", tagsync::platforms::crm::wire::parse),
];

const VERDICTS: &[&str] = &[
    "ok",
    "refused",
    "unknown",
    "credential expired",
    "not ours",
    "rejected",
    "protocol",
];

/// Every answer of the platform's corpus: `(call, body)`.
fn wire_seeds(platform: &str) -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    files_under(
        &root().join("tests/data/wire").join(platform),
        &|p: &Path| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".response.json"))
        },
        &mut paths,
    );
    assert!(!paths.is_empty(), "{platform}: the wire corpus is found");
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let call = name.split('.').next().unwrap().to_owned();
            (call, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Arbitrary JSON, with the keys the platforms' documents use so that it gets past the first field.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "errcode",
            "errmsg",
            "code",
            "message",
            "msg",
            "success",
            "data",
            "tag_group",
            "group_id",
            "group_name",
            "tag",
            "tags",
            "id",
            "name",
            "order",
            "create_time",
            "deleted",
            "access_token",
            "expires_in",
            "list",
            "tagList",
            "tag_list",
            "groupId",
            "groupName",
            "tagId",
            "tagName",
            "sort",
            "pager",
            "numPages",
            "total",
            "values",
            "trace_id",
            "traceId",
            "ad_label_info_id",
            "ad_label_info_name",
            "ad_label_id",
            "ad_label_name",
            "status",
        ])
        .prop_map(String::from),
        ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            0i64, 1, -1, -2, 40001, 42001, 45009, 48002, 60011, 81011
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "",
            "1e3",
            "99999999999999999999",
            "null"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every node of `v`, as a JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone)]
enum WireInput {
    /// A seed's bytes mutated.
    Bytes(Vec<Mutation>),
    /// A seed's node (any depth) replaced by arbitrary JSON.
    Node(Index, Value),
    /// A seed's node removed (a field missing, an item dropped).
    Remove(Index),
    /// Arbitrary JSON.
    Json(Value),
    /// Nesting deeper than any document.
    Deep(usize, bool),
}

fn wire_input() -> impl Strategy<Value = WireInput> {
    prop_oneof![
        3 => proptest::collection::vec(mutation(), 1..6).prop_map(WireInput::Bytes),
        4 => (any::<Index>(), json_value()).prop_map(|(i, v)| WireInput::Node(i, v)),
        2 => any::<Index>().prop_map(WireInput::Remove),
        2 => json_value().prop_map(WireInput::Json),
        1 => (1usize..100_000, any::<bool>()).prop_map(|(n, o)| WireInput::Deep(n, o)),
    ]
}

fn wire_body(seed: &[u8], input: &WireInput) -> Vec<u8> {
    let tree = || serde_json::from_slice::<Value>(seed).expect("a corpus answer is JSON");
    let at = |v: &Value, i: &Index| {
        let mut all = Vec::new();
        pointers(v, String::new(), &mut all);
        all[i.index(all.len())].clone()
    };
    match input {
        WireInput::Bytes(ms) => apply(seed.to_vec(), ms),
        WireInput::Node(i, new) => {
            let mut v = tree();
            let p = at(&v, i);
            if let Some(node) = v.pointer_mut(&p) {
                *node = new.clone();
            }
            serde_json::to_vec(&v).unwrap()
        }
        WireInput::Remove(i) => {
            let mut v = tree();
            let p = at(&v, i);
            if let Some((parent, last)) = p.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(k) = last.parse::<usize>() {
                            a.remove(k);
                        }
                    }
                    _ => {}
                }
            }
            serde_json::to_vec(&v).unwrap()
        }
        WireInput::Json(v) => serde_json::to_vec(v).unwrap(),
        WireInput::Deep(n, object) => {
            let (open, close) = if *object {
                ("{\"data\":", "}")
            } else {
                ("[", "]")
            };
            format!("{}0{}", open.repeat(*n), close.repeat(*n)).into_bytes()
        }
    }
}

fn check_wire(platform: &str, parse: WireParse) {
    let seeds = wire_seeds(platform);
    let statuses = prop::sample::select(vec![
        200u16,
        200,
        200,
        201,
        204,
        301,
        400,
        401,
        403,
        404,
        429,
        500,
        502,
        503,
        0,
        99,
        999,
        1000,
        u16::MAX,
    ]);
    let n = seeds.len();
    proptest!(config(cases()), |(seed in 0..n, input in wire_input(), status in statuses)| {
        let (call, seed) = &seeds[seed];
        let body = wire_body(seed, &input);
        let call2 = call.clone();
        let outcome = guarded(&format!("{platform}::wire::parse"), move || {
            parse(&call2, status, &body)
        })?;
        let outcome = outcome.ok_or_else(|| TestCaseError::fail(format!("{call}: not a call")))?;
        prop_assert!(VERDICTS.contains(&outcome.verdict), "{:?}", outcome);
        if outcome.verdict == "ok" {
            // The canonical value: the groups, or the call's own answer.
            prop_assert!(!outcome.value.is_string() || call != "list", "{:?}", outcome);
        } else {
            let message = outcome.value.as_str().unwrap_or_default();
            prop_assert!(!message.trim().is_empty(), "{} {}: no message: {:?}", platform, call, outcome);
        }
    });
}

#[test]
fn wecom_answers_never_panic_and_every_failure_is_typed() {
    check_wire("wecom", PLATFORMS[0].1);
}

#[test]
fn juzibot_answers_never_panic_and_every_failure_is_typed() {
    check_wire("juzibot", PLATFORMS[1].1);
}

#[test]
fn yzj_answers_never_panic_and_every_failure_is_typed() {
    check_wire("yzj", PLATFORMS[2].1);
}

#[test]
fn dustess_answers_never_panic_and_every_failure_is_typed() {
    check_wire("dustess", PLATFORMS[3].1);
}

#[test]
fn crm_answers_never_panic_and_every_failure_is_typed() {
    check_wire("crm", PLATFORMS[4].1);
}

/// An unknown call name is `None`, never a guess.
#[test]
fn an_unknown_call_is_none_on_every_platform() {
    for (platform, parse) in PLATFORMS {
        assert_eq!(parse("no-such-call", 200, b"{}"), None, "{platform}");
    }
}
