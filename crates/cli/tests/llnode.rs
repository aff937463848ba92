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
        .map(
            |f| match f.strip_suffix(')').and_then(|f| f.rsplit_once(" (")) {
                Some((name, loc)) => (Some(name.to_string()), loc.to_string()),
                None => (None, f.to_string()),
            },
        )
        .collect()
}

fn js_frames(f: &Fixture) -> Vec<Value> {
    let bt = json(&v8dump(&[
        "bt",
        f.core.to_str().unwrap(),
        "--args",
        "--json",
    ]));
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
        assert!(
            want.len() >= 20,
            "node{major}: Node's stack is short: {live}"
        );
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

/// `inspect --json` of the value at `addr`.
fn inspect(f: &Fixture, addr: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", f.core.to_str().unwrap(), addr, "--json"];
    args.extend_from_slice(extra);
    json(&v8dump(&args))
}

/// The address of property `key` of an inspected object.
fn prop(v: &Value, key: &str) -> String {
    v["entries"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["key"] == key))
        .and_then(|e| e["value"]["address"].as_str())
        .unwrap_or_else(|| panic!("no property {key} in {v:#}"))
        .to_string()
}

/// `globalThis.llnodeFixture`, inspected.
fn holder(f: &Fixture) -> Value {
    let found = json(&v8dump(&[
        "findjsinstances",
        f.core.to_str().unwrap(),
        "LlnodeHolder",
        "--json",
    ]));
    assert_eq!(found["total"], 1, "{found}");
    inspect(f, found["instances"][0]["address"].as_str().unwrap(), &[])
}

#[test]
fn source_text_is_what_function_to_string_gives_with_the_lines_numbered() {
    let scenario =
        std::fs::read_to_string(v8dump_testkit::repo_root().join("fixtures/scenarios/llnode.js"))
            .unwrap();
    let file_lines: Vec<&str> = scenario.lines().collect();
    for major in MAJORS {
        let f = fixture("llnode", major);
        let sources = inspect(&f, &prop(&holder(&f), "sources"), &[]);
        let want = &f.stats["extra"]["sources"];
        for key in ["threeParams", "arrowSource", "method"] {
            let addr = prop(&sources, key);
            let s = json(&v8dump(&[
                "source",
                f.core.to_str().unwrap(),
                &addr,
                "--json",
            ]));
            let text = want[key].as_str().unwrap();
            assert_eq!(s["text"], text, "node{major}: {key}");
            // The numbered lines are the scenario file's lines, and the first holds the text's
            // start at the column given.
            let lines = s["lines"].as_array().unwrap();
            assert_eq!(lines.len(), text.lines().count(), "node{major}: {key}");
            for l in lines {
                let n = l["line"].as_u64().unwrap() as usize;
                assert_eq!(l["text"], file_lines[n - 1], "node{major}: {key} line {n}");
            }
            let first = text.lines().next().unwrap();
            let at = scenario.find(first).expect("the text is in the scenario");
            let line = scenario[..at].matches('\n').count() as u64 + 1;
            let col = (at - scenario[..at].rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
            assert_eq!(
                (s["start"]["line"].as_u64(), s["start"]["column"].as_u64()),
                (Some(line), Some(col)),
                "node{major}: {key}"
            );
        }
        // Context lines, in text.
        let addr = prop(&sources, "threeParams");
        let t = text(&v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &addr,
            "-C",
            "1",
        ]));
        let line = file_lines
            .iter()
            .position(|l| l.starts_with("function threeParams("))
            .unwrap() as u64
            + 1;
        assert!(
            t.contains(&format!("{}   {}", line - 1, file_lines[line as usize - 2])),
            "node{major}: {t}"
        );
        // The function of a frame, by its frame pointer, with its current line marked.
        let frames = json(&v8dump(&["bt", f.core.to_str().unwrap(), "--json"]));
        let a2 = frames["threads"][0]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|fr| fr["js"]["name"] == "a2")
            .expect("frame a2")
            .clone();
        let fp = format!("{:#x}", a2["fp"].as_u64().unwrap());
        let t = text(&v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &fp,
            "--frame",
        ]));
        let call = file_lines
            .iter()
            .position(|l| l.starts_with("function a2("))
            .unwrap()
            + 1;
        assert!(
            t.contains(&format!("{call} > {}", file_lines[call - 1])),
            "node{major}: {t}"
        );
        // Not a function: a clear error.
        let o = v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &prop(&holder(&f), "sixItems"),
        ]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("not a function"),
            "node{major}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
