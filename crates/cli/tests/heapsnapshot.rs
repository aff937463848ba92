//! `heapsnapshot -o FILE` read back by an external consumer of the format, memlab's parser
//! (npm @memlab/core, run by fixtures/tools/snapshot_census.js), whose per-constructor counts
//! must equal those of V8's own snapshot of the same process.

use std::collections::HashMap;
use std::process::Command;
use v8dump_testkit::{
    compare_with_snapshot, fixture, memlab, repo_root, snapshot_counts, TempDir, MAJORS,
};

#[test]
fn exported_snapshot_parses_in_memlab_and_matches_v8s_counts() {
    let modules = memlab();
    let script = repo_root().join("fixtures/tools/snapshot_census.js");
    let tmp = TempDir::new("heapsnapshot");
    let mut bad = Vec::new();
    for major in MAJORS {
        for scenario in ["exact_objects", "exact_listener_leak"] {
            let f = fixture(scenario, major);
            let out = tmp.join(&format!("{scenario}-{major}.heapsnapshot"));
            let run = Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(["heapsnapshot", f.core.to_str().unwrap(), "-o"])
                .arg(&out)
                .output()
                .expect("run v8dump");
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            // The system node runs the parser (any supported version does).
            let parsed = Command::new("node")
                .arg(&script)
                .arg(&out)
                .env("NODE_PATH", &modules)
                .output()
                .expect("run node");
            assert!(
                parsed.status.success(),
                "node{major} {scenario}: memlab could not read the export:\n{}",
                String::from_utf8_lossy(&parsed.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&parsed.stdout).expect("JSON");
            assert!(
                v["nodes"].as_u64().unwrap() > 10_000,
                "node{major}: {}",
                v["nodes"]
            );
            assert!(v["edges"].as_u64().unwrap() > v["nodes"].as_u64().unwrap());
            let ours: HashMap<String, (u64, u64)> = v["objects"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, c)| (k.clone(), (c[0].as_u64().unwrap(), c[1].as_u64().unwrap())))
                .collect();
            let oracle = snapshot_counts(&f.snapshot());
            let (b, checked) =
                compare_with_snapshot(&format!("node{major} {scenario}"), &oracle, &ours);
            assert!(
                checked >= 10,
                "node{major} {scenario}: {checked} names checked"
            );
            bad.extend(b);
            let _ = std::fs::remove_file(&out);
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
