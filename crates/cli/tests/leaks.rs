//! `leaks` on real cores of scenarios that each plant one leak among bounded noise
//! (`fixtures/scenarios/_noise.js`). Every expectation comes from the scenario: the counts it
//! recorded in stats.json (`extra`), the names it uses, the position of the accumulating
//! function read from its source file, and V8's own heap snapshot for string copies.

mod common;
use common::{json, text, v8dump};

use serde_json::Value;
use v8dump_testkit::{fixture, scenario_position, snapshot_string_count, MAJORS};

/// The `leaks --json` answer for a scenario's core.
fn leaks(scenario: &str, major: u32) -> (Value, v8dump_testkit::Fixture) {
    let f = fixture(scenario, major);
    let answer = json(&v8dump(&["leaks", f.core.to_str().unwrap(), "--json"]));
    (answer, f)
}

fn first(answer: &Value, what: &str) -> Value {
    answer["suspects"]
        .get(0)
        .cloned()
        .unwrap_or_else(|| panic!("{what}: no suspect in {answer}"))
}

/// The code entry of `role` at `scenario`'s `needle`, checked to be at that line and column.
fn assert_code_at(s: &Value, role: &str, scenario: &str, needle: &str, what: &str) {
    let (line, col) = scenario_position(scenario, needle);
    let code = s["code"].as_array().expect("code");
    let hit = code.iter().find(|c| {
        c["role"] == role
            && c["function"]["line"].as_u64() == Some(line)
            && c["function"]["script"]
                .as_str()
                .is_some_and(|p| p.ends_with(&format!("{scenario}.js")))
    });
    let hit =
        hit.unwrap_or_else(|| panic!("{what}: no {role} at {scenario}.js:{line} in {code:?}"));
    assert_eq!(
        hit["function"]["column"].as_u64(),
        Some(col),
        "{what}: {hit}"
    );
}

