//! The checked-in JSON Schema of tag files is the one the Rust types generate.

#[test]
fn checked_in_plan_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/plan.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = tagsync::planner::plan_json_schema();
    assert!(
        on_disk == generated,
        "schema/plan.schema.json is stale: run `cargo run -- schema --plan > schema/plan.schema.json`\n\
         --- checked in\n{on_disk}\n--- generated\n{generated}"
    );
}

/// Every key of a platform's entry in `plan --format json` is described by the schema.
pub fn check_against_schema(doc: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(&tagsync::planner::plan_json_schema()).unwrap();
    let described = |def: &str| -> Vec<String> {
        let props = if def.is_empty() {
            &schema["properties"]
        } else {
            &schema["$defs"][def]["properties"]
        };
        props.as_object().unwrap().keys().cloned().collect()
    };
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for k in keys(doc) {
        assert!(described("").contains(&k), "{k} is not in the schema");
    }
    for p in doc["platforms"].as_array().unwrap() {
        for k in keys(p) {
            assert!(described("PlatformDocument").contains(&k), "{k}");
        }
        if let Some(g) = p.get("delete_guard") {
            for k in keys(g) {
                assert!(described("DeleteGuard").contains(&k), "{k}");
            }
        }
    }
    // The typed document reads it back whole: no field the type does not know.
    let typed: tagsync::planner::PlanDocument = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(&serde_json::to_value(typed).unwrap(), doc);
}

#[test]
fn checked_in_tag_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/tags.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = tagsync::model::tagfile::json_schema();
    assert!(
        on_disk == generated,
        "schema/tags.schema.json is stale: run `cargo run -- schema > schema/tags.schema.json`\n\
         --- checked in\n{on_disk}\n--- generated\n{generated}"
    );
}
