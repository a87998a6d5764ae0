//! The checked-in JSON Schema (`scenarios/scenario.schema.json`, which editors load through
//! each file's `yaml-language-server` line) is exactly what the format says.
#![allow(clippy::unwrap_used)]

#[test]
fn the_checked_in_schema_is_in_sync() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scenario.schema.json");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let now = tokenstorm_model::scenario::schema();
    assert!(
        on_disk == now,
        "scenarios/scenario.schema.json is stale: regenerate it with\n  cargo run -p tokenstorm -- scenarios schema > scenarios/scenario.schema.json"
    );
    // It describes the format: required keys and no unknown keys.
    assert_eq!(now["additionalProperties"], false);
    let required: Vec<&str> = now["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for k in ["name", "summary", "flow", "rules", "steps"] {
        assert!(required.contains(&k), "{k} should be required");
    }
}