fn count(f: &v8dump_testkit::Fixture, key: &str) -> u64 {
    f.stats["extra"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.json extra.{key}"))
}

#[test]
fn the_listener_leak_is_named_by_emitter_event_count_and_listener_line() {
    for major in MAJORS {
        let what = format!("listener_leak node{major}");
        let (a, f) = leaks("listener_leak", major);
        let s = first(&a, &what);
        assert_eq!(s["kind"], "event_listeners", "{what}: {s}");
        assert_eq!(
            s["children"].as_u64(),
            Some(count(&f, "listeners")),
            "{what}"
        );
        let sentence = s["sentence"].as_str().unwrap();
        assert!(
            sentence.starts_with("EventEmitter `realtimeService` (RealtimeService)")
                && sentence.contains("2000 'data-update' listeners"),
            "{what}: {sentence}"
        );
        assert_eq!(
            s["reached_as"], "realtimeService._events['data-update']",
            "{what}"
        );
        assert_code_at(&s, "listener", "listener_leak", "(msg) =>", &what);
        // The text form leads with the same sentence, and so does `report`'s leak section,
        // which comes before the heap's figures.
        let t = text(&v8dump(&["leaks", f.core.to_str().unwrap()]));
        assert!(
            t.lines().nth(2).unwrap_or("").contains(sentence),
            "{what}: {t}"
        );
        let r = json(&v8dump(&["report", f.core.to_str().unwrap(), "--json"]));
        assert_eq!(
            r["leaks"]["suspects"][0]["sentence"].as_str(),
            Some(sentence),
            "{what}"
        );
        let t = text(&v8dump(&["report", f.core.to_str().unwrap()]));
        let (leaks_at, heap_at) = (t.find("\nLEAKS ").unwrap(), t.find("\nHEAP ").unwrap());
        assert!(
            leaks_at < heap_at && t[leaks_at..heap_at].contains(sentence),
            "{what}: {t}"
        );
    }
}

#[test]
fn a_map_cache_is_named_by_its_variable_with_its_entry_count_and_the_code_over_it() {
    for major in MAJORS {
        let what = format!("map_cache node{major}");
        let (a, f) = leaks("map_cache", major);
        let s = first(&a, &what);
        assert_eq!(s["kind"], "map_entries", "{what}: {s}");
        assert_eq!(s["children"].as_u64(), Some(count(&f, "entries")), "{what}");
        assert_eq!(s["reached_as"], "responseCache", "{what}");
        assert_eq!(s["child_names"][0]["name"], "CachedResponse", "{what}: {s}");
        assert_code_at(
            &s,
            "closure over the variable",
            "map_cache",
            "remember(url, response)",
            &what,
        );
        assert_code_at(
            &s,
            "closure over the variable",
            "map_cache",
            "lookup(url) {",
            &what,
        );
    }
}

#[test]
fn intervals_never_cleared_are_counted_with_their_callback() {
    for major in MAJORS {
        let what = format!("intervals node{major}");
        let (a, f) = leaks("intervals", major);
        let s = first(&a, &what);
        assert_eq!(s["kind"], "timers", "{what}: {s}");
        assert_eq!(
            s["children"].as_u64(),
            Some(count(&f, "intervals")),
            "{what}"
        );
        let sentence = s["sentence"].as_str().unwrap();
        let every = format!("intervals of {} ms", count(&f, "period_ms"));
        assert!(sentence.contains(&every), "{what}: {sentence}");
        assert_code_at(
            &s,
            "timer callback",
            "intervals",
            "function pollMetrics(",
            &what,
        );
    }
}

#[test]
fn a_closure_chain_is_counted_link_by_link_from_its_variable() {
    for major in MAJORS {
        let what = format!("closure_chain node{major}");
        let (a, f) = leaks("closure_chain", major);
        let s = first(&a, &what);
        assert_eq!(s["kind"], "chain", "{what}: {s}");
        assert_eq!(s["children"].as_u64(), Some(count(&f, "things")), "{what}");
        assert_eq!(s["reached_as"], "theThing", "{what}");
        let sentence = s["sentence"].as_str().unwrap();
        assert!(sentence.contains("-originalThing->"), "{what}: {sentence}");
        assert_code_at(&s, "chain link", "closure_chain", "someMethod(", &what);
    }
}

#[test]
fn copies_of_one_string_are_counted_as_v8_counts_them() {
    for major in MAJORS {
        let what = format!("duplicate_strings node{major}");
        let (a, f) = leaks("duplicate_strings", major);
        let s = first(&a, &what);
        let ua = f.stats["extra"]["text"].as_str().unwrap();
        assert_eq!(s["kind"], "array_elements", "{what}: {s}");
        assert_eq!(
            s["children"].as_u64(),
            Some(count(&f, "requests")),
            "{what}"
        );
        assert_eq!(s["reached_as"], "requestLog", "{what}");
        // Each logged object is the log's alone (no stale pointer in freed memory claims one).
        assert_eq!(s["child_names"][0]["name"], "Object", "{what}: {s}");
        assert_eq!(
            s["child_names"][0]["count"].as_u64(),
            Some(count(&f, "requests")),
            "{what}"
        );
        let dup = &s["duplicate"];
        assert!(
            ua.starts_with(dup["text"].as_str().unwrap()),
            "{what}: {dup}"
        );
        let copies = snapshot_string_count(&f.snapshot(), ua);
        assert!(
            copies > count(&f, "copies"),
            "{what}: the snapshot has {copies}"
        );
        assert_eq!(dup["count"].as_u64(), Some(copies), "{what}: {dup}");
        assert_eq!(
            a["duplicate_strings"][0]["count"].as_u64(),
            Some(copies),
            "{what}"
        );
        assert_code_at(
            &s,
            "closure over the variable",
            "duplicate_strings",
            "function logRequest(",
            &what,
        );
    }
}

#[test]
fn buffers_held_by_a_registry_count_their_memory_outside_the_heap() {
    for major in MAJORS {
        let what = format!("buffer_registry node{major}");
        let (a, f) = leaks("buffer_registry", major);
        let s = first(&a, &what);
        let uploads = count(&f, "uploads");
        assert_eq!(s["kind"], "map_entries", "{what}: {s}");
        assert_eq!(s["children"].as_u64(), Some(uploads), "{what}");
        assert_eq!(s["reached_as"], "uploadRegistry", "{what}");
        assert_eq!(s["child_names"][0]["name"], "Upload", "{what}: {s}");
        // Every Buffer's backing store, and nothing more than the heap allows besides.
        let external = s["retained_external"].as_u64().unwrap();
        let planted = uploads * count(&f, "bytes_each");
        assert!(
            external >= planted && external < planted + (1 << 20),
            "{what}: {external}"
        );
        assert_code_at(
            &s,
            "closure over the variable",
            "buffer_registry",
            "function registerUpload(",
            &what,
        );
    }
}

#[test]
fn bounded_structures_raise_no_alarm() {
    for major in MAJORS {
        let what = format!("bounded node{major}");
        let (a, f) = leaks("bounded", major);
        assert_eq!(
            a["suspects"].as_array().map(Vec::len),
            Some(0),
            "{what}: {a}"
        );
        let verdict = a["verdict"].as_str().unwrap();
        assert!(verdict.starts_with("no suspect"), "{what}: {verdict}");
        let t = text(&v8dump(&["leaks", f.core.to_str().unwrap()]));
        assert!(t.starts_with("LEAK SUSPECTS: no suspect"), "{what}: {t}");
    }
}

#[test]
fn a_real_express_and_ws_app_leaking_listeners_is_named() {
    for major in MAJORS {
        let what = format!("express_ws node{major}");
        let (a, f) = leaks("express_ws", major);
        let s = first(&a, &what);
        let listeners = count(&f, "listeners");
        assert_eq!(
            listeners,
            count(&f, "connections"),
            "{what}: the scenario's own count"
        );
        assert_eq!(s["kind"], "event_listeners", "{what}: {s}");
        assert_eq!(s["children"].as_u64(), Some(listeners), "{what}");
        let sentence = s["sentence"].as_str().unwrap();
        assert!(
            sentence.starts_with("EventEmitter `realtimeService` (RealtimeService)")
                && sentence.contains(&format!("{listeners} 'data-update' listeners")),
            "{what}: {sentence}"
        );
        assert_code_at(&s, "listener", "express_ws", "(update) =>", &what);
    }
}

/// `leaks` on the heap snapshot node wrote just before the core: the same planted leak, named
/// by the same variable, with the count the scenario recorded; no alarm on bounded structures.
#[test]
fn heap_snapshots_of_the_same_processes_name_the_same_leaks() {
    // (scenario, kind, stats key of the count, how the program names the holder,
    //  role and needle of the accumulating function)
    let cases: [(&str, &str, &str, &str, Option<(&str, &str)>); 7] = [
        (
            "listener_leak",
            "event_listeners",
            "listeners",
            "realtimeService._events['data-update']",
            Some(("listener", "(msg) =>")),
        ),
        ("map_cache", "map_entries", "entries", "responseCache", None),
        (
            "intervals",
            "timers",
            "intervals",
            "timerListMap[30000]",
            None,
        ),
        ("closure_chain", "chain", "things", "theThing", None),
        (
            "duplicate_strings",
            "array_elements",
            "requests",
            "requestLog",
            None,
        ),
        (
            "buffer_registry",
            "map_entries",
            "uploads",
            "uploadRegistry",
            None,
        ),
        (
            "express_ws",
            "event_listeners",
            "listeners",
            "realtimeService._events['data-update']",
            None,
        ),
    ];
    for major in MAJORS {
        for (scenario, kind, key, reached, code) in cases {
            let what = format!("{scenario} node{major} (snapshot)");
            let f = fixture(scenario, major);
            let a = json(&v8dump(&[
                "leaks",
                f.snapshot().to_str().unwrap(),
                "--json",
            ]));
            let s = first(&a, &what);
            assert_eq!(s["kind"], kind, "{what}: {s}");
            assert_eq!(s["children"].as_u64(), Some(count(&f, key)), "{what}: {s}");
            assert_eq!(s["reached_as"], reached, "{what}");
            if let Some((role, needle)) = code {
                assert_code_at(&s, role, scenario, needle, &what);
            }
        }
        let f = fixture("bounded", major);
        let a = json(&v8dump(&[
            "leaks",
            f.snapshot().to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(
            a["suspects"].as_array().map(Vec::len),
            Some(0),
            "bounded node{major}: {a}"
        );
    }
}
