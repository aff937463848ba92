//! What llnode's own test suite (nodejs/llnode `test/plugin/*.js`) asks of a post-mortem tool,
//! on cores of `fixtures/scenarios/llnode.js` for every supported Node version. The expected
//! values come from the process itself: Node's own `Error.stack` taken in the frames the
//! process died in, `Function.prototype.toString()` of the functions, and the values the
//! scenario's source passes.

mod common;
use common::{json, text, v8dump};

use serde_json::Value;
use v8dump_testkit::{fixture, Fixture, MAJORS};

/// One frame of a V8 stack trace line: `at NAME (LOCATION)` or `at LOCATION`.
fn node_frames(stack: &str) -> Vec<(Option<String>, String)> {
    stack
        .lines()
        .filter_map(|l| l.trim().strip_prefix("at "))
        .map(|f| match f.strip_suffix(')').and_then(|f| f.rsplit_once(" (")) {
            Some((name, loc)) => (Some(name.to_string()), loc.to_string()),
            None => (None, f.to_string()),
        })
        .collect()
}

fn js_frames(f: &Fixture) -> Vec<Value> {
    let bt = json(&v8dump(&["bt", f.core.to_str().unwrap(), "--args", "--json"]));
    bt["threads"][0]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter_map(|fr| fr.get("js").cloned())
        .collect()
}

fn location(js: &Value) -> String {
    format!(
        "{}:{}:{}",
        js["script"].as_str().unwrap_or("?"),
        js["line"],
        js["column"]
    )
}

#[test]
fn frames_are_named_and_placed_as_nodes_own_stack_names_them() {
    for major in MAJORS {
        let f = fixture("llnode", major);
        let live = f.stats["extra"]["liveStack"].as_str().expect("liveStack");
        let want = node_frames(live);
        assert!(want.len() >= 20, "node{major}: Node's stack is short: {live}");
        let got = js_frames(&f);
        let start = got
            .iter()
            .position(|j| j["name"] == "more")
            .unwrap_or_else(|| panic!("node{major}: no frame `more` in {got:#?}"));
        let got = &got[start..];
        assert!(
            got.len() >= want.len(),
            "node{major}: {} JS frames from `more`, Node has {}",
            got.len(),
            want.len()
        );
        for (i, (name, loc)) in want.iter().enumerate() {
            let js = &got[i];
            let shown = js["name"].as_str().unwrap();
            match name {
                Some(n) => assert_eq!(shown, n, "node{major}: frame {i} ({loc})"),
                None => assert_eq!(shown, "(anonymous)", "node{major}: frame {i} ({loc})"),
            }
            // Node took its stack in `more` a line above the call the process died in.
            if i > 0 && js["exact"] == true {
                assert_eq!(&location(js), loc, "node{major}: frame {i} {shown}");
            }
        }
        // The scenario's own frames all run in the interpreter: every position is exact.
        let exact = got[1..14].iter().filter(|j| j["exact"] == true).count();
        assert_eq!(exact, 13, "node{major}: {got:#?}");
    }
}

#[test]
fn every_argument_is_shown_for_zero_to_five_arguments_and_fewer_or_more_than_declared() {
    // What the scenario passes (fixtures/scenarios/llnode.js, a0 .. more).
    let one = "\"one\"";
    let expected: &[(&str, &[&str])] = &[
        ("more", &["true", "undefined", "\"three\"", "4"]),
        ("fewer", &["\"only\""]),
        ("a5", &[one, "2", "3.5", "null", "<Object>"]),
        ("a4", &[one, "2", "3.5", "null"]),
        ("a3", &[one, "2", "3.5"]),
        ("a2", &[one, "2"]),
        ("a1", &[one]),
        ("a0", &[]),
    ];
    for major in MAJORS {
        let f = fixture("llnode", major);
        let got = js_frames(&f);
        for (name, args) in expected {
            let js = got
                .iter()
                .find(|j| j["name"] == *name)
                .unwrap_or_else(|| panic!("node{major}: no frame {name}"));
            let shown: Vec<&str> = js["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a["summary"].as_str().unwrap_or("?"))
                .collect();
            assert_eq!(&shown, args, "node{major}: arguments of {name}");
            assert_eq!(
                js["this"]["summary"], "undefined",
                "node{major}: {name} is strict"
            );
        }
        // A method's receiver.
        let step = got.iter().find(|j| j["name"] == "Runner.step").unwrap();
        assert_eq!(step["this"]["summary"], "<Runner>", "node{major}");
        let t = text(&v8dump(&["bt", f.core.to_str().unwrap(), "--args"]));
        assert!(t.contains("arg4 = <Object>"), "node{major}: {t}");
    }
}
