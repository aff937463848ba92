//! Heap snapshots as input: the `.heapsnapshot` files node itself wrote for the fixture
//! scenarios, read by every command that takes a core. Expectations come from independent
//! readers of the same file (the testkit's JSON reader for the census, a short Python script
//! for DevTools' dominators) and from what each scenario planted, never from v8dump's output
//! on the same input.

mod common;
use common::{json, text, v8dump};

use std::collections::BTreeMap;
use std::process::Command;
use v8dump_testkit::{fixture, repo_root, snapshot_histogram, TempDir, MAJORS};

fn census(answer: &serde_json::Value) -> BTreeMap<String, (u64, u64)> {
    answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                (r["count"].as_u64().unwrap(), r["size"].as_u64().unwrap()),
            )
        })
        .collect()
}

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn findjsobjects_equals_an_independent_reader_for_every_constructor() {
    for major in MAJORS {
        for scenario in ["listener_leak", "objects", "map_cache", "names"] {
            let f = fixture(scenario, major);
            let snap = f.snapshot();
            let ours = census(&json(&v8dump(&[
                "findjsobjects",
                path_str(&snap),
                "--json",
            ])));
            let oracle = snapshot_histogram(&snap);
            assert!(
                oracle.len() > 20,
                "node{major} {scenario}: {} names",
                oracle.len()
            );
            assert_eq!(ours, oracle, "node{major} {scenario}");
        }
    }
}

#[test]
fn retainers_of_a_leaked_listeners_session_run_through_the_emitter() {
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let snap = f.snapshot();
        let page = json(&v8dump(&[
            "findjsinstances",
            path_str(&snap),
            "UserSession",
            "--limit",
            "1",
            "--json",
        ]));
        assert_eq!(
            page["total"], f.stats["extra"]["UserSession"],
            "node{major}"
        );
        let id = page["instances"][0]["address"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with('@'), "{id}");
        let r = json(&v8dump(&["retainers", path_str(&snap), &id, "--json"]));
        let p = &r["paths"][0];
        assert_eq!(p["root_kind"]["type"], "global", "node{major}: {r}");
        let chain = p["chain"].as_str().unwrap();
        assert!(
            chain.starts_with("UserSession <- session system / Context")
                && chain.ends_with("._events RealtimeService <- .realtimeService global"),
            "node{major}: {chain}"
        );
        // Who references it: the listener closure's context, by the variable's name.
        let refs = json(&v8dump(&["findrefs", path_str(&snap), &id, "--json"]));
        assert!(
            refs["refs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["edge"] == "session"),
            "node{major}: {refs}"
        );
        // inspect shows the properties the scenario set, with the string values.
        let v = json(&v8dump(&["inspect", path_str(&snap), &id, "--json"]));
        let user = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "userId")
            .unwrap_or_else(|| panic!("node{major}: {v}"));
        assert!(
            user["value"]["text"].as_str().unwrap().starts_with("user-"),
            "node{major}: {user}"
        );
    }
}

#[test]
fn retained_sizes_are_devtools_dominators() {
    let script = repo_root().join("fixtures/tools/snapshot_dominators.py");
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let snap = f.snapshot();
        let top = json(&v8dump(&[
            "top",
            path_str(&snap),
            "--limit",
            "12",
            "--json",
        ]));
        let rows = top["rows"].as_array().unwrap();
        assert!(rows.len() >= 10, "node{major}");
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r["address"].as_str().unwrap()[1..].to_string())
            .collect();
        let out = Command::new("python3")
            .arg(&script)
            .arg(&snap)
            .args(&ids)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let oracle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (r, id) in rows.iter().zip(&ids) {
            assert_eq!(r["retained"], oracle[id], "node{major} @{id} {}", r["name"]);
        }
        // The emitter's listener array is among the largest, retaining its 2000 listeners.
        assert!(
            rows.iter().any(|r| r["name"] == "RealtimeService"),
            "node{major}: {top}"
        );
    }
}

