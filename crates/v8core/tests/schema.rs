//! docs/schema/ holds exactly the schemas the answer types generate: an answer type changed
//! without its schema regenerated fails here (tests/python/test_schema.py checks real output
//! against the files).

use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    let committed: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let generated: BTreeMap<String, String> = v8core::schema::schema_files().into_iter().collect();
    let fix = "regenerate them: cargo run --release -p v8dump -- debug json-schemas docs/schema";
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "{fix}"
    );
    for (name, text) in &generated {
        assert!(
            committed[name] == *text,
            "docs/schema/{name} is stale: {fix}"
        );
    }
    // Every schema names the envelope's version field, and every answer requires it.
    for (name, text) in &generated {
        if name != "batch-record.json" {
            assert!(text.contains("\"schema_version\""), "{name}");
        }
    }
}
