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
    // x86-64 cores of every version, and the arm64 builds' (made under qemu-user).
    let cores = ["exact_objects", "exact_listener_leak"]
        .into_iter()
        .flat_map(|scenario| {
            v8dump_testkit::x64_and_arm64(scenario, &MAJORS, scenario)
                .into_iter()
                .map(move |(what, f)| (what, scenario, f))
        });
    for (major, scenario, f) in cores {
        {
            let out = tmp.join(&format!("{scenario}-{major}.heapsnapshot"));
            let run = Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(["heapsnapshot", f.core.to_str().unwrap(), "-e"])
                .arg(&f.node)
                .arg("-o")
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
                "{major} {scenario}: memlab could not read the export:\n{}",
                String::from_utf8_lossy(&parsed.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&parsed.stdout).expect("JSON");
            assert!(
                v["nodes"].as_u64().unwrap() > 10_000,
                "{major}: {}",
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
                compare_with_snapshot(&format!("{major} {scenario}"), &oracle, &ours);
            assert!(checked >= 10, "{major} {scenario}: {checked} names checked");
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

/// `heapsnapshot --redact`: the same graph, every string's and regular expression's text
/// replaced by its length and a hash, so copies still match and nothing of the program's data
/// is left in the file; constructor names and the census are kept.
#[test]
fn a_redacted_snapshot_keeps_the_graph_and_lengths_and_loses_the_text() {
    let f = fixture("listener_leak", 22);
    let tmp = TempDir::new("redact");
    let plain = tmp.join("plain.heapsnapshot");
    let red = tmp.join("red.heapsnapshot");
    let core = f.core.to_str().unwrap();
    for (out, extra) in [(&plain, None), (&red, Some("--redact"))] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_v8dump"));
        c.args(["heapsnapshot", core, "-o"]).arg(out);
        c.args(extra);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // The census by constructor is the same.
    assert_eq!(snapshot_counts(&plain), snapshot_counts(&red));
    let (a, b) = (
        v8dump_testkit::snapshot_nodes(&plain),
        v8dump_testkit::snapshot_nodes(&red),
    );
    assert_eq!(a.len(), b.len());
    let mut by_text: HashMap<&str, &str> = HashMap::new();
    let mut strings = 0;
    for ((ta, na), (tb, nb)) in a.iter().zip(&b) {
        assert_eq!(ta, tb);
        if matches!(
            ta.as_str(),
            "string" | "concatenated string" | "sliced string" | "regexp"
        ) {
            strings += 1;
            let len = nb
                .strip_prefix("<redacted: ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{ta} {na:?} written as {nb:?}"));
            if na.encode_utf16().count() < 1024 {
                assert_eq!(len, na.encode_utf16().count(), "{na:?} -> {nb:?}");
                // The same text gets the same name, so copies stay visible.
                assert_eq!(
                    *by_text.entry(na.as_str()).or_insert(nb.as_str()),
                    nb.as_str()
                );
            }
        } else {
            assert_eq!(na, nb, "{ta} names are kept");
        }
    }
    assert!(strings > 1000, "{strings} strings");
    // The scenario's data ('user-' + id, the sockets' addresses) is in the plain file only.
    let text = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let p = text(&plain);
    assert!(p.contains("\"user-1999\"") && p.contains("\"10.0.7.207\""));
    let r = text(&red);
    assert!(
        !r.contains("user-1999") && !r.contains("10.0.7.207"),
        "data left in the file"
    );
    assert!(r.contains("\"UserSession\""));
}

/// `report --redact`: the same report, with the program's strings (the scenario's 40,000
/// copies of one user agent) shown as their length and hash, and the environment masked; the
/// plain report on the same core holds both, so the test can fail.
#[test]
fn a_redacted_report_keeps_the_findings_and_loses_the_data() {
    for major in [18, 26] {
        let f = fixture("duplicate_strings", major);
        let core = f.core.to_str().unwrap();
        let run = |extra: &[&str]| -> (String, serde_json::Value) {
            let mut argv = vec!["report", core];
            argv.extend(extra);
            let text = Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(&argv)
                .output()
                .unwrap();
            assert!(
                text.status.success(),
                "{}",
                String::from_utf8_lossy(&text.stderr)
            );
            argv.push("--json");
            let j = Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(&argv)
                .output()
                .unwrap();
            (
                String::from_utf8_lossy(&text.stdout).into_owned(),
                serde_json::from_slice(&j.stdout).expect("JSON"),
            )
        };
        let full = f.stats["extra"]["text"].as_str().unwrap();
        // Answers keep the first 80 characters of a duplicate.
        let agent = &full[..80];
        let out_dir = f.run["env_extra"]["V8DUMP_OUT"].as_str().unwrap();
        let (plain_text, plain) = run(&[]);
        let (red_text, red) = run(&["--redact"]);
        let (p, r) = (plain.to_string(), red.to_string());
        assert!(p.contains(agent), "node{major}: plain lacks the data");
        assert!(!r.contains(agent), "node{major}: data left: {r}");
        // The environment: every value masked (the working directory, a path, is kept).
        let env = |j: &serde_json::Value| -> Vec<(String, String)> {
            serde_json::from_value(j["node"]["env"].clone()).unwrap()
        };
        let value = |e: &[(String, String)]| {
            e.iter()
                .find(|(k, _)| k == "V8DUMP_OUT")
                .map(|(_, v)| v.clone())
        };
        assert_eq!(value(&env(&plain)).as_deref(), Some(out_dir), "node{major}");
        let (pe, re) = (env(&plain), env(&red));
        assert_eq!(pe.len(), re.len());
        assert!(
            re.iter().all(|(_, v)| v.starts_with("<redacted: ")),
            "node{major}: {re:?}"
        );
        assert!(!red_text.contains(agent), "node{major}: {red_text}");
        assert!(red_text.starts_with("REDACTED"), "node{major}: {red_text}");
        assert_eq!(red["redacted"], true);
        assert_eq!(plain["redacted"], false);
        // The findings are the same: the duplicate's count, its length, the suspects.
        let dup = |j: &serde_json::Value| j["leaks"]["duplicate_strings"][0].clone();
        assert_eq!(dup(&plain)["text"], agent, "node{major}");
        assert_eq!(dup(&plain)["length"], full.len(), "node{major}");
        assert_eq!(dup(&plain)["count"], dup(&red)["count"]);
        let want = format!("<redacted: {} characters, #", full.encode_utf16().count());
        assert!(
            dup(&red)["text"].as_str().unwrap().starts_with(&want),
            "{}",
            dup(&red)
        );
        assert_eq!(
            plain["leaks"]["suspects"].as_array().map(Vec::len),
            red["leaks"]["suspects"].as_array().map(Vec::len)
        );
        assert_eq!(plain["top_by_size"], red["top_by_size"]);
        assert!(plain_text.len() > 1000);
    }
}
