//! The checked-in JSON Schema of tag files is the one the Rust types generate.

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