#[test]
fn diff_of_two_snapshots_puts_the_planted_growth_first() {
    let script = repo_root().join("fixtures/tools/growing_snapshots.js");
    let tmp = TempDir::new("snapshot-diff");
    for major in MAJORS {
        // The node binary of that version, as the fixtures ran it.
        let node = fixture("listener_leak", major).node;
        let (sa, sb) = (
            tmp.join(&format!("a{major}.heapsnapshot")),
            tmp.join(&format!("b{major}.heapsnapshot")),
        );
        let out = Command::new(&node)
            .arg(&script)
            .arg(&sa)
            .arg(&sb)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let planted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let planted = planted["b"].as_i64().unwrap() - planted["a"].as_i64().unwrap();
        let d = json(&v8dump(&["diff", path_str(&sa), path_str(&sb), "--json"]));
        let row = &d["rows"][0];
        let (ha, hb) = (snapshot_histogram(&sa), snapshot_histogram(&sb));
        let delta = hb["LeakedRequest"].0 as i64 - ha["LeakedRequest"].0 as i64;
        assert_eq!(delta, planted, "node{major}: the oracle's delta");
        assert_eq!(row["name"], "LeakedRequest", "node{major}: {d}");
        assert_eq!(row["count_delta"].as_i64(), Some(planted), "node{major}");
        let config = d["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "ConfigEntry");
        assert!(
            config.is_none(),
            "node{major}: ConfigEntry did not change: {d}"
        );
        // By holder: the global request log grew by the planted requests.
        let d = json(&v8dump(&[
            "diff",
            path_str(&sa),
            path_str(&sb),
            "--by",
            "holder",
            "--json",
        ]));
        let h = &d["holders"][0];
        assert_eq!(h["holder"], "requestLog", "node{major}: {d}");
        assert_eq!(
            h["children_delta"].as_i64(),
            Some(planted),
            "node{major}: {h}"
        );
        // A core against a snapshot, with the same names on both sides: diff_small's core
        // holds 1000 LeakedRequest objects (see fixtures/scenarios/_growing_leak.js).
        let core = fixture("diff_small", major).core;
        let d = json(&v8dump(&["diff", path_str(&core), path_str(&sb), "--json"]));
        let row = d["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "LeakedRequest")
            .unwrap_or_else(|| panic!("node{major}: {d}"));
        assert_eq!(row["count_a"].as_u64(), Some(1000), "node{major}");
        assert_eq!(row["count_b"].as_u64(), Some(3000), "node{major}");
    }
}

#[test]
fn a_snapshot_exported_from_a_core_answers_as_the_core() {
    let tmp = TempDir::new("snapshot-roundtrip");
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let out = tmp.join(&format!("node{major}.heapsnapshot"));
        let core = path_str(&f.core);
        text(&v8dump(&["heapsnapshot", core, "-o", path_str(&out)]));
        let exported = path_str(&out);
        let from_export = census(&json(&v8dump(&["findjsobjects", exported, "--json"])));
        assert_eq!(
            from_export,
            census(&json(&v8dump(&["findjsobjects", core, "--json"]))),
            "node{major}"
        );
        // retainers: the same chain of holders and edges.
        let first = |input: &str| {
            json(&v8dump(&[
                "findjsinstances",
                input,
                "UserSession",
                "--limit",
                "1",
                "--json",
            ]))["instances"][0]["address"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let chain_of = |input: &str| {
            json(&v8dump(&["retainers", input, &first(input), "--json"]))["paths"][0]["chain"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let tail = "._events RealtimeService <- .realtimeService global";
        assert!(
            chain_of(exported).ends_with(tail),
            "node{major}: {}",
            chain_of(exported)
        );
        assert!(chain_of(core).ends_with(tail), "node{major}");
        // leaks: the planted leak, as the scenario recorded it.
        let l = json(&v8dump(&["leaks", exported, "--json"]));
        let s = &l["suspects"][0];
        assert_eq!(s["kind"], "event_listeners", "node{major}: {l}");
        assert_eq!(s["children"], f.stats["extra"]["listeners"], "node{major}");
        assert_eq!(
            s["reached_as"], "realtimeService._events['data-update']",
            "node{major}"
        );
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn compressed_snapshots_read_as_the_plain_file() {
    let tmp = TempDir::new("snapshot-gz");
    let f = fixture("listener_leak", 24);
    let snap = f.snapshot();
    let gz = tmp.join("heap.heapsnapshot.gz");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c '{}' > '{}'", snap.display(), gz.display()))
        .status()
        .expect("gzip");
    assert!(st.success());
    assert_eq!(
        census(&json(&v8dump(&["findjsobjects", path_str(&gz), "--json"]))),
        snapshot_histogram(&snap)
    );
}

fn fails(args: &[&str]) -> String {
    let o = v8dump(args);
    assert!(!o.status.success(), "{args:?} succeeded");
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(e.trim_end().lines().count(), 1, "{args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn damaged_snapshots_and_core_only_questions_get_clear_errors() {
    let tmp = TempDir::new("snapshot-bad");
    let f = fixture("listener_leak", 22);
    let bytes = std::fs::read(f.snapshot()).unwrap();
    // Cut short in the middle of the edges, and just before the closing brace.
    for cut in [bytes.len() / 2, bytes.len() - 2] {
        let p = tmp.join(&format!("cut-{cut}.heapsnapshot"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = fails(&["findjsobjects", path_str(&p)]);
        assert!(e.contains(path_str(&p)) && e.contains("at byte"), "{e}");
    }
    // A number that is not one, inside the nodes array.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let from = text.find("\"nodes\":[").unwrap() + 20;
    let at = from + text[from..].find(|c: char| c.is_ascii_digit()).unwrap();
    let mut bad = bytes.clone();
    bad[at] = b'x';
    let p = tmp.join("garbage.heapsnapshot");
    std::fs::write(&p, &bad).unwrap();
    let e = fails(&["top", path_str(&p)]);
    assert!(
        e.contains("at byte") && e.contains("not an unsigned integer"),
        "{e}"
    );
    // Foreign JSON is not taken for a snapshot.
    let p = tmp.join("other.json");
    std::fs::write(&p, b"{\"snapshot\": {\"meta\": {}}, \"nodes\": []}").unwrap();
    let e = fails(&["findjsobjects", path_str(&p)]);
    assert!(e.contains("snapshot.meta"), "{e}");
    // Questions only a core answers.
    let snap = f.snapshot();
    for cmd in ["bt", "nodeinfo", "memory", "handles"] {
        let e = fails(&[cmd, path_str(&snap)]);
        assert!(e.contains("needs a core file"), "{cmd}: {e}");
    }
    // An address where a node id is wanted, and an id no node has.
    let e = fails(&["inspect", path_str(&snap), "0x1234"]);
    assert!(e.contains("@ID"), "{e}");
    let e = fails(&["retainers", path_str(&snap), "@999999999999"]);
    assert!(e.contains("no node"), "{e}");
}

#[test]
fn report_on_a_snapshot_says_it_has_no_crash_section() {
    let f = fixture("listener_leak", 26);
    let snap = f.snapshot();
    let t = text(&v8dump(&["report", path_str(&snap)]));
    assert!(t.contains("No crash section"), "{t}");
    assert!(t.contains("EventEmitter `realtimeService`"), "{t}");
    let j = json(&v8dump(&["report", path_str(&snap), "--json"]));
    assert_eq!(j["leaks"]["suspects"][0]["kind"], "event_listeners");
}
